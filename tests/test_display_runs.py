"""Notebook displays of settings, tokens, bulk runs and batches, and the live ones (a stream growing in one
output area, a batch's polls), read back as a browser would (tests/html_page.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from rest_client import Client, RestClientError, TokenStatus, load_settings
from rest_client.bulk import RecordingPacer, SendLog, run_bulk_file
from rest_client.claims import decode_claims
from rest_client.display import BatchStatus, BatchWatch, BulkProgress, compare_sends, display_stream, headers_table
from rest_client.emulator import Deployment, Emulator
from tests.html_page import Page

KEY = "cfg-key-5b1e0c7d9a2f4e68b3c1"


def jwt(payload: dict[str, Any]) -> str:
    def seg(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{seg({'alg': 'RS256', 'typ': 'JWT'})}.{seg(payload)}.signature-part"


def test_settings_show_each_value_with_the_source_that_won_and_no_secret(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"AZURE_OPENAI_ENDPOINT": "https://from-file.openai.azure.com",
                                  "CHATGPT_MODEL": "chat-from-file", "AZURE_OPENAI_API_KEY": KEY}), encoding="utf-8")
    settings = load_settings(config, environ={"AZURE_OPENAI_ENDPOINT": "https://from-env.openai.azure.com"},
                             max_retries=5)
    markup = settings._repr_html_()
    rows = {row[0]: row[1:] for row in Page(markup).rows()}
    assert rows["endpoint"] == ["https://from-env.openai.azure.com", "environment variable AZURE_OPENAI_ENDPOINT"]
    assert rows["deployment"] == ["chat-from-file", f"{config} key CHATGPT_MODEL"]
    assert rows["api_key"] == ["***", f"{config} key AZURE_OPENAI_API_KEY"]
    assert rows["max_retries"] == ["5", "argument max_retries"]
    assert rows["auth"][0].startswith("key")
    assert KEY not in markup and KEY[4:16] not in markup


def test_settings_built_directly_name_arguments_not_defaults_for_what_was_given() -> None:
    from rest_client import Settings

    rows = {row[0]: row[1:] for row in Page(Settings("https://x.openai.azure.com", api_key=KEY, auth="key",
                                                     max_retries=7)._repr_html_()).rows()}
    assert rows["max_retries"] == ["7", "argument max_retries"] and rows["api_key"] == ["***", "argument api_key"]
    assert rows["connect_timeout"] == ["5.0", "default"] and rows["endpoint"][1] == "argument endpoint"


def test_a_token_status_shows_source_lifetime_and_claims_but_never_the_token() -> None:
    now = 1_700_000_000.0
    token = jwt({"aud": "https://cognitiveservices.azure.com", "tid": "tenant-1", "upn": "ada@contoso.com",
                 "roles": ["Cognitive Services OpenAI User"], "exp": now + 3540})
    status = TokenStatus("AzureCliCredential", 3540.0, 3240.0, 2, 0.812, decode_claims(token))
    page = Page(status._repr_html_())
    assert "valid for 59 min 0 s" in page.text and "from AzureCliCredential" in page.text
    assert "fetched in 812 ms" in page.text and "2 credential calls" in page.text
    rows = {row[0]: row[1] for row in page.rows()}
    assert rows["aud"] == "https://cognitiveservices.azure.com Azure OpenAI's audience"
    assert rows["upn (user)"] == "ada@contoso.com" and rows["roles"] == "Cognitive Services OpenAI User"
    payload = token.split(".")[1]
    assert payload[:20] not in status._repr_html_()


def test_an_expired_token_for_the_wrong_audience_says_both() -> None:
    claims = decode_claims(jwt({"aud": "https://management.azure.com", "exp": 1_700_000_000}))
    page = Page(TokenStatus("ManagedIdentityCredential", -90.0, -400.0, 1, 0.0, claims)._repr_html_())
    assert "expired 1 min 30 s ago" in page.text
    assert "not https://cognitiveservices.azure.com: Azure OpenAI answers 401" in page.text


def test_a_plain_requests_response_headers_get_the_legend_and_no_credential() -> None:
    page = Page(headers_table({"apim-request-id": "abc", "api-key": KEY, "x-ms-region": "Sweden Central"})
                ._repr_html_())
    rows = {row[0]: row[1:] for row in page.rows()}
    assert rows["apim-request-id"] == ["abc", "the id to quote to Azure support"]
    assert rows["x-ms-region"] == ["Sweden Central", "the region that answered"]
    assert rows["api-key"][0] == "***"


def test_send_log_counts_each_sends_window_including_itself() -> None:
    log = SendLog.from_pairs([(10.5, 200), (10.0, 200), (11.0, 429), (11.2, 200)], limit=2, window=1.0)
    assert log.times == pytest.approx([0.0, 0.5, 1.0, 1.2]) and log.statuses == [200, 200, 429, 200]
    assert log.in_window() == [1, 2, 2, 3] and log.rate_limited == 1
    assert repr(log) == "SendLog(4 sends, 1 answered 429, limit=2, window=1.0)"


@pytest.fixture
def tight():
    """A deployment allowing 10 requests per half second: a 40-line run meets its limit."""
    with Emulator(deployments=[Deployment("tight", "gpt-4o-mini", kind="chat", rpm=1200, window=0.5)]) as emu:
        yield emu


def test_a_bulk_summary_is_a_table_with_failures_by_cause_and_the_sends_against_the_limit(tight, tmp_path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [json.dumps({"custom_id": f"q{i}", "prompt": f"n {i}", "max_tokens": 5}) for i in range(40)]
    lines.append('{"custom_id": "<script>bad", "prompt": "cut')  # a broken line: one failure group
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Client(endpoint=tight.endpoint, deployment="tight", api_key=tight.api_key) as client:
        summary = run_bulk_file(client, source, tmp_path / "out.jsonl", concurrency=16)
    assert summary.sends is not None
    assert len(summary.sends.times) == tight.counters["requests"]  # every attempt the server saw, retries too
    assert summary.sends.rate_limited == tight.counters["rate_limited"] == summary.rate_limited
    assert summary.sends.limit == 10
    markup = summary._repr_html_()
    page = Page(markup)
    rows = page.rows()
    assert ["ok", "40"] in rows and ["failed", "1"] in rows and ["not sent", "0"] in rows
    failure = next(row for row in page.rows() if row and row[0] == "1" and "invalid_input_line" in row)
    assert failure[-1] == "line-41" and page.count("script") == 0
    assert page.count("svg", "rest-client-sends") == 1 and page.count("polyline", "in-window") == 1
    assert page.count("path", "refused") == summary.sends.rate_limited
    assert page.count("line", "limit") == 1 and "limit 10 per" in page.text


def test_a_recording_pacer_drawn_beside_another_log_shares_its_scale() -> None:
    pacer = RecordingPacer(clock=iter([0.0, 0.0, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3]).__next__)
    first = pacer.acquire()
    pacer.settle(first, 200, {"x-ratelimit-limit-requests": "5"})
    second = pacer.acquire()
    pacer.settle(second, 429, {"retry-after-ms": "50"})
    log = pacer.send_log()
    assert log.statuses == [200, 429] and log.limit == 5
    page = Page(compare_sends(("one", log), ("two", SendLog.from_pairs([(0.0, 200), (0.1, 200)])))._repr_html_())
    assert page.count("svg", "rest-client-sends") == 2 and "one" in page.text and "two" in page.text


def test_bulk_progress_drives_a_tqdm_bar_to_the_total() -> None:
    class Run:
        class pacer:  # stands for run.pacer, as run_bulk_file hands it over
            rate_limited = 3

    with BulkProgress(desc="test") as progress:
        progress.start(5, 2)
        for _ in range(3):
            progress.update(None, Run)
        bar = progress.bar
        assert bar.n == 5 and bar.total == 5 and "429s=3" in str(bar)
    assert progress.bar is None


BATCH = {"id": "batch_7", "status": "failed", "endpoint": "/chat/completions", "completion_window": "24h",
         "input_file_id": "file-in", "output_file_id": "", "error_file_id": "", "created_at": 1_700_000_000,
         "in_progress_at": None, "failed_at": 1_700_000_012,
         "request_counts": {"total": 3, "completed": 0, "failed": 0},
         "errors": {"object": "list", "data": [
             {"code": "invalid_deployment", "line": 1, "message": "<b>gpt-4o-mini</b> is not a batch deployment"}]}}


def test_a_batch_shows_status_counts_phases_and_each_service_error() -> None:
    page = Page(BatchStatus(BATCH)._repr_html_())
    assert "failed" in page.text and "batch_7" in page.text and "0 completed, 0 failed of 3" in page.text
    rows = page.rows()
    assert ["invalid_deployment", "1", "<b>gpt-4o-mini</b> is not a batch deployment"] in rows
    assert ["failed", "2023-11-14 22:13:32 UTC", "+12 s"] in rows
    assert ["output_file_id", "— none"] in rows and page.count("b") == 0


def test_batch_watch_keeps_one_row_per_change_of_status_or_counts() -> None:
    watch = BatchWatch()
    for status, done in (("validating", 0), ("in_progress", 0), ("in_progress", 0), ("in_progress", 2),
                         ("completed", 3)):
        watch({**BATCH, "status": status, "errors": None,
               "request_counts": {"total": 3, "completed": done, "failed": 0}})
    assert [p[1:] for p in watch.polls] == [
        ("validating", "total 3, completed 0, failed 0"), ("in_progress", "total 3, completed 0, failed 0"),
        ("in_progress", "total 3, completed 2, failed 0"), ("completed", "total 3, completed 3, failed 0")]
    assert watch._area is not None and watch._area.handle is None  # no notebook here: nothing shown
    assert "completed" in Page(watch._repr_html_()).text


class Published:
    """What IPython's display publisher was handed: each display's HTML, its display id, and whether it updated
    an earlier one."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, bool]] = []


