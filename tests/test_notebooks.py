"""The walkthroughs in notebooks/ run top to bottom, are saved clean, and print no key or token.

Each notebook is executed twice, in a real ipykernel started with this very interpreter (whatever kernelspecs
the machine has installed), in an empty folder:
- *offline*: no Azure variables at all, so its setup cell starts the built-in emulator in the kernel;
- *configured*: AZURE_OPENAI_ENDPOINT and a managed identity in the environment, as on an Azure VM — played by
  an emulator in this process — so the cells meant for your own resource run too (emulator-only demos skip).
Two cells the notebook does not contain run around it: a spy first, recording every key and token handed out,
and a probe last, reporting them; the notebook's own outputs are then searched for them.
The offline run is then converted to HTML with nbconvert and opened in a real browser (headless Chromium,
tests/browser.py): the page must render, with the package's SVG pictures in its DOM.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from traitlets import default

from rest_client.emulator import Emulator
from tests.browser import dump_dom, find_browser, ink, offline, screenshot
from tests.conftest import REPO_ROOT
from tests.html_page import Page

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
EXPECTED_NOTEBOOKS = [
    "01_completions_with_entra_id.ipynb",
    "02_chat.ipynb",
    "03_headers_and_status_codes.ipynb",
    "04_retries_and_rate_limits.ipynb",
    "05_streaming.ipynb",
    "06_token_lifecycle.ipynb",
    "07_bulk_runs.ipynb",
    "08_azure_batch.ipynb",
    "09_responses_and_reasoning.ipynb",
    "10_from_assistants_to_responses.ipynb",
]
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
GREETING = {
    "offline": "using the built-in emulator",
    "configured": "Using YOUR Azure OpenAI resource",
}
BROWSER = find_browser()
NO_BROWSER = ("no Chromium on this machine: install it to run the browser tests (Debian: apt-get install -y "
              "chromium; .ci/run does)")
SCREENSHOTS = os.environ.get("NOTEBOOK_SCREENSHOTS")
"""A folder to keep each rendered notebook's screenshot in, to look at them (else they go with tmp_path)."""
PICTURE = {"07_bulk_runs.ipynb": "rest-client-sends"}
"""The package's SVG each rendered notebook must show: the attempts timeline, or (07) the sends chart."""
SHOWN = {
    # A missing role is 401 PermissionDenied on the wire (README, doctor and the emulator agree); 403 is the
    # firewall's. The notebook once taught 403 for it.
    ("03_headers_and_status_codes.ipynb", "offline"): ("401 Unauthorized", ">PermissionDenied<", "403 Forbidden",
                                                         "Firewall"),
    # The old route answers a bare 404 and rest_client's hint says why; the code interpreter's run is shown.
    **{("10_from_assistants_to_responses.ipynb", mode): (
        "/openai/assistants?api-version=2024-08-01-preview -> 404", "was retired on 26 August 2026",
        "equation = Eq(3*x + 11, 14)", "printed: x = 1",
        "assistant: The solution to the equation 3x + 11 = 14 is x = 1.", "equation = Eq(2*y - 4, 10)",
        "CodeInterpreterCall printed: x = 1", "status: completed")
       for mode in ("offline", "configured")},
}
"""What a notebook's outputs must show, beyond running: the lesson it exists to teach."""
CELL_TIMEOUT = 120
KERNEL_STARTUP_TIMEOUT = 60
# What tests/conftest.py's clean_env removes; the kernel is a separate process, so its env is built here.
AZURE_ENV_PREFIXES = ("AZURE_", "OPENAI_", "IDENTITY_", "MSI_", "IMDS_")
SECRET_PIECE = 16
"""A secret leaks if any 16 consecutive characters of it show up (a ``Bearer ***abcd`` tail is 4)."""

