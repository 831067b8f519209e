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

# --------------------------------------------------------------------------------------------------------------
NB07 = [
    ("md", """\
# 7 · Bulk runs: a file of prompts at the rate limit's own pace

Thousands of prompts through one deployment. The usual first attempt is a thread pool around a client that
retries 429s — and it **hammers the service**: every worker learns about the limit on its own, by failing.
`client.bulk(...)` and `run_bulk_file(...)` share one **pacer** between their workers instead:

- it starts with one request and reads the budgets from `x-ratelimit-limit-requests` / `-tokens`;
- the first 429 teaches the window (its `retry-after-ms` says when capacity returns) and **pauses every
  worker** for exactly that long, never longer;
- from then on each send waits for an earlier one to leave the window, so the limit is used whole and 429s
  stay rare; `x-ratelimit-remaining-*` corrects the model (other clients, token estimates that were low);
- `concurrency` is a cap, not a promise; 429s are retried (up to 10 times per item), so they never fail an item.

A file run writes one line per input line in **Azure Batch's output shape**, appended and flushed as each call
completes, so a rerun skips what is done — and the same input file can go to Azure's Batch API (notebook 8).

""" + INTRO_RUNS_WHERE + """

With the emulator, the runs go to a second emulator with a deliberately tight limit; against your resource
they are a handful of prompts, so no quota is spent on a demonstration."""),
    ("code", setup_cell()),
    ("md", """\
## A deployment with a tight limit

`Deployment("tight", "gpt-4o-mini", kind="chat", rpm=1200, window=1.0)` allows **20 requests per second**
over a sliding one-second window (Azure, too, enforces a per-minute quota over short windows). Sixty prompts
fill three windows: two seconds at the very least, however many threads send them."""),
    ("code", """\
import time

if emu:
    from rest_client.emulator import Deployment

    tight = Emulator(deployments=[Deployment("tight", "gpt-4o-mini", kind="chat", rpm=1200, window=1.0)]).start()
    bulk_client = Client(endpoint=tight.endpoint, deployment="tight", api_key=tight.api_key)
    N = 60
    print(tight.deployments["tight"].describe(), "=", tight.deployments["tight"].requests_per_window,
          "requests per window")
else:
    tight, bulk_client, N = None, client, 5
    print(f"your resource: {N} prompts only, and no tight-limit demo (it would spend your quota on purpose)")


def wire_counts(before: dict) -> str:
    \"\"\"What the tight emulator saw since ``before``: requests, and how many it refused with a 429.\"\"\"
    sent = tight.counters["requests"] - before["requests"]
    refused = tight.counters["rate_limited"] - before["rate_limited"]
    return f"the emulator saw {sent} requests and answered {refused} of them with 429"
"""),
    ("md", """\
## The thread pool that hammers

Sixteen threads, each calling `chat` with rest_client's ordinary retries — which do wait the `retry-after` the
service asks. Most prompts get through, but look at what the service had to refuse on the way: every worker
finds the limit by running into it, and each 429 sends it back to wait while the others run into it too.
An item whose retries (3 by default) all meet a 429 fails; more threads or a longer wait make that common."""),
    ("code", """\
from concurrent.futures import ThreadPoolExecutor

from rest_client import RateLimitError

if emu:
    naive = Client(endpoint=tight.endpoint, deployment="tight", api_key=tight.api_key)  # retries, no pacer

    def call(i: int) -> bool:
        try:
            return naive.chat(f"One sentence about the number {i}.", max_tokens=20).status_code == 200
        except RateLimitError:
            return False

    before, started = tight.counters, time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        oks = list(pool.map(call, range(1, N + 1)))
    print(f"{sum(oks)} of {N} ok in {time.perf_counter() - started:.1f} s;", wire_counts(before))
    naive.close()
    time.sleep(1.0)  # let the 1-second window empty, so the next run starts from a clean slate
else:
    print("skipped: a deliberate burst would spend your quota")
"""),
    ("md", """\
## `client.bulk`: results as they complete

Give it prompts (strings), `{"prompt": …}` or `{"messages": […]}` dicts with any parameters and an optional
`custom_id`, or Azure Batch request lines; iterate for `BulkResult`s **in completion order**. Each has the
`custom_id` (`line-N` when none was given), `status_code`, `request_id`, `body`, `error`, `attempts`, `elapsed`.
The first request goes alone (slow start); its answer's `x-ratelimit-limit-requests` sets the budget."""),
    ("code", """\
prompts = [{"prompt": f"One sentence about the number {i}.", "max_tokens": 20} for i in range(1, N + 1)]
before, started = tight.counters if tight else None, time.perf_counter()
results = []
for result in bulk_client.bulk(prompts, concurrency=16):
    results.append(result)
    if len(results) <= 4 or len(results) == N:
        answer = result.body["choices"][0]["message"]["content"] if result.ok else str(result.error or result.body)
        print(f"{len(results):>3}. {result.custom_id:8} HTTP {result.status_code}, {result.attempts} attempt(s), "
              f"at {time.perf_counter() - started:4.2f} s: {answer[:40]!r}")
    elif len(results) == 5:
        print("     …")
print(f"\\n{sum(r.ok for r in results)} of {N} ok in {time.perf_counter() - started:.1f} s; completion order:",
      ", ".join(r.custom_id for r in results[:6]), "…")
if tight:
    print(wire_counts(before))
"""),
    ("md", """\
## `run_bulk_file`: a JSONL file in, Azure Batch output lines out

Any mix of input forms, one per line — the same file can later go to Azure's Batch API. Line 7 below is
broken on purpose (cut short, not JSON): it becomes an **error line naming its line number**, and the run goes on.
The files go to a temporary folder."""),
    ("code", """\
import json
import tempfile

folder = Path(tempfile.mkdtemp(prefix="bulk-"))
source, answers = folder / "prompts.jsonl", folder / "answers.jsonl"

lines = [json.dumps({"custom_id": f"q{i:03d}", "prompt": f"One sentence about the number {i}.", "max_tokens": 20})
         for i in range(1, max(N, 8) + 1)]
lines[1] = json.dumps("A plain JSON string is a prompt too.")  # no custom_id: it is called line-2
lines[2] = json.dumps({"custom_id": "q003", "max_tokens": 20, "messages": [
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}]})
lines[3] = json.dumps({"custom_id": "q004", "method": "POST", "url": "/chat/completions",  # an Azure Batch line
                       "body": {"messages": [{"role": "user", "content": "Name a fruit."}], "max_tokens": 20}})
lines[6] = '{"custom_id": "q007", "prompt": "a line cut sho'  # line 7: not JSON
source.write_text("\\n".join(lines) + "\\n", encoding="utf-8")
print(len(lines), "lines in", source.name)
for number, line in enumerate(lines[:7], 1):
    print(f"{number:>3}  {line}")
"""),
    ("md", """\
A progress bar from `tqdm.auto` (a runtime dependency): a widget in Jupyter when `ipywidgets` is installed,
otherwise a text bar (tqdm then warns once that it found no widgets). `run_bulk_file` calls
`on_start(total, already_done)` once and `on_result(result, run)` after each line is written; `run.pacer`
is the shared pacer, so the bar can show the 429s so far."""),
    ("code", """\
from tqdm.auto import tqdm

from rest_client.bulk import run_bulk_file


class Progress:
    \"\"\"run_bulk_file's callbacks feeding a tqdm bar: done/total, rate, ETA and the 429s so far.\"\"\"

    def start(self, total: int, already_done: int) -> None:
        self.bar = tqdm(total=total, initial=already_done, unit="req", desc="bulk")

    def update(self, result, run) -> None:
        self.bar.set_postfix_str(f"429s={run.pacer.rate_limited}", refresh=False)
        self.bar.update(1)


def run_file(**options):
    progress, before = Progress(), tight.counters if tight else None
    summary = run_bulk_file(bulk_client, source, answers, concurrency=16,
                            on_start=progress.start, on_result=progress.update, **options)
    progress.bar.close()
    print("\\n".join(summary.lines()))
    if tight:
        print(wire_counts(before))
    return summary


summary = run_file()
"""),
    ("md", """\
The output: one line per input line, in completion order, in Azure Batch's shape
`{"custom_id", "response": {"status_code", "request_id", "body"}, "error"}` — an API error would keep its
status and body; the broken line has `response: null` and an `error` naming line 7."""),
    ("code", """\
def read_output() -> list:
    return [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines()]


output = read_output()
ok = next(line for line in output if line["response"])
shown = {**ok, "response": {**ok["response"], "body": "{… the chat completion, as the service sent it …}"}}
print(json.dumps(shown, indent=2))
print(len(output), "lines;", sum(line["error"] is None for line in output), "answers; the failed line:")
for line in output:
    if line["error"]:
        print(json.dumps(line))
"""),
    ("md", """\
## What the pacer learned

`client.pacer` is created by the first bulk run and kept by the client, so later runs start from what it
learned: `requests_limit`, the budget from `x-ratelimit-limit-requests` (`tokens_limit` is None: the tight
deployment has no token limit); `window`, from the first 429 — its `retry-after-ms` said when capacity would
return, and the pacer's log of sends said which send the service was waiting for (the tight window is 1 s);
`token_window`, assumed the same until a 429 about tokens says otherwise; `rate_limited`, the 429s this pacer
has met over every run of this client. Against your resource the windows stay None until a 429 comes."""),
    ("code", """\
for name, value in bulk_client.pacer.snapshot().items():
    print(f"{name:14} {value:.3f}" if isinstance(value, float) else f"{name:14} {value}")
"""),
    ("md", """\
## Rerun: resume

Run the same file into the same output again: every `custom_id` already in the output is **skipped**, nothing
is sent. That is how an interrupted run resumes — Ctrl-C (calls on the wire finish and are written), a crash or
a `kill` (a line half-written is cut and redone). The summary mentions the failed line it skipped."""),
    ("code", """\
summary = run_file()
"""),
    ("md", """\
## `retry_failed=True`

Fix line 7 and rerun with `retry_failed=True`: failed lines are dropped from the output and done again; the
rest stays skipped. (The fixed line has its `custom_id` `q007` now, so the old `line-7` error line just goes.)"""),
    ("code", """\
lines[6] = json.dumps({"custom_id": "q007", "prompt": "A line no longer cut short.", "max_tokens": 20})
source.write_text("\\n".join(lines) + "\\n", encoding="utf-8")
summary = run_file(retry_failed=True)

output = read_output()
print(len(output), "lines,", sum(line["error"] is None for line in output), "ok; of line-7 and q007, the output has",
      [line["custom_id"] for line in output if line["custom_id"] in ("line-7", "q007")])
"""),
    ("md", """\
## From the command line

```bash
python -m rest_client bulk prompts.jsonl -o answers.jsonl --concurrency 16
python -m rest_client bulk prompts.jsonl -o answers.jsonl --emulator        # offline
python -m rest_client bulk prompts.jsonl -o answers.jsonl --retry-failed
```

Progress on stderr, the same summary at the end; exit code 0 when all succeeded, 1 when some failed,
130 when interrupted (rerun the same command to finish). When one deployment's limit is too small for the
job, Azure's Batch API runs the same file on the service's own fleet: notebook 8."""),
    ("code", """\
import shutil

shutil.rmtree(folder)
if tight:
    bulk_client.close()
    tight.stop()
""" + CLEANUP),
]

