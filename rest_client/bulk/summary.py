"""What a bulk run over a file reports at its end: counts, failures grouped by code, tokens and wall time (pure).

Why grouped: 300 failed lines are usually one or two causes; one line per cause (count, code, the service's
message, a few custom_ids) says more than 300 ``failed line-2: HTTP 401`` lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..jsonsafe import loads
from ..payloads import reasoning_tokens_of
from .quota import OUT_FOR_A_QUOTA, QuotaStop
from .run import BulkResult
from .sendlog import SendLog

SHOWN_IDS = 3


@dataclass
class FailureGroup:
    """Failures that share a status and code: how many, the first message, the first few custom_ids."""

    status: int | None
    code: str
    message: str
    count: int = 0
    custom_ids: list[str] = field(default_factory=list)

    def line(self) -> str:
        status = f"HTTP {self.status} " if self.status is not None else ""
        code = "" if self.code in (str(self.status), f"http_{self.status}") else f"{self.code}: "
        ids = ", ".join(self.custom_ids) + (", …" if self.count > len(self.custom_ids) else "")
        return f"  failed ×{self.count} {status}{code}{self.message} ({ids})"


@dataclass
class BackendCounts:
    """One backend's share of a run over several backends: answers it gave, its 429s, its tokens."""

    ok: int = 0
    failed: int = 0
    rate_limited: int = 0
    tokens: int = 0

    def line(self, name: str) -> str:
        return (f"  {name}: {self.ok} ok, {self.failed} failed, {self.rate_limited} answers of 429, "
                f"{self.tokens} tokens")


@dataclass
class BulkSummary:
    """The end of a run, as the CLI prints it."""

    total: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    skipped_failed: int = 0
    rate_limited: int = 0
    tokens: int = 0
    reasoning_tokens: int = 0
    """Of ``tokens``, those reasoning models spent thinking (billed as output, never shown)."""
    wall: float = 0.0
    interrupted: bool = False
    output: str = ""
    groups: dict[tuple[int | None, str], FailureGroup] = field(default_factory=dict)
    stopped_early: bool = False
    """The run stopped sending by itself (the same 401/403/404 again and again before any success)."""
    backends: dict[str, BackendCounts] = field(default_factory=dict)
    """With several backends: each one's counts, keyed by name (the answer counts where it was answered)."""
    pacing: list[str] = field(default_factory=list)
    """The rate limit as the run's pacer learned it (``Pacer.describe``): budget, window, where each came from."""
    quota: QuotaStop | None = None
    """The run stopped sending: the service asked for a wait longer than ``max_quota_wait`` (quota.py)."""
    sends: SendLog | None = None
    """Every send with its status, and the limit learned (sendlog.py): the run's picture. ``None`` over several
    backends (each has its own limit)."""

    def _repr_html_(self) -> str:
        """The notebook display: counts as a table, failures by cause, the sends picture; built in display/."""
        from ..display.runs import summary_html

        return summary_html(self)

    @property
    def not_sent(self) -> int:
        """Lines neither done before nor answered now (stopped early or interrupted): a rerun does them."""
        return max(0, self.total - self.skipped - self.ok - self.failed)

    @property
    def failures(self) -> list[str]:
        return [group.line() for group in self.groups.values()]

    @property
    def output_has_failures(self) -> bool:
        """True when the output file still holds failed lines (from this run or an earlier one)."""
        return self.failed > 0 or self.skipped_failed > 0

    def add(self, result: BulkResult) -> None:
        for name, status in result.route:
            counts = self.backends.setdefault(name, BackendCounts())
            counts.rate_limited += status == 429
        if result.backend is not None:
            counts = self.backends[result.backend]
            counts.ok += result.ok
            counts.failed += not result.ok
            counts.tokens += result.total_tokens
        if result.ok:
            self.ok += 1
        else:
            self.failed += 1
            error = result.error or {}
            code = str(error.get("code") or f"http_{result.status_code}")
            key = (result.status_code, code)
            group = self.groups.get(key)
            if group is None:
                message = shorten(" ".join(str(error.get("message") or "").split()), MESSAGE_SHOWN)
                group = self.groups[key] = FailureGroup(result.status_code, code, message)
            group.count += 1
            if len(group.custom_ids) < SHOWN_IDS:
                group.custom_ids.append(result.custom_id)
        self.tokens += result.total_tokens
        self.reasoning_tokens += result.reasoning_tokens

    def lines(self) -> list[str]:
        reasoning = f" ({self.reasoning_tokens} reasoning)" if self.reasoning_tokens else ""
        head = ("interrupted" if self.interrupted else "stopped by a quota" if self.quota
                else "stopped early" if self.stopped_early else "done")
        lines = [f"{head}: {self.ok} ok, {self.failed} failed, {self.skipped} skipped (already in the output), "
                 f"{self.rate_limited} answers of 429, {self.tokens} tokens{reasoning}, {self.wall:.1f} s"]
        lines += [counts.line(name) for name, counts in self.backends.items()]
        lines += self.failures  # before the pacing line: what the user must act on comes first
        # A stopped run's quota lines name each backend out: its pacing line would say it twice.
        lines += [f"  {line}" for line in self.pacing if not (self.quota and line.startswith(OUT_FOR_A_QUOTA))]
        if self.quota is not None:
            lines += self.quota.lines(self.not_sent, self.output)
        if self.stopped_early and self.not_sent:
            lines.append(f"{self.not_sent} lines not sent: every answer so far was the same failure; fix it and "
                         "rerun the same command (lines already answered are skipped; --retry-failed redoes "
                         "the failed ones)")
        if self.skipped_failed:
            lines.append(f"{self.skipped_failed} of the skipped lines are failures from an earlier run: "
                         "--retry-failed (retry_failed=True) does them again")
        if self.interrupted:
            lines.append(f"rerun the same command to finish: items already in {self.output} are skipped")
        return lines


def output_tokens(lines: Iterable[str]) -> tuple[int, int]:
    """(total tokens, reasoning tokens) over the answers of an Azure-Batch-shaped output file's lines."""
    total = reasoning = 0
    for text in lines:
        try:
            body = ((loads(text) or {}).get("response") or {}).get("body")  # bounded: the file may be anyone's
        except (ValueError, AttributeError):
            continue
        usage = body.get("usage") if isinstance(body, dict) else None
        total += int((usage or {}).get("total_tokens") or 0) if isinstance(usage, dict) else 0
        reasoning += reasoning_tokens_of(body) or 0
    return total, reasoning


MESSAGE_SHOWN = 200
"""Characters of a failure group's message in the summary (the whole message is in the output file)."""


def shorten(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters at a word boundary, never inside a URL (a link cut in half
    cannot be opened: it is kept whole, or left out), with "…" where something was cut."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for word in text.split(" "):
        grown = size + len(word) + (1 if kept else 0)
        if grown > limit and not (word.startswith(("http://", "https://")) and grown <= limit + 200):
            break
        kept.append(word)
        size = grown
    if not kept:  # one word longer than the limit: no boundary to cut at
        return text[:limit] + "…"
    return " ".join(kept).rstrip(" ,;:") + " …"
