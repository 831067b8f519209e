"""Cells of notebook 04: retries and rate limits."""

from __future__ import annotations

from .common import CLEANUP, INTRO_RUNS_WHERE, setup_cell

NB04 = [
    ("md", """\
# 4 · Retries and rate limits

Watch retries happen. rest_client retries **408, 429, 500, 502, 503, 504**, connection errors and timeouts —
never other 4xx, which would fail the same way again. It waits what the service asks (`retry-after-ms`, then
`retry-after`), or else backs off exponentially (0.5 s doubling to 8 s, plus up to 0.5 s of jitter). By default
it retries 3 times (4 attempts). Every call keeps a record: `Result.exchanges`, one entry per attempt — its
status, its time, the wait before it and what set that wait — and a `Result` (or an error) as the last line of
a cell draws them on one time axis: each attempt a bar coloured by its status, each wait a dashed line.

""" + INTRO_RUNS_WHERE + """

The failures below are the emulator's faults and a deliberately tight rate limit; against your resource those
cells are skipped."""),
    ("code", setup_cell()),
    ("code", """\
from IPython.display import display

result = client.chat("Hello!", max_tokens=10)
print(result.exchanges[0])  # the record of one attempt, as a program reads it
result
"""),
    ("md", """\
## The log

Each attempt is logged on `logging.getLogger("rest_client")` at DEBUG — status, request id, the wait before
the next attempt — with secrets redacted. Send it somewhere visible:"""),
    ("code", """\
import logging
import sys

log = logging.getLogger("rest_client")
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
log.addHandler(handler)
log.setLevel(logging.DEBUG)

result = client.chat("Hello!", max_tokens=10)
"""),
    ("md", """\
## `retry-after` honoured

A 503 that says `retry-after: 1`: rest_client waits exactly one second, then tries again. The timeline
labels the 503 with the wait it asked for, and the wait before attempt 2 with what set it."""),
    ("code", """\
if emu:
    emu.add_fault("unavailable", retry_after=1)  # 503 with retry-after: 1
    result = client.chat("Hello!", max_tokens=10)
    display(result)
else:
    print("skipped: needs the emulator's faults")
"""),
    ("md", """\
## Backoff without a hint

A 500 carries no `retry-after`, so rest_client backs off: about 0.5 s, then about 1 s (plus jitter, so many
clients do not retry in lockstep). A dropped connection is retried the same way — it shows as "no answer"."""),
    ("code", """\
if emu:
    emu.add_fault("status", status=500, times=2)
    display(client.chat("Hello!", max_tokens=10))
    emu.add_fault("reset")  # the connection is closed without an answer
    display(client.chat("Hello!", max_tokens=10))
else:
    print("skipped: needs the emulator's faults")
"""),
    ("md", """\
## Giving up

After `max_retries` the last answer is raised as its typed error, with the attempts in `error.exchanges`.

**The cap:** `max_retry_wait` (default 60 s) is the longest wait rest_client accepts from a hint. When the
service asks for more, it fails *at once* with a `RateLimitError` saying how long the service wanted —
whether to wait that long is your program's decision, not a library's."""),
    ("code", """\
from rest_client import RateLimitError, ServerError

if emu:
    once = Client(settings, credential=credential, max_retries=1)
    emu.add_fault("status", status=502, times=2)
    try:
        once.chat("Hello!", max_tokens=10)
    except ServerError as error:
        display(error)  # the attempts that led to it are in its timeline
    once.close()
else:
    print("skipped: needs the emulator's faults")
"""),
    ("code", """\
import time

if emu:
    capped = Client(settings, credential=credential, max_retry_wait=2)
    emu.add_fault("rate_limit", retry_after=30)
    started = time.perf_counter()
    try:
        capped.chat("Hello!", max_tokens=10)
    except RateLimitError as error:
        print(f"failed after {time.perf_counter() - started:.2f} s, without waiting; the service asked for",
              error.retry_after, "s")
        display(error)
    capped.close()
else:
    print("skipped: needs the emulator's faults")
"""),
    ("md", """\
## A burst into a rate limit, absorbed

Azure enforces a deployment's requests-per-minute over short windows, so a burst gets 429s long before the
minute's budget is spent. Here is a second emulator whose only deployment allows **2 requests per second**
(`Deployment(rpm=120, window=1.0)`), and 6 requests fired at once from 6 threads. The 429s carry
`retry-after-ms`; the retries wait that long and every request gets through. (Against your own resource this
cell is skipped: a deliberate burst spends real quota.)"""),
    ("code", """\
from concurrent.futures import ThreadPoolExecutor

log.setLevel(logging.INFO)  # the table below says it more briefly than the DEBUG log

if emu:
    from rest_client.emulator import Deployment

    tight = Emulator(deployments=[Deployment("burst", "gpt-4o-mini", "chat", rpm=120, window=1.0)]).start()
    burst_client = Client(endpoint=tight.endpoint, deployment="burst", api_key=tight.api_key, max_retries=5)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda i: burst_client.chat(f"Story {i}", max_tokens=10), range(6)))
    print(f"6 requests in {time.perf_counter() - started:.2f} s; attempts per request:",
          [r.attempts for r in results], "| the emulator answered 429", tight.counters["rate_limited"], "times")
    display(max(results, key=lambda r: r.attempts))  # the request that waited most
    burst_client.close()
    tight.stop()
else:
    print("skipped: a deliberate burst would spend your quota")
"""),
    ("md", """\
## The same retried call as an OpenTelemetry trace

If your application uses OpenTelemetry, every rest_client call becomes a span following the GenAI semantic
conventions — `chat DEPLOYMENT`, with the request parameters, the response model, finish reasons and token usage
— and each attempt an event on it, with the wait that followed and what set it. rest_client never imports
OpenTelemetry itself: it emits through the providers your application configured (here the SDK's console
exporter, installed with the dev requirements; yours would export to a collector)."""),
    ("code", """\
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

spans = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(spans))
trace.set_tracer_provider(provider)

if emu:
    emu.add_fault("unavailable", retry_after=1)  # one 503 first, then the answer
result = client.chat("Hello!", max_tokens=10)
(span,) = spans.get_finished_spans()
print(span.name, "·", span.status.status_code.name)
for key in ("gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model", "gen_ai.response.model",
            "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.response.finish_reasons",
            "http.response.header.apim-request-id", "cloud.region"):
    print(f"  {key:38} {span.attributes.get(key)}")
for event in span.events:
    print("  event", event.name, dict(event.attributes))
"""),
    ("code", """\
log.removeHandler(handler)
""" + CLEANUP),
]
