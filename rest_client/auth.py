"""Authentication for any ``requests.Session``: an api-key, or Entra ID bearer tokens with a real cache.

Why our own token cache: ``get_bearer_token_provider`` and azure-core's sync bearer policy take no lock,
so N threads with an empty cache make N credential calls (N ``az`` processes). Here one thread fetches
while the others wait (or, when the old token is still valid, keep using it), the token is refreshed
*before* it expires, and a refresh that fails does not break calls while the old token still works.

``azure.identity`` is imported only in ``make_credential``: key users and ``--help`` never pay for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.auth import AuthBase

from .claims import TokenClaims, decode_claims
from .errors import COGNITIVE_SERVICES_SCOPE, ConfigError, CredentialError
from .urls import check_secure_url

logger = logging.getLogger("rest_client")

REFRESH_MARGIN = 300.0
"""Refresh this many seconds before ``expires_on`` when the credential gives no ``refresh_on``."""
FAILED_REFRESH_BACKOFF = 30.0
"""After a failed refresh of a still-valid token, wait this long before trying the credential again."""
_RESENT_MARK = "_rest_client_resent_after_401"


class ApiKeyAuth(AuthBase):
    """Sets the ``api-key`` header. The key never shows in ``repr``."""

    kind = "key"

    def __init__(self, key: str) -> None:
        if not key or not str(key).strip():
            raise ConfigError("the API key is empty: set AZURE_OPENAI_API_KEY (portal → Keys and Endpoint)")
        self._key = str(key).strip()

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        check_secure_url(r.url or "")
        r.headers["api-key"] = self._key
        return r

    def __repr__(self) -> str:
        return "ApiKeyAuth(key=***)"


@dataclass(frozen=True)
class CachedToken:
    """A token with the times that drive refresh. ``source`` names the credential that gave it."""

    token: str
    expires_on: float
    refresh_on: float
    obtained_at: float
    source: str
    fetch_seconds: float = 0.0
    """How long the credential took to give this token (an ``az`` process can take seconds)."""

    def __repr__(self) -> str:
        return (f"CachedToken(token=***, source={self.source!r}, expires_on={self.expires_on:.0f}, "
                f"refresh_on={self.refresh_on:.0f})")


@dataclass(frozen=True)
class TokenStatus:
    """What ``-v`` shows about the token: where it came from, how long it took, how long it has left, and its
    claims decoded locally (never the token itself)."""

    source: str
    expires_in: float
    refresh_in: float
    credential_calls: int
    fetch_seconds: float = 0.0
    claims: TokenClaims | None = None

    def _repr_html_(self) -> str:
        """The notebook display: source, time left (refresh and expiry) and the decoded claims; built in display/."""
        from .display.config import token_html

        return token_html(self)


class EntraTokenAuth(AuthBase):
    """Sets ``Authorization: Bearer …`` from a cached, proactively refreshed Entra ID token.

    On a 401 it drops the token it sent, gets a new one and resends the request once (like requests'
    digest auth does); the caller sees the second answer, with the first in ``response.history``.
    """

    kind = "bearer"

    def __init__(self, credential: Any, scope: str = COGNITIVE_SERVICES_SCOPE, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.credential = credential
        self.scope = scope
        self._clock = clock
        self._lock = threading.Lock()
        self._token: CachedToken | None = None
        self.credential_calls = 0

    def __repr__(self) -> str:
        return f"EntraTokenAuth(credential={type(self.credential).__name__}, scope={self.scope!r})"

    # -- the cache -------------------------------------------------------------------------------
    def get_token(self) -> str:
        """A bearer token for ``scope``: cached until its refresh time, fetched by one thread at a time."""
        cached = self._token
        if cached is not None and self._clock() < cached.refresh_on:
            return cached.token
        # Still valid but due for refresh while another thread refreshes: keep using it, don't queue.
        if cached is not None and self._clock() < cached.expires_on:
            if not self._lock.acquire(blocking=False):
                return cached.token
        else:
            self._lock.acquire()
        try:
            return self._refresh_locked()
        finally:
            self._lock.release()

    def _refresh_locked(self) -> str:
        cached = self._token
        now = self._clock()
        if cached is not None and now < cached.refresh_on:
            return cached.token  # another thread refreshed while we waited for the lock
        try:
            fresh = self._fetch(now)
        except Exception as exc:
            if cached is not None and now < cached.expires_on:
                # Serve the still-valid token; try the credential again a little later, not on every call.
                retry_at = min(now + FAILED_REFRESH_BACKOFF, cached.expires_on)
                self._token = CachedToken(cached.token, cached.expires_on, retry_at, cached.obtained_at,
                                          cached.source, cached.fetch_seconds)
                logger.warning("token refresh failed (%s); the current token is valid for %.0f s more",
                               _first_line(exc), cached.expires_on - now)
                return cached.token
            raise credential_error(self.credential, exc) from exc
        self._token = fresh
        logger.debug("token from %s: expires in %.0f s, refresh in %.0f s", fresh.source,
                     fresh.expires_on - now, fresh.refresh_on - now)
        return fresh.token

    def _fetch(self, now: float) -> CachedToken:
        self.credential_calls += 1
        started = time.perf_counter()
        refresh_on: float | None = None
        if hasattr(self.credential, "get_token_info"):
            info = self.credential.get_token_info(self.scope)
            token, expires_on, refresh_on = info.token, float(info.expires_on), info.refresh_on
        else:
            got = self.credential.get_token(self.scope)
            token, expires_on = got.token, float(got.expires_on)
        if not token:
            raise CredentialError(f"{type(self.credential).__name__} returned an empty token")
        lifetime = max(0.0, expires_on - now)
        # Short-lived tokens (e.g. the emulator's) refresh at half-life instead of 5 minutes early.
        planned = expires_on - min(REFRESH_MARGIN, lifetime / 2)
        refresh_at = min(float(refresh_on), planned) if refresh_on else planned
        return CachedToken(token, expires_on, refresh_at, now, _describe_source(self.credential),
                           time.perf_counter() - started)

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached token (only if it is still ``token``, so a newer one is not thrown away)."""
        with self._lock:
            if self._token is not None and (token is None or self._token.token == token):
                self._token = None

    def status(self) -> TokenStatus | None:
        """Source and remaining lifetime of the cached token, or ``None`` before the first fetch."""
        cached = self._token
        if cached is None:
            return None
        now = self._clock()
        return TokenStatus(cached.source, cached.expires_on - now, cached.refresh_on - now, self.credential_calls,
                           cached.fetch_seconds, decode_claims(cached.token))

    def token_provider(self) -> Callable[[], str]:
        """A zero-argument callable giving a bearer token: drop-in for openai's ``azure_ad_token_provider``."""
        return self.get_token

    # -- requests integration --------------------------------------------------------------------
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        check_secure_url(r.url or "")
        r.headers["Authorization"] = f"Bearer {self.get_token()}"
        r.hooks["response"].append(self._resend_after_401)  # = register_hook, which the requests stubs leave untyped
        return r

    def _resend_after_401(self, r: requests.Response, **kwargs: Any) -> requests.Response:
        if r.status_code != 401 or getattr(r.request, _RESENT_MARK, False):
            return r
        if _is_permission_denied(r):
            # A valid token without the data-plane role: Azure answers 401 PermissionDenied. Any new token for
            # the same identity is refused alike, so resending would only cost a credential call and a request.
            logger.debug("401 PermissionDenied: the token is valid but lacks a role; not resending")
            return r
        sent = (r.request.headers.get("Authorization") or "").partition(" ")[2]
        self.invalidate(sent)
        fresh = self.get_token()
        if fresh == sent:
            # The credential's own cache (azure-identity keeps managed-identity tokens) handed back the
            # rejected token: resending it would only repeat the 401.
            logger.debug("401 with a bearer token: the credential returned the same token; not resending")
            return r
        logger.debug("401 with a bearer token: dropped it, got a new one, resending once")
        r.content  # noqa: B018 - read the (small) body so the connection goes back to the pool
        r.close()
        prep = r.request.copy()
        if isinstance(getattr(prep, "_body_position", None), int):  # a file body (an upload): send it whole again
            requests.utils.rewind_body(prep)
        setattr(prep, _RESENT_MARK, True)
        prep.headers["Authorization"] = f"Bearer {fresh}"
        resent = r.connection.send(prep, **kwargs)
        resent.history.append(r)
        resent.request = prep
        return resent


