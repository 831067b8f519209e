"""Write the walkthrough notebooks from the cells below: ``python notebooks/_build.py``.

Why a script: notebook JSON is hard to review and easy to save with outputs. This file is the readable
source; tests/test_notebooks.py checks that the .ipynb files are exactly what it writes, so edit the cells
here, run it, and commit both. ``--check`` only reports which notebooks differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

INTRO_RUNS_WHERE = """\
It runs against **your** Azure OpenAI resource when `./config.json` (beside this notebook) or
`AZURE_OPENAI_ENDPOINT` exists, and otherwise against rest_client's **built-in emulator**: an Azure OpenAI
look-alike on 127.0.0.1, so every cell works offline with no Azure account (its answers are deterministic
filler text: the point here is the wire, not the wit). Nothing here prints a key or a token: where one is
shown, it reads `***`."""


def md_table(header: tuple[str, ...], *rows: tuple[str, ...]) -> str:
    """A markdown table; rows are tuples so long cells can be split over several source lines here."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def setup_cell(*, with_client: bool = True) -> str:
    """The one cell every notebook opens with: your resource when configured, else the emulator."""
    text = """\
import os
from pathlib import Path

from rest_client import Client, load_settings

if os.environ.get("AZURE_OPENAI_ENDPOINT") or Path("config.json").exists():
    emu = None
    settings = load_settings()  # arguments > environment > ./config.json > defaults
    credential = None  # rest_client picks: the api-key when one is set, else DefaultAzureCredential
    print(f"Using YOUR Azure OpenAI resource {settings.endpoint} (auth: {settings.auth})")
else:
    from azure.identity import ManagedIdentityCredential

    from rest_client.emulator import Emulator

    emu = Emulator().start()
    os.environ.update(emu.identity_env)  # azure-identity's managed identity now gets its tokens from the emulator
    settings = load_settings(endpoint=emu.endpoint, deployment=emu.chat_deployment,
                             completions_deployment=emu.completions_deployment, auth="default")
    credential = ManagedIdentityCredential()  # what DefaultAzureCredential finds on an Azure VM or App Service
    print(f"No ./config.json or AZURE_OPENAI_ENDPOINT: using the built-in emulator at {emu.endpoint} (offline)")
"""
    if with_client:
        text += """
client = Client(settings, credential=credential)
print("chat deployment:", settings.deployment, "| completions deployment:", settings.completions_deployment)
"""
    return text


CLEANUP = """\
client.close()
if emu:
    emu.stop()
"""

