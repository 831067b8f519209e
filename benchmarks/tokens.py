"""Token single flight: 16 threads start together with an empty cache and a slow credential.

The fake ``az`` sleeps (0.5 s by default) before answering, the way the real one takes a few hundred
milliseconds, so every thread that finds no token arrives while the first fetch is still running. A cache
with single flight makes one ``az`` run; azure-core's ``BearerTokenCredentialPolicy`` (behind
``get_bearer_token_provider``) takes no lock, so each thread that misses runs its own.

Two levels, each with the token source on its own and inside a client (calls to the server):
- token calls: ``EntraTokenAuth(AzureCliCredential()).get_token()`` vs ``get_bearer_token_provider(...)()``;
- chat calls: ``rest_client.Client(auth="cli")`` vs ``AzureOpenAI(azure_ad_token_provider=...)``, one client
  shared by the threads (how a web app or a thread pool uses it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .common import API_VERSION, MAX_TOKENS, MESSAGES, SCOPE, TIMEOUT, FakeAz
from .targets import Target

THREADS = 16
JOIN_TIMEOUT = 300.0


@dataclass
class FlightResult:
    name: str
    level: str
    credential_calls: int | None
    seconds: float
    calls: int
    connections: int | None
    errors: int
    skipped: str | None = None


def _race(work: Callable[[], object], threads: int, per_thread: int) -> tuple[float, int]:
    """Run ``work`` ``per_thread`` times in each of ``threads`` threads released at once; (seconds, errors)."""
    barrier = threading.Barrier(threads)
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        for _ in range(per_thread):
            try:
                work()
            except Exception:
                with lock:
                    errors[0] += 1

    pool = [threading.Thread(target=worker, name=f"flight-{i}", daemon=True) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(JOIN_TIMEOUT)
    return time.perf_counter() - started, errors[0]


def _entra_auth() -> Callable[[], str]:
    from azure.identity import AzureCliCredential

    from rest_client import EntraTokenAuth

    return EntraTokenAuth(AzureCliCredential()).get_token


def _bearer_provider() -> Callable[[], str]:
    from azure.identity import AzureCliCredential, get_bearer_token_provider

    return get_bearer_token_provider(AzureCliCredential(), SCOPE)


def _rest_client_chat(target: Target) -> tuple[Callable[[], object], Callable[[], None]]:
    from rest_client import Client, Settings

    client = Client(Settings(endpoint=target.endpoint, deployment=target.deployment, auth="cli"))
    return (lambda: client.chat(MESSAGES, max_tokens=MAX_TOKENS).text), client.close


def _openai_chat(target: Target) -> tuple[Callable[[], object], Callable[[], None]]:
    from openai import AzureOpenAI

    client = AzureOpenAI(azure_endpoint=target.endpoint, api_version=API_VERSION, timeout=TIMEOUT[1],
                         azure_ad_token_provider=_bearer_provider())

    def call() -> object:
        return client.chat.completions.create(model=target.deployment, messages=MESSAGES,  # type: ignore[arg-type]
                                              max_tokens=MAX_TOKENS).choices[0].message.content

    return call, client.close


def measure(target: Target, az: FakeAz, *, per_thread: int, threads: int = THREADS,
            delay: float = 0.5) -> list[FlightResult]:
    """Credential calls, wall time and connections for each way of getting tokens, each from a cold start."""
    try:
        import openai  # noqa: F401
        no_sdk = None
    except ImportError:
        no_sdk = "skipped: `openai` is not installed"
    results: list[FlightResult] = []
    az.set_delay(delay)
    try:
        for name, make in (("rest_client.EntraTokenAuth.get_token", _entra_auth),
                           ("azure.identity.get_bearer_token_provider", _bearer_provider)):
            runs = az.runs
            seconds, errors = _race(make(), threads, per_thread)
            results.append(FlightResult(name, "token", az.runs - runs, seconds, threads * per_thread, None, errors))
        for name, make_client, skipped in (("rest_client.Client", _rest_client_chat, None),
                                           ("openai AzureOpenAI + get_bearer_token_provider", _openai_chat, no_sdk)):
            if skipped:
                results.append(FlightResult(name, "chat", None, 0.0, 0, None, 0, skipped))
                continue
            runs, connections = az.runs, target.connections()
            call, close = make_client(target)
            try:
                seconds, errors = _race(call, threads, per_thread)
            finally:
                close()
            results.append(FlightResult(name, "chat", az.runs - runs, seconds, threads * per_thread,
                                        target.connections() - connections, errors))
    finally:
        az.set_delay(0.0)
    return results