PERMISSION_DENIED_BODY_LIMIT = 4096
"""A 401 body longer than this is not Azure's small JSON error: never read a big body just to look."""


def _is_permission_denied(r: requests.Response) -> bool:
    """Whether a 401 says ``PermissionDenied`` (Azure's body for a valid token without the role)."""
    length = r.headers.get("Content-Length")
    if length is not None and (not length.isdigit() or int(length) > PERMISSION_DENIED_BODY_LIMIT):
        return False
    try:
        text = r.content[:PERMISSION_DENIED_BODY_LIMIT].decode("utf-8", errors="replace")
    except (requests.RequestException, OSError):
        return False  # the body could not be read; the resend (or the error) will tell
    return '"PermissionDenied"' in text or "principal does not have access" in text.lower()


def _describe_source(credential: Any) -> str:
    """Name the credential; for a chain, also the link that answered (azure-identity keeps it privately)."""
    name = type(credential).__name__
    link = getattr(credential, "_successful_credential", None)
    return f"{name} → {type(link).__name__}" if link is not None else name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def credential_error(credential: Any, exc: BaseException) -> CredentialError:
    """Turn an azure-identity failure into one message with what to do next."""
    name = type(credential).__name__
    text = str(exc)
    low = text.lower()
    if "az login" in low or "please run 'az login'" in low:
        hint = "run `az login` (add --tenant TENANT for another tenant), or use key auth (auth='key' / --auth key)"
    elif "azure cli not found" in low or "not installed" in low or "'az' is not recognized" in low:
        hint = ("install the Azure CLI and run `az login`, or use key auth (auth='key' / --auth key) with "
                "AZURE_OPENAI_API_KEY")
    elif "aadsts70011" in low or ("scope" in low and "invalid" in low):
        hint = f"the scope must be exactly {COGNITIVE_SERVICES_SCOPE}"
    elif name == "DefaultAzureCredential" or "defaultazurecredential" in low:
        hint = ("no credential in the DefaultAzureCredential chain worked: run `az login`, set up a managed "
                "identity, or use key auth (auth='key' / --auth key)")
    else:
        hint = "check the identity can get tokens for " + COGNITIVE_SERVICES_SCOPE
    return CredentialError(f"{name} could not get a token: {_first_line(exc)[:300]}", hint=hint)


def make_credential(auth: str) -> Any:
    """The azure-identity credential for an ``auth`` mode (imported here, not at package import)."""
    try:
        from azure.identity import AzureCliCredential, DefaultAzureCredential
    except ImportError as exc:  # pragma: no cover - azure-identity is a runtime dependency
        raise CredentialError("azure-identity is not installed: pip install azure-identity") from exc
    if auth == "cli":
        return AzureCliCredential()
    if auth == "default":
        return DefaultAzureCredential()
    raise ConfigError(f"auth {auth!r} has no credential; use 'cli' or 'default' (or 'key' with an API key)")
