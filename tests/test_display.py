"""Notebook displays of calls, streams and errors: each holds what it promises, escapes what it shows, and never
shows a secret — against the emulator and a scripted server, the way a notebook makes them.

What a display holds is read back from its HTML with ``html.parser`` (tests/html_page.py: the tags and the text
a browser would render), not by matching markup fragments.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rest_client import (
    AuthenticationError,
    Client,
    ContentFilterError,
    Exchange,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from rest_client.display.timeline import attempt_bars, attempts_svg, nice_step
from rest_client.emulator import Emulator
from rest_client.retry_hints import RetryHint
from tests.helpers import CHAT_BODY, Reply
from tests.html_page import Page

REPO = Path(__file__).resolve().parents[1]
HOSTILE = "<script>alert('x')</script></td></table><img src=x onerror=\"alert(1)\"> & 'single' \"double\""


def key_client(emu: Emulator, **kw: Any) -> Client:
    return Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment, **kw)


def test_a_retried_result_shows_status_ids_answer_and_each_attempt_with_its_wait(emu) -> None:
    emu.add_fault("unavailable", retry_after=0.05)  # 503 with retry-after-ms: 50
    emu.add_fault("rate_limit", retry_after=0.08)  # then a 429 with retry-after-ms: 80
    with key_client(emu) as client:
        result = client.chat("Once upon a time", max_tokens=10)
    page = Page(result._repr_html_())
    assert "200 OK" in page.text and result.request_id in page.text and result.client_request_id in page.text
    assert result.text and result.text in page.text
    assert page.count("svg", "rest-client-timeline") == 1 and page.count("g", "attempt") == 3
    statuses = [a.get("data-status") for t, a in page.tags if t == "g" and "attempt" in (a.get("class") or "")]
    assert statuses == ["503", "429", "200"]
    assert "503 · " in page.text and "asked 50 ms (retry-after-ms)" in page.text
    assert "waited 50 ms · retry-after-ms" in page.text and "waited 80 ms · retry-after-ms" in page.text
    assert "x-ms-region" in page.text and "the region that answered" in page.text  # the legend beside the value


def test_the_timeline_places_each_attempt_after_its_wait() -> None:
    exchanges = [Exchange(1, 503, 0.010, 0.0, retry_hint=RetryHint(1.0, "retry-after")),
                 Exchange(2, None, 0.005, 1.0, error="ConnectError: reset", wait_source="retry-after"),
                 Exchange(3, 200, 0.020, 0.5, wait_source="backoff", reauthenticated=True)]
    bars = attempt_bars(exchanges)
    placed = [t for b in bars for t in (b.waited_from, b.start, b.end)]
    assert placed == pytest.approx([0.0, 0.0, 0.010, 0.010, 1.010, 1.015, 1.015, 1.515, 1.535])
    assert bars[0].label == "503 · 10 ms · asked 1.00 s (retry-after)"
    assert bars[1].label.startswith("no answer · 5 ms") and "ConnectError: reset" in bars[1].label
    assert bars[1].wait_label == "waited 1.00 s · retry-after" and bars[2].wait_label == "waited 500 ms · backoff"
    assert "401 → new token → resent" in bars[2].label
    page = Page(attempts_svg(exchanges))
    waits = [a for t, a in page.tags if t == "line" and a.get("class") == "wait"]
    assert len(waits) == 2  # none before the first attempt
    rects = [float(a["x"] or 0) for t, a in page.tags if t == "rect"]
    assert rects == sorted(rects) and rects[0] < rects[1] < rects[2]
    assert [nice_step(s) for s in (1.535, 0.004, 70.0)] == [0.5, 0.001, 20.0]


def test_an_error_shows_its_status_code_ids_message_and_hint_once(emu) -> None:
    with key_client(emu) as client, pytest.raises(NotFoundError) as info:
        client.chat("Hello", deployment="gpt-4o")
    error = info.value
    page = Page(error._repr_html_())
    assert "404 Not Found" in page.text and "NotFoundError" in page.text and "DeploymentNotFound" in page.text
    assert error.request_id and error.request_id in page.text and error.client_request_id in page.text
    assert error.hint and page.text.count(" ".join(error.hint.split())) == 1
    assert page.shown.count(" ".join(error.message.split())) == 1  # and once more in the raw body, folded
    assert page.count("svg", "rest-client-timeline") == 1 and page.count("details") == 2  # headers, body


def test_a_rate_limit_error_shows_the_wait_asked_for_and_the_attempts_that_met_it(emu) -> None:
    emu.add_fault("rate_limit", retry_after=0.05, times=2)
    with key_client(emu, max_retries=1) as client, pytest.raises(RateLimitError) as info:
        client.chat("Hello")
    page = Page(info.value._repr_html_())
    assert "429 Too Many Requests" in page.text and "the service asked to wait 50 ms" in page.text
    assert page.count("g", "attempt") == 2 and "waited 50 ms · retry-after-ms" in page.text


def test_a_content_filter_error_lists_each_category_verdict(emu) -> None:
    emu.add_fault("content_filter", categories={"violence": "high"})
    with key_client(emu) as client, pytest.raises(ContentFilterError) as info:
        client.chat("(blocked)")
    page = Page(info.value._repr_html_())
    assert "400 Bad Request" in page.text and "violence high filtered" in page.text


def test_hostile_answer_text_is_escaped_in_the_result_and_the_stream(server) -> None:
    body = {**CHAT_BODY, "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": HOSTILE}}]}
    event = {"choices": [{"index": 0, "delta": {"content": HOSTILE}}]}
    server.add(Reply(body=body, headers={"x-ms-region": HOSTILE.replace('"', "'")}),
               Reply(headers={"content-type": "text/event-stream"},
                     chunks=[f"data: {__import__('json').dumps(event)}\n\n".encode(), b"data: [DONE]\n\n"]))
    with Client(endpoint=server.url, api_key="k" * 32, deployment="d") as client:
        result = client.chat("hi")
        stream = client.stream_chat("hi")
        list(stream)
    for markup in (result._repr_html_(), stream._repr_html_()):
        page = Page(markup)
        assert page.count("script") == 0 and page.count("img") == 0, "hostile markup became tags"
        assert HOSTILE in page.text  # shown as the text it is
        assert "<script>" not in markup and "&lt;script&gt;" in markup
        tables = page.count("table")
        assert markup.count("</table>") == tables, "a </table> in the answer closed a table"


def test_a_proxys_html_error_page_is_escaped(server) -> None:
    server.add(Reply(status=502, body=f"<html><body><h1>Bad gateway</h1>{HOSTILE}</body></html>",
                     headers={"content-type": "text/html"}))
    with Client(endpoint=server.url, api_key="k" * 32, deployment="d", max_retries=0) as client, \
            pytest.raises(ServerError) as info:
        client.chat("hi")
    page = Page(info.value._repr_html_())
    assert page.count("script") == 0 and page.count("img") == 0 and page.count("h1") == 0
    assert "502 Bad Gateway" in page.text


def _pieces(secret: str) -> list[str]:
    """Every 12 consecutive characters of a secret (a JWT's common header part left out): any one leaks it."""
    body = secret.split(".", 1)[1] if secret.count(".") == 2 else secret
    return [body[i:i + 12] for i in range(max(1, len(body) - 11))]


def assert_no_secret(markup: str, *secrets: str) -> None:
    for secret in secrets:
        leaked = [piece for piece in _pieces(secret) if piece in markup]
        assert not leaked, f"the display shows part of a secret: {leaked[:3]}"


def test_no_api_key_subscription_key_or_secret_header_in_any_display(emu) -> None:
    sub_key, gateway_token = "sub-7f3a9c2e41d84b6f0a5e", "gw-c8e2a71f0b9d4e35a7c1"
    with key_client(emu, subscription_key=sub_key, headers={"X-Gateway-Token": gateway_token}) as client:
        result = client.chat("Hello", max_tokens=5)
        stream = client.stream_chat("Hello", max_tokens=5)
        list(stream)
        settings = client.settings
    sent = result.response.request.headers  # positive control: all three went on the wire, so they could leak
    assert sent["api-key"] == emu.api_key and sent["Ocp-Apim-Subscription-Key"] == sub_key
    assert sent["X-Gateway-Token"] == gateway_token
    with pytest.raises(AssertionError):  # and the search finds one where there is one
        assert_no_secret(f"<td>{emu.api_key[3:20]}</td>", emu.api_key)
    for markup in (result._repr_html_(), stream._repr_html_(), settings._repr_html_()):
        assert "***" in markup
        assert_no_secret(markup, emu.api_key, sub_key, gateway_token)


def test_a_wrong_keys_401_display_does_not_show_the_key(emu) -> None:
    wrong = "0123456789abcdef" * 2
    with Client(endpoint=emu.endpoint, api_key=wrong, deployment=emu.chat_deployment) as client, \
            pytest.raises(AuthenticationError) as info:
        client.chat("Hello")
    assert info.value.response.request.headers["api-key"] == wrong  # positive control
    assert_no_secret(info.value._repr_html_(), wrong)


def test_no_bearer_token_in_the_result_or_the_token_status(emu, monkeypatch) -> None:
    from azure.identity import ManagedIdentityCredential

    for name, value in emu.identity_env.items():
        monkeypatch.setenv(name, value)
    with Client(endpoint=emu.endpoint, deployment=emu.chat_deployment, auth="default",
                credential=ManagedIdentityCredential()) as client:
        result = client.chat("Hello", max_tokens=5)
        token = client.auth.get_token()
        status = client.auth.status()
    assert result.response.request.headers["Authorization"] == f"Bearer {token}"  # positive control
    result_page, token_page = Page(result._repr_html_()), Page(status._repr_html_())
    assert "Bearer ***" + token[-4:] in result_page.text  # the most redact.py allows: scheme and last 4
    assert "ManagedIdentityCredential" in token_page.text and "Azure OpenAI's audience" in token_page.text
    assert "valid for" in token_page.text and "https://cognitiveservices.azure.com" in token_page.text
    assert_no_secret(result._repr_html_() + status._repr_html_(), token, emu.identity_env["IDENTITY_HEADER"])


def test_the_displays_work_where_ipython_cannot_be_imported(tmp_path) -> None:
    """A script (or a CI job) without IPython: every display is still plain HTML, ``show()`` just reads the
    stream, and nothing tries to import IPython."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoIPython:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'IPython' or name.startswith('IPython.'):\n"
        "            raise ImportError('IPython is blocked for this test')\n"
        "sys.meta_path.insert(0, _NoIPython())\n", encoding="utf-8")
    probe = """
import sys
try:
    import IPython
except ImportError:
    pass
else:
    raise SystemExit("IPython was importable: the block did not work")
from rest_client import Client, NotFoundError
from rest_client.display import BatchStatus, BatchWatch, display_stream
from rest_client.emulator import Emulator
with Emulator() as emu, Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment) as c:
    pieces = [c.chat("hi", max_tokens=5)._repr_html_(), c.settings._repr_html_()]
    stream = c.stream_chat("hi", max_tokens=5)
    stream.show()
    assert stream.finish_reason and stream.text, "show() did not read the stream"
    pieces.append(stream._repr_html_())
    try:
        c.chat("hi", deployment="nope")
    except NotFoundError as error:
        pieces.append(error._repr_html_())
watch = BatchWatch()
watch({"id": "batch_1", "status": "in_progress", "request_counts": {"total": 2, "completed": 1, "failed": 0}})
pieces += [watch._repr_html_(), BatchStatus({"id": "batch_1", "status": "completed"})._repr_html_()]
assert all(p.startswith("<div") for p in pieces), pieces
print(len(pieces), sorted(m for m in sys.modules if m.startswith("IPython")))
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": f"{tmp_path}{__import__('os').pathsep}{REPO}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6 []"
