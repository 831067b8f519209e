"""What a bulk run over a file reports at its end: counts, failures, tokens and wall time (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .run import BulkResult


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
    wall: float = 0.0
    interrupted: bool = False
    output: str = ""
    failures: list[str] = field(default_factory=list)

    def add(self, result: BulkResult) -> None:
        if result.ok:
            self.ok += 1
        else:
            self.failed += 1
            if len(self.failures) < 5:
                why = (result.error or {}).get("message") or f"HTTP {result.status_code}"
                self.failures.append(f"{result.custom_id}: {why}")
        self.tokens += result.total_tokens

    def lines(self) -> list[str]:
        head = "interrupted" if self.interrupted else "done"
        lines = [f"{head}: {self.ok} ok, {self.failed} failed, {self.skipped} skipped (already in the output), "
                 f"{self.rate_limited} answers of 429, {self.tokens} tokens, {self.wall:.1f} s"]
        lines += [f"  failed {line}" for line in self.failures]
        if self.skipped_failed:
            lines.append(f"{self.skipped_failed} of the skipped lines are failures from an earlier run: "
                         "--retry-failed (retry_failed=True) does them again")
        if self.interrupted:
            lines.append(f"rerun the same command to finish: items already in {self.output} are skipped")
        return lines
