"""Cells of notebook 05: streaming."""

from __future__ import annotations

from .common import CLEANUP, INTRO_RUNS_WHERE, setup_cell

NB05 = [
    ("md", """\
# 5 · Streaming

With `"stream": true` the answer arrives as **server-sent events** — `data: {json}` lines, one per few tokens,
ending with `data: [DONE]` — so the first words show while the rest is generated. What matters to a reader is
the **time to first token**, not the total.

`client.stream_chat(...)` sends the request right away (errors are raised there) and returns a `Stream`:
iterate it for text deltas; afterwards it still has the headers, every raw event, Azure's prompt filter
results, the finish reason, the usage and the time to first token. In a notebook, `stream.show()` reads it for
you with the text growing in one output area, then shows all of that.

""" + INTRO_RUNS_WHERE),
    ("code", setup_cell() + """
if emu:
    emu.stream_delay = 0.05  # seconds between events, so you can watch the stream arrive
"""),
    ("code", """\
stream = client.stream_chat("Tell me a short story about a lighthouse.", max_tokens=40)
stream.show()  # the text grows in place; at the end: time to first token, finish reason, ids, attempts
"""),
    ("md", """\
In a program you iterate the stream yourself: each item is the next piece of text."""),
    ("code", """\
import time

started = time.perf_counter()
pieces = list(client.stream_chat("Tell me a short story about a lighthouse.", max_tokens=40))
print(len(pieces), "pieces:", pieces[:6], "…")
print(f"whole answer in {(time.perf_counter() - started) * 1000:.0f} ms")
"""),
    ("md", """\
## Azure's first chunk: the prompt filter

Before any text, Azure sends an event with **empty `choices`** and blank `id`, `model` and `object`: the content
filter's verdict on your prompt (`prompt_filter_results`). Code written for OpenAI that reads
`event["choices"][0]` crashes on it; rest_client keeps it in `stream.prompt_filter_results`."""),
    ("code", """\
import json

print(json.dumps(stream.events[0], indent=2))
"""),
    ("code", """\
def verdict(results: dict) -> str:
    return ", ".join(f"{name}={r['severity'] if 'severity' in r else ('detected' if r.get('detected') else 'no')}"
                     for name, r in (results or {}).items())


for entry in stream.prompt_filter_results:
    print("prompt", entry["prompt_index"], "->", verdict(entry["content_filter_results"]))
"""),
    ("md", """\
## Per-chunk filter results

The answer is filtered as it streams: content events carry `content_filter_results` for the text so far.
If the filter stops an answer midway, the last event has `finish_reason: "content_filter"`."""),
    ("code", """\
content_events = [e for e in stream.events if e["choices"] and e["choices"][0].get("delta", {}).get("content")]
for event in content_events[:4]:
    choice = event["choices"][0]
    print(f"{choice['delta']['content']!r:14} {verdict(choice.get('content_filter_results'))}")
"""),
    ("md", """\
## Usage in a stream

A stream reports no token usage unless you ask: `stream_options={"include_usage": True}` adds one last event
with empty `choices` and the `usage` (api-version 2024-10-21 or later)."""),
    ("code", """\
usage_stream = client.stream_chat("Name three colours.", max_tokens=20, stream_options={"include_usage": True})
print("".join(usage_stream))
print("last event:", json.dumps(usage_stream.events[-1])[:160], "…")
print("usage:", usage_stream.usage["prompt_tokens"], "prompt +", usage_stream.usage["completion_tokens"],
      "completion tokens")
"""),
    ("md", """\
## Headers and attempts

A stream is one HTTP response: its headers (request id, rate limits) and the attempts it took (a 429 before
the stream started is retried like any call) are in `stream.result`. A 429 here, retried before the first
byte, shows in the stream's timeline."""),
    ("code", """\
print("apim-request-id:", usage_stream.headers.get("apim-request-id"))
print("content-type:   ", usage_stream.headers.get("content-type"))
print("attempts:       ", usage_stream.result.attempts)
if emu:
    emu.add_fault("rate_limit", retry_after=0.5)  # one 429 first, with retry-after-ms: 500
retried = client.stream_chat("Name three colours.", max_tokens=20, stream_options={"include_usage": True})
retried.show()
"""),
    ("code", """\
if settings.completions_deployment:
    client.stream_complete("Once upon a time", max_tokens=12).show()
"""),
    ("code", CLEANUP),
]
