"""The public surface, pinned: a name added to or dropped from `__all__` is a decision, not an accident."""

from __future__ import annotations

import rest_client
from rest_client import errors

PUBLIC = {
    "__version__", "COGNITIVE_SERVICES_SCOPE", "DEFAULT_API_VERSION",
    "Client", "Gate", "Settings", "load_settings", "ApiKeyAuth", "EntraTokenAuth",
    "SubscriptionKeyAuth",
    "Result", "Exchange", "AttemptEvent", "Stream", "RetryPolicy", "build_deployment_url", "build_v1_url",
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
