"""Header redaction for everything we show or log (pure).

Why an explicit list of secret headers instead of azure-core's allow-list: rest_client's promise is to show
the wire, so response headers and ordinary request headers are shown in full; only credentials are hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SECRET_HEADERS = frozenset({"api-key", "authorization", "ocp-apim-subscription-key", "x-identity-header",
                            "proxy-authorization", "cookie", "set-cookie"})
REDACTED = "***"
# A header *name* made of these words is treated as a credential too: gateways invent their own
# (``X-Api-Key``, ``x-functions-key``, ``X-Gateway-Token``…). Whole words only, so response headers such as
# ``x-ratelimit-remaining-tokens`` stay visible.
SECRET_WORDS = frozenset({"key", "apikey", "secret", "token", "password", "passwd", "signature", "sig",
                          "credential", "credentials", "auth", "authorization", "cookie", "session"})


# A word glued to one of these (``accesstoken``, ``clientsecret``, ``subscriptionkey``) names a credential too.
SECRET_SUFFIXES = ("token", "secret", "password", "passwd", "credential", "credentials", "apikey", "signature")
KEY_QUALIFIERS = frozenset({"api", "access", "account", "auth", "client", "function", "functions", "host", "master",
                            "primary", "private", "secondary", "secret", "shared", "subscription", "sas", "sub",
                            "service", "app", "admin", "gateway", "x"})
"""Words that make ``…key`` glued to them a credential (``subscriptionkey``), unlike ``monkey`` or ``hotkey``."""
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _secret_word(word: str) -> bool:
    if word in SECRET_WORDS or word.endswith(SECRET_SUFFIXES):
        return True
    return word.endswith("key") and word[:-3] in KEY_QUALIFIERS


def looks_secret(name: str) -> bool:
    """True for the known credential headers and for any name with a word such as ``key`` or ``token`` —
    words split at ``-``/``_`` and at camelCase (``X-AccessToken``, ``ClientSecret``, ``SubscriptionKey``), and
    glued lowercase words ending in one (``x-accesstoken``, ``authtoken``)."""
    low = name.lower()
    if low in SECRET_HEADERS:
        return True
    words = {w.lower() for w in _WORDS.findall(name)} | set(low.replace("_", "-").split("-"))
    return any(_secret_word(word) for word in words if word)


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


QUERY_SECRETS = frozenset({"code", "sig", "key", "subscription-key", "api-key"})
"""Query parameters that carry a credential though ``looks_secret`` alone would not say so (``code``: Azure
Functions' key; ``sig``: a SAS signature)."""
_USERINFO = re.compile(r"^([^:/?#]*://)([^/?#@]*)@")
_QUERY_VALUE = re.compile(r"([?&][^=&#]*=)([^&#]*)")


def redact_url(url: str) -> str:
    """The URL safe to show: a ``user:password@`` part becomes ``user:***@`` and the value of a query parameter
    that names a credential becomes ``***`` (``?api-key=…``, ``?subscription-key=…``, ``?code=…``, ``?sig=…``);
    other parameters (``api-version``, ``limit``) stay as they are. Works on text that does not parse as a URL,
    since it is used to show why a URL was refused."""
    def userinfo(match: re.Match[str]) -> str:
        user, sep, _ = match.group(2).partition(":")
        return f"{match.group(1)}{user}{':***' if sep else ''}@"

    def value(match: re.Match[str]) -> str:
        name = match.group(1)[1:-1].lower()
        secret = name in QUERY_SECRETS or looks_secret(name)
        return f"{match.group(1)}{REDACTED}" if secret and match.group(2) else match.group(0)

    return _QUERY_VALUE.sub(value, _USERINFO.sub(userinfo, url, count=1))
