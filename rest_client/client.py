"""The client: one ``requests.Session``, one retry policy, one place (``_send``) where I/O happens.

Public methods are thin — build the URL and payload, call ``_send`` — so every call gets the same
retries, timeouts, token handling, error mapping and transparency data.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import Retrying

from . import __version__
from .auth import ApiKeyAuth, EntraTokenAuth, make_credential
from .errors import (
    ConfigError,
    ConnectError,
    RequestTimeoutError,
    TransportError,
    error_from_response,
    request_id_from,
)
from .pacing import Pacer
from .payloads import Messages, chat_payload, completions_payload, streaming, with_model
from .result import Exchange, Result
from .retry import CallRecord, build_retrying
from .retry_after import parse_retry_after
from .settings import Settings, load_settings
from .streaming import Stream
from .urls import build_url, check_deployment_name, is_v1_endpoint, parse_endpoint

if TYPE_CHECKING:
    from .batch_api import Batches, Files
    from .bulk import BulkRun

logger = logging.getLogger("rest_client")

JSON = "application/json"
USER_AGENT = f"rest_client/{__version__} python-requests/{requests.__version__}"
POOL_SIZE = 32


class Client:
    """Calls Azure OpenAI deployments; see ``Result`` for what each call reports.

    ``Client()`` reads settings from the environment and ``./config.json``; keyword overrides use the
    ``Settings`` field names (``Client(endpoint=…, deployment=…)``). ``credential=`` supplies your own
    azure-identity credential for Entra auth.
    """

    def __init__(self, settings: Settings | None = None, *, credential: Any = None, **overrides: Any) -> None:
        if settings is None:
            settings = load_settings(**overrides)
        elif overrides:
            settings = _replace_settings(settings, overrides)
        self.settings = settings
        if settings.auth == "key":
            self.auth: ApiKeyAuth | EntraTokenAuth = ApiKeyAuth(settings.api_key or "")
        else:
            self.auth = EntraTokenAuth(credential if credential is not None else make_credential(settings.auth))
        self.session = make_session(settings.endpoint, self.auth)
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        self._retrying = build_retrying(max_retries=settings.max_retries, max_retry_wait=settings.max_retry_wait)
        self.pacer: Pacer | None = None
        """When set, every attempt waits for the pacer's admission and reports back to it (see bulk)."""

    @classmethod
    def from_config(cls, path: str | None = None, **overrides: Any) -> Client:
        """A client from a config.json (``path``, else ``./config.json``), the environment and overrides."""
        credential = overrides.pop("credential", None)
        return cls(load_settings(path, **overrides), credential=credential)

    # -- public calls ----------------------------------------------------------------------------
    def complete(self, prompt: str | Sequence[str], *, deployment: str | None = None, **params: Any) -> Result:
        """POST ``…/deployments/{completions deployment}/completions``."""
        return self.post("completions", completions_payload(prompt, params),
                         deployment=deployment or self._deployment_for("completions"))

    def chat(self, messages: Messages, *, deployment: str | None = None, **params: Any) -> Result:
        """POST ``…/deployments/{chat deployment}/chat/completions``; a string is one user message."""
        return self.post("chat/completions", chat_payload(messages, params),
                         deployment=deployment or self._deployment_for("chat/completions"))

    def stream_chat(self, messages: Messages, *, deployment: str | None = None, **params: Any) -> Stream:
        """Stream a chat answer: iterate for text deltas; the ``Stream`` keeps headers, filters and usage."""
        dep = deployment or self._deployment_for("chat/completions")
        return self._stream("chat/completions", streaming(chat_payload(messages, params)), dep)

    def stream_complete(self, prompt: str | Sequence[str], *, deployment: str | None = None,
                        **params: Any) -> Stream:
        """Stream a completion: iterate for text deltas."""
        dep = deployment or self._deployment_for("completions")
        return self._stream("completions", streaming(completions_payload(prompt, params)), dep)

    def post(self, operation: str, payload: Mapping[str, Any], *, deployment: str | None = None) -> Result:
        """POST any deployment operation (``"embeddings"``, ``"chat/completions"``, …) and return its Result."""
        dep = deployment or self._deployment_for(operation)
        url, body = self.prepare(operation, payload, dep)
        return self._send(url, body, deployment=dep)

    def prepare(self, operation: str, payload: Mapping[str, Any], deployment: str) -> tuple[str, bytes]:
        """The URL and exact body bytes a call would send (what ``--dry-run`` and ``--curl`` show)."""
        return prepare_call(self.settings, operation, payload, deployment)

    def bulk(self, items: Iterable[Any], *, concurrency: int = 8, operation: str | None = None,
             deployment: str | None = None) -> BulkRun:
        """Run many requests, paced to the deployment's rate limit; iterate for results as they complete.

        ``items``: prompts (strings), ``{"prompt"|"messages": …, **params, "custom_id"?}`` dicts, or Azure Batch
        request lines. See ``rest_client.bulk.run_bulk_file`` to run a JSONL file resumably.
        """
        from .bulk import BulkRun

        return BulkRun(self, items, concurrency=concurrency, operation=operation, deployment=deployment)

    @property
    def files(self) -> Files:
        """Azure OpenAI's ``/files`` routes (batch input and output); see ``rest_client.batch_api``."""
        from .batch_api import Files

        return Files(self)

    @property
    def batches(self) -> Batches:
        """Azure OpenAI's ``/batches`` routes; ``rest_client.batch.run_batch`` runs a whole file."""
        from .batch_api import Batches

        return Batches(self)

    # -- the single I/O path -----------------------------------------------------------------------
    def _stream(self, operation: str, payload: Mapping[str, Any], deployment: str) -> Stream:
        url, body = self.prepare(operation, payload, deployment)
        started = time.perf_counter()
        return Stream(self._send(url, body, deployment=deployment, stream=True), started=started)

    def _send(self, url: str, body: bytes | None, *, deployment: str | None = None, stream: bool = False,
              cost: float = 0.0, retrying: Retrying | None = None, method: str = "POST",
              content_type: str | None = None) -> Result:
        # The session already sends Content-Type: application/json; passing per-call headers costs requests
        # a merge of every header mapping (~0.1 ms), so only calls that differ pass any.
        headers: dict[str, str | None] = {}
        if body is None or body == b"":
            headers["Content-Type"] = None  # requests drops None-valued headers
        elif content_type is not None and content_type != JSON:
            headers["Content-Type"] = content_type
        record = CallRecord(cost=cost, method=method, headers=headers)
        started = time.perf_counter()
        try:
            response = (retrying or self._retrying)(self._attempt, url, body, stream, record=record)
        except TransportError as exc:
            exc.exchanges = record.exchanges
            raise
        elapsed = time.perf_counter() - started
        if response.status_code < 400:
            return Result(response, record.exchanges, elapsed)
        raise self._error(response, record, deployment)

    def _attempt(self, url: str, body: bytes | None, stream: bool, *, record: CallRecord) -> requests.Response:
        wait_before, record.next_wait = record.next_wait, 0.0
        number = len(record.exchanges) + 1
        pacer = self.pacer
        ticket = pacer.acquire(record.cost) if pacer is not None else None
        t0 = time.perf_counter()
        try:
            response = self.session.request(record.method, url, data=body, headers=record.headers or None,
                                            timeout=self._timeout, stream=stream)
            if stream and response.status_code >= 400:
                response.content  # noqa: B018 - an error body is small; read it for the error message
        except requests.RequestException as exc:
            if ticket is not None:
                pacer.settle(ticket, None, {})  # type: ignore[union-attr]
            error = transport_error(exc, url, self.settings)
            record.exchanges.append(Exchange(number, None, time.perf_counter() - t0, wait_before, error=str(error)))
            raise error from exc
        if ticket is not None:
            pacer.settle(ticket, response.status_code, response.headers)  # type: ignore[union-attr]
        record.exchanges.append(Exchange(number, response.status_code, time.perf_counter() - t0, wait_before,
                                         request_id_from(response.headers), reauthenticated=bool(response.history)))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s -> %s (request %s, %.1f ms)", record.method, url, response.status_code,
                         request_id_from(response.headers), (time.perf_counter() - t0) * 1000)
        return response

    def _error(self, response: requests.Response, record: CallRecord, deployment: str | None) -> Exception:
        error = error_from_response(response.status_code, response.headers, response.text,
                                    auth_kind=self.auth.kind, deployment=deployment,
                                    api_version=None if self.settings.is_v1 else self.settings.api_version,
                                    retry_after=parse_retry_after(response.headers))
        if record.hint_too_long is not None:
            error.hint = (f"the service asked to wait {record.hint_too_long:.0f} s, more than max_retry_wait "
                          f"{self.settings.max_retry_wait:.0f} s: retry later, or raise max_retry_wait")
        elif len(record.exchanges) > 1:
            error.hint = (error.hint + " " if error.hint else "") + f"(gave up after {len(record.exchanges)} attempts)"
        error.exchanges = record.exchanges
        return error

    # -- helpers ---------------------------------------------------------------------------------------
    def _deployment_for(self, operation: str) -> str:
        s = self.settings
        name = s.completions_deployment if operation == "completions" else s.deployment
        if not name:
            if operation == "completions":
                raise ConfigError("no completions deployment configured: set AZURE_OPENAI_COMPLETIONS_DEPLOYMENT "
                                  "(config.json COMPLETIONS_MODEL), or pass deployment=")
            raise ConfigError("no chat deployment configured: set AZURE_OPENAI_DEPLOYMENT (config.json "
                              "AZURE_OPENAI_DEPLOYMENT / CHATGPT_MODEL), or pass deployment=")
        return name

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(endpoint={self.settings.endpoint!r}, auth={self.auth!r})"


