"""Gateway mode: the emulator behind an Azure API Management look-alike that speaks APIM's own shapes.

What it does, in front of every inference and resource request (not the control or identity routes):
- requires an ``Ocp-Apim-Subscription-Key`` header (or APIM's ``subscription-key`` query parameter):
  missing → 401 ``Access denied due to missing subscription key. …``, wrong → 401 ``… invalid subscription key.``;
- optionally a path ``prefix`` (an APIM API's URL suffix, ``/aoai`` → ``https://GATEWAY/aoai/openai/…``);
- optionally a rate limit (calls per period → 429 ``Rate limit is exceeded. Try again in N seconds.``), a token
  limit (tokens per minute → 429 ``Token limit is exceeded. Try again in N seconds.``), both with ``Retry-After``
  unless ``retry_after_header`` is off (a gateway that strips it: the wait is then only in the message), a call
  quota (calls per period → 403 ``Out of call volume quota. Quota will be replenished in HH:MM:SS.``, a .NET
  TimeSpan, ``D.HH:MM:SS`` beyond a day) and a token quota (tokens per period → 403 ``Token quota is exceeded.
  Try again in 21 minutes and 33 seconds.``, the wording quoted in issue "Fidelity, third pass");
- then forwards the request as APIM with a managed identity would: the subscription key is dropped and, when the
  caller sent no credential of its own, the backend's api-key is added (a ``validate-jwt`` policy passing a
  bearer token through is also served: a caller's own ``Authorization`` is kept and checked by the backend).
The wordings are APIM's documented ones; headers beyond ``Retry-After``, how the token quota words hours (we write
"1 hour, 2 minutes and 3 seconds") and whether the token limits count ``max_tokens`` up front are our guesses
(we count prompt bytes / 4 + ``max_tokens``, as the policy estimates).
Selectable in process (``Emulator(gateway={…})``, ``emu.gateway.configure(…)``), over ``PUT
/_emulator/gateway`` (JSON of the fields below) and by flag (``--gateway-key KEY``).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .identity import IDENTITY_PATH
from .wire import Reply, Request, json_reply

CONTROL_PATH = "/_emulator/gateway"
KEY_HEADER = "ocp-apim-subscription-key"
MISSING = ("Access denied due to missing subscription key. Make sure to include subscription key when making "
           "requests to an API.")
INVALID = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."


@dataclass
class GatewaySettings:
    """Gateway mode's knobs; ``subscription_key`` None = off. Limits None = no such policy."""

    subscription_key: str | None = None
    prefix: str = ""
    rate_limit_calls: int | None = None
    rate_limit_period: float = 60.0
    tokens_per_minute: int | None = None
    quota_calls: int | None = None
    quota_period: float = 3600.0
    token_quota: int | None = None
    token_quota_period: float = 3600.0
    retry_after_header: bool = True


class _Window:
    """A fixed window counter: ``take(n)`` returns 0 when admitted, else the seconds until the window renews."""

    def __init__(self) -> None:
        self.start: float | None = None  # the first call opens the first window
        self.used = 0

    def take(self, amount: int, limit: int, period: float, now: float) -> float:
        if self.start is None or now - self.start >= period:
            self.start, self.used = now, 0
        if self.used + amount > limit:
            return self.start + period - now
        self.used += amount
        return 0.0


