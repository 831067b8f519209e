"""Settings and where each one came from (pure: reads only the file and mapping it is given).

One precedence rule for every setting: explicit arguments > environment > config file > defaults.
Values a pasted portal URL carries (deployment, api-version) count as coming from the same source as that
URL, and lose to a key set explicitly in that same source. ``Settings.sources`` records, per field, which
variable, file key or argument won — so ``-v`` can tell a user *why* a request went where it went.
"""

from __future__ import annotations

import difflib
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .urls import DEFAULT_API_VERSION, check_secure_url, parse_endpoint

AUTH_MODES = ("key", "cli", "default")
DEFAULT_CONFIG_FILE = "config.json"

# field -> (environment variables, config.json keys), highest priority first within each list.
SOURCES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "endpoint": (("AZURE_OPENAI_ENDPOINT",), ("AZURE_OPENAI_ENDPOINT", "OPENAI_API_BASE", "OPENAI_API_ENDPOINT")),
    "api_version": (("OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION"), ("OPENAI_API_VERSION",)),
    "deployment": (("AZURE_OPENAI_DEPLOYMENT",), ("AZURE_OPENAI_DEPLOYMENT", "CHATGPT_MODEL", "CHAT_MODEL")),
    "completions_deployment": (("AZURE_OPENAI_COMPLETIONS_DEPLOYMENT",), ("COMPLETIONS_MODEL",)),
    "api_key": (("AZURE_OPENAI_API_KEY",), ("AZURE_OPENAI_API_KEY", "OPENAI_API_KEY")),
    "auth": (("AZURE_OPENAI_AUTH",), ("AUTH",)),
}
# Keys the Azure-Samples notebooks' config.json carries that we do not use: accepted without a warning.
IGNORED_SAMPLE_KEYS = frozenset({
    "OPENAI_API_TYPE", "EMBEDDING_MODEL", "DALLE_MODEL", "WHISPER_MODEL", "GPT4V_MODEL", "GPT4V_ENDPOINT",
    "VISION_API_ENDPOINT", "VISION_API_KEY", "AZURE_OPENAI_EMBEDDING_DEPLOYMENT", "AZURE_OPENAI_MODEL_NAME",
})
NUMERIC_DEFAULTS: dict[str, float] = {
    "connect_timeout": 5.0, "read_timeout": 120.0, "max_retries": 3, "max_retry_wait": 60.0,
}


class ConfigWarning(UserWarning):
    """A config.json key we do not know (probably a typo); the message names the nearest known key."""


@dataclass(frozen=True)
class Settings:
    """Everything a ``Client`` needs; immutable so a client's behaviour cannot drift after creation."""

    endpoint: str
    api_version: str = DEFAULT_API_VERSION
    deployment: str | None = None
    completions_deployment: str | None = None
    api_key: str | None = field(default=None, repr=False)
    auth: str = "default"
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    max_retries: int = 3
    max_retry_wait: float = 60.0
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        key = "'***'" if self.api_key else "None"
        return f"Settings({shown}, api_key={key})"

    @property
    def is_v1(self) -> bool:
        """True when the endpoint selects the v1 API (``…/openai/v1``)."""
        return self.endpoint.endswith("/openai/v1")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a config.json; every problem is a ``ConfigError`` that names the file (and line)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist: create it from config.json.example "
                          "or drop --config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {p} cannot be read: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid JSON: {exc.msg} at line {exc.lineno}, column "
                          f"{exc.colno}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold one JSON object {{\"KEY\": \"value\", …}}, "
                          f"not a {type(data).__name__}")
    return data


def _known_config_keys() -> list[str]:
    return sorted({k for _, keys in SOURCES.values() for k in keys})


def _warn_unknown_keys(data: Mapping[str, Any], path: Path) -> None:
    known = _known_config_keys()
    for key in data:
        if key in known or key in IGNORED_SAMPLE_KEYS or key.startswith(("_", "//", "#")):
            continue
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        tip = f"; did you mean {near[0]}?" if near else f"; known keys: {', '.join(known)}"
        warnings.warn(f"{path}: unknown key {key!r} is ignored{tip}", ConfigWarning, stacklevel=3)


def _from_mapping(values: Mapping[str, Any], names: tuple[str, ...], where: str) -> tuple[Any, str] | None:
    for name in names:
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if not isinstance(value, str):
            raise ConfigError(f"{where.format(name=name)} must be a string, not {type(value).__name__}")
        return value.strip(), where.format(name=name)
    return None


