"""Cassettes for your own tests, without VCR: a ``Client`` against a replay of a recorded HAR file.

Enable the plugin in your ``conftest.py`` (it is not loaded on its own, so it never changes a test run that did
not ask for it)::

    pytest_plugins = ["rest_client.testing"]

Then::

    @pytest.mark.cassette("cassettes/greeting.har")   # optional; the default is cassettes/<module>/<test>.har
    def test_greeting(cassette_client):
        assert cassette_client.chat("Say hi").text

- **Replay** (the default, offline, in CI): the emulator serves the file's recorded answers; the client is set up
  with the deployment, api-version and route the recording used (``cassette.client(deployment=…)`` overrides).
  A call with no recording fails the test, naming the closest recording and what differs — even when the code
  under test catches the error. Each recorded answer is given once, so a test that calls more often than it did
  when recorded fails too. A missing file fails the test, saying how to record it.
- **Record** (``REST_CLIENT_RECORD=1`` and real settings in the environment: ``AZURE_OPENAI_ENDPOINT``, a key or
  ``az login``, the deployment): the same test runs against the real resource through the emulator's recording
  proxy, and the file is written with every secret redacted. ``REST_CLIENT_UPSTREAM`` overrides where it forwards
  to; ``@pytest.mark.cassette(..., scrub_content=True)`` also drops prompt and answer text.

The ``cassette`` fixture gives the ``Cassette`` itself: ``endpoint``, ``api_key``, ``api_version`` and ``env()``
for other clients (the openai SDK, a CLI in a subprocess), ``recording``, ``misses``. Outside pytest,
``with use_cassette(path) as cassette:`` does the same and raises ``AssertionError`` at the end instead (a failed
test, whatever runs it; errors of the library itself are all in ``rest_client.errors``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .client import Client
from .emulator import Emulator
from .settings import Settings, load_settings

RECORD_ENV = "REST_CLIENT_RECORD"
UPSTREAM_ENV = "REST_CLIENT_UPSTREAM"
REPLAY_KEY = "replay"  # what a replayed client sends as its api-key: a replay accepts any
_TRUE = ("1", "true", "yes", "on", "record")
_SETTINGS_FIELDS = frozenset(f.name for f in dataclasses.fields(Settings))
_CASSETTE = pytest.StashKey["Cassette"]()


class Cassette:
    """One recorded file in use: a running replay of it, or a recording proxy writing it."""

    def __init__(self, path: Path, emulator: Emulator, settings: Settings, *, recording: bool) -> None:
        self.path, self.emulator, self.settings, self.recording = path, emulator, settings, recording

    def __repr__(self) -> str:
        return f"<Cassette {self.path} {'recording' if self.recording else 'replaying'}>"

    @property
    def endpoint(self) -> str:
        """The endpoint a client should call (the replay or the recording proxy, plus ``/openai/v1`` if used)."""
        return self.settings.endpoint

    @property
    def api_key(self) -> str | None:
        """The key to send: any value in a replay; in a recording, the real one from your settings (or None)."""
        return self.settings.api_key

    @property
    def api_version(self) -> str:
        return self.settings.api_version

    @property
    def misses(self) -> list[str]:
        """The message of each call that had no recording so far."""
        replay = self.emulator.replay
        return replay.misses if replay is not None else []

    def client(self, **overrides: Any) -> Client:
        """A ``Client`` for this cassette; ``overrides`` are ``Settings`` fields or ``Client`` keywords."""
        fields = {k: v for k, v in overrides.items() if k in _SETTINGS_FIELDS}
        rest = {k: v for k, v in overrides.items() if k not in _SETTINGS_FIELDS}
        return Client(dataclasses.replace(self.settings, **fields), **rest)

    def env(self) -> dict[str, str]:
        """``AZURE_OPENAI_*`` variables pointing a subprocess (the CLI, a script) at this cassette."""
        pairs = {"AZURE_OPENAI_ENDPOINT": self.endpoint, "OPENAI_API_VERSION": self.api_version,
                 "AZURE_OPENAI_DEPLOYMENT": self.settings.deployment,
                 "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT": self.settings.completions_deployment,
                 "AZURE_OPENAI_API_KEY": self.api_key, "AZURE_OPENAI_AUTH": self.settings.auth}
        return {k: v for k, v in pairs.items() if v}

    def check(self) -> None:
        """Raise ``AssertionError`` if any call had no recording (the 404 ``NoRecording`` the replay answered)."""
        misses = self.misses
        if misses:
            raise AssertionError(unrecorded_message(self.path, misses))


def recording_requested(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``REST_CLIENT_RECORD`` asks to record (1, true, yes, on)."""
    return (environ if environ is not None else os.environ).get(RECORD_ENV, "").strip().lower() in _TRUE


