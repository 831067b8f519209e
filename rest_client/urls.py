"""Endpoint parsing and URL building (pure functions, no I/O).

Why this is its own module: most "404 Resource not found" tickets are a URL built wrong — a doubled
``/openai``, a deployment name with a space, a missing ``api-version``. Every URL we send comes from here,
so the rules live in one place and are tested as a table.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .errors import ConfigError
from .redact import QUERY_SECRETS, looks_secret, redact_url

DEFAULT_API_VERSION = "2024-10-21"
V1_SUFFIX = "/openai/v1"
OPERATIONS = ("chat/completions", "completions", "embeddings")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


@dataclass(frozen=True)
class ParsedEndpoint:
    """What an endpoint string says: the base URL to build on, and anything a pasted URL carried."""

    endpoint: str
    """``https://host[/prefix]`` for the dated API, or ``https://host[/prefix]/openai/v1`` for v1."""
    deployment: str | None = None
    operation: str | None = None
    api_version: str | None = None

    @property
    def is_v1(self) -> bool:
        return is_v1_endpoint(self.endpoint)


def is_v1_endpoint(endpoint: str) -> bool:
    """True when the endpoint selects the v1 API (model in the body, no api-version)."""
    return endpoint.endswith(V1_SUFFIX)


@lru_cache(maxsize=64)
def is_loopback_host(host: str | None) -> bool:
    """Loopback names and addresses: the only hosts we send credentials to over plain http."""
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_secure_url(url: str) -> None:
    """Refuse to attach credentials to ``http://`` unless the host is loopback (the emulator)."""
    if url.startswith("https://"):
        return
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return
    raise ConfigError(
        f"refusing to send credentials to {parts.scheme}://{parts.hostname or '?'}: plain http is only "
        "allowed for loopback (the emulator); use the https:// endpoint of your resource"
    )


def parse_endpoint(raw: str, *, source: str = "endpoint") -> ParsedEndpoint:
    """Normalise every endpoint form users paste (see DESIGN.md) into one ``ParsedEndpoint``.

    Accepted: ``https://NAME.openai.azure.com`` with or without ``/`` or ``/openai``; the
    cognitiveservices.azure.com and services.ai.azure.com hosts; ``…/openai/v1`` (selects v1); and a portal
    "target URI" ``…/openai/deployments/DEP/chat/completions?api-version=V``.
    """
    text = (raw or "").strip()
    shown = redact_url(text)  # every message below: never a password or a key from the query
    if "<" in text or ">" in text:
        raise ConfigError(f"{source} {shown!r} still holds a placeholder: put your resource's endpoint there, "
                          "e.g. https://NAME.openai.azure.com")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ConfigError(f"{source} {shown!r} holds a line break or control character: paste the URL alone, "
                          "e.g. https://NAME.openai.azure.com")
    invisible = next((ch for ch in text if unicodedata.category(ch) in ("Cf", "Co", "Cs", "Zl", "Zp")), None)
    if invisible is not None:  # a zero-width space pasted along: the host looks right and resolves nowhere
        raise ConfigError(f"{source} holds the invisible character U+{ord(invisible):04X} "
                          f"({unicodedata.name(invisible, 'unnamed')}): paste the URL again without it")
    try:
        parts = urlsplit(text)
        port = parts.port  # urllib raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise ConfigError(f"{source} {shown!r} is not a valid URL ({exc}): use the form "
                          "https://NAME.openai.azure.com") from None
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{source} holds a user name or password before '@': remove it (credentials go in "
                          "AZURE_OPENAI_API_KEY or come from Entra ID, never in the URL)")
    if port == 0:
        raise ConfigError(f"{source} {shown!r} names port 0: give the real port or none")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        guess = f"https://{text.strip('/')}.openai.azure.com" if text and "/" not in text and "." not in text \
            else "https://NAME.openai.azure.com"
        raise ConfigError(f"{source} {shown!r} is not an http(s) URL: use the form {guess}")
    if any(ch.isspace() for ch in text):
        raise ConfigError(f"{source} {shown!r} holds a space: paste the URL alone, e.g. https://NAME.openai.azure.com")
    _check_host(parts.hostname, source)
    query = parse_qs(parts.query)
    _refuse_query_credentials(query, source)
    base = f"{parts.scheme}://{parts.netloc}"
    segments = [s for s in parts.path.split("/") if s]
    api_version: str | None = (query.get("api-version") or [None])[0]  # type: ignore[list-item]
    try:
        at = segments.index("openai")
    except ValueError:
        prefix = "/".join(segments)
        return ParsedEndpoint(base + (f"/{prefix}" if prefix else ""), api_version=api_version)
    root = base + "".join(f"/{s}" for s in segments[:at])
    rest = segments[at + 1:]
    if rest[1 if rest[:1] == ["v1"] else 0:][:1] in (["assistants"], ["threads"]):  # pasted from an old quickstart
        from .hint_texts import ASSISTANTS_RETIRED

        raise ConfigError(f"{source} {text!r} is an Assistants API URL: {ASSISTANTS_RETIRED}; as the endpoint give "
                          "the resource URL, e.g. https://NAME.openai.azure.com")
    if rest[:1] == ["v1"]:
        operation = "/".join(rest[1:]) or None
        return ParsedEndpoint(root + V1_SUFFIX, operation=_known_operation(operation, source, text))
    if rest[:1] == ["deployments"] and len(rest) >= 2:
        deployment = unquote(rest[1])
        operation = "/".join(rest[2:]) or None
        return ParsedEndpoint(root, deployment=deployment, operation=_known_operation(operation, source, text),
                              api_version=api_version)
    if rest:
        raise ConfigError(f"{source} {shown!r} has an unexpected path after /openai: give the resource URL, "
                          "e.g. https://NAME.openai.azure.com")
    return ParsedEndpoint(root, api_version=api_version)


