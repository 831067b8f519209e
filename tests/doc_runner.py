"""Run the code blocks of one docs page for real, the way a reader would paste them (see doc_snippets.py).

Shell blocks run as bash processes, Python blocks are executed in one namespace per page by a Python process
of the page's own (doc_python.py), servers marked ``<!-- server -->`` run in the background until the page
ends, and every shown output is compared with what the code prints now. Nothing runs in the test's own
process, so no snippet can change the state of the tests that follow it. The caller gives the environment a
reader would have set up (tests/test_docs.py: an emulator's endpoint, key and deployments), and a scratch
folder the page's blocks share (files one block writes, the next reads).

Why collect failures instead of stopping at the first: one stale page usually has several stale blocks, and
a report naming all of them is fixed in one go.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.doc_snippets import (
    DEFAULT_READY,
    REPO_ROOT,
    SHELL_LANGS,
    Block,
    console_commands,
    output_difference,
    output_matches,
    parse_blocks,
)

BLOCK_TIMEOUT = 120  # seconds for one shell block: the per-test timeout would hide which block hung
SERVER_READY_TIMEOUT = 30
SERVER_STOP_TIMEOUT = 15
ENV_PREFIXES_REMOVED = ("AZURE_", "OPENAI_", "IDENTITY_", "MSI_", "IMDS_", "APIM_")
PYTHON_WORKER = Path(__file__).with_name("doc_python.py")
_EXPORT = re.compile(r"^export (?P<name>[A-Z_][A-Z0-9_]*)=(?P<value>\S*)$")


@dataclass
class Server:
    """A background process started by a ``<!-- server -->`` block; its output is drained by a thread."""

    block: Block
    command: str
    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, ready: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if line is None:
                return False
            self.seen.append(line)
            if ready in line:
                return True
        return False


@dataclass
class PageRun:
    """One page's blocks, run in order. ``run()`` returns the failures (empty when the page is right)."""

    page: Path
    env: Mapping[str, str]
    workdir: Path
    blocks: list[Block] | None = None
    failures: list[str] = field(default_factory=list)
    ran: int = 0
    checked: int = 0
    _servers: list[Server] = field(default_factory=list)
    _exports: dict[str, str] = field(default_factory=dict)
    _base_env: dict[str, str] = field(default_factory=dict)
    _python: PythonWorker | None = None

    def run(self) -> list[str]:
        blocks = self.blocks if self.blocks is not None else parse_blocks(self.page)
        last: tuple[Block, str] | None = None  # the last block that ran, and what it printed
        self._base_env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES_REMOVED)}
        self._base_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        try:
            for block in blocks:
                if block.is_output:
                    self._check_output(block, last)
                    last = None
                elif not block.runnable:
                    last = None
                else:
                    self.ran += 1
                    last = (block, self._run(block))
        finally:
            if self._python is not None:
                self._python.close()
            self._stop_servers()
        return self.failures

    # ---- one block -------------------------------------------------------------------------------------------

    def _run(self, block: Block) -> str:
        cwd = REPO_ROOT if "in-repo" in block.markers else self.workdir
        if "server" in block.markers:
            return self._start_servers(block, cwd)
        if block.lang in SHELL_LANGS:
            return self._run_shell(block, cwd)
        if block.lang == "console":
            return self._run_console(block, cwd)
        return self._run_python(block, cwd)

    def _expected_exit(self, block: Block) -> int:
        return int(block.markers.get("exit") or 0)

    def _shell(self, command: str, cwd: Path, *, errexit: bool = True) -> tuple[int, str]:
        args = ["bash", "-o", "pipefail", "-c", command]
        if errexit:
            args.insert(1, "-e")
        try:
            proc = subprocess.run(args, cwd=cwd, env=self._process_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            return -1, f"{exc.output or ''}\n[no end after {BLOCK_TIMEOUT} s]"
        return proc.returncode, proc.stdout

    def _run_shell(self, block: Block, cwd: Path) -> str:
        code, output = self._shell(block.code, cwd)
        if code != self._expected_exit(block):
            self._fail(block, f"exit code {code}, expected {self._expected_exit(block)}; it printed:\n{output}")
        return output

    def _run_console(self, block: Block, cwd: Path) -> str:
        try:
            pairs = console_commands(block.code)
        except ValueError as exc:
            self._fail(block, str(exc))
            return ""
        output = ""
        for n, (command, expected) in enumerate(pairs, start=1):
            wanted = self._expected_exit(block) if n == len(pairs) else 0
            code, output = self._shell(command, cwd, errexit=False)
            if code != wanted:
                self._fail(block, f"`{command}` exited {code}, expected {wanted}; it printed:\n{output}")
            elif not output_matches(expected, output):
                self._fail(block, f"`{command}` printed something else:\n{output_difference(expected, output)}")
            else:
                self.checked += 1
        return output

    def _run_python(self, block: Block, cwd: Path) -> str:
        if self._python is None:
            self._python = PythonWorker(self._process_env())
        output, error = self._python.run(block, cwd, self._process_env())
        if error:
            self._fail(block, f"{error.strip().splitlines()[-1]}\n{output}{error}")
        return output

    def _check_output(self, block: Block, last: tuple[Block, str] | None) -> None:
        if last is None:
            self._fail(block, "an output block must come right after a block that runs (is it marked not-run?)")
            return
        source, printed = last
        if output_matches(block.code, printed):
            self.checked += 1
        else:
            self._fail(block, f"the output of {source.where} differs:\n{output_difference(block.code, printed)}")

    # ---- servers ---------------------------------------------------------------------------------------------

    def _start_servers(self, block: Block, cwd: Path) -> str:
        ready = block.markers["server"] or DEFAULT_READY
        banner = []
        for command in (line.strip() for line in block.code.splitlines()):
            if not command or command.startswith("#"):
                continue
            process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=self._process_env(),
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            server = Server(block, command, process)
            self._servers.append(server)
            threading.Thread(target=server.drain, daemon=True).start()
            if not server.wait_for(ready, SERVER_READY_TIMEOUT):
                self._fail(block, f"`{command}` did not print {ready!r} within {SERVER_READY_TIMEOUT} s:\n"
                                  + "".join(server.seen))
                continue
            banner.append("".join(server.seen))
            for line in server.seen:
                if found := _EXPORT.match(line.strip()):
                    self._exports[found["name"]] = found["value"]
        return "".join(banner)

    def _stop_servers(self) -> None:
        for server in self._servers:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGINT)
            try:
                code = server.process.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
                self._fail(server.block, f"`{server.command}` did not stop within {SERVER_STOP_TIMEOUT} s of SIGINT")
                continue
            if code != 0:
                self._fail(server.block, f"`{server.command}` exited {code} when stopped with SIGINT")
        self._servers.clear()

    # ---- helpers ---------------------------------------------------------------------------------------------

    def _process_env(self) -> dict[str, str]:
        """What a reader's shell would hold: no stray Azure settings, this Python first on PATH, the page's
        environment, and what the page's servers said to export."""
        env = dict(self._base_env)
        env.update(self.env)
        env.update(self._exports)
        return env

    def _fail(self, block: Block, message: str) -> None:
        self.failures.append(f"{block.where} ({block.lang}): {message.rstrip()}")


