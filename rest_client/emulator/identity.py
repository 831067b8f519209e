"""Bearer tokens: the emulator's own managed-identity endpoint issues them, the inference routes check them.

``Auth`` is what every /openai route checks a request against (the api key and this issuer), so those routes
depend on it and on nothing else of the emulator.

Tokens are JWT-shaped (base64url header.payload.signature, HS256 with a per-instance secret) so a client
can read ``exp`` exactly as from a real Entra ID token, while nothing outside this emulator can mint one.
Validation checks signature, ``exp`` (no clock-skew allowance, so an expired token is testable at once)
and ``aud`` (the Cognitive Services resource, with or without trailing slash).

The endpoint speaks App Service's protocol (``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=…``
with ``X-IDENTITY-HEADER``) because azure-identity picks it from just two env vars, ahead of IMDS or any
developer credential, so the real ``DefaultAzureCredential`` ends up here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import service_errors
from .modes import Modes
from .service_errors import COGNITIVE_SERVICES_AUDIENCE, ServiceError
from .wire import Reply, Request, json_reply

IDENTITY_PATH = "/msi/token"
_ACCEPTED_AUDIENCES = frozenset({COGNITIVE_SERVICES_AUDIENCE, COGNITIVE_SERVICES_AUDIENCE + "/"})
_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(credential: str) -> str:
    """A short, stable, one-way tag for a key or token: enough to tell two apart in a log, useless to replay."""
    return "sha256:" + hashlib.sha256(credential.encode("utf-8")).hexdigest()[:12]


class TokenIssuer:
    """Mints and checks this emulator instance's tokens; also answers its managed-identity endpoint."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)
        self.identity_header = secrets.token_hex(16)
        self.tenant_id = str(uuid.uuid4())
        self.client_id = str(uuid.uuid4())
        self.object_id = str(uuid.uuid4())

    def issue(self, lifetime: float, resource: str = COGNITIVE_SERVICES_AUDIENCE, client_id: str | None = None) -> str:
        """A signed token for ``resource`` expiring ``lifetime`` seconds from now (negative: already expired)."""
        now = time.time()
        payload = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + lifetime),
            "oid": self.object_id,
            "appid": client_id or self.client_id,
            "tid": self.tenant_id,
            "sub": self.object_id,
            "jti": secrets.token_hex(8),  # two tokens minted in the same second still differ
        }
        signing_input = _b64url(json.dumps(_HEADER).encode()) + "." + _b64url(json.dumps(payload).encode())
        return signing_input + "." + _b64url(self._sign(signing_input))

    def validate(self, token: str) -> str | None:
        """None when ``token`` is good; otherwise a short reason (for the request log, never for the client)."""
        parts = token.split(".")
        if len(parts) != 3:
            return "malformed"
        signing_input = parts[0] + "." + parts[1]
        try:
            signature = _b64url_decode(parts[2])
            claims: dict[str, Any] = json.loads(_b64url_decode(parts[1]))
        except (ValueError, UnicodeDecodeError):
            return "malformed"
        if not hmac.compare_digest(signature, self._sign(signing_input)):
            return "bad signature"
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int):
            return "malformed"
        if time.time() >= claims["exp"]:
            return "expired"
        if claims.get("aud") not in _ACCEPTED_AUDIENCES:
            return "wrong audience"
        return None

    def _sign(self, signing_input: str) -> bytes:
        return hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha256).digest()

    def answer(self, request: Request, lifetime: float) -> Reply:
        """Answer ``GET /msi/token`` the way App Service does (``expires_on`` as a string of epoch seconds)."""
        if request.method != "GET":
            return json_reply(405, {"statusCode": 405, "message": "Method not allowed."})
        supplied = request.header("X-IDENTITY-HEADER") or ""
        if not hmac.compare_digest(supplied.encode(), self.identity_header.encode()):
            return json_reply(401, {"statusCode": 401, "message": "X-IDENTITY-HEADER is missing or does not match."})
        resource = request.query.get("resource", "")
        if not resource:
            return json_reply(400, {"statusCode": 400, "message": "The 'resource' query parameter is required."})
        client_id = request.query.get("client_id") or None
        token = self.issue(lifetime, resource, client_id)
        expires_on = json.loads(_b64url_decode(token.split(".")[1]))["exp"]
        return json_reply(
            200,
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": client_id or self.client_id,
            },
        )


@dataclass
class Auth:
    """The credentials one emulator accepts: its api key and the issuer of its bearer tokens.

    Mutable on purpose: ``emu.api_key = …`` changes it for every route at once (the routes read it per request).
    ``modes``: the resource's network rules, key auth and role assignment (see modes.py), read per request.
    """

    api_key: str
    issuer: TokenIssuer
    modes: Modes = field(default_factory=Modes)

    def check(self, request: Request, *, v1: bool, entry: dict[str, Any]) -> ServiceError | None:
        """None when the request carries the api-key or a valid emulator token; the service's 401 otherwise.

        Shared by every /openai route (inference, files, batches); records auth and credential fingerprint in
        ``entry``. The modes answer as the resource would: network rules before anything (403), a key on a
        resource without key auth (403), a valid token whose identity has no role (401 PermissionDenied).
        """
        if self.modes.network_rules:
            return service_errors.network_denied()
        key = request.header("api-key")
        if key is not None:
            entry["auth"], entry["credential"] = "key", fingerprint(key)
            if self.modes.key_auth_disabled:
                return service_errors.authentication_type_disabled()
            return None if _same(key, self.api_key) else service_errors.invalid_key()
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return service_errors.invalid_key()
        entry["credential"] = fingerprint(token)
        if v1 and _same(token, self.api_key):
            entry["auth"] = "key"  # the v1 API also takes the key as a bearer (what openai.OpenAI sends)
            return service_errors.authentication_type_disabled() if self.modes.key_auth_disabled else None
        entry["auth"] = "bearer"
        reason = self.issuer.validate(token)
        if reason is not None:
            entry["auth_error"] = reason
            return service_errors.invalid_token()
        if self.modes.missing_role:
            entry["auth_error"] = "no role"
            return service_errors.permission_denied()
        return None


def _same(supplied: str, expected: str) -> bool:
    return hmac.compare_digest(supplied.encode("utf-8"), expected.encode("utf-8"))
