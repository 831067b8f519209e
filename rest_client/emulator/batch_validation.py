"""What the service checks in a batch input file, twice: once at upload (is it JSONL?) and once while the batch
is ``validating`` (is every line a request this batch can run?). No state: functions of a file's lines.

Why two stages: that is how Azure behaves (../shared/azure-batch-api.md §1, §4). An upload whose lines are not
JSON is accepted (201) and then its File goes ``pending`` → ``error`` with ``status_details``
"Validation of jsonl file failed: Line N: …"; everything else (urls, deployments, duplicate ids, limits)
surfaces only after ``POST /batches`` answered 200, as a ``failed`` batch whose ``errors.data[]`` carry
``code``, ``message``, ``param`` and ``line``.

Codes (the service's, from the docs): ``invalid_json_line``, ``too_many_tasks``, ``url_mismatch``,
``model_not_found``, ``model_mismatch``, ``invalid_request``, ``duplicate_custom_id``, ``empty_file``,
``empty_batch``. Choices where the docs are silent (UNCERTAIN, each marked below): one error per line, the
first problem found, at most MAX_REPORTED_ERRORS in all; a non-batch deployment is ``invalid_request``; a UTF-8
BOM passes the upload and fails the batch with the docs' generic message under code ``invalid_request``.

Files are read as streams of lines (a 200 MB upload is never one bytes object here); the custom_ids a check
must remember are a set of strings (100,000 at most, a few MB).
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from . import routes
from .deployments import Deployment
from .textgen import estimate_tokens
from .versions import CHAT

MAX_REQUESTS_PER_FILE = 100_000  # documented limit (too_many_tasks beyond it)
MAX_REPORTED_ERRORS = 50  # UNCERTAIN: how many errors.data entries the service lists
COMPLETION_WINDOW = "24h"
BOM = b"\xef\xbb\xbf"
# Endpoints a batch accepts and the spelling the service answers with: "/v1/chat/completions" comes back as
# "/chat/completions" (recorded). The docs also show /v1/responses, which the emulator does not serve.
_ENDPOINTS = {"/chat/completions": "/chat/completions", "/v1/chat/completions": "/chat/completions"}
_FORMAT_HELP = (
    "Please see https://platform.openai.com/docs/guides/fine-tuning/preparing-your-dataset for format "
    "description and examples."
)


@dataclass(frozen=True)
class BatchLine:
    """One request of a batch: where it was in the file, its ``custom_id`` and its ``body``."""

    number: int  # 1-based line number in the file
    custom_id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class BatchPlan:
    """A file that passed validation: the batch deployment all its lines name, and where each line starts.

    Lines are not kept parsed (100,000 long prompts would be gigabytes of dicts): each request is read and
    parsed from the file when the worker runs it (``read``).
    """

    deployment: str
    path: str
    offsets: array[int]  # byte offset of each request line in file order ('q': 8 bytes a line)
    numbers: array[int]  # its 1-based line number

    def __len__(self) -> int:
        return len(self.offsets)

    def read(self, indices: Iterable[int]) -> list[BatchLine]:
        """The requests at these positions (any order), read and parsed from the file."""
        lines = []
        with open(self.path, "rb") as f:
            for index in indices:
                f.seek(self.offsets[index])
                record = json.loads(f.readline())
                lines.append(BatchLine(self.numbers[index], record["custom_id"], record["body"]))
        return lines


def normalize_endpoint(endpoint: Any) -> str | None:
    """``/chat/completions`` for either accepted spelling; None for anything the emulator cannot run."""
    return _ENDPOINTS.get(endpoint) if isinstance(endpoint, str) else None


def batch_error(code: str, message: str, *, line: int | None = None, param: str | None = None) -> dict[str, Any]:
    """One entry of a failed batch's ``errors.data``."""
    return {"code": code, "message": message, "param": param, "line": line}


