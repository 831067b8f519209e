"""Edges of the input (issue 12): settings that cannot work, CLI numbers JSON cannot carry, colliding bulk ids.

Each is refused up front with one ``ConfigError`` (in the CLI: one ``error:`` line, exit 2, no traceback),
whether the value comes from ``Settings(...)``, ``load_settings``, the environment, a config file or a flag.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import subprocess
import sys

import pytest

from rest_client import Client, ConfigError, Settings, load_settings
from rest_client.bulk import run_bulk_file
from rest_client.cli import main
from tests.conftest import REPO_ROOT

KEY = "input-key-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
GOOD = "https://res.openai.azure.com"
PASSWORD = "hunter2-3e9a7c"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


# -- 5. settings that cannot work ---------------------------------------------------------------------------------
BAD_NUMBERS = [
    ("connect_timeout", float("nan"), "must be a finite number"),
    ("read_timeout", float("inf"), "must be a finite number"),
    ("read_timeout", -1.0, "must be positive"),
    ("max_retry_wait", float("nan"), "must be a finite number"),
    ("max_retries", 1.7, "must be a whole number"),
    ("max_retries", True, "must be a number, got True"),
    ("max_retries", "3", None),  # a numeric string is accepted (config values are strings): the control
]


@pytest.mark.parametrize(("name", "value", "words"), BAD_NUMBERS)
def test_numbers_are_checked_by_settings_and_load_settings_alike(name, value, words) -> None:
    builders = [lambda: Settings(endpoint=GOOD, api_key=KEY, auth="key", **{name: value}),
                lambda: load_settings(endpoint=GOOD, api_key=KEY, **{name: value}),
                lambda: dataclasses.replace(Settings(endpoint=GOOD, api_key=KEY, auth="key"), **{name: value}),
                lambda: Client(Settings(endpoint=GOOD, api_key=KEY, auth="key"), **{name: value})]
    for build in builders:
        if words is None:
            built = build()
            assert getattr(getattr(built, "settings", built), name) == 3
            continue
        with pytest.raises(ConfigError, match=f"{name} .*{words}"):
            build()


BAD_ENDPOINTS = [
    pytest.param("https://res.openai.azure.com:99999", "is not a valid URL (Port out of range", id="port"),
    pytest.param("https://[::1", "is not a valid URL (Invalid IPv6 URL)", id="ipv6"),
    pytest.param("https://res.openai.azure.com\n/evil", "line break or control character", id="newline"),
    pytest.param(f"https://user:{PASSWORD}@res.openai.azure.com", "user name or password before '@'",
                 id="password"),
    pytest.param("http://res.openai.azure.com", "refusing to send credentials to http://", id="plain-http"),
]


@pytest.mark.parametrize(("endpoint", "words"), BAD_ENDPOINTS)
def test_endpoints_are_checked_from_every_source(endpoint, words, tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"AZURE_OPENAI_ENDPOINT": endpoint, "AZURE_OPENAI_API_KEY": KEY}))
    sources = [lambda: Settings(endpoint=endpoint, api_key=KEY, auth="key"),
               lambda: load_settings(endpoint=endpoint, api_key=KEY),
               lambda: load_settings(environ={"AZURE_OPENAI_ENDPOINT": endpoint, "AZURE_OPENAI_API_KEY": KEY}),
               lambda: load_settings(config)]
    for build in sources:
        with pytest.raises(ConfigError, match=re.escape(words)) as caught:
            build()
        assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(("endpoint", "words"), BAD_ENDPOINTS)
def test_a_bad_endpoint_with_dry_run_is_one_error_line_and_exit_2(endpoint, words) -> None:
    code, out, err = run_cli("--endpoint", endpoint, "--deployment", "d", "--auth", "cli", "--dry-run", "Hi")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and words in err
    assert PASSWORD not in err and "Traceback" not in err


def test_a_password_in_the_endpoint_is_never_printed_by_a_cli_process(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
    env.update(AZURE_OPENAI_ENDPOINT=f"https://me:{PASSWORD}@res.openai.azure.com", AZURE_OPENAI_API_KEY=KEY,
               AZURE_OPENAI_DEPLOYMENT="d", PYTHONPATH=str(REPO_ROOT))
    for extra in (["--dry-run"], ["--curl"], ["-v", "--dry-run"]):
        done = subprocess.run([sys.executable, "-m", "rest_client", *extra, "Hi"], env=env, capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 2 and done.stdout == ""
        assert ("Traceback" in done.stderr) == ("-v" in extra)  # -v adds the traceback, nothing else does
        assert done.stderr.startswith("error: environment variable AZURE_OPENAI_ENDPOINT holds a user name or "
                                      "password before '@'")
        assert PASSWORD not in done.stderr and KEY not in done.stderr


# -- 6. CLI numbers that JSON cannot carry --------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "1e999"])
@pytest.mark.parametrize("mode", [[], ["--dry-run"], ["--curl"], ["--stream"]])
def test_a_temperature_json_cannot_carry_is_one_error_line_and_exit_2(server, monkeypatch, value, mode) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "d")
    for flag in ("--temperature", "--top-p"):
        code, out, err = run_cli(*mode, f"{flag}={value}", "Hi")
        assert (code, out) == (2, "")
        assert err == ("error: the request holds a number JSON cannot carry (NaN or infinity): Out of range float "
                       "values are not JSON compliant; give a finite value\n")
    assert server.requests == []  # nothing was sent


def test_a_nan_temperature_in_a_cli_process_has_no_traceback(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
    env.update(AZURE_OPENAI_ENDPOINT=GOOD, AZURE_OPENAI_API_KEY=KEY, AZURE_OPENAI_DEPLOYMENT="d",
               PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-m", "rest_client", "--dry-run", "--temperature", "nan", "Hi"],
                          env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("error: the request holds a number JSON cannot carry") and "Traceback" not in \
        done.stderr


# -- 7. bulk: a custom_id that collides with a generated line-N ---------------------------------------------------
def test_a_custom_id_of_the_form_line_n_is_refused_and_stays_refused_on_rerun(server, tmp_path) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text('"first"\n'                                           # line-1 (generated)
                      '{"custom_id": "line-1", "prompt": "collides"}\n'     # would be a second line-1
                      '{"custom_id": "line-4", "prompt": "steals"}\n'       # would take line 4's id
                      '"fourth"\n'                                          # line-4 (generated)
                      '{"custom_id": "line-5", "prompt": "own line"}\n')   # its own line number: fine
    with Client(endpoint=server.url, api_key=KEY, deployment="dep") as c:
        first = run_bulk_file(c, source, target, concurrency=1)
        sent = sorted(r.json()["messages"][0]["content"] for r in server.requests)
        again = run_bulk_file(c, source, target, concurrency=1)
        retried = run_bulk_file(c, source, target, concurrency=1, retry_failed=True)
    assert sent == ["first", "fourth", "own line"] and len(server.requests) == 3  # reruns sent nothing
    assert (first.ok, first.failed, again.skipped, retried.skipped) == (3, 2, 5, 3)
    lines = [json.loads(x) for x in target.read_text().splitlines()]
    ids = [x["custom_id"] for x in lines]
    assert sorted(ids) == ["line-1", "line-2", "line-3", "line-4", "line-5"] and len(set(ids)) == len(ids)
    by_id = {x["custom_id"]: x for x in lines}
    assert by_id["line-2"]["error"] == {
        "code": "invalid_input_line",
        "message": "line 2: custom_id 'line-1' is reserved for the line without a custom_id at line 1: "
                   "choose another id", "status": None}
    assert by_id["line-3"]["error"]["message"].startswith("line 3: custom_id 'line-4' is reserved")
    assert all(by_id[i]["response"]["status_code"] == 200 for i in ("line-1", "line-4", "line-5"))
