"""Whether Azure API Management or Azure OpenAI refused a call, from APIM's own answer shapes (pure).

Why it matters: a 401 from the gateway ("missing subscription key") and a 401 from Azure OpenAI behind it
(a bad token passed through) need different fixes, and the user cannot tell them apart by status. APIM's
built-in policies answer ``{"statusCode": N, "message": "…"}`` at the top level — but so does Azure OpenAI's
own front end for a bad token — so an answer counts as the gateway's only in that shape *and* with one of
APIM's policy wordings:

- 401 ``Access denied due to missing subscription key. Make sure to include subscription key when making
  requests to an API.`` / ``… invalid subscription key. Make sure to provide a valid key for an active
  subscription.``
- 429 ``Rate limit is exceeded. Try again in N seconds.`` (rate-limit policy) and ``Token limit is exceeded.
  Try again in N seconds.`` (azure-openai-token-limit / llm-token-limit), usually with ``Retry-After``;
- 403 ``Out of call volume quota. Quota will be replenished in HH:MM:SS.`` (quota policy; a .NET TimeSpan,
  ``D.HH:MM:SS`` beyond a day);
- 403 ``Token quota is exceeded. Try again in 21 minutes and 33 seconds.`` (the token-limit policies'
  ``token-quota``, tokens per hour/day/…: the wait in words).
They are told by their wording, never by their headers: a gateway may strip or never send ``Retry-After``, so
the wait is read from the message (``retry_hints.wait_in_message``, the client's one duration parser) when no
header says it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .retry_hints import wait_in_message

GATEWAY = "the API Management gateway refused the call (Azure OpenAI never saw it)"


def is_gateway_body(body: Any) -> bool:
    """True for APIM's own error shape ``{"statusCode": N, "message": "…"}``."""
    return isinstance(body, Mapping) and "statusCode" in body and "error" not in body


def quota_wait(message: str | None) -> float | None:
    """Seconds until an APIM quota returns, from its 403's wording (the message, or the raw body holding it):
    the call-volume quota's ``… replenished in 01:02:03`` or the token quota's ``Try again in 21 minutes and 33
    seconds``; ``None`` for any other answer (a 403 that names no quota is never read as a wait)."""
    return wait_in_message(message) if "quota" in (message or "").lower() else None


def gateway_hint(status: int, body: Any, message: str | None) -> str | None:
    """The hint for one of APIM's own refusals, saying it was the gateway; ``None`` for any other answer.

    The shape alone is not proof: Azure OpenAI's own front end answers a bad bearer token with
    ``{"statusCode": 401, "message": "Unauthorized. Access token is missing, invalid, audience is incorrect …"}``.
    So only APIM's policy wordings count (subscription key, token limit, call-volume quota, rate limit).
    """
    if not is_gateway_body(body):
        return None
    low = (message or "").lower()
    if status == 401 and "subscription key" in low:
        if "missing" in low:
            return (f"{GATEWAY}: no subscription key was sent; set APIM_SUBSCRIPTION_KEY (or subscription_key=) "
                    "to a key of an API Management subscription to this API, sent as Ocp-Apim-Subscription-Key")
        return (f"{GATEWAY}: the subscription key is not valid for this API; copy a key of an active subscription "
                "(portal → API Management → Subscriptions → Show keys) into APIM_SUBSCRIPTION_KEY")
    if status == 429 and "token limit is exceeded" in low:
        return (f"{GATEWAY}: over the gateway's token limit (tokens per minute) for your subscription, not Azure "
                f"OpenAI's quota; {_wait_words(message)}, or ask the API's owner for a higher limit")
    if status == 429 and "rate limit is exceeded" in low:
        return ("an API Management rate-limit policy refused the call (calls per period for your subscription): "
                f"{_wait_words(message)}; if you call Azure OpenAI directly, this is its own limit")
    if status == 403 and "out of call volume quota" in low:
        return (f"{GATEWAY}: your subscription's call-volume quota is used up; it is replenished"
                f"{_in(quota_wait(message))}. Use another backend or subscription until then")
    if status == 403 and "token quota is exceeded" in low:
        return (f"{GATEWAY}: your subscription's token quota (tokens per period, the gateway's token-limit policy) "
                f"is used up; it returns{_in(quota_wait(message))}. Use another backend or subscription until "
                "then, or ask the API's owner for a larger quota")
    return None


def _in(wait: float | None) -> str:
    return f" in {_duration(wait)}" if wait is not None else ""


def _wait_words(message: str | None) -> str:
    """What to wait, from the message itself: a gateway's Retry-After header may be missing."""
    wait = wait_in_message(message)
    return f"wait the {_duration(wait)} it asks for" if wait is not None else "wait as it asks"


def _duration(seconds: float) -> str:
    """``47 h 59 min 3 s``, ``1 min``: whole seconds (at least 1), units of zero left out."""
    minutes, sec = divmod(max(1, round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return " ".join(f"{n} {unit}" for n, unit in ((hours, "h"), (minutes, "min"), (sec, "s")) if n)
