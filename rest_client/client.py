"""The client: one ``requests.Session``, one retry policy, one public choke point: ``Client.request``.

Every call — chat, completions, streams, embeddings, files, batches, bulk items, routes we do not wrap —
goes through ``request``, so each gets the same retries, timeouts, token handling, pacing, error mapping
and transparency data. Convenience methods only build a payload and call it (ollama's ``_request``,
httpx's ``Client.request``). The client knows nothing of bulk or batch: they call ``request`` too.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import IO, Any, Protocol, Union
from urllib.parse import quote

import requests
from tenacity import Retrying

from .apim import make_auth
from .backends import config_backends, parse_backends
from .diagnose import ErrorContext, error_from_response, request_id_from
from .errors import APIStatusError, ConfigError, RestClientError
from .payloads import Messages, chat_payload, completions_payload, is_reasoning_call, streaming
from .resolve import COMPLETIONS, EMBEDDINGS, deployment_for, encode_json, resolve, resource_url
from .responses_calls import ResponsesCalls
from .result import AttemptEvent, Exchange, Result
from .retry import CallRecord, RetryPolicy, build_retrying
from .retry_hints import parse_retry_after
from .router import Router, Slot, build_failover_retrying
from .settings import Settings, load_settings
from .streaming import Stream
from .telemetry import CallTrace
from .telemetry import current as current_telemetry
from .transport import JSON, make_session, transport_error
from .urls import parse_endpoint

logger = logging.getLogger("rest_client")

CLIENT_REQUEST_ID = "x-ms-client-request-id"
OnAttempt = Callable[[AttemptEvent], None]
Body = Union[bytes, IO[bytes], io.IOBase]
"""A request body: bytes, or a seekable binary file object with a known length (sent in blocks, rewound for
each attempt, so a retry resends it whole; a 200 MB batch upload is never held in memory)."""


class Gate(Protocol):
    """Admission for each attempt (bulk's ``Pacer`` is one): ``acquire`` before sending, ``settle`` after,
    always — with ``status None`` when no answer came — so no failure can leak a slot. A 429's wait is the
    gate's: it hears the hint in ``settle`` and holds the retry in ``acquire`` (the client does not also sleep)."""

    def acquire(self, tokens: float = 0.0) -> Any: ...

    def settle(self, ticket: Any, status: int | None, headers: Mapping[str, str],
               message: str | None = None) -> None:
        """``message``: a 429's body text (some services put their only retry hint there), else None."""


class Client(ResponsesCalls):
    """Calls Azure OpenAI deployments; see ``Result`` for what each call reports.

    ``Client()`` reads settings from the environment and ``./config.json``; keyword overrides use the
    ``Settings`` field names (``Client(endpoint=…, deployment=…)``). ``credential=`` supplies your own
    azure-identity credential for Entra auth. ``on_attempt=`` (a callable or a list) is called with an
    ``AttemptEvent`` for every attempt of every call, as it happens.

    ``backends=[…]`` (dicts with ``Settings`` field names plus ``priority``/``weight``, or ``Settings``;
    also config.json ``"backends"``): deployment calls fail over between them (see router.py), each attempt's
    ``Exchange.backend`` names where it went; resource routes (files, batches) go to the first priority.
    """

    def __init__(self, settings: Settings | None = None, *, credential: Any = None,
                 on_attempt: OnAttempt | Iterable[OnAttempt] | None = None, backends: Sequence[Any] | None = None,
                 **overrides: Any) -> None:
        self.router: Router | None = None
        """Set with ``backends``: its ``slots`` hold each backend's session, auth, cooldown and counters."""
        if backends is None and settings is None and "endpoint" not in overrides:
            backends = config_backends()  # ./config.json holding "backends" (an explicit endpoint= wins)
        if backends is not None:
            self.router = Router(parse_backends(backends, overrides=overrides), credential=credential)
            first = self.router.slots[0]
            settings, self.auth, self.session = first.settings, first.auth, first.session
        else:
            if settings is None:
                settings = load_settings(**overrides)
            elif overrides:
                settings = _replace_settings(settings, overrides)
            self.auth = make_auth(settings, credential)
            self.session = make_session(settings.endpoint, self.auth, settings.headers)
        self.settings = settings
        self.retry_policy = RetryPolicy(settings.max_retries, settings.max_retry_wait)
        self._retryings: dict[RetryPolicy, Retrying] = {self.retry_policy: build_retrying(self.retry_policy)}
        self._failovers: dict[RetryPolicy, Retrying] = {}
        self.on_attempt: list[OnAttempt] = ([on_attempt] if callable(on_attempt) else list(on_attempt or ()))
        """Hooks called with each ``AttemptEvent``; append to add one (the CLI's live lines, a HAR recorder)."""

    @classmethod
    def from_config(cls, path: str | None = None, **overrides: Any) -> Client:
        """A client from a config.json (``path``, else ``./config.json``), the environment and overrides."""
        credential = overrides.pop("credential", None)
        on_attempt = overrides.pop("on_attempt", None)
        backends = config_backends(path)
        if backends is not None:
            return cls(credential=credential, on_attempt=on_attempt, backends=backends, **overrides)
        return cls(load_settings(path, **overrides), credential=credential, on_attempt=on_attempt)

    # -- convenience calls: build a payload, call request() ---------------------------------------------
    def complete(self, prompt: str | Sequence[str], *, deployment: str | None = None, **params: Any) -> Result:
        """POST ``…/deployments/{completions deployment}/completions``."""
        return self.request("POST", COMPLETIONS, json=completions_payload(prompt, params), deployment=deployment)

    def chat(self, messages: Messages, *, deployment: str | None = None, **params: Any) -> Result:
        """POST ``…/deployments/{chat deployment}/chat/completions``; a string is one user message."""
        return self.request("POST", "chat/completions", json=chat_payload(messages, params), deployment=deployment)

    def stream_chat(self, messages: Messages, *, deployment: str | None = None, **params: Any) -> Stream:
        """Stream a chat answer: iterate for text deltas; the ``Stream`` keeps headers, filters and usage."""
        return self.stream("chat/completions", chat_payload(messages, params), deployment=deployment)

    def stream_complete(self, prompt: str | Sequence[str], *, deployment: str | None = None,
                        **params: Any) -> Stream:
        """Stream a completion: iterate for text deltas."""
        return self.stream(COMPLETIONS, completions_payload(prompt, params), deployment=deployment)

    def stream(self, operation: str, payload: Mapping[str, Any], *, deployment: str | None = None) -> Stream:
        """Stream any deployment operation's answer (``stream: true`` is added to ``payload``)."""
        started = time.perf_counter()
        result = self.request("POST", operation, json=streaming(payload), deployment=deployment, stream=True)
        return Stream(result, started=started,
                      read_timeout=self.settings.read_timeout_for(is_reasoning_call(payload, deployment)))

    def post(self, operation: str, payload: Mapping[str, Any], *, deployment: str | None = None) -> Result:
        """POST any deployment operation (``"embeddings"``, ``"chat/completions"``, …) and return its Result."""
        return self.request("POST", operation, json=payload, deployment=deployment)

    def embed(self, input: str | Sequence[str], *, deployment: str | None = None,
              **params: Any) -> Result:
        """POST ``embeddings`` (a string or a list of strings); ``Result.json()["data"][i]["embedding"]``."""
        return self.request("POST", EMBEDDINGS, json={"input": input, **params}, deployment=deployment)

    def prepare(self, operation: str, payload: Mapping[str, Any], deployment: str | None = None) -> tuple[str, bytes]:
        """The URL and exact body bytes a call would send (what ``--dry-run`` and ``--curl`` show)."""
        return prepare_call(self.settings, operation, payload, deployment)

    # -- the one choke point ------------------------------------------------------------------------------
    def request(self, method: str, path_or_operation: str, *, json: Any = None, content: Body | None = None,
                content_type: str | None = None, deployment: str | None = None,
                params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                stream: bool = False, retry: RetryPolicy | None = None, gate: Gate | None = None,
                cost: float = 0.0) -> Result:
        """Send one logical call, with retries, pacing, typed errors and everything the wire said.

        ``path_or_operation``: a deployment operation (``"chat/completions"``, ``"embeddings"``,
        ``"audio/transcriptions"``…; the deployment comes from ``deployment=`` or the settings, and on the v1
        API goes into the JSON body as ``model``); a resource path starting with ``/`` (``"/files"``,
        ``"/batches/batch_1"``, with ``api-version`` added on the dated API); or an absolute URL on the
        endpoint's own host. Body: ``json=`` (encoded here; NaN is refused) or ``content=`` bytes (or a seekable
        binary file object of known length, rewound for each attempt) with ``content_type``. ``retry=`` a
        ``RetryPolicy`` for this call; ``gate=`` admission per attempt (a bulk run's pacer) charged ``cost``
        tokens. Raises only ``RestClientError`` subclasses.
        """
        url, body, name = self._route(path_or_operation, json, content, deployment, params)
        # Per-call headers are set on the prepared request, not passed to requests: a headers= dict costs a
        # merge of every header mapping (~0.1 ms a call), so only a caller's own headers take that path.
        extra: dict[str, str] = {}
        if not body:
            extra["Content-Type"] = ""  # dropped below: no body, no Content-Type
        elif content_type is not None and content_type != JSON:
            extra["Content-Type"] = content_type
        client_request_id = None
        if headers:
            client_request_id = next((v for k, v in headers.items() if k.lower() == CLIENT_REQUEST_ID), None)
        if client_request_id is None:
            client_request_id = str(uuid.uuid4())
        extra[CLIENT_REQUEST_ID] = client_request_id
        call = _Call(method.upper(), url, body, stream, dict(headers) if headers else None, extra,
                     client_request_id, gate, cost)
        call.reasoning = is_reasoning_call(json, name)  # a longer read timeout unless one is set
        retrying = self._retrying_for(retry)
        if self.router is not None and not path_or_operation.startswith(("/", "http://", "https://")):
            # Each backend has its own URL and body (deployment name, api-version, v1 ``model``): once each.
            targets: dict[int, tuple[str, Body | None, str | None]] = {}
            call.targets = lambda slot: targets.get(slot.index) or targets.setdefault(
                slot.index, self._route(path_or_operation, json, content, deployment, params, slot.settings))
            retrying = self._retrying_for(retry, failover=True)
        record = CallRecord(gated=gate is not None)
        record.on_retry = lambda wait, source: self._report(call, record, wait, source)
        telemetry = current_telemetry()  # None unless the application uses OpenTelemetry
        if telemetry is not None:
            operation = None if path_or_operation.startswith(("/", "http")) else path_or_operation
            record.trace = telemetry.start_call(call.method, operation, name, url, json, stream)
        started = time.perf_counter()
        try:
            response = retrying(self._attempt, call, record=record)
        except RestClientError as exc:
            if record.trace is not None:
                record.trace.failed(exc)
            raise
        finally:
            self._report(call, record, None, None)
        elapsed = time.perf_counter() - started
        if response.status_code < 300:
            result = Result(response, record.exchanges, elapsed, client_request_id=client_request_id)
            if record.trace is not None:
                result.trace = record.trace  # a stream's span ends at its last chunk (see Stream)
                record.trace.answered(result)
            return result
        if call.slot is not None:
            name = call.targets(call.slot)[2]  # type: ignore[misc]
        error = self._error(response, record, name, client_request_id, retry or self.retry_policy, call.slot,
                            resource=None if name else path_or_operation)
        if record.trace is not None:
            record.trace.failed(error)
        raise error

    def _route(self, path: str, json: Any, content: Body | None, deployment: str | None,
               params: Mapping[str, Any] | None,
               settings: Settings | None = None) -> tuple[str, Body | None, str | None]:
        """(URL, body bytes, deployment name or ``None``) for a ``request`` call (on ``settings``' backend)."""
        settings = settings or self.settings
        if json is not None and content is not None:
            raise ConfigError("give json= or content=, not both")
        if path.startswith(("/", "http://", "https://")):
            body = encode_json(json) if json is not None else content
            return resource_url(settings, path, params), body, None
        if json is not None and not isinstance(json, Mapping):
            raise ConfigError(f"the body of a {path!r} call must be a JSON object, not {type(json).__name__}")
        if json is not None:
            target = resolve(settings, path, json, deployment)
            url, body, name = target.url, target.body, target.deployment
        else:
            name = deployment_for(settings, path, deployment)
            url, body = resolve(settings, path, {}, name).url, content
        if params:
            url += "&" if "?" in url else "?"
            url += "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in params.items()
                            if v is not None)
        return url, body, name

    def _retrying_for(self, policy: RetryPolicy | None, *, failover: bool = False) -> Retrying:
        policy = policy or self.retry_policy
        retrying = self._retryings.get(policy) if not failover else self._failovers.get(policy)
        if retrying is None:
            if failover:
                assert self.router is not None
                retrying = self._failovers[policy] = build_failover_retrying(policy, self.router)
            else:
                retrying = self._retryings[policy] = build_retrying(policy)
        return retrying

    def _attempt(self, call: _Call, *, record: CallRecord) -> requests.Response:
        wait_before, record.next_wait = record.next_wait, 0.0
        source, record.next_wait_source = record.next_wait_source, None
        number = len(record.exchanges) + 1
        ticket = call.gate.acquire(call.cost) if call.gate is not None else None
        status: int | None = None
        answer_headers: Mapping[str, str] = {}
        message: str | None = None
        t0 = time.perf_counter()
        session, body, settings, slot = self.session, call.body, self.settings, None
        if call.targets is not None:  # several backends: this attempt goes to the best one available now
            # A gate may have chosen the backend with its admission (bulk/multi.py: a ticket with a ``slot``).
            slot = call.slot = self.router.pick(getattr(ticket, "slot", None))  # type: ignore[union-attr]
            call.url, body, _ = call.targets(slot)
            session, settings = slot.session, slot.settings
        timeout = (settings.connect_timeout, settings.read_timeout_for(call.reasoning))
        if call.body_start is not None:
            call.body.seek(call.body_start)  # type: ignore[union-attr]  # a file body: every attempt sends it all
        try:
            prepared = session.prepare_request(requests.Request(call.method, call.url, data=body,
                                                                headers=call.headers))
            for name, value in call.extra.items():
                if value:
                    prepared.headers[name] = value
                else:
                    prepared.headers.pop(name, None)
            record.pending_request = prepared
            response = session.send(prepared, timeout=timeout, stream=call.stream, allow_redirects=False,
                                    proxies=session.proxies, verify=session.verify, cert=session.cert)
            if call.stream and response.status_code >= 300:
                response.content  # noqa: B018 - an error body is small; read it for the error message
            status, answer_headers = response.status_code, response.headers
            if status == 429 and call.gate is not None:
                message = response.text[:2000]
        except requests.RequestException as exc:
            # The error gets the call's exchange list itself: complete once the retries end.
            error = transport_error(exc, call.url, connect_timeout=timeout[0], read_timeout=timeout[1],
                                    client_request_id=call.client_request_id, exchanges=record.exchanges)
            if isinstance(error, ConfigError):
                raise error from exc
            exchange = Exchange(number, None, time.perf_counter() - t0, wait_before, error=str(error),
                                wait_source=source, backend=slot.name if slot is not None else None)
            if slot is not None:
                call.failover = self.router.settle(slot, None, None)  # type: ignore[union-attr]
            record.exchanges.append(exchange)
            record.pending = (exchange, None, error)
            raise error from exc
        finally:
            if call.gate is not None:
                call.gate.settle(ticket, status, answer_headers, message)
        request_id = request_id_from(response.headers)
        exchange = Exchange(number, response.status_code, time.perf_counter() - t0, wait_before, request_id,
                            reauthenticated=bool(response.history), wait_source=source,
                            backend=slot.name if slot is not None else None)
        if slot is not None:
            call.failover = self.router.settle(slot, response.status_code, response)  # type: ignore[union-attr]
        record.exchanges.append(exchange)
        record.pending = (exchange, response, None)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s -> %s (request %s, client request %s, %.1f ms)", call.method, call.url,
                         response.status_code, request_id, call.client_request_id, exchange.elapsed * 1000)
        return response

    def _report(self, call: _Call, record: CallRecord, wait: float | None, source: str | None) -> None:
        """Hand the attempt just finished to the ``on_attempt`` hooks (once each), with the wait that follows."""
        pending, record.pending = record.pending, None
        if pending is None:
            return
        exchange, response, error = pending
        trace: CallTrace | None = record.trace
        if trace is not None:
            trace.attempt(exchange, wait, source, call.client_request_id)
        if not self.on_attempt:
            return
        event = AttemptEvent(exchange, call.method, call.url, record.pending_request, response, error, wait,
                             source, call.client_request_id)
        for hook in self.on_attempt:
            hook(event)

    def _error(self, response: requests.Response, record: CallRecord, deployment: str | None,
               client_request_id: str, policy: RetryPolicy, slot: Slot | None = None, *,
               resource: str | None = None) -> APIStatusError:
        auth, settings = (slot.auth, slot.settings) if slot is not None else (self.auth, self.settings)
        context = ErrorContext(
            auth_kind=getattr(auth, "kind", None), deployment=deployment,
            api_version=None if settings.is_v1 else settings.api_version, key_source=settings.sources.get("api_key"),
            resource=resource, url=response.url, retry_after=parse_retry_after(response.headers, response.text[:2000]),
            wait_refused=record.wait_refused, max_retry_wait=policy.max_retry_wait, exchanges=record.exchanges,
            client_request_id=client_request_id)
        return error_from_response(response.status_code, response.headers, response.text, context, response=response)

    def close(self) -> None:
        self.session.close()
        if self.router is not None:
            self.router.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(endpoint={self.settings.endpoint!r}, auth={self.auth!r})"


