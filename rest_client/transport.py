"""The HTTP layer under the client: one pooled ``requests.Session`` per endpoint, and what a network failure
means (pure classification by exception type; text only as a fallback).

Why classify by type: messages such as "Connection refused" vary with the OS, the locale and the urllib3
version, while ``ConnectionRefusedError`` or ``urllib3.exceptions.NameResolutionError`` do not (httpx's
``map_httpcore_exceptions`` is the model).
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from ._version import __version__
from .errors import ConfigError, ConnectError, InvalidResponseError, RequestTimeoutError, TransportError

JSON = "application/json"
USER_AGENT = f"rest_client/{__version__} python-requests/{requests.__version__}"
POOL_SIZE = 32


class NoRedirectSession(requests.Session):
    """A session that sees no redirect anywhere: a 3xx is an answer like any other.

    Why not only ``allow_redirects=False``: requests still asks ``resolve_redirects`` for the *next* request
    (``Response.next``) even then, and with ``max_redirects=0`` that raises ``TooManyRedirects`` — a 3xx
    became a "network error" and was retried. With no redirect target, neither following nor that
    bookkeeping happens, whatever a caller passes.
    """

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


def make_session(endpoint: str, auth: requests.auth.AuthBase | None,
                 headers: Mapping[str, str] | None = None) -> requests.Session:
    """One pooled session for one endpoint, with urllib3's retries off (tenacity retries) and no redirects.

    Why ``trust_env`` is resolved here, once: with it on, requests re-reads the proxy and CA-bundle
    environment on *every* request (~0.4 ms each on loopback, a quarter of a keep-alive call). All our
    requests go to one host, so the answer cannot change between calls: HTTP(S)_PROXY / NO_PROXY and
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE are honoured as of the client's creation.

    Why no redirects: Azure OpenAI's data plane never redirects, and requests keeps custom headers such as
    ``api-key`` on a redirect to another host. A 3xx is handed back as it is (the client makes it an error).
    """
    session = NoRedirectSession()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": JSON, "Content-Type": JSON})
    session.headers.update(headers or {})  # a gateway's own headers: set once, free on every call
    session.auth = auth
    session.max_redirects = 0
    session.proxies.update(requests.utils.get_environ_proxies(endpoint))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and endpoint.startswith("https://"):  # requests stats the path on every request: only where used
        session.verify = bundle
    session.trust_env = False
    return session


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: ``__cause__``/``__context__``, urllib3's ``reason``, ``args[0]``."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (getattr(current, "reason", None), current.__cause__, current.__context__,
                      *(a for a in current.args[:1] if isinstance(a, BaseException))):
            if isinstance(inner, BaseException):
                todo.append(inner)


def _any(chain: list[BaseException], *types: type[BaseException] | None) -> bool:
    wanted = tuple(t for t in types if t is not None)
    return any(isinstance(e, wanted) for e in chain)


_NAME_RESOLUTION = getattr(urllib3.exceptions, "NameResolutionError", None)  # urllib3 >= 2


def transport_error(exc: BaseException, url: str, *, connect_timeout: float, read_timeout: float,
                    client_request_id: str | None = None, exchanges: Sequence[Any] = (),
                    prefix: str = "") -> TransportError | ConfigError | InvalidResponseError:
    """One clear message for each way the network can fail, naming the host and the likely fix.

    A body that does not decode as its ``Content-Encoding`` says (bad gzip) is not the network failing: an
    answer came, garbled (a proxy, a broken compression). It is an ``InvalidResponseError``, not retried —
    it was "cannot reach HOST", retried, as if nothing had answered.
    """
    host = urlsplit(url).netloc
    chain = list(_chain(exc))
    if _any(chain, requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema, urllib3.exceptions.LocationParseError):
        return ConfigError(f"the URL {url!r} is not valid: check the endpoint")
    if _any(chain, requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError):
        return InvalidResponseError(
            f"{prefix}{host} sent a body that does not decode as its Content-Encoding says: {str(exc)[:200]}",
            hint="a proxy or gateway in between may have changed the body or its headers; quote the request id "
                 "if it persists", exchanges=exchanges)
    cls, message = _classify(exc, chain, host, connect_timeout, read_timeout)
    unsent = _any(chain, requests.exceptions.ConnectTimeout, urllib3.exceptions.NewConnectionError, _NAME_RESOLUTION,
                  socket.gaierror, ConnectionRefusedError) \
        and not _any(chain, requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)
    return cls(prefix + message, client_request_id=client_request_id, exchanges=exchanges, request_sent=not unsent)


def _classify(exc: BaseException, chain: list[BaseException], host: str, connect_timeout: float,
              read_timeout: float) -> tuple[type[TransportError], str]:
    refused = f"connection to {host} refused: nothing is listening there; check the endpoint"
    closed = f"{host} closed the connection without an answer"
    if _any(chain, requests.exceptions.ConnectTimeout) or (
            _any(chain, urllib3.exceptions.ConnectTimeoutError)
            and not _any(chain, urllib3.exceptions.NewConnectionError)):
        return RequestTimeoutError, (f"connecting to {host} timed out after {connect_timeout:g} s: check the "
                                     "endpoint, VPN or proxy")
    if _any(chain, requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, socket.timeout):
        return RequestTimeoutError, (f"{host} sent nothing for read_timeout {read_timeout:g} s: long generations "
                                     "may need a larger read_timeout (--timeout)")
    if _any(chain, requests.exceptions.SSLError, ssl.SSLError):
        return ConnectError, f"TLS handshake with {host} failed: {str(exc)[:200]}"
    if _any(chain, _NAME_RESOLUTION, socket.gaierror):
        return ConnectError, f"cannot resolve {host}: check the resource name in the endpoint"
    if _any(chain, ConnectionRefusedError):
        return ConnectError, refused
    if _any(chain, requests.exceptions.ChunkedEncodingError, http.client.IncompleteRead,
            urllib3.exceptions.IncompleteRead):
        return ConnectError, f"{host} cut the answer off before it was complete"
    if _any(chain, ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.RemoteDisconnected):
        return ConnectError, closed
    low = str(exc).lower()  # last resort: wordings of urllib3 versions that wrap without a typed cause
    if "refused" in low:
        return ConnectError, refused
    if "reset" in low or "aborted" in low or "remotedisconnected" in low:
        return ConnectError, closed
    return ConnectError, f"cannot reach {host}: {str(exc)[:200]}"