# --------------------------------------------------------------------------------------------------------------
NB08 = [
    ("md", """\
# 8 · When one machine is not enough: Azure's Batch API

A bulk run (notebook 7) is one process sending through one deployment's rate limit. For hundreds of thousands
of prompts that limit is the ceiling, however well it is used. Azure OpenAI's **Batch API** takes the whole
JSONL file instead and runs it on the service's own fleet, through a **Global Batch** (or Data Zone Batch)
deployment:

""" + md_table(
        ("", "bulk (notebook 7)", "Azure Batch API"),
        ("results", "in seconds, as each call completes",
         "within 24 hours (a tiny recorded job: about ten minutes), all at the end"),
        ("price", "the deployment's standard price", "**half** the Global Standard price"),
        ("quota", "the deployment's requests and tokens per minute",
         "its own quota of **enqueued tokens** per batch deployment: counted at submit, held until the batch ends"),
        ("size", "what your rate limit allows per hour", "up to 100,000 lines and 200 MB per file"),
        ("use it for", "interactive work, latency, small and medium jobs, anything you watch",
         "large offline jobs: classification, extraction, evaluations over a whole data set"),
    ) + """

The flow on the wire: **upload** the file (`POST /openai/files`, `purpose=batch`) → **create** a batch
(`POST /openai/batches`) → **poll** it (`validating` → `in_progress` → `finalizing` → `completed`) → **download**
the output and error files. rest_client does each step transparently (`client.files`, `client.batches`: every
call returns its `Result` with status, headers, request id, attempts) and all of them in one resumable call,
`run_batch`.

""" + INTRO_RUNS_WHERE + """

A real batch takes minutes to hours, so against your resource only the local validation runs and the batches
are listed; the rest is shown with the emulator, whose batch worker runs 100 lines a second."""),
    ("code", setup_cell() + """
if emu:  # how fast batches move: Emulator(batch_settings={...}) sets the same at start
    emu.batch_settings.update({"lines_per_second": 100, "validating_seconds": 0.4, "finalizing_seconds": 0.2})
"""),
    ("md", """\
## The same input file as bulk

Prompts, `{"prompt": …}`, `{"messages": […]}` or Azure Batch lines — the file of notebook 7 works here as is.
A batch file names its **batch deployment** in each line's `body.model`; rest_client fills it in from
`deployment=` when a line has none. (Against your resource, put the name of your Global Batch deployment here.)"""),
    ("code", """\
import json
import tempfile
import time

batch_deployment = emu.batch_deployment if emu else "my-global-batch-deployment"
folder = Path(tempfile.mkdtemp(prefix="batch-"))


def write_jsonl(name: str, lines: list) -> Path:
    path = folder / name
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


prompts = [{"custom_id": f"q{i:03d}", "prompt": f"One sentence about the number {i}.", "max_tokens": 20}
           for i in range(1, 41)]
prompts[1] = {"custom_id": "q002", "messages": [{"role": "user", "content": "Name a colour."}], "max_tokens": 20}
prompts[2] = {"custom_id": "q003", "method": "POST", "url": "/chat/completions",
              "body": {"messages": [{"role": "user", "content": "Name a fruit."}], "max_tokens": 20}}
source = write_jsonl("prompts.jsonl", prompts)
print(len(prompts), "lines in", source.name, "for the batch deployment", batch_deployment)
"""),
    ("md", """\
## Validate locally first

Azure validates a batch file **asynchronously**: the upload and the create succeed, and minutes later the
batch turns `failed` with an error. `prepare_batch_input` checks the file before anything is sent — valid JSON
per line, unique `custom_id`, one `url`, one deployment, at most 100,000 lines and 200 MB, no byte order
mark — and lists **every** problem with its line number in one `BatchValidationError` (a `ConfigError`).
It is a pure function of the file's bytes: it has no client, so it cannot send anything."""),
    ("code", """\
from rest_client.batch_lines import BatchValidationError, prepare_batch_input

broken = [
    *prompts[:4],
    {"custom_id": "q002", "prompt": "a second q002"},  # duplicate custom_id
    '{"custom_id": "q006", "prompt": "cut sho',  # not JSON
    {"custom_id": "q007", "method": "POST", "url": "/embeddings", "body": {"input": "hello"}},  # not in a batch
    {"custom_id": "q008", "method": "POST", "url": "/chat/completions",
     "body": {"model": "another-deployment", "messages": [{"role": "user", "content": "Hi"}]}},
]
raw = b"\\xef\\xbb\\xbf" + write_jsonl("broken.jsonl", broken).read_bytes()  # and a byte order mark in front
try:
    prepare_batch_input(raw, deployment=batch_deployment)
except BatchValidationError as error:
    print(f"{type(error).__name__}: {len(error.problems)} problems, nothing was sent")
    for problem in error.problems:
        print("  ", problem)
"""),
    ("md", """\
A valid file comes back converted to Azure's line format — `custom_id`, `method`, `url`, and the `body` with
`model` — with the endpoint, the deployment and the `custom_id`s in input order (the order the output is
written in at the end: Azure's own output file is in no particular order)."""),
    ("code", """\
prepared = prepare_batch_input(source.read_bytes(), deployment=batch_deployment)
print("endpoint:", prepared.endpoint, "| deployment:", prepared.deployment, "|", len(prepared.custom_ids),
      "requests,", len(prepared.content), "bytes")
for line in prepared.content.splitlines()[:3]:
    print("  ", line.decode())
"""),
    ("md", """\
## Step by step: upload

`client.files.upload` posts the file as multipart form data (`purpose=batch`). Azure answers **201 Created**
with a `Location` header and the File object; a valid file is `processed` at once (an invalid one goes
`pending`, then `error` with `status_details` naming the line). Every call returns its `Result`."""),
    ("code", """\
def wire(result) -> None:
    print(f"HTTP {result.status_code}, request id {result.request_id}, {result.attempts} attempt(s), "
          f"{result.elapsed * 1000:.0f} ms")


if emu:
    upload = client.files.upload(prepared.content, filename="prompts.jsonl")
    wire(upload)
    print("Location:", upload.headers.get("Location"))
    print(json.dumps(upload.json(), indent=2))
    file_id = upload.json()["id"]
else:
    print("skipped against your resource: the step-by-step batch is an emulator demo (a real batch takes "
          "minutes to hours)")
"""),
    ("code", """\
if emu:
    info = client.files.get(file_id)
    wire(info)
    print("status:", info.json()["status"], "| bytes:", info.json()["bytes"])
"""),
    ("md", """\
## Create the batch

`client.batches.create(input_file_id, endpoint=…)` answers **200** (not 201) with the Batch in `validating`.
Note Azure's quirks: `output_file_id` and `error_file_id` are **empty strings** until the batch completes, and
the headers say how many tokens this deployment now holds enqueued, against its quota."""),
    ("code", """\
if emu:
    created = client.batches.create(file_id, endpoint=prepared.endpoint)
    wire(created)
    for name in ("deployment-enqueued-tokens", "deployment-maximum-enqueued-tokens"):
        print(f"{name}: {created.headers.get(name)}")
    batch = created.json()
    print({key: batch[key] for key in ("id", "status", "output_file_id", "error_file_id", "request_counts")})
"""),
    ("md", """\
## Poll until it ends

On Azure, poll every minute or so (the docs say at least 60 s); here every 0.1 s, printing each change.
`request_counts.total` appears while the batch is still `validating`, and `completed`/`failed` only when
`finalizing` starts — as recorded on the real service (the emulator does the same)."""),
    ("code", """\
TERMINAL = ("completed", "failed", "expired", "cancelled")

if emu:
    started, last = time.perf_counter(), None
    while True:
        polled = client.batches.get(batch["id"])
        batch = polled.json()
        now = (batch["status"], batch["request_counts"])
        if now != last:
            print(f"{time.perf_counter() - started:5.2f} s  {batch['status']:12} {batch['request_counts']}  "
                  f"(request id {polled.request_id})")
            last = now
        if batch["status"] in TERMINAL:
            break
        time.sleep(0.1)
    print("output file:", batch["output_file_id"], "| error file:", batch["error_file_id"])
"""),
    ("md", """\
## Download the results

`client.files.content(file_id)` returns the raw bytes in `result.response.content`: JSONL, one line per request,
in Azure's output shape — **in no particular order**. The error file exists even when no line failed (0 bytes)."""),
    ("code", """\
if emu:
    content = client.files.content(batch["output_file_id"])
    wire(content)
    print("content-type:", content.headers.get("content-type"))
    results = [json.loads(line) for line in content.response.content.decode("utf-8").splitlines()]
    print(len(results), "lines; the order of custom_ids:", ", ".join(r["custom_id"] for r in results[:8]), "…")
    first = results[0]
    print(first["custom_id"], first["response"]["status_code"], first["response"]["request_id"],
          repr(first["response"]["body"]["choices"][0]["message"]["content"]))
    errors = client.files.content(batch["error_file_id"])
    print("error file:", len(errors.response.content), "bytes")
"""),
    ("md", """\
## All of it in one call: `run_batch`

`run_batch(client, input, output, deployment=…)` validates, uploads, waits for the file, creates the batch,
polls with backoff (first quickly, then at most every `poll_max`, 60 s by default) and writes **one output
line per input line, in input order**, failed lines included with their error. `on_status` gets every poll's
Batch object, for a progress display."""),
    ("code", """\
from rest_client.batch import BatchError, run_batch, state_path

answers = folder / "answers.jsonl"


class ShowChanges:
    \"\"\"An ``on_status`` callback: prints the status and request_counts of a poll when they changed.\"\"\"

    def __init__(self) -> None:
        self.last = None

    def __call__(self, batch: dict) -> None:
        if (batch["status"], batch["request_counts"]) != self.last:
            self.last = (batch["status"], batch["request_counts"])
            print(f"  {batch['status']:12} {batch['request_counts']}")


if emu:
    outcome = run_batch(client, source, answers, deployment=batch_deployment, poll_first=0.2, on_status=ShowChanges())
    print("\\n".join(outcome.lines()))
    written = [json.loads(line)["custom_id"] for line in answers.read_text(encoding="utf-8").splitlines()]
    print("output in input order:", written == prepared.custom_ids, "|", ", ".join(written[:5]), "…")
else:
    print("skipped against your resource: run_batch submits a real batch (half price, but minutes to hours);")
    print("when you mean it: run_batch(client, source, answers, deployment=batch_deployment, on_status=ShowChanges())")
"""),
    ("md", """\
## Nothing lost, nothing twice

Beside the output, a small **state file** records the input's hash with the uploaded file id and the batch id,
each saved as soon as the service has created it. Interrupt `run_batch` while it waits — Ctrl-C, a crash, a
closed laptop — and the same call later **resumes waiting on the same batch** instead of paying for a second
one (`resubmit=True` forces a new batch). Rerun it now: no new batch, the results are collected again."""),
    ("code", """\
if emu:
    print(state_path(answers).name + ":")
    print(state_path(answers).read_text(encoding="utf-8"))
    count = len(client.batches.list().json()["data"])
    outcome = run_batch(client, source, answers, deployment=batch_deployment, poll_first=0.2)
    print("\\n".join(outcome.lines()))
    print("resumed:", outcome.resumed, "| batches on the service before and after:", count, "->",
          len(client.batches.list().json()["data"]))
"""),
    ("md", """\
## Cancel midway

`client.batches.cancel(id)` answers with the batch in `cancelling`; it ends `cancelled`. The lines already
run are kept: Azure shows **null** file ids on a cancelled batch, but the partial results are in output files
named after it (purpose `batch_output`), and rest_client collects them from there. Lines the batch never ran are
written as `not_processed`, so the output still has one line per input line.

`submit_batch` does the first half of `run_batch` (validate, upload, create) and returns the ids;
`wait_and_collect` the second half, for any batch id."""),
    ("code", """\
from rest_client.batch import submit_batch, wait_and_collect

if emu:
    many = write_jsonl("many.jsonl", [{"custom_id": f"m{i:03d}", "prompt": f"Line {i}.", "max_tokens": 20}
                                      for i in range(1, 301)])  # 3 s of work at 100 lines a second
    submitted = submit_batch(client, many.read_bytes(), deployment=batch_deployment, poll_first=0.1)
    while client.batches.get(submitted["batch_id"]).json()["status"] != "in_progress":
        time.sleep(0.05)
    time.sleep(0.5)
    cancelled = client.batches.cancel(submitted["batch_id"])
    wire(cancelled)
    print("status:", cancelled.json()["status"])
else:
    print("skipped against your resource: it would submit a batch only to cancel it")
"""),
    ("code", """\
if emu:
    partial = folder / "partial.jsonl"
    outcome = wait_and_collect(client, submitted["batch_id"], partial, poll_first=0.1, on_status=ShowChanges())
    print("\\n".join(outcome.lines()))
    print("file ids on the cancelled batch:", outcome.batch["output_file_id"], outcome.batch["error_file_id"])
    lines = partial.read_text(encoding="utf-8").splitlines()
    print(next(line for line in lines if '"not_processed"' in line))
"""),
    ("md", """\
## A batch that fails on the service

Local validation cannot know what kind of deployment a name is. A file naming a **standard** (non-batch)
deployment passes locally, is uploaded and created — and the service fails the batch while validating, with
`errors.data[]` carrying a code and a line. `run_batch` raises `BatchError` with them; the batch itself (its
id is in the state file) shows the service's own error list."""),
    ("code", """\
if emu:
    wrong = write_jsonl("wrong.jsonl", [
        {"custom_id": f"w{i}", "method": "POST", "url": "/chat/completions",
         "body": {"model": settings.deployment, "messages": [{"role": "user", "content": "Hi"}]}}
        for i in range(1, 4)])
    try:
        run_batch(client, wrong, folder / "wrong_answers.jsonl", poll_first=0.2, on_status=ShowChanges())
    except BatchError as error:
        print(f"{type(error).__name__}: {str(error)[:160]}…")
    failed_id = json.loads(state_path(folder / "wrong_answers.jsonl").read_text(encoding="utf-8"))["batch_id"]
    print(json.dumps(client.batches.get(failed_id).json()["errors"]["data"][0], indent=2))
else:
    print("skipped against your resource: it would submit a batch that fails")
"""),
    ("md", """\
## List the batches

`client.batches.list()` pages through the resource's batches, newest first (`limit` 20 by default, `after` for
the next page). Safe on your resource too: it reads, nothing more."""),
    ("code", """\
from rest_client import APIStatusError

try:
    listed = client.batches.list(limit=10)
except APIStatusError as error:
    print(error)
else:
    wire(listed)
    for item in listed.json()["data"]:
        counts = item["request_counts"]
        print(f"{item['id']}  {item['status']:10} {counts['completed']}/{counts['total']} done, "
              f"{counts['failed']} failed")
    if not listed.json()["data"]:
        print("no batches on this resource yet")
"""),
    ("md", """\
## From the command line

```bash
python -m rest_client batch run prompts.jsonl -o answers.jsonl --deployment my-global-batch
python -m rest_client batch submit prompts.jsonl --deployment my-global-batch     # prints the batch id
python -m rest_client batch status BATCH_ID
python -m rest_client batch wait BATCH_ID -o answers.jsonl
python -m rest_client batch cancel BATCH_ID
python -m rest_client batch list
```

`-v` logs every request of the flow. `batch run` resumes an interrupted wait exactly as `run_batch` does."""),
    ("code", """\
import shutil

shutil.rmtree(folder)
""" + CLEANUP),
]

NOTEBOOKS = {
    "01_completions_with_entra_id.ipynb": NB01,
    "02_chat.ipynb": NB02,
    "03_headers_and_status_codes.ipynb": NB03,
    "04_retries_and_rate_limits.ipynb": NB04,
    "05_streaming.ipynb": NB05,
    "06_token_lifecycle.ipynb": NB06,
    "07_bulk_runs.ipynb": NB07,
    "08_azure_batch.ipynb": NB08,
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
