"""OpenTelemetry GenAI spans and metrics, read back with the SDK's in-memory exporter and metric reader.

The providers are set once per process (OpenTelemetry allows that only once), by the ``otel`` fixture, so
modules collected earlier never see OpenTelemetry imported; each test clears what was exported before it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from rest_client import Client, NotFoundError, RateLimitError
from rest_client.emulator import Emulator

pytest.importorskip("opentelemetry.sdk")

_PROVIDERS: dict[str, Any] = {}


@pytest.fixture
def otel() -> Any:
    """(span exporter, metric reader), installed as the global providers on first use."""
    if not _PROVIDERS:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _PROVIDERS.update(exporter=exporter, reader=reader)
    _PROVIDERS["exporter"].clear()
    _PROVIDERS["reader"].get_metrics_data()  # drain: cumulative points from earlier tests stay, we compare deltas
    return _PROVIDERS["exporter"], _PROVIDERS["reader"]


def client_for(emu: Emulator, **kw: Any) -> Client:
    return Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment,
                  completions_deployment=emu.completions_deployment, **kw)


def metric_points(reader: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend((metric.unit, p) for p in metric.data.data_points)
    return found


def test_chat_span_has_the_genai_attributes(otel, emu) -> None:
    exporter, reader = otel
    with client_for(emu) as client:
        result = client.chat("Once upon a time", max_tokens=12, temperature=0.5, top_p=0.9, seed=3, stop=["\n"])
    (span,) = exporter.get_finished_spans()
    attrs = dict(span.attributes)
    body = result.json()
    assert span.name == f"chat {emu.chat_deployment}" and span.kind.name == "CLIENT"
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == "azure.ai.openai"
    assert attrs["gen_ai.request.model"] == emu.chat_deployment == attrs["azure.openai.deployment"]
    assert attrs["gen_ai.request.max_tokens"] == 12 and attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.request.top_p"] == 0.9 and attrs["gen_ai.request.seed"] == 3
    assert list(attrs["gen_ai.request.stop_sequences"]) == ["\n"]
    assert attrs["gen_ai.response.model"] == body["model"] and attrs["gen_ai.response.id"] == body["id"]
    assert list(attrs["gen_ai.response.finish_reasons"]) == [body["choices"][0]["finish_reason"]]
    assert attrs["gen_ai.usage.input_tokens"] == body["usage"]["prompt_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == body["usage"]["completion_tokens"]
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == emu.port
    assert list(attrs["http.response.header.apim-request-id"]) == [result.request_id]
    assert list(attrs["http.request.header.x-ms-client-request-id"]) == [result.client_request_id]
    assert attrs["cloud.region"] == result.headers["x-ms-region"] and attrs["http.response.status_code"] == 200
    assert "gen_ai.input.messages" not in attrs and "gen_ai.output.messages" not in attrs  # no opt-in
    (event,) = span.events
    assert event.name == "rest_client.attempt" and event.attributes["http.response.status_code"] == 200
    points = metric_points(reader)
    (unit, duration), = points["gen_ai.client.operation.duration"]
    assert unit == "s" and duration.count == 1 and duration.attributes["gen_ai.operation.name"] == "chat"
    tokens = {p.attributes["gen_ai.token.type"]: (u, p) for u, p in points["gen_ai.client.token.usage"]}
    assert tokens["input"][0] == "{token}" and tokens["input"][1].sum == body["usage"]["prompt_tokens"]
    assert tokens["output"][1].sum == body["usage"]["completion_tokens"]
    assert tokens["output"][1].attributes["gen_ai.response.model"] == body["model"]


def test_completions_and_embeddings_operation_names(otel, emu) -> None:
    exporter, _ = otel
    with client_for(emu) as client:
        client.complete("Once upon a time", max_tokens=5)
        client.post("embeddings", {"input": "hello"}, deployment=emu.embeddings_deployment)
    names = sorted(span.name for span in exporter.get_finished_spans())
    assert names == sorted([f"text_completion {emu.completions_deployment}",
                            f"embeddings {emu.embeddings_deployment}"])


def test_stream_span_ends_at_the_last_chunk_with_time_to_first_chunk(otel, emu) -> None:
    exporter, reader = otel
    with client_for(emu) as client:
        stream = client.stream_chat("Tell me a story", max_tokens=20, stream_options={"include_usage": True})
        first = next(stream)
        assert first and exporter.get_finished_spans() == ()  # still open while the stream is read
        rest = "".join(stream)
    (span,) = exporter.get_finished_spans()
    attrs = dict(span.attributes)
    assert attrs["gen_ai.request.stream"] is True and attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert list(attrs["gen_ai.response.finish_reasons"]) == [stream.finish_reason]
    assert attrs["gen_ai.usage.output_tokens"] == stream.usage["completion_tokens"] and rest
    (unit, point), = metric_points(reader)["gen_ai.client.operation.time_to_first_chunk"]
    assert unit == "s" and point.count == 1


def test_retried_call_records_each_attempt_and_its_wait(otel, emu) -> None:
    exporter, _ = otel
    emu.add_fault("unavailable", retry_after=0.05)
    with client_for(emu) as client:
        client.chat("hi", max_tokens=3)
    (span,) = exporter.get_finished_spans()
    first, second = span.events
    assert first.attributes["http.response.status_code"] == 503 and first.attributes["rest_client.wait_s"] > 0
    assert first.attributes["rest_client.wait_source"] in ("retry-after-ms", "retry-after")
    assert second.attributes["http.response.status_code"] == 200 and "rest_client.wait_s" not in second.attributes


def test_errors_set_error_type_and_status(otel, emu) -> None:
    exporter, reader = otel
    emu.add_fault("rate_limit", retry_after=600)
    with client_for(emu) as client:
        with pytest.raises(RateLimitError):
            client.chat("hi", max_tokens=3)
        with pytest.raises(NotFoundError):
            client.chat("hi", deployment="nope")
    spans = {span.name: span for span in exporter.get_finished_spans()}
    limited = spans[f"chat {emu.chat_deployment}"]
    assert limited.attributes["error.type"] == "429" and limited.status.status_code.name == "ERROR"
    missing = spans["chat nope"]
    assert missing.attributes["error.type"] == "404" and missing.attributes["azure.error.code"] == "DeploymentNotFound"
    types = {p.attributes.get("error.type") for _, p in metric_points(reader)["gen_ai.client.operation.duration"]}
    assert {"429", "404"} <= types


def test_message_content_only_with_the_opt_in(otel, emu, monkeypatch) -> None:
    exporter, _ = otel
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    with client_for(emu) as client:
        result = client.chat("The secret word is pineapple", max_tokens=8)
    (span,) = exporter.get_finished_spans()
    assert "pineapple" in span.attributes["gen_ai.input.messages"]
    assert result.text in json.loads(span.attributes["gen_ai.output.messages"])[0]["message"]["content"]
    dumped = json.dumps([dict(span.attributes), [dict(e.attributes) for e in span.events]], default=str)
    assert emu.api_key not in dumped


def test_nothing_is_imported_or_emitted_without_opentelemetry(emu, tmp_path) -> None:
    """A process where opentelemetry cannot be imported: calls work and nothing of it is loaded."""
    script = textwrap.dedent(f"""
        import sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Hide())
        from rest_client import Client
        with Client(endpoint={emu.endpoint!r}, api_key={emu.api_key!r}, deployment={emu.chat_deployment!r}) as c:
            assert c.chat("hi", max_tokens=3).text
            assert "".join(c.stream_chat("hi", max_tokens=3))
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_installed_but_unused_opentelemetry_is_not_imported(emu) -> None:
    """Installed (it is, in the dev environment) but not imported by the application: rest_client leaves it be."""
    script = (f"import sys\nfrom rest_client import Client\n"
              f"with Client(endpoint={emu.endpoint!r}, api_key={emu.api_key!r}, deployment={emu.chat_deployment!r})"
              " as c:\n    c.chat('hi', max_tokens=3)\n"
              "print(any(m.startswith('opentelemetry') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_bulk_run_is_the_parent_of_its_calls(otel, emu) -> None:
    from rest_client.bulk import BulkRun

    exporter, _ = otel
    with client_for(emu) as client:
        results = list(BulkRun(client, [f"prompt {i}" for i in range(6)], concurrency=3))
    assert len(results) == 6 and all(r.ok for r in results)
    spans = exporter.get_finished_spans()
    (run,) = [s for s in spans if s.name == "rest_client.bulk"]
    calls = [s for s in spans if s.name == f"chat {emu.chat_deployment}"]
    assert len(calls) == 6 and run.attributes["rest_client.items"] == 6
    assert all(c.parent is not None and c.parent.span_id == run.context.span_id for c in calls)
    assert all(c.context.trace_id == run.context.trace_id for c in calls)


def test_cli_otel_console_prints_the_span_on_stderr_and_the_answer_alone_on_stdout(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "rest_client", "--emulator", "--otel", "console", "--max-tokens", "5",
                          "Hi"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() and "{" not in out.stdout  # the answer only
    assert '"name": "chat gpt-4o-mini"' in out.stderr and '"gen_ai.provider.name": "azure.ai.openai"' in out.stderr
    assert '"name": "gen_ai.client.operation.duration"' in out.stderr  # metrics flushed at exit


def test_cli_otel_otlp_without_the_exporter_is_one_clear_line(tmp_path) -> None:
    script = ("import sys\nclass Hide:\n    def find_spec(self, name, path=None, target=None):\n"
              "        if name.startswith('opentelemetry.exporter'):\n            raise ModuleNotFoundError(name)\n"
              "sys.meta_path.insert(0, Hide())\nfrom rest_client.cli import main\n"
              "raise SystemExit(main(['--emulator', '--otel', 'otlp', 'Hi']))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert "error: --otel needs the OpenTelemetry SDK: pip install opentelemetry-sdk" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_batch_run_is_the_parent_of_its_calls(otel, tmp_path) -> None:
    from rest_client.batch import run_batch

    exporter, _ = otel
    fast = {"validating_seconds": 0.05, "lines_per_second": 2000, "finalizing_seconds": 0.05}
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"custom_id": f"r{i}", "prompt": f"p{i}"}) + "\n" for i in range(3)))
    with Emulator(batch_settings=fast) as emu, \
            Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.batch_deployment) as client:
        outcome = run_batch(client, source, target, deployment=emu.batch_deployment, poll_first=0.05, poll_max=0.1)
    assert outcome.ok == 3
    spans = exporter.get_finished_spans()
    (run,) = [s for s in spans if s.name == "rest_client.batch"]
    calls = [s for s in spans if s.name != "rest_client.batch"]
    assert run.attributes["rest_client.status"] == "completed" and run.attributes["rest_client.ok"] == 3
    assert len(calls) >= 4 and {s.name.split()[0] for s in calls} <= {"POST", "GET"}  # upload, create, polls, files
    assert all(c.parent is not None and c.parent.span_id == run.context.span_id for c in calls)