# --------------------------------------------------------------------------------------------------------------
NB01 = [
    ("md", """\
# 1 · Completions with Entra ID: by hand, then with rest_client

The classic first call, one step at a time: **config.json → deployment URL with `api-version` → an Entra ID
token for the Cognitive Services scope → POST "Once upon a time" → status code, headers, body**. First with
nothing but `requests`, so you see every piece; then the same call with `rest_client` in three lines.

""" + INTRO_RUNS_WHERE),
    ("code", setup_cell(with_client=False)),
    ("md", """\
## 1. config.json

rest_client reads the same `config.json` as the Azure-Samples notebooks, so an existing file works as is
(copy `config.json.example` to start):

```json
{
  "AZURE_OPENAI_ENDPOINT": "https://NAME.openai.azure.com",
  "OPENAI_API_VERSION": "2024-10-21",
  "AZURE_OPENAI_DEPLOYMENT": "my-gpt-4o-mini",
  "COMPLETIONS_MODEL": "my-gpt-35-turbo-instruct",
  "AUTH": "default"
}
```

No key in it: `AUTH: default` means Entra ID (keyless). The sources, highest first: **arguments >
environment > config file > defaults**; `settings.sources` says where each value came from. With the emulator,
the cell writes such a file to a temporary folder (never to `./config.json`, which would switch the next
run to "your resource") and loads it."""),
    ("code", """\
import json
import tempfile

if emu:
    example = {"AZURE_OPENAI_ENDPOINT": emu.endpoint, "OPENAI_API_VERSION": "2024-10-21",
               "AZURE_OPENAI_DEPLOYMENT": emu.chat_deployment, "COMPLETIONS_MODEL": emu.completions_deployment,
               "AUTH": "default"}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "config.json")
        path.write_text(json.dumps(example, indent=2))
        settings = load_settings(path)

print(settings)  # a key, if any, shows as '***'
for name, source in settings.sources.items():
    print(f"  {name:24} <- {source}")
"""),
    ("md", """\
## 2. The deployment URL

```
{endpoint}/openai/deployments/{deployment}/{operation}?api-version={version}
```

- **deployment** is the name *you* gave the deployment in the portal (Deployments blade), which may differ
  from the model name. Use the model name by mistake and Azure answers `404 DeploymentNotFound`.
- **api-version** is required: without it the service answers `404 Resource not found` with no hint why.
  `2024-10-21` is the current GA version.
- **operation** is `completions` for instruct models (`gpt-35-turbo-instruct`) and `chat/completions` for chat
  models. Many resources have only chat models now, so the cell falls back to chat when no completions
  deployment is configured."""),
    ("code", """\
from rest_client import build_deployment_url

if settings.completions_deployment:
    operation, deployment = "completions", settings.completions_deployment
    payload = {"prompt": "Once upon a time", "max_tokens": 30}
else:
    operation, deployment = "chat/completions", settings.deployment
    payload = {"messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 30}

url = build_deployment_url(settings.endpoint, deployment, operation, settings.api_version)
print(url)
"""),
    ("md", """\
## 3. A token for `https://cognitiveservices.azure.com/.default`

Keyless auth means an **Entra ID access token** in `Authorization: Bearer …`. A token is issued *for* one
resource (its `aud` claim); Azure OpenAI accepts tokens for `https://cognitiveservices.azure.com`.

**Why `/.default`?** Entra ID's v2 endpoint asks for *scopes*, not resources. `RESOURCE/.default` means "a
token for this resource, with whatever permissions were granted to me on it" — the only form that works for
Azure OpenAI. Ask for the bare resource (`https://cognitiveservices.azure.com`) with a service principal,
browser or device-code login, and Entra refuses with **`AADSTS70011: The provided value for the input parameter
'scope' is not valid`** (for a service principal's secret or certificate also `AADSTS1002012: … must have a
scope value with /.default suffixed to the resource identifier`): add `/.default`. (`az` and managed identity
take a *resource* and forgive the missing suffix — which is why the same code can work on your laptop and
fail in CI.) A token for the wrong resource,
say `https://management.azure.com/.default`, is issued without complaint and then rejected by Azure OpenAI
with a 401.

A token is a secret for its lifetime (usually 60-90 minutes): print its length and expiry, never the token."""),
    ("code", """\
import time

from azure.identity import DefaultAzureCredential

from rest_client import COGNITIVE_SERVICES_SCOPE

# The emulator's managed identity; on your machine DefaultAzureCredential (environment, managed identity, az, …)
entra = credential if credential is not None else DefaultAzureCredential()
try:
    access = entra.get_token(COGNITIVE_SERVICES_SCOPE)
except Exception as exc:  # e.g. no `az login`: say so, and use the api-key below instead
    access = None
    print("No Entra ID token:", str(exc).splitlines()[0])
    print("-> run `az login` for keyless auth; the request below falls back to your api-key")
else:
    print("scope:     ", COGNITIVE_SERVICES_SCOPE)
    print("token:     ", len(access.token), "characters (not printed: it is a password while it lives)")
    print("expires in:", round((access.expires_on - time.time()) / 60), "minutes")
"""),
    ("md", """\
The token is a JWT: three base64url parts, the middle one readable claims. Checking `aud` is the quickest
diagnosis of a 401 with a token ("audience is incorrect")."""),
    ("code", """\
import base64

if access:
    claims_part = access.token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(claims_part + "=" * (-len(claims_part) % 4)))
    print("aud (the resource it is for):", claims.get("aud"))
    print("exp (expiry, epoch seconds): ", claims.get("exp"))
"""),
    ("md", """\
## 4. POST by hand with `requests`

Everything is in plain sight: the URL, one auth header, a JSON body. `redact_headers` shows the request
headers with the secret replaced (`Bearer ***` plus at most the last 4 characters)."""),
    ("code", """\
import requests

from rest_client.redact import redact_headers

headers = {"Authorization": f"Bearer {access.token}"} if access else {"api-key": settings.api_key}
response = requests.post(url, json=payload, headers=headers, timeout=(5, 120))

print("sent:  ", redact_headers(response.request.headers))
print("status:", response.status_code, response.reason)
"""),
    ("md", """\
The response headers — notebook 3 explains each one. `apim-request-id` is the id to quote to Azure support."""),
    ("code", """\
for name, value in response.headers.items():
    print(f"{name}: {value}")
"""),
    ("code", """\
from pprint import pprint

body = response.json()
pprint(body, width=116, sort_dicts=False)
if response.ok:
    choice = body["choices"][0]
    print("\\nanswer:", choice.get("text") or choice["message"]["content"])
"""),
    ("md", """\
## 5. The same call with rest_client: three lines

`Client` builds the URL, gets and caches the token (refreshing it before it expires), retries 429/5xx with
the service's `retry-after`, turns error answers into typed exceptions with a hint — and keeps what happened
on the wire: status, headers, request id, each attempt."""),
    ("code", """\
client = Client(settings, credential=credential)
call = client.complete if settings.completions_deployment else client.chat  # instruct model, else chat
result = call("Once upon a time", max_tokens=30)
print(result.text)
"""),
    ("code", """\
print("status:    ", result.status_code)
print("request id:", result.request_id)
print("attempts:  ", result.attempts, f"({result.elapsed * 1000:.0f} ms in all)")
if client.auth.kind == "bearer":  # where the token came from and when it expires; never the token itself
    token = client.auth.status()
    print("token:     ", f"from {token.source}, expires in {token.expires_in / 60:.0f} min,",
          f"{token.credential_calls} credential call(s)")
"""),
    ("code", CLEANUP),
]