@pytest.fixture
def notebook_shell():
    """A real IPython shell whose display publisher records instead of printing, as a kernel would send."""
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    published = Published()

    class Recorder(DisplayPublisher):
        def publish(self, data: dict[str, Any], metadata: Any = None, source: Any = None, *,
                    transient: dict[str, Any] | None = None, update: bool = False, **kw: Any) -> None:
            published.calls.append((data.get("text/html", ""), (transient or {}).get("display_id"), update))

    shell = InteractiveShell.instance()
    shell.display_pub = Recorder(shell=shell)
    yield published
    InteractiveShell.clear_instance()


def test_a_stream_grows_in_one_output_area_then_shows_its_whole_display(notebook_shell) -> None:
    """The first display gets an id, every later one updates it (no new output area, no print), the text grows,
    and the last update is the stream's full display."""
    with Emulator() as emu, Client(endpoint=emu.endpoint, api_key=emu.api_key,
                                   deployment=emu.chat_deployment) as client:
        emu.stream_delay = 0.06
        stream = client.stream_chat("Tell me a story", max_tokens=12)
        stream.show()
        assert "streamed body" in Page(stream.result._repr_html_()).text  # its Result does not read the body
    calls = notebook_shell.calls
    assert len(calls) >= 3 and not calls[0][2] and all(update for _, _, update in calls[1:])
    assert len({display_id for _, display_id, _ in calls}) == 1 and calls[0][1]
    texts = [Page(markup).text for markup, _, _ in calls]
    assert len(set(texts)) >= 3, "the text did not grow between updates"
    last = Page(calls[-1][0])
    assert "ended: length" in last.text and stream.text in last.text and last.count("svg", "rest-client-timeline")


def test_a_stream_cut_off_shows_the_text_before_the_cut_and_the_error_in_the_same_area(notebook_shell) -> None:
    with Emulator() as emu, Client(endpoint=emu.endpoint, api_key=emu.api_key,
                                   deployment=emu.chat_deployment, max_retries=0) as client:
        emu.add_fault("truncate")
        stream = client.stream_chat("Tell me a story", max_tokens=40)
        with pytest.raises(RestClientError) as info:
            display_stream(stream)
    calls = notebook_shell.calls
    assert len({display_id for _, display_id, _ in calls}) == 1
    last = Page(calls[-1][0])
    assert stream.text, "the cut came before any text: nothing shows the text is kept"
    assert f"cut off: {type(info.value).__name__}" in last.text and stream.text in last.text
