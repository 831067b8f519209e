"""Property-based tests of ``Stream`` (issue 12): any bytes, cut anywhere, with or without a network failure at
the end, give text deltas or an error from rest_client's tree — nothing else escapes.

The answer is a local stand-in for ``requests.Response`` whose ``raw.read1`` hands out the chunks (what
``Stream`` reads on a close-delimited body); requests' internals are not mocked. The bytes are real Azure
streams from ../shared/azure-openai-recordings, corrupted by hypothesis, plus arbitrary bytes.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import urllib3
from hypothesis import given
from hypothesis import strategies as st

from rest_client import RequestTimeoutError, RestClientError, TransportError
from rest_client.result import Result
from rest_client.streaming import Stream
from tests.conftest import SHARED_DIR
from tests.recordings import load_interactions
from tests.test_sse import recorded_text

RECORDED = [i.body.encode("utf-8") for i in load_interactions(SHARED_DIR) if i.is_stream] \
    if SHARED_DIR.is_dir() else []
FAILURES = [None, ConnectionResetError(104, "reset"), socket.timeout("timed out"),
            urllib3.exceptions.ReadTimeoutError(None, "/", "Read timed out."),  # type: ignore[arg-type]
            urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")]


class Raw:
    """``response.raw``: hands out the chunks, then fails with ``error`` (or ends)."""

    chunked = False

    def __init__(self, chunks: list[bytes], error: BaseException | None) -> None:
        self.chunks, self.error = [c for c in chunks if c], error

    def read1(self, size: int = -1, decode_content: bool = True) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        if self.error is not None:
            raise self.error
        return b""


class Answer:
    """The parts of a ``requests.Response`` that ``Stream`` and ``Result`` read."""

    url = "https://res.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-10-21"
    status_code = 200

    def __init__(self, raw: Raw) -> None:
        self.raw, self.headers, self.closed = raw, {"apim-request-id": "rid"}, False

    def close(self) -> None:
        self.closed = True


def stream_of(data: bytes, cuts: list[int], error: BaseException | None) -> Stream:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    answer = Answer(Raw([data[a:b] for a, b in zip(points, points[1:])], error))
    return Stream(Result(answer, [], 0.0, client_request_id="crid"), read_timeout=1.0)  # type: ignore[arg-type]


@pytest.fixture(scope="module", autouse=True)
def _recordings_present() -> None:
    if len(RECORDED) < 5:
        pytest.fail(f"expected recorded streams in {Path(SHARED_DIR) / 'azure-openai-recordings'}")


@given(index=st.integers(min_value=0), cuts=st.lists(st.integers(min_value=0, max_value=20000), max_size=30))
def test_a_recorded_stream_cut_anywhere_gives_exactly_its_text(index: int, cuts: list[int]) -> None:
    data = RECORDED[index % len(RECORDED)]
    stream = stream_of(data, cuts, None)
    assert "".join(stream) == recorded_text(data.decode("utf-8"))
    assert stream.result.response.closed


@given(index=st.integers(min_value=0), cuts=st.lists(st.integers(min_value=0, max_value=20000), max_size=10),
       edits=st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=6), st.integers(0, 8)), max_size=4),
       keep=st.floats(min_value=0.0, max_value=1.0), failure=st.sampled_from(range(len(FAILURES))))
def test_a_corrupted_recorded_stream_gives_text_or_an_error_of_the_tree(index, cuts, edits, keep, failure) -> None:
    data = bytearray(RECORDED[index % len(RECORDED)])
    for at, insert, remove in edits:  # replace a few bytes somewhere with others
        at %= len(data) + 1
        data[at:at + remove] = insert
    data = data[: int(len(data) * keep) if keep < 1 else len(data)]
    error = FAILURES[failure]
    stream = stream_of(bytes(data), cuts, error)
    try:
        for delta in stream:
            assert isinstance(delta, str) and delta
    except RestClientError as exc:
        if error is not None and isinstance(exc, TransportError):
            assert exc.client_request_id == "crid"
            assert isinstance(exc, RequestTimeoutError) == isinstance(
                error, (socket.timeout, urllib3.exceptions.ReadTimeoutError))
        assert stream.result.response.closed


@given(chunks=st.lists(st.binary(max_size=40) | st.sampled_from([b"data: ", b"\n\n", b"[DONE]", b"{", b"}",
                                                                 b'"choices":', b"\xff"]), max_size=20))
def test_arbitrary_bytes_give_text_or_an_error_of_the_tree(chunks: list[bytes]) -> None:
    try:
        for delta in stream_of(b"".join(chunks), [len(c) for c in chunks], None):
            assert isinstance(delta, str)
    except RestClientError:
        pass