# --------------------------------------------------------------------------------------------------------------
NB02 = [
    ("md", """\
# 2 · Chat: roles, conversations, parameters

A chat payload is a list of **messages**, each with a `role`:

""" + md_table(
        ("role", "what it is for"),
        ("`system`", "instructions: tone, format, rules; comes first"),
        ("`user`", "what the person asks"),
        ("`assistant`", "what the model answered before: the model remembers nothing between calls, so *you* "
                        "send the conversation so far every time"),
    ) + "\n\n" + INTRO_RUNS_WHERE),
    ("code", setup_cell()),
    ("md", """\
## One message

A plain string is one user message. `result.response.request.body` is exactly what went on the wire:
rest_client adds nothing you did not ask for."""),
    ("code", """\
import json

result = client.chat("What is the capital of France?", max_tokens=40)
print(result.text)
print(json.loads(result.response.request.body))
"""),
    ("md", """\
## A system message"""),
    ("code", """\
messages = [
    {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
    {"role": "user", "content": "Why is the sky blue?"},
]
result = client.chat(messages, max_tokens=60)
print(result.text)
"""),
    ("md", """\
## A multi-turn conversation

Append the assistant's answer, then ask the follow-up: the model sees the whole history. The price is in
`usage.prompt_tokens`, which grows with every turn — long conversations get trimmed or summarised."""),
    ("code", """\
messages.append({"role": "assistant", "content": result.text})
messages.append({"role": "user", "content": "And why are sunsets red?"})
follow_up = client.chat(messages, max_tokens=60)
print(follow_up.text)
print(f"{len(messages)} messages sent; prompt tokens {result.usage['prompt_tokens']} -> "
      f"{follow_up.usage['prompt_tokens']}")
"""),
    ("md", """\
A small helper keeps the history for you:"""),
    ("code", """\
def ask(conversation: list, question: str, **params) -> str:
    conversation.append({"role": "user", "content": question})
    answer = client.chat(conversation, **params).text
    conversation.append({"role": "assistant", "content": answer})
    return answer


conversation = [{"role": "system", "content": "You are a travel guide. Be brief."}]
print(ask(conversation, "Name one sight in Lisbon.", max_tokens=40))
print(ask(conversation, "How do I get there from the airport?", max_tokens=40))
print(len(conversation), "messages in the history")
"""),
    ("md", """\
## Parameters

They go into the JSON body exactly as you give them:

""" + md_table(
        ("parameter", "effect"),
        ("`max_tokens`", "caps the answer; when it is reached `finish_reason` is `\"length\"` (the text is cut)"),
        ("`temperature`", "0 = most predictable … 2 = most varied (default 1); tune this *or* `top_p`, not both"),
        ("`top_p`", "sample only from the most likely tokens making up this probability mass"),
        ("`n`", "several alternative answers (`choices`) in one call; each one is billed"),
        ("`stop`", "up to 4 strings; the answer ends *before* the first one (`finish_reason` `\"stop\"`)"),
        ("`seed`", "best-effort repeatable sampling"),
    ) + """

(The emulator's text is deterministic for a given prompt and honours `max_tokens`, `n` and `stop`; it accepts
`temperature` but does not change its text for it.)"""),
    ("code", """\
result = client.chat("Suggest a name for a cat.", n=3, max_tokens=12, temperature=1.0)
for choice in result.json()["choices"]:
    print(choice["index"], f"{choice['finish_reason']:7}", choice["message"]["content"])
"""),
    ("code", """\
result = client.chat("Count from one to ten in words, separated by commas.", stop=[","], max_tokens=30)
print(repr(result.text), "| finish_reason:", result.json()["choices"][0]["finish_reason"])
"""),
    ("md", """\
## Reading the answer

`result.text` is the first choice's content. The whole body has more: the `finish_reason` of each choice
(`stop`, `length`, `content_filter` when the *answer* was filtered, `tool_calls`), Azure's content filter
verdicts on the prompt and on each answer, and `usage` — the tokens you are billed for."""),
    ("code", """\
body = result.json()
print("id:", body["id"], "| model:", body["model"], "| system_fingerprint:", body.get("system_fingerprint"))
choice = body["choices"][0]
print("finish_reason:", choice["finish_reason"])
print("answer filter:", {name: r.get("severity", r.get("detected"))
                         for name, r in choice.get("content_filter_results", {}).items()})
print("prompt filter:", [p["prompt_index"] for p in body.get("prompt_filter_results", [])], "(prompt indexes)")
print("usage:", body["usage"]["prompt_tokens"], "prompt +", body["usage"]["completion_tokens"], "completion =",
      body["usage"]["total_tokens"], "tokens")
"""),
    ("code", CLEANUP),
]

