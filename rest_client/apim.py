"""Auth for calls through Azure API Management, and the one place an auth object is chosen for a ``Settings``.

Why a wrapper rather than a fourth mode inside auth.py: APIM's subscription key is *added* to whatever the
backend needs — nothing (the gateway authenticates to Azure OpenAI with its own managed identity), an Entra
bearer token (a ``validate-jwt`` policy), or even the backend's api-key passed through. So the key is one
header set in front of an optional inner ``AuthBase``, which keeps its own behaviour (the token cache, the
resend after a 401).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.auth import AuthBase

from .auth import ApiKeyAuth, EntraTokenAuth, TokenStatus, make_credential
from .errors import ConfigError
from .settings import Settings
from .urls import check_secure_url

SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key"


class SubscriptionKeyAuth(AuthBase):
    """Sets ``Ocp-Apim-Subscription-Key``, then lets ``inner`` (an api-key or bearer auth, or none) add its own.

    ``kind`` is ``"apim"`` alone, ``"apim+bearer"`` / ``"apim+key"`` with an inner auth: error hints use it to
    tell whose credential a 401 refused.
    """

    def __init__(self, key: str, inner: AuthBase | None = None) -> None:
        if not key or not str(key).strip():
            raise ConfigError("the API Management subscription key is empty: set APIM_SUBSCRIPTION_KEY "
                              "(portal → API Management → Subscriptions → Show keys)")
        self._key = str(key).strip()
        self.inner = inner
        inner_kind = getattr(inner, "kind", None)
        self.kind = f"apim+{inner_kind}" if inner_kind else "apim"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        check_secure_url(r.url or "")
        r.headers[SUBSCRIPTION_KEY_HEADER] = self._key
        return self.inner(r) if self.inner is not None else r

    def status(self) -> TokenStatus | None:
        """The inner bearer token's status (what ``-v`` shows), or ``None`` without one."""
        return self.inner.status() if isinstance(self.inner, EntraTokenAuth) else None

    def __repr__(self) -> str:
        return f"SubscriptionKeyAuth(key=***, inner={self.inner!r})"


def make_auth(settings: Settings, credential: Any = None) -> AuthBase:
    """The auth object for ``settings``: api-key, Entra bearer, or either behind an APIM subscription key.

    ``auth="apim"`` sends the subscription key alone; a ``subscription_key`` with ``auth`` ``key``/``cli``/
    ``default`` sends both headers. ``credential`` replaces the one ``auth`` names (tests, the emulator).
    """
    inner: AuthBase | None
    if settings.auth == "key":
        inner = ApiKeyAuth(settings.api_key or "")
    elif settings.auth == "apim":
        inner = None
    else:
        inner = EntraTokenAuth(credential if credential is not None else make_credential(settings.auth),
                               scope=settings.scope)
    if settings.subscription_key:
        return SubscriptionKeyAuth(settings.subscription_key, inner)
    assert inner is not None  # Settings refuses auth "apim" without a subscription key
    return inner
