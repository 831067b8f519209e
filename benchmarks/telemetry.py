"""What OpenTelemetry costs a call: per-call median with tracing off vs on, and import time.

``python -m benchmarks.telemetry [-n CALLS]``. Three processes against one loopback server (benchmarks/loopback.py),
each making the same sequential chat calls with one ``Client``:
- off: the application never imports OpenTelemetry (rest_client then pays one dict lookup a call);
- api only: ``opentelemetry.trace`` imported, no provider set (the API's no-op tracer);
- sdk: an SDK TracerProvider with a BatchSpanProcessor into an exporter that drops spans, and a MeterProvider
  with an in-memory reader: what a traced application pays, minus its exporter's network.
Then the import time of ``rest_client`` with the extra installed (it imports nothing of OpenTelemetry).
Run by hand; numbers are ratios from one run on one machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

from .common import median
from .loopback import LoopbackServer

CHILD = textwrap.dedent("""
    import json, sys, time
    mode, endpoint, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode in ("api", "sdk"):
        import opentelemetry.trace
    if mode == "sdk":
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        class Drop(SpanExporter):
            def export(self, spans):
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Drop()))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    from rest_client import Client
    times = []
    with Client(endpoint=endpoint, api_key="k", deployment="gpt-4o-mini") as client:
        for i in range(calls + 100):
            t0 = time.perf_counter()
            client.chat("Once upon a time", max_tokens=20).text
            if i >= 100:
                times.append(time.perf_counter() - t0)
    print(json.dumps(times))
""")


def run(mode: str, endpoint: str, calls: int) -> list[float]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, endpoint, str(calls)], capture_output=True, text=True,
                         timeout=600, check=True)
    return json.loads(out.stdout)


def import_time(statement: str, runs: int = 9) -> float:
    code = f"import time; t=time.perf_counter(); {statement}; print(time.perf_counter()-t)"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return median([float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                        text=True).stdout) for _ in range(runs)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.telemetry", description=__doc__.splitlines()[0])
    p.add_argument("-n", "--calls", type=int, default=2000)
    args = p.parse_args(argv)
    server = LoopbackServer().start()
    try:
        results = {}
        for _ in range(2):  # two interleaved rounds per mode, medians of all calls
            for mode in ("off", "api", "sdk"):
                results.setdefault(mode, []).extend(run(mode, server.endpoint, args.calls // 2))
    finally:
        server.stop()
    off = median(results["off"])
    print("| tracing | median µs | × off |\n|---|---:|---:|")
    for mode in ("off", "api", "sdk"):
        value = median(results[mode])
        print(f"| {mode} | {value * 1e6:,.0f} | {value / off:.3f}× |")
    plain = import_time("import rest_client")
    otel = import_time("import opentelemetry.trace")
    print(f"\nimport rest_client: {plain * 1000:.1f} ms; import opentelemetry.trace (what an app pays itself): "
          f"{otel * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
