"""``--otel console|otlp``: the CLI as an OpenTelemetry-traced application, for one command.

Why in the CLI only: the library never configures OpenTelemetry (that is the application's choice, see
telemetry.py); a command-line user has no application to do it, so this sets up the SDK's providers for the
command's lifetime and flushes them on exit. ``console`` writes spans (and metrics) as JSON to stderr;
``otlp`` sends them to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the SDK's own variables apply).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TextIO

from .._version import __version__
from ..errors import ConfigError

KINDS = ("console", "otlp")
INSTALL = ("--otel needs the OpenTelemetry SDK: pip install opentelemetry-sdk (and opentelemetry-exporter-otlp "
           "for --otel otlp)")


def _exporters(kind: str, err: TextIO) -> tuple[Any, Any]:
    """(span exporter, metric exporter) for ``kind``; a missing package is one clear ConfigError."""
    try:
        if kind == "console":
            from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            return ConsoleSpanExporter(out=err), ConsoleMetricExporter(out=err)
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(), OTLPMetricExporter()
    except ImportError:
        raise ConfigError(INSTALL) from None


@contextlib.contextmanager
def otel_session(kind: str | None, err: TextIO) -> Iterator[None]:
    """With ``kind``: SDK tracer and meter providers for the command, flushed and shut down at its end."""
    if not kind:
        yield
        return
    try:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigError(INSTALL) from None
    span_exporter, metric_exporter = _exporters(kind, err)
    resource = Resource.create({"service.name": "rest_client-cli", "service.version": __version__})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    meter_provider = MeterProvider(resource=resource, metric_readers=[
        PeriodicExportingMetricReader(metric_exporter, export_interval_millis=60_000)])
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    try:
        yield
    finally:
        tracer_provider.shutdown()  # flushes the spans
        meter_provider.shutdown()  # exports the metrics once more
