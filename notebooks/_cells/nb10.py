"""Cells of notebook 10: from Assistants to Responses (the quickstart's math assistant on today's routes)."""

from __future__ import annotations

from .common import INTRO_RUNS_WHERE, md_table, setup_cell

NB10 = [
    ("md", """\
# 10 · From Assistants to Responses: the quickstart's math assistant, call by call

Azure's Assistants quickstart built a math tutor: **create an assistant** with instructions and the code
interpreter, **create a thread**, **add a message** ("I need to solve the equation `3x + 11 = 14`"), **run the
thread and poll** until it completes, **list the messages**. The Assistants API was switched off on
**26 August 2026**; on the same resource its successor is the **Responses API** with **conversations** and
**hosted tools**, on the `/openai/v1` routes. This notebook does the quickstart again, one raw REST call at a time
(`requests` and an Entra ID token, as notebook 1 does), each old call beside the request that replaces it.

""" + INTRO_RUNS_WHERE),
    ("code", setup_cell(with_client=False)),
    ("md", """\
## The map

""" + md_table(
        ("Assistants API (retired)", "Responses API (today)"),
        ("`POST /openai/assistants` — name, instructions, tools, model",
         "nothing to create: `model`, `instructions` and `tools` go on each `POST /openai/v1/responses`"),
        ("`POST /openai/threads`", "`POST /openai/v1/conversations`"),
        ("`POST /openai/threads/{thread}/messages`", "`POST /openai/v1/conversations/{conv}/items`"),
        ("`POST /openai/threads/{thread}/runs` (`assistant_id`)",
         "`POST /openai/v1/responses` with `conversation` (and `background: true` to poll it)"),
        ("`GET /openai/threads/{thread}/runs/{run}` until `completed`",
         "`GET /openai/v1/responses/{id}` until `completed` — or stream instead of polling"),
        ("run steps (`code_interpreter` tool calls)", "`code_interpreter_call` items in the response's `output`"),
        ("`GET /openai/threads/{thread}/messages`", "`GET /openai/v1/conversations/{conv}/items`"),
        ("`DELETE` the thread and the assistant", "`DELETE /openai/v1/conversations/{conv}`"),
    ) + """

The old routes took an `api-version` (`2024-05-01-preview`, `2024-08-01-preview`); the v1 routes need none."""),
    ("md", """\
## Keyless: a token for `https://cognitiveservices.azure.com/.default`

The same token as for every other call on the resource (notebook 1 explains the scope). Every request below
carries it in `Authorization: Bearer …`; nothing prints it."""),
    ("code", """\
import json
import time

import requests
from azure.identity import DefaultAzureCredential

from rest_client import COGNITIVE_SERVICES_SCOPE
from rest_client.redact import redact_headers

entra = credential if credential is not None else DefaultAzureCredential()
try:
    headers = {"Authorization": f"Bearer {entra.get_token(COGNITIVE_SERVICES_SCOPE).token}"}
except Exception as exc:  # e.g. no `az login`: say so, and use the api-key instead
    print("No Entra ID token:", str(exc).splitlines()[0], "-> using your api-key; run `az login` for keyless auth")
    headers = {"api-key": settings.api_key}
print("every request sends:", redact_headers(headers))

resource = settings.endpoint.removesuffix("/openai/v1").rstrip("/")
V1 = f"{resource}/openai/v1"  # today's routes
OLD = f"{resource}/openai"  # the Assistants API's routes, with ?api-version=
OLD_VERSION = {"api-version": "2024-08-01-preview"}


def call(method, url, body=None, params=None):
    \"\"\"One raw REST call: print what went where and what came back; hand back the response.\"\"\"
    response = requests.request(method, url, json=body, params=params, headers=headers, timeout=(5, 120))
    print(method, response.url, "->", response.status_code, response.reason)
    return response


def show(body, limit=1200):
    text = json.dumps(body, indent=2)
    print(text if len(text) <= limit else text[:limit] + "\\n  …")
"""),
    ("md", """\
## 1. The assistant → instructions, model and tools on each request

The quickstart's first call created an assistant. Sent today, the route is gone:"""),
    ("code", """\
QUICKSTART_ASSISTANT = {
    "name": "Math Assist",
    "instructions": "You are an AI assistant that can write code to help answer math questions.",
    "tools": [{"type": "code_interpreter"}],
    "model": settings.deployment,
}
old = call("POST", f"{OLD}/assistants", QUICKSTART_ASSISTANT, params=OLD_VERSION)
print(old.text)
"""),
    ("md", """\
A bare 404 says nothing of why. rest_client's error for the same call does (its hint names the retirement and
this walkthrough):"""),
    ("code", """\
from rest_client import NotFoundError

with Client(settings, credential=credential) as client:
    try:
        client.request("POST", "/assistants", json=QUICKSTART_ASSISTANT)
    except NotFoundError as error:
        print("HTTP", error.status_code, "| hint:", error.hint)
"""),
    ("md", """\
Nothing replaces the assistant object: what it held goes on each request. The code interpreter now needs a
**container** (`{"type": "auto"}`: the service makes one), and its printed output comes back only when asked for
(`include`)."""),
    ("code", """\
ASSISTANT = {
    "model": settings.deployment,  # the deployment name, as the assistant's model was
    "instructions": QUICKSTART_ASSISTANT["instructions"],
    "tools": [{"type": "code_interpreter", "container": {"type": "auto"}}],
    "include": ["code_interpreter_call.outputs"],
}
"""),
    ("md", """\
## 2. The thread → a conversation

`POST {resource}/openai/threads?api-version=…` becomes `POST {resource}/openai/v1/conversations`."""),
    ("code", """\
conversation = call("POST", f"{V1}/conversations", {"metadata": {"walkthrough": "math assist"}}).json()
show(conversation)
conversation_id = conversation["id"]
"""),
    ("md", """\
## 3. The message → an item of the conversation

`POST …/threads/{thread}/messages` becomes `POST …/conversations/{conv}/items` (up to 20 items at a time)."""),
    ("code", """\
QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"
added = call("POST", f"{V1}/conversations/{conversation_id}/items",
             {"items": [{"type": "message", "role": "user", "content": QUESTION}]}).json()
show(added)
"""),
    ("md", """\
## 4. The run, polled → a background response, polled

`POST …/threads/{thread}/runs` with the assistant's id becomes `POST …/responses` with the conversation's id and
the assistant's settings; `background: true` keeps the old shape (answered at once as `queued`, then polled with
`GET …/responses/{id}`). No `input` is needed: the response answers the conversation as it stands."""),
    ("code", """\
POLL_SECONDS = 0 if emu else 1  # the emulator moves a background response on at each poll
started = call("POST", f"{V1}/responses", {**ASSISTANT, "conversation": conversation_id, "background": True}).json()
status = started["status"]
print("  status:", status)
while status in ("queued", "in_progress"):
    time.sleep(POLL_SECONDS)
    run = call("GET", f"{V1}/responses/{started['id']}").json()
    if run["status"] != status:
        status = run["status"]
        print("  status:", status)
"""),
    ("md", """\
## 5. The run steps → output items: the code it ran and what it printed

What the old API kept as *run steps* is in the response's `output`: a `code_interpreter_call` (the code, the
container, the logs it printed), then the assistant's message."""),
    ("code", """\
for item in run["output"]:
    if item["type"] == "code_interpreter_call":
        print(f"code_interpreter_call in {item['container_id']}:")
        print("   " + item["code"].replace("\\n", "\\n   "))
        for output in item["outputs"] or []:
            print("printed:", output.get("logs", output).strip())
    elif item["type"] == "message":
        print("assistant:", "".join(part["text"] for part in item["content"] if part["type"] == "output_text"))
print("usage:", run["usage"]["input_tokens"], "in,", run["usage"]["output_tokens"], "out")
"""),
    ("md", """\
## 6. The messages → the conversation's items

`GET …/threads/{thread}/messages` becomes `GET …/conversations/{conv}/items` (newest first unless
`order=asc`). The response added its turn — the tool call and the answer — to the conversation."""),
    ("code", """\
items = call("GET", f"{V1}/conversations/{conversation_id}/items", params={"order": "asc"}).json()
for item in items["data"]:
    if item["type"] == "message":
        text = "".join(part.get("text", "") for part in item["content"])
        print(f"{item['role']:>9}: {text}")
    else:
        print(f"{item['type']:>9}")
"""),
    ("md", """\
## Streaming instead of polling

The next turn, streamed: `stream: true` answers with named events. The code arrives as
`response.code_interpreter_call_code.delta` events before the answer's `response.output_text.delta`s."""),
    ("code", """\
follow_up = {**ASSISTANT, "conversation": conversation_id, "stream": True,
             "input": "Now solve 2y - 4 = 10, please."}
with requests.post(f"{V1}/responses", json=follow_up, headers=headers, stream=True, timeout=(5, 120)) as streamed:
    print("POST", streamed.url, "->", streamed.status_code, streamed.headers.get("content-type"))
    for line in streamed.iter_lines(decode_unicode=True):
        if not line.startswith("data: "):
            continue
        event = json.loads(line[len("data: "):])
        if event["type"] in ("response.code_interpreter_call_code.delta", "response.output_text.delta"):
            print(event["delta"], end="")
        elif event["type"] in ("response.created", "response.code_interpreter_call.interpreting",
                               "response.output_item.done", "response.completed"):
            print(f"\\n[{event['type']}]")
"""),
    ("md", """\
## The same with rest_client

The calls above, with the token cache, retries, typed errors and the wire kept: `create_conversation`,
`add_conversation_items`, `responses(conversation=…)` and `wait_response` for the run-and-poll, and
`result.hosted_tool_calls` for the code interpreter's call (a `CodeInterpreterCall`: `code`, `logs`)."""),
    ("code", """\
client = Client(settings, credential=credential)
second = client.create_conversation(QUESTION).json()["id"]
params = {k: v for k, v in ASSISTANT.items() if k != "model"}
queued = client.responses(None, conversation=second, background=True, **params)
result = client.wait_response(queued.json()["id"], poll_interval=POLL_SECONDS,
                              on_status=lambda r: print("  status:", r.json()["status"]))
for tool_call in result.hosted_tool_calls:
    print(type(tool_call).__name__, "printed:", (tool_call.logs or "").strip())
print(result.text)
"""),
    ("md", """\
In a notebook the result draws itself: status, request ids, the answer, usage, and the attempts timeline, with the
headers (and what each means) and the raw body folded underneath."""),
    ("code", """\
result
"""),
    ("md", """\
## Clean up

As the quickstart deleted its thread and assistant: delete the conversations (there is no assistant to delete)."""),
    ("code", """\
for done_with in (conversation_id, second):
    call("DELETE", f"{V1}/conversations/{done_with}")
client.close()
if emu:
    emu.stop()
"""),
]
