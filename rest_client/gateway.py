"""Whether Azure API Management or Azure OpenAI refused a call, from APIM's own answer shapes (pure).

Why it matters: a 401 from the gateway ("missing subscription key") and a 401 from Azure OpenAI behind it
(a bad token passed through) need different fixes, and the user cannot tell them apart by status. APIM's
built-in policies answer ``{"statusCode": N, "message": "…"}`` at the top level, while Azure OpenAI answers
``{"error": {"code", "message"}}``; the wordings below are APIM's own:

- 401 ``Access denied due to missing subscription key. Make sure to include subscription key when making
  requests to an API.`` / ``… invalid subscription key. Make sure to provide a valid key for an active
  subscription.``
- 429 ``Rate limit is exceeded. Try again in N seconds.`` (rate-limit policy) and ``Token limit is exceeded.
  Try again in N seconds.`` (azure-openai-token-limit / llm-token-limit), both with ``Retry-After``;
- 403 ``Out of call volume quota. Quota will be replenished in HH:MM:SS.`` (quota policy; a .NET TimeSpan,
  ``D.HH:MM:SS`` beyond a day).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REPLENISHED = re.compile(r"replenished in\s+(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})", re.IGNORECASE)
GATEWAY = "the API Management gateway refused the call (Azure OpenAI never saw it)"


def is_gateway_body(body: Any) -> bool:
    """True for APIM's own error shape ``{"statusCode": N, "message": "…"}``."""
    return isinstance(body, Mapping) and "statusCode" in body and "error" not in body


def quota_wait(message: str | None) -> float | None:
    """Seconds until an APIM call-volume quota is replenished (``… replenished in 01:02:03``), else ``None``."""
    match = _REPLENISHED.search(message or "")
    if match is None:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def gateway_hint(status: int, body: Any, message: str | None) -> str | None:
    """The hint for an answer in APIM's shape, saying it was the gateway; ``None`` for any other answer."""
    if not is_gateway_body(body):
        return None
    low = (message or "").lower()
    if status == 401 and "subscription key" in low:
        if "missing" in low:
            return (f"{GATEWAY}: no subscription key was sent; set APIM_SUBSCRIPTION_KEY (or subscription_key=) "
                    "to a key of an API Management subscription to this API, sent as Ocp-Apim-Subscription-Key")
        return (f"{GATEWAY}: the subscription key is not valid for this API; copy a key of an active subscription "
                "(portal → API Management → Subscriptions → Show keys) into APIM_SUBSCRIPTION_KEY")
    if status == 401:
        return (f"{GATEWAY}: its token check (validate-jwt) refused the bearer token; the token must be for the "
                "audience the gateway's policy expects")
    if status == 429:
        what = "token limit (tokens per minute)" if "token" in low else "rate limit (calls per period)"
        return (f"{GATEWAY}: over the gateway's {what} for your subscription, not Azure OpenAI's quota; wait as "
                "its Retry-After says, or ask the API's owner for a higher limit")
    if status == 403 and "quota" in low:
        wait = quota_wait(message)
        when = f" in {_duration(wait)}" if wait is not None else ""
        return (f"{GATEWAY}: your subscription's call-volume quota is used up; it is replenished{when}. Use "
                "another backend or subscription until then")
    return f"{GATEWAY}: HTTP {status} from the gateway's policy; its owner can say what the policy requires"


def _duration(seconds: float) -> str:
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min {sec} s"
    return f"{minutes} min {sec} s" if minutes else f"{sec} s"