SPY_CELL = """\
import rest_client.auth as _nbtest_auth
import rest_client.emulator.emulator as _nbtest_emulator
import rest_client.emulator.identity as _nbtest_identity

_nbtest_secrets = []
_nbtest_issue = _nbtest_identity.TokenIssuer.issue
_nbtest_start = _nbtest_emulator.Emulator.start
_nbtest_fetch = _nbtest_auth.EntraTokenAuth._fetch


def _nbtest_spy_issue(self, *args, **kwargs):
    token = _nbtest_issue(self, *args, **kwargs)
    _nbtest_secrets.append(token)
    return token


def _nbtest_spy_start(self):
    started = _nbtest_start(self)
    _nbtest_secrets.extend([self.api_key, self.identity_env["IDENTITY_HEADER"]])
    return started


def _nbtest_spy_fetch(self, now):
    cached = _nbtest_fetch(self, now)
    _nbtest_secrets.append(cached.token)
    return cached


_nbtest_identity.TokenIssuer.issue = _nbtest_spy_issue
_nbtest_emulator.Emulator.start = _nbtest_spy_start
_nbtest_auth.EntraTokenAuth._fetch = _nbtest_spy_fetch
"""
PROBE_MARK = "nbtest-probe: "
PROBE_CELL = """\
import json as _nbtest_json
import sys as _nbtest_sys

import rest_client as _nbtest_package

print("\\n" + PROBE_MARK + _nbtest_json.dumps({"executable": _nbtest_sys.executable,
                                              "package": _nbtest_package.__file__,
                                              "secrets": sorted(set(_nbtest_secrets))}))
""".replace("PROBE_MARK", repr(PROBE_MARK))


class ThisPythonKernelSpecManager(KernelSpecManager):
    """Knows one kernel, ``python3``: ipykernel run by the interpreter running the tests.

    Why: a ``python3`` kernelspec in the user's Jupyter folders may point at another Python (without
    rest_client, or an old one); CI's fresh venv and a developer's machine must run the same kernel.
    """

    def find_kernel_specs(self) -> dict[str, str]:
        return {"python3": str(NOTEBOOK_DIR)}

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        from ipykernel.kernelspec import get_kernel_dict

        return KernelSpec(resource_dir=str(NOTEBOOK_DIR), **get_kernel_dict())


class ThisPythonKernelManager(AsyncKernelManager):
    @default("kernel_spec_manager")
    def _this_python_only(self) -> KernelSpecManager:
        return ThisPythonKernelSpecManager()


@dataclass
class Execution:
    """One notebook after a run: the executed cells (spy and probe removed) and what the probe said."""

    path: Path
    mode: str
    notebook: Any
    seconds: float
    error: str | None = None
    probe: dict[str, Any] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    """Every key, identity header and token handed out while the notebook ran (kernel and host side)."""


def kernel_env(tmp: Path, azure: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(AZURE_ENV_PREFIXES)}
    # An empty az config folder: where the Azure CLI is installed, AzureCliCredential fails offline ("az login"),
    # as it does where it is not; a developer's real login is never used.
    env["AZURE_CONFIG_DIR"] = str(tmp / "azure-cli-config")
    # The package of this checkout, first: an editable install may point at another checkout of the repo.
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(azure)
    return env


@contextmanager
def resource_in_environment() -> Iterator[tuple[dict[str, str], list[str]]]:
    """An emulator posing as the user's resource: the variables a notebook would see on an Azure VM.

    Yields those variables and a list that fills with the secrets the emulator hands out.
    """
    secrets: list[str] = []
    with Emulator() as emu:
        issue = emu.issuer.issue

        def recording_issue(*args: Any, **kwargs: Any) -> str:
            token = issue(*args, **kwargs)
            secrets.append(token)
            return token

        emu.issuer.issue = recording_issue  # type: ignore[method-assign]
        secrets += [emu.api_key, emu.identity_env["IDENTITY_HEADER"]]
        yield {"AZURE_OPENAI_ENDPOINT": emu.endpoint, "AZURE_OPENAI_DEPLOYMENT": emu.chat_deployment or "",
               "AZURE_OPENAI_COMPLETIONS_DEPLOYMENT": emu.completions_deployment or "", **emu.identity_env}, secrets


