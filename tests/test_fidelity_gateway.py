"""API Management's quota and limit answers, told by their wording with or without headers, their waits read by the
one duration parser wherever a wait is read: the hint, the error's ``retry_after``, the retry and the router's
cooldown. Through the library and a real CLI process, against the emulator's gateway mode (real sockets)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rest_client import Client, PermissionDeniedError, RateLimitError
from rest_client.emulator import Emulator
from rest_client.retry_hints import parse_duration
from tests.conftest import REPO_ROOT
from tests.helpers import Reply

SUB_KEY = "apim-sub-0f1e2d3c4b5a69780f1e2d3c4b5a6978"
QUOTA_PERIOD = 1293.0  # 21 minutes and 33 seconds, the wait
# Each chat below costs the token policies about 35 tokens (body bytes / 4 + max_tokens): one fits, two do not.
TOKENS = 40


@pytest.fixture
def quota() -> Iterator[Emulator]:
    """A gateway whose subscription has a token quota of one call per QUOTA_PERIOD."""
    with Emulator(gateway={"subscription_key": SUB_KEY, "prefix": "/aoai", "token_quota": TOKENS,
                           "token_quota_period": QUOTA_PERIOD}) as emu:
        yield emu


def through(emu: Emulator, **more: Any) -> Client:
    return Client(endpoint=emu.endpoint + "/aoai", subscription_key=SUB_KEY, deployment=emu.chat_deployment,
                  **{"max_retries": 0, **more})


def cli(*argv: str, endpoint: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "APIM_"))}
    environ.update(PYTHONPATH=str(REPO_ROOT), AZURE_OPENAI_ENDPOINT=endpoint, **env)
    return subprocess.run([sys.executable, "-m", "rest_client", *argv], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=90)


# -- the token quota 403 ---------------------------------------------------------------------------------------------

def test_the_token_quota_403_is_the_gateways_quota_with_its_wait(quota: Emulator) -> None:
    with through(quota) as client:
        client.chat("hi", max_tokens=20)
        with pytest.raises(PermissionDeniedError) as caught:
            client.chat("hi", max_tokens=20)
    err = caught.value
    assert err.body["statusCode"] == 403  # API Management's own shape, in its own words:
    assert re.fullmatch(r"Token quota is exceeded\. Try again in 21 minutes and 3[0-3] seconds\.", err.message)
    assert err.retry_after is not None and QUOTA_PERIOD - 5 <= err.retry_after <= QUOTA_PERIOD
    assert re.search(r"your subscription's token quota .* is used up; it returns in 21 min 3[0-3] s\.", err.hint)
    assert "network" not in err.hint and "firewall" not in err.hint


def test_a_403_that_names_no_quota_has_no_wait_and_keeps_its_own_hint() -> None:
    with Emulator(modes={"network_rules": True}) as emu, Client(endpoint=emu.endpoint, api_key=emu.api_key,
                                                                deployment=emu.chat_deployment) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            client.chat("hi")
    assert caught.value.retry_after is None and "network rules" in caught.value.hint  # the control


def test_the_token_quota_cools_that_backend_for_its_wait_and_calls_go_elsewhere(quota: Emulator) -> None:
    with Emulator() as direct:
        backends = [{"endpoint": quota.endpoint + "/aoai", "subscription_key": SUB_KEY, "name": "apim",
                     "deployment": quota.chat_deployment},
                    {"endpoint": direct.endpoint, "api_key": direct.api_key, "deployment": direct.chat_deployment,
                     "priority": 2, "name": "direct"}]
        with Client(backends=backends) as client:
            first = client.chat("hi", max_tokens=20)
            second = client.chat("hi", max_tokens=20)
            third = client.chat("hi", max_tokens=20)
            assert client.router is not None
            cooling = client.router.slots[0].cool_until - time.monotonic()
    assert [(e.backend, e.status_code) for e in first.exchanges] == [("apim", 200)]
    assert [(e.backend, e.status_code) for e in second.exchanges] == [("apim", 403), ("direct", 200)]
    assert [(e.backend, e.status_code) for e in third.exchanges] == [("direct", 200)]  # apim rests
    assert QUOTA_PERIOD - 10 <= cooling <= QUOTA_PERIOD


def test_cli_the_token_quota_403_exits_1_with_the_gateways_hint(quota: Emulator, tmp_path: Path) -> None:
    endpoint = quota.endpoint + "/aoai"
    env = {"APIM_SUBSCRIPTION_KEY": SUB_KEY, "AZURE_OPENAI_DEPLOYMENT": quota.chat_deployment}
    assert cli("--max-tokens", "20", "hi", endpoint=endpoint, cwd=tmp_path, **env).returncode == 0
    refused = cli("--max-tokens", "20", "hi", endpoint=endpoint, cwd=tmp_path, **env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "error: HTTP 403" in refused.stderr and "Token quota is exceeded." in refused.stderr
    assert re.search(r"hint: the API Management gateway refused the call \(Azure OpenAI never saw it\): your "
                     r"subscription's token quota .* it returns in 21 min \d+ s", refused.stderr)
    assert "network" not in refused.stderr and SUB_KEY not in refused.stderr + refused.stdout


def test_cli_with_backends_fails_over_from_the_quota_to_the_next(quota: Emulator, tmp_path: Path) -> None:
    with Emulator() as direct:
        backends = [{"endpoint": quota.endpoint + "/aoai", "subscription_key": SUB_KEY, "name": "apim",
                     "deployment": quota.chat_deployment},
                    {"endpoint": direct.endpoint, "api_key": direct.api_key, "deployment": direct.chat_deployment,
                     "priority": 2, "name": "direct"}]
        (tmp_path / "config.json").write_text(json.dumps({"backends": backends}))
        with through(quota) as client:
            client.chat("hi", max_tokens=20)  # the quota is spent
        proc = cli("-v", "--max-tokens", "20", "hi", endpoint="", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr
    assert re.search(r"\* attempt 1: HTTP 403 .*from backend apim", proc.stderr)
    assert re.search(r"\* attempt 2: HTTP 200 .*from backend direct", proc.stderr)


# -- the token limit 429, with or without Retry-After -----------------------------------------------------------------

@pytest.mark.parametrize(("header", "source"), [(True, "retry-after"), (False, "message")])
def test_the_token_limit_429_is_read_from_its_words_with_or_without_retry_after(header: bool, source: str) -> None:
    with Emulator(gateway={"subscription_key": SUB_KEY, "prefix": "/aoai", "tokens_per_minute": TOKENS,
                           "retry_after_header": header}) as emu, through(emu) as client:
        client.chat("hi", max_tokens=20)
        with pytest.raises(RateLimitError) as caught:
            client.chat("hi", max_tokens=20)
    err = caught.value
    assert ("Retry-After" in err.headers) is header
    assert err.retry_after is not None and 1 <= err.retry_after <= 60
    assert err.exchanges[-1].retry_hint.source == source
    said = re.search(r"; wait the ([\w ]+) it asks for, or ask", err.hint)
    assert said is not None and parse_duration(said.group(1)) == err.retry_after  # the hint says the wait read
    assert err.hint.startswith("the API Management gateway refused the call (Azure OpenAI never saw it): over the "
                               "gateway's token limit")


# -- TimeSpans: HH:MM:SS and D.HH:MM:SS, read wherever a wait is read --------------------------------------------------

def test_a_call_quota_beyond_a_day_is_read_as_days() -> None:
    period = 2 * 86400.0
    with Emulator(gateway={"subscription_key": SUB_KEY, "prefix": "/aoai", "quota_calls": 1,
                           "quota_period": period}) as emu, \
            through(emu) as client:
        client.chat("hi")
        with pytest.raises(PermissionDeniedError) as caught:
            client.chat("hi")
    err = caught.value
    assert re.fullmatch(r"Out of call volume quota\. Quota will be replenished in (1\.23:59:\d\d|2\.00:00:00)\.",
                        err.message)
    assert err.retry_after is not None and period - 60 <= err.retry_after <= period
    assert re.search(r"call-volume quota is used up; it is replenished in (47 h 59 min \d+ s|48 h)\.", err.hint)


def test_a_429_whose_wait_is_a_timespan_is_retried_after_it(server) -> None:
    server.add(Reply(429, body={"statusCode": 429, "message": "Rate limit is exceeded. Try again in 00:00:01."}),
               Reply())
    with Client(endpoint=server.url, subscription_key=SUB_KEY, deployment="d", max_retries=1) as client:
        result = client.chat("hi")
    assert [(e.status_code, e.wait_source, e.wait_before) for e in result.exchanges] == [
        (429, None, 0.0), (200, "message", 1.0)]
