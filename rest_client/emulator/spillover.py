"""Per-request spillover: a full (provisioned) deployment hands the call to the deployment the client named.

Azure OpenAI's PTU spillover (learn.microsoft.com, "Manage traffic with spillover for provisioned
deployments"): with the request header ``x-ms-spillover-deployment: <standard deployment>``, a call the
provisioned deployment would refuse because its capacity is used up (429) is served by that standard
deployment of the same resource instead. The answer then says so: ``x-ms-deployment-name`` names the
deployment that served it, ``x-ms-spillover-from-deployment`` the one it came from, ``x-ms-spillover-error``
the status that triggered the spill. When the standard deployment refuses too, its own answer comes back,
still with the spillover headers (so "the spillover failed" differs from "the standard deployment failed").

Where the emulator guesses (UNCERTAIN): it honours the header on any deployment (the service only on
provisioned ones; the emulator has no SKU); only the rate limiter's 429 triggers it (the docs also name 400
for a context too long for PTU, and 500/503); a header naming an unknown deployment, or one whose model cannot
serve the operation, is ignored and the primary's 429 stands.
"""

from __future__ import annotations

from collections.abc import Mapping

from .deployments import Deployment
from .ratelimit import Decision, RateLimiter, limit_headers

REQUEST_HEADER = "x-ms-spillover-deployment"
FROM_HEADER = "x-ms-spillover-from-deployment"
ERROR_HEADER = "x-ms-spillover-error"


def spill(requested: str | None, primary: Deployment, operation: str, cost: int,
          deployments: Mapping[str, Deployment], limiter: RateLimiter, headers: dict[str, str],
          profile: str) -> tuple[Deployment, Decision] | None:
    """After ``primary`` refused with a 429: the deployment that serves instead and its limiter's verdict
    (``headers`` rewritten to describe it), or None when the request named no usable spillover deployment."""
    target = deployments.get(requested.strip()) if requested else None
    if target is None or target.name == primary.name or operation not in target.operations:
        return None
    decision = limiter.admit(target, cost)
    for name in [n for n in headers if n.startswith("x-ratelimit-")]:
        del headers[name]  # the serving deployment's budget, not the full one's (a guess: it is what a client paces by)
    headers.update(limit_headers(target, decision, profile))
    headers.update({"x-ms-deployment-name": target.name, FROM_HEADER: primary.name, ERROR_HEADER: "429"})
    return target, decision
