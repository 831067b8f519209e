"""Deployments: the name a client puts in the URL, the model behind it, what it can do and its limits.

A real Azure OpenAI resource answers a chat payload sent to an instruct model with 400
OperationNotSupported; the ``kind`` field is what lets the emulator do the same.

Kind ``batch`` is a GlobalBatch deployment (SKU ``GlobalBatch`` / ``DataZoneBatch``): it serves chat completions
only through the Batch API (``/openai/batches``), has no RPM/TPM but a quota of *enqueued tokens*, and answers a
direct (synchronous) call with 400 OperationNotSupported. Only a batch deployment may be named in a batch file's
``body.model``; a standard one makes the batch fail with ``invalid_request``, as the service does.
"""

from __future__ import annotations

from dataclasses import dataclass

from .versions import CHAT, COMPLETIONS, EMBEDDINGS

KINDS = ("chat", "completions", "embeddings", "batch")

# What each kind of model serves. Current chat models (gpt-4o, gpt-4o-mini, …) reject /completions,
# instruct models reject /chat/completions, embedding models serve only /embeddings.
# A batch deployment serves no synchronous route at all: its chat completions run through batch jobs only.
_OPERATIONS_BY_KIND = {"chat": (CHAT,), "completions": (COMPLETIONS,), "embeddings": (EMBEDDINGS,), "batch": ()}
BATCH_OPERATIONS = (CHAT,)  # what the lines of a batch job may ask a batch deployment for

# Limits of the default deployments: high enough that demos and test suites never trip them by accident,
# low enough that a runaway bulk loop meets a realistic 429.
DEFAULT_RPM = 1000
DEFAULT_TPM = 1_000_000
# The documented default enqueued-token quota of a gpt-4o-mini GlobalBatch deployment (1B; gpt-4o: 200M).
DEFAULT_MAX_ENQUEUED_TOKENS = 1_000_000_000

# Answers name the model with its version, as Azure's do (recordings: "gpt-4.1-mini-2025-04-14",
# "gpt-5-mini-2025-08-07"): the default version a new deployment of each model gets. Models not listed
# (gpt-35-turbo answers unversioned in the 2023-2024 recordings, instruct and embedding models: a guess)
# answer with their plain name; ``Deployment(version=…)`` picks another.
MODEL_VERSIONS = {
    "gpt-4o-mini": "2024-07-18",
    "gpt-4o": "2024-11-20",
    "gpt-4.1": "2025-04-14",
    "gpt-4.1-mini": "2025-04-14",
    "gpt-4.1-nano": "2025-04-14",
    "gpt-5": "2025-08-07",
    "gpt-5-mini": "2025-08-07",
    "gpt-5-nano": "2025-08-07",
}


