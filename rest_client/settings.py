"""Settings and where each one came from (pure: reads only the file and mapping it is given).

One precedence rule for every setting: explicit arguments > environment > config file > defaults.
Values a pasted portal URL carries (deployment, api-version) count as coming from the same source as that
URL, and lose to a key set explicitly in that same source. ``Settings.sources`` records, per field, which
variable, file key or argument won — so ``-v`` can tell a user *why* a request went where it went.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import COGNITIVE_SERVICES_SCOPE, ConfigError, ConfigWarning
from .jsonsafe import loads
from .redact import redact_headers, redact_url
from .retry_hints import parse_duration
from .urls import DEFAULT_API_VERSION, check_secure_url, is_v1_endpoint, parse_endpoint

AUTH_MODES = ("key", "cli", "default", "apim")
DEFAULT_CONFIG_FILE = "config.json"

# field -> (environment variables, config.json keys), highest priority first within each list.
SOURCES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "endpoint": (("AZURE_OPENAI_ENDPOINT",), ("AZURE_OPENAI_ENDPOINT", "OPENAI_API_BASE", "OPENAI_API_ENDPOINT")),
    "api_version": (("OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION"), ("OPENAI_API_VERSION",)),
    "deployment": (("AZURE_OPENAI_DEPLOYMENT",), ("AZURE_OPENAI_DEPLOYMENT", "CHATGPT_MODEL", "CHAT_MODEL")),
    "completions_deployment": (("AZURE_OPENAI_COMPLETIONS_DEPLOYMENT",), ("COMPLETIONS_MODEL",)),
    "api_key": (("AZURE_OPENAI_API_KEY",), ("AZURE_OPENAI_API_KEY", "OPENAI_API_KEY")),
    "auth": (("AZURE_OPENAI_AUTH",), ("AUTH",)),
    "scope": (("AZURE_OPENAI_SCOPE",), ("AZURE_OPENAI_SCOPE",)),
    "subscription_key": (("APIM_SUBSCRIPTION_KEY",), ("APIM_SUBSCRIPTION_KEY",)),
    "max_quota_wait": (("AZURE_OPENAI_MAX_QUOTA_WAIT",), ("MAX_QUOTA_WAIT",)),
}
# config.json keys read elsewhere (not strings): extra headers here, the list of backends in backends.py.
STRUCTURED_KEYS = frozenset({"HEADERS", "headers", "backends"})
# Keys the Azure-Samples notebooks' config.json carries that we do not use: accepted without a warning.
IGNORED_SAMPLE_KEYS = frozenset({
    "OPENAI_API_TYPE", "EMBEDDING_MODEL", "DALLE_MODEL", "WHISPER_MODEL", "GPT4V_MODEL", "GPT4V_ENDPOINT",
    "VISION_API_ENDPOINT", "VISION_API_KEY", "AZURE_OPENAI_EMBEDDING_DEPLOYMENT", "AZURE_OPENAI_MODEL_NAME",
})
DEFAULT_READ_TIMEOUT = 120.0
REASONING_READ_TIMEOUT = 600.0
"""The openai SDK's default for every call; reasoning models (o-series, gpt-5) can think that long."""
NUMERIC_FIELDS = ("connect_timeout", "read_timeout", "max_retries", "max_retry_wait", "max_quota_wait")
DEFAULT_MAX_QUOTA_WAIT = 900.0
"""15 minutes: a bulk run sits out a rate limit's window, never a quota that returns in hours (bulk/quota.py)."""
NO_ENDPOINT = "no endpoint configured"
DEPLOYMENT_FIELDS = ("deployment", "completions_deployment")
HEADER_FIELDS = ("api_key", "subscription_key")
"""Settings sent as header values (``api-key``, ``Ocp-Apim-Subscription-Key``): Latin-1 only."""
FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te",
                             "trailer", "upgrade", "expect", "proxy-connection"})
