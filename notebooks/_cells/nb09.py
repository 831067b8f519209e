"""Cells of notebook 09: the Responses API, reasoning models, tool calls, structured outputs, embeddings."""

from __future__ import annotations

from .common import CLEANUP, INTRO_RUNS_WHERE, setup_cell

NB09 = [
    ("md", """\
# 9 · Today's models: Responses, reasoning, tools, structured outputs, embeddings

Newer deployments need more than `chat/completions`:

- the **Responses API** lives only on the resource's `/openai/v1` routes (a dated deployment route answers a bare
  404); `client.responses(...)` derives that route from your usual endpoint and sends the deployment as `model`;
- **reasoning models** (o-series, gpt-5) refuse `max_tokens` and sampling parameters, and spend
  *reasoning tokens* inside `max_completion_tokens` — sometimes all of them;
- **tool calls** stream as fragments that must be put back together by index;
- **structured outputs** answer JSON that matches your schema (api-version 2024-08-01-preview or later).

""" + INTRO_RUNS_WHERE),
    ("code", setup_cell() + """
REASONING = "o4-mini"  # the name of YOUR reasoning deployment when you use your own resource
"""),
    ("md", """\
## The Responses API

Same client, same settings: the call goes to `{resource}/openai/v1/responses`. The snapshot that really answered
is only in the `x-ms-served-model` header."""),
    ("code", """\
result = client.responses("Tell me about lighthouses in one paragraph.", max_output_tokens=60)
print("served model:", result.headers.get("x-ms-served-model"))
result  # the route, the answer, its status and usage; the headers folded
"""),
    ("md", """\
Streamed, the Responses API sends **named, typed events** (`response.created`, `response.output_text.delta`, …,
`response.completed`). Iterating gives the text; `stream.events` keeps every event; `stream.show()` reads it
with the text growing in place."""),
    ("code", """\
from collections import Counter

with client.stream_responses("Tell me about lighthouses in one paragraph.", max_output_tokens=60) as stream:
    stream.show()
print(Counter(event["type"] for event in stream.events))
"""),
    ("md", """\
**Background mode** answers at once with `status: queued`; poll until the response is finished, as with a batch."""),
    ("code", """\
started = client.responses("Summarise the history of lighthouses.", background=True)
print(started.json()["id"], started.json()["status"])
done = client.wait_response(started.json()["id"], poll_interval=0.5 if emu is None else 0,
                            on_status=lambda r: print("  ", r.json()["status"]))
print(done.text[:120], "…")
"""),
    ("md", """\
## Reasoning models

`max_tokens` is refused; the error carries the service's message and a hint."""),
    ("code", """\
from IPython.display import display

from rest_client import BadRequestError

try:
    client.chat("How many r's in strawberry?", deployment=REASONING, max_tokens=50)
except BadRequestError as error:
    display(error)
"""),
    ("md", """\
Reasoning tokens count inside `max_completion_tokens`. Give too small a budget and the answer is **empty** with
`finish_reason: length` — `result.warning` says why."""),
    ("code", """\
tight = client.chat("How many r's in strawberry?", deployment=REASONING, max_completion_tokens=100)
print(repr(tight.text), tight.finish_reason, "| reasoning tokens:", tight.reasoning_tokens)
display(tight)  # the warning stands under the (empty) answer

roomy = client.chat([{"role": "developer", "content": "Answer briefly."},
                     {"role": "user", "content": "How many r's in strawberry?"}],
                    deployment=REASONING, max_completion_tokens=2000, reasoning_effort="low")
print(roomy.text[:80], "…", "| reasoning tokens:", roomy.reasoning_tokens)
"""),
    ("md", """\
## Tool calls, streamed

A streamed tool call arrives in pieces: a first chunk with the call's id and name, then fragments of its
arguments, then `finish_reason: tool_calls`. The `Stream` assembles them by index, however they interleave."""),
    ("code", """\
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

with client.stream_chat("What is the weather in Paris?", tools=[WEATHER]) as stream:
    list(stream)
fragments = [e for e in stream.events if e["choices"] and e["choices"][0]["delta"].get("tool_calls")]
print(len(fragments), "chunks carried the call; finish_reason:", stream.finish_reason)
for call in stream.tool_calls:
    print(call.id, call.name, call.parsed())
"""),
    ("md", """\
## Structured outputs

`response_format` passes through unchanged; `rest_client.schema_check.check_answer` checks the answer locally
(it needs `jsonschema`: `pip install 'rest_client[schema]'`) and names the path that failed."""),
    ("code", """\
from rest_client.schema_check import check_answer

BOOK = {"type": "object", "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
        "required": ["title", "year"], "additionalProperties": False}
answer = client.chat("Name a famous book about the sea.",
                     response_format={"type": "json_schema",
                                      "json_schema": {"name": "book", "strict": True, "schema": BOOK}})
print(check_answer(answer.text, BOOK))
"""),
    ("md", """\
## Embeddings

`client.embed` takes a string or a list; vectors come back in input order."""),
    ("code", """\
EMBEDDINGS = emu.embeddings_deployment if emu else "text-embedding-3-small"  # YOUR embeddings deployment
vectors = client.embed(["lighthouse", "harbor"], deployment=EMBEDDINGS, dimensions=4)
for item in vectors.json()["data"]:
    print(item["index"], [round(v, 3) for v in item["embedding"]])
"""),
    ("code", CLEANUP),
]
