"""Every error rest_client raises, in one tree (pure: no I/O; ``diagnose.py`` builds them from answers).

The tree (each class is also a familiar builtin where that helps ``except`` clauses)::

    RestClientError
    ├── ConfigError(ValueError)               bad or missing setting, malformed config.json or argument
    │   └── BatchValidationError              a batch input file that cannot become a batch (every problem)
    ├── CredentialError                       no token could be had (az not logged in, no identity, ...)
    ├── TransportError(OSError)               nothing usable came back from the network (alias APIConnectionError)
    │   ├── ConnectError(ConnectionError)     refused, DNS, TLS, reset or cut off
    │   └── RequestTimeoutError(TimeoutError) no answer in time                     (alias APITimeoutError)
    ├── InvalidResponseError(ValueError)      an answer that is not what the API sends (not JSON, wrong shape)
    │   └── StreamError                       a stream that broke its format or carried an error event
    ├── APIStatusError                        the service answered with an error status
    │   ├── BadRequestError                   400
    │   │   └── ContentFilterError            400 content_filter (categories attached)
    │   ├── AuthenticationError               401
    │   ├── PermissionDeniedError             403
    │   ├── NotFoundError                     404
    │   ├── RateLimitError                    429 (or a retry-after longer than we may wait)
    │   └── ServerError                       5xx                                   (alias InternalServerError)
    ├── BatchError                            a batch (or its input file) ended without results
    └── PacerClosed                           a paced run is stopping: this send was never made

    ConfigWarning(UserWarning)                a config.json key we do not know (a warning, not an error)

Errors are complete when constructed (stripe's habit): nothing patches ``hint`` or ``exchanges`` afterwards.
``str()`` of an ``APIStatusError`` leads with what support asks for:
``HTTP 404 DeploymentNotFound (request 1a2b…): message — hint``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


class RestClientError(Exception):
    """Base of every error raised by rest_client."""

    def __init__(self, message: str = "", *, hint: str | None = None, exchanges: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.hint = hint
        self.exchanges: Sequence[Any] = exchanges
        """The attempts made before the error (``Exchange`` objects), when the error came from a call."""

    def __str__(self) -> str:
        text = str(self.args[0]) if self.args else ""
        return f"{text} — {self.hint}" if self.hint else text

    def _repr_html_(self) -> str:
        """The notebook display: status badge, ids, the message and the hint once each, the attempts timeline,
        headers and body folded (``display(error)`` in an ``except`` block); built in display/."""
        from .display.failures import error_html

        return error_html(self)


class ConfigError(RestClientError, ValueError):
    """A setting is missing or wrong; the message names the setting and where it came from."""


class BatchValidationError(ConfigError):
    """The input file cannot become an Azure batch; ``problems`` lists each one with its line number."""

    MAX_SHOWN = 20

    def __init__(self, problems: list[str]) -> None:
        shown = problems[: self.MAX_SHOWN]
        more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
        super().__init__(f"the batch file has {len(problems)} problem(s), nothing was sent: "
                         + "; ".join(shown) + more)
        self.problems = problems


class CredentialError(RestClientError):
    """No access token could be obtained from the configured Azure credential."""


class TransportError(RestClientError, OSError):
    """The request did not produce an HTTP answer (network, TLS, timeout)."""

    def __init__(self, message: str = "", *, hint: str | None = None, exchanges: Sequence[Any] = (),
                 client_request_id: str | None = None, request_sent: bool = True) -> None:
        super().__init__(message, hint=hint, exchanges=exchanges)
        self.client_request_id = client_request_id
        self.request_sent = request_sent
        """``False`` only when the request certainly never left (refused, DNS, connect timeout, TLS handshake):
        then even a request that must not be done twice (an upload) may be sent again."""


class ConnectError(TransportError, ConnectionError):
    """The connection could not be made, or was dropped or cut off before a whole answer."""


class RequestTimeoutError(TransportError, TimeoutError):
    """The service did not answer (or finish answering) within the timeout."""


class InvalidResponseError(RestClientError, ValueError):
    """An answer that is not what the API sends: a 200 that is not JSON, an HTML page, a wrong shape."""

    def __init__(self, message: str, *, hint: str | None = None, exchanges: Sequence[Any] = (),
                 status_code: int | None = None, request_id: str | None = None, payload: Any = None) -> None:
        super().__init__(message, hint=hint, exchanges=exchanges)
        self.status_code = status_code
        self.request_id = request_id
        self.payload = payload


class StreamError(InvalidResponseError):
    """The stream broke its format: an event that is not JSON, an error event, or no ``[DONE]`` at the end."""


class APIStatusError(RestClientError):
    """The service answered with an error status; carries everything needed to debug or report it."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        client_request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        inner: Mapping[str, Any] | None = None,
        hint: str | None = None,
        exchanges: Sequence[Any] = (),
        response: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint, exchanges=exchanges)
        self.retry_after = retry_after
        """Seconds the answer asked to wait before another try (a 429's or 503's hint, an API Management quota
        403's "replenished in 01:02:03"), else ``None``: what a caller scheduling a rerun reads."""
        self.message = message
        self.status_code = status_code
        self.code = code
        self.type = type
        self.param = param
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.headers = dict(headers or {})
        self.body = body
        self.inner = dict(inner or {})
        """The service's ``innererror`` (``inner_error`` in the spec): content filter results, revised prompt…"""
        self.response = response
        """The last ``requests.Response`` (``None`` when the error was built from parts)."""

    def __str__(self) -> str:
        head = f"HTTP {self.status_code}"
        if self.code and self.code != str(self.status_code):  # Azure often repeats the status as the code
            head += f" {self.code}"
        if self.request_id:
            head += f" (request {self.request_id})"
        text = f"{head}: {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
                f"request_id={self.request_id!r})")


