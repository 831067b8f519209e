"""Faults on demand: what can go wrong on the next N requests, and the queue that holds them.

A fault is consumed by a request that passed routing, authentication and validation, i.e. one the emulator
would otherwise have answered. So a typo'd test request does not eat a fault meant for the real call, and a
fault scoped to ``deployment`` waits for a request to that deployment.
Faults are served first-in first-out; each applies ``times`` times, then disappears.

Which requests a fault waits for is its ``route`` (default None = inference requests only, as before the
Batch API existed, so a fault meant for a chat call is never eaten by a batch poll):
- None or ``"inference"``: /chat/completions, /completions, /embeddings (dated and v1);
- ``"files"`` / ``"batches"``: any request on /openai/files… or /openai/batches… (dated and v1);
- one operation: ``files.create`` (upload), ``files.list``, ``files.retrieve``, ``files.content``,
  ``files.delete``, ``batches.create``, ``batches.list``, ``batches.retrieve`` (a poll), ``batches.cancel``;
- ``"*"``: any request above;
- ``"batches.line"``: not a request but the next line a batch job processes: kinds ``status``,
  ``content_filter``, ``unavailable`` and ``rate_limit`` turn that line into a failed one (its status and
  error body go to the batch's error file). ``deployment`` may scope it to one batch deployment.
On files/batches routes ``reset`` drops the request unprocessed (nothing stored), while ``truncate`` processes
it and cuts the answer, so a client cannot tell whether its upload or batch exists: the case that creates
duplicates if a client retries blindly.

Kinds:
- ``status``: answer ``status`` with ``headers`` and ``body`` (str sent as is, dict/list as JSON; default
  ``{"error":{"code":"<status>","message":"<reason phrase>"}}``).
- ``delay``: wait ``delay`` seconds, then answer normally (rate limits included).
- ``reset``: close the TCP connection with RST, send nothing.
- ``truncate``: send headers with the full Content-Length but only half the body, then close
  (on a stream: half the events, no terminating chunk).
- ``content_filter``: the recorded 400 ``content_filter`` body, ``categories`` e.g. ``{"violence": "high"}``.
- ``unavailable``: 503 with ``retry-after: <retry_after>`` (whole seconds) and ``retry-after-ms`` (default 1 s).
- ``rate_limit``: 429 exactly as the rate limiter sends it, retrying after ``retry_after`` (default 1 s).
- ``content_filter_output``: the answer is cut by the content filter on its way out (inference only): chat and
  completions end with ``finish_reason: "content_filter"`` and the category that fired (``categories``, default
  ``{"violence": "medium"}``); Responses end ``incomplete`` with ``incomplete_details.reason: "content_filter"``
  (streamed: ``response.incomplete``). Embeddings have no output to filter: they are answered as usual.
- The wordings of error_shapes.py: ``rate_limit_reached`` (429 ``RateLimitReached`` naming model, deployment and
  region, retrying after ``retry_after``), ``rate_limit_no_wait`` (429 with no wait anywhere),
  ``operation_timeout`` (408 ``Timeout``), ``resource_information`` (500 "Unable to get resource information.").
``delay`` given with any other kind waits that long before acting.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from .error_shapes import SHAPE_KINDS
from .service_errors import DETECTION_CATEGORIES, SEVERITIES, SEVERITY_CATEGORIES

OUTPUT_FILTER = "content_filter_output"
FAULT_KINDS = ("status", "delay", "reset", "truncate", "content_filter", "unavailable", "rate_limit", OUTPUT_FILTER,
               *SHAPE_KINDS)
_WAIT_KINDS = ("unavailable", "rate_limit", "rate_limit_reached")
_FILTER_KINDS = ("content_filter", OUTPUT_FILTER)
FAULT_FIELDS = (
    "kind",
    "times",
    "status",
    "headers",
    "body",
    "delay",
    "categories",
    "retry_after",
    "deployment",
    "route",
)
INFERENCE = "inference"
BATCH_LINE = "batches.line"
RESOURCE_OPERATIONS = (
    "files.create",
    "files.list",
    "files.retrieve",
    "files.content",
    "files.delete",
    "batches.create",
    "batches.list",
    "batches.retrieve",
    "batches.cancel",
)
FAULT_ROUTES = (INFERENCE, "*", "files", "batches", *RESOURCE_OPERATIONS, BATCH_LINE)
_LINE_KINDS = ("status", "content_filter", "unavailable", "rate_limit")


@dataclass
class Fault:
    """One queued fault; ``remaining`` counts down from ``times``."""

    kind: str
    times: int = 1
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = None
    delay: float | None = None
    categories: dict[str, Any] | None = None
    retry_after: float | None = None
    deployment: str | None = None
    route: str | None = None
    remaining: int = 0

    def applies_to(self, operation: str, deployment: str | None) -> bool:
        """True when this fault waits for ``operation`` (see the module docstring) on ``deployment``."""
        if self.deployment is not None and self.deployment != deployment:
            return False
        route = self.route or INFERENCE
        if route == "*":
            return operation != BATCH_LINE
        if route in ("files", "batches"):
            return operation.startswith(route + ".") and operation != BATCH_LINE
        return route == operation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_fault(kind: str = "status", **fields: Any) -> Fault:
    """Build a validated Fault from keyword fields (``ValueError`` with a clear message otherwise)."""
    unknown = set(fields) - set(FAULT_FIELDS)
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}; known: {', '.join(FAULT_FIELDS)}")
    if kind not in FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
    times = fields.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ValueError(f"times must be a positive integer, not {times!r}")
    status = fields.get("status")
    if kind == "status":
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"a 'status' fault needs status=<100..599>, not {status!r}")
    elif status is not None:
        raise ValueError(f"status= only applies to kind 'status' (a {kind!r} fault has its own status)")
    if fields.get("body") is not None and kind != "status":
        raise ValueError("body= only applies to kind 'status'")
    headers = fields.get("headers") or {}
    if not isinstance(headers, dict):
        raise ValueError(f"headers must be a mapping of name to value, not {type(headers).__name__}")
    delay = _non_negative("delay", fields.get("delay"))
    if kind == "delay" and delay is None:
        raise ValueError("a 'delay' fault needs delay=<seconds>")
    retry_after = _non_negative("retry_after", fields.get("retry_after"))
    if retry_after is not None and kind not in _WAIT_KINDS:
        raise ValueError(f"retry_after= only applies to kinds {', '.join(map(repr, _WAIT_KINDS))}")
    categories = fields.get("categories")
    if categories is not None:
        if kind not in _FILTER_KINDS:
            raise ValueError(f"categories= only applies to kinds {', '.join(map(repr, _FILTER_KINDS))}")
        _check_categories(categories)
    deployment = fields.get("deployment")
    if deployment is not None and not isinstance(deployment, str):
        raise ValueError(f"deployment must be a deployment name, not {deployment!r}")
    route = _check_route(kind, fields.get("route"), deployment)
    return Fault(
        kind=kind,
        times=times,
        status=status,
        headers={str(k): str(v) for k, v in headers.items()},
        body=fields.get("body"),
        delay=delay,
        categories=dict(categories) if categories else None,
        retry_after=retry_after,
        deployment=deployment,
        route=route,
        remaining=times,
    )


def _check_route(kind: str, route: Any, deployment: str | None) -> str | None:
    """The validated ``route`` filter (None stays None: inference requests only)."""
    if route is None:
        return None
    if not isinstance(route, str) or route not in FAULT_ROUTES:
        raise ValueError(f"route must be one of {', '.join(FAULT_ROUTES)}, not {route!r}")
    if deployment is not None and route not in (INFERENCE, "*", BATCH_LINE):
        raise ValueError(f"deployment= scopes inference requests or batch lines; route {route!r} has no deployment")
    if route == BATCH_LINE and kind not in _LINE_KINDS:
        raise ValueError(f"a fault on route {BATCH_LINE!r} must be of kind {', '.join(_LINE_KINDS)}, not {kind!r}")
    if kind == "content_filter" and route not in (INFERENCE, BATCH_LINE):
        raise ValueError("content_filter faults apply to inference requests and batch lines only")
    if kind == OUTPUT_FILTER and route != INFERENCE:
        raise ValueError(f"{OUTPUT_FILTER} faults cut an answer's text: they apply to inference requests only")
    return route


def _non_negative(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
    return float(value)


def _check_categories(categories: Any) -> None:
    if not isinstance(categories, dict):
        raise ValueError("categories must map a category to a severity, e.g. {'violence': 'high'}")
    for name, value in categories.items():
        if name in SEVERITY_CATEGORIES:
            if value not in SEVERITIES:
                raise ValueError(f"severity of {name!r} must be one of {', '.join(SEVERITIES)}, not {value!r}")
        elif name in DETECTION_CATEGORIES:
            if not isinstance(value, bool):
                raise ValueError(f"{name!r} is detected or not: use True or False, not {value!r}")
        else:
            known = ", ".join(SEVERITY_CATEGORIES + DETECTION_CATEGORIES)
            raise ValueError(f"unknown content filter category {name!r}; known: {known}")


class FaultQueue:
    """Thread-safe FIFO of pending faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, deployment: str | None, operation: str = INFERENCE) -> Fault | None:
        """Consume one application of the first fault for ``operation`` on ``deployment``; a copy of it, or None."""
        with self._lock:
            for fault in self._faults:
                if fault.applies_to(operation, deployment):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return Fault(**fault.to_dict())
        return None

    def clear(self) -> int:
        """Drop all pending faults; how many there were."""
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_dict() for fault in self._faults]
