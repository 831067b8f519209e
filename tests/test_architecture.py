"""The layers, checked from the source: dependencies point one way and the library never prints.

Read from the AST, not by importing, so lazy imports inside functions count too (they are still edges).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rest_client"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> set[str]:
    """Modules of the package this file imports (absolute names), anywhere in the file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("rest_client"):
                submodules = {f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")}
                # `from . import show` imports the submodule (and runs the package's __init__, a parent)
                found.update(submodules if len(submodules) == len(node.names) else {target, *submodules})
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("rest_client"))
    return found - {name}


def graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _owner(module: str) -> str:
    """The part a module belongs to: cli, bulk, batch, emulator, display (notebook presentation), testing (users'
    cassettes), or core."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("cli", "bulk", "batch", "emulator", "display",
                                                       "testing") else "core"


def test_no_import_cycles() -> None:
    edges = graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])


def test_dependencies_point_one_way() -> None:
    # display: only through lazy imports inside _repr_html_-style methods (test_presentation_is_imported_lazily)
    allowed = {"core": {"core", "display"}, "bulk": {"bulk", "core", "display"},
               "batch": {"batch", "bulk", "core", "display"}, "cli": {"cli", "bulk", "batch", "core", "emulator"},
               "emulator": {"emulator"}, "display": {"display", "core"},
               "testing": {"testing", "core", "emulator"}}  # a client against a replay: both sides, on top
    for module, targets in graph().items():
        if module in ("rest_client", "rest_client.__main__"):  # the export table; `python -m` runs the CLI
            continue
        for target in targets:
            if target == "rest_client":  # `from rest_client import __version__` style
                continue
            assert _owner(target) in allowed[_owner(module)], f"{module} imports {target}"


def _module_level_imports(path: Path) -> list[ast.stmt]:
    """Import statements that run when the module is imported: not inside a function or class body."""
    found: list[ast.stmt] = []
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            pending.append(child)
    return found


def test_presentation_is_imported_lazily() -> None:
    """The notebook displays (rest_client/display) are presentation: the library reaches them only from inside a
    method (``_repr_html_``, ``show``), so importing or calling the library never loads them."""
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        if _owner(module) == "display":
            continue
        for node in _module_level_imports(path):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            level = node.level if isinstance(node, ast.ImportFrom) else 0
            for name in names:
                assert not ((name.startswith("display") and level) or name.startswith("rest_client.display")), \
                    f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports the displays at import time"


def test_import_rest_client_loads_neither_the_displays_nor_ipython() -> None:
    """A call from a script costs nothing for notebooks: no display module and no IPython in ``sys.modules``."""
    import subprocess
    import sys

    probe = ("import sys, rest_client, rest_client.bulk, rest_client.batch\n"
             "from rest_client import Client, Result, Stream, Settings, TokenStatus, APIStatusError\n"
             "from rest_client.emulator import Emulator\n"
             "with Emulator() as emu, Client(endpoint=emu.endpoint, api_key=emu.api_key,"
             " deployment=emu.chat_deployment) as client:\n"
             "    client.chat('hi', max_tokens=5)\n"
             "loaded = sorted(m for m in sys.modules if m.startswith(('rest_client.display', 'IPython')))\n"
             "print(loaded)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=PACKAGE.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_library_never_prints() -> None:
    for path in PACKAGE.rglob("*.py"):
        owner = _owner(_module_name(path))
        if owner in ("cli", "emulator"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                raise AssertionError(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} prints")


def test_modules_stay_small() -> None:
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 420, f"{path.relative_to(PACKAGE.parent)} has {lines} lines: split it by job"


def test_the_responses_family_imports_first_in_any_order() -> None:
    """``payloads`` reads response bodies through ``rest_client.responses.results``, and ``responses.calls`` needs
    ``payloads``: the family's ``__init__`` loads names lazily so neither order is a circular import."""
    import subprocess
    import sys

    first = ["rest_client.payloads", "rest_client.responses", "rest_client.responses.calls",
             "rest_client.responses.stream", "rest_client.responses.results", "rest_client.responses.routes"]
    for module in first:
        probe = f"import {module}; from rest_client.responses import ResponseStream, ResponsesCalls, output_text"
        done = subprocess.run([sys.executable, "-c", probe], cwd=PACKAGE.parent, capture_output=True, text=True)
        assert done.returncode == 0, f"import {module} first fails:\n{done.stderr}"