# --------------------------------------------------------------------------------------------------------------
NB03 = [
    ("md", """\
# 3 · Headers and status codes

What every response header means, and every error you are likely to meet — each produced on purpose and
shown as rest_client raises it: a typed exception whose `str()` leads with status, code and request id, and
whose `.hint` says what to fix.

""" + INTRO_RUNS_WHERE + """

401 and 404 happen for real on your resource too; 403, the content filter and 429 are produced with the
emulator's **faults** (`emu.add_fault(...)`: the next request gets that answer) and skipped against Azure."""),
    ("code", setup_cell()),
    ("md", """\
## Every response header"""),
    ("code", """\
result = client.chat("Hello!", max_tokens=20)
print("HTTP", result.status_code)
for name, value in result.headers.items():
    print(f"{name}: {value}")
"""),
    ("md", md_table(
        ("header", "meaning"),
        ("`apim-request-id`", "id given by the API Management gateway in front of the service: **the id Azure "
                              "support asks for**; `result.request_id` and every error show it"),
        ("`x-request-id`", "id from the inference backend; rest_client falls back to it when there is no "
                           "`apim-request-id`"),
        ("`x-ms-region`", "the region that answered (Global and Data Zone deployments may route anywhere in "
                          "their zone)"),
        ("`x-ms-deployment-name`", "the deployment that answered"),
        ("`x-ratelimit-limit-requests` / `-tokens`", "the deployment's quota for the current window"),
        ("`x-ratelimit-remaining-requests` / `-tokens`", "what is left; `max_tokens` is charged *up front*, so a "
                                                         "large `max_tokens` eats tokens you never use"),
        ("`openai-processing-ms`", "time the model backend spent; the rest of `result.elapsed` is network and "
                                   "gateway"),
        ("`x-ms-client-request-id`", "echoes the id you sent in that header, to match your own logs"),
        ("`retry-after`, `retry-after-ms`", "on 429 and 503: how long the service asks you to wait (notebook 4)"),
        ("`x-emulator`", "`rest_client`: only the emulator sends it, so you always know who answered"),
    )),
    ("code", """\
LEGEND = {
    "apim-request-id": "quote this to Azure support",
    "x-request-id": "backend id (fallback request id)",
    "x-ms-region": "region that answered",
    "x-ms-deployment-name": "deployment that answered",
    "x-ratelimit-remaining-requests": "requests left in this window",
    "x-ratelimit-remaining-tokens": "tokens left in this window",
    "openai-processing-ms": "backend time, ms",
    "x-emulator": "present only when the emulator answered",
}
for name, meaning in LEGEND.items():
    print(f"{name:32} {result.headers.get(name, '-'):38} {meaning}")
print(f"\\nbackend {float(result.headers.get('openai-processing-ms', 0)):.1f} ms of "
      f"{result.elapsed * 1000:.1f} ms measured by the client")
"""),
    ("md", """\
## Errors

Every error answer becomes an `APIStatusError` subclass carrying `status_code`, `code`, `message`,
`request_id`, `headers`, `body` and `hint`. A helper shows them:"""),
    ("code", """\
from rest_client import (
    APIStatusError,
    AuthenticationError,
    ContentFilterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)


def show(error: APIStatusError) -> None:
    print(f"{type(error).__name__}: {error}")
    print(f"  status_code={error.status_code}  code={error.code!r}  request_id={error.request_id!r}")
    print(f"  hint: {error.hint}")
"""),
    ("md", """\
### 401 vs 403

- **401 Unauthorized — "who are you?"** The key or token was not accepted: a key of *another* resource, a
  token for the wrong resource (`aud`), from another tenant, or expired.
- **403 Forbidden — "I know who you are, and no."** The token is fine but your identity lacks the
  **Cognitive Services OpenAI User** role on the resource (role assignments take up to 5 minutes to apply), or
  the resource's network rules (firewall, private endpoint) block you.

A wrong key gives a real 401 on any resource:"""),
    ("code", """\
wrong_key = Client(settings, auth="key", api_key="0" * 32)
try:
    wrong_key.chat("Hello!")
except AuthenticationError as error:
    show(error)
wrong_key.close()
"""),
    ("code", """\
if emu:
    emu.add_fault("status", status=403, body={"error": {
        "code": "PermissionDenied",
        "message": "The principal `00000000-0000-0000-0000-000000000000` lacks the required data action "
                   "`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action` to perform "
                   "`POST /openai/deployments/{deployment-id}/chat/completions` operation."}})
    try:
        client.chat("Hello!")
    except PermissionDeniedError as error:
        show(error)
else:
    print("skipped: a real 403 needs an identity without the role; the emulator fakes one on demand")
"""),
    ("md", """\
### 404 DeploymentNotFound: deployment name vs model name

The URL holds the **deployment name** you chose when you deployed a model, which need not be the model's
name. Sending the model name (or a deployment created less than ~5 minutes ago) gives
`404 DeploymentNotFound`. A 404 *without* that code usually means a wrong endpoint path or a missing
`api-version`."""),
    ("code", """\
try:
    client.chat("Hello!", deployment="gpt-4o-2024-08-06")  # a model name and version, not a deployment name
except NotFoundError as error:
    show(error)
"""),
    ("md", """\
### 400 content_filter

Azure runs a content filter on every prompt. When the **prompt** is blocked you get `400` with code
`content_filter` and the verdict per category (`hate`, `sexual`, `violence`, `self_harm` with a severity;
`jailbreak` detected or not); `ContentFilterError.categories` has them. When the **answer** is filtered you
get a `200` whose choice has `finish_reason: "content_filter"` instead."""),
    ("code", """\
if emu:
    emu.add_fault("content_filter", categories={"violence": "high"})
    try:
        client.chat("(a prompt the filter blocks)")
    except ContentFilterError as error:
        show(error)
        print("  filtered:", {name: v for name, v in error.categories.items() if v.get("filtered")})
else:
    print("skipped: we will not send your resource a prompt written to be blocked")
"""),
    ("md", """\
### 429 Too Many Requests

Over the deployment's requests- or tokens-per-minute quota. The answer says how long to wait in
`retry-after` (seconds) and `retry-after-ms`; rest_client normally waits that long and retries (notebook 4).
A client with `max_retries=0` shows the 429 itself."""),
    ("code", """\
if emu:
    impatient = Client(settings, credential=credential, max_retries=0)
    emu.add_fault("rate_limit", retry_after=7)
    try:
        impatient.chat("Hello!")
    except RateLimitError as error:
        show(error)
        hints = {name: value for name, value in error.headers.items() if name.lower().startswith("retry-after")}
        print("  retry_after:", error.retry_after, "s, from", hints)
    impatient.close()
else:
    print("skipped: producing a real 429 means spending your quota on purpose")
"""),
    ("md", """\
## Summary

""" + md_table(
        ("status", "exception", "usual cause", "fix"),
        ("400 `content_filter`", "`ContentFilterError`", "the prompt was blocked",
         "rephrase; or ask for a filter configuration change"),
        ("400 other", "`BadRequestError`", "bad payload, unsupported api-version, chat payload to an instruct model",
         "read the message; check `api-version` and the operation"),
        ("401", "`AuthenticationError`", "wrong key; token for the wrong scope or tenant, or expired",
         "a key of *this* resource; scope `https://cognitiveservices.azure.com/.default`; `az login --tenant`"),
        ("403", "`PermissionDeniedError`", "your identity lacks the role; network rules",
         "assign **Cognitive Services OpenAI User**; allow your network"),
        ("404 `DeploymentNotFound`", "`NotFoundError`", "model name instead of deployment name; brand-new deployment",
         "the name from the portal's Deployments; wait a few minutes"),
        ("429", "`RateLimitError`", "over quota", "let rest_client retry; lower `max_tokens`; raise the quota"),
        ("5xx", "`ServerError`", "the service failed", "retried automatically; quote the request id if it persists"),
    )),
    ("code", CLEANUP),
]

