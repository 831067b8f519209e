"""What Azure OpenAI's response headers mean, in one place (pure data).

Why here and not in the CLI: ``-v`` prints the legend as one line and the notebook displays put each meaning
beside its header's value; the library must not import the CLI, so both read this module.
"""

from __future__ import annotations

from typing import NamedTuple


class LegendEntry(NamedTuple):
    """Headers that share one meaning; ``label`` is how the CLI's one-line legend names them."""

    names: tuple[str, ...]
    label: str
    meaning: str
    in_cli: bool = True
    """Whether ``-v``'s one-line legend lists it (the CLI keeps to the headers a debugging session needs)."""


LEGEND_ENTRIES: tuple[LegendEntry, ...] = (
    LegendEntry(("apim-request-id",), "apim-request-id", "the id to quote to Azure support"),
    LegendEntry(("x-ms-region",), "x-ms-region", "the region that answered"),
    LegendEntry(("x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens"),
                "x-ratelimit-remaining-requests/-tokens", "quota left in the current window"),
    LegendEntry(("retry-after", "retry-after-ms", "x-ms-retry-after-ms"), "retry-after(-ms)",
                "how long the service asks you to wait"),
    # Several deployments (issue 17): which deployment answered, and whether a PTU's overflow was spilled over.
    LegendEntry(("x-ms-deployment-name",), "x-ms-deployment-name", "the deployment that served the call"),
    LegendEntry(("x-ms-spillover-from-deployment",), "x-ms-spillover-from-deployment",
                "the provisioned deployment was full and the call spilled over from it (request header "
                "x-ms-spillover-deployment)"),
    LegendEntry(("x-ms-spillover-error",), "x-ms-spillover-error", "the status that made it spill"),
    # Beside values only (notebook displays): the CLI's line stays as short as it was.
    LegendEntry(("x-request-id",), "x-request-id", "the inference backend's id (the request id when there is "
                "no apim-request-id)", in_cli=False),
    LegendEntry(("x-ms-client-request-id",), "x-ms-client-request-id",
                "the id this client sent (one per call, kept across its retries), echoed back", in_cli=False),
    LegendEntry(("x-ratelimit-limit-requests", "x-ratelimit-limit-tokens"), "x-ratelimit-limit-requests/-tokens",
                "the deployment's quota for the current window", in_cli=False),
    LegendEntry(("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"), "x-ratelimit-reset-requests/-tokens",
                "when the quota of the current window is back", in_cli=False),
    LegendEntry(("openai-processing-ms",), "openai-processing-ms",
                "time the model backend spent (the rest of the call is network and gateway)", in_cli=False),
    LegendEntry(("x-ms-served-model",), "x-ms-served-model", "the model snapshot that really answered",
                in_cli=False),
    LegendEntry(("deployment-enqueued-tokens", "deployment-maximum-enqueued-tokens"),
                "deployment-(maximum-)enqueued-tokens", "a batch deployment's tokens in the queue, and its quota",
                in_cli=False),
    LegendEntry(("x-emulator",), "x-emulator", "present only when rest_client's emulator answered", in_cli=False),
)

HEADER_MEANINGS: dict[str, str] = {name: entry.meaning for entry in LEGEND_ENTRIES for name in entry.names}
"""Lower-case header name → what it means."""


def header_meaning(name: str) -> str | None:
    """What a response header means, or ``None`` for a header the legend does not explain."""
    return HEADER_MEANINGS.get(name.lower())


def legend_line() -> str:
    """The CLI's one-line legend (``-v``): ``* legend: apim-request-id = the id to quote to Azure support · …``."""
    return "* legend: " + " · ".join(f"{e.label} = {e.meaning}" for e in LEGEND_ENTRIES if e.in_cli)
