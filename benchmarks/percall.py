"""Per-call cost of sequential chat calls, TCP connections and credential calls, for every contender.

Fairness rules, so the only thing that differs is the client:
- one server for all contenders in a table, started once;
- Entra auth for all: each contender gets its token from ``AzureCliCredential`` through the fake ``az``, and
  every request carries the same ``Authorization: Bearer …`` header (the server rejects anything else);
- the same payload, the same timeouts, and each call ends with the answer text in hand (parsed JSON);
- calls are timed in interleaved rounds (contender order rotating each round), so machine noise lands on
  all contenders alike instead of on whoever ran during a hiccup;
- connections and ``az`` runs are attributed by counting before and after each contender's block of calls:
  one thread makes every call, so only one contender is active at a time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .common import API_VERSION, MAX_TOKENS, MESSAGES, SCOPE, TIMEOUT, FakeAz, median, p90
from .targets import Target

BASELINE = "requests.Session"
Call = Callable[[], str]
Close = Callable[[], None]


def _chat_path(target: Target) -> str:
    return f"/openai/deployments/{target.deployment}/chat/completions?api-version={API_VERSION}"


def _payload() -> dict[str, Any]:
    return {"messages": MESSAGES, "max_tokens": MAX_TOKENS}


def _cli_token() -> str:
    """One token the way a script gets it: one ``az`` run through azure-identity."""
    from azure.identity import AzureCliCredential

    return AzureCliCredential().get_token(SCOPE).token


# -- the contenders ------------------------------------------------------------------------------------
def http_client(target: Target) -> tuple[Call, Close]:
    """The floor: the standard library's keep-alive connection, fixed headers, json in and out."""
    parts = urlsplit(target.endpoint)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=TIMEOUT[1])
    headers = {"Authorization": f"Bearer {_cli_token()}", "Content-Type": "application/json",
               "Accept": "application/json"}
    path = _chat_path(target)

    def call() -> str:
        conn.request("POST", path, json.dumps(_payload()).encode(), headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {body[:200]!r}")
        return json.loads(body)["choices"][0]["message"]["content"]

    return call, conn.close


def requests_session(target: Target, *, trust_env: bool = True) -> tuple[Call, Close]:
    """The baseline: a bare ``requests.Session`` with a fixed ``Authorization`` header."""
    import requests

    session = requests.Session()
    session.trust_env = trust_env
    session.headers["Authorization"] = f"Bearer {_cli_token()}"
    url = target.endpoint + _chat_path(target)

    def call() -> str:
        response = session.post(url, json=_payload(), timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    return call, session.close


def classic_notebook(target: Target) -> tuple[Call, Close]:
    """The Azure-Samples notebook pattern: a module-level token, an expiry check, ``requests.post`` per call."""
    import requests
    from azure.identity import AzureCliCredential

    credential = AzureCliCredential()
    token = credential.get_token(SCOPE)
    url = target.endpoint + _chat_path(target)

    def call() -> str:
        nonlocal token
        if token.expires_on - 300 < time.time():  # refresh five minutes early, as the notebooks do
            token = credential.get_token(SCOPE)
        response = requests.post(url, json=_payload(), timeout=TIMEOUT,
                                 headers={"Authorization": f"Bearer {token.token}", "Content-Type": "application/json"})
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    return call, lambda: None


def openai_sdk(target: Target) -> tuple[Call, Close]:
    """The official SDK as Microsoft documents keyless use: ``get_bearer_token_provider(AzureCliCredential())``."""
    from azure.identity import AzureCliCredential, get_bearer_token_provider
    from openai import AzureOpenAI

    client = AzureOpenAI(azure_endpoint=target.endpoint, api_version=API_VERSION, timeout=TIMEOUT[1],
                         azure_ad_token_provider=get_bearer_token_provider(AzureCliCredential(), SCOPE))

    def call() -> str:
        answer = client.chat.completions.create(model=target.deployment, messages=MESSAGES,  # type: ignore[arg-type]
                                                max_tokens=MAX_TOKENS)
        return answer.choices[0].message.content or ""

    return call, client.close


def rest_client_client(target: Target) -> tuple[Call, Close]:
    """Ours, keyless through ``az`` (``auth="cli"``); settings given explicitly, no env or config.json read."""
    from rest_client import Client, Settings

    client = Client(Settings(endpoint=target.endpoint, deployment=target.deployment, auth="cli"))

    def call() -> str:
        return client.chat(MESSAGES, max_tokens=MAX_TOKENS).text

    return call, client.close


@dataclass(frozen=True)
class Contender:
    name: str
    make: Callable[[Target], tuple[Call, Close]]
    note: str
    needs: str | None = None
    """A module that must be importable, else the contender is skipped with a note."""


CONTENDERS = (
    Contender("http.client keep-alive (floor)", http_client, "stdlib, fixed headers"),
    Contender(BASELINE, requests_session, "fixed Authorization header"),
    Contender("requests.Session, trust_env=False", lambda t: requests_session(t, trust_env=False),
              "what rest_client's session does: proxy/CA env resolved once, not per call"),
    Contender("classic notebook", classic_notebook, "`requests.post` per call + token expiry check"),
    Contender("openai AzureOpenAI", openai_sdk, "`get_bearer_token_provider(AzureCliCredential())`", "openai"),
    Contender("rest_client.Client", rest_client_client, '`Client(auth="cli")`'),
)


# -- the measurement -----------------------------------------------------------------------------------
@dataclass
class Measured:
    """One contender's numbers; ``skipped`` says why there are none."""

    name: str
    note: str
    micros: list[float] = field(default_factory=list)
    connections: int = 0
    credential_calls: int = 0
    answer: str = ""
    skipped: str | None = None

    @property
    def median(self) -> float:
        return median(self.micros)

    @property
    def p90(self) -> float:
        return p90(self.micros)


def _available(contender: Contender) -> str | None:
    if contender.needs is None:
        return None
    try:
        __import__(contender.needs)
    except ImportError:
        return f"skipped: `{contender.needs}` is not installed"
    return None


@contextlib.contextmanager
def _counted(m: Measured, target: Target, az: FakeAz) -> Iterator[None]:
    """Charge the connections the server accepted and the ``az`` runs made meanwhile to ``m``."""
    connections, runs = target.connections(), az.runs
    try:
        yield
    finally:
        m.connections += target.connections() - connections
        m.credential_calls += az.runs - runs


def measure(target: Target, az: FakeAz, *, calls: int, rounds: int, warmup: int,
            contenders: tuple[Contender, ...] = CONTENDERS) -> list[Measured]:
    """``calls`` timed calls per contender in ``rounds`` interleaved rounds, after ``warmup`` untimed ones."""
    results = [Measured(c.name, c.note, skipped=_available(c)) for c in contenders]
    active: list[tuple[Measured, Call]] = []
    closers: list[Close] = []
    try:
        for contender, m in zip(contenders, results):
            if m.skipped:
                continue
            with _counted(m, target, az):  # set-up and warm-up: the first call fetches the token
                call, close = contender.make(target)
                closers.append(close)
                for _ in range(warmup):
                    m.answer = call()
            active.append((m, call))
        rounds = max(1, rounds)
        per_round = max(1, math.ceil(calls / rounds))
        for r in range(rounds):
            for m, call in active[r % len(active):] + active[:r % len(active)]:
                with _counted(m, target, az):
                    _timed(m, call, per_round)
    finally:
        for close in closers:
            close()
    failures = target.failures()
    if failures:
        raise RuntimeError(f"the {target.name} server answered {failures} request(s) with an error: not comparable")
    answers = {m.answer for m in results if not m.skipped}
    if len(answers) != 1:
        raise RuntimeError(f"contenders got different answers ({len(answers)}): not the same calls")
    return results


def _timed(m: Measured, call: Call, count: int) -> None:
    clock = time.perf_counter
    for _ in range(count):
        started = clock()
        m.answer = call()
        m.micros.append((clock() - started) * 1e6)