# --------------------------------------------------------------------------------------------------------------
NB04 = [
    ("md", """\
# 4 · Retries and rate limits

Watch retries happen. rest_client retries **408, 429, 500, 502, 503, 504**, connection errors and timeouts —
never other 4xx, which would fail the same way again. It waits what the service asks (`retry-after-ms`, then
`retry-after`), or else backs off exponentially (0.5 s doubling to 8 s, plus up to 0.5 s of jitter). By default
it retries 3 times (4 attempts). Every call keeps a record: `Result.exchanges`, one entry per attempt.

""" + INTRO_RUNS_WHERE + """

The failures below are the emulator's faults and a deliberately tight rate limit; against your resource those
cells are skipped."""),
    ("code", setup_cell()),
    ("code", """\
def table(exchanges) -> None:
    print("attempt  status     waited before   took")
    for x in exchanges:
        status = x.status_code if x.status_code is not None else "no answer"
        note = f"   ({x.error})" if x.error else ""
        print(f"{x.attempt:>7}  {status!s:9} {x.wait_before:>9.2f} s   {x.elapsed * 1000:6.1f} ms{note}")


result = client.chat("Hello!", max_tokens=10)
table(result.exchanges)
"""),
    ("md", """\
## The log

Each attempt is logged on `logging.getLogger("rest_client")` at DEBUG — status, request id, the wait before
the next attempt — with secrets redacted. Send it somewhere visible:"""),
    ("code", """\
import logging
import sys

log = logging.getLogger("rest_client")
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
log.addHandler(handler)
log.setLevel(logging.DEBUG)

result = client.chat("Hello!", max_tokens=10)
"""),
    ("md", """\
## `retry-after` honoured

A 503 that says `retry-after: 1`: rest_client waits exactly one second, then tries again."""),
    ("code", """\
if emu:
    emu.add_fault("unavailable", retry_after=1)  # 503 with retry-after: 1
    result = client.chat("Hello!", max_tokens=10)
    table(result.exchanges)
else:
    print("skipped: needs the emulator's faults")
"""),
    ("md", """\
## Backoff without a hint

A 500 carries no `retry-after`, so rest_client backs off: about 0.5 s, then about 1 s (plus jitter, so many
clients do not retry in lockstep). A dropped connection is retried the same way — it shows as "no answer"."""),
    ("code", """\
if emu:
    emu.add_fault("status", status=500, times=2)
    table(client.chat("Hello!", max_tokens=10).exchanges)
    emu.add_fault("reset")  # the connection is closed without an answer
    table(client.chat("Hello!", max_tokens=10).exchanges)
else:
    print("skipped: needs the emulator's faults")
"""),
    ("md", """\
## Giving up

After `max_retries` the last answer is raised as its typed error, with the attempts in `error.exchanges`.

**The cap:** `max_retry_wait` (default 60 s) is the longest wait rest_client accepts from a hint. When the
service asks for more, it fails *at once* with a `RateLimitError` saying how long the service wanted —
whether to wait that long is your program's decision, not a library's."""),
    ("code", """\
from rest_client import RateLimitError, ServerError

if emu:
    once = Client(settings, credential=credential, max_retries=1)
    emu.add_fault("status", status=502, times=2)
    try:
        once.chat("Hello!", max_tokens=10)
    except ServerError as error:
        print(error)
        table(error.exchanges)
    once.close()
else:
    print("skipped: needs the emulator's faults")
"""),
    ("code", """\
import time

if emu:
    capped = Client(settings, credential=credential, max_retry_wait=2)
    emu.add_fault("rate_limit", retry_after=30)
    started = time.perf_counter()
    try:
        capped.chat("Hello!", max_tokens=10)
    except RateLimitError as error:
        print(f"failed after {time.perf_counter() - started:.2f} s, without waiting:")
        print(error)
        print("the service asked for", error.retry_after, "s")
    capped.close()
else:
    print("skipped: needs the emulator's faults")
"""),
    ("md", """\
## A burst into a rate limit, absorbed

Azure enforces a deployment's requests-per-minute over short windows, so a burst gets 429s long before the
minute's budget is spent. Here is a second emulator whose only deployment allows **2 requests per second**
(`Deployment(rpm=120, window=1.0)`), and 6 requests fired at once from 6 threads. The 429s carry
`retry-after-ms`; the retries wait that long and every request gets through. (Against your own resource this
cell is skipped: a deliberate burst spends real quota.)"""),
    ("code", """\
from concurrent.futures import ThreadPoolExecutor

log.setLevel(logging.INFO)  # the table below says it more briefly than the DEBUG log

if emu:
    from rest_client.emulator import Deployment

    tight = Emulator(deployments=[Deployment("burst", "gpt-4o-mini", "chat", rpm=120, window=1.0)]).start()
    burst_client = Client(endpoint=tight.endpoint, deployment="burst", api_key=tight.api_key, max_retries=5)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda i: burst_client.chat(f"Story {i}", max_tokens=10), range(6)))
    print(f"6 requests in {time.perf_counter() - started:.2f} s\\n")
    print("request  attempts  statuses              waited    total")
    for number, r in enumerate(results, 1):
        statuses = " > ".join(str(x.status_code) for x in r.exchanges)
        waited = sum(x.wait_before for x in r.exchanges)
        print(f"{number:>7}  {r.attempts:>8}  {statuses:20} {waited:>6.2f} s  {r.elapsed:>5.2f} s")
    print("\\nthe emulator answered 429", tight.counters["rate_limited"], "times")
    burst_client.close()
    tight.stop()
else:
    print("skipped: a deliberate burst would spend your quota")
"""),
    ("code", """\
log.removeHandler(handler)
""" + CLEANUP),
]

