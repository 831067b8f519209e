"""HTTP for the Batch API: ``/openai/files…`` and ``/openai/batches…``, dated (``?api-version=``) and v1.

One request in, one Reply out, in the order the service checks things: route (path, method, api-version) →
authentication (as on inference routes) → pending fault (``route`` filter, see faults.py) → the operation.
Every answer carries ``apim-request-id``, ``x-ms-region``, ``x-emulator`` and JSON as
``application/json; charset=utf-8`` (recorded); files answers on dated routes also ``api-supported-versions``.

    POST   /files                 multipart purpose=batch + file → 201 File + Location (v1: 200, UNCERTAIN)
    GET    /files[?purpose=]      {"object":"list","data":[File…]} (v1 adds first_id, last_id, has_more)
    GET    /files/{id}            File          DELETE /files/{id}  {"object":"file","deleted":true,"id":…}
    GET    /files/{id}/content    200 application/octet-stream, Content-Disposition: attachment; filename=…
    POST   /batches               {input_file_id, endpoint, completion_window, metadata?} → 200 Batch (validating),
                                  deployment-enqueued-tokens / deployment-maximum-enqueued-tokens headers
    GET    /batches?after=&limit= {"object":"list","data","first_id","last_id","has_more"} (limit 20, max 100)
    GET    /batches/{id}          Batch         POST /batches/{id}/cancel  200 Batch (cancelling)

Guesses (UNCERTAIN; the docs and traffic are silent): unknown file or batch id → 404 ``NotFound`` (also for an
unknown ``input_file_id`` at create); an input file of another purpose, a bad ``endpoint`` or ``metadata`` →
400; cancelling a finished batch → 409; v1 answers the same shapes as the dated routes.

``BatchAPI`` gets the narrow state it reads (deployments, auth, tunables, journal, faults, the stop event, the
file and batch stores, the batch settings, the endpoint), never the whole ``Emulator``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union
from urllib.parse import unquote

from . import routes, service_errors
from .batch_validation import estimate_enqueued_tokens, normalize_endpoint
from .batches import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, BatchSettings, BatchStore
from .deployments import DEFAULT_MAX_ENQUEUED_TOKENS, Deployment
from .faults import Fault, FaultQueue
from .files import FileStore, list_body, upload_from_form
from .identity import Auth
from .inference import fault_reply, request_context
from .journal import Journal
from .multipart import MultipartError, parse_form_data
from .service_errors import ServiceError
from .tunables import Tunables
from .versions import KNOWN_VERSIONS, V1_ACCEPTED, is_known, serves_batch
from .wire import RESET, TRUNCATE, Reply, Request, json_reply

JSON_UTF8 = "application/json; charset=utf-8"
Answer = Union[Reply, ServiceError]  # what an operation handler returns
COLLECTIONS = ("files", "batches")
MAX_METADATA_PAIRS = 16
SUPPORTED_VERSIONS = ",".join(sorted(KNOWN_VERSIONS))  # recorded on files answers: every version, oldest first
# (collection, path segments after it, method) → operation; the same names filter faults (faults.py).
_OPERATIONS = {
    ("files", (), "POST"): "files.create",
    ("files", (), "GET"): "files.list",
    ("files", ("{id}",), "GET"): "files.retrieve",
    ("files", ("{id}",), "DELETE"): "files.delete",
    ("files", ("{id}", "content"), "GET"): "files.content",
    ("batches", (), "POST"): "batches.create",
    ("batches", (), "GET"): "batches.list",
    ("batches", ("{id}",), "GET"): "batches.retrieve",
    ("batches", ("{id}", "cancel"), "POST"): "batches.cancel",
}
# Operation ids of the 2024-10-21 authoring spec, for the wording of 429 faults.
_OPERATION_IDS = {
    "files.create": "Files_Upload",
    "files.list": "Files_List",
    "files.retrieve": "Files_Get",
    "files.content": "Files_GetContent",
    "files.delete": "Files_Delete",
    "batches.create": "Batch_Create",
    "batches.list": "Batch_List",
    "batches.retrieve": "Batch_Get",
    "batches.cancel": "Batch_Cancel",
}


@dataclass(frozen=True)
class ResourceRoute:
    """A matched files/batches request: operation, api-version (``v1`` on the v1 routes) and the object id."""

    operation: str
    api_version: str
    v1: bool
    object_id: str | None = None


def is_resource_path(path: str) -> bool:
    """True for /openai/files…, /openai/batches… and their /openai/v1/ forms."""
    segments = path.split("/")[1:]
    if segments[:2] == ["openai", "v1"]:
        segments = ["openai", *segments[2:]]
    return len(segments) >= 2 and segments[0] == "openai" and segments[1] in COLLECTIONS


def match(method: str, path: str, query: dict[str, str]) -> ResourceRoute | ServiceError:
    """Route a files/batches request, or the service's 404/400 (unknown path or method, bad api-version)."""
    segments = [unquote(s) for s in path.split("/")[2:]]
    v1 = segments[:1] == ["v1"]
    if v1:
        segments = segments[1:]
    collection, tail = segments[0], segments[1:]
    shape = tuple("{id}" if i == 0 else s for i, s in enumerate(tail))
    operation = _OPERATIONS.get((collection, shape, method))
    if operation is None or (tail and not tail[0]):
        return service_errors.resource_not_found()
    object_id = tail[0] if tail else None
    if v1:
        if query.get("api-version", "") not in V1_ACCEPTED:
            return service_errors.api_version_not_supported()
        return ResourceRoute(operation, "v1", True, object_id)
    version = query.get("api-version")
    if not version:
        return service_errors.resource_not_found()
    if not is_known(version):
        return service_errors.api_version_not_supported()
    if not serves_batch(version):
        return service_errors.resource_not_found()
    return ResourceRoute(operation, version, False, object_id)


