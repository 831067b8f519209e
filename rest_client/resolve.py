"""Which operation, which deployment, which URL and which exact body bytes a call sends (pure, no I/O).

Why one module: the client, the CLI, bulk and batch all answer the same questions, and four answers with
slightly different rules (which deployment a prompt goes to, what the error says when none is set, when
the v1 API wants ``model`` in the body) were four places for a bug. ``--dry-run`` and ``--curl`` use this
too, so what they show is what the client sends.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .payloads import with_model
from .settings import Settings
from .urls import build_resource_url, build_url, check_deployment_name, is_v1_endpoint

CHAT, COMPLETIONS, EMBEDDINGS = "chat/completions", "completions", "embeddings"

# operation -> (Settings field, environment variable, config.json keys) of the deployment it goes to.
_DEPLOYMENT_SETTING = {
    COMPLETIONS: ("completions_deployment", "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT", "COMPLETIONS_MODEL",
                  "completions"),
}
_CHAT_SETTING = ("deployment", "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_DEPLOYMENT / CHATGPT_MODEL", "chat")


@dataclass(frozen=True)
class Target:
    """One resolved call: where it goes and the exact bytes it sends."""

    operation: str
    deployment: str
    url: str
    body: bytes


def default_operation(settings: Settings, *, deployment_given: bool = False) -> str:
    """Chat when a chat deployment is configured (or a deployment is named, or none is set), else completions."""
    if settings.deployment or deployment_given or not settings.completions_deployment:
        return CHAT
    return COMPLETIONS


def deployment_for(settings: Settings, operation: str, deployment: str | None = None, *,
                   model: str | None = None) -> str:
    """The deployment a call goes to: the one named, else the one configured for the operation, else ``model``
    (an Azure Batch line's ``body.model``). The error names the variable for *this* operation."""
    field, env, keys, kind = _DEPLOYMENT_SETTING.get(operation, _CHAT_SETTING)
    name = deployment or getattr(settings, field) or model
    if not name:
        also = ""
        other = settings.deployment if field != "deployment" else settings.completions_deployment
        if other:
            also = f" (the {'chat' if field != 'deployment' else 'completions'} deployment {other!r} is set, " \
                   f"but this is a {kind} call)"
        placeholder = settings.sources.get(field, "")
        if "placeholder" in placeholder:
            raise ConfigError(f"this {kind} call needs the {kind} deployment, and {placeholder}: put your "
                              f"{kind} deployment's name there (or pass deployment= / --deployment)")
        raise ConfigError(f"no {kind} deployment configured{also}: set {env} (config.json {keys}), "
                          "or pass deployment= / --deployment")
    return check_deployment_name(name)


_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False)
"""Built once: ``json.dumps`` with options builds an encoder per call (a few µs of every request)."""


def encode_json(payload: Any) -> bytes:
    """The body bytes; a value JSON cannot carry (NaN, infinity, an object) is a ``ConfigError`` naming it."""
    try:
        return _ENCODER.encode(payload).encode("utf-8")
    except UnicodeEncodeError as exc:  # a ValueError too: said apart, it is no number
        raise ConfigError(f"the request holds {exc.object[exc.start:exc.end]!r}, half of a UTF-16 surrogate pair "
                          "without its other half, which is not text: fix the string that holds it") from None
    except ValueError as exc:
        raise ConfigError(f"the request holds a number JSON cannot carry (NaN or infinity): {exc}; "
                          "give a finite value") from None
    except TypeError as exc:
        raise ConfigError(f"the request holds a value JSON cannot carry: {exc}") from None


def resolve(settings: Settings, operation: str, payload: Mapping[str, Any], deployment: str | None = None, *,
            model: str | None = None) -> Target:
    """The URL and body for ``operation`` on its deployment; on the v1 API the deployment goes in ``model``."""
    name = deployment_for(settings, operation, deployment, model=model)
    url = _call_url(settings.endpoint, name, operation, settings.api_version)
    body = with_model(payload, name) if is_v1_endpoint(settings.endpoint) else payload
    return Target(operation, name, url, encode_json(body))


@lru_cache(maxsize=256)
def _call_url(endpoint: str, deployment: str, operation: str, api_version: str) -> str:
    """``build_url`` with its checks, once per (endpoint, deployment, operation, version): calls repeat them."""
    return build_url(endpoint, deployment, operation, api_version)


def resource_url(settings: Settings, path: str, query: Mapping[str, Any] | None = None, *,
                 api_version: str | None = None) -> str:
    """A resource-level route (``/files``, ``/batches/{id}``…) or an absolute URL on the endpoint's own host.

    An absolute URL elsewhere is refused: credentials never go to another host.
    """
    if path.startswith(("http://", "https://")):
        mine, theirs = urlsplit(settings.endpoint), urlsplit(path)
        if (mine.scheme, mine.netloc) != (theirs.scheme, theirs.netloc):
            raise ConfigError(f"refusing to send credentials to {theirs.scheme}://{theirs.netloc}: request() "
                              f"only calls the endpoint's own host {mine.netloc}")
        return path
    return build_resource_url(settings.endpoint, path, api_version or settings.api_version, dict(query or {}))
