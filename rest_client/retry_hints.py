"""How long the service asked us to wait, from every place it puts that (pure).

Order, most precise first: ``retry-after-ms``, ``x-ms-retry-after-ms``, ``retry-after`` (seconds or an HTTP
date), ``x-ratelimit-reset-requests`` / ``-tokens`` (whole seconds, or OpenAI-style durations such as ``1s``,
``6m0s``, ``500ms``; also seen spelled ``x-rate-limit-reset-*``), then the error message ("retry after 50
seconds", "Try again in 50 seconds"). A malformed hint is ignored rather than trusted. The source is kept, so
``Exchange.wait_source`` can say which one set a wait.
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
_MESSAGE = re.compile(r"(?:retry after|try again in)\s+(\d+(?:\.\d+)?)\s*(milliseconds?|ms|seconds?|secs?|s)\b",
                      re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_POLICY_LIMITS = {"deploymentratelimit-call": "requests", "deploymentratelimit-token": "tokens"}


@dataclass(frozen=True)
class RetryHint:
    """A wait the service asked for, and where it said so (a header name, or ``"message"``)."""

    seconds: float
    source: str


def parse_retry_hint(headers: Mapping[str, str], message: str | None = None, *,
                     now: float | None = None) -> RetryHint | None:
    """The service's wait hint, or ``None`` when headers and message give no usable one."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        ms = _number(lowered.get(name))
        if ms is not None:
            return RetryHint(ms / 1000.0, name)
    raw = lowered.get("retry-after")
    if raw is not None:
        seconds = _number(raw)
        if seconds is None:
            seconds = _http_date(raw, now)
        if seconds is not None:
            return RetryHint(seconds, "retry-after")
    resets = [(seconds, name) for name in RESET_HEADERS
              if (seconds := parse_duration(lowered.get(name))) is not None]
    if resets:
        seconds, name = max(resets)  # the later reset: the earlier one may not be the limit that was hit
        return RetryHint(seconds, name)
    if message:
        match = _MESSAGE.search(message)
        # "retry after 1000…0 seconds" overflows to inf: a malformed hint, ignored like a malformed header
        if match and math.isfinite(value := float(match.group(1))):
            unit = match.group(2).lower()
            return RetryHint(value / 1000.0 if unit.startswith("m") else value, "message")
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
    """``"12"`` (seconds), ``"1s"``, ``"6m0s"``, ``"500ms"``, ``"1h2m3.5s"`` → seconds; anything else → ``None``."""
    if raw is None:
        return None
    text = raw.strip().lower()
    plain = _number(text)
    if plain is not None:
        return plain
    if not text or _DURATION.sub("", text):
        return None
    total = sum(float(value) * _UNIT[unit] for value, unit in _DURATION.findall(text))
    return total if math.isfinite(total) else None


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
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None