"""Headers that say how the message is framed or routed: requests sets them from the request itself."""
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
TEXT_FIELDS = ("endpoint", "api_version", "deployment", "completions_deployment", "api_key", "auth", "scope",
               "subscription_key")


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
    read_timeout: float | None = None
    """Seconds the server may stay silent; ``None``: 120, or 600 for a reasoning call (see ``read_timeout_for``)."""
    max_retries: int = 3
    max_retry_wait: float = 60.0
    scope: str = COGNITIVE_SERVICES_SCOPE
    """The Entra ID audience of bearer tokens; newer Foundry resources may use https://ai.azure.com/.default."""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    subscription_key: str | None = field(default=None, repr=False)
    """An API Management subscription key, sent as ``Ocp-Apim-Subscription-Key`` (with any auth mode)."""
    headers: Mapping[str, str] = field(default_factory=dict, repr=False, hash=False)
    """Extra headers on every request (a gateway's own); values of secret-looking names are never shown."""
    max_quota_wait: float = DEFAULT_MAX_QUOTA_WAIT
    """Seconds a bulk run waits out a 429 at most: a longer wait (a daily quota) stops the run, to be rerun
    when the quota returns. Seconds, or a duration such as ``"15m"``, ``"2h"``. A single call keeps
    ``max_retry_wait``."""

    def read_timeout_for(self, reasoning: bool = False) -> float:
        """The read timeout of one call: the one set, else ``DEFAULT_READ_TIMEOUT``, or for a call to a reasoning
        model ``REASONING_READ_TIMEOUT``: such a model may think for minutes before its first byte (the openai
        SDK waits 600 s for every call), while 120 s still catches a hung ordinary call early."""
        if self.read_timeout is not None:
            return self.read_timeout
        return REASONING_READ_TIMEOUT if reasoning else DEFAULT_READ_TIMEOUT

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        key = "'***'" if self.api_key else "None"
        extra = ""
        if self.subscription_key:
            extra += ", subscription_key='***'"
        if self.headers:
            extra += f", headers={redact_headers(self.headers)!r}"
        return f"Settings({shown}, api_key={key}{extra})"

    def __post_init__(self) -> None:
        """Every check runs here, so ``Settings(...)`` built directly is as safe as ``load_settings``."""
        sources = dict(self.sources)

        def where(name: str) -> str:
            return sources.get(name) or f"argument {name}"

        for name in TEXT_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise ConfigError(f"{name} (from {where(name)}) must be a string, not {type(value).__name__}")
            if value.startswith("<") and value.endswith(">") and name in DEPLOYMENT_FIELDS:
                # config.json.example's placeholder for a deployment this call may not use: unset, and the
                # error of a call that needs it (resolve.deployment_for) names the placeholder.
                sources[name] = f"{where(name)}, which still holds the placeholder {value!r}"
                object.__setattr__(self, name, None)
                continue
            if value.startswith("<") and value.endswith(">"):
                shown = redact_url(value) if name == "endpoint" else value
                raise ConfigError(f"{name} from {where(name)} still holds the placeholder {shown!r}: put your "
                                  "own value there")
            if any(ch in value for ch in "\r\n\t\x00"):
                raise ConfigError(f"{name} (from {where(name)}) holds a line break or control character: "
                                  "paste the value without it")
            check_text(name, value, where(name), header=name in HEADER_FIELDS)
        object.__setattr__(self, "sources", sources)
        if not self.endpoint:
            raise ConfigError(f"{NO_ENDPOINT}: set AZURE_OPENAI_ENDPOINT, the config.json key "
                              "AZURE_OPENAI_ENDPOINT, or --endpoint (e.g. https://NAME.openai.azure.com)")
        endpoint = parse_endpoint(self.endpoint, source=where("endpoint")).endpoint
        check_secure_url(endpoint)
        object.__setattr__(self, "endpoint", endpoint)
        if not self.api_version or not self.api_version.strip() or " " in self.api_version:
            raise ConfigError(f"api_version {self.api_version!r} (from {where('api_version')}) is not a version: "
                              f"use e.g. {DEFAULT_API_VERSION}")
        for name in NUMERIC_FIELDS:
            if name != "read_timeout" or self.read_timeout is not None:  # None: the automatic read timeout
                object.__setattr__(self, name, _number(name, getattr(self, name), where(name)))
        object.__setattr__(self, "headers", check_headers(self.headers, where("headers")))
        if self.auth not in AUTH_MODES:
            raise ConfigError(f"auth {self.auth!r} (from {where('auth')}) must be one of {', '.join(AUTH_MODES)}")
        if not (self.scope.startswith("https://") and self.scope.endswith("/.default")):
            raise ConfigError(f"scope {self.scope!r} (from {where('scope')}) must be a resource URL ending in "
                              f"/.default, e.g. {COGNITIVE_SERVICES_SCOPE} or https://ai.azure.com/.default")
        if self.auth == "key" and not self.api_key:
            raise ConfigError(f"auth is 'key' (from {where('auth')}) but no API key is set: set "
                              "AZURE_OPENAI_API_KEY, or use --auth cli / --auth default for Entra ID")
        if self.auth == "apim" and not self.subscription_key:
            raise ConfigError(f"auth is 'apim' (from {where('auth')}) but no subscription key is set: set "
                              "APIM_SUBSCRIPTION_KEY (config.json APIM_SUBSCRIPTION_KEY or subscription_key=)")

    def _repr_html_(self) -> str:
        """The notebook display: each value with where it came from, secrets as ``***``; built in display/."""
        from .display.config import settings_html

        return settings_html(self)

    @property
    def is_v1(self) -> bool:
        """True when the endpoint selects the v1 API (``…/openai/v1``)."""
        return is_v1_endpoint(self.endpoint)


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
        data = loads(text)
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
        if key in known or key in IGNORED_SAMPLE_KEYS or key in STRUCTURED_KEYS or key.startswith(("_", "//", "#")):
            continue
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        tip = f"; did you mean {near[0]}?" if near else f"; known keys: {', '.join(known)}"
        warnings.warn(f"{path}: unknown key {key!r} is ignored{tip}", ConfigWarning, stacklevel=3)