class BadRequestError(APIStatusError):
    """400: the request was refused as malformed or not allowed."""


class ContentFilterError(BadRequestError):
    """400 content_filter: the prompt was blocked by Azure's content filter; see ``categories``."""

    def __init__(self, message: str, *, categories: Mapping[str, Mapping[str, Any]] | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.categories = dict(categories or {})


class AuthenticationError(APIStatusError):
    """401: the key or token was not accepted."""


class PermissionDeniedError(APIStatusError):
    """403: authenticated, but not allowed (role assignment, network rules)."""


class NotFoundError(APIStatusError):
    """404: wrong deployment name, endpoint path or api-version."""


class RateLimitError(APIStatusError):
    """429: over the deployment's rate limit; ``retry_after`` says how long the service asked to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, limit: str | None = None, **kw: Any):
        super().__init__(message, retry_after=retry_after, **kw)
        self.limit = limit
        """Which limit was hit, when the answer says: ``"requests"`` or ``"tokens"`` (else ``None``)."""


class ServerError(APIStatusError):
    """5xx: the service failed; retried, then raised with the request id to quote to support."""


class BatchError(RestClientError):
    """The batch (or its input file) ended in a state that produced no results; the message says why."""


class PacerClosed(RestClientError):
    """The run is stopping: this send was never made (so a rerun will make it)."""


class ConfigWarning(UserWarning):
    """A config.json key we do not know (probably a typo); the message names the nearest known key."""


# The names users of the openai SDK reach for, in the SDK's shape: there ``APITimeoutError`` is an
# ``APIConnectionError``, so code ported from it that catches ``APIConnectionError`` also catches timeouts.
APIConnectionError = TransportError
APITimeoutError = RequestTimeoutError
InternalServerError = ServerError

STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def status_class(status: int) -> type[APIStatusError]:
    """The class for an error status: the table above, ``ServerError`` for 5xx, else ``APIStatusError``."""
    return STATUS_CLASSES.get(status) or (ServerError if status >= 500 else APIStatusError)