# --------------------------------------------------------------------------------------------------------------
NB05 = [
    ("md", """\
# 5 · Streaming

With `"stream": true` the answer arrives as **server-sent events** — `data: {json}` lines, one per few tokens,
ending with `data: [DONE]` — so the first words show while the rest is generated. What matters to a reader is
the **time to first token**, not the total.

`client.stream_chat(...)` sends the request right away (errors are raised there) and returns a `Stream`:
iterate it for text deltas; afterwards it still has the headers, every raw event, Azure's prompt filter
results, the finish reason, the usage and the time to first token.

""" + INTRO_RUNS_WHERE),
    ("code", setup_cell() + """
if emu:
    emu.stream_delay = 0.05  # seconds between events, so you can watch the stream arrive
"""),
    ("code", """\
import time

started = time.perf_counter()
stream = client.stream_chat("Tell me a short story about a lighthouse.", max_tokens=40)
for delta in stream:
    print(delta, end="", flush=True)
total = time.perf_counter() - started

print("\\n")
print(f"time to first token: {stream.time_to_first_token * 1000:.0f} ms, whole answer: {total * 1000:.0f} ms")
print("finish_reason:", stream.finish_reason, "| events:", len(stream.events), "| request id:", stream.request_id)
"""),
    ("md", """\
## Azure's first chunk: the prompt filter

Before any text, Azure sends an event with **empty `choices`** and blank `id`, `model` and `object`: the content
filter's verdict on your prompt (`prompt_filter_results`). Code written for OpenAI that reads
`event["choices"][0]` crashes on it; rest_client keeps it in `stream.prompt_filter_results`."""),
    ("code", """\
import json

print(json.dumps(stream.events[0], indent=2))
"""),
    ("code", """\
def verdict(results: dict) -> str:
    return ", ".join(f"{name}={r['severity'] if 'severity' in r else ('detected' if r.get('detected') else 'no')}"
                     for name, r in (results or {}).items())


for entry in stream.prompt_filter_results:
    print("prompt", entry["prompt_index"], "->", verdict(entry["content_filter_results"]))
"""),
    ("md", """\
## Per-chunk filter results

The answer is filtered as it streams: content events carry `content_filter_results` for the text so far.
If the filter stops an answer midway, the last event has `finish_reason: "content_filter"`."""),
    ("code", """\
content_events = [e for e in stream.events if e["choices"] and e["choices"][0].get("delta", {}).get("content")]
for event in content_events[:4]:
    choice = event["choices"][0]
    print(f"{choice['delta']['content']!r:14} {verdict(choice.get('content_filter_results'))}")
"""),
    ("md", """\
## Usage in a stream

A stream reports no token usage unless you ask: `stream_options={"include_usage": True}` adds one last event
with empty `choices` and the `usage` (api-version 2024-10-21 or later)."""),
    ("code", """\
stream = client.stream_chat("Name three colours.", max_tokens=20, stream_options={"include_usage": True})
print("".join(stream))
print("last event:", json.dumps(stream.events[-1])[:160], "…")
print("usage:", stream.usage["prompt_tokens"], "prompt +", stream.usage["completion_tokens"], "completion tokens")
"""),
    ("md", """\
## Headers and attempts

A stream is one HTTP response: its headers (request id, rate limits) and the attempts it took (a 429 before
the stream started is retried like any call) are in `stream.result`."""),
    ("code", """\
print("apim-request-id:", stream.headers.get("apim-request-id"))
print("content-type:   ", stream.headers.get("content-type"))
print("attempts:       ", stream.result.attempts)
if settings.completions_deployment:
    print("completions, streamed:", "".join(client.stream_complete("Once upon a time", max_tokens=12)))
"""),
    ("code", CLEANUP),
]