def _from_mapping(values: Mapping[str, Any], names: tuple[str, ...], where: str,
                  numeric: bool = False) -> tuple[Any, str] | None:
    for name in names:
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if numeric and isinstance(value, (int, float)) and not isinstance(value, bool):
            return value, where.format(name=name)  # a number in config.json: checked by _number
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
            hit = _from_mapping(config, cfg_keys, f"{config_path} key {{name}}", numeric=name in NUMERIC_FIELDS)
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

    if not merged.get("endpoint"):
        raise ConfigError("no endpoint configured: set AZURE_OPENAI_ENDPOINT, the config.json key "
                          "AZURE_OPENAI_ENDPOINT, or --endpoint (e.g. https://NAME.openai.azure.com)")
    sources.setdefault("read_timeout", "default (120 s; 600 s for a call to a reasoning model)")
    for name in (*NUMERIC_FIELDS, "api_version"):
        sources.setdefault(name, "default")
    merged["auth"] = _resolve_auth(merged, sources, _blank_key(env, config, path))
    if "headers" not in merged and path is not None:
        raw = config.get("headers", config.get("HEADERS"))
        if raw is not None:
            merged["headers"], sources["headers"] = raw, f"{path} key headers"
    return Settings(**merged, sources=sources)  # Settings checks every value (see __post_init__)


def _number(name: str, value: Any, where: str) -> Any:
    """A finite number in range; ``max_retries`` a whole number (``1.7`` or ``True`` are refused, not truncated)."""
    integer = name == "max_retries"
    if name == "max_quota_wait" and isinstance(value, str):
        value = parse_duration(value) if parse_duration(value) is not None else value  # "15m", "2h", "900"
    if isinstance(value, bool):
        raise ConfigError(f"{name} (from {where}) must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name} (from {where}) must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name} (from {where}) must be a finite number, got {value!r}")
    if integer and number != int(number):
        raise ConfigError(f"{name} (from {where}) must be a whole number, got {value!r}")
    if number < 0 or (number == 0 and not integer):
        raise ConfigError(f"{name} (from {where}) must be {'zero or more' if integer else 'positive'}, got {value!r}")
    if integer and number > 100:
        raise ConfigError(f"{name} (from {where}) must be at most 100, got {value!r}")
    if name.endswith("timeout") and number > 86400:
        raise ConfigError(f"{name} (from {where}) must be at most 86400 s (a day), got {value!r}")
    return int(number) if integer else number


