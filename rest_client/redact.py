"""Header redaction for everything we show or log (pure).

Why an explicit list of secret headers instead of azure-core's allow-list: rest_client's promise is to show
the wire, so response headers and ordinary request headers are shown in full; only credentials are hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SECRET_HEADERS = frozenset({"api-key", "authorization", "ocp-apim-subscription-key", "x-identity-header",
                            "proxy-authorization", "cookie", "set-cookie"})
REDACTED = "***"
# A header *name* made of these words is treated as a credential too: gateways invent their own
# (``X-Api-Key``, ``x-functions-key``, ``X-Gateway-Token``…). Whole words only, so response headers such as
# ``x-ratelimit-remaining-tokens`` stay visible.
SECRET_WORDS = frozenset({"key", "apikey", "secret", "token", "password", "passwd", "signature", "sig",
                          "credential", "credentials", "auth", "authorization", "cookie", "session"})


def looks_secret(name: str) -> bool:
    """True for the known credential headers and for any name with a word such as ``key`` or ``token``."""
    low = name.lower()
    return low in SECRET_HEADERS or any(word in SECRET_WORDS for word in low.replace("_", "-").split("-"))


def redact_value(name: str, value: str) -> str:
    """``***`` for a secret header; a bearer token keeps its scheme and last 4 characters at most."""
    if not looks_secret(name):
        return value
    scheme, _, token = value.partition(" ")
    if token and scheme.lower() == "bearer":
        return f"Bearer {REDACTED}{token[-4:]}" if len(token) >= 32 else f"Bearer {REDACTED}"
    return REDACTED


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of ``headers`` safe to print or log."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name: redact_value(name, str(value)) for name, value in items}