@dataclass(frozen=True)
class Call:
    """One request being answered: its route, the request, the answer's headers so far and its log entry."""

    route: ResourceRoute
    request: Request
    headers: dict[str, str]
    entry: dict[str, Any]


class BatchAPI:
    """Answers files and batches requests for one emulator and records them in its journal."""

    def __init__(
        self,
        *,
        deployments: Mapping[str, Deployment],
        auth: Auth,
        tunables: Tunables,
        journal: Journal,
        faults: FaultQueue,
        stopping: threading.Event,
        files: FileStore,
        batches: BatchStore,
        settings: BatchSettings,
        endpoint: Callable[[], str],
    ) -> None:
        self.deployments = deployments
        self.auth = auth
        self.tunables = tunables
        self.journal = journal
        self.faults = faults
        self.stopping = stopping
        self.files = files
        self.batches = batches
        self.settings = settings
        self.endpoint = endpoint  # the emulator's base URL, known only once it listens (for Location headers)

    def handle(self, request: Request) -> Reply:
        started = time.perf_counter()
        headers, entry = request_context(request, self.tunables.region, x_request_id=False)
        self.journal.count("requests")
        files = request.path.startswith(("/openai/files", "/openai/v1/files"))
        self.journal.count("file_requests" if files else "batch_requests")
        reply = self._process(request, headers, entry)
        entry["status"] = None if reply.action == RESET else reply.status
        entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.journal.record(entry)
        return reply

    def _process(self, request: Request, headers: dict[str, str], entry: dict[str, Any]) -> Reply:
        route = match(request.method, request.path, request.query)
        if isinstance(route, ServiceError):
            return _error_reply(route, headers)
        entry["operation"], entry["api_version"] = route.operation, route.api_version
        if route.operation.startswith("files.") and not route.v1:
            headers["api-supported-versions"] = SUPPORTED_VERSIONS
        auth_error = self.auth.check(request, v1=route.v1, entry=entry)
        if auth_error is not None:
            return _error_reply(auth_error, headers)
        fault = self.faults.take(None, route.operation)
        if fault is not None:
            entry["fault"] = fault.kind
            self.journal.count("faults")
            if fault.delay and self.stopping.wait(fault.delay):
                return Reply(0, headers, action=RESET)  # the emulator is stopping: drop the connection
            faulted = _fault_reply(fault, route, headers)
            if faulted is not None:
                return faulted
        reply = self._answer(route, request, headers, entry)
        if fault is not None and fault.kind == "truncate":
            reply.action = TRUNCATE  # processed, but the client never learns the answer
        return reply

    def _answer(self, route: ResourceRoute, request: Request, headers: dict[str, str], entry: dict[str, Any]) -> Reply:
        handler: Callable[[Call], Answer] = getattr(self, "_" + route.operation.replace(".", "_"))
        answer = handler(Call(route, request, headers, entry))
        if isinstance(answer, ServiceError):
            return _error_reply(answer, headers)
        return answer

    # files ------------------------------------------------------------------------------------------------

    def _files_create(self, call: Call) -> Answer:
        try:
            fields = parse_form_data(call.request.header("content-type"), call.request.form_body)
        except MultipartError as exc:
            return service_errors.invalid_upload(str(exc))
        stored = upload_from_form(fields, self.settings.file_pending_seconds, self.files)
        if isinstance(stored, ServiceError):
            return stored
        self.files.add(stored)
        call.entry["body"] = {"purpose": stored.purpose, "filename": stored.filename, "bytes": stored.size}
        query = "" if call.route.v1 else f"?api-version={call.route.api_version}"
        call.headers["Location"] = f"{self.endpoint()}{_base(call.route)}/files/{stored.id}{query}"
        return _json(200 if call.route.v1 else 201, stored.to_object(), call.headers)

    def _files_list(self, call: Call) -> Answer:
        query = call.request.query
        body = list_body(self.files.listing(query.get("purpose") or None), query, v1=call.route.v1)
        return body if isinstance(body, ServiceError) else _json(200, body, call.headers)

    def _files_retrieve(self, call: Call) -> Answer:
        stored = self.files.get(call.route.object_id or "")
        if stored is None:
            return service_errors.object_not_found("File", call.route.object_id or "")
        return _json(200, stored.to_object(), call.headers)

    def _files_content(self, call: Call) -> Answer:
        stored = self.files.get(call.route.object_id or "")
        if stored is None:
            return service_errors.object_not_found("File", call.route.object_id or "")
        call.headers["Content-Type"] = "application/octet-stream"
        call.headers["Content-Disposition"] = stored.content_disposition()
        return Reply(200, call.headers, file=stored.path)

    def _files_delete(self, call: Call) -> Answer:
        file_id = call.route.object_id or ""
        if not self.files.delete(file_id):
            return service_errors.object_not_found("File", file_id)
        return _json(200, {"object": "file", "deleted": True, "id": file_id}, call.headers)

    # batches ----------------------------------------------------------------------------------------------

    def _batches_create(self, call: Call) -> Answer:
        payload = routes.parse_payload(call.request.body)
        if isinstance(payload, ServiceError):
            return payload
        call.entry["body"] = payload
        problem = _create_problem(payload)
        if problem is not None:
            return problem
        stored = self.files.get(payload["input_file_id"])
        if stored is None:
            return service_errors.object_not_found("File", payload["input_file_id"])
        if stored.purpose != "batch":
            message = f"the file {stored.id} has purpose '{stored.purpose}'; a batch needs a file of purpose 'batch'."
            return service_errors.invalid_value("input_file_id", message)
        with stored.open() as f:
            name, tokens = estimate_enqueued_tokens(f)
        deployment = self.deployments.get(name or "")
        quota = deployment if deployment is not None and deployment.is_batch else None
        limit = quota.enqueued_token_limit if quota is not None else DEFAULT_MAX_ENQUEUED_TOKENS
        call.entry["deployment"] = name
        with self.batches.lock:  # check and enqueue together, so concurrent creates cannot overshoot
            held = self.batches.enqueued_tokens(quota.name) if quota is not None else 0
            if quota is not None and self.settings.quota_fail_fast and held + tokens > limit:
                call.headers.update(_quota_headers(held, limit))
                return service_errors.token_limit_exceeded(quota.name, tokens, held, limit)
            job = self.batches.create(
                input_file_id=stored.id,
                endpoint=normalize_endpoint(payload["endpoint"]),
                completion_window=payload["completion_window"],
                metadata=payload.get("metadata"),
                input_path=self.files.pin(stored),
                deployment=quota.name if quota is not None else None,
                enqueued_tokens=tokens if quota is not None else 0,
            )
            body = job.to_object()
        call.headers.update(_quota_headers(held + (tokens if quota is not None else 0), limit))
        return _json(200, body, call.headers)

    def _batches_list(self, call: Call) -> Answer:
        raw = call.request.query.get("limit", str(DEFAULT_LIST_LIMIT))
        limit = int(raw) if raw.isdigit() else 0
        if not 1 <= limit <= MAX_LIST_LIMIT:
            return service_errors.invalid_value("limit", f"expected an integer between 1 and {MAX_LIST_LIMIT}, "
                                                f"got {raw}.")
        return _json(200, self.batches.page(call.request.query.get("after") or None, limit), call.headers)

    def _batches_retrieve(self, call: Call) -> Answer:
        body = self.batches.snapshot(call.route.object_id or "")
        if body is None:
            return service_errors.object_not_found("Batch", call.route.object_id or "")
        return _json(200, body, call.headers)

    def _batches_cancel(self, call: Call) -> Answer:
        batch_id = call.route.object_id or ""
        job = self.batches.cancel(batch_id)
        if job is None:
            return service_errors.object_not_found("Batch", batch_id)
        with self.batches.lock:
            if job.terminal:
                return service_errors.batch_not_cancellable(batch_id, job.status)
            body = job.to_object()
        return _json(200, body, call.headers)