def _layers(overrides: Mapping[str, Any], environ: Mapping[str, str], config: Mapping[str, Any],
            config_path: Path | None) -> list[dict[str, tuple[Any, str]]]:
    """The sources as layers, highest priority first: field -> (value, description of its source)."""
    args = {k: (v, f"argument {k}") for k, v in overrides.items() if v is not None}
    env: dict[str, tuple[Any, str]] = {}
    cfg: dict[str, tuple[Any, str]] = {}
    for name, (env_names, cfg_keys) in SOURCES.items():
        hit = _from_mapping(environ, env_names, "environment variable {name}")
        if hit:
            env[name] = hit
        if config_path is not None:
            hit = _from_mapping(config, cfg_keys, f"{config_path} key {{name}}")
            if hit:
                cfg[name] = hit
    for layer in (args, env, cfg):
        _expand_endpoint(layer)
    return [args, env, cfg]


def _expand_endpoint(layer: dict[str, tuple[Any, str]]) -> None:
    """Replace a raw endpoint with its normal form; add what a pasted portal URL carried (same source)."""
    if "endpoint" not in layer:
        return
    raw, where = layer["endpoint"]
    parsed = parse_endpoint(str(raw), source=where)
    layer["endpoint"] = (parsed.endpoint, where)
    if parsed.api_version:
        layer.setdefault("api_version", (parsed.api_version, f"{where} (api-version in the URL)"))
    if parsed.deployment:
        target = "completions_deployment" if parsed.operation == "completions" else "deployment"
        layer.setdefault(target, (parsed.deployment, f"{where} (deployment in the URL)"))


def load_settings(config_path: str | os.PathLike[str] | None = None, *,
                  environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Resolve settings from arguments, the environment, a config file and defaults (in that order).

    ``config_path=None`` reads ``./config.json`` when it exists; a path given explicitly must exist.
    ``environ`` defaults to ``os.environ`` (read now, never at import). ``overrides`` use the ``Settings``
    field names; ``None`` values are ignored so a CLI can pass its unset flags straight through.
    """
    valid = {f.name for f in fields(Settings)} - {"sources"}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    env = os.environ if environ is None else environ
    path: Path | None = Path(config_path) if config_path is not None else None
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = Path(DEFAULT_CONFIG_FILE)
    config = read_config_file(path) if path is not None else {}
    if config:
        _warn_unknown_keys(config, path)  # type: ignore[arg-type]

    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in reversed(_layers(overrides, env, config, path)):
        for name, (value, where) in layer.items():
            merged[name], sources[name] = value, where

    for name, value in merged.items():
        if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
            raise ConfigError(f"{name} from {sources[name]} still holds the placeholder {value!r}: put your "
                              "own value there")
    if not merged.get("endpoint"):
        raise ConfigError("no endpoint configured: set AZURE_OPENAI_ENDPOINT, the config.json key "
                          "AZURE_OPENAI_ENDPOINT, or --endpoint (e.g. https://NAME.openai.azure.com)")
    for name, default in NUMERIC_DEFAULTS.items():
        merged[name] = _number(name, merged.get(name, default), integer=name == "max_retries")
        sources.setdefault(name, "default")
    merged.setdefault("api_version", DEFAULT_API_VERSION)
    sources.setdefault("api_version", "default")
    merged["auth"] = _resolve_auth(merged, sources)
    check_secure_url(merged["endpoint"])
    return Settings(**merged, sources=sources)


def _number(name: str, value: Any, *, integer: bool) -> float:
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number < 0 or (number == 0 and name != "max_retries"):
        raise ConfigError(f"{name} must be {'zero or more' if name == 'max_retries' else 'positive'}, got {value!r}")
    return number


def _resolve_auth(merged: Mapping[str, Any], sources: dict[str, str]) -> str:
    auth = str(merged.get("auth") or "").strip().lower()
    if not auth:
        sources["auth"] = "default (key when an API key is set, else DefaultAzureCredential)"
        return "key" if merged.get("api_key") else "default"
    if auth not in AUTH_MODES:
        raise ConfigError(f"auth {auth!r} (from {sources['auth']}) must be one of {', '.join(AUTH_MODES)}")
    if auth == "key" and not merged.get("api_key"):
        raise ConfigError(f"auth is 'key' (from {sources['auth']}) but no API key is set: set "
                          "AZURE_OPENAI_API_KEY, or use --auth cli / --auth default for Entra ID")
    return auth