class PythonWorker:
    """The page's Python process (doc_python.py): one block at a time, answers on a pipe of their own."""

    def __init__(self, env: dict[str, str]) -> None:
        read_end, write_end = os.pipe()
        # its own crash, if it has one; closed in close()
        self._log = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen([sys.executable, str(PYTHON_WORKER), str(write_end)], env=env,
                                        stdin=subprocess.PIPE, stdout=self._log, stderr=self._log, text=True,
                                        pass_fds=(write_end,))
        os.close(write_end)
        self._answers = os.fdopen(read_end, encoding="utf-8")

    def run(self, block: Block, cwd: Path, env: dict[str, str]) -> tuple[str, str | None]:
        """What the block printed, and its traceback (None when it ran)."""
        assert self.process.stdin is not None
        request = {"code": block.code, "where": block.where, "cwd": str(cwd), "env": env}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            return "", f"the page's Python process is gone:\n{self._crash()}"
        ready, _, _ = select.select([self._answers], [], [], BLOCK_TIMEOUT)
        line = self._answers.readline() if ready else ""
        if not line:
            reason = f"no answer within {BLOCK_TIMEOUT} s" if not ready else "the page's Python process died"
            self.process.kill()
            return "", f"{reason}:\n{self._crash()}"
        answer = json.loads(line)
        return answer["output"], answer["error"]

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._answers.close()
        self._log.close()

    def _crash(self) -> str:
        self._log.seek(0)
        return self._log.read()[-4000:]