def _lines(lines: Iterable[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, raw line) for every non-blank line; CRLF and LF both end a line."""
    offset = 0
    for number, raw in enumerate(lines, 1):
        if raw.strip():
            yield number, offset, raw.rstrip(b"\r\n")
        offset += len(raw)


def _skip_bom(lines: Iterable[bytes]) -> Iterator[bytes]:
    for number, raw in enumerate(lines):
        yield raw[len(BOM) :] if number == 0 and raw.startswith(BOM) else raw


def jsonl_problem(data: Iterable[bytes]) -> str | None:
    """Why the upload check rejects a batch file (its File's ``status_details``), or None when it passes.

    Only JSON-ness is checked here, as recorded: "Line 1: line content is not valid json …". A leading BOM
    is skipped so the file passes, because the docs say a BOM file fails later, in the batch.
    """
    for number, _, raw in _lines(_skip_bom(data)):
        try:
            json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return f"Validation of jsonl file failed: Line {number}: line content is not valid UTF-8."
        except ValueError as exc:
            return (
                f"Validation of jsonl file failed: Line {number}: line content is not valid json. {_FORMAT_HELP} "
                f"Error message: {exc}."
            )
    return None


def estimate_enqueued_tokens(data: Iterable[bytes]) -> tuple[str | None, int]:
    """The deployment a file names first and its prompt tokens: what a batch holds of its enqueued-token quota.

    Counted at create, before validation, so it is lenient: unreadable lines count nothing. UNCERTAIN: the
    service's exact count (prompt tokens only here, not max_tokens).
    """
    deployment: str | None = None
    tokens = 0
    for _, _, raw in _lines(data):
        try:
            line = json.loads(raw.decode("utf-8"))
        except ValueError:
            continue
        body = line.get("body") if isinstance(line, dict) else None
        if not isinstance(body, dict):
            continue
        if deployment is None and isinstance(body.get("model"), str):
            deployment = body["model"]
        params = routes.read_params(CHAT, body)
        tokens += params.prompt_tokens if isinstance(params, routes.Params) else estimate_tokens(json.dumps(body))
    return deployment, tokens


def validate_batch(
    path: str,
    *,
    endpoint: str,
    completion_window: str,
    deployments: Mapping[str, Deployment],
    max_requests: int = MAX_REQUESTS_PER_FILE,
) -> BatchPlan | list[dict[str, Any]]:
    """The plan of a valid batch (the file at ``path``), or the ``errors.data`` entries that make it ``failed``.

    Read as a stream, twice: once to count the requests (too_many_tasks is reported alone, as before any line
    check), once to check each line; only the offsets of good lines are kept.
    """
    if completion_window != COMPLETION_WINDOW:
        message = f"Invalid completion_window '{completion_window}': the only supported value is '24h'."
        return [batch_error("invalid_request", message, param="completion_window")]
    with open(path, "rb") as f:
        head = f.read(len(BOM))
        if not head:
            return [batch_error("empty_file", "The input file is empty.")]
        if head == BOM:  # UNCERTAIN code; the message is the docs'
            message = (
                "Validation failed: A valid model deployment name couldn't be extracted from the input file. "
                "Please ensure that each row in the input file has a valid deployment name specified in the "
                "'model' field, and that the file is UTF-8 encoded without a byte order mark (BOM)."
            )
            return [batch_error("invalid_request", message, line=1)]
        f.seek(0)
        count, beyond = 0, None
        for number, _, _ in _lines(f):
            count += 1
            if count == max_requests + 1:
                beyond = number
        if not count:
            return [batch_error("empty_batch", "The input file contains no requests.")]
        if beyond is not None:
            message = f"The input file has {count} requests; a batch accepts at most {max_requests}."
            return [batch_error("too_many_tasks", message, line=beyond)]
        f.seek(0)
        checker = _LineChecker(endpoint, deployments)
        errors: list[dict[str, Any]] = []
        offsets, numbers = array("q"), array("q")
        for number, offset, raw in _lines(f):
            checked = checker.check(number, raw)
            if isinstance(checked, BatchLine):
                offsets.append(offset)
                numbers.append(number)
            elif len(errors) < MAX_REPORTED_ERRORS:
                errors.append(checked)
    if errors or checker.deployment is None:
        return errors
    return BatchPlan(checker.deployment, path, offsets, numbers)


class _LineChecker:
    """Checks lines one by one, remembering what the file must agree on: the deployment and the custom ids."""

    def __init__(self, endpoint: str, deployments: Mapping[str, Deployment]) -> None:
        self.endpoint = endpoint
        self.deployments = deployments
        self.deployment: str | None = None  # named by the first line that names one
        self.custom_ids: set[str] = set()

    def check(self, number: int, raw: bytes) -> BatchLine | dict[str, Any]:
        """The line as a request, or the first problem with it (one ``errors.data`` entry)."""
        try:
            line = json.loads(raw.decode("utf-8"))
        except ValueError as exc:  # includes UnicodeDecodeError; only reachable when the upload was in error
            message = f"Line {number}: line content is not valid json: {exc}"
            return batch_error("invalid_json_line", message, line=number)
        if not isinstance(line, dict):
            return self._invalid(number, None, "each line must be a JSON object")
        for field, kind in (("custom_id", str), ("method", str), ("url", str), ("body", dict)):
            if not isinstance(line.get(field), kind) or (kind is str and not line[field]):
                expected = "an object" if kind is dict else "a non-empty string"
                return self._invalid(number, field, f"'{field}' is required and must be {expected}")
        if line["method"].upper() != "POST":
            return self._invalid(number, "method", f"method '{line['method']}' is not supported; use 'POST'")
        if normalize_endpoint(line["url"]) != self.endpoint:
            message = f"Line {number}: the url '{line['url']}' does not match the batch endpoint '{self.endpoint}'."
            return batch_error("url_mismatch", message, line=number, param="url")
        name = line["body"].get("model")
        if not isinstance(name, str) or not name:
            return self._invalid(number, "body.model", "'body.model' must name a batch deployment")
        problem = self._deployment_problem(number, name)
        if problem is not None:
            return problem
        custom_id = line["custom_id"]
        if custom_id in self.custom_ids:
            message = (
                f"Line {number}: the custom_id '{custom_id}' is already used by an earlier line; it must be unique."
            )
            return batch_error("duplicate_custom_id", message, line=number, param="custom_id")
        self.custom_ids.add(custom_id)
        return BatchLine(number, custom_id, line["body"])

    def _deployment_problem(self, number: int, name: str) -> dict[str, Any] | None:
        if self.deployment is None:
            self.deployment = name
        elif name != self.deployment:
            message = (
                f"Line {number}: the model '{name}' differs from '{self.deployment}' named by earlier lines; "
                "every line of a batch must name the same deployment."
            )
            return batch_error("model_mismatch", message, line=number, param="body.model")
        deployment = self.deployments.get(name)
        if deployment is None:
            message = f"Line {number}: the model deployment '{name}' does not exist on this resource."
            return batch_error("model_not_found", message, line=number, param="body.model")
        if not deployment.is_batch:  # the docs: "the deployment SKU is not globalbatch" → invalid_request
            message = (
                f"Line {number}: the deployment '{name}' is not a batch deployment; a batch needs a deployment "
                "of type GlobalBatch or DataZoneBatch."
            )
            return batch_error("invalid_request", message, line=number, param="body.model")
        return None

    @staticmethod
    def _invalid(number: int, param: str | None, problem: str) -> dict[str, Any]:
        return batch_error("invalid_request", f"Line {number}: {problem}.", line=number, param=param)