def execute(path: Path, tmp: Path, mode: str) -> Execution:
    """Run the notebook in a fresh kernel, in ``tmp/notebooks`` (no config.json there or one level up)."""
    if mode == "configured":
        with resource_in_environment() as (azure, host_secrets):
            run = _execute(path, tmp, mode, azure)
        run.secrets += host_secrets
        return run
    return _execute(path, tmp, mode, {})


def _execute(path: Path, tmp: Path, mode: str, azure: dict[str, str]) -> Execution:
    workdir = tmp / "notebooks"
    workdir.mkdir(parents=True)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SPY_CELL))
    nb.cells.append(nbformat.v4.new_code_cell(PROBE_CELL))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, startup_timeout=KERNEL_STARTUP_TIMEOUT,
                            kernel_name="python3", kernel_manager_class=ThisPythonKernelManager,
                            shutdown_kernel="immediate", resources={"metadata": {"path": str(workdir)}})
    started = time.perf_counter()
    error = None
    try:
        client.execute(env=kernel_env(tmp, azure))
    except CellExecutionError as exc:
        error = str(exc)
    seconds = time.perf_counter() - started
    probe_cell = nb.cells.pop()
    nb.cells.pop(0)
    # The kernel may split one print into several stream messages, and other threads may print too.
    stdout = "".join(o.get("text", "") for o in probe_cell.get("outputs", []) if o.get("name") == "stdout")
    found = [line[len(PROBE_MARK):] for line in stdout.splitlines() if line.startswith(PROBE_MARK)]
    probe: dict[str, Any] = json.loads(found[-1]) if found else {}
    return Execution(path, mode, nb, seconds, error, probe, list(probe.get("secrets", [])))


def output_text(nb: Any) -> str:
    """Everything a reader of the executed notebook would see: streams, results, tracebacks."""
    parts: list[str] = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            for value in output.get("data", {}).values():
                parts.append(value if isinstance(value, str) else json.dumps(value))
            parts.extend(output.get("traceback", []))
    return "\n".join(parts)


def leaked_pieces(secret: str, text: str) -> list[str]:
    # A JWT's first part ({"alg":…,"typ":"JWT"}) is the same in every token: not a secret, so not searched.
    body = secret.split(".", 1)[1] if secret.count(".") == 2 else secret
    pieces = {body[i:i + SECRET_PIECE] for i in range(max(1, len(body) - SECRET_PIECE + 1))}
    return sorted(piece for piece in pieces if piece in text)


@pytest.fixture(scope="module", params=[(path, mode) for path in NOTEBOOKS for mode in GREETING],
                ids=lambda param: f"{param[0].stem}-{param[1]}")
def executed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Execution:
    """Each notebook executed once per mode; the tests below share the run."""
    path, mode = request.param
    return execute(path, tmp_path_factory.mktemp(f"{path.stem}-{mode}"), mode)


def test_every_walkthrough_is_there() -> None:
    assert [p.name for p in NOTEBOOKS] == EXPECTED_NOTEBOOKS


def test_notebook_runs_top_to_bottom(executed: Execution) -> None:
    assert executed.error is None, f"{executed.path.name} ({executed.mode}) failed:\n{executed.error}"
    assert executed.probe, f"{executed.path.name}: the probe cell after the notebook printed nothing"
    assert Path(executed.probe["executable"]).resolve() == Path(sys.executable).resolve()
    assert Path(executed.probe["package"]).resolve().parent == REPO_ROOT / "rest_client", "another checkout's package"
    text = output_text(executed.notebook) + "".join(displays_of(executed.notebook))
    assert GREETING[executed.mode] in text
    for shown in SHOWN.get((executed.path.name, executed.mode), ()):
        assert shown in text, f"{executed.path.name} ({executed.mode}) no longer shows {shown!r}"


