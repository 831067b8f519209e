"""Cells of notebook 07: bulk runs."""

from __future__ import annotations

from .common import CLEANUP, INTRO_RUNS_WHERE, setup_cell

NB07 = [
    ("md", """\
# 7 · Bulk runs: a file of prompts at the rate limit's own pace

Thousands of prompts through one deployment. The usual first attempt is a thread pool around a client that
retries 429s — and it **hammers the service**: every worker learns about the limit on its own, by failing.
`BulkRun(client, ...)` and `run_bulk_file(...)` share one **pacer** between their workers instead:

- it starts with one request and reads the budgets from `x-ratelimit-limit-requests` / `-tokens` — or, when
  the service sends only `x-ratelimit-remaining-*` (many real deployments do), infers them from that;
- the first 429 teaches the window (its hint says when capacity returns: `retry-after-ms`, an integer
  `retry-after`, `x-ratelimit-reset-*` or just "Try again in N seconds" in the message) and **pauses every
  worker** for that long, never longer; a hint in whole seconds only brackets the window, and single probes
  sent a little early narrow the bracket;
- from then on each send waits for an earlier one to leave the window, so the limit is used whole and 429s
  stay rare; `x-ratelimit-remaining-*` corrects the model (other clients, token estimates that were low);
- `concurrency` is a cap, not a promise; 429s are retried (up to 10 times per item), so they never fail an item.

A file run writes one line per input line in **Azure Batch's output shape**, appended and flushed as each call
completes, so a rerun skips what is done — and the same input file can go to Azure's Batch API (notebook 8).

""" + INTRO_RUNS_WHERE + """

With the emulator, the runs go to a second emulator with a deliberately tight limit; against your resource
they are a handful of prompts, so no quota is spent on a demonstration."""),
    ("code", setup_cell()),
    ("md", """\
## A deployment with a tight limit

`Deployment("tight", "gpt-4o-mini", kind="chat", rpm=1200, window=1.0)` allows **20 requests per second**
over a sliding one-second window (Azure, too, enforces a per-minute quota over short windows). Sixty prompts
fill three windows: two seconds at the very least, however many threads send them."""),
    ("code", """\
import time

if emu:
    from rest_client.emulator import Deployment

    tight = Emulator(deployments=[Deployment("tight", "gpt-4o-mini", kind="chat", rpm=1200, window=1.0)]).start()
    bulk_client = Client(endpoint=tight.endpoint, deployment="tight", api_key=tight.api_key)
    N = 60
    print(tight.deployments["tight"].describe(), "=", tight.deployments["tight"].requests_per_window,
          "requests per window")
else:
    tight, bulk_client, N = None, client, 5
    print(f"your resource: {N} prompts only, and no tight-limit demo (it would spend your quota on purpose)")


def wire_counts(before: dict) -> str:
    \"\"\"What the tight emulator saw since ``before``: requests, and how many it refused with a 429.\"\"\"
    sent = tight.counters["requests"] - before["requests"]
    refused = tight.counters["rate_limited"] - before["rate_limited"]
    return f"the emulator saw {sent} requests and answered {refused} of them with 429"
"""),
    ("md", """\
## The thread pool that hammers

Sixteen threads, each calling `chat` with rest_client's ordinary retries — which do wait the `retry-after` the
service asks. Most prompts get through, but look at what the service had to refuse on the way: every worker
finds the limit by running into it, and each 429 sends it back to wait while the others run into it too.
An item whose retries (3 by default) all meet a 429 fails; more threads or a longer wait make that common."""),
    ("code", """\
from concurrent.futures import ThreadPoolExecutor

from rest_client import RateLimitError

if emu:
    naive = Client(endpoint=tight.endpoint, deployment="tight", api_key=tight.api_key)  # retries, no pacer

    def call(i: int) -> bool:
        try:
            return naive.chat(f"One sentence about the number {i}.", max_tokens=20).status_code == 200
        except RateLimitError:
            return False

    before, started, logged = tight.counters, time.perf_counter(), len(tight.log)
    with ThreadPoolExecutor(max_workers=16) as pool:
        oks = list(pool.map(call, range(1, N + 1)))
    print(f"{sum(oks)} of {N} ok in {time.perf_counter() - started:.1f} s;", wire_counts(before))
    naive_log = tight.log[logged:]  # what the emulator saw: one entry per request, with its time and status
    naive.close()
    time.sleep(1.0)  # let the 1-second window empty, so the next run starts from a clean slate
else:
    print("skipped: a deliberate burst would spend your quota")
"""),
    ("md", """\
## `BulkRun`: results as they complete

Give it prompts (strings), `{"prompt": …}` or `{"messages": […]}` dicts with any parameters and an optional
`custom_id`, or Azure Batch request lines; iterate for `BulkResult`s **in completion order**. Each has the
`custom_id` (`line-N` when none was given), `status_code`, `request_id`, `body`, `error`, `attempts`, `elapsed`.
The first request goes alone (slow start); its answer's `x-ratelimit-limit-requests` sets the budget."""),
    ("code", """\
from rest_client.bulk import BulkRun

prompts = [{"prompt": f"One sentence about the number {i}.", "max_tokens": 20} for i in range(1, N + 1)]
before, started = tight.counters if tight else None, time.perf_counter()
logged = len(tight.log) if tight else 0
results = []
run = BulkRun(bulk_client, prompts, concurrency=16)
for result in run:
    results.append(result)
    if len(results) <= 4 or len(results) == N:
        answer = result.body["choices"][0]["message"]["content"] if result.ok else str(result.error or result.body)
        print(f"{len(results):>3}. {result.custom_id:8} HTTP {result.status_code}, {result.attempts} attempt(s), "
              f"at {time.perf_counter() - started:4.2f} s: {answer[:40]!r}")
    elif len(results) == 5:
        print("     …")
print(f"\\n{sum(r.ok for r in results)} of {N} ok in {time.perf_counter() - started:.1f} s; completion order:",
      ", ".join(r.custom_id for r in results[:6]), "…")
if tight:
    print(wire_counts(before))
    bulk_log = tight.log[logged:]
"""),
    ("md", """\
## The picture: sends against the limit, over time

The emulator's request log has the time and status of every request. For each send, the chart counts the
sends (refused ones too) in the second before it — the deployment's sliding window — against its limit of 20:
the thread pool overshoots at once and again after every pause, each overshoot a burst of 429s (red crosses);
`BulkRun` climbs to the limit and stays there. `SendLog` holds such a log and draws it (SVG, no plotting
library); `compare_sends` puts two on one scale. (With your resource there is no server log: this cell says so —
`run_bulk_file` below keeps the same log from the client's side.)"""),
    ("code", """\
from IPython.display import display

from rest_client.bulk import SendLog
from rest_client.display import compare_sends

if tight:
    deployment = tight.deployments["tight"]

    def send_log(log: list) -> SendLog:
        return SendLog.from_pairs(((entry["time"], entry["status"]) for entry in log),
                                  limit=deployment.requests_per_window, window=deployment.window)

    naive_sends, bulk_sends = send_log(naive_log), send_log(bulk_log)
    print(f"429s: thread pool {naive_sends.rate_limited}, bulk {bulk_sends.rate_limited}")
    display(compare_sends(("thread pool, 16 workers, ordinary retries", naive_sends),
                          ("BulkRun, 16 workers, one pacer", bulk_sends)))
else:
    print("no chart: your resource keeps no request log we can read")
"""),
    ("md", """\
## `run_bulk_file`: a JSONL file in, Azure Batch output lines out

Any mix of input forms, one per line — the same file can later go to Azure's Batch API. Line 7 below is
broken on purpose (cut short, not JSON): it becomes an **error line naming its line number**, and the run goes on.
The files go to a temporary folder."""),
    ("code", """\
import json
import tempfile

folder = Path(tempfile.mkdtemp(prefix="bulk-"))
source, answers = folder / "prompts.jsonl", folder / "answers.jsonl"

lines = [json.dumps({"custom_id": f"q{i:03d}", "prompt": f"One sentence about the number {i}.", "max_tokens": 20})
         for i in range(1, max(N, 8) + 1)]
lines[1] = json.dumps("A plain JSON string is a prompt too.")  # no custom_id: it is called line-2
lines[2] = json.dumps({"custom_id": "q003", "max_tokens": 20, "messages": [
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}]})
lines[3] = json.dumps({"custom_id": "q004", "method": "POST", "url": "/chat/completions",  # an Azure Batch line
                       "body": {"messages": [{"role": "user", "content": "Name a fruit."}], "max_tokens": 20}})
lines[6] = '{"custom_id": "q007", "prompt": "a line cut sho'  # line 7: not JSON
source.write_text("\\n".join(lines) + "\\n", encoding="utf-8")
print(len(lines), "lines in", source.name)
for number, line in enumerate(lines[:7], 1):
    print(f"{number:>3}  {line}")
"""),
    ("md", """\
`BulkProgress` is a progress bar for it, from `tqdm.auto` (a runtime dependency): tqdm's notebook widget in
Jupyter (it needs `ipywidgets`, in the dev requirements), a text bar elsewhere. `run_bulk_file` calls
`on_start(total, already_done)` once and `on_result(result, run)` after each line is written; `run.pacer` is the
shared pacer, so the bar shows the 429s so far. The summary it returns, as the last line of a cell, is a table:
the counts, the failures grouped by cause, what the pacer learned, what to do next, and the sends of the run
against the limit it learned (`summary.sends`, a `SendLog`). `summary.lines()` is the same as text, as the CLI
prints it."""),
    ("code", """\
from rest_client.bulk import run_bulk_file
from rest_client.display import BulkProgress


def run_file(**options):
    before = tight.counters if tight else None
    with BulkProgress() as progress:
        summary = run_bulk_file(bulk_client, source, answers, concurrency=16,
                                on_start=progress.start, on_result=progress.update, **options)
    if tight:
        print(wire_counts(before))
    return summary


summary = run_file()
summary
"""),
    ("md", """\
The output: one line per input line, in completion order, in Azure Batch's shape
`{"custom_id", "response": {"status_code", "request_id", "body"}, "error"}` — an API error would keep its
status and body; the broken line has `response: null` and an `error` naming line 7."""),
    ("code", """\
def read_output() -> list:
    return [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines()]


output = read_output()
ok = next(line for line in output if line["response"])
shown = {**ok, "response": {**ok["response"], "body": "{… the chat completion, as the service sent it …}"}}
print(json.dumps(shown, indent=2))
print(len(output), "lines;", sum(line["error"] is None for line in output), "answers; the failed line:")
for line in output:
    if line["error"]:
        print(json.dumps(line))
"""),
    ("md", """\
## What the pacer learned

Each run has its own pacer (`run.pacer`; the client keeps none, so stopping a run leaves the client as it
was). What the first run's pacer learned: `requests_limit`, the budget, and `limit_source`, where it came
from (`header`: `x-ratelimit-limit-requests`; `remaining`: inferred from `x-ratelimit-remaining-requests`;
`429`: what got through before the first refusal) — `tokens_limit` is None: the tight
deployment has no token limit; `window`, from the first 429 — its `retry-after-ms` said when capacity would
return, and the pacer's log of sends said which send the service was waiting for (the tight window is 1 s);
`token_window`, assumed the same until a 429 about tokens says otherwise; `rate_limited`, the 429s this pacer
met during the run. Against your resource the windows stay None until a 429 comes."""),
    ("code", """\
for name, value in run.pacer.snapshot().items():
    print(f"{name:14} {value:.3f}" if isinstance(value, float) else f"{name:14} {value}")
"""),
    ("md", """\
## Rerun: resume

Run the same file into the same output again: every `custom_id` already in the output is **skipped**, nothing
is sent. That is how an interrupted run resumes — Ctrl-C (calls on the wire finish and are written), a crash or
a `kill` (a line half-written is cut and redone). The summary mentions the failed line it skipped."""),
    ("code", """\
summary = run_file()
summary
"""),
    ("md", """\
## `retry_failed=True`

Fix line 7 and rerun with `retry_failed=True`: failed lines are dropped from the output and done again; the
rest stays skipped. (The fixed line has its `custom_id` `q007` now, so the old `line-7` error line just goes.)"""),
    ("code", """\
lines[6] = json.dumps({"custom_id": "q007", "prompt": "A line no longer cut short.", "max_tokens": 20})
source.write_text("\\n".join(lines) + "\\n", encoding="utf-8")
summary = run_file(retry_failed=True)
display(summary)

output = read_output()
print(len(output), "lines,", sum(line["error"] is None for line in output), "ok; of line-7 and q007, the output has",
      [line["custom_id"] for line in output if line["custom_id"] in ("line-7", "q007")])
"""),
    ("md", """\
## From the command line

```bash
python -m rest_client bulk prompts.jsonl -o answers.jsonl --concurrency 16
python -m rest_client bulk prompts.jsonl -o answers.jsonl --emulator        # offline
python -m rest_client bulk prompts.jsonl -o answers.jsonl --retry-failed
```

Progress on stderr, the same summary at the end; exit code 0 when all succeeded, 1 when some failed,
130 when interrupted (rerun the same command to finish). When one deployment's limit is too small for the
job, Azure's Batch API runs the same file on the service's own fleet: notebook 8."""),
    ("code", """\
import shutil

shutil.rmtree(folder)
if tight:
    bulk_client.close()
    tight.stop()
""" + CLEANUP),
]
