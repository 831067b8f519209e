"""The pacing file runs on one machine share (rest_client/bulk/ledger.py): what one run writes another reads,
a file in any state costs a run nothing but what was shared, and a run never takes back a window it dropped.

Why here and not only in the two-process tests (tests/test_bulk_shared.py): those show the file working;
these show it failing safely — a truncated write, another version's shape or a hand edit must never stop a
bulk run (the file is read at every admission).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rest_client.bulk.ledger import Ledger, Send, ledger_for
from rest_client.bulk.pacing import Pacer

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
SHAPED = st.fixed_dictionaries({}, optional={
    "runs": st.dictionaries(st.text(max_size=6), st.fixed_dictionaries({}, optional={
        "pid": JSON, "seen": JSON, "sends": st.lists(st.lists(JSON, max_size=4) | JSON, max_size=4)}) | JSON,
        max_size=3) | JSON,
    "learned": st.dictionaries(st.sampled_from(["requests", "tokens", "at", "x"]), JSON, max_size=4) | JSON})


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    monkeypatch.setenv("REST_CLIENT_CACHE_DIR", str(tmp_path))
    found = ledger_for("http://127.0.0.1:1", "chat")
    assert found is not None
    return found


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(content=st.one_of(SHAPED.map(json.dumps), JSON.map(json.dumps), st.binary(max_size=64).map(repr)))
def test_a_file_in_any_state_is_read_without_failing_and_left_in_shape(ledger: Ledger, content: str) -> None:
    ledger.path.write_text(content, encoding="utf-8")
    with ledger.locked():
        shared = ledger.exchange([Send(time.time(), None, 5.0)], {}, 10.0)
    assert all(isinstance(s.sent, float) and isinstance(s.tokens, float) for s in shared.sends)
    state = json.loads(ledger.path.read_text(encoding="utf-8"))
    assert state["runs"][ledger.run]["sends"][0][2] == 5.0
    pacer = Pacer(ledger=ledger)  # a pacer adopting whatever was learned there: no exception, a usable budget
    assert pacer.requests.limit is None or pacer.requests.limit > 0


def test_a_send_written_by_one_run_is_read_by_the_other(ledger: Ledger) -> None:
    other = Ledger(ledger.path)
    now = time.time()
    with ledger.locked():
        ledger.exchange([Send(now, now + 0.1, 12.0)], {}, 10.0)
    with other.locked():
        shared = other.exchange([], {}, 10.0)
    assert [(s.sent, s.tokens) for s in shared.sends] == [(now, 12.0)]


def test_a_dead_runs_entry_goes_once_its_sends_have_left_the_window(ledger: Ledger) -> None:
    ledger.path.write_text(json.dumps({"runs": {"gone": {"pid": 2 ** 31 - 2, "seen": 0, "sends": [
        [time.time() - 100, time.time() - 99, 1.0]]}}}), encoding="utf-8")
    with ledger.locked():
        assert ledger.exchange([], {}, 10.0).sends == []
    assert "gone" not in json.loads(ledger.path.read_text(encoding="utf-8"))["runs"]


def test_a_window_learned_by_another_run_is_adopted_but_a_run_never_takes_back_its_own(ledger: Ledger) -> None:
    learned = {"requests": {"limit": 5.0, "source": "remaining", "lo": 3.0, "hi": 4.0}}
    with ledger.locked():
        ledger.exchange([], {k: {**v, "by": "someone else"} for k, v in learned.items()}, 10.0)
    newcomer = Pacer(ledger=ledger)
    assert (newcomer.requests.limit, newcomer.requests.hi) == (5.0, 4.0)  # it neither probes nor bursts

    mine = Ledger(ledger.path)
    with mine.locked():
        mine.exchange([], {k: {**v, "by": mine.run} for k, v in learned.items()}, 10.0)
    pacer = Pacer(ledger=mine)  # same run id as the entry: a window it wrote (and may have dropped since)
    assert pacer.requests.hi is None


def test_sharing_off_or_an_unwritable_cache_paces_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REST_CLIENT_SHARE_PACING", "0")
    assert ledger_for("http://127.0.0.1:1", "chat") is None
    monkeypatch.delenv("REST_CLIENT_SHARE_PACING")
    blocked = tmp_path / "file"
    blocked.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("REST_CLIENT_CACHE_DIR", str(blocked))
    assert ledger_for("http://127.0.0.1:1", "chat") is None
    assert os.path.isfile(blocked)


def test_a_gone_runs_unanswered_sends_leave_a_window_after_they_were_sent(ledger: Ledger) -> None:
    """Killed mid-flight, a run never hears its last sends answered: held as still on the wire, they kept a
    rerun from the window's last slots (1.26× the minimum). A live run's unanswered sends are on the wire."""
    now = time.time()
    ledger.path.write_text(json.dumps({"runs": {
        "killed": {"pid": 0, "seen": now, "sends": [[now - 1, None, 3.0], [now - 2, now - 1.5, 3.0]]},
        "live": {"pid": os.getpid(), "seen": now, "sends": [[now - 1, None, 5.0]]}}}), encoding="utf-8")
    with ledger.locked():
        sends = ledger.exchange([], {}, 10.0).sends
    by_tokens = {(s.tokens, s.sent): s.answered for s in sends}
    assert by_tokens == {(3.0, now - 1): now - 1, (3.0, now - 2): now - 1.5, (5.0, now - 1): None}
