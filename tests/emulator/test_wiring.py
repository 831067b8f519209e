"""How the emulator is put together: parts get narrow state, settings still apply live, imports stay one-way.

Why test structure: the emulator is a witness for the client, so it must import nothing of it; and a part that
took the whole ``Emulator`` again would bring the import cycles back. Both are cheap to check from the AST.
"""

from __future__ import annotations

import ast
from pathlib import Path

import requests

from rest_client.emulator import Deployment, Emulator

from .helpers import API_VERSION, deployment_url, user

PACKAGE = "rest_client.emulator"
EMULATOR_DIR = Path(__file__).resolve().parents[2] / "rest_client" / "emulator"


def emulator_imports() -> tuple[dict[str, set[str]], list[str]]:
    """Module → emulator modules it imports (TYPE_CHECKING ones too), and every import of another rest_client
    module."""
    graph: dict[str, set[str]] = {}
    foreign: list[str] = []
    for path in sorted(EMULATOR_DIR.glob("*.py")):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
            elif isinstance(node, ast.ImportFrom) and node.level > 1:
                foreign.append(f"{path.stem}: from {'.' * node.level}{node.module or ''}")
            else:
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
                for name in names:
                    if name.startswith(PACKAGE + "."):
                        deps.add(name[len(PACKAGE) + 1 :].split(".")[0])
                    elif name.startswith("rest_client") and name != PACKAGE:
                        foreign.append(f"{path.stem}: {name}")
        graph[path.stem] = deps - {path.stem}
    return graph, foreign


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                found.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module, [])
    return found


def test_the_emulator_imports_nothing_of_the_client() -> None:
    graph, foreign = emulator_imports()
    assert "inference" in graph and "emulator" in graph  # positive control: the modules were read
    assert foreign == []


def test_emulator_modules_import_each_other_without_cycles() -> None:
    graph, _ = emulator_imports()
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]  # positive control for the search
    assert cycles(graph) == []
    parts = ("inference", "batch_api", "batch_worker", "control", "server")
    assert [part for part in parts if "emulator" in graph[part]] == []  # no part reaches back for the Emulator


def test_settable_attributes_take_effect_on_the_next_request() -> None:
    with Emulator() as emu, requests.Session() as session:
        url = deployment_url(emu)
        old = emu.api_key
        first = session.post(url, json={"messages": user("hi")}, headers={"api-key": old})
        emu.api_key, emu.region, emu.seed = "new-key", "Sweden Central", 7
        old_key = session.post(url, json={"messages": user("hi")}, headers={"api-key": old})
        second = session.post(url, json={"messages": user("hi")}, headers={"api-key": "new-key"})

        assert (first.status_code, old_key.status_code, second.status_code) == (200, 401, 200)
        assert (first.headers["x-ms-region"], second.headers["x-ms-region"]) == ("East US", "Sweden Central")
        assert first.json()["choices"][0]["message"] != second.json()["choices"][0]["message"]  # the seed changed
        assert emu.config()["region"] == "Sweden Central" and emu.config()["seed"] == 7


def test_replaced_deployments_and_batch_settings_reach_the_running_parts() -> None:
    with Emulator() as emu, requests.Session() as session:
        chat = emu.deployments[emu.chat_deployment or ""]
        emu.deployments = {"renamed": Deployment("renamed", chat.model, chat.kind)}
        emu.batch_settings = {"lines_per_second": 20}
        url = f"{emu.endpoint}/openai/deployments/{{}}/chat/completions?api-version={API_VERSION}"
        gone = session.post(url.format(chat.name), json={"messages": user("hi")}, headers={"api-key": emu.api_key})
        renamed = session.post(url.format("renamed"), json={"messages": user("hi")}, headers={"api-key": emu.api_key})
        config = session.get(f"{emu.endpoint}/_emulator/config").json()

    assert (gone.status_code, renamed.status_code) == (404, 200)
    assert config["batch"]["lines_per_second"] == 20.0
    assert list(emu.deployments) == ["renamed"]
