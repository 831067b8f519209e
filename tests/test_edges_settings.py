"""Edges of settings (issue 30): what a paste brings along, credentials in URLs, headers that cannot be sent.

Each is one ``ConfigError`` naming the setting (in the CLI: one ``error:`` line, exit 2, no traceback, nothing
sent), and never shows the secret it is about. Real CLI processes or ``main`` in-process against a loopback
server (ScriptedServer), which also proves nothing reached the wire; each has a control that works.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from rest_client import Client, ConfigError, Settings, load_settings
from rest_client.backends import SPILLOVER_HEADER, parse_backends
from rest_client.cli import main
from tests.conftest import REPO_ROOT

KEY = "settings-key-1a2b3c4d5e6f708192a3b4c5d6e7f809"
ZWSP = "\u200b"
PASSWORD = "hunter2-pw-77e1"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def cli_process(env_extra: dict[str, str], *argv: str, cwd=None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_"))}
    env.update(PYTHONPATH=str(REPO_ROOT), **env_extra)
    return subprocess.run([sys.executable, "-m", "rest_client", *argv], env=env, capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def one_error(code: int, out: str, err: str, *words: str) -> None:
    assert (code, out) == (2, ""), err
    assert err.count("error: ") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


# -- a zero-width space or a character headers cannot carry --------------------------------------------------------
def test_a_zero_width_space_pasted_with_the_key_is_a_config_error_naming_the_variable(server, tmp_path) -> None:
    env = {"AZURE_OPENAI_ENDPOINT": server.url, "AZURE_OPENAI_DEPLOYMENT": "dep"}
    done = cli_process({**env, "AZURE_OPENAI_API_KEY": KEY + ZWSP}, "Hi", cwd=tmp_path)
    one_error(done.returncode, done.stdout, done.stderr, "api_key (from environment variable AZURE_OPENAI_API_KEY) "
              f"holds the invisible character U+200B (ZERO WIDTH SPACE) at character {len(KEY) + 1}")
    assert KEY not in done.stderr and server.requests == []
    control = cli_process({**env, "AZURE_OPENAI_API_KEY": KEY}, "Hi", cwd=tmp_path)
    assert control.returncode == 0 and server.requests[0].headers["api-key"] == KEY


@pytest.mark.parametrize(("header", "words"), [
    ("X-Team: 日本", "header X-Team (from flag -H) holds U+65E5 (CJK UNIFIED IDEOGRAPH-65E5) at character 1, which "
                   "an HTTP header cannot carry"),
    (f"X-Team: a{ZWSP}b", "header X-Team (from flag -H) holds the invisible character U+200B"),
    ("X Team: a", "header name 'X Team' (from flag -H) is not a valid HTTP header name"),
    ("Transfer-Encoding: chunked", "header Transfer-Encoding (from flag -H) is set by the HTTP layer"),
    ("Content-Length: 5", "header Content-Length (from flag -H) is set by the HTTP layer"),
    ("Host: other.example", "header Host (from flag -H) is set by the HTTP layer"),
])
@pytest.mark.parametrize("mode", [[], ["--dry-run"], ["--curl"], ["--stream"]])
def test_a_header_that_cannot_be_sent_is_refused_before_anything_is_sent(server, monkeypatch, header, words,
                                                                          mode) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "dep")
    one_error(*run_cli(*mode, "-H", header, "Hi"), words)
    assert server.requests == []


def test_a_good_extra_header_is_sent_as_given(server, monkeypatch) -> None:  # the control
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    code, _, err = run_cli("--deployment", "dep", "-H", "X-Team: Müller", "Hi")
    assert code == 0, err
    assert server.requests[0].headers["X-Team"] == "Müller"  # Latin-1 on the wire, as HTTP/1.1 carries it


def test_the_library_refuses_the_same_headers_with_the_same_words(server) -> None:
    with pytest.raises(ConfigError, match=r"header X-Team .* holds U\+65E5"):
        Client(endpoint=server.url, api_key=KEY, deployment="d", headers={"X-Team": "日本"})
    with pytest.raises(ConfigError, match=r"api_key \(from argument api_key\) holds U\+2019"):
        Settings(endpoint=server.url, api_key="abc\u2019def", auth="key")
    with Client(endpoint=server.url, api_key=KEY, deployment="d") as client:
        for headers, words in (({"X-Team": "日本"}, r"holds U\+65E5"), ({"Content-Length": "1"}, "HTTP layer")):
            with pytest.raises(ConfigError, match=words):
                client.request("POST", "chat/completions", json={"messages": []}, headers=headers)
    assert server.requests == []


@pytest.mark.parametrize("endpoint", [f"https://res{ZWSP}.openai.azure.com", "https://r€s.openai.azure.com",
                                      f"https://res.openai.azure.com/{ZWSP}"])
@pytest.mark.parametrize("mode", [["--dry-run"], ["--curl"], []])
def test_a_host_with_an_invisible_or_invalid_character_is_a_config_error(endpoint, mode) -> None:
    code, out, err = run_cli("--endpoint", endpoint, "--deployment", "d", "--auth", "cli", *mode, "Hi")
    one_error(code, out, err, "argument endpoint")
    assert ("U+200B (ZERO WIDTH SPACE)" in err) == (ZWSP in endpoint)


def test_an_internationalised_host_is_still_accepted() -> None:  # the control: valid IDNA is a real host
    assert load_settings(endpoint="https://müller.example", api_key=KEY).endpoint == "https://müller.example"


# -- credentials in the endpoint URL -----------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", [
    f"https://me:{PASSWORD}@<resource>.openai.azure.com",         # a placeholder and a password
    f"https://me:{PASSWORD}@res.openai.azure.com:99999",          # a bad port and a password
    f"https://me:{PASSWORD}@res.openai.azure.com\n",              # a line break and a password (not stripped inside)
    f"https://res.openai.azure.com:99999/?api-key={PASSWORD}",    # a bad port and a key in the query
    f"https://<res>.openai.azure.com/?subscription-key={PASSWORD}",
    f"https://res.openai.azure.com/openai/x?code={PASSWORD}",
])
def test_a_password_or_query_key_is_never_echoed_when_the_endpoint_has_a_second_problem(endpoint, tmp_path) -> None:
    done = cli_process({"AZURE_OPENAI_ENDPOINT": endpoint, "AZURE_OPENAI_API_KEY": KEY,
                        "AZURE_OPENAI_DEPLOYMENT": "d"}, "--dry-run", "Hi", cwd=tmp_path)
    one_error(done.returncode, done.stdout, done.stderr, "environment variable AZURE_OPENAI_ENDPOINT")
    assert PASSWORD not in done.stderr and KEY not in done.stderr
    with pytest.raises(ConfigError) as caught:
        load_settings(endpoint=endpoint, api_key=KEY)
    assert PASSWORD not in str(caught.value) and PASSWORD not in repr(caught.value)


@pytest.mark.parametrize(("query", "where"), [
    ("api-key", "set AZURE_OPENAI_API_KEY instead"), ("subscription-key", "set APIM_SUBSCRIPTION_KEY instead"),
    ("code", "give it as a header instead"), ("X-Api-Key", "give it as a header instead"),
    ("sig", "give it as a header instead")])
def test_a_key_in_the_query_of_a_valid_endpoint_is_refused_not_silently_dropped(server, query, where) -> None:
    endpoint = f"{server.url}/?{query}={PASSWORD}&api-version=2024-10-21"
    code, out, err = run_cli("--endpoint", endpoint, "--deployment", "d", "--auth", "key", "Hi")
    one_error(code, out, err, f"carries a credential in its query ({query}=***)", "never in URLs", where)
    assert PASSWORD not in err and server.requests == []


def test_a_query_with_only_an_api_version_is_still_the_portal_target_uri(server) -> None:  # the control
    settings = load_settings(endpoint=f"{server.url}/openai/deployments/d/chat/completions?api-version=2025-01-01",
                             api_key=KEY)
    assert (settings.endpoint, settings.deployment, settings.api_version) == (server.url, "d", "2025-01-01")


# -- -H and config.json backends ---------------------------------------------------------------------------------------
def test_dash_h_is_added_to_every_backends_own_headers_not_put_in_their_place(server, tmp_path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"backends": [
        {"endpoint": server.url, "api_key": KEY, "deployment": "ptu", "priority": 1, "spillover_deployment": "paygo",
         "headers": {"X-Gateway-Route": "east"}}]}))
    code, _, err = run_cli("--config", str(config), "-H", "X-Run: 7", "Hi")
    assert code == 0, err
    sent = server.requests[0].headers
    assert (sent["X-Run"], sent["X-Gateway-Route"], sent[SPILLOVER_HEADER]) == ("7", "east", "paygo")


def test_a_backends_headers_given_as_a_list_of_lines_are_read_like_dash_h(server) -> None:
    (backend,) = parse_backends([{"endpoint": server.url, "api_key": KEY, "headers": ["X-A: 1"],
                                  "spillover_deployment": "s"}], overrides={"headers": ["X-B: 2"]})
    assert dict(backend.settings.headers) == {"X-A": "1", SPILLOVER_HEADER: "s", "X-B": "2"}


@pytest.mark.parametrize(("entry", "words"), [
    ({"priority": float("nan")}, r"backends\[0\].priority must be a whole number ≥ 1 .*got nan"),
    ({"priority": float("inf")}, r"backends\[0\].priority must be a whole number ≥ 1 .*got inf"),
    ({"priority": -float("inf")}, r"backends\[0\].priority must be"),
    ({"headers": [["X-A", "1"]], "spillover_deployment": "s"}, r"header \['X-A', '1'\] \(from backends\[0\].headers\)"),
    ({"headers": 7, "spillover_deployment": "s"}, r"headers \(from backends\[0\].headers\) must be an object"),
])
def test_odd_backend_entries_are_config_errors(server, entry, words) -> None:
    with pytest.raises(ConfigError, match=words):
        Client(backends=[{"endpoint": server.url, "api_key": KEY, **entry}])


def test_a_nan_priority_in_config_json_is_refused_as_not_json(tmp_path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"backends": [{"endpoint": "https://a.openai.azure.com", "api_key": "k", "priority": NaN}]}')
    code, out, err = run_cli("--config", str(config), "--dry-run", "Hi")
    one_error(code, out, err, f"config file {config} is not valid JSON: NaN is not JSON")
