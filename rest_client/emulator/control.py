"""The control routes under ``/_emulator``: faults, log, counters, reset and config over plain HTTP.

They exist so a notebook, a shell script or a test in another process can steer an emulator it did not
start (``python -m rest_client.emulator`` in another terminal). No auth, but loopback clients only:
an emulator bound to another interface still refuses control requests from other machines.

``Controls`` is the steering surface both ways: the control routes and ``Emulator.add_fault`` / ``reset`` /
``config`` go through it, so a fault queued over HTTP and one queued in process are checked alike. It gets the
narrow state it steers (deployments, journal, limiter, faults, tunables, batch settings, the endpoint), never
the whole ``Emulator``.

    GET    /_emulator            what this emulator is: endpoint, deployments, api-versions, routes, config
    GET    /_emulator/log        {"requests": [...]} the request log (credential fingerprints only)
    GET    /_emulator/counters   {"requests": n, "connections": n, "token_requests": n, ...}
    GET    /_emulator/faults     {"faults": [...]} pending faults
    POST   /_emulator/faults     JSON with the fields of Emulator.add_fault → 201 {"fault": {...}}
    DELETE /_emulator/faults     {"cleared": n}
    POST   /_emulator/reset      clears log, counters, rate-limit windows, daily-quota counts and faults
    GET    /_emulator/daily-quota            {"daily_quota": n|null, "answered": {deployment: n}, ...}
    POST   /_emulator/daily-quota/reset      the quota returned: JSON {"deployment": name} for one, else all
    GET    /_emulator/config     {"token_lifetime": s, "stream_delay": s, ..., "batch": {BatchSettings fields}}
    PATCH  /_emulator/config     JSON {"token_lifetime": 2.0}, {"stream_delay": 0.05} and/or
                                 {"batch": {"lines_per_second": 20, ...}} (POST works too; all or nothing);
                                 {"modes": {"missing_role": true, ...}} (see modes.py)
                                 {"rate_limit_headers": "full"|"remaining"|"message"|"foundry"} (ratelimit.py)
                                 {"background_load": 0.5} another consumer comes (0: it goes; background.py)
                                 {"daily_quota": 12} requests per deployment per "day" (null: none)
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any

from .batches import BatchSettings
from .deployments import Deployment, check_daily_quota, check_share
from .faults import FaultQueue, make_fault
from .journal import Journal
from .modes import Modes, checked_modes
from .ratelimit import RATE_LIMIT_PROFILES, RateLimiter
from .tunables import Tunables
from .versions import GA_VERSIONS, PREVIEW_VERSIONS
from .wire import Reply, Request, json_reply

PREFIX = "/_emulator"
SETTABLE = ("token_lifetime", "stream_delay", "batch", "modes", "rate_limit_headers", "background_load", "daily_quota")
ROUTES = (
    "GET /_emulator",
    "GET /_emulator/log",
    "GET /_emulator/counters",
    "GET|POST|DELETE /_emulator/faults",
    "POST /_emulator/reset",
    "GET|PATCH|POST /_emulator/config",
    "GET /_emulator/daily-quota",
    "POST /_emulator/daily-quota/reset",
)
_HEADERS = {"x-emulator": "rest_client"}


def is_control_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class Controls:
    """Faults, log, counters, reset and config of one emulator, in process and over ``/_emulator``."""

    def __init__(
        self,
        *,
        deployments: Mapping[str, Deployment],
        journal: Journal,
        limiter: RateLimiter,
        faults: FaultQueue,
        tunables: Tunables,
        batch_settings: BatchSettings,
        endpoint: Callable[[], str],
        modes: Modes | None = None,
    ) -> None:
        self.deployments = deployments
        self.journal = journal
        self.limiter = limiter
        self.faults = faults
        self.tunables = tunables
        self.batch_settings = batch_settings
        self.endpoint = endpoint
        self.modes = modes if modes is not None else Modes()

    # in process (Emulator's methods delegate here) --------------------------------------------------------

    def add_fault(self, kind: str = "status", *, deployment: str | None = None, **fields: Any) -> dict[str, Any]:
        """Queue a fault (fields as ``Emulator.add_fault``); its dict. ValueError/TypeError for a bad one."""
        if deployment is not None and deployment not in self.deployments:
            raise ValueError(f"no deployment named {deployment!r}; known: {', '.join(self.deployments)}")
        fault = make_fault(kind, deployment=deployment, **fields)
        self.faults.add(fault)
        return fault.to_dict()

    def reset(self) -> None:
        """Forget the log, counters, rate-limit windows, daily-quota counts and pending faults."""
        self.journal.reset()
        self.limiter.reset()
        self.faults.clear()

    def reset_daily_quota(self, deployment: str | None = None) -> None:
        """The daily quota returned on ``deployment`` (ValueError for an unknown one), or on all."""
        if deployment is not None and deployment not in self.deployments:
            raise ValueError(f"no deployment named {deployment!r}; known: {', '.join(self.deployments)}")
        self.limiter.reset_daily_quota(deployment)

    def daily_quota(self) -> dict[str, Any]:
        """The quota, each deployment's own (when it has one) and what each has answered since the last reset."""
        return {"daily_quota": self.limiter.daily_quota, "answered": self.limiter.answered(),
                "per_deployment": {d.name: d.daily_quota for d in self.deployments.values()
                                   if d.daily_quota is not None}}

    def config(self) -> dict[str, Any]:
        return {**self.tunables.to_dict(), "background_load": self.limiter.background_load,
                "daily_quota": self.limiter.daily_quota, "batch": self.batch_settings.to_dict(),
                "modes": self.modes.to_dict()}

    def describe(self) -> dict[str, Any]:
        return {
            "emulator": "rest_client",
            "endpoint": self.endpoint(),
            "deployments": [
                {
                    "name": d.name,
                    "model": d.model,
                    "kind": d.kind,
                    "rpm": d.rpm,
                    "tpm": d.tpm,
                    "window": d.window,
                    "max_enqueued_tokens": d.enqueued_token_limit if d.is_batch else None,
                    "background_load": d.background_load,  # None: the emulator's (config)
                    "daily_quota": d.daily_quota,
                }
                for d in self.deployments.values()
            ],
            "api_versions": list(GA_VERSIONS + PREVIEW_VERSIONS),
            "control_routes": list(ROUTES),
            "config": self.config(),
        }

    # over HTTP --------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one control request."""
        if not _is_loopback(request.client):
            return _problem(403, "Control routes answer loopback clients only.")
        name = request.path[len(PREFIX) :].strip("/")
        method = request.method
        if name == "" and method == "GET":
            return _ok(self.describe())
        if name == "log" and method == "GET":
            return _ok({"requests": self.journal.entries()})
        if name == "counters" and method == "GET":
            return _ok(self.journal.counters())
        if name == "faults":
            return self._faults(request)
        if name == "reset" and method == "POST":
            self.reset()
            return _ok({"reset": True})
        if name == "config":
            return self._config(request)
        if name == "daily-quota" and method == "GET":
            return _ok(self.daily_quota())
        if name == "daily-quota/reset" and method == "POST":
            return self._reset_daily_quota(request)
        known = name in ("", "log", "counters", "reset", "daily-quota", "daily-quota/reset")
        return _problem(405 if known else 404, f"{method} {request.path} is not a control route; see GET {PREFIX}.")

    def _faults(self, request: Request) -> Reply:
        if request.method == "GET":
            return _ok({"faults": self.faults.pending()})
        if request.method == "DELETE":
            return _ok({"cleared": self.faults.clear()})
        if request.method != "POST":
            return _problem(405, f"{request.method} is not allowed on {PREFIX}/faults.")
        fields = _json_object(request)
        if isinstance(fields, Reply):
            return fields
        try:
            fault = self.add_fault(**fields)
        except (TypeError, ValueError) as exc:
            return _problem(400, str(exc))
        return json_reply(201, {"fault": fault, "pending": len(self.faults.pending())}, _HEADERS)

    def _config(self, request: Request) -> Reply:
        if request.method == "GET":
            return _ok(self.config())
        if request.method not in ("PATCH", "POST"):
            return _problem(405, f"{request.method} is not allowed on {PREFIX}/config.")
        fields = _json_object(request)
        if isinstance(fields, Reply):
            return fields
        unknown = set(fields) - set(SETTABLE)
        if unknown:
            return _problem(400, f"cannot set {', '.join(sorted(unknown))}; settable: {', '.join(SETTABLE)}")
        batch = fields.pop("batch", None)
        modes = fields.pop("modes", None)
        if modes is not None:
            problem = _modes_problem(modes)
            if problem:
                return _problem(400, problem)
        profile = fields.pop("rate_limit_headers", None)
        if profile is not None and profile not in RATE_LIMIT_PROFILES:
            return _problem(400, f"rate_limit_headers must be one of {', '.join(RATE_LIMIT_PROFILES)}, not {profile!r}")
        shared = {name: fields.pop(name) for name in ("background_load", "daily_quota") if name in fields}
        try:
            if "background_load" in shared:
                check_share(shared["background_load"])
            check_daily_quota(shared.get("daily_quota"))
        except ValueError as exc:
            return _problem(400, str(exc))
        for name, value in fields.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return _problem(400, f"{name} must be a number of seconds, not {value!r}")
            if name == "stream_delay" and value < 0:
                return _problem(400, "stream_delay must be >= 0")
        if batch is not None:
            if not isinstance(batch, dict):
                return _problem(400, 'batch must be an object of batch settings, e.g. {"lines_per_second": 20}')
            try:  # a dry run on a copy: nothing changes unless all is valid
                dataclasses.replace(self.batch_settings).update(batch)
            except ValueError as exc:
                return _problem(400, str(exc))
        for name, value in fields.items():
            setattr(self.tunables, name, float(value))
        if batch is not None:
            self.batch_settings.update(batch)
        if modes is not None:
            self.modes.update(modes)
        if profile is not None:
            self.tunables.rate_limit_headers = profile
        for name, value in shared.items():
            setattr(self.limiter, name, value)
        return _ok(self.config())

    def _reset_daily_quota(self, request: Request) -> Reply:
        fields = _json_object(request)
        if isinstance(fields, Reply):
            return fields
        unknown = set(fields) - {"deployment"}
        if unknown:
            return _problem(400, f"cannot use {', '.join(sorted(unknown))}; only deployment (a name) or nothing")
        deployment = fields.get("deployment")
        if deployment is not None and not isinstance(deployment, str):
            return _problem(400, f"deployment must be a deployment's name, not {deployment!r}")
        try:
            self.reset_daily_quota(deployment)
        except ValueError as exc:
            return _problem(400, str(exc))
        return _ok({"reset": True, **self.daily_quota()})


def _modes_problem(modes: Any) -> str | None:
    """Why ``modes`` cannot be applied (checked before anything changes), or None."""
    if not isinstance(modes, dict):
        return 'modes must be an object, e.g. {"missing_role": true}'
    try:
        checked_modes(modes)
    except ValueError as exc:
        return str(exc)
    return None


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