QUERY_CREDENTIALS = {"api-key": "AZURE_OPENAI_API_KEY", "subscription-key": "APIM_SUBSCRIPTION_KEY"}
"""Query parameters that carry a key, and where the key goes instead."""


def _refuse_query_credentials(query: dict[str, list[str]], source: str) -> None:
    """A key in the endpoint's query (``?api-key=…``, ``?subscription-key=…``, ``?code=…``) is refused, not dropped:
    dropped, the call went out without it and the gateway answered 401 with no word about why. Keys travel in
    headers only (they would otherwise be in every URL shown, logged and written to a HAR)."""
    for name in query:
        low = name.lower()
        if low in QUERY_SECRETS or looks_secret(low):
            home = QUERY_CREDENTIALS.get(low)
            where = f"set {home} instead" if home else "give it as a header instead (-H 'Name: value', config.json " \
                                                       "\"headers\")"
            raise ConfigError(f"{source} carries a credential in its query ({name}=***): rest_client sends keys only "
                              f"in headers, never in URLs; remove it from the URL and {where}")


def _check_host(host: str, source: str) -> None:
    """A host that is not ASCII must be a valid internationalised name (requests encodes it with IDNA); one
    that is not (a stray symbol pasted in) fails here, naming the setting, not as a traceback at the call."""
    if host.isascii():
        return
    try:
        import idna  # requests' own dependency, and what it encodes hosts with

        idna.encode(host, uts46=True)
    except (idna.IDNAError, UnicodeError, ValueError):
        raise ConfigError(f"{source} has a host name that is not valid ({host!r}): use the ASCII name of your "
                          "resource, e.g. https://NAME.openai.azure.com") from None


def _known_operation(operation: str | None, source: str, text: str) -> str | None:
    if operation is None:
        return None
    try:
        _check_operation(operation)
    except ConfigError:
        raise ConfigError(f"{source} {redact_url(text)!r} ends in {operation!r}, which is not an operation path "
                          f"such as {' or '.join(OPERATIONS)}") from None
    return operation


def check_deployment_name(deployment: str | None) -> str:
    """A deployment name must be a non-empty path segment that cannot walk the path (``.``/``..``)."""
    if deployment is None or not str(deployment).strip():
        raise ConfigError("no deployment given: set AZURE_OPENAI_DEPLOYMENT (chat) or "
                          "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT, or pass deployment=/--deployment")
    if deployment in (".", ".."):
        raise ConfigError(f"deployment name {deployment!r} is not allowed: it would change the URL path")
    return deployment


def build_deployment_url(endpoint: str, deployment: str, operation: str, api_version: str) -> str:
    """``{endpoint}/openai/deployments/{deployment}/{operation}?api-version={v}`` — the dated API.

    The deployment is one percent-encoded path segment (a ``/``, ``?``, ``#`` or space in it cannot change
    the route), and api-version is always present: without it Azure answers 404 with no hint why.
    """
    if is_v1_endpoint(endpoint):
        raise ConfigError("this endpoint selects the v1 API: build its URL with build_v1_url")
    check_deployment_name(deployment)
    _check_operation(operation)
    if not api_version or not str(api_version).strip():
        raise ConfigError("api-version is empty: set OPENAI_API_VERSION or --api-version, e.g. "
                          f"{DEFAULT_API_VERSION}")
    segment = quote(deployment, safe="")
    return f"{endpoint.rstrip('/')}/openai/deployments/{segment}/{operation}?api-version={quote(api_version, safe='')}"


def build_v1_url(endpoint: str, operation: str) -> str:
    """``{endpoint}/{operation}`` on a ``…/openai/v1`` endpoint: no api-version, the model goes in the body."""
    if not is_v1_endpoint(endpoint):
        raise ConfigError("build_v1_url needs an endpoint ending in /openai/v1")
    _check_operation(operation)
    return f"{endpoint}/{operation}"


def build_url(endpoint: str, deployment: str, operation: str, api_version: str) -> str:
    """The URL for ``operation`` on ``deployment``, whichever API the endpoint selects."""
    if is_v1_endpoint(endpoint):
        check_deployment_name(deployment)
        return build_v1_url(endpoint, operation)
    return build_deployment_url(endpoint, deployment, operation, api_version)


def _check_operation(operation: str) -> None:
    segments = operation.split("/") if operation else []
    if not segments or any(not s or s in (".", "..") or not s.replace("_", "").replace("-", "").isalnum()
                           for s in segments):
        raise ConfigError(f"operation {operation!r} is not a valid path such as 'chat/completions'")


def build_resource_url(endpoint: str, path: str, api_version: str, query: dict[str, object] | None = None) -> str:
    """A resource-level route (``files``, ``batches/{id}/cancel``…), never under ``/deployments``.

    Dated API: ``{endpoint}/openai/{path}?api-version=V&…``; v1: ``{endpoint}/{path}?…`` with no api-version.
    Path segments (ids) are percent-encoded like deployment names.
    """
    segments = [s for s in path.split("/") if s]
    if not segments or any(s in (".", "..") for s in segments):
        raise ConfigError(f"resource path {path!r} is not valid")
    encoded = "/".join(quote(s, safe="") for s in segments)
    params = {k: v for k, v in (query or {}).items() if v is not None}
    if is_v1_endpoint(endpoint):
        base = f"{endpoint}/{encoded}"
    else:
        if not api_version:
            raise ConfigError("api-version is empty: set OPENAI_API_VERSION or --api-version")
        base = f"{endpoint.rstrip('/')}/openai/{encoded}"
        params = {"api-version": api_version, **params}
    if not params:
        return base
    return base + "?" + "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in params.items())
