"""What each proposed change to rest_client would save per call, measured in place (not in a hot loop).

Why ablation and not only a profile: a piece timed alone in a tight loop (tenacity around a call that
succeeds: ~25 µs) costs several times more inside a real call, where its code and objects compete for caches
with requests, urllib3 and http.client; cProfile inflates Python-heavy code. So each variant below is a real
``rest_client.Client`` with one piece switched off or done the cheaper way *in this process only* (instance
attributes or a module attribute swapped during its own block of calls), timed in interleaved rounds next to
the unchanged client. rest_client's source is not touched.

Savings are paired per round (variant median − unchanged median in the same round, then the median over
rounds, with the interquartile range), which cancels the slow drifts of a shared machine.
"""

from __future__ import annotations

import contextlib
import functools
import math
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .common import MAX_TOKENS, MESSAGES, fmt_us, table
from .percall import requests_session
from .targets import Target

AS_IS = "rest_client.Client as it is"
TRANSPORT = "requests.Session, trust_env=False (the transport alone)"


def _fast_request_id(headers: Any) -> str | None:
    # requests' headers are case-insensitive already: two lookups instead of a lower-cased copy of all.
    return headers.get("apim-request-id") or headers.get("x-request-id") or None


@contextlib.contextmanager
def _swap(module: Any, name: str, value: Any) -> Iterator[None]:
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def _client(target: Target, *, tenacity: bool = True, ca_path: bool = True, per_call_headers: bool = True,
            entra_hook: bool = True) -> tuple[Callable[[], str], Callable[[], None]]:
    from rest_client import Client, Settings

    client = Client(Settings(endpoint=target.endpoint, deployment=target.deployment, auth="cli"))
    session = client.session
    for name in ("_retrying", "session", "auth"):  # the internals swapped below; renamed → variant n/a
        if not hasattr(client, name):
            raise AttributeError(f"rest_client.Client has no {name!r} any more")
    if not tenacity:  # the first attempt called directly, as a fast path before Retrying would be
        client._retrying = lambda attempt, *args, **kwargs: attempt(*args, **kwargs)
    if not ca_path:
        session.verify = True
    if not per_call_headers:  # Content-Type set once on the session instead of a headers= dict per call
        session.headers["Content-Type"] = "application/json"
        request = session.request  # Session.post calls self.request too, so this catches either spelling
        session.request = lambda method, url, headers=None, **kw: request(method, url, **kw)  # type: ignore[method-assign]
    if not entra_hook:
        session.headers["Authorization"] = f"Bearer {client.auth.get_token()}"
        session.auth = None
    return (lambda: client.chat(MESSAGES, max_tokens=MAX_TOKENS).text), client.close


def _request_id_swap() -> contextlib.AbstractContextManager[None]:
    import rest_client.client

    return _swap(rest_client.client, "request_id_from", _fast_request_id)


def _cached_url_check_swap() -> contextlib.AbstractContextManager[None]:
    import rest_client.auth

    # Success is cached per URL; a refused URL raises every time (exceptions are not cached).
    cached = functools.lru_cache(maxsize=256)(rest_client.auth.check_secure_url)
    return _swap(rest_client.auth, "check_secure_url", cached)


@contextlib.contextmanager
def _all_swaps() -> Iterator[None]:
    with _request_id_swap(), _cached_url_check_swap():
        yield


@dataclass
class Variant:
    name: str
    fix: str
    make: Callable[[Target], tuple[Callable[[], str], Callable[[], None]]]
    around: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
    micros: list[float] = field(default_factory=list)
    round_medians: list[float] = field(default_factory=list)
    skipped: str | None = None


