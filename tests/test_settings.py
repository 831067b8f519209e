"""Settings: one precedence rule, the Azure-Samples config.json keys, and errors that say what to fix."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from rest_client import ConfigError, Settings, load_settings
from rest_client.settings import ConfigWarning

EP = "https://res.openai.azure.com"


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def test_arguments_beat_environment_beat_file_beat_defaults(tmp_path: Path, monkeypatch) -> None:
    cfg = write(tmp_path / "c.json", {"AZURE_OPENAI_ENDPOINT": "https://file.openai.azure.com",
                                      "OPENAI_API_VERSION": "2023-05-15", "CHATGPT_MODEL": "file-dep",
                                      "COMPLETIONS_MODEL": "file-instruct"})
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://env.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "env-dep")
    s = load_settings(cfg, deployment="arg-dep")
    assert s.endpoint == "https://env.openai.azure.com"
    assert s.deployment == "arg-dep"
    assert s.api_version == "2023-05-15"
    assert s.completions_deployment == "file-instruct"
    assert s.sources["deployment"] == "argument deployment"
    assert s.sources["endpoint"] == "environment variable AZURE_OPENAI_ENDPOINT"
    assert s.sources["api_version"] == f"{cfg} key OPENAI_API_VERSION"
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    s = load_settings(cfg)
    assert (s.endpoint, s.deployment) == ("https://file.openai.azure.com", "env-dep")


def test_defaults_apply_when_nothing_else_sets_a_value() -> None:
    s = load_settings(endpoint=EP)
    assert (s.api_version, s.auth, s.max_retries, s.max_retry_wait) == ("2024-10-21", "default", 3, 60.0)
    assert (s.connect_timeout, s.read_timeout) == (5.0, None)  # None: 120 s, or 600 s for a reasoning call
    assert (s.read_timeout_for(), s.read_timeout_for(reasoning=True)) == (120.0, 600.0)
    assert s.sources["api_version"] == "default"


def test_none_overrides_are_ignored_so_a_cli_can_pass_unset_flags() -> None:
    s = load_settings(endpoint=EP, deployment=None, api_version=None)
    assert s.api_version == "2024-10-21" and s.deployment is None


@pytest.mark.parametrize(
    "config",
    [
        # the Azure-Samples/openai notebooks' file
        {"OPENAI_API_BASE": EP + "/", "OPENAI_API_KEY": "k" * 32, "OPENAI_API_VERSION": "2024-02-01",
         "CHATGPT_MODEL": "chat-dep", "COMPLETIONS_MODEL": "instruct-dep", "EMBEDDING_MODEL": "emb",
         "OPENAI_API_TYPE": "azure"},
        # the variant with OPENAI_API_ENDPOINT and CHAT_MODEL
        {"OPENAI_API_ENDPOINT": EP, "AZURE_OPENAI_API_KEY": "k" * 32, "OPENAI_API_VERSION": "2024-02-01",
         "CHAT_MODEL": "chat-dep", "COMPLETIONS_MODEL": "instruct-dep"},
    ],
)
def test_azure_samples_config_json_works_as_is(tmp_path: Path, config: dict) -> None:
    write(tmp_path / "config.json", config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known sample keys must not warn
        s = load_settings()
    assert s.endpoint == EP
    assert (s.deployment, s.completions_deployment, s.api_version) == ("chat-dep", "instruct-dep", "2024-02-01")
    assert s.api_key == "k" * 32 and s.auth == "key"


def test_unknown_key_warns_with_the_nearest_known_key(tmp_path: Path) -> None:
    write(tmp_path / "config.json", {"AZURE_OPENAI_ENDPOINT": EP, "AZURE_OPENAI_DEPLOYMNET": "x"})
    with pytest.warns(ConfigWarning, match="did you mean AZURE_OPENAI_DEPLOYMENT"):
        load_settings()


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text('{\n  "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",\n  "CHAT_MODEL": "a"\n  "X": 1\n}')
    with pytest.raises(ConfigError, match=r"config\.json is not valid JSON: .* line 4"):
        load_settings()


def test_config_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="one JSON object"):
        load_settings(tmp_path / "c.json")


def test_missing_explicit_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.json does not exist"):
        load_settings(tmp_path / "nope.json")


def test_non_string_value_is_named(tmp_path: Path) -> None:
    write(tmp_path / "config.json", {"AZURE_OPENAI_ENDPOINT": EP, "OPENAI_API_VERSION": 2024})
    with pytest.raises(ConfigError, match="key OPENAI_API_VERSION must be a string"):
        load_settings()


def test_missing_endpoint_names_variable_config_key_and_flag() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert "AZURE_OPENAI_ENDPOINT" in text and "config.json key" in text and "--endpoint" in text


def test_pasted_portal_target_uri_gives_endpoint_deployment_and_version(monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT",
                       f"{EP}/openai/deployments/gpt-4o/chat/completions?api-version=2025-01-01-preview")
    s = load_settings()
    assert (s.endpoint, s.deployment, s.api_version) == (EP, "gpt-4o", "2025-01-01-preview")
    # an explicit key of the same source wins over what the URL carried; a higher source wins too
    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "other")
    assert load_settings(api_version="2024-10-21").deployment == "other"
    assert load_settings(api_version="2024-10-21").api_version == "2024-10-21"


def test_pasted_completions_uri_sets_the_completions_deployment() -> None:
    s = load_settings(endpoint=f"{EP}/openai/deployments/instruct/completions?api-version=2024-10-21")
    assert (s.completions_deployment, s.deployment) == ("instruct", None)


def test_v1_endpoint_is_kept_and_selects_v1() -> None:
    s = load_settings(endpoint=EP + "/openai/v1/")
    assert s.endpoint == EP + "/openai/v1" and s.is_v1


def test_credentials_to_non_loopback_http_are_refused() -> None:
    with pytest.raises(ConfigError, match="refusing to send credentials"):
        load_settings(endpoint="http://res.openai.azure.com", api_key="k")
    assert load_settings(endpoint="http://127.0.0.1:9", api_key="k").endpoint == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("overrides", "auth"),
    [({"api_key": "k"}, "key"), ({}, "default"), ({"api_key": "k", "auth": "cli"}, "cli"),
     ({"auth": "DEFAULT"}, "default")],
)
def test_auth_defaults_to_key_when_a_key_is_set(overrides: dict, auth: str) -> None:
    assert load_settings(endpoint=EP, **overrides).auth == auth


def test_auth_key_without_a_key_says_how_to_fix() -> None:
    with pytest.raises(ConfigError, match="AZURE_OPENAI_API_KEY"):
        load_settings(endpoint=EP, auth="key")
    with pytest.raises(ConfigError, match="must be one of key, cli, default"):
        load_settings(endpoint=EP, auth="msi")


def test_auth_from_environment_and_file(tmp_path: Path, monkeypatch) -> None:
    write(tmp_path / "config.json", {"AZURE_OPENAI_ENDPOINT": EP, "AUTH": "cli"})
    assert load_settings().auth == "cli"
    monkeypatch.setenv("AZURE_OPENAI_AUTH", "default")
    assert load_settings().auth == "default"


def test_api_version_env_names_in_order(monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_VERSION", "2024-06-01")
    assert load_settings(endpoint=EP).api_version == "2024-06-01"
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-08-01-preview")
    assert load_settings(endpoint=EP).api_version == "2024-08-01-preview"


def test_empty_environment_values_count_as_unset(monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "")
    assert load_settings(endpoint=EP).auth == "default"


@pytest.mark.parametrize(("name", "value"), [("read_timeout", 0), ("connect_timeout", "x"), ("max_retries", -1)])
def test_bad_numbers_are_named(name: str, value) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(endpoint=EP, **{name: value})


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(endpoint=EP, deploymnet="x")


def test_repr_hides_the_key() -> None:
    s = load_settings(endpoint=EP, api_key="sekrit-key-1234567890")
    assert "sekrit" not in repr(s) and "api_key='***'" in repr(s)
    assert isinstance(s, Settings)


def test_config_is_not_read_at_import(tmp_path: Path, monkeypatch) -> None:
    import importlib

    import rest_client.settings as mod

    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://late.openai.azure.com")
    importlib.reload(mod)
    assert mod.load_settings().endpoint == "https://late.openai.azure.com"


def test_config_json_example_has_every_setting_and_its_placeholders_are_caught(tmp_path: Path) -> None:
    from rest_client.settings import SOURCES
    from tests.conftest import REPO_ROOT

    example = json.loads((REPO_ROOT / "config.json.example").read_text())
    for name, (_, keys) in SOURCES.items():
        assert any(k in example for k in keys), name
    (tmp_path / "config.json").write_text(json.dumps(example))
    with pytest.raises(ConfigError, match="placeholder"):
        load_settings()


def test_placeholder_values_are_refused(monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "<your-key>")
    with pytest.raises(ConfigError, match="api_key from environment variable AZURE_OPENAI_API_KEY still holds"):
        load_settings(endpoint=EP)


def test_a_deployment_placeholder_is_refused_only_by_a_call_that_needs_it(monkeypatch) -> None:
    """config.json.example's placeholder for a deployment the call does not use must not block the call."""
    from rest_client.resolve import deployment_for

    monkeypatch.setenv("AZURE_OPENAI_DEPLOYMENT", "<your-chat-deployment>")
    settings = load_settings(endpoint=EP, completions_deployment="instruct")
    assert settings.deployment is None
    assert deployment_for(settings, "completions") == "instruct"
    with pytest.raises(ConfigError, match="AZURE_OPENAI_DEPLOYMENT, which still holds the placeholder"):
        deployment_for(settings, "chat/completions")
