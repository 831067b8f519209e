"""Fixtures shared by every test: a clean environment and the path to ../shared.

Why autouse env cleaning: a developer's shell often has AZURE_* or OPENAI_* variables set; a test that
silently picks them up would pass or fail for reasons that are not in the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests: quick and repeatable in CI (a fixed number of examples, derandomized: the same inputs every
# run, so a failure reproduces); HYPOTHESIS_PROFILE=thorough explores far more, with fresh random inputs.
# No deadline in either: timing assertions are flaky on a shared machine. No example database: each test runs
# in its own temporary directory, so a database there would be thrown away anyway.
PROPERTY_EXAMPLES = {"ci": 100, "thorough": 3000}
settings.register_profile("ci", max_examples=PROPERTY_EXAMPLES["ci"], derandomize=True, deadline=None,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=PROPERTY_EXAMPLES["thorough"], deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"

_ENV_PREFIXES = ("AZURE_", "OPENAI_", "IDENTITY_", "MSI_", "IMDS_")
# Captured before any test cleans the environment: live tests put these back (and only they do).
LIVE_ENV = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Remove Azure/OpenAI variables and run each test in an empty directory (no stray config.json)."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    # Bulk runs share pacing state through the user's cache directory: each test gets its own.
    monkeypatch.setenv("REST_CLIENT_CACHE_DIR", str(tmp_path / ".cache"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared folder beside the repository (spec, recordings)."""
    if not SHARED_DIR.is_dir():
        pytest.fail(f"../shared not found at {SHARED_DIR}: clone the repo beside the shared folder")
    return SHARED_DIR


@pytest.fixture
def server():
    """A scripted loopback HTTP/1.1 server (see tests/helpers.py)."""
    from tests.helpers import ScriptedServer

    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def fake_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fake ``az`` first on PATH that logs each run and prints a token."""
    from tests.helpers import FakeAz

    az = FakeAz(tmp_path / "fakebin")
    monkeypatch.setenv("PATH", f"{az.folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return az


@pytest.fixture
def live_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """For tests marked ``live``: the caller's real Azure settings, or a skip when there are none."""
    if not LIVE_ENV.get("AZURE_OPENAI_ENDPOINT"):
        pytest.skip("live test: set AZURE_OPENAI_ENDPOINT (and a key or `az login`) to run against real Azure")
    for name, value in LIVE_ENV.items():
        monkeypatch.setenv(name, value)
    return LIVE_ENV


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After a run that included tests/test_docs.py: how many docs snippets there are, run, checked, left out.

    Computed from the pages themselves (parsing only), so it reads the same with or without xdist workers."""
    reports = (r for reports in terminalreporter.stats.values() for r in reports if hasattr(r, "nodeid"))
    if any(r.nodeid.startswith("tests/test_docs.py") for r in reports):
        from tests.doc_snippets import census

        terminalreporter.write_line(census().line())


@pytest.fixture
def emu():
    """A default emulator on loopback for one test (a module that needs other options defines its own)."""
    from rest_client.emulator import Emulator

    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def client(emu):
    """A key-auth ``Client`` against ``emu``'s default chat deployment."""
    from rest_client import Client

    with Client(endpoint=emu.endpoint, api_key=emu.api_key, deployment=emu.chat_deployment) as c:
        yield c
