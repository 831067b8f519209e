"""A newcomer's first hour, walked as a user would: real CLI processes against an emulator on loopback.

Each test is one trap a new user met (issue "The first hour"): the example config's placeholder for a
deployment the call does not use, the first command without an Azure account, global options typed before a
subcommand, ``batch run --emulator`` run twice, the Ctrl-C note of a batch wait.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rest_client.cli import hoist_subcommand
from rest_client.cli.batch import interrupted_note
from rest_client.emulator import Emulator
from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "config.json.example"


def cli(*argv: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_", "MSI_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)  # this checkout's package, whatever is installed
    return subprocess.run([sys.executable, "-m", "rest_client", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


def config_from_example(emu: Emulator, folder: Path) -> Path:
    """config.json.example with what a newcomer fills in: endpoint, chat deployment, key. The completions
    placeholder stays as it is."""
    config = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert config["COMPLETIONS_MODEL"].startswith("<"), "the example no longer has the placeholder this test is about"
    config.update(AZURE_OPENAI_ENDPOINT=emu.endpoint, AZURE_OPENAI_DEPLOYMENT=emu.chat_deployment,
                  AZURE_OPENAI_API_KEY=emu.api_key)
    path = folder / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def test_a_placeholder_for_a_deployment_the_call_does_not_use_does_not_block_it(emulator, tmp_path) -> None:
    config_from_example(emulator, tmp_path)
    proc = cli("--max-tokens", "12", "Once upon a time", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and "placeholder" not in proc.stderr


def test_a_call_that_needs_the_placeholder_deployment_names_it(emulator, tmp_path) -> None:
    config_from_example(emulator, tmp_path)
    proc = cli("--completions", "Once upon a time", cwd=tmp_path)
    assert proc.returncode == 2
    assert "COMPLETIONS_MODEL" in proc.stderr and "<your-completions-deployment>" in proc.stderr
    assert "Traceback" not in proc.stderr and emulator.api_key not in proc.stderr + proc.stdout


def test_the_notebooks_setup_cell_loads_the_example_config_with_its_placeholder(emulator, tmp_path) -> None:
    sys.path.insert(0, str(REPO_ROOT / "notebooks"))
    try:
        from _cells.common import setup_cell
    finally:
        sys.path.remove(str(REPO_ROOT / "notebooks"))
    config_from_example(emulator, tmp_path)  # the notebooks read ./config.json: conftest put us in tmp_path
    namespace: dict[str, object] = {}
    exec(setup_cell(), namespace)  # the cell as it stands in every notebook
    settings = namespace["settings"]
    assert settings.deployment == emulator.chat_deployment and settings.completions_deployment is None
    assert namespace["client"].chat("Hi", max_tokens=5).status_code == 200
    namespace["client"].close()


def test_the_first_command_without_any_configuration_points_at_the_emulator(tmp_path) -> None:
    proc = cli("Once upon a time", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no endpoint configured" in proc.stderr
    assert "--emulator" in proc.stderr and "Traceback" not in proc.stderr
    control = cli("--emulator", "--endpoint", "", "Once upon a time", cwd=tmp_path)  # with --emulator: no such tip
    assert "add --emulator" not in control.stderr


def test_global_options_before_a_subcommand_are_those_after_it(emulator, tmp_path) -> None:
    (tmp_path / "elsewhere").mkdir()
    config = config_from_example(emulator, tmp_path / "elsewhere")  # not ./config.json: --config must carry it
    (tmp_path / "in.jsonl").write_text('{"prompt": "one"}\n{"prompt": "two"}\n', encoding="utf-8")
    before = cli("--config", str(config), "bulk", "in.jsonl", "-o", "before.jsonl", cwd=tmp_path)
    after = cli("bulk", "in.jsonl", "-o", "after.jsonl", "--config", str(config), cwd=tmp_path)
    assert (before.returncode, after.returncode) == (0, 0), before.stderr + after.stderr
    lines = (tmp_path / "before.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and all(json.loads(line)["response"]["status_code"] == 200 for line in lines)
    doctor = cli("--config", str(config), "-v", "doctor", cwd=tmp_path)
    assert "unrecognized arguments" not in doctor.stderr and doctor.returncode == 0, doctor.stdout + doctor.stderr


def test_batch_run_with_the_emulator_twice_runs_a_new_batch_each_time(tmp_path) -> None:
    (tmp_path / "in.jsonl").write_text('{"prompt": "one"}\n{"prompt": "two"}\n', encoding="utf-8")
    first = cli("batch", "run", "in.jsonl", "-o", "out.jsonl", "--emulator", "--poll", "0.05", "--poll-max", "0.2",
                cwd=tmp_path)
    second = cli("batch", "run", "in.jsonl", "-o", "out.jsonl", "--emulator", "--poll", "0.05", "--poll-max", "0.2",
                 cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr  # was exit 1: a 404 for the gone emulator's batch id
    assert "HTTP 404" not in second.stderr and "NotFound" not in second.stderr  # not "404": a port may hold it
    assert len((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_the_ctrl_c_note_of_a_batch_wait_names_the_real_batch_id(tmp_path) -> None:
    output = tmp_path / "out.jsonl"
    args = argparse.Namespace(command="run", output=str(output))
    assert "before a batch was created" in interrupted_note(args)
    (tmp_path / "out.jsonl.batch.json").write_text(json.dumps({"batch_id": "batch_abc123"}), encoding="utf-8")
    note = interrupted_note(args)
    assert "batch_abc123" in note and "batch cancel batch_abc123" in note and "BATCH_ID" not in note
    assert "batch cancel batch_9" in interrupted_note(argparse.Namespace(command="wait", batch_id="batch_9",
                                                                         output=str(output)))


OPTION = st.sampled_from(["--config", "--endpoint", "--deployment", "-H", "--timeout", "--emulator", "-v",
                          "--max-retries", "--system", "--stream", "--"])
WORD = st.sampled_from(["bulk", "batch", "doctor", "run", "in.jsonl", "x", "-o", "1"])


@given(st.lists(st.one_of(OPTION, WORD), max_size=8))
def test_hoisting_only_reorders_and_is_stable(argv: list[str]) -> None:
    hoisted = hoist_subcommand(argv)
    assert sorted(hoisted) == sorted(argv)  # nothing added, nothing lost
    assert hoist_subcommand(hoisted) == hoisted
    if "--" in argv and argv.index("--") < min((argv.index(w) for w in ("bulk", "batch", "doctor") if w in argv),
                                               default=len(argv)):
        assert hoisted == argv  # after --, "bulk" is a prompt


def scripted_env(server: object, tmp_path: Path) -> Path:
    config = {"AZURE_OPENAI_ENDPOINT": server.url, "AZURE_OPENAI_DEPLOYMENT": "chat-dep",  # type: ignore[attr-defined]
              "AZURE_OPENAI_API_KEY": "first-hour-key-0123456789abcdef"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def test_verbose_shows_finish_reason_and_usage_and_a_cut_answer_gets_a_note(server, tmp_path) -> None:
    from tests.helpers import CHAT_BODY, Reply

    cut = {**CHAT_BODY, "choices": [{**CHAT_BODY["choices"][0], "finish_reason": "length"}]}
    server.replies.extend([Reply(body=cut), Reply(body=cut)])
    scripted_env(server, tmp_path)
    verbose = cli("-v", "--max-tokens", "3", "Hi", cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stderr
    assert "* finish_reason length; usage: 3 prompt + 3 completion = 6 tokens" in verbose.stderr
    quiet = cli("--max-tokens", "3", "Hi", cwd=tmp_path)  # no -v: the note still says the answer is cut
    assert quiet.returncode == 0 and quiet.stdout == "Hello there.\n"
    assert "note: the answer was cut short (finish_reason length): raise --max-tokens" in quiet.stderr
    server.replies.append(Reply())
    whole = cli("Hi", cwd=tmp_path)  # the control: a whole answer gets no note
    assert whole.stderr == "" and whole.returncode == 0


def test_verbose_shows_a_retried_429s_own_headers_and_body(server, tmp_path) -> None:
    from tests.helpers import Reply

    server.replies.extend([Reply(429, {"error": {"code": "429", "message": "Rate limit is exceeded. Own words."}},
                                 headers={"retry-after-ms": "20", "x-ratelimit-remaining-requests": "0"}), Reply()])
    scripted_env(server, tmp_path)
    proc = cli("-v", "Hi", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rest = proc.stderr.partition("* attempt 1: HTTP 429")[2]
    assert rest, proc.stderr
    shown_before_attempt_2 = rest.split("* attempt 2", 1)[0]
    assert "< retry-after-ms: 20" in shown_before_attempt_2
    assert "< x-ratelimit-remaining-requests: 0" in shown_before_attempt_2
    assert "Own words." in shown_before_attempt_2
    assert "first-hour-key-0123456789abcdef" not in proc.stderr + proc.stdout


def test_curl_with_the_emulator_prints_a_command_that_works_against_a_standalone_emulator(tmp_path) -> None:
    """The curl command --emulator prints used an `az` token (impossible offline) and the address of an
    emulator that had already stopped; now it uses what a standalone emulator prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_", "MSI_"))}
    env["PYTHONPATH"] = str(REPO_ROOT)
    server = subprocess.Popen([sys.executable, "-m", "rest_client.emulator"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        exports: dict[str, str] = {}
        assert server.stdout is not None
        for _ in range(60):  # the banner is a few lines long; bounded either way
            line = server.stdout.readline()
            if line.startswith("export AZURE_OPENAI_"):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exports[name] = value
            if not line or line.startswith("Press Ctrl-C"):
                break
        assert {"AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"} <= set(exports), exports
        printed = cli("--emulator", "--curl", "Hi", cwd=tmp_path)
        assert printed.returncode == 0 and "az account" not in printed.stdout + printed.stderr
        assert "python -m rest_client.emulator" in printed.stderr
        sent = subprocess.run(["bash", "-c", printed.stdout.rstrip() + " -o /dev/null -w '%{http_code}'"],
                              env={**env, **exports}, capture_output=True, text=True, timeout=60)
        assert sent.stdout == "200", sent.stdout + sent.stderr
        assert exports["AZURE_OPENAI_API_KEY"] not in printed.stdout + printed.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_cli_hints_speak_flags_not_python(tmp_path) -> None:
    """No `az` on PATH: the credential hint offers key auth as the shell spells it, not as Python does."""
    (tmp_path / "bin").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_", "MSI_"))}
    env.update(PYTHONPATH=str(REPO_ROOT), PATH=str(tmp_path / "bin"))  # an empty PATH: no az anywhere
    proc = subprocess.run([sys.executable, "-m", "rest_client", "--endpoint", "https://example.openai.azure.com",
                           "--deployment", "d", "--auth", "cli", "Hi"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "--auth key" in proc.stderr and "auth='key'" not in proc.stderr
    from rest_client.cli.show import for_the_shell

    assert for_the_shell("or pass deployment= / --deployment") == "or pass --deployment"
    assert for_the_shell("use key auth (auth='key' / --auth key)") == "use key auth (--auth key)"


def bulk(tmp_path: Path, content: str, emulator: Emulator) -> subprocess.CompletedProcess[str]:
    (tmp_path / "in.jsonl").write_text(content, encoding="utf-8")
    config_from_example(emulator, tmp_path)
    return cli("bulk", "in.jsonl", "-o", "out.jsonl", cwd=tmp_path)


def test_bulk_refuses_a_json_array_before_sending_anything(emulator, tmp_path) -> None:
    proc = bulk(tmp_path, '[\n  {"prompt": "one"},\n  {"prompt": "two"}\n]\n', emulator)
    assert proc.returncode == 2
    assert "holds a JSON array, not JSONL" in proc.stderr and "jq -c '.[]'" in proc.stderr
    assert not (tmp_path / "out.jsonl").exists() or not (tmp_path / "out.jsonl").read_text()


def test_bulk_refuses_plain_text_before_sending_anything(emulator, tmp_path) -> None:
    proc = bulk(tmp_path, "Tell me a story\nWrite a poem\n", emulator)
    assert proc.returncode == 2
    assert "is not JSONL" in proc.stderr and "jq -R ." in proc.stderr


def test_bulk_says_a_cut_line_was_split_not_invalid_control_character(emulator, tmp_path) -> None:
    proc = bulk(tmp_path, '{"prompt": "one"}\n{"prompt": "a story\nabout a fox"}\n', emulator)
    assert proc.returncode == 1  # two lines failed, one succeeded: exit 1, as for any failed line
    failed = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
              if json.loads(line)["error"]]
    messages = " ".join(line["error"]["message"] for line in failed)
    assert "split over two lines" in messages, messages


def test_summary_messages_are_never_cut_inside_a_url() -> None:
    from rest_client.bulk.summary import shorten

    message = ("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have "
               "exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 86400 seconds. "
               "Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the limit.")
    short = shorten(message, 200)
    assert len(short) <= 202 and short.endswith("…")
    assert "https://" not in short or "https://aka.ms/oai/quotaincrease" in short
    assert shorten(message, 230).count("https://aka.ms/oai/quotaincrease") == 1  # kept whole when it starts in
    assert shorten("x" * 300, 200) == "x" * 200 + "…"
    assert shorten("short", 200) == "short"


@given(st.text(max_size=400), st.integers(min_value=1, max_value=250))
def test_shorten_keeps_a_prefix_of_words_and_never_cuts_a_url(text: str, limit: int) -> None:
    from rest_client.bulk.summary import shorten

    short = shorten(text, limit)
    if len(text) <= limit:
        assert short == text
    else:
        kept = short.removesuffix("…").rstrip()
        assert text.startswith(kept.rstrip(" ,;:")) or text.startswith(kept)
        assert not any(w.startswith(("http://", "https://")) and w not in text.split(" ") for w in kept.split(" "))


@given(st.text(max_size=200))
def test_the_jsonl_check_refuses_only_with_a_config_error(first_line: str) -> None:
    from rest_client.bulk.items import check_jsonl
    from rest_client.errors import ConfigError

    try:
        check_jsonl(first_line, "in.jsonl")
    except ConfigError as exc:
        assert "in.jsonl" in str(exc)
