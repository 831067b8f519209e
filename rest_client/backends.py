"""Backends: several deployments (other regions, a PTU first, a gateway) that one client fails over between.

Pure: parsing and checking only; ``router.py`` sends. Each backend is a whole ``Settings`` — so every check
and every error message of a single-deployment setup applies unchanged — plus its place in the order:
``priority`` (1 first; lower numbers are tried first) and ``weight`` (shares calls among backends of one
priority). Entries come from ``Client(backends=[…])`` or config.json ``"backends"`` and use the ``Settings``
field names; errors name the entry (``backends[1]``) and the key.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError
from .settings import DEFAULT_CONFIG_FILE, Settings, check_headers, read_config_file

SPILLOVER_HEADER = "x-ms-spillover-deployment"
BACKEND_KEYS = ("priority", "weight", "name", "spillover_deployment")
SETTINGS_KEYS = tuple(f.name for f in fields(Settings) if f.name != "sources")


@dataclass(frozen=True)
class Backend:
    """One target: its settings, its place in the order, and the name ``Exchange.backend`` shows."""

    settings: Settings
    priority: int = 1
    weight: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            where = urlsplit(self.settings.endpoint)
            label = self.settings.deployment or self.settings.completions_deployment or where.path or "/"
            object.__setattr__(self, "name", f"{where.netloc}/{label.strip('/')}")


def parse_backends(entries: Sequence[Any], *, where: str = "backends",
                   overrides: Mapping[str, Any] | None = None) -> list[Backend]:
    """``Backend``s from a list of dicts (``Settings`` field names + ``priority``/``weight``/``name``/
    ``spillover_deployment``), ``Settings`` or ``Backend`` objects, in priority order (stable).

    ``overrides`` (e.g. ``max_retries``) apply to every backend. Every problem is one ``ConfigError`` naming
    the entry and the key.
    """
    if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Sequence):
        raise ConfigError(f"{where} must be a list of backends [{{\"endpoint\": …, \"priority\": 1}}, …], "
                          f"not {type(entries).__name__}")
    if not entries:
        raise ConfigError(f"{where} is empty: give at least one backend, or drop the key")
    parsed: list[Backend] = []
    for index, entry in enumerate(entries):
        label = f"{where}[{index}]"
        if isinstance(entry, Backend):
            backend = entry
        elif isinstance(entry, Settings):
            backend = Backend(entry)
        elif isinstance(entry, Mapping):
            backend = _from_mapping(entry, label)
        else:
            raise ConfigError(f"{label} must be an object with endpoint, deployment, …, not {type(entry).__name__}")
        if overrides:
            values = dict(overrides)
            if "headers" in values:  # added to each backend's own headers (a spillover header, a gateway's key)
                values["headers"] = {**backend.settings.headers, **check_headers(values["headers"], "argument headers")}
            sources = {**backend.settings.sources, **{k: f"argument {k}" for k in values}}
            backend = replace(backend, settings=replace(backend.settings, **values, sources=sources))
        parsed.append(backend)
    names = [b.name for b in parsed]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{where}: two backends are named {dupes[0]!r}: give each a distinct \"name\"")
    return sorted(parsed, key=lambda b: b.priority)


def _from_mapping(entry: Mapping[str, Any], label: str) -> Backend:
    known = (*SETTINGS_KEYS, *BACKEND_KEYS)
    for key in entry:
        if key not in known and not str(key).startswith(("_", "//", "#")):
            near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            tip = f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"{label} has an unknown key {key!r}{tip}")
    values = {k: v for k, v in entry.items() if k in SETTINGS_KEYS and v is not None}
    if not values.get("endpoint"):
        raise ConfigError(f"{label} has no \"endpoint\": give the resource or gateway URL, "
                          "e.g. https://NAME.openai.azure.com")
    if not values.get("auth"):
        values["auth"] = "key" if values.get("api_key") else "apim" if values.get("subscription_key") else "default"
    spill = entry.get("spillover_deployment")
    if spill is not None:
        if not isinstance(spill, str) or not spill.strip():
            raise ConfigError(f"{label}.spillover_deployment must be a deployment name")
        own = check_headers(values.get("headers"), f"{label}.headers")
        values["headers"] = {**own, SPILLOVER_HEADER: spill.strip()}
    sources = {k: f"{label}.{k}" for k in values}
    try:
        settings = Settings(**values, sources=sources)
    except TypeError as exc:  # a wrong value type that the dataclass itself refuses
        raise ConfigError(f"{label}: {exc}") from None
    return Backend(settings, _priority(entry.get("priority", 1), label), _weight(entry.get("weight", 1), label),
                   _name(entry.get("name"), label))


def _priority(value: Any, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value) or value < 1:
        raise ConfigError(f"{label}.priority must be a whole number ≥ 1 (1 is tried first), got {value!r}")
    return int(value)


def _weight(value: Any, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{label}.weight must be a positive number (a share among equal priorities), "
                          f"got {value!r}")
    return float(value)


def _name(value: Any, label: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{label}.name must be a non-empty string")
    return value.strip()


def config_backends(config_path: str | os.PathLike[str] | None = None,
                    overrides: Mapping[str, Any] | None = None) -> list[Backend] | None:
    """The ``"backends"`` of a config.json (``config_path``, else ``./config.json``), or ``None`` without."""
    path = Path(config_path) if config_path is not None else Path(DEFAULT_CONFIG_FILE)
    if config_path is None and not path.is_file():
        return None
    data = read_config_file(path)
    if "backends" not in data:
        return None
    return parse_backends(data["backends"], where=f"{path} key backends", overrides=overrides)