def variants() -> list[Variant]:
    return [
        Variant(AS_IS, "", _client),
        Variant("success path without tenacity", "call the first attempt directly; enter tenacity's `Retrying` "
                "only when its outcome is retryable (client.py `_send`)", lambda t: _client(t, tenacity=False)),
        Variant("request id by two case-insensitive lookups", "`request_id_from`: `headers.get(...)` on requests' "
                "CaseInsensitiveDict instead of a lower-cased copy of every header (errors.py)", _client,
                _request_id_swap),
        Variant("no CA-bundle path on an http:// session", "`make_session`: set `verify` from REQUESTS_CA_BUNDLE "
                "only for https endpoints — requests runs `os.path.isdir` on it for every request (client.py)",
                lambda t: _client(t, ca_path=False)),
        Variant("Content-Type on the session, no per-call headers", "`make_session` sets Content-Type once; "
                "`_attempt` passes no `headers=` (requests merges a per-call dict every time)",
                lambda t: _client(t, per_call_headers=False)),
        Variant("URL safety check cached per URL", "auth hooks: remember URLs already found https-or-loopback "
                "(`functools.lru_cache` on the check) instead of `urlsplit` + `ipaddress` on every request "
                "(urls.py / auth.py)", _client, _cached_url_check_swap),
        Variant("all five changes above", "together", lambda t: _client(t, tenacity=False, ca_path=False,
                                                                  per_call_headers=False), _all_swaps),
        Variant("fixed Authorization header instead of EntraTokenAuth", "(not a fix: what the keyless token "
                "cache and its 401 hook cost per call)", lambda t: _client(t, entra_hook=False)),
        Variant(TRANSPORT, "", lambda t: requests_session(t, trust_env=False)),
    ]


def measure(target: Target, *, rounds: int, per_round: int, warmup: int = 50) -> list[Variant]:
    chosen = variants()
    made: list[tuple[Variant, Callable[[], str]]] = []
    closers: list[Callable[[], None]] = []
    try:
        for v in chosen:
            try:
                call, close = v.make(target)
                closers.append(close)
                with v.around():
                    for _ in range(warmup):
                        call()
            except Exception as exc:  # rest_client's internals moved: say so, measure the rest
                v.skipped = f"n/a ({type(exc).__name__}: {exc})"
                continue
            made.append((v, call))
        clock = time.perf_counter
        for r in range(rounds):
            for v, call in made[r % len(made):] + made[:r % len(made)]:
                block = []
                with v.around():
                    for _ in range(per_round):
                        started = clock()
                        call()
                        block.append((clock() - started) * 1e6)
                v.micros += block
                v.round_medians.append(statistics.median(block))
    finally:
        for close in closers:
            close()
    return chosen


def median_interval(ordered: list[float]) -> tuple[float, float]:
    """Distribution-free ~95 % confidence interval of the median from sorted samples (binomial order statistics)."""
    n = len(ordered)
    k = max(0, math.floor((n - 1.96 * math.sqrt(n)) / 2))
    return ordered[k], ordered[min(n - 1, n - 1 - k)]


def section(results: list[Variant], *, rounds: int, per_round: int, target_name: str) -> str:
    as_is = results[0]
    rows = []
    for v in results:
        if v.skipped or as_is.skipped:
            rows.append((v.name, "—", "—", v.skipped or as_is.skipped or ""))
            continue
        diffs = sorted(m - a for m, a in zip(v.round_medians, as_is.round_medians))
        if v is as_is:
            saving = "—"
        else:
            low, high = median_interval(diffs)
            saving = f"{statistics.median(diffs):+,.0f} ({low:+,.0f} … {high:+,.0f})"
        rows.append((v.name, fmt_us(statistics.median(v.micros)), saving, v.fix))
    return "\n".join([
        "### Ablation: what each proposed change would save (rest_client source untouched)",
        "",
        f"{target_name} server; {rounds} interleaved rounds × {per_round} calls per variant. Saving = median over "
        "rounds of (variant − unchanged client) in the same round; in brackets its distribution-free 95 % "
        "confidence interval (order statistics of the per-round differences). An interval that spans 0 means "
        "this run could not tell the change from noise; a change the measured tree already has shows ~0.",
        "",
        table(("variant", "median µs", "µs vs as-is (95 % CI)", "change tried (where)"), rows, "lrrl"),
    ])