def test_notebook_prints_no_key_or_token(executed: Execution) -> None:
    secrets = set(executed.secrets)
    assert len(secrets) >= 3, "the spies saw no key, identity header and token: are they still hooked in?"
    text = output_text(executed.notebook)
    leaks = {secret[:6] + "…": found for secret in secrets if (found := leaked_pieces(secret, text))}
    assert not leaks, f"{executed.path.name} ({executed.mode}) printed (parts of) secrets: {leaks}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_saved_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {index} has saved outputs"
            assert cell.execution_count is None, f"{path.name} cell {index} has an execution count"
        assert "attachments" not in cell, f"{path.name} cell {index} has attachments"
    assert nb.metadata.kernelspec.name == "python3"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, f"{path.name} has extra metadata"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_opens_with_one_setup_cell_choosing_azure_or_emulator(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    first_code = next(cell.source for cell in nb.cells if cell.cell_type == "code")
    for needle in ('Path("config.json").exists()', "AZURE_OPENAI_ENDPOINT", "Emulator().start()",
                   "emu.identity_env", "print("):
        assert needle in first_code, f"{path.name}: the setup cell lacks {needle}"


def test_notebooks_are_what_build_py_writes() -> None:
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOK_DIR / "_build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert sorted(build.NOTEBOOKS) == EXPECTED_NOTEBOOKS
    stale = [name for name in build.NOTEBOOKS
             if (NOTEBOOK_DIR / name).read_text(encoding="utf-8") != build.render(name)]
    assert not stale, (f"edited by hand? {stale} differ from notebooks/_cells: edit the cells there, then run "
                       "notebooks/_build.py")


def displays_of(nb: Any) -> list[str]:
    """The HTML of every rich display in the executed notebook (our displays and any other)."""
    return [output["data"]["text/html"] for cell in nb.cells for output in cell.get("outputs", [])
            if "text/html" in output.get("data", {})]


def test_the_notebooks_displays_carry_no_script(executed: Execution) -> None:
    ours = [page for page in displays_of(executed.notebook) if "rest-client-display" in page]
    assert ours, f"{executed.path.name} shows none of the package's displays"
    assert not [page for page in ours if "<script" in page.lower() or "javascript:" in page.lower()]


def test_the_executed_notebook_renders_in_a_real_browser(executed: Execution, tmp_path: Path) -> None:
    """nbconvert's HTML of the executed notebook, opened in headless Chromium: a screenshot with ink on it, and
    the package's SVG in the DOM the browser built."""
    if executed.mode != "offline":
        pytest.skip("rendered once per notebook, from its run with the emulator")
    if BROWSER is None:
        pytest.skip(NO_BROWSER)
    assert executed.error is None, "the notebook did not run (test_notebook_runs_top_to_bottom says why)"
    page = tmp_path / f"{executed.path.stem}.html"
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(executed.notebook)
    page.write_text(offline(body), encoding="utf-8")
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / f"{executed.path.stem}.png"
    screenshot(BROWSER, page, png)
    colours, share = ink(png)
    assert colours >= 40 and share >= 0.02, f"{png.name} looks blank: {colours} colours, {share:.1%} inked"
    dom = Page(dump_dom(BROWSER, page))
    picture = PICTURE.get(executed.path.name, "rest-client-timeline")
    assert dom.count("div", "rest-client-display") > 0, "none of the package's displays in the DOM"
    assert dom.count("svg", picture) > 0, f"no <svg class={picture}> in the DOM"


def test_a_blank_page_does_not_pass_for_a_rendered_one(tmp_path: Path) -> None:
    """The control for the check above: an empty page, screenshot the same way, reads as blank."""
    if BROWSER is None:
        pytest.skip(NO_BROWSER)
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    screenshot(BROWSER, page, tmp_path / "blank.png")
    colours, share = ink(tmp_path / "blank.png")
    assert colours < 40 and share < 0.02