@dataclass(frozen=True)
class Deployment:
    """One deployment of a model.

    ``rpm`` / ``tpm`` are requests and tokens per minute (None = unlimited). They are enforced over a
    sliding ``window`` of seconds, scaled: ``rpm * window / 60`` requests and ``tpm * window / 60`` tokens
    per window (at least 1). Azure itself enforces RPM over short windows (about 1/6 of the minute budget
    per 10 s), so ``window=10`` reproduces that burstiness; the default of 60 s is a plain per-minute budget.

    ``version``: the model version named in answers (default: ``MODEL_VERSIONS``).

    ``latency``: seconds an admitted request takes before its answer starts (the model's time to generate). Real
    answers take from a few hundred milliseconds to seconds; 0 (the default) answers at once, which would let a
    client that paces by its answers' arrival look faster than it is on a real deployment. A 429 comes back
    without it, as the service's refusals do.

    ``max_enqueued_tokens`` (kind ``batch`` only) is the deployment's batch quota: the prompt tokens of all its
    batches that have not reached a terminal state; None = the documented default, 1,000,000,000.

    ``background_load`` (0 <= share < 1) and ``daily_quota`` (requests, >= 0): this deployment's own shared-quota
    settings (see ratelimit.py and background.py); None = the emulator's (``Emulator(background_load=…)``).
    """

    name: str
    model: str
    kind: str = "chat"
    rpm: int | None = None
    tpm: int | None = None
    window: float = 60.0
    max_enqueued_tokens: int | None = None
    version: str | None = None
    latency: float = 0.0
    background_load: float | None = None
    daily_quota: int | None = None

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"deployment name must be non-empty and contain no '/': {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"deployment kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        for field_name in ("rpm", "tpm"):
            value = getattr(self, field_name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{field_name} must be a positive integer or None, not {value!r}")
        if not self.window > 0:
            raise ValueError(f"window must be > 0 seconds, not {self.window!r}")
        if not 0 <= self.latency < 3600:
            raise ValueError(f"latency must be >= 0 seconds (and under an hour), not {self.latency!r}")
        if self.background_load is not None:
            check_share(self.background_load)
        check_daily_quota(self.daily_quota)
        quota = self.max_enqueued_tokens
        if quota is not None:
            if self.kind != "batch":
                raise ValueError("max_enqueued_tokens only applies to deployments of kind 'batch'")
            if not isinstance(quota, int) or isinstance(quota, bool) or quota < 1:
                raise ValueError(f"max_enqueued_tokens must be a positive integer or None, not {quota!r}")

    @property
    def operations(self) -> tuple[str, ...]:
        """The routes (``chat/completions``, ``completions``, ``embeddings``) this deployment serves."""
        return _OPERATIONS_BY_KIND[self.kind]

    @property
    def answer_model(self) -> str:
        """The ``model`` field of answers: the model with its version (``gpt-4o-mini-2024-07-18``)."""
        version = self.version or MODEL_VERSIONS.get(self.model)
        return f"{self.model}-{version}" if version else self.model

    @property
    def is_batch(self) -> bool:
        return self.kind == "batch"

    @property
    def enqueued_token_limit(self) -> int:
        """The batch quota in enqueued tokens (the default when none was given)."""
        return self.max_enqueued_tokens if self.max_enqueued_tokens is not None else DEFAULT_MAX_ENQUEUED_TOKENS

    @property
    def requests_per_window(self) -> int | None:
        """The request budget of one window, or None when unlimited."""
        return None if self.rpm is None else max(1, round(self.rpm * self.window / 60.0))

    @property
    def tokens_per_window(self) -> int | None:
        """The token budget of one window, or None when unlimited."""
        return None if self.tpm is None else max(1, round(self.tpm * self.window / 60.0))

    def describe(self) -> str:
        """One line for humans: ``gpt-4o-mini (chat, model gpt-4o-mini, 1000 RPM / 1000000 TPM)``."""
        limits = []
        if self.rpm is not None:
            limits.append(f"{self.rpm} RPM")
        if self.tpm is not None:
            limits.append(f"{self.tpm} TPM")
        if self.is_batch:
            limits.append(f"{self.enqueued_token_limit} enqueued tokens")
        limit_text = f", {' / '.join(limits)}" if limits else ", unlimited"
        if limits and self.window != 60.0:
            limit_text += f" over {self.window:g} s windows"
        return f"{self.name} ({self.kind}, model {self.model}{limit_text})"


def check_share(share: object) -> float:
    """A background-load share as a float in [0, 1), or a ValueError saying why not (1 would leave nothing)."""
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share < 1:
        raise ValueError(f"background_load must be a share >= 0 and < 1 (0.5: another client uses half), not {share!r}")
    return float(share)


def check_daily_quota(quota: object) -> int | None:
    """A daily quota as requests per deployment (0: already spent), None for none, or a ValueError."""
    if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota < 0):
        raise ValueError(f"daily_quota must be a whole number of requests >= 0, or None, not {quota!r}")
    return quota


def default_deployments() -> list[Deployment]:
    """One chat, one completions, one embeddings and one GlobalBatch deployment, named as the portal suggests."""
    return [
        Deployment("gpt-4o-mini", "gpt-4o-mini", "chat", rpm=DEFAULT_RPM, tpm=DEFAULT_TPM),
        Deployment("gpt-35-turbo-instruct", "gpt-35-turbo-instruct", "completions", rpm=DEFAULT_RPM, tpm=DEFAULT_TPM),
        Deployment("text-embedding-3-small", "text-embedding-3-small", "embeddings", rpm=DEFAULT_RPM, tpm=DEFAULT_TPM),
        Deployment("gpt-4o-mini-batch", "gpt-4o-mini", "batch"),
        # a reasoning model (emulator/reasoning.py): refuses max_tokens and sampling parameters, counts reasoning
        Deployment("o4-mini", "o4-mini", "chat", rpm=DEFAULT_RPM, tpm=DEFAULT_TPM),
    ]