class Gateway:
    """Checks and forwards requests while a subscription key is configured (see the module docstring)."""

    def __init__(self, backend_key: Any, settings: Mapping[str, Any] | None = None) -> None:
        self._backend_key = backend_key  # a callable: the emulator's api-key may change later
        self.settings = GatewaySettings()
        self._lock = threading.RLock()  # _refuse counts under it, also when called from a check holding it
        self._calls, self._tokens, self._quota, self._token_quota = _Window(), _Window(), _Window(), _Window()
        self.refused = 0
        if settings:
            self.configure(**dict(settings))

    def handle(self, request: Request) -> Request | Reply:
        """The control route's answer; else, in gateway mode, ``admit``; else the request unchanged."""
        if request.path == CONTROL_PATH:
            return self.control(request)
        if not self.enabled or request.path == IDENTITY_PATH or request.path.startswith("/_emulator"):
            return request
        return self.admit(request)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.subscription_key)

    def configure(self, **values: Any) -> GatewaySettings:
        """Change fields (``subscription_key=None`` turns gateway mode off); counters start afresh."""
        known = {f.name for f in fields(GatewaySettings)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown gateway setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        prefix = values.get("prefix", self.settings.prefix) or ""
        values["prefix"] = ("/" + prefix.strip("/")) if prefix.strip("/") else ""
        with self._lock:
            self.settings = replace(self.settings, **values)
            self._calls, self._tokens, self._quota, self._token_quota = _Window(), _Window(), _Window(), _Window()
        return self.settings

    def admit(self, request: Request) -> Request | Reply:
        """The request to forward to the emulator's routes, or the gateway's refusal."""
        s = self.settings
        path = request.path
        if s.prefix:
            if not (path == s.prefix or path.startswith(s.prefix + "/")):
                return self._refuse(404, "Resource not found")
            path = path[len(s.prefix):] or "/"
        key = request.header(KEY_HEADER) or request.query.get("subscription-key")
        if not key:
            return self._refuse(401, MISSING)
        if key != s.subscription_key:
            return self._refuse(401, INVALID)
        with self._lock:
            now = time.monotonic()
            if s.quota_calls is not None:
                wait = self._quota.take(1, s.quota_calls, s.quota_period, now)
                if wait:
                    return self._refuse(403, f"Out of call volume quota. Quota will be replenished in {_hms(wait)}.")
            if s.token_quota is not None:
                wait = self._token_quota.take(_estimate(request.body), s.token_quota, s.token_quota_period, now)
                if wait:
                    return self._refuse(403, f"Token quota is exceeded. Try again in {_words(wait)}.")
            if s.rate_limit_calls is not None:
                wait = self._calls.take(1, s.rate_limit_calls, s.rate_limit_period, now)
                if wait:
                    return self._too_many("Rate limit", wait)
            if s.tokens_per_minute is not None:
                wait = self._tokens.take(_estimate(request.body), s.tokens_per_minute, 60.0, now)
                if wait:
                    return self._too_many("Token limit", wait)
        headers = {k: v for k, v in request.headers.items() if k != KEY_HEADER}
        if "authorization" not in headers and "api-key" not in headers:
            headers["api-key"] = self._backend_key()
        query = {k: v for k, v in request.query.items() if k != "subscription-key"}
        return replace(request, path=path, headers=headers, query=query)

    def control(self, request: Request) -> Reply:
        """``GET /_emulator/gateway`` shows the settings (key masked); ``PUT``/``PATCH`` with JSON changes them."""
        if request.method in ("PUT", "PATCH", "POST"):
            try:
                values = json.loads(request.body or b"{}")
                if not isinstance(values, dict):
                    raise ValueError("send a JSON object of gateway settings")
                self.configure(**values)
            except (ValueError, TypeError) as exc:
                return json_reply(400, {"error": {"code": "BadGatewaySettings", "message": str(exc)}})
        elif request.method != "GET":
            return json_reply(405, {"error": {"code": "MethodNotAllowed", "message": "use GET or PUT"}})
        shown = asdict(self.settings)
        shown["subscription_key"] = "***" if shown["subscription_key"] else None
        return json_reply(200, {**shown, "enabled": self.enabled, "refused": self.refused})

    def _refuse(self, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        with self._lock:
            self.refused += 1
        return json_reply(status, {"statusCode": status, "message": message}, headers)

    def _too_many(self, what: str, wait: float) -> Reply:
        seconds = max(1, math.ceil(wait))
        headers = {"Retry-After": str(seconds)} if self.settings.retry_after_header else None
        return self._refuse(429, f"{what} is exceeded. Try again in {seconds} seconds.", headers)


def _estimate(body: bytes) -> int:
    """Prompt bytes / 4 plus ``max_tokens`` (what the token-limit policy reserves up front)."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = {}
    extra = payload.get("max_tokens") if isinstance(payload, dict) else None
    return len(body) // 4 + (extra if isinstance(extra, int) and extra > 0 else 16)


def _hms(seconds: float) -> str:
    """A .NET TimeSpan as APIM writes it: ``HH:MM:SS``, and ``D.HH:MM:SS`` from a day on."""
    total = max(1, math.ceil(seconds))
    days, rest = divmod(total, 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}.{clock}" if days else clock


def _words(seconds: float) -> str:
    """``21 minutes and 33 seconds``: the token quota's wait in words (units of zero left out)."""
    total = max(1, math.ceil(seconds))
    amounts = ((total // 3600, "hour"), (total % 3600 // 60, "minute"), (total % 60, "second"))
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in amounts if n]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
