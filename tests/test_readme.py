"""The README's commands work as written: the two commands for a fresh machine, and CI runs the same tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def fresh_machine_block() -> list[str]:
    section = README.split("## A fresh machine: two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the fresh-machine section has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "OPENAI_", "IDENTITY_", "MSI_"))}


def test_fresh_machine_block_is_two_commands_install_and_main_job_then_tests() -> None:
    first, second = fresh_machine_block()
    install, main_job = first.split(" && ")
    assert install == "python -m pip install -r requirements-dev.txt"
    assert main_job == 'python -m rest_client --emulator "Once upon a time"'
    assert second == "python -m pytest -q"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert fresh_machine_block()[1] in ci.splitlines()
    assert "pip install" in ci and "requirements-dev.txt" in ci


def test_the_main_job_command_as_written(tmp_path) -> None:
    main_job = fresh_machine_block()[0].split(" && ")[1]
    command = main_job.replace("python", sys.executable, 1)
    proc = subprocess.run(command, shell=True, cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.split()) >= 8  # a story, not an error or an empty line
    assert "answering from the built-in emulator" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_verbose_example_shows_what_the_readme_says(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "rest_client", "--emulator", "-v", "--max-tokens", "20",
                           "Once upon a time"], cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    for shown in ("* endpoint: http://127.0.0.1:", "> Authorization: Bearer ***", "* attempt 1: HTTP 200",
                  "< apim-request-id: ", "* legend: apim-request-id", "* token: from ManagedIdentityCredential",
                  "* total: "):
        assert shown in proc.stderr, shown
