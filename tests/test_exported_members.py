"""The public surface, pinned: a name added to or dropped from `__all__` is a decision, not an accident."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import rest_client
from rest_client import errors

PUBLIC = {
    "__version__", "COGNITIVE_SERVICES_SCOPE", "DEFAULT_API_VERSION",
    "Client", "Gate", "Settings", "load_settings", "ApiKeyAuth", "EntraTokenAuth",
    "SubscriptionKeyAuth",
    "Result", "Exchange", "AttemptEvent", "Stream", "RetryPolicy", "build_deployment_url", "build_v1_url",
    # types the public methods hand back: stream_responses, Result/Stream.tool_calls, EntraTokenAuth.status
    # (and what those carry: TokenStatus.claims, Stream.content_filter_annotations)
    "ResponseStream", "ToolCall", "TokenStatus", "TokenClaims", "FilterAnnotation",
    # the hosted tools' items Result/ResponseStream.hosted_tool_calls hand back (and a file search's results)
    "CodeInterpreterCall", "FileSearchCall", "FileSearchResult", "WebSearchCall",
    "RestClientError", "ConfigError", "ConfigWarning", "BatchValidationError", "CredentialError", "TransportError",
    "ConnectError", "RequestTimeoutError", "InvalidResponseError", "StreamError", "APIStatusError",
    "BadRequestError", "ContentFilterError", "AuthenticationError", "PermissionDeniedError", "NotFoundError",
    "RateLimitError", "ServerError", "BatchError", "PacerClosed",
    "APIConnectionError", "APITimeoutError", "InternalServerError",
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(rest_client.__all__) == PUBLIC


def test_every_exported_name_resolves() -> None:
    for name in rest_client.__all__:
        assert getattr(rest_client, name) is not None, name


def test_type_checkers_see_every_export_as_a_re_export() -> None:
    """The ``TYPE_CHECKING`` block imports exactly the lazy names, each as ``X as X``: ``__all__`` is computed, so
    without the alias mypy --strict refuses ``from rest_client import Client`` (no implicit re-export)."""
    tree = ast.parse(Path(rest_client.__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    seen = {}
    for node in ast.walk(block):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name} is imported without 'as {alias.name}'"
                seen[alias.name] = "." * node.level + (node.module or "")
    assert seen == rest_client._WHERE


def _library_classes() -> set[str]:
    """Public class names defined in the library (the CLI and the emulator are programs, not API)."""
    import importlib
    import pkgutil

    names = set()
    for info in pkgutil.walk_packages(rest_client.__path__, "rest_client."):
        if info.name.startswith(("rest_client.emulator", "rest_client.cli")) or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        names.update(name for name, value in vars(module).items() if isinstance(value, type)
                     and value.__module__ == module.__name__ and not name.startswith("_"))
    return names


def test_every_type_a_public_method_returns_is_exported() -> None:
    """A type the public API hands back can be imported from the package it came from. Read from the return
    annotations as written (postponed, so TYPE_CHECKING-only names and ``X | None`` on 3.9 need no evaluation)."""
    library = _library_classes()
    missing = set()
    for name in rest_client.__all__:
        value = getattr(rest_client, name)
        if not isinstance(value, type):
            continue
        for member_name, member in inspect.getmembers(value):
            function = member.fget if isinstance(member, property) else member
            if member_name.startswith("_") or not inspect.isfunction(function):
                continue
            returned = str(function.__annotations__.get("return", ""))
            missing.update(f"{name}.{member_name} -> {word}" for word in re.findall(r"[A-Za-z_]\w*", returned)
                           if word in library and word not in rest_client.__all__)
    assert not missing


def test_every_error_class_is_in_the_errors_module_and_exported() -> None:
    classes = {name for name, value in vars(errors).items()
               if isinstance(value, type) and issubclass(value, (Exception, Warning))
               and value.__module__ == errors.__name__}
    assert classes <= set(rest_client.__all__)
    for name in classes:
        assert name in (errors.__doc__ or ""), f"{name} is missing from the tree drawn in errors.py"


def test_openai_sdk_names_are_aliases() -> None:
    assert rest_client.APIConnectionError is rest_client.TransportError  # the SDK's shape: timeouts are under it
    assert issubclass(rest_client.ConnectError, rest_client.APIConnectionError)
    assert issubclass(rest_client.APITimeoutError, rest_client.APIConnectionError)
    assert rest_client.APITimeoutError is rest_client.RequestTimeoutError
    assert rest_client.InternalServerError is rest_client.ServerError


def test_no_error_class_is_defined_outside_errors() -> None:
    """Errors live in one module: every exception class anywhere in the package (emulator aside) is from it."""
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(rest_client.__path__, "rest_client."):
        skipped = info.name.startswith("rest_client.emulator") or info.name.endswith("__main__")
        if skipped or info.name == errors.__name__:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == module.__name__:
                raise AssertionError(f"{info.name}.{name} is an exception class outside rest_client.errors")