def _create_problem(payload: dict[str, Any]) -> ServiceError | None:
    """The 400 for a create body the service refuses outright (content problems come later, as a failed batch)."""
    for name in ("input_file_id", "endpoint", "completion_window"):
        if payload.get(name) is None:
            return service_errors.missing_parameter(name)
        if not isinstance(payload[name], str):
            return service_errors.invalid_parameter(name, "a string", payload[name])
    if normalize_endpoint(payload["endpoint"]) is None:
        message = f"'{payload['endpoint']}' is not supported; the emulator runs '/chat/completions' batches."
        return service_errors.invalid_value("endpoint", message)
    metadata = payload.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and len(metadata) <= MAX_METADATA_PAIRS
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        return service_errors.invalid_parameter("metadata", f"up to {MAX_METADATA_PAIRS} string pairs", metadata)
    return None


def _base(route: ResourceRoute) -> str:
    return "/openai/v1" if route.v1 else "/openai"


def _quota_headers(enqueued: int, limit: int) -> dict[str, str]:
    return {"deployment-enqueued-tokens": str(enqueued), "deployment-maximum-enqueued-tokens": str(limit)}


def _json(status: int, body: Any, headers: dict[str, str]) -> Reply:
    return json_reply(status, body, {**headers, "Content-Type": JSON_UTF8})


def _error_reply(error: ServiceError, headers: dict[str, str]) -> Reply:
    reply = _json(error.status, error.body, {**headers, **error.headers})
    reply.reason = error.reason
    return reply


def _fault_reply(fault: Fault, route: ResourceRoute, headers: dict[str, str]) -> Reply | None:
    """The reply a fault stands in for; None when the request goes on (delay, truncate). A 429 here is about
    calls, not tokens."""
    return fault_reply(fault, {**headers, "Content-Type": JSON_UTF8}, operation_id=_OPERATION_IDS[route.operation],
                       api_version=route.api_version, tokens=False)