class _Call:
    """One logical call's fixed parts, shared by its attempts."""

    __slots__ = ("body", "body_start", "client_request_id", "cost", "extra", "failover", "gate", "headers",
                 "method", "reasoning", "slot", "stream", "targets", "url")

    def __init__(self, method: str, url: str, body: Body | None, stream: bool, headers: dict[str, str] | None,
                 extra: dict[str, str], client_request_id: str, gate: Gate | None, cost: float) -> None:
        self.method, self.url, self.body, self.stream = method, url, body, stream
        self.body_start = None if body is None or isinstance(body, bytes) else body.tell()
        self.headers, self.extra, self.client_request_id = headers, extra, client_request_id
        self.gate, self.cost = gate, cost
        # With backends: per-backend (URL, body, deployment), the backend of the last attempt, and whether
        # that attempt's answer cooled it down (so the call moves on).
        self.targets: Callable[[Slot], tuple[str, Body | None, str | None]] | None = None
        self.slot: Slot | None = None
        self.failover = False
        self.reasoning = False


def prepare_call(settings: Settings, operation: str, payload: Mapping[str, Any],
                 deployment: str | None = None) -> tuple[str, bytes]:
    """URL and body bytes for one call: pure, so ``--dry-run`` needs no client, credential or token."""
    target = resolve(settings, operation, payload, deployment)
    return target.url, target.body


def _replace_settings(settings: Settings, overrides: Mapping[str, Any]) -> Settings:
    values = dict(overrides)
    if "endpoint" in values:
        values["endpoint"] = parse_endpoint(values["endpoint"]).endpoint
    sources = {**settings.sources, **{k: f"argument {k}" for k in values}}
    return replace(settings, **values, sources=sources)

