"""Cells of notebook 06: token lifecycle."""

from __future__ import annotations

from .common import CLEANUP, INTRO_RUNS_WHERE, setup_cell

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
127.0.0.1. `EntraTokenAuth` (what `Client` uses) says which link answered: `auth.status()` is a `TokenStatus` —
its source, how long it has left, when it will be refreshed and its claims, decoded locally (the token itself
is never shown). As the last line of a cell it draws all that; `describe` below is the one-line form."""),
    ("code", """\
from azure.identity import AzureCliCredential, DefaultAzureCredential
from IPython.display import display

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
except CredentialError as error:
    display(error)
default_auth.status()  # None (nothing shown) when no token could be had
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
    display(error)
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
    display(short.auth.status())  # a new token: 2 credential calls, 3 seconds to live again
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
    display(result)  # the attempt's label says it: 401 → new token → resent
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
        display(error)
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
