"""Cells of notebook 08: Azure Batch API."""

from __future__ import annotations

from .common import CLEANUP, INTRO_RUNS_WHERE, md_table, setup_cell

NB08 = [
    ("md", """\
# 8 · When one machine is not enough: Azure's Batch API

A bulk run (notebook 7) is one process sending through one deployment's rate limit. For hundreds of thousands
of prompts that limit is the ceiling, however well it is used. Azure OpenAI's **Batch API** takes the whole
JSONL file instead and runs it on the service's own fleet, through a **Global Batch** (or Data Zone Batch)
deployment:

""" + md_table(
        ("", "bulk (notebook 7)", "Azure Batch API"),
        ("results", "in seconds, as each call completes",
         "within 24 hours (a tiny recorded job: about ten minutes), all at the end"),
        ("price", "the deployment's standard price", "**half** the Global Standard price"),
        ("quota", "the deployment's requests and tokens per minute",
         "its own quota of **enqueued tokens** per batch deployment: counted at submit, held until the batch ends"),
        ("size", "what your rate limit allows per hour", "up to 100,000 lines and 200 MB per file"),
        ("use it for", "interactive work, latency, small and medium jobs, anything you watch",
         "large offline jobs: classification, extraction, evaluations over a whole data set"),
    ) + """

The flow on the wire: **upload** the file (`POST /openai/files`, `purpose=batch`) → **create** a batch
(`POST /openai/batches`) → **poll** it (`validating` → `in_progress` → `finalizing` → `completed`) → **download**
the output and error files. rest_client does each step transparently (`Files(client)`, `Batches(client)`: every
call returns its `Result` with status, headers, request id, attempts) and all of them in one resumable call,
`run_batch`.

""" + INTRO_RUNS_WHERE + """

A real batch takes minutes to hours, so against your resource only the local validation runs and the batches
are listed; the rest is shown with the emulator, whose batch worker runs 100 lines a second."""),
    ("code", setup_cell() + """
if emu:  # how fast batches move: Emulator(batch_settings={...}) sets the same at start
    emu.batch_settings.update({"lines_per_second": 100, "validating_seconds": 0.4, "finalizing_seconds": 0.2})
"""),
    ("md", """\
## The same input file as bulk

Prompts, `{"prompt": …}`, `{"messages": […]}` or Azure Batch lines — the file of notebook 7 works here as is.
A batch file names its **batch deployment** in each line's `body.model`; rest_client fills it in from
`deployment=` when a line has none. (Against your resource, put the name of your Global Batch deployment here.)"""),
    ("code", """\
import json
import tempfile
import time

batch_deployment = emu.batch_deployment if emu else "my-global-batch-deployment"
folder = Path(tempfile.mkdtemp(prefix="batch-"))


def write_jsonl(name: str, lines: list) -> Path:
    path = folder / name
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


prompts = [{"custom_id": f"q{i:03d}", "prompt": f"One sentence about the number {i}.", "max_tokens": 20}
           for i in range(1, 41)]
prompts[1] = {"custom_id": "q002", "messages": [{"role": "user", "content": "Name a colour."}], "max_tokens": 20}
prompts[2] = {"custom_id": "q003", "method": "POST", "url": "/chat/completions",
              "body": {"messages": [{"role": "user", "content": "Name a fruit."}], "max_tokens": 20}}
source = write_jsonl("prompts.jsonl", prompts)
print(len(prompts), "lines in", source.name, "for the batch deployment", batch_deployment)
"""),
    ("md", """\
## Validate locally first

Azure validates a batch file **asynchronously**: the upload and the create succeed, and minutes later the
batch turns `failed` with an error. `prepare_batch_input` checks the file before anything is sent — valid JSON
per line, unique `custom_id`, one `url`, one deployment, at most 100,000 lines and 200 MB, no byte order
mark — and lists **every** problem with its line number in one `BatchValidationError` (a `ConfigError`).
It is a pure function of the file's bytes: it has no client, so it cannot send anything."""),
    ("code", """\
from rest_client.batch import Batches, Files, prepare_batch_input
from rest_client.errors import BatchValidationError

broken = [
    *prompts[:4],
    {"custom_id": "q002", "prompt": "a second q002"},  # duplicate custom_id
    '{"custom_id": "q006", "prompt": "cut sho',  # not JSON
    {"custom_id": "q007", "method": "POST", "url": "/embeddings", "body": {"input": "hello"}},  # not in a batch
    {"custom_id": "q008", "method": "POST", "url": "/chat/completions",
     "body": {"model": "another-deployment", "messages": [{"role": "user", "content": "Hi"}]}},
]
raw = b"\\xef\\xbb\\xbf" + write_jsonl("broken.jsonl", broken).read_bytes()  # and a byte order mark in front
try:
    prepare_batch_input(raw, deployment=batch_deployment)
except BatchValidationError as error:
    print(f"{type(error).__name__}: {len(error.problems)} problems, nothing was sent")
    for problem in error.problems:
        print("  ", problem)
"""),
    ("md", """\
A valid file comes back converted to Azure's line format — `custom_id`, `method`, `url`, and the `body` with
`model` — with the endpoint, the deployment and the `custom_id`s in input order (the order the output is
written in at the end: Azure's own output file is in no particular order)."""),
    ("code", """\
prepared = prepare_batch_input(source.read_bytes(), deployment=batch_deployment)
print("endpoint:", prepared.endpoint, "| deployment:", prepared.deployment, "|", len(prepared.custom_ids),
      "requests,", len(prepared.content), "bytes")
for line in prepared.content.splitlines()[:3]:
    print("  ", line.decode())
"""),
    ("md", """\
## Step by step: upload

`Files(client).upload` posts the file as multipart form data (`purpose=batch`). Azure answers **201 Created**
with a `Location` header and the File object; a valid file is `processed` at once (an invalid one goes
`pending`, then `error` with `status_details` naming the line). Every call returns its `Result`."""),
    ("code", """\
from IPython.display import display

from rest_client.display import BatchStatus

if emu:
    upload = Files(client).upload(prepared.content, filename="prompts.jsonl")
    print("Location:", upload.headers.get("Location"))
    display(upload)  # the File object is the response body (folded); the multipart request too
    file_id = upload.json()["id"]
else:
    print("skipped against your resource: the step-by-step batch is an emulator demo (a real batch takes "
          "minutes to hours)")
"""),
    ("code", """\
if emu:
    info = Files(client).get(file_id)
    print("status:", info.json()["status"], "| bytes:", info.json()["bytes"], "| request id:", info.request_id)
"""),
    ("md", """\
## Create the batch

`Batches(client).create(input_file_id, endpoint=…)` answers **200** (not 201) with the Batch in `validating`.
Note Azure's quirks: `output_file_id` and `error_file_id` are **empty strings** until the batch completes, and
the headers say how many tokens this deployment now holds enqueued, against its quota."""),
    ("code", """\
if emu:
    created = Batches(client).create(file_id, endpoint=prepared.endpoint)
    for name in ("deployment-enqueued-tokens", "deployment-maximum-enqueued-tokens"):
        print(f"{name}: {created.headers.get(name)}")
    batch = created.json()
    display(BatchStatus(batch))  # the Batch object: status, line counts, files, phases
"""),
    ("md", """\
## Poll until it ends

On Azure, poll every minute or so (the docs say at least 60 s); here every 0.1 s. `BatchWatch` shows each poll
in one area that changes as the batch moves, with a row per change of status or counts.
`request_counts.total` appears while the batch is still `validating`, and `completed`/`failed` only when
`finalizing` starts — as recorded on the real service (the emulator does the same)."""),
    ("code", """\
from rest_client.display import BatchWatch

TERMINAL = ("completed", "failed", "expired", "cancelled")

if emu:
    watch = BatchWatch()
    while True:
        batch = Batches(client).get(batch["id"]).json()
        watch(batch)
        if batch["status"] in TERMINAL:
            break
        time.sleep(0.1)
    print("output file:", batch["output_file_id"], "| error file:", batch["error_file_id"])
"""),
    ("md", """\
## Download the results

`Files(client).content(file_id)` returns the raw bytes in `result.response.content`: JSONL, one line per request,
in Azure's output shape — **in no particular order**. The error file exists even when no line failed (0 bytes)."""),
    ("code", """\
if emu:
    content = Files(client).content(batch["output_file_id"])
    print("content-type:", content.headers.get("content-type"), "| request id:", content.request_id)
    results = [json.loads(line) for line in content.response.content.decode("utf-8").splitlines()]
    print(len(results), "lines; the order of custom_ids:", ", ".join(r["custom_id"] for r in results[:8]), "…")
    first = results[0]
    print(first["custom_id"], first["response"]["status_code"], first["response"]["request_id"],
          repr(first["response"]["body"]["choices"][0]["message"]["content"]))
    errors = Files(client).content(batch["error_file_id"])
    print("error file:", len(errors.response.content), "bytes")
"""),
    ("md", """\
## All of it in one call: `run_batch`

`run_batch(client, input, output, deployment=…)` validates, uploads, waits for the file, creates the batch,
polls with backoff (first quickly, then at most every `poll_max`, 60 s by default) and writes **one output
line per input line, in input order**, failed lines included with their error. `on_status` gets every poll's
Batch object — a `BatchWatch()` shows them live — and the `BatchOutcome` it returns displays what was written
and the batch it came from."""),
    ("code", """\
from rest_client.batch import Batches, Files, run_batch, state_path
from rest_client.errors import BatchError

answers = folder / "answers.jsonl"

if emu:
    outcome = run_batch(client, source, answers, deployment=batch_deployment, poll_first=0.2, on_status=BatchWatch())
    written = [json.loads(line)["custom_id"] for line in answers.read_text(encoding="utf-8").splitlines()]
    print("output in input order:", written == prepared.custom_ids, "|", ", ".join(written[:5]), "…")
    display(outcome)
else:
    print("skipped against your resource: run_batch submits a real batch (half price, but minutes to hours);")
    print("when you mean it: run_batch(client, source, answers, deployment=batch_deployment, on_status=BatchWatch())")
"""),
    ("md", """\
## Nothing lost, nothing twice

Beside the output, a small **state file** records the input's hash with the uploaded file id and the batch id,
each saved as soon as the service has created it. Interrupt `run_batch` while it waits — Ctrl-C, a crash, a
closed laptop — and the same call later **resumes waiting on the same batch** instead of paying for a second
one (`resubmit=True` forces a new batch). Rerun it now: no new batch, the results are collected again."""),
    ("code", """\
if emu:
    print(state_path(answers).name + ":")
    print(state_path(answers).read_text(encoding="utf-8"))
    count = len(Batches(client).list().json()["data"])
    outcome = run_batch(client, source, answers, deployment=batch_deployment, poll_first=0.2)
    print("\\n".join(outcome.lines()))  # the same, as text (the CLI prints this)
    print("resumed:", outcome.resumed, "| batches on the service before and after:", count, "->",
          len(Batches(client).list().json()["data"]))
"""),
    ("md", """\
## Cancel midway

`Batches(client).cancel(id)` answers with the batch in `cancelling`; it ends `cancelled`. The lines already
run are kept: Azure shows **null** file ids on a cancelled batch, but the partial results are in output files
named after it (purpose `batch_output`), and rest_client collects them from there. Lines the batch never ran are
written as `not_processed`, so the output still has one line per input line.

`submit_batch` does the first half of `run_batch` (validate, upload, create) and returns the ids;
`wait_and_collect` the second half, for any batch id."""),
    ("code", """\
from rest_client.batch import submit_batch, wait_and_collect

if emu:
    many = write_jsonl("many.jsonl", [{"custom_id": f"m{i:03d}", "prompt": f"Line {i}.", "max_tokens": 20}
                                      for i in range(1, 301)])  # 3 s of work at 100 lines a second
    submitted = submit_batch(client, many.read_bytes(), deployment=batch_deployment, poll_first=0.1)
    while Batches(client).get(submitted["batch_id"]).json()["status"] != "in_progress":
        time.sleep(0.05)
    time.sleep(0.5)
    cancelled = Batches(client).cancel(submitted["batch_id"])
    print(f"HTTP {cancelled.status_code}, request id {cancelled.request_id}")
    display(BatchStatus(cancelled.json()))
else:
    print("skipped against your resource: it would submit a batch only to cancel it")
"""),
    ("code", """\
if emu:
    partial = folder / "partial.jsonl"
    outcome = wait_and_collect(client, submitted["batch_id"], partial, poll_first=0.1, on_status=BatchWatch())
    print("file ids on the cancelled batch:", outcome.batch["output_file_id"], outcome.batch["error_file_id"])
    lines = partial.read_text(encoding="utf-8").splitlines()
    print(next(line for line in lines if '"not_processed"' in line))
"""),
    ("md", """\
## A batch that fails on the service

Local validation cannot know what kind of deployment a name is. A file naming a **standard** (non-batch)
deployment passes locally, is uploaded and created — and the service fails the batch while validating, with
`errors.data[]` carrying a code and a line. `run_batch` raises `BatchError` with them; the batch itself (its
id is in the state file) shows the service's own error list."""),
    ("code", """\
if emu:
    wrong = write_jsonl("wrong.jsonl", [
        {"custom_id": f"w{i}", "method": "POST", "url": "/chat/completions",
         "body": {"model": settings.deployment, "messages": [{"role": "user", "content": "Hi"}]}}
        for i in range(1, 4)])
    try:
        run_batch(client, wrong, folder / "wrong_answers.jsonl", poll_first=0.2)
    except BatchError as error:
        display(error)
    failed_id = json.loads(state_path(folder / "wrong_answers.jsonl").read_text(encoding="utf-8"))["batch_id"]
    display(BatchStatus(Batches(client).get(failed_id).json()))  # the service's errors.data, line by line
else:
    print("skipped against your resource: it would submit a batch that fails")
"""),
    ("md", """\
## List the batches

`Batches(client).list()` pages through the resource's batches, newest first (`limit` 20 by default, `after` for
the next page). Safe on your resource too: it reads, nothing more."""),
    ("code", """\
from rest_client import APIStatusError

try:
    listed = Batches(client).list(limit=10)
except APIStatusError as error:
    display(error)
else:
    display(listed)  # the call: status, ids, the list itself folded under "response body"
    for item in listed.json()["data"]:
        counts = item["request_counts"]
        print(f"{item['id']}  {item['status']:10} {counts['completed']}/{counts['total']} done, "
              f"{counts['failed']} failed")
    if not listed.json()["data"]:
        print("no batches on this resource yet")
"""),
    ("md", """\
## From the command line

```bash
python -m rest_client batch run prompts.jsonl -o answers.jsonl --deployment my-global-batch
python -m rest_client batch submit prompts.jsonl --deployment my-global-batch     # prints the batch id
python -m rest_client batch status BATCH_ID
python -m rest_client batch wait BATCH_ID -o answers.jsonl
python -m rest_client batch cancel BATCH_ID
python -m rest_client batch list
```

`-v` logs every request of the flow. `batch run` resumes an interrupted wait exactly as `run_batch` does."""),
    ("code", """\
import shutil

shutil.rmtree(folder)
""" + CLEANUP),
]