def prepare_call(settings: Settings, operation: str, payload: Mapping[str, Any],
                 deployment: str) -> tuple[str, bytes]:
    """URL and body bytes for one call: pure, so ``--dry-run`` needs no client, credential or token."""
    url = _call_url(settings.endpoint, deployment, operation, settings.api_version)
    body = with_model(payload, deployment) if is_v1_endpoint(settings.endpoint) else payload
    return url, json.dumps(body, allow_nan=False).encode("utf-8")


@lru_cache(maxsize=256)
def _call_url(endpoint: str, deployment: str, operation: str, api_version: str) -> str:
    """``build_url`` with its checks, once per (endpoint, deployment, operation, version): calls repeat them."""
    check_deployment_name(deployment)
    return build_url(endpoint, deployment, operation, api_version)


def make_session(endpoint: str, auth: requests.auth.AuthBase | None) -> requests.Session:
    """One pooled session for one endpoint, with urllib3's retries off (tenacity retries).

    Why ``trust_env`` is resolved here, once: with it on, requests re-reads the proxy and CA-bundle
    environment on *every* request (~0.4 ms each on loopback, a quarter of a keep-alive call). All our
    requests go to one host, so the answer cannot change between calls: HTTP(S)_PROXY / NO_PROXY and
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE are honoured as of the client's creation.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": JSON, "Content-Type": JSON})
    session.auth = auth
    session.proxies.update(requests.utils.get_environ_proxies(endpoint))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and endpoint.startswith("https://"):  # requests stats the path on every request: only where used
        session.verify = bundle
    session.trust_env = False
    return session


def _replace_settings(settings: Settings, overrides: Mapping[str, Any]) -> Settings:
    values = dict(overrides)
    if "endpoint" in values:
        values["endpoint"] = parse_endpoint(values["endpoint"]).endpoint
    sources = {**settings.sources, **{k: f"argument {k}" for k in values}}
    return replace(settings, **values, sources=sources)


def transport_error(exc: requests.RequestException, url: str, settings: Settings) -> Exception:
    """One clear message for each way the network can fail, naming the host and the likely fix."""
    host = requests.utils.urlparse(url).netloc
    text = str(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RequestTimeoutError(f"connecting to {host} timed out after {settings.connect_timeout:g} s: "
                                   "check the endpoint, VPN or proxy")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return RequestTimeoutError(f"{host} sent no answer within read_timeout {settings.read_timeout:g} s: "
                                   "long generations may need a larger read_timeout")
    if isinstance(exc, requests.exceptions.SSLError):
        return ConnectError(f"TLS handshake with {host} failed: {text[:200]}")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return ConfigError(f"the URL {url!r} is not valid: check the endpoint")
    low = text.lower()
    if any(s in low for s in ("name or service not known", "nodename nor servname", "getaddrinfo failed",
                              "name resolution", "no address associated")):
        return ConnectError(f"cannot resolve {host}: check the resource name in the endpoint")
    if "refused" in low:
        return ConnectError(f"connection to {host} refused: nothing is listening there; check the endpoint")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "incomplete" in low:
        return ConnectError(f"{host} cut the answer off before it was complete")
    if "reset" in low or "aborted" in low or "remotedisconnected" in low:
        return ConnectError(f"{host} closed the connection without an answer")
    return ConnectError(f"cannot reach {host}: {text[:200]}")
