"""The ``Emulator`` object: options, lifecycle, and the in-process handles tests steer it with."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import control
from .batch_api import BatchAPI, is_resource_path
from .batch_worker import BatchWorker
from .batches import BatchSettings, BatchStore
from .deployments import Deployment, default_deployments
from .faults import FaultQueue, make_fault
from .files import FileStore
from .identity import IDENTITY_PATH, TokenIssuer
from .inference import EMULATOR_HEADER, InferenceService
from .journal import Journal, new_entry
from .ratelimit import RateLimiter
from .server import EmulatorHTTPServer
from .service_errors import COGNITIVE_SERVICES_AUDIENCE
from .wire import Reply, Request, StreamReply, json_reply

POLL_INTERVAL = 0.05  # how often serve_forever checks for shutdown: stop() takes at most this long


class Emulator:
    """An Azure OpenAI look-alike on loopback (see the package docstring for routes, faults and limits).

    Options (keyword only):
        host, port: where to listen; ``127.0.0.1`` and a free port by default (``emu.port`` is the real one
            once started).
        api_key: the key clients must send as ``api-key``; random per instance unless given.
        deployments: a list of ``Deployment``; default: ``gpt-4o-mini`` (chat), ``gpt-35-turbo-instruct``
            (completions) and ``text-embedding-3-small`` (embeddings), each 1000 RPM / 1,000,000 TPM, and
            ``gpt-4o-mini-batch`` (kind ``batch``: GlobalBatch, for the Batch API only).
        token_lifetime: seconds a managed-identity token lives (settable later: ``emu.token_lifetime = 2``).
        region: the ``x-ms-region`` header.
        seed: mixed into every generated text and embedding (same prompt + seed + max_tokens → same text).
        stream_delay: seconds between stream events (settable later), for visible streaming in demos.
        on_request: called with each log entry (a dict) right after it is recorded, from the server thread.
        batch_settings: a ``BatchSettings`` or a dict of its fields: how fast batch jobs move (defaults finish a
            200-line batch in about a second) and which documented variant of behaviour they show; settable
            later (``emu.batch_settings.lines_per_second = 20``) and over ``PATCH /_emulator/config``.

    Use ``with Emulator() as emu:`` or ``emu = Emulator().start()`` … ``emu.stop()``. While running:
    ``endpoint``, ``api_key``, ``chat_deployment``, ``completions_deployment``, ``embeddings_deployment``,
    ``batch_deployment``, ``identity_env``; ``issue_token()``, ``add_fault()``, ``clear_faults()``, ``log``,
    ``counters``, ``reset()``. The Batch API's state: ``files`` (a FileStore), ``batches`` (a BatchStore),
    driven by one background thread that lives from ``start()`` to ``stop()``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        deployments: Iterable[Deployment] | None = None,
        token_lifetime: float = 3600.0,
        region: str = "East US",
        seed: int = 0,
        stream_delay: float = 0.0,
        on_request: Callable[[dict[str, Any]], None] | None = None,
        batch_settings: BatchSettings | Mapping[str, Any] | None = None,
    ) -> None:
        chosen = list(deployments) if deployments is not None else default_deployments()
        if not chosen or not all(isinstance(d, Deployment) for d in chosen):
            raise ValueError("deployments must be a non-empty list of Deployment objects")
        self.deployments: dict[str, Deployment] = {d.name: d for d in chosen}
        if len(self.deployments) != len(chosen):
            raise ValueError("deployment names must be unique")
        if stream_delay < 0:
            raise ValueError("stream_delay must be >= 0 seconds")
        self.host = host
        self.port = port
        self.api_key = api_key or secrets.token_hex(16)
        self.token_lifetime = float(token_lifetime)
        self.region = region
        self.seed = int(seed)
        self.stream_delay = float(stream_delay)
        self.journal = Journal(on_request)
        self.limiter = RateLimiter()
        self.faults = FaultQueue()
        self.issuer = TokenIssuer()
        self.stopping = threading.Event()
        self.batch_settings = _batch_settings(batch_settings)
        self.files = FileStore()
        self.batches = BatchStore()
        self.last_batch_worker_error: str | None = None
        self._inference = InferenceService(self)
        self._batch_api = BatchAPI(self)
        self._batch_worker = BatchWorker(self)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind, serve from a daemon thread, return self. A stopped emulator can start again, on the same port."""
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError("this emulator is already running")
            self.stopping.clear()
            server = EmulatorHTTPServer((self.host, self.port), self)
            self.port = server.server_port  # the real port once bound (port=0 asks for a free one)
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL},
                name=f"rest_client-emulator:{server.server_port}",
                daemon=True,
            )
            self._server = server
            self._thread.start()
            self._batch_worker.start()
        return self

    def stop(self) -> None:
        """Stop serving: close the listening socket and open keep-alive connections, join threads. Idempotent."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            if server is None:
                return
            self.stopping.set()  # wakes delays and stream pauses
            self._batch_worker.stop()  # batches pause where they are; they resume if the emulator starts again
            server.shutdown()
            server.close_connections()
            server.server_close()  # also joins the handler threads
            if thread is not None:
                thread.join()
            self._server = self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    def __repr__(self) -> str:  # no key here: reprs end up in logs and tracebacks
        where = self.endpoint if self.running else "not running"
        return f"<Emulator {where} deployments={list(self.deployments)}>"

    # where and who -------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash); the value for AZURE_OPENAI_ENDPOINT."""
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def chat_deployment(self) -> str | None:
        return self._first_of_kind("chat")

    @property
    def completions_deployment(self) -> str | None:
        return self._first_of_kind("completions")

    @property
    def embeddings_deployment(self) -> str | None:
        return self._first_of_kind("embeddings")

    @property
    def batch_deployment(self) -> str | None:
        """The first GlobalBatch deployment: the name batch files put in ``body.model``."""
        return self._first_of_kind("batch")

    @property
    def inference(self) -> InferenceService:
        """The inference pipeline (the batch worker runs its lines through it)."""
        return self._inference

    def _first_of_kind(self, kind: str) -> str | None:
        return next((d.name for d in self.deployments.values() if d.kind == kind), None)

    @property
    def identity_env(self) -> dict[str, str]:
        """Env vars (App Service managed identity) that send azure-identity's credentials to this emulator."""
        return {"IDENTITY_ENDPOINT": self.endpoint + IDENTITY_PATH, "IDENTITY_HEADER": self.issuer.identity_header}

    def issue_token(self, lifetime: float | None = None, resource: str = COGNITIVE_SERVICES_AUDIENCE) -> str:
        """A token this emulator accepts, or rejects: negative lifetime = expired, other resource = wrong audience."""
        return self.issuer.issue(self.token_lifetime if lifetime is None else lifetime, resource)

    def config(self) -> dict[str, Any]:
        return {
            "token_lifetime": self.token_lifetime,
            "stream_delay": self.stream_delay,
            "region": self.region,
            "seed": self.seed,
            "batch": self.batch_settings.to_dict(),
        }

    # faults, log, counters -------------------------------------------------------------------------------

    def add_fault(
        self,
        kind: str = "status",
        *,
        times: int = 1,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        body: str | dict | list | None = None,
        delay: float | None = None,
        categories: dict[str, Any] | None = None,
        retry_after: float | None = None,
        deployment: str | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """Queue a fault for the next ``times`` requests; returns it (see faults.py for the kinds).

        ``route`` picks the requests: None = inference only (the default, as always); ``"files"``,
        ``"batches"``, one operation such as ``"batches.retrieve"`` or ``"files.create"``, ``"*"`` for any,
        or ``"batches.line"`` for lines a batch job runs.
        """
        if deployment is not None and deployment not in self.deployments:
            raise ValueError(f"no deployment named {deployment!r}; known: {', '.join(self.deployments)}")
        fault = make_fault(
            kind,
            times=times,
            status=status,
            headers=headers,
            body=body,
            delay=delay,
            categories=categories,
            retry_after=retry_after,
            deployment=deployment,
            route=route,
        )
        self.faults.add(fault)
        return fault.to_dict()

    def clear_faults(self) -> int:
        """Drop pending faults; returns how many there were."""
        return self.faults.clear()

    @property
    def log(self) -> list[dict[str, Any]]:
        """A copy of the request log: one dict per inference or token request, oldest first."""
        return self.journal.entries()

    @property
    def counters(self) -> dict[str, int]:
        """A copy of the counters: requests, connections, token_requests, streams, faults, rate_limited,
        file_requests, batch_requests, batch_lines, batch_worker_errors."""
        return self.journal.counters()

    def reset(self) -> None:
        """Forget the log, counters, rate-limit windows and pending faults (deployments, key, files and batches
        stay: they are the resource's data, like on Azure; ``emu.files.clear()`` / ``emu.batches.clear()``)."""
        self.journal.reset()
        self.limiter.reset()
        self.faults.clear()

    # dispatch (called from server threads) -----------------------------------------------------------------

    def dispatch(self, request: Request) -> Reply | StreamReply:
        """Route one request to the control routes, the managed-identity endpoint, files/batches or inference."""
        try:
            if control.is_control_path(request.path):
                return control.handle(self, request)
            if request.path == IDENTITY_PATH:
                return self._token(request)
            if is_resource_path(request.path):
                return self._batch_api.handle(request)
            return self._inference.handle(request)
        except Exception as exc:  # a bug in the emulator: say so in a 500 rather than drop the connection
            body = {"error": {"code": "EmulatorError", "message": f"{type(exc).__name__}: {exc}"}}
            return json_reply(500, body, dict([EMULATOR_HEADER]))

    def _token(self, request: Request) -> Reply:
        started = time.perf_counter()
        self.journal.count("token_requests")
        reply = self.issuer.answer(request, self.token_lifetime)
        self.journal.record(
            new_entry(
                time=time.time(),
                method=request.method,
                path=request.path,
                query=dict(request.query),
                operation="token",
                status=reply.status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        )
        return reply


def _batch_settings(given: BatchSettings | Mapping[str, Any] | None) -> BatchSettings:
    """A BatchSettings of its own for this emulator, from an instance, a dict of its fields, or the defaults."""
    settings = BatchSettings()
    if isinstance(given, BatchSettings):
        settings.update(given.to_dict())
    elif given is not None:
        settings.update(dict(given))
    return settings
