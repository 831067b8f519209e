"""The gate a bulk run paces with, and the pacing files it shares with other runs (one job: building it).

Why one place: a chat run (run.py) and an embeddings run (embeddings.py) must pace alike — one ``Pacer`` on
the deployment's pacing file (ledger.py), or, on a client with backends, ``BackendPacers`` with one pacer and
one pacing file per backend (multi.py) — each with the run's ``max_quota_wait``, so a 429 is a wait and a
quota stops the run the same way in both. Built here once, neither run can forget a part of it.
``REST_CLIENT_SHARE_PACING=0`` and ``REST_CLIENT_CACHE_DIR`` apply through ``ledger_for``.
"""

from __future__ import annotations

from typing import Union

from ..client import Client
from ..errors import ConfigError
from ..resolve import deployment_for
from ..settings import Settings
from .ledger import Ledger, ledger_for
from .multi import BackendPacers
from .pacing import Pacer
from .quota import QuotaStop
from .sendlog import RecordingPacer

RunGate = Union[Pacer, BackendPacers]
"""What a bulk run hands ``Client.request`` as its gate."""


def gate_for(client: Client, operation: str, deployment: str | None, *, max_quota_wait: float,
             record_sends: bool = False) -> RunGate:
    """The gate for a run of ``operation`` calls: per backend with ``client.router``, else one pacer
    (``record_sends``: a ``RecordingPacer``, one deployment only: each backend has its own limit)."""
    if client.router is not None:
        ledgers = {slot.name: ledger_of(slot.settings, operation, deployment) for slot in client.router.slots}
        return BackendPacers(client.router, max_quota_wait=max_quota_wait, ledgers=ledgers)
    kind = RecordingPacer if record_sends else Pacer
    return kind(max_quota_wait=max_quota_wait, ledger=ledger_of(client.settings, operation, deployment))


def ledger_of(settings: Settings, operation: str, deployment: str | None) -> Ledger | None:
    """The pacing file of the deployment ``operation`` calls go to on ``settings``' endpoint (None: sharing is
    off, or no deployment to name: a run whose items each name their own paces alone)."""
    try:
        name = deployment_for(settings, operation, deployment)
    except ConfigError:
        return None
    return ledger_for(settings.endpoint, name)


def reported(gate: RunGate, stop: QuotaStop | None) -> QuotaStop | None:
    """A run's quota stop as it reports it: over backends, with every backend's quota as known by now (read it
    when the run is over: a 429 still on its way to the gate when the run stopped adds its backend)."""
    return gate.quota_stop(stop) if stop is not None and isinstance(gate, BackendPacers) else stop
