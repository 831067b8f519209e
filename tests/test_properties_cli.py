"""Property-based test of the CLI's arguments with ``--dry-run`` / ``--curl`` (issue 12).

Whatever the flags hold, ``main`` returns 0 (the request is shown) or 2 (one ``error:`` line), or argparse exits
2 with its usage message; no other exception escapes, no traceback without ``-v``, nothing is sent, and the API
key from the config file never appears. ``main`` runs in-process with its own stdout/stderr.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from rest_client.cli import main

KEY = "prop-cli-key-7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29"
VALUE_FLAGS = ["--endpoint", "--deployment", "--api-version", "--auth", "--max-retries", "--system", "--max-tokens",
               "--temperature", "--top-p"]
SWITCHES = ["--chat", "--completions", "--stream", "-i", "--json", "-v"]
VALUES = st.one_of(
    st.text(max_size=16),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "-1", "0", "0.5", "2", "3.7", "key", "cli", "default",
                     "https://res.openai.azure.com", "https://res.openai.azure.com/openai/v1", "https://[::1",
                     "https://res.openai.azure.com:99999", "https://u:pw@res.openai.azure.com", "http://example.com",
                     "http://127.0.0.1:9", "https://res.openai.azure.com/openai/deployments/d/chat/completions"
                     "?api-version=2024-10-21", "https://res.openai.azure.com/openai/deployments/d/x%2Fy",
                     "<your-endpoint>", "2024-10-21", "a b", "..", "d/e", "\n"]),
)


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """config.json files to point --config at: good, good-without-deployment, broken, not an object, missing."""
    folder = tmp_path_factory.mktemp("configs")
    files = {"good": {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": KEY,
                      "AZURE_OPENAI_DEPLOYMENT": "chat", "COMPLETIONS_MODEL": "inst"},
             "bare": {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": KEY}}
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(data))
    paths["broken"] = folder / "broken.json"
    paths["broken"].write_text('{"AZURE_OPENAI_API_KEY": "' + KEY + '",')
    paths["list"] = folder / "list.json"
    paths["list"].write_text("[1]")
    paths["missing"] = folder / "missing.json"
    return paths


# Values each flag accepts, so that many examples get past the checks and print a request.
VALID = {"--endpoint": st.sampled_from(["https://res.openai.azure.com", "https://other.openai.azure.com/openai/v1",
                                        "http://127.0.0.1:9"]),
         "--deployment": st.text(min_size=1, max_size=10), "--api-version": st.sampled_from(["2024-10-21", "v"]),
         "--auth": st.sampled_from(["key", "cli", "default"]), "--max-retries": st.integers(0, 100).map(str),
         "--system": st.text(max_size=10), "--max-tokens": st.integers(-5, 10**6).map(str),
         "--temperature": st.floats().map(str), "--top-p": st.floats(0, 1).map(str)}
OPTION = st.sampled_from(VALUE_FLAGS).flatmap(lambda flag: st.tuples(st.just(flag), VALID[flag] | VALUES,
                                                                    st.booleans()))
ARGV = st.tuples(
    st.just("good") | st.sampled_from(["good", "bare", "broken", "list", "missing"]),
    st.lists(OPTION | st.sampled_from(SWITCHES), max_size=4),
    st.sampled_from([["--dry-run"], ["--curl"], ["--dry-run", "--curl"]]),
    st.sampled_from(["Once upon a time", "Hi"]) | st.text(max_size=20).filter(lambda p: p != "-"),  # "-" reads
    # stdin, which pytest does not offer
)


@given(ARGV)
def test_any_arguments_with_dry_run_or_curl_end_in_output_or_one_error(configs, case) -> None:
    config, options, mode, prompt = case
    argv = ["--config", str(configs[config])]
    for option in options:
        if isinstance(option, str):
            argv.append(option)
        else:
            flag, value, joined = option
            argv += [f"{flag}={value}"] if joined else [flag, value]
    argv += [*mode, "--", prompt]
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(argv, stdout=out, stderr=err)
    except SystemExit as exc:  # argparse's own usage errors (a value it cannot convert, a bad choice)
        assert exc.code == 2
        event("argparse usage error")
        return
    output, errors = out.getvalue(), err.getvalue()
    assert code in (0, 2), (argv, errors)
    event(f"exit {code}")
    assert KEY not in output + errors
    if code == 0:
        assert output and "error:" not in errors
    else:
        assert output == "" and errors.count("error: ") == 1, errors
        assert ("Traceback" in errors) == ("-v" in argv)
