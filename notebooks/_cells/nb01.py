"""Cells of notebook 01: completions with Entra ID."""

from __future__ import annotations

from .common import CLEANUP, INTRO_RUNS_WHERE, setup_cell

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
environment > config file > defaults**; `settings.sources` says where each value came from, and a `Settings`
as the last line of a cell shows each value beside its source (a key, if any, as `***`). With the emulator,
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

settings  # each value with where it came from; a key, if any, shows as '***'
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

Everything is in plain sight: the URL, one auth header, a JSON body. `headers_table` shows headers with any
secret replaced (`Bearer ***` plus at most the last 4 characters) — here the request as it was sent."""),
    ("code", """\
import requests

from rest_client.display import headers_table

headers = {"Authorization": f"Bearer {access.token}"} if access else {"api-key": settings.api_key}
response = requests.post(url, json=payload, headers=headers, timeout=(5, 120))

print("status:", response.status_code, response.reason)
headers_table(response.request.headers)
"""),
    ("md", """\
The response headers, each known one with its meaning beside it (notebook 3 has more). `apim-request-id` is the
id to quote to Azure support."""),
    ("code", """\
headers_table(response.headers)
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
on the wire: status, headers, request id, each attempt. A `Result` as the last line of a cell shows all of it:
the status, the ids to quote, the answer, the attempts on a time axis, and — one click away — the headers, the
request as sent (credentials as `***`) and the raw body."""),
    ("code", """\
client = Client(settings, credential=credential)
call = client.complete if settings.completions_deployment else client.chat  # instruct model, else chat
result = call("Once upon a time", max_tokens=30)
print(result.text)  # the answer alone, as a program would use it
result
"""),
    ("md", """\
With Entra ID, `client.auth.status()` says where the token came from, how long it has left and what it claims
(decoded locally: the token itself is never shown)."""),
    ("code", """\
from IPython.display import display

if client.auth.kind == "bearer":
    display(client.auth.status())
else:
    print("api-key auth: no token to show")
"""),
    ("code", CLEANUP),
]