# --------------------------------------------------------------------------------------------------------------
NB06 = [
    ("md", """\
# 6 · The token lifecycle

Keyless auth done right: which credential gives the token, how it is cached, how it is refreshed *before* it
expires, and what happens on a 401.

""" + INTRO_RUNS_WHERE + """

The short-lived token and the 401 are emulator demos; against your resource they are skipped."""),
    ("code", setup_cell(with_client=False)),
    ("md", """\
## AzureCliCredential vs DefaultAzureCredential

- **`AzureCliCredential`** (`auth: "cli"`) runs `az account get-access-token`: your `az login`. Simple and
  explicit, for a developer machine. It needs the Azure CLI installed and logged in.
- **`DefaultAzureCredential`** (`auth: "default"`) tries a chain and keeps the first that works:
  environment variables (a service principal) → workload identity (AKS) → **managed identity** (Azure VM, App
  Service, Functions, Container Apps) → (Windows: shared token cache) → Visual Studio Code → **Azure CLI** →
  Azure PowerShell → Azure Developer CLI → … The same code uses your `az login` on a laptop and the managed
  identity in production. The price: when nothing works, the error lists every link that failed, and a link
  you did not expect can win (leftover `AZURE_CLIENT_SECRET` variables put a service principal ahead of your
  `az login`).

The emulator plays the managed identity: `emu.identity_env` sets `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`
(App Service's protocol), so `DefaultAzureCredential` finds "managed identity" and gets its token from
127.0.0.1. `EntraTokenAuth` (what `Client` uses) says which link answered."""),
    ("code", """\
from azure.identity import AzureCliCredential, DefaultAzureCredential

from rest_client import CredentialError, EntraTokenAuth


def seconds(value: float) -> str:
    return f"{value / 60:.0f} min" if abs(value) >= 120 else f"{value:.1f} s"


def describe(auth: EntraTokenAuth) -> str:
    s = auth.status()
    return (f"{s.source}: expires in {seconds(s.expires_in)}, refresh in {seconds(s.refresh_in)}, "
            f"{s.credential_calls} credential call(s)")


default_auth = EntraTokenAuth(DefaultAzureCredential())
try:
    default_auth.get_token()
    print(describe(default_auth))
except CredentialError as error:
    print("CredentialError:", error)
"""),
    ("md", """\
Without the Azure CLI (or without `az login`), `AzureCliCredential` fails — rest_client turns that into one
`CredentialError` that says what to do:"""),
    ("code", """\
cli_auth = EntraTokenAuth(AzureCliCredential())  # azure-identity may also log a warning line of its own
try:
    cli_auth.get_token()
    print("az is installed and logged in:", describe(cli_auth))
except CredentialError as error:
    print("CredentialError:", error)
"""),
    ("md", """\
## Caching: one credential call

Getting a token is slow (a process for `az`, an HTTP call for managed identity), so `Client` keeps one token
per auth object and reuses it until it is due for refresh. It is **single flight**: many threads needing a
token at once cause one credential call, not one each. (`auth="default"` here, so the demo is keyless even
when your config.json has a key.)"""),
    ("code", """\
import time
from concurrent.futures import ThreadPoolExecutor

client = Client(settings, auth="default", credential=credential)
with ThreadPoolExecutor(max_workers=8) as pool:
    statuses = list(pool.map(lambda i: client.chat(f"Hello {i}!", max_tokens=5).status_code, range(16)))
print(len(statuses), "calls from 8 threads:", set(statuses))
print(describe(client.auth))
"""),
    ("md", """\
## Refresh before expiry

A token is refreshed **before** it expires: at the `refresh_on` time the credential gives, else 5 minutes
before expiry — at half-life for tokens shorter than 10 minutes. So no request ever leaves with a token that
expires on the way. If a refresh fails while the old token is still valid, calls keep using it.

The emulator can issue 3-second tokens (`emu.token_lifetime = 3`). A fresh credential is needed to see them:
azure-identity caches tokens too, and the one it holds is good for an hour."""),
    ("code", """\
if emu:
    emu.token_lifetime = 3
    short = Client(settings, credential=ManagedIdentityCredential())
    short.chat("Hello!", max_tokens=5)
    print("after the first call:", describe(short.auth))
    time.sleep(max(0.0, short.auth.status().refresh_in) + 0.1)
    left = short.auth.status().expires_in
    short.chat("Hello again!", max_tokens=5)
    print(f"refresh time reached while the token was still valid for {left:.1f} s; one call later:")
    print("                     ", describe(short.auth))
else:
    print("skipped: real tokens live about an hour; the emulator's can live 3 seconds")
"""),
    ("md", """\
## The 401 recovery

A token can be rejected before its expiry (revoked, the service's clock ahead of yours). On a **401 for a
bearer request**, rest_client drops the token, asks the credential for a new one and **resends once** — not
counted as a retry; the attempt shows `reauthenticated=True`.

With the short-lived tokens, the credential has a new token to give, so the 401 is recovered:"""),
    ("code", """\
UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized. Access token is missing, invalid, audience is "
                "incorrect (https://cognitiveservices.azure.com), or have expired."}

if emu:
    emu.add_fault("status", status=401, body=UNAUTHORIZED)
    before = emu.counters["requests"]
    result = short.chat("Hello!", max_tokens=5)
    first = result.exchanges[0]
    print(f"HTTP {result.status_code} after {result.attempts} attempt; reauthenticated={first.reauthenticated}")
    print("requests on the wire for that call:", emu.counters["requests"] - before, "(the 401, then the resend)")
    print(describe(short.auth))
    short.close()
else:
    print("skipped: needs the emulator's faults")
"""),
    ("md", """\
With hour-long tokens it is different: azure-identity caches managed-identity tokens, so asking again hands
back **the same token** that was just rejected (the credential call is counted, but no new token comes). Resending
it would only repeat the 401, so rest_client does not — you get the 401 at once, with its hint, and one request
on the wire instead of two."""),
    ("code", """\
from rest_client import AuthenticationError

if emu:
    emu.token_lifetime = 3600
    hourly = Client(settings, credential=ManagedIdentityCredential())
    hourly.chat("Hello!", max_tokens=5)
    emu.add_fault("status", status=401, body=UNAUTHORIZED)
    before = emu.counters["requests"]
    try:
        hourly.chat("Hello!", max_tokens=5)
    except AuthenticationError as error:
        print(error)
    print("requests on the wire for that call:", emu.counters["requests"] - before)
    print(describe(hourly.auth))
    hourly.close()
else:
    print("skipped: needs the emulator's faults")
"""),
    ("md", """\
The same token cache works anywhere `requests` does: `EntraTokenAuth(credential)` is a `requests` auth
object, and `EntraTokenAuth(credential).token_provider()` is a drop-in `azure_ad_token_provider` for the
openai SDK."""),
    ("code", """\
import requests

from rest_client import build_deployment_url

if default_auth.status() is not None:  # DefaultAzureCredential found an identity above
    url = build_deployment_url(settings.endpoint, settings.deployment, "chat/completions", settings.api_version)
    with requests.Session() as session:
        session.auth = default_auth  # the token cached above, refreshed when due; a 401 is handled as in Client
        answer = session.post(url, json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5},
                              timeout=30)
    print(answer.status_code, answer.headers.get("apim-request-id"), default_auth.status().credential_calls,
          "credential call(s)")
"""),
    ("code", CLEANUP),
]

NOTEBOOKS = {
    "01_completions_with_entra_id.ipynb": NB01,
    "02_chat.ipynb": NB02,
    "03_headers_and_status_codes.ipynb": NB03,
    "04_retries_and_rate_limits.ipynb": NB04,
    "05_streaming.ipynb": NB05,
    "06_token_lifecycle.ipynb": NB06,
}


def render(name: str) -> str:
    """The exact text of one notebook: no outputs, no execution counts, stable cell ids."""
    stem = name.split("_", 1)[0]
    cells = []
    for index, (kind, source) in enumerate(NOTEBOOKS[name]):
        make = new_markdown_cell if kind == "md" else new_code_cell
        cells.append(make(source.rstrip("\n"), id=f"nb{stem}-{index:02d}"))
    nb = new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name in NOTEBOOKS:
        path = HERE / name
        text = render(name)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not check:
            path.write_text(text, encoding="utf-8")
    verb = "differ from notebooks/_build.py" if check else "written"
    print(f"{len(stale)} notebook(s) {verb}{': ' + ', '.join(stale) if stale else ''}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
