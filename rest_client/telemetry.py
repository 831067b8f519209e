"""OpenTelemetry GenAI spans and metrics for every call — only when the application already uses OpenTelemetry.

Why "already uses": rest_client never imports ``opentelemetry`` itself. When the application (or
``opentelemetry-instrument``) has imported ``opentelemetry.trace``, every call emits through the API it
configured; otherwise a call pays one dictionary lookup and nothing is imported. Only ``opentelemetry-api`` is
used (the ``rest_client[otel]`` extra); exporters and the SDK are the application's choice.

What is emitted follows the GenAI semantic conventions: one CLIENT span per call named
``"{gen_ai.operation.name} {deployment}"`` with the request parameters, the response model, id, finish reasons and
token usage, ``server.address``/``port``, ``error.type`` on failure; an event per attempt (status, the wait after
it and what set it, request ids); Azure's request ids, region and deployment as attributes. Metrics:
``gen_ai.client.operation.duration`` (s), ``gen_ai.client.token.usage`` ({token}, by ``gen_ai.token.type``) and,
for streams, ``gen_ai.client.operation.time_to_first_chunk`` (s). Message text is recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is true; keys and tokens never (bodies carry neither).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ._version import __version__
from .errors import RestClientError

T = TypeVar("T")

PROVIDER = "azure.ai.openai"
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
OPERATION_NAMES = {"chat/completions": "chat", "completions": "text_completion", "embeddings": "embeddings",
                   "responses": "chat"}
REQUEST_PARAMS = {"max_tokens": "gen_ai.request.max_tokens", "max_completion_tokens": "gen_ai.request.max_tokens",
                  "temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p",
                  "frequency_penalty": "gen_ai.request.frequency_penalty",
                  "presence_penalty": "gen_ai.request.presence_penalty", "seed": "gen_ai.request.seed",
                  "n": "gen_ai.request.choice.count"}
REQUEST_ID_HEADERS = ("apim-request-id", "x-request-id")
# Bucket boundaries the conventions recommend.
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = tuple(float(4 ** i) for i in range(14))

_lock = threading.Lock()
_instance: tuple[Any, Telemetry] | None = None


def current() -> Telemetry | None:
    """The telemetry for this process, or ``None`` when the application has not imported OpenTelemetry."""
    global _instance
    api = sys.modules.get("opentelemetry.trace")
    if api is None:
        return None
    found = _instance
    if found is not None and found[0] is api:
        return found[1]
    with _lock:
        if _instance is None or _instance[0] is not api:
            _instance = (api, Telemetry())
        return _instance[1]


def capture_content() -> bool:
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in ("1", "true", "yes")


class Telemetry:
    """The tracer and the three GenAI histograms, from whatever providers the application set."""

    def __init__(self) -> None:
        from opentelemetry import metrics, trace

        self.trace_api = trace
        self.tracer = trace.get_tracer("rest_client", __version__)
        meter = metrics.get_meter("rest_client", __version__)
        self.duration = _histogram(meter, "gen_ai.client.operation.duration", "s", "GenAI operation duration",
                                   DURATION_BUCKETS)
        self.tokens = _histogram(meter, "gen_ai.client.token.usage", "{token}",
                                 "Number of input and output tokens used", TOKEN_BUCKETS)
        self.first_chunk = _histogram(meter, "gen_ai.client.operation.time_to_first_chunk", "s",
                                      "Time to receive the first chunk of a streamed answer", DURATION_BUCKETS)

    def start_call(self, method: str, operation: str | None, deployment: str | None, url: str,
                   payload: Any, stream: bool) -> CallTrace:
        return CallTrace(self, method, operation, deployment, url, payload, stream)

    def start_run(self, kind: str, **attributes: Any) -> RunTrace:
        """A parent span for a bulk or batch run: the calls made through ``RunTrace.run`` become its children,
        whichever thread makes them."""
        attrs = {f"rest_client.{k}": v for k, v in attributes.items() if v is not None}
        span = self.tracer.start_span(f"rest_client.{kind}", kind=self.trace_api.SpanKind.INTERNAL, attributes=attrs)
        return RunTrace(self, span)


class RunTrace:
    """A run's span and the context that makes it the parent of calls made in worker threads."""

    def __init__(self, telemetry: Telemetry, span: Any) -> None:
        from opentelemetry import context

        self.span = span
        self._context_api = context
        self._context = telemetry.trace_api.set_span_in_context(span)

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` with the run's span current (a thread pool does not carry context by itself)."""
        token = self._context_api.attach(self._context)
        try:
            return fn(*args)
        finally:
            self._context_api.detach(token)

    def end(self, **attributes: Any) -> None:
        for key, value in attributes.items():
            if value is not None:
                self.span.set_attribute(f"rest_client.{key}", value)
        self.span.end()


def _histogram(meter: Any, name: str, unit: str, description: str, buckets: tuple[float, ...]) -> Any:
    try:
        return meter.create_histogram(name, unit=unit, description=description,
                                      explicit_bucket_boundaries_advisory=list(buckets))
    except TypeError:  # opentelemetry-api older than 1.23 has no advisory boundaries
        return meter.create_histogram(name, unit=unit, description=description)


class CallTrace:
    """One call's span and metric attributes, from its start to its answer (or, for a stream, its last chunk)."""

    def __init__(self, telemetry: Telemetry, method: str, operation: str | None, deployment: str | None, url: str,
                 payload: Any, stream: bool) -> None:
        self.telemetry = telemetry
        self.started = time.perf_counter()
        parts = urlsplit(url)
        self.operation_name = OPERATION_NAMES.get(operation or "", operation or method.lower())
        self.metric_attrs: dict[str, Any] = {"gen_ai.operation.name": self.operation_name,
                                             "gen_ai.provider.name": PROVIDER}
        attrs: dict[str, Any] = {"gen_ai.system": "az.ai.openai", "server.address": parts.hostname or "",
                                 "server.port": parts.port or (443 if parts.scheme == "https" else 80),
                                 "http.request.method": method}
        if deployment:
            self.metric_attrs["gen_ai.request.model"] = deployment
            attrs["azure.openai.deployment"] = deployment
        self.metric_attrs["server.address"] = attrs["server.address"]
        self.metric_attrs["server.port"] = attrs["server.port"]
        attrs.update(self.metric_attrs)
        if isinstance(payload, Mapping):
            attrs.update(_request_attributes(payload, stream))
        name = f"{self.operation_name} {deployment}" if deployment else f"{method} {parts.path}"
        self.span = telemetry.tracer.start_span(name, kind=telemetry.trace_api.SpanKind.CLIENT, attributes=attrs)
        self.recording = self.span.is_recording()
        self.stream = stream
        self.ended = False

    def attempt(self, exchange: Any, wait: float | None, source: str | None, client_request_id: str | None) -> None:
        """One event per attempt: what came back, the wait after it and what set that wait."""
        if not self.recording:
            return
        event: dict[str, Any] = {"rest_client.attempt": exchange.attempt}
        if exchange.status_code is not None:
            event["http.response.status_code"] = exchange.status_code
        if exchange.error:
            event["error.type"] = exchange.error.split(":")[0][:80]
        if exchange.request_id:
            event["azure.request_id"] = exchange.request_id
        if client_request_id:
            event["azure.client_request_id"] = client_request_id
        if wait is not None:
            event["rest_client.wait_s"] = wait
            event["rest_client.wait_source"] = source or "backoff"
        self.span.add_event("rest_client.attempt", event)

    def answered(self, result: Any) -> None:
        """Response attributes from a successful answer; a stream's span stays open until ``finish``."""
        self._response_headers(result.headers, result.status_code, result.client_request_id)
        if self.stream:
            return
        body = None
        if self.recording or self.operation_name in ("chat", "text_completion", "embeddings"):
            try:
                body = result.json()
            except RestClientError:  # a body we cannot read is not telemetry's error to raise
                body = None
        self.finish(body if isinstance(body, Mapping) else None)

    def first_chunk(self) -> None:
        elapsed = time.perf_counter() - self.started
        self.telemetry.first_chunk.record(elapsed, self.metric_attrs)
        if self.recording:
            self.span.set_attribute("gen_ai.response.time_to_first_chunk", elapsed)

    def finish(self, body: Mapping[str, Any] | None, *, finish_reasons: list[str] | None = None,
               usage: Mapping[str, Any] | None = None, text: str | None = None) -> None:
        """End the span and record the metrics, with what the answer said (its body, or a stream's summary)."""
        if self.ended:
            return
        self.ended = True
        if body is not None:
            usage = usage or (body.get("usage") if isinstance(body.get("usage"), Mapping) else None)
            if finish_reasons is None:
                finish_reasons = [str(c.get("finish_reason")) for c in body.get("choices") or []
                                  if isinstance(c, Mapping) and c.get("finish_reason")]
            if isinstance(body.get("model"), str):
                self.metric_attrs["gen_ai.response.model"] = body["model"]
            if self.recording and isinstance(body.get("id"), str):
                self.span.set_attribute("gen_ai.response.id", body["id"])
            if text is None and capture_content():
                text = json.dumps(body.get("choices") or [], ensure_ascii=False)[:16384]
        if self.recording:
            if "gen_ai.response.model" in self.metric_attrs:
                self.span.set_attribute("gen_ai.response.model", self.metric_attrs["gen_ai.response.model"])
            if finish_reasons:
                self.span.set_attribute("gen_ai.response.finish_reasons", finish_reasons)
            if text is not None and capture_content():
                self.span.set_attribute("gen_ai.output.messages", text)
        self._usage(usage)
        self.telemetry.duration.record(time.perf_counter() - self.started, self.metric_attrs)
        self.span.end()

    def failed(self, error: BaseException) -> None:
        """End the span as an error: ``error.type`` is the status code for an API error, else the class name."""
        if self.ended:
            return
        self.ended = True
        status = getattr(error, "status_code", None)
        error_type = str(status) if isinstance(status, int) else type(error).__name__
        self.metric_attrs["error.type"] = error_type
        headers = getattr(error, "headers", None)
        if isinstance(headers, Mapping) and isinstance(status, int):
            self._response_headers(headers, status, getattr(error, "client_request_id", None))
        if self.recording:
            self.span.set_attribute("error.type", error_type)
            code = getattr(error, "code", None)
            if code:
                self.span.set_attribute("azure.error.code", str(code))
            self.span.set_status(self.telemetry.trace_api.Status(self.telemetry.trace_api.StatusCode.ERROR,
                                                                 str(error)[:500]))
        self.telemetry.duration.record(time.perf_counter() - self.started, self.metric_attrs)
        self.span.end()

    def _response_headers(self, headers: Mapping[str, str], status: int, client_request_id: str | None) -> None:
        if not self.recording:
            return
        self.span.set_attribute("http.response.status_code", status)
        for name in REQUEST_ID_HEADERS:
            value = headers.get(name)
            if value:
                self.span.set_attribute(f"http.response.header.{name}", [value])
        if client_request_id:
            self.span.set_attribute("http.request.header.x-ms-client-request-id", [client_request_id])
        region = headers.get("x-ms-region")
        if region:
            self.span.set_attribute("cloud.region", region)

    def _usage(self, usage: Mapping[str, Any] | None) -> None:
        if not usage:
            return
        counts = {"input": usage.get("prompt_tokens", usage.get("input_tokens")),
                  "output": usage.get("completion_tokens", usage.get("output_tokens"))}
        for kind, count in counts.items():
            if isinstance(count, int) and not isinstance(count, bool):
                if self.recording:
                    self.span.set_attribute(f"gen_ai.usage.{kind}_tokens", count)
                self.telemetry.tokens.record(count, {**self.metric_attrs, "gen_ai.token.type": kind})


def _request_attributes(payload: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for key, name in REQUEST_PARAMS.items():
        value = payload.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[name] = value
    stop = payload.get("stop")
    if isinstance(stop, str):
        attrs["gen_ai.request.stop_sequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        attrs["gen_ai.request.stop_sequences"] = stop
    if stream:
        attrs["gen_ai.request.stream"] = True
    if capture_content():
        messages = payload.get("messages", payload.get("prompt", payload.get("input")))
        if messages is not None:
            attrs["gen_ai.input.messages"] = json.dumps(messages, ensure_ascii=False, default=str)[:16384]
    return attrs
