"""The ``Emulator`` object: options, lifecycle, and the in-process handles tests steer it with.

It is the wiring: it creates the shared state (auth, tunables, journal, limiter, faults, stores, settings, the
stop event) and hands each part only the pieces that part reads. No part holds the ``Emulator``, so what a part
can touch is visible in its constructor, and the dependency graph inside the package has no cycle. Settable
attributes (``emu.token_lifetime = 2``, ``emu.stream_delay``, ``emu.api_key``…) are properties that write
through to the shared state, so a change still reaches every part on its next request.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional

from .batch_api import BatchAPI, is_resource_path
from .batch_worker import BatchWorker
from .batches import BatchSettings, BatchStore
from .control import Controls, is_control_path
from .deployments import Deployment, default_deployments
from .faults import FaultQueue
from .files import FileStore
from .gateway import Gateway
from .identity import IDENTITY_PATH, Auth, TokenIssuer
from .inference import EMULATOR_HEADER, InferenceService
from .journal import Journal, new_entry
from .modes import Modes
from .ratelimit import RateLimiter, check_profile
from .responses_api import ResponsesAPI, is_responses_path
from .server import EmulatorHTTPServer
from .service_errors import COGNITIVE_SERVICES_AUDIENCE
from .tunables import Tunables, WriteThrough
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
        modes: the resource's configuration (``{"missing_role": True}``…, modes.py); later ``emu.modes``.
        rate_limit_headers: ``"full"`` (default), ``"remaining"``, ``"message"`` or ``"foundry"``: which rate-limit
            headers answers and 429s carry (see ratelimit.py); settable later and over ``PATCH /_emulator/config``.
        background_load: the share (0 <= share < 1) of each deployment's budget another consumer spends
            (background.py); daily_quota: requests each deployment answers before a 429 "Please retry after 86400
            seconds" (ratelimit.py); both settable later and over the control route; ``reset_daily_quota()``.
        gateway: ``GatewaySettings`` fields: an API Management look-alike in front (gateway.py; ``emu.gateway``).

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
        modes: Mapping[str, Any] | None = None,
        rate_limit_headers: str = "full",
        gateway: Mapping[str, Any] | None = None,
        background_load: float = 0.0,
        daily_quota: int | None = None,
    ) -> None:
        chosen = list(deployments) if deployments is not None else default_deployments()
        if not chosen or not all(isinstance(d, Deployment) for d in chosen):
            raise ValueError("deployments must be a non-empty list of Deployment objects")
        self._deployments: dict[str, Deployment] = {d.name: d for d in chosen}
        if len(self._deployments) != len(chosen):
            raise ValueError("deployment names must be unique")
        if stream_delay < 0:
            raise ValueError("stream_delay must be >= 0 seconds")
        self.host = host
        self.port = port
        # The shared state: each object below is created once and handed to the parts that read it.
        self._modes = Modes()
        self._modes.update(modes or {})
        self._auth = Auth(api_key or secrets.token_hex(16), TokenIssuer(), self._modes)
        self._tunables = Tunables(float(token_lifetime), float(stream_delay), region, int(seed),
                                  check_profile(rate_limit_headers))
        self._journal = Journal(on_request)
        self._limiter = RateLimiter(background_load=background_load, daily_quota=daily_quota)
        self._faults = FaultQueue()
        self._stopping = threading.Event()
        self._batch_settings = BatchSettings.of(batch_settings)
        self._files = FileStore()
        self._batches = BatchStore()
        # Each part gets only what it reads (see the module docstring).
        self._inference = InferenceService(
            deployments=self._deployments, auth=self._auth, tunables=self._tunables, journal=self._journal,
            limiter=self._limiter, faults=self._faults, stopping=self._stopping, modes=self._modes,
        )
        self._responses_api = ResponsesAPI(
            deployments=self._deployments, auth=self._auth, tunables=self._tunables, journal=self._journal,
            limiter=self._limiter, faults=self._faults, stopping=self._stopping,
        )
        self._batch_api = BatchAPI(
            deployments=self._deployments, auth=self._auth, tunables=self._tunables, journal=self._journal,
            faults=self._faults, stopping=self._stopping, files=self._files, batches=self._batches,
            settings=self._batch_settings, endpoint=lambda: self.endpoint,
        )
        self._batch_worker = BatchWorker(
            batches=self._batches, files=self._files, settings=self._batch_settings, deployments=self._deployments,
            journal=self._journal, faults=self._faults, tunables=self._tunables,
            answer_line=self._inference.answer_batch_line,
        )
        self._controls = Controls(
            deployments=self._deployments, journal=self._journal, limiter=self._limiter, faults=self._faults,
            tunables=self._tunables, batch_settings=self._batch_settings, endpoint=lambda: self.endpoint,
            modes=self._modes,
        )
        self._gateway = Gateway(lambda: self._auth.api_key, gateway)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind, serve from a daemon thread, return self. A stopped emulator can start again, on the same port."""
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError("this emulator is already running")
            self._stopping.clear()
            server = EmulatorHTTPServer(
                (self.host, self.port), dispatch=self.dispatch, journal=self._journal, stopping=self._stopping
            )
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
            self._stopping.set()  # wakes delays and stream pauses
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
        return f"<Emulator {where} deployments={list(self._deployments)}>"

    # settings, read live by the parts (each property writes through to the shared object) --------------------

    api_key = WriteThrough[str]("_auth", "api_key")
    token_lifetime = WriteThrough[float]("_tunables", "token_lifetime")
    stream_delay = WriteThrough[float]("_tunables", "stream_delay")
    region = WriteThrough[str]("_tunables", "region")
    seed = WriteThrough[int]("_tunables", "seed")
    rate_limit_headers = WriteThrough[str]("_tunables", "rate_limit_headers", check_profile)
    background_load = WriteThrough[float]("_limiter", "background_load")  # the limiter checks both
    daily_quota = WriteThrough[Optional[int]]("_limiter", "daily_quota")

    @property
    def issuer(self) -> TokenIssuer:
        """Mints and checks this emulator's bearer tokens."""
        return self._auth.issuer

    @property
    def deployments(self) -> dict[str, Deployment]:
        """Name → Deployment; the parts read this very dict, so changes to it apply on the next request."""
        return self._deployments

    @deployments.setter
    def deployments(self, value: Mapping[str, Deployment]) -> None:
        replacement = dict(value)  # copied first: ``emu.deployments = emu.deployments`` must not empty it
        self._deployments.clear()
        self._deployments.update(replacement)

    @property
    def batch_settings(self) -> BatchSettings:
        """How batch jobs move; change fields in place (``emu.batch_settings.lines_per_second = 20``)."""
        return self._batch_settings

    @batch_settings.setter
    def batch_settings(self, value: BatchSettings | Mapping[str, Any]) -> None:
        self._batch_settings.update(BatchSettings.of(value).to_dict())  # in place: the parts hold this object

    @property
    def modes(self) -> Modes:
        """The resource's configuration (modes.py), read per request: ``emu.modes.missing_role = True``."""
        return self._modes

    # the shared state itself (read-only: the parts hold these objects) ------------------------------------------

    @property
    def gateway(self) -> Gateway:
        return self._gateway

    @property
    def journal(self) -> Journal:
        return self._journal

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    @property
    def faults(self) -> FaultQueue:
        return self._faults

    @property
    def stopping(self) -> threading.Event:
        """Set while the emulator stops: cuts fault delays and stream pauses short."""
        return self._stopping

    @property
    def files(self) -> FileStore:
        return self._files

    @property
    def batches(self) -> BatchStore:
        return self._batches

    @property
    def last_batch_worker_error(self) -> str | None:
        """The last exception the batch worker caught (a bug in the emulator), or None."""
        return self._batch_worker.last_error

    # where and who -------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash); the value for AZURE_OPENAI_ENDPOINT."""
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        host, port = self._server.server_name, self._server.server_port
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
        return next((d.name for d in self._deployments.values() if d.kind == kind), None)

    @property
    def identity_env(self) -> dict[str, str]:
        """Env vars (App Service managed identity) that send azure-identity's credentials to this emulator."""
        return {"IDENTITY_ENDPOINT": self.endpoint + IDENTITY_PATH, "IDENTITY_HEADER": self.issuer.identity_header}

    def issue_token(self, lifetime: float | None = None, resource: str = COGNITIVE_SERVICES_AUDIENCE) -> str:
        """A token this emulator accepts, or rejects: negative lifetime = expired, other resource = wrong audience."""
        return self._auth.issuer.issue(self._tunables.token_lifetime if lifetime is None else lifetime, resource)

    def config(self) -> dict[str, Any]:
        """The settable values, as ``GET /_emulator/config`` shows them."""
        return self._controls.config()

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
        return self._controls.add_fault(kind, times=times, status=status, headers=headers, body=body, delay=delay,
                                        categories=categories, retry_after=retry_after, deployment=deployment,
                                        route=route)

    def clear_faults(self) -> int:
        """Drop pending faults; returns how many there were."""
        return self._faults.clear()

    @property
    def log(self) -> list[dict[str, Any]]:
        """A copy of the request log: one dict per inference or token request, oldest first."""
        return self._journal.entries()

    @property
    def counters(self) -> dict[str, int]:
        """A copy of the counters: requests, connections, token_requests, streams, faults, rate_limited,
        file_requests, batch_requests, batch_lines, batch_worker_errors."""
        return self._journal.counters()

    def reset(self) -> None:
        """Forget the log, counters, rate-limit windows, daily-quota counts and pending faults (deployments, key,
        files and batches stay: they are the resource's data, like on Azure; ``emu.files.clear()`` …)."""
        self._controls.reset()

    def reset_daily_quota(self, deployment: str | None = None) -> None:
        """The daily quota returned (a new day) on ``deployment``, or on all: calls are answered again."""
        self._controls.reset_daily_quota(deployment)

    # dispatch (called from server threads) -----------------------------------------------------------------

    def dispatch(self, request: Request) -> Reply | StreamReply:
        """Route one request to the control routes, the managed-identity endpoint, files/batches or inference."""
        try:
            gated = self._gateway.handle(request)  # gateway mode's refusal, or the request it forwards
            if isinstance(gated, Reply):
                return gated
            request = gated
            if is_control_path(request.path):
                return self._controls.handle(request)
            if request.path == IDENTITY_PATH:
                return self._token(request)
            if is_responses_path(request.path):
                return self._responses_api.handle(request)
            if is_resource_path(request.path):
                return self._batch_api.handle(request)
            return self._inference.handle(request)
        except Exception as exc:  # a bug in the emulator: say so in a 500 rather than drop the connection
            body = {"error": {"code": "EmulatorError", "message": f"{type(exc).__name__}: {exc}"}}
            return json_reply(500, body, dict([EMULATOR_HEADER]))

    def _token(self, request: Request) -> Reply:
        started = time.perf_counter()
        self._journal.count("token_requests")
        reply = self._auth.issuer.answer(request, self._tunables.token_lifetime)
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        self._journal.record(new_entry(time=time.time(), method=request.method, path=request.path, operation="token",
                                       query=dict(request.query), status=reply.status, duration_ms=duration_ms))
        return reply