def _resolve_auth(merged: Mapping[str, Any], sources: dict[str, str], blank_key: str | None = None) -> str:
    auth = str(merged.get("auth") or "").strip().lower()
    if not auth:
        sources["auth"] = "default (key when an API key is set, else DefaultAzureCredential)"
        if merged.get("api_key"):
            return "key"
        if blank_key and not merged.get("subscription_key"):
            # An empty key variable silently meant Entra ID: -v and doctor print this source, so they say why.
            sources["auth"] = (f"default: {blank_key} is set but empty, so DefaultAzureCredential (Entra ID) is "
                               "used; put the key there, or --auth cli / --auth default to mean it")
        return "apim" if merged.get("subscription_key") else "default"
    return auth


def _blank_key(environ: Mapping[str, str], config: Mapping[str, Any], path: Path | None) -> str | None:
    """Where an API key is set but empty (``AZURE_OPENAI_API_KEY=``), if anywhere: worth saying, since it
    switches auth to Entra ID without a word."""
    env_names, config_keys = SOURCES["api_key"]
    for name in env_names:
        value = environ.get(name)
        if isinstance(value, str) and not value.strip():
            return f"environment variable {name}"
    for key in config_keys:
        value = config.get(key)
        if isinstance(value, str) and not value.strip():
            return f"{path} key {key}"
    return None


def _character(ch: str) -> str:
    return f"U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')})"


def check_text(name: str, value: str, where: str, *, header: bool = False) -> None:
    """Refuse what a paste brings along unseen: an invisible character (a zero-width space, a BOM, a direction
    mark) anywhere; in a value sent as a header (``header``), any character HTTP headers cannot carry (they are
    Latin-1: ``日本``, a curly quote) — which made every call fail with a ``UnicodeEncodeError``. The message
    names the setting and the character, never the value (it may be a key)."""
    for position, ch in enumerate(value, start=1):
        if unicodedata.category(ch) in ("Cf", "Co", "Cs", "Zl", "Zp"):
            raise ConfigError(f"{name} (from {where}) holds the invisible character {_character(ch)} at character "
                              f"{position}: paste the value again without it")
        if header and ord(ch) > 255:
            raise ConfigError(f"{name} (from {where}) holds {_character(ch)} at character {position}, which an "
                              "HTTP header cannot carry (Latin-1 only): use plain ASCII, or percent-encode it")


def check_headers(raw: Any, where: str) -> dict[str, str]:
    """Extra headers as a dict of str; ``"Name: value"`` strings (the CLI's ``-H``) are accepted too."""
    if raw is None:
        return {}
    items: list[tuple[Any, Any]]
    if isinstance(raw, Mapping):
        items = list(raw.items())
    elif isinstance(raw, (list, tuple)):
        items = []
        for entry in raw:
            name, sep, value = str(entry).partition(":")
            if not sep:
                raise ConfigError(f"header {entry!r} (from {where}) must read 'Name: value'")
            items.append((name.strip(), value.strip()))
    else:
        raise ConfigError(f"headers (from {where}) must be an object {{\"Name\": \"value\"}}, "
                          f"not {type(raw).__name__}")
    checked: dict[str, str] = {}
    for name, value in items:
        if not isinstance(name, str) or not name or not _TOKEN.fullmatch(name):
            raise ConfigError(f"header name {name!r} (from {where}) is not a valid HTTP header name (letters, digits "
                              "and !#$%&'*+-.^_`|~ only)")
        if name.lower() in FRAMING_HEADERS:
            raise ConfigError(f"header {name} (from {where}) is set by the HTTP layer from the request itself: drop "
                              "it (giving it by hand makes the server wait for a body that never comes)")
        if not isinstance(value, str):
            raise ConfigError(f"header {name} (from {where}) must have a string value, not {type(value).__name__}")
        if any(ch in value for ch in "\r\n\x00"):
            raise ConfigError(f"header {name} (from {where}) holds a line break: paste the value alone")
        check_text(f"header {name}", value, where, header=True)
        checked[name] = value
    return checked
