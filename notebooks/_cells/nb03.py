"""Cells of notebook 03: headers and status codes."""

from __future__ import annotations

from .common import CLEANUP, INTRO_RUNS_WHERE, md_table, setup_cell

NB03 = [
    ("md", """\
# 3 · Headers and status codes

What every response header means, and every error you are likely to meet — each produced on purpose and
shown as rest_client raises it: a typed exception whose `str()` leads with status, code and request id, and
whose `.hint` says what to fix. In a notebook, `display(error)` shows the same as a picture: the status as a
badge, the ids to quote, the message and the hint once each, the attempts, and the headers and body folded.

""" + INTRO_RUNS_WHERE + """

401 and 404 happen for real on your resource too; a missing role and a firewall are the emulator's **modes**
(`emu.modes.missing_role = True`: the resource behaves so until switched off), the content filter and 429 its
**faults** (`emu.add_fault(...)`: the next request gets that answer); both are skipped against Azure."""),
    ("code", setup_cell()),
    ("md", """\
## Every response header"""),
    ("code", """\
from rest_client.display import headers_table

result = client.chat("Hello!", max_tokens=20)
print("HTTP", result.status_code)
headers_table(result.headers)  # each header the legend knows with its meaning beside it
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
print(f"backend {float(result.headers.get('openai-processing-ms', 0)):.1f} ms of "
      f"{result.elapsed * 1000:.1f} ms measured by the client")
result  # the whole call; its headers are folded under "response headers", with the same legend
"""),
    ("md", """\
## Errors

Every error answer becomes an `APIStatusError` subclass carrying `status_code`, `code`, `message`,
`request_id`, `headers`, `body` and `hint`. `str(error)` puts them on one line for logs and support tickets;
`display(error)` shows them in a notebook:"""),
    ("code", """\
from IPython.display import display

from rest_client import (
    AuthenticationError,
    ContentFilterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
"""),
    ("md", """\
### 401 vs 403

- **401 Unauthorized — "who are you?", or "not with that role".** The key or token was not accepted: a key of
  *another* resource, a token for the wrong resource (`aud`), from another tenant, or expired. A **missing role
  assignment is a 401 too**: a valid token whose identity lacks the **Cognitive Services OpenAI User** role on
  the resource gets `401 PermissionDenied` ("The principal … lacks the required data action …"). Role
  assignments take up to 5 minutes to apply.
- **403 Forbidden — "not from there, not that way."** The resource's network rules (firewall, private
  endpoint) block you, or key auth is switched off on the resource (`disableLocalAuth`: 403
  `AuthenticationTypeDisabled`).

A wrong key gives a real 401 on any resource:"""),
    ("code", """\
wrong_key = Client(settings, auth="key", api_key="0" * 32)
try:
    wrong_key.chat("Hello!")
except AuthenticationError as error:
    display(error)
wrong_key.close()
"""),
    ("code", """\
if emu:
    emu.modes.missing_role = True  # the emulated resource: your identity has no role assignment on it
    try:
        client.chat("Hello!")
    except AuthenticationError as error:  # 401 PermissionDenied, as the service answers
        display(error)
    emu.modes.missing_role = False
    emu.modes.network_rules = True  # a firewall that does not let your address in
    try:
        client.chat("Hello!")
    except PermissionDeniedError as error:  # 403
        display(error)
    emu.modes.network_rules = False
else:
    print("skipped: a real missing role or firewall needs a resource set up that way; the emulator has both modes")
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
    display(error)
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
        print("filtered:", {name: v for name, v in error.categories.items() if v.get("filtered")})
        display(error)  # the verdict of every category is in the display too
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
        hints = {name: value for name, value in error.headers.items() if name.lower().startswith("retry-after")}
        print("retry_after:", error.retry_after, "s, from", hints)
        display(error)
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
        ("401 `PermissionDenied`", "`AuthenticationError`", "your identity lacks the role on the resource",
         "assign **Cognitive Services OpenAI User** (takes up to 5 minutes)"),
        ("403", "`PermissionDeniedError`", "network rules (firewall, private endpoint); key auth disabled",
         "allow your network; use Entra ID (`auth=\"default\"`) where keys are off"),
        ("404 `DeploymentNotFound`", "`NotFoundError`", "model name instead of deployment name; brand-new deployment",
         "the name from the portal's Deployments; wait a few minutes"),
        ("429", "`RateLimitError`", "over quota", "let rest_client retry; lower `max_tokens`; raise the quota"),
        ("5xx", "`ServerError`", "the service failed", "retried automatically; quote the request id if it persists"),
    )),
    ("code", CLEANUP),
]