def unrecorded_message(path: Path, misses: list[str]) -> str:
    more = f" (and {len(misses) - 1} more)" if len(misses) > 1 else ""
    return (f"a call with no recording in {path}{more}: {misses[0]}\nRecord it again with {RECORD_ENV}=1 and real "
            "credentials, or make the call the recording has.")


@contextmanager
def use_cassette(path: str | os.PathLike[str], *, record: bool | None = None, scrub_content: bool = False,
                 environ: Mapping[str, str] | None = None, check: bool = True, **overrides: Any) -> Iterator[Cassette]:
    """A replay of ``path`` (or, with ``record`` — default: ``REST_CLIENT_RECORD`` — a recording proxy writing it)
    for the duration of the block; ``overrides`` are ``Settings`` fields for the client it sets up."""
    env = os.environ if environ is None else environ
    target = Path(path)
    if record if record is not None else recording_requested(env):
        target.parent.mkdir(parents=True, exist_ok=True)
        real = load_settings(environ=env, **overrides)
        parts = urlsplit(real.endpoint)
        emulator = Emulator(record=target, upstream=env.get(UPSTREAM_ENV) or f"{parts.scheme}://{parts.netloc}",
                            scrub_content=scrub_content).start()
        settings = dataclasses.replace(real, endpoint=emulator.endpoint + parts.path.rstrip("/"))
        recording = True
    else:
        if not target.exists():
            raise FileNotFoundError(f"no cassette at {target}: record it once with {RECORD_ENV}=1 and real "
                                    "credentials (AZURE_OPENAI_ENDPOINT and a key or az login)")
        emulator = Emulator(replay=target, replay_once=True).start()
        settings = _replay_settings(emulator, overrides)
        recording = False
    cassette = Cassette(target, emulator, settings, recording=recording)
    try:
        yield cassette
    finally:
        emulator.stop()
    if check:
        cassette.check()


def _replay_settings(emulator: Emulator, overrides: Mapping[str, Any]) -> Settings:
    replay = emulator.replay
    assert replay is not None
    found = {"endpoint": emulator.endpoint + ("/openai/v1" if replay.is_v1() else ""), "api_key": REPLAY_KEY,
             "auth": "key", "deployment": emulator.chat_deployment,
             "completions_deployment": emulator.completions_deployment, "api_version": replay.api_version()}
    return Settings(**{**{k: v for k, v in found.items() if v is not None}, **overrides})


# -- the pytest plugin ---------------------------------------------------------------------------------------------

def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cassette(path=None, *, scrub_content=False, **settings): the HAR file this "
                            "test replays (recorded when REST_CLIENT_RECORD=1); relative to the test's folder")


def cassette_path(node: pytest.Item) -> Path:
    """The marker's path (relative to the test file's folder), else ``cassettes/<module>/<test>.har`` there."""
    marker = node.get_closest_marker("cassette")
    folder = Path(str(node.path)).parent
    given = (marker.kwargs.get("path") or (marker.args[0] if marker.args else None)) if marker else None
    if given:
        return folder / str(given)
    name = re.sub(r"[^\w.-]+", "_", node.name).strip("_") or "test"
    return folder / "cassettes" / Path(str(node.path)).stem / f"{name}.har"


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """The test's cassette: a replay of its file, or (``REST_CLIENT_RECORD=1``) a recording proxy writing it."""
    marker = request.node.get_closest_marker("cassette")
    options = {k: v for k, v in (marker.kwargs if marker else {}).items() if k != "path"}
    context = use_cassette(cassette_path(request.node), check=False, **options)
    problem = None
    try:
        running = context.__enter__()
    except (FileNotFoundError, ValueError) as exc:  # no file, a file that is no HAR, settings missing to record
        problem = str(exc)
    if problem is not None:  # failed outside the except block: the report shows the one message, not a chain
        pytest.fail(problem, pytrace=False)
    request.node.stash[_CASSETTE] = running
    try:
        yield running
    finally:
        context.__exit__(None, None, None)


@pytest.fixture
def cassette_client(cassette: Cassette) -> Iterator[Client]:
    """A ``Client`` set up for the test's cassette (closed after the test)."""
    with cassette.client() as client:
        yield client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A test that made a call with no recording fails, even if its code caught the error."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    used = item.stash.get(_CASSETTE, None)
    if report.when == "call" and report.passed and used is not None and used.misses:
        report.outcome = "failed"
        report.longrepr = unrecorded_message(used.path, used.misses)
