"""The inference pipeline: one request in, one planned reply out, in the order the service checks things.

Order: route (path, api-version) → authentication → JSON body → deployment → operation supported by its
model → payload validation → pending fault → rate limit → generated answer. Every answer carries the
service's headers (``apim-request-id``, ``x-request-id``, ``x-ms-region``, …) and ``x-emulator``; once the
deployment is known, also ``x-ms-deployment-name`` and the ``x-ratelimit-*`` headers.

The service gets the narrow state it reads (deployments, auth, tunables, journal, limiter, faults, the stop
event), never the whole ``Emulator``: what it can touch is visible in its constructor, and it can be built
and tested on its own.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from . import (
    chat_extras,
    embedding_limits,
    error_shapes,
    output_filter,
    responses,
    routes,
    service_errors,
    spillover,
    validation,
)
from .deployments import Deployment
from .faults import OUTPUT_FILTER, Fault, FaultQueue
from .identity import Auth
from .journal import Journal, new_entry
from .modes import Modes
from .ratelimit import Decision, RateLimiter, limit_headers, shape_429
from .routes import Params, Route
from .service_errors import ServiceError
from .textgen import NATURAL_MAX_TOKENS, Generated, generate, unit_vector
from .tunables import Tunables
from .versions import CHAT, COMPLETIONS, EMBEDDINGS, OPERATION_IDS
from .wire import RESET, SSE_TYPE, TRUNCATE, Reply, Request, StreamReply, json_reply

EMULATOR_HEADER = ("x-emulator", "rest_client")


def fault_reply(fault: Fault, headers: dict[str, str], *, operation_id: str, api_version: str,
                tokens: bool = True, model: str = "") -> Reply | None:
    """The reply an injected fault stands in for, the same on every route; None when the request goes on.
    ``model``: the deployment's model, named by the wordings that name it (the deployment and region are read
    from ``headers``, as the answer carries them)."""
    if fault.kind == "reset":
        return Reply(0, headers, action=RESET)
    if fault.kind == "status":
        status, merged = fault.status or 500, {**headers, **fault.headers}
        if fault.body is None:
            return _error_reply(service_errors.generic_status(status), merged)
        if isinstance(fault.body, str):
            return Reply(status, {"Content-Type": "application/json", **merged}, fault.body.encode())
        return json_reply(status, fault.body, merged)
    error = service_errors.fault_error(fault.kind, fault.categories, fault.retry_after, operation_id, api_version,
                                       tokens=tokens)
    if error is None:
        deployment = headers.get("x-ms-deployment-name", "")
        error = error_shapes.fault_shape(fault.kind, fault.retry_after, operation_id=operation_id,
                                         api_version=api_version, model=model or deployment, deployment=deployment,
                                         region=headers.get("x-ms-region", ""))
    return None if error is None else _error_reply(error, {**headers, **fault.headers})


def request_context(request: Request, region: str, *,
                    x_request_id: bool = True) -> tuple[dict[str, str], dict[str, Any]]:
    """The headers every answer carries (ids, region, the emulator's name) and the request's log entry."""
    headers = {"apim-request-id": str(uuid.uuid4())}
    if x_request_id:
        headers["x-request-id"] = str(uuid.uuid4())
    headers.update({"x-ms-region": region, "x-content-type-options": "nosniff",
                    EMULATOR_HEADER[0]: EMULATOR_HEADER[1]})
    client_request_id = request.header("x-ms-client-request-id")
    # Every answer carries one: the caller's, else one made up here, as the 2024 recordings show (later ones
    # omit it, or say "Not-Set" on v1: a client must not rely on it either way).
    headers["x-ms-client-request-id"] = client_request_id or str(uuid.uuid4())
    entry = new_entry(id=headers["apim-request-id"], time=time.time(), method=request.method, path=request.path,
                      query=dict(request.query), client_request_id=client_request_id, stream=False)
    return headers, entry


MAX_EMBEDDING_DIMENSIONS = 3072


class InferenceService:
    """Answers ``/openai/...`` requests for one emulator."""

    def __init__(
        self,
        *,
        deployments: Mapping[str, Deployment],
        auth: Auth,
        tunables: Tunables,
        journal: Journal,
        limiter: RateLimiter,
        faults: FaultQueue,
        stopping: threading.Event,
        modes: Modes | None = None,
    ) -> None:
        self.deployments = deployments  # the emulator's own mapping: read per request, never copied
        self.auth = auth
        self.modes = modes if modes is not None else auth.modes  # validation and the asynchronous filter
        self.tunables = tunables
        self.journal = journal
        self.limiter = limiter
        self.faults = faults
        self.stopping = stopping  # set when the emulator stops: cuts fault delays short

    def handle(self, request: Request) -> Reply | StreamReply:
        """Answer one inference request and record it in the journal."""
        started = time.perf_counter()
        headers, entry = request_context(request, self.tunables.region)
        self.journal.count("requests")
        reply = self._process(request, headers, entry)
        elapsed_ms = (time.perf_counter() - started) * 1000
        reply.headers["openai-processing-ms"] = f"{elapsed_ms:.4f}"
        reset = isinstance(reply, Reply) and reply.action == RESET
        entry["status"] = None if reset else reply.status
        entry["duration_ms"] = round(elapsed_ms, 3)
        self.journal.record(entry)
        return reply

    def _process(self, request: Request, headers: dict[str, str], entry: dict[str, Any]) -> Reply | StreamReply:
        route = routes.match(request.method, request.path, request.query)
        if isinstance(route, ServiceError):
            return _error_reply(route, headers)
        entry["operation"], entry["api_version"] = route.operation, route.api_version
        auth_error = self._authenticate(request, route, entry)
        if auth_error is not None:
            return _error_reply(auth_error, headers)
        payload = routes.parse_payload(request.body)
        if isinstance(payload, ServiceError):
            return _error_reply(payload, headers)
        entry["body"] = payload
        entry["stream"] = payload.get("stream") is True
        name = route.deployment if not route.v1 else payload.get("model")
        if route.v1 and not isinstance(name, str):
            return _error_reply(service_errors.missing_parameter("model"), headers)
        entry["deployment"] = name
        deployment = self.deployments.get(name) if isinstance(name, str) else None
        if deployment is None:
            return _error_reply(error_shapes.unknown_deployment(str(name), v1=route.v1, modes=self.modes), headers)
        headers["x-ms-deployment-name"] = deployment.name
        params = self._check(route, deployment, payload)
        if isinstance(params, ServiceError):
            headers.update(limit_headers(deployment, self.limiter.remaining(deployment),
                                         self.tunables.rate_limit_headers))
            return _error_reply(params, headers)
        fault = self.faults.take(deployment.name)
        if fault is not None:
            entry["fault"] = fault.kind
            self.journal.count("faults")
            if fault.delay and self.stopping.wait(fault.delay):
                return Reply(0, headers, action=RESET)  # the emulator is stopping: drop the connection
            faulted = self._fault_reply(fault, route, deployment, headers)
            if faulted is not None:
                return faulted
        cost = _token_cost(route.operation, params)
        decision = self.limiter.admit(deployment, cost)
        profile = self.tunables.rate_limit_headers  # read once: one answer, one profile
        headers.update(limit_headers(deployment, decision, profile))
        spilled = None if decision.allowed else spillover.spill(
            request.header(spillover.REQUEST_HEADER), deployment, route.operation, cost, self.deployments,
            self.limiter, headers, profile)
        if spilled is not None:  # full, and the request named a deployment to spill over to (spillover.py)
            deployment, decision = spilled
            entry["deployment"] = deployment.name
        if not decision.allowed:
            self.journal.count("rate_limited")
            error = service_errors.rate_limited(
                OPERATION_IDS[route.operation], route.api_version, decision.retry_after, tokens=decision.tokens_exceeded
            )
            return _error_reply(shape_429(error, decision, profile), headers)
        if deployment.latency and self.stopping.wait(deployment.latency):  # the model generating (Deployment)
            return Reply(0, headers, action=RESET)  # the emulator is stopping: drop the connection
        shaped = chat_extras.answer(route, deployment.model, payload, params, self.tunables.seed)  # tools, schema
        if shaped is None:
            cut = fault if fault is not None and fault.kind == OUTPUT_FILTER else None
            reply = self._answer(route, deployment, params, headers, cut)
        else:
            reply = self._stream(shaped, headers) if isinstance(shaped, list) else json_reply(200, shaped, headers)
        if fault is not None and fault.kind == "truncate":
            if isinstance(reply, StreamReply):
                events = list(reply.events)
                reply.events, reply.truncate_after = events, len(events) // 2
            else:
                reply.action = TRUNCATE
        return reply

    def _authenticate(self, request: Request, route: Route, entry: dict[str, Any]) -> ServiceError | None:
        return self.auth.check(request, v1=route.v1, entry=entry)

    def _check(self, route: Route, deployment: Deployment, payload: dict[str, Any]) -> Params | ServiceError:
        if deployment.is_batch:
            return service_errors.batch_deployment_called_directly(route.operation, deployment.name)
        if route.operation not in deployment.operations:
            return service_errors.operation_not_supported(route.operation, deployment.model)
        refused = chat_extras.check(route, deployment.model, payload)  # reasoning, structured outputs
        if refused is not None:
            return refused
        params = routes.read_params(route.operation, payload)
        if isinstance(params, Params) and params.dimensions > MAX_EMBEDDING_DIMENSIONS:
            return service_errors.invalid_value(
                "dimensions", f"expected a value <= {MAX_EMBEDDING_DIMENSIONS}, but got {params.dimensions} instead."
            )
        if isinstance(params, Params) and route.operation == EMBEDDINGS:  # 2048 inputs, 300k tokens a request
            refused = embedding_limits.check(payload.get("input"), params.texts)
            if refused is not None:
                return refused
        if isinstance(params, Params) and self.modes.validation:
            refused = validation.validate(route.operation, payload, deployment.model, params.prompt_tokens,
                                          params.max_tokens, len(params.texts))
            if refused is not None:
                return refused
        return params

    def answer_batch_line(self, deployment: Deployment, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Status and body for one line of a batch job: the same checks, generator and body as a synchronous
        chat call to that model, so batch output is indistinguishable from direct answers. Never streamed
        (UNCERTAIN: a line asking ``"stream": true`` is answered as a plain completion)."""
        params = routes.read_params(CHAT, payload)
        if isinstance(params, ServiceError):
            return params.status, params.body
        body = responses.chat_completion(
            responses.new_id("chatcmpl-"),
            int(time.time()),
            deployment.answer_model,
            self._generate(params),
            params.prompt_tokens,
            params.top_logprobs,
        )
        return 200, body

    def _generate(self, params: Params) -> list[Generated]:
        """The choices for ``params``: ``n`` per prompt text, deterministic for the emulator's seed."""
        seed = self.tunables.seed * 2**32 + params.seed
        return [
            generate(text, seed=seed, index=index, max_tokens=params.max_tokens, stop=params.stop)
            for text in params.texts
            for index in range(params.n)
        ]

    def _fault_reply(self, fault: Fault, route: Route, deployment: Deployment, headers: dict[str, str]) -> Reply | None:
        """The reply a fault stands in for; None when the request goes on (delay, truncate)."""
        if fault.kind == "rate_limit":  # as the limiter answers when the token budget is spent: remaining at 0
            headers.update(limit_headers(deployment, Decision(False, fault.retry_after or 1.0, True, 0, 0)))
        return fault_reply(fault, headers, operation_id=OPERATION_IDS[route.operation], api_version=route.api_version,
                           model=deployment.model)

    def _answer(
        self, route: Route, deployment: Deployment, params: Params, headers: dict[str, str], cut: Fault | None = None
    ) -> Reply | StreamReply:
        """Generate the answer: chat, completions (one set of n choices per prompt) or embeddings. ``cut``: a
        ``content_filter_output`` fault, which stops each choice halfway (output_filter.py)."""
        if route.operation not in (CHAT, COMPLETIONS):
            vectors = [unit_vector(text, params.dimensions, seed=self.tunables.seed) for text in params.texts]
            body = responses.embeddings(deployment.answer_model, vectors, params.prompt_tokens, params.encoding_format)
            return json_reply(200, body, headers)
        choices = self._generate(params)
        if cut is not None:
            choices = output_filter.cut_choices(choices)
        categories = cut.categories if cut is not None else None
        prompt_tokens = params.prompt_tokens
        created = int(time.time())
        model, top = deployment.answer_model, params.top_logprobs
        # The Asynchronous Filter changes streams only: the flagged words, or None for the default filter.
        async_filter = tuple(self.modes.flagged_words) if self.modes.async_filter else None
        if route.operation == CHAT:
            completion_id = responses.new_id("chatcmpl-")
            if params.stream:
                events = responses.chat_stream(completion_id, created, model, choices, prompt_tokens,
                                               include_usage=params.include_usage, top_logprobs=top,
                                               async_filter=async_filter)
                return self._stream(output_filter.mark_stream(events, categories) if cut else events, headers)
            body = responses.chat_completion(completion_id, created, model, choices, prompt_tokens, top)
            return json_reply(200, output_filter.mark_body(body, categories), headers)
        completion_id = responses.new_id("cmpl-")
        if params.stream:
            events = responses.completion_stream(completion_id, created, model, choices, prompt_tokens,
                                                 prompt_count=len(params.texts), include_usage=params.include_usage,
                                                 top_logprobs=top, async_filter=async_filter)
            return self._stream(output_filter.mark_stream(events, categories) if cut else events, headers)
        body = responses.text_completion(completion_id, created, model, choices, prompt_tokens, len(params.texts), top)
        return json_reply(200, output_filter.mark_body(body, categories), headers)

    def _stream(self, events: Iterable[str], headers: dict[str, str]) -> StreamReply:
        self.journal.count("streams")
        return StreamReply(200, {"Content-Type": SSE_TYPE, **headers}, events, delay=self.tunables.stream_delay)


def _token_cost(operation: str, params: Params) -> int:
    """Tokens charged up front: prompt estimate plus max_tokens (or its default) for every choice."""
    if operation not in (CHAT, COMPLETIONS):
        return params.prompt_tokens
    per_choice = params.max_tokens if params.max_tokens is not None else NATURAL_MAX_TOKENS
    return params.prompt_tokens + per_choice * params.n * len(params.texts)


def _error_reply(error: ServiceError, headers: dict[str, str]) -> Reply:
    return json_reply(error.status, error.body, {**headers, **error.headers}, reason=error.reason)
