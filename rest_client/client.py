"""The client: one ``requests.Session``, one retry policy, one public choke point: ``Client.request``.

Every call — chat, completions, streams, embeddings, files, batches, bulk items, routes we do not wrap —
goes through ``request``, so each gets the same retries, timeouts, token handling, pacing, error mapping
and transparency data. Convenience methods only build a payload and call it (ollama's ``_request``,
httpx's ``Client.request``). The client knows nothing of bulk or batch: they call ``request`` too.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any
from urllib.parse import quote

import requests
from tenacity import Retrying

from .apim import make_auth
from .backends import config_backends, parse_backends
from .call import Body, Call, Gate, Target
from .diagnose import ErrorContext, error_from_response, request_id_from
from .errors import APIStatusError, ConfigError, RestClientError, TransportError
from .payloads import Messages, chat_payload, completions_payload, is_reasoning_call, streaming
from .resolve import COMPLETIONS, EMBEDDINGS, deployment_for, encode_json, resolve, resource_url
from .responses.calls import ResponsesCalls
from .result import AttemptEvent, Exchange, Result
from .retry import RETRYABLE_STATUS, RetryPolicy, build_retrying, decide, hint_of
from .router import Failover, Router
from .settings import Settings, check_headers, load_settings
from .streaming import Stream
from .telemetry import current as current_telemetry
from .transport import JSON, make_session, transport_error
from .urls import parse_endpoint

logger = logging.getLogger("rest_client")

CLIENT_REQUEST_ID = "x-ms-client-request-id"
OnAttempt = Callable[[AttemptEvent], None]
__all__ = ["Body", "Client", "Gate", "prepare_call"]  # Body and Gate live in call.py; imported from here too


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
        self._retryings: dict[tuple[RetryPolicy, bool], Retrying] = {}
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

    # -- the one choke point: request → _open → _attempt (→ Failover.send) → _send → _finish ----------------
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
        def target(settings: Settings) -> Target:
            return self._target(path_or_operation, json, content, deployment, params, settings)

        call = self._open(method, target(self.settings), json, content_type, headers, stream, gate, cost,
                          None if path_or_operation.startswith(("/", "http")) else path_or_operation)
        policy = retry or self.retry_policy
        # The router is a layer only deployment calls of a client with backends pass through.
        failover = (None if self.router is None or call.target.deployment is None
                    else Failover(self.router, target, first=call.target))
        try:
            response = self._retrying(policy, failover is not None)(self._attempt, call, failover)
        except RestClientError as exc:
            if call.trace is not None:
                call.trace.failed(exc)
            raise
        finally:
            self._report(call, None)
        return self._finish(call, response, policy, path_or_operation)

    def _open(self, method: str, target: Target, json: Any, content_type: str | None,
              headers: Mapping[str, str] | None, stream: bool, gate: Gate | None, cost: float,
              operation: str | None) -> Call:
        """The call's fixed parts: its target, its headers and client request id, its trace."""
        extra: dict[str, str] = {}
        if not target.body:
            extra["Content-Type"] = ""  # dropped in _send: no body, no Content-Type
        elif content_type is not None and content_type != JSON:
            extra["Content-Type"] = content_type
        client_request_id = None
        if headers:
            headers = check_headers(headers, "the headers= of this call")  # a header requests cannot send: say so
            client_request_id = next((v for k, v in headers.items() if k.lower() == CLIENT_REQUEST_ID), None)
        if client_request_id is None:
            client_request_id = new_request_id()
        extra[CLIENT_REQUEST_ID] = client_request_id
        call = Call(method.upper(), target, stream=stream, headers=dict(headers) if headers else None, extra=extra,
                    client_request_id=client_request_id, gate=gate, cost=cost,
                    reasoning=is_reasoning_call(json, target.deployment))  # a longer read timeout unless set
        telemetry = current_telemetry()  # None unless the application uses OpenTelemetry
        if telemetry is not None:
            call.trace = telemetry.start_call(call.method, operation, target.deployment, target.url, json, stream)
        return call

    def _target(self, path: str, json: Any, content: Body | None, deployment: str | None,
                params: Mapping[str, Any] | None, settings: Settings) -> Target:
        """Where a ``request`` call goes on ``settings``' backend: URL, body bytes, deployment (``None`` for a
        resource route)."""
        if json is not None and content is not None:
            raise ConfigError("give json= or content=, not both")
        if path.startswith(("/", "http://", "https://")):
            body = encode_json(json) if json is not None else content
            return Target(resource_url(settings, path, params), body, None)
        if json is not None and not isinstance(json, Mapping):
            raise ConfigError(f"the body of a {path!r} call must be a JSON object, not {type(json).__name__}")
        if json is not None:
            resolved = resolve(settings, path, json, deployment)
            url, body, name = resolved.url, resolved.body, resolved.deployment
        else:
            name = deployment_for(settings, path, deployment)
            url, body = resolve(settings, path, {}, name).url, content
        if params:
            url += "&" if "?" in url else "?"
            url += "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in params.items()
                            if v is not None)
        return Target(url, body, name)

    def _retrying(self, policy: RetryPolicy, failover: bool) -> Retrying:
        """tenacity's loop for ``policy``: one deployment's rule (retry.py) or the router's; built once each."""
        retrying = self._retryings.get((policy, failover))
        if retrying is None:
            if failover:
                assert self.router is not None
                rule, attempts = partial(self.router.decide, policy), policy.max_retries + len(self.router.slots)
            else:
                rule, attempts = partial(decide, policy), policy.max_retries + 1
            retrying = self._retryings[(policy, failover)] = build_retrying(attempts, rule, self._report)
        return retrying

    def _attempt(self, call: Call, failover: Failover | None) -> requests.Response:
        """One attempt, admitted by the call's gate (if any) and settled with it whatever happens."""
        gate = call.gate
        ticket = gate.acquire(call.cost) if gate is not None else None
        call.response = None
        try:
            if failover is None:
                return self._send(call, self.session, self.settings, None)
            return failover.send(call, ticket, self._send)
        finally:
            if gate is not None:
                response = call.response
                if response is None:
                    gate.settle(ticket, None, {})
                else:
                    status = response.status_code
                    gate.settle(ticket, status, response.headers, response.text[:2000] if status == 429 else None)

    def _send(self, call: Call, session: requests.Session, settings: Settings,
              backend: str | None) -> requests.Response:
        """One HTTP exchange on one session: send, read what came back, record it as an ``Exchange``."""
        wait, call.next_wait = call.next_wait, None
        timeout = (settings.connect_timeout, settings.read_timeout_for(call.reasoning))
        call.rewind()
        t0 = time.perf_counter()
        try:
            prepared = call.request = call.prepare(session)
            response = session.send(prepared, timeout=timeout, stream=call.stream, allow_redirects=False,
                                    proxies=session.proxies, verify=session.verify, cert=session.cert)
            if call.stream and response.status_code >= 300:
                response.content  # noqa: B018 - an error body is small; read it for the error message
        except requests.RequestException as exc:
            # The error gets the call's exchange list itself: complete once the retries end.
            error = transport_error(exc, call.url, connect_timeout=timeout[0], read_timeout=timeout[1],
                                    client_request_id=call.client_request_id, exchanges=call.exchanges)
            if isinstance(error, TransportError):
                call.error = error
                call.exchanges.append(Exchange(len(call.exchanges) + 1, None, time.perf_counter() - t0,
                                               wait.seconds if wait else 0.0, error=str(error),
                                               wait_source=wait.source if wait else None, backend=backend))
            raise error from exc
        call.response = response
        status = response.status_code
        exchange = Exchange(len(call.exchanges) + 1, status, time.perf_counter() - t0, wait.seconds if wait else 0.0,
                            request_id_from(response.headers), reauthenticated=bool(response.history),
                            wait_source=wait.source if wait else None, backend=backend,
                            retry_hint=hint_of(response) if status in RETRYABLE_STATUS else None)
        call.exchanges.append(exchange)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s -> %s (request %s, client request %s, %.1f ms)", call.method, call.url, status,
                         exchange.request_id, call.client_request_id, exchange.elapsed * 1000)
        return response

    def _report(self, call: Call, wait: float | None) -> None:
        """Hand the attempt just finished to the trace and the ``on_attempt`` hooks (once each), with the wait
        that follows it (``None``: it was the last)."""
        if call.reported == len(call.exchanges):
            return
        call.reported = len(call.exchanges)
        exchange, source = call.exchanges[-1], call.next_wait.source if call.next_wait and wait is not None else None
        if call.trace is not None:
            call.trace.attempt(exchange, wait, source, call.client_request_id)
        if self.on_attempt:
            event = AttemptEvent(exchange, call.method, call.url, call.request, call.response,
                                 call.error if call.response is None else None, wait, source,
                                 call.client_request_id)
            for hook in self.on_attempt:
                hook(event)

    def _finish(self, call: Call, response: requests.Response, policy: RetryPolicy, path: str) -> Result:
        """The Result of a 2xx answer, else the typed error its last answer makes (``resource`` routes get
        their own 404 hint)."""
        elapsed = time.perf_counter() - call.started
        if response.status_code < 300:
            result = Result(response, call.exchanges, elapsed, client_request_id=call.client_request_id)
            if call.trace is not None:
                result.trace = call.trace  # a stream's span ends at its last chunk (see Stream)
                call.trace.answered(result)
            return result
        error = self._error(response, call, policy, resource=None if call.target.deployment else path)
        if call.trace is not None:
            call.trace.failed(error)
        raise error

    def _error(self, response: requests.Response, call: Call, policy: RetryPolicy, *,
               resource: str | None) -> APIStatusError:
        auth, settings = (call.slot.auth, call.slot.settings) if call.slot is not None else (self.auth, self.settings)
        hint = call.exchanges[-1].retry_hint if call.exchanges else None  # parsed once, when the answer came
        quota = policy.max_quota_wait is not None and response.status_code == 429
        cap = policy.max_quota_wait if quota else policy.max_retry_wait  # the cap that refused a wait
        context = ErrorContext(
            auth_kind=getattr(auth, "kind", None), deployment=call.target.deployment,
            api_version=None if settings.is_v1 else settings.api_version, key_source=settings.sources.get("api_key"),
            resource=resource, url=response.url, retry_after=hint.seconds if hint is not None else None,
            wait_refused=call.wait_refused, max_retry_wait=cap, exchanges=call.exchanges,
            client_request_id=call.client_request_id)
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


def new_request_id() -> str:
    """A random UUID (version 4) for ``x-ms-client-request-id``: an id to correlate, not a secret, so
    ``random`` rather than ``uuid.uuid4()``'s system call (a third of the cost, on every call)."""
    digits = f"{random.getrandbits(128):032x}"
    variant = "89ab"[int(digits[16], 16) & 3]  # RFC 4122's variant bits
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


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

