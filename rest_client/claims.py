"""What an Entra ID access token says about itself, decoded locally (pure; never raises, never keeps the token).

Why: a 401 or 403 with a bearer token is nearly always explained by the token's claims — the wrong audience
(a token for ``management.azure.com``), the wrong tenant, an identity without a role, or an expired token.
``-v`` and ``doctor`` show those claims so nobody pastes a token into a website to read them. The signature is
not checked (the service does that); this is for reading, never for trusting.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import COGNITIVE_SERVICES_SCOPE
from .jsonsafe import loads

COGNITIVE_SERVICES_AUDIENCE = COGNITIVE_SERVICES_SCOPE.removesuffix("/.default")
MAX_TOKEN_CHARS = 64 * 1024
"""Longer input is not a token; refuse it before decoding anything."""


@dataclass(frozen=True)
class TokenClaims:
    """The claims that explain an answer: audience, tenant, identity, roles or scopes, expiry (epoch seconds)."""

    audience: str | None = None
    tenant: str | None = None
    upn: str | None = None
    appid: str | None = None
    oid: str | None = None
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    expires_on: float | None = None
    issuer: str | None = None

    @property
    def identity(self) -> str | None:
        """Who the token is for: a user's upn, else an app's appid, else the object id."""
        return self.upn or self.appid or self.oid

    def audience_matches(self, scope: str = COGNITIVE_SERVICES_SCOPE) -> bool:
        """True when ``aud`` is the scope's resource (with or without the trailing slash)."""
        resource = scope.removesuffix("/.default").rstrip("/")
        return self.audience is not None and self.audience.rstrip("/") == resource

    def describe(self, now: float | None = None) -> str:
        """``aud https://cognitiveservices.azure.com, tenant …, upn ada@…, roles [], scp [], exp in 59 min``."""
        parts = [f"aud {self.audience or '?'}", f"tenant {self.tenant or '?'}"]
        if self.upn:
            parts.append(f"upn {self.upn}")
        if self.appid:
            parts.append(f"appid {self.appid}")
        if self.oid:
            parts.append(f"oid {self.oid}")
        if self.roles:
            parts.append("roles " + ",".join(self.roles))
        if self.scopes:
            parts.append("scp " + " ".join(self.scopes))
        if self.expires_on is not None:
            if now is None:
                parts.append(f"exp {self.expires_on:.0f}")
            else:
                left = self.expires_on - now
                if left < 0:
                    parts.append(f"EXPIRED {-left:.0f} s ago")
                else:
                    parts.append(f"exp in {left / 60:.0f} min" if left >= 120 else f"exp in {left:.0f} s")
        return ", ".join(parts)


def decode_claims(token: Any) -> TokenClaims | None:
    """The claims of a JWT (``header.payload.signature``), or ``None`` for anything that is not one.

    Never raises: the input may be an opaque token, garbage, or not even a string.
    """
    payload = _payload(token)
    if payload is None:
        return None
    return TokenClaims(
        audience=_text(payload.get("aud")),
        tenant=_text(payload.get("tid")),
        upn=_text(payload.get("upn")) or _text(payload.get("unique_name")) or _text(payload.get("preferred_username")),
        appid=_text(payload.get("appid")) or _text(payload.get("azp")),
        oid=_text(payload.get("oid")),
        roles=_strings(payload.get("roles")),
        scopes=tuple(s for s in (_text(payload.get("scp")) or "").split() if s),
        expires_on=_number(payload.get("exp")),
        issuer=_text(payload.get("iss")),
    )


def _payload(token: Any) -> Mapping[str, Any] | None:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    segment = parts[1]
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        data = loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list):  # ``aud`` may be a list in some token formats
        return next((v for v in value if isinstance(v, str) and v), None)
    return None


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return (value,) if isinstance(value, str) and value else ()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if number == number and abs(number) < 1e13 else None  # no NaN, no absurd dates
