"""How long the service asked us to wait, from every place it puts that (pure).

Order, most precise first: ``retry-after-ms``, ``x-ms-retry-after-ms``, ``retry-after`` (seconds or an HTTP
date), ``x-ratelimit-reset-requests`` / ``-tokens`` (whole seconds, or OpenAI-style durations such as ``1s``,
``6m0s``, ``500ms``; also seen spelled ``x-rate-limit-reset-*``), then the error message ("retry after 50
seconds", "Try again in 21 minutes and 33 seconds", "Please try again in 6m0s"). A malformed hint is ignored
rather than trusted. The source is kept, so ``Exchange.wait_source`` can say which one set a wait.

A wait of 0 (or less) is no hint: Foundry project endpoints answer a 429 with ``x-ratelimit-reset-tokens: 0``
and nothing else, and a retry at once would only meet the same 429; the caller backs off as with no hint.
(A past HTTP date still means "now": that is a moment, not a placeholder.)

``parse_rate_limit_number`` reads ``x-ratelimit-limit-*`` / ``-remaining-*``: the same endpoints send ``-1``
there for "not said", which must not read as "nothing left".
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

RESET_HEADERS = ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
                 "x-rate-limit-reset-requests", "x-rate-limit-reset-tokens")
# Duration units in words or OpenAI's compact form ("21 minutes", "30 secs", "6m", "500ms"), in seconds.
_UNIT_SECONDS = {
    **dict.fromkeys(("ms", "msec", "msecs", "millisec", "millisecs", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
}
# One part: a number and its unit; longer spellings tried first, and a unit must not run on into a letter
# ("5 months" is not 5 minutes, "5ms" not 5 minutes and a stray "s").
_PART = r"(\d+(?:\.\d+)?)\s*({})(?![a-z])".format("|".join(sorted(_UNIT_SECONDS, key=len, reverse=True)))
_SEPARATOR = r"(?:\s*,\s*|\s+and\s+|\s*)"  # "21 minutes and 33 seconds", "1 hour, 5 minutes", "6m0s"
_DURATION_TEXT = rf"{_PART}(?:{_SEPARATOR}{_PART})*"
_DURATION = re.compile(_PART, re.IGNORECASE)
_WHOLE_DURATION = re.compile(rf"\s*{_DURATION_TEXT}\s*", re.IGNORECASE)
_MESSAGE = re.compile(rf"(?:retry after|retry in|try again in|try again after)\s+({_DURATION_TEXT})", re.IGNORECASE)
_POLICY_LIMITS = {"deploymentratelimit-call": "requests", "deploymentratelimit-token": "tokens"}


@dataclass(frozen=True)
class RetryHint:
    """A wait the service asked for, and where it said so (a header name, or ``"message"``)."""

    seconds: float
    source: str


def parse_retry_hint(headers: Mapping[str, str], message: str | None = None, *,
                     now: float | None = None) -> RetryHint | None:
    """The service's wait hint, or ``None`` when headers and message give no usable one (0 is none)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        ms = _positive(_number(lowered.get(name)))
        if ms is not None:
            return RetryHint(ms / 1000.0, name)
    raw = lowered.get("retry-after")
    if raw is not None:
        number = _number(raw)
        seconds = _positive(number) if number is not None else _http_date(raw, now)
        if seconds is not None:
            return RetryHint(seconds, "retry-after")
    resets = [(seconds, name) for name in RESET_HEADERS
              if (seconds := _positive(parse_duration(lowered.get(name)))) is not None]
    if resets:
        seconds, name = max(resets)  # the later reset: the earlier one may not be the limit that was hit
        return RetryHint(seconds, name)
    if message:
        for match in _MESSAGE.finditer(message):  # the first phrase that names a usable wait
            seconds = _positive(parse_duration(match.group(1)))
            if seconds is not None:
                return RetryHint(seconds, "message")
    return None


def parse_retry_after(headers: Mapping[str, str], message: str | None = None, *,
                      now: float | None = None) -> float | None:
    """Seconds to wait according to the headers (and message), or ``None`` when they give no usable hint."""
    hint = parse_retry_hint(headers, message, now=now)
    return None if hint is None else hint.seconds


def limit_named(headers: Mapping[str, str], message: str | None = None) -> str | None:
    """Which limit a 429 says was hit: ``"requests"`` or ``"tokens"``, else ``None``.

    From ``policy-id`` (``DeploymentRatelimit-Call`` / ``DeploymentRatelimit-Token``), else the message's
    wording ("call rate limit" / "token rate limit", as the service words its own 429s).
    """
    policy = next((v for k, v in headers.items() if k.lower() == "policy-id"), None)
    if policy is not None and policy.strip().lower() in _POLICY_LIMITS:
        return _POLICY_LIMITS[policy.strip().lower()]
    low = (message or "").lower()
    if "call rate limit" in low or "request rate limit" in low:
        return "requests"
    if "token rate limit" in low:
        return "tokens"
    return None


def parse_duration(raw: str | None) -> float | None:
    """``"12"`` (seconds), ``"1s"``, ``"6m0s"``, ``"500ms"``, ``"1h2m3.5s"``, and in words ``"21 minutes and 33
    seconds"``, ``"1 hour 5 minutes"``, ``"30 secs"``, ``"500 milliseconds"`` → seconds (0 stays 0: a duration,
    not yet a hint); anything else, or a total too large for a float → ``None``."""
    if raw is None:
        return None
    plain = _number(raw)
    if plain is not None:
        return plain
    if not _WHOLE_DURATION.fullmatch(raw):
        return None
    total = sum(float(value) * _UNIT_SECONDS[unit.lower()] for value, unit in _DURATION.findall(raw))
    return total if math.isfinite(total) else None


def parse_rate_limit_number(raw: str | None) -> float | None:
    """An ``x-ratelimit-limit-*`` / ``-remaining-*`` value: a finite number >= 0, else ``None`` (unknown).

    ``-1`` (Foundry project endpoints send it for both limit and remaining), other negatives and garbage all
    mean "the service did not say"; ``0`` remaining is real and kept.
    """
    return _number(raw)


def _http_date(raw: str, now: float | None) -> float | None:
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    try:
        stamp = when.timestamp()
    except (OverflowError, ValueError, OSError):
        return None
    return max(0.0, stamp - (time.time() if now is None else now))


def _number(raw: str | None) -> float | None:
    """A finite number >= 0 from a header value, else None."""
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _positive(seconds: float | None) -> float | None:
    """A wait worth the name: 0 (or less) asks for an immediate retry that would meet the same refusal."""
    return seconds if seconds is not None and seconds > 0 else None
