"""The control routes under ``/_emulator``: faults, log, counters, reset and config over plain HTTP.

They exist so a notebook, a shell script or a test in another process can steer an emulator it did not
start (``python -m rest_client.emulator`` in another terminal). No auth, but loopback clients only:
an emulator bound to another interface still refuses control requests from other machines.

    GET    /_emulator            what this emulator is: endpoint, deployments, api-versions, routes, config
    GET    /_emulator/log        {"requests": [...]} the request log (credential fingerprints only)
    GET    /_emulator/counters   {"requests": n, "connections": n, "token_requests": n, ...}
    GET    /_emulator/faults     {"faults": [...]} pending faults
    POST   /_emulator/faults     JSON with the fields of Emulator.add_fault → 201 {"fault": {...}}
    DELETE /_emulator/faults     {"cleared": n}
    POST   /_emulator/reset      clears log, counters, rate-limit windows and faults
    GET    /_emulator/config     {"token_lifetime": s, "stream_delay": s, ..., "batch": {BatchSettings fields}}
    PATCH  /_emulator/config     JSON {"token_lifetime": 2.0}, {"stream_delay": 0.05} and/or
                                 {"batch": {"lines_per_second": 20, ...}} (POST works too; all or nothing)
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from typing import TYPE_CHECKING, Any

from .versions import GA_VERSIONS, PREVIEW_VERSIONS
from .wire import Reply, Request, json_reply

if TYPE_CHECKING:
    from .emulator import Emulator

PREFIX = "/_emulator"
SETTABLE = ("token_lifetime", "stream_delay", "batch")
ROUTES = (
    "GET /_emulator",
    "GET /_emulator/log",
    "GET /_emulator/counters",
    "GET|POST|DELETE /_emulator/faults",
    "POST /_emulator/reset",
    "GET|PATCH|POST /_emulator/config",
)
_HEADERS = {"x-emulator": "rest_client"}


def is_control_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def handle(emu: Emulator, request: Request) -> Reply:
    """Answer one control request."""
    if not _is_loopback(request.client):
        return _problem(403, "Control routes answer loopback clients only.")
    name = request.path[len(PREFIX) :].strip("/")
    method = request.method
    if name == "" and method == "GET":
        return _ok(describe(emu))
    if name == "log" and method == "GET":
        return _ok({"requests": emu.log})
    if name == "counters" and method == "GET":
        return _ok(emu.counters)
    if name == "faults":
        return _faults(emu, request)
    if name == "reset" and method == "POST":
        emu.reset()
        return _ok({"reset": True})
    if name == "config":
        return _config(emu, request)
    known = name in ("", "log", "counters", "reset")
    return _problem(405 if known else 404, f"{method} {request.path} is not a control route; see GET {PREFIX}.")


def describe(emu: Emulator) -> dict[str, Any]:
    return {
        "emulator": "rest_client",
        "endpoint": emu.endpoint,
        "deployments": [
            {
                "name": d.name,
                "model": d.model,
                "kind": d.kind,
                "rpm": d.rpm,
                "tpm": d.tpm,
                "window": d.window,
                "max_enqueued_tokens": d.enqueued_token_limit if d.is_batch else None,
            }
            for d in emu.deployments.values()
        ],
        "api_versions": list(GA_VERSIONS + PREVIEW_VERSIONS),
        "control_routes": list(ROUTES),
        "config": emu.config(),
    }


def _faults(emu: Emulator, request: Request) -> Reply:
    if request.method == "GET":
        return _ok({"faults": emu.faults.pending()})
    if request.method == "DELETE":
        return _ok({"cleared": emu.clear_faults()})
    if request.method != "POST":
        return _problem(405, f"{request.method} is not allowed on {PREFIX}/faults.")
    fields = _json_object(request)
    if isinstance(fields, Reply):
        return fields
    try:
        fault = emu.add_fault(**fields)
    except (TypeError, ValueError) as exc:
        return _problem(400, str(exc))
    return json_reply(201, {"fault": fault, "pending": len(emu.faults.pending())}, _HEADERS)


def _config(emu: Emulator, request: Request) -> Reply:
    if request.method == "GET":
        return _ok(emu.config())
    if request.method not in ("PATCH", "POST"):
        return _problem(405, f"{request.method} is not allowed on {PREFIX}/config.")
    fields = _json_object(request)
    if isinstance(fields, Reply):
        return fields
    unknown = set(fields) - set(SETTABLE)
    if unknown:
        return _problem(400, f"cannot set {', '.join(sorted(unknown))}; settable: {', '.join(SETTABLE)}")
    batch = fields.pop("batch", None)
    for name, value in fields.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _problem(400, f"{name} must be a number of seconds, not {value!r}")
        if name == "stream_delay" and value < 0:
            return _problem(400, "stream_delay must be >= 0")
    if batch is not None:
        if not isinstance(batch, dict):
            return _problem(400, 'batch must be an object of batch settings, e.g. {"lines_per_second": 20}')
        try:
            dataclasses.replace(emu.batch_settings).update(batch)  # a dry run: nothing changes unless all is valid
        except ValueError as exc:
            return _problem(400, str(exc))
    for name, value in fields.items():
        setattr(emu, name, float(value))
    if batch is not None:
        emu.batch_settings.update(batch)
    return _ok(emu.config())


def _json_object(request: Request) -> dict[str, Any] | Reply:
    try:
        fields = json.loads(request.body or b"{}")
    except ValueError:
        return _problem(400, "The body must be a JSON object.")
    if not isinstance(fields, dict):
        return _problem(400, "The body must be a JSON object.")
    return fields


def _is_loopback(client: str) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return (mapped or address).is_loopback


def _ok(body: Any) -> Reply:
    return json_reply(200, body, _HEADERS)


def _problem(status: int, message: str) -> Reply:
    return json_reply(status, {"error": {"code": str(status), "message": message}}, _HEADERS)
