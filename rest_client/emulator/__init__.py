"""An Azure OpenAI look-alike on loopback, so every walkthrough, demo and test runs offline (like Azurite).

It always says what it is: header ``x-emulator: rest_client`` and ``system_fingerprint: "emulator"``.
Standard library only; it imports nothing of the client, so it can judge the client fairly.

In process::

    from rest_client.emulator import Emulator, Deployment
    with Emulator() as emu:                       # 127.0.0.1, a free port, a random api key
        emu.endpoint, emu.api_key, emu.chat_deployment, emu.completions_deployment, emu.identity_env
        emu.batch_deployment                      # "gpt-4o-mini-batch", for batch files' body.model

From a shell: ``python -m rest_client.emulator [--port N] [--api-key K] [--token-lifetime S] …`` prints
the endpoint, the key and copy-paste ``export`` lines, and stops cleanly on Ctrl-C.

Routes (the service's own status codes and error bodies; sources in service_errors.py):
    POST /openai/deployments/{deployment}/chat/completions|completions|embeddings?api-version=V
        V from the table in versions.py (2022-12-01 … 2024-10-21 GA, previews up to 2025-04-01-preview);
        missing → 404 "Resource not found", unknown → 400 "API version not supported".
    POST /openai/v1/chat/completions|completions|embeddings   deployment in the body's ``model``;
        api-version absent, ``preview``, ``latest`` or ``v1``.
    POST|GET /openai/files, GET|DELETE /openai/files/{id}, GET /openai/files/{id}/content
    POST|GET /openai/batches, GET /openai/batches/{id}, POST /openai/batches/{id}/cancel
        the Batch API, ``?api-version=`` 2024-07-01-preview or later (GA 2024-10-21), or under /openai/v1/
        with none (see "Batch API" below and batch_api.py).
    GET  /msi/token?api-version=2019-08-01&resource=R         managed identity (App Service protocol).
    /_emulator/...                                            control routes (see control.py).
Unknown deployment → 404 DeploymentNotFound; chat payload to an instruct model (or completions to a chat
model) → 400 OperationNotSupported; missing ``messages``/``prompt``/``input`` or body not JSON → 400.

Auth: ``api-key: <emu.api_key>``, or ``Authorization: Bearer <token>`` with a token from the emulator's
managed-identity endpoint or ``emu.issue_token()``. Bad or missing key → 401 ``{"error":{"code":"401",…}}``;
expired, wrong-audience or foreign token → 401 ``{"statusCode":401,"message":"Unauthorized. Access token is
missing, invalid, audience is incorrect …"}``. On /openai/v1 the key also works as a bearer token.
``emu.identity_env`` (IDENTITY_ENDPOINT + IDENTITY_HEADER) makes the real azure-identity
``DefaultAzureCredential`` / ``ManagedIdentityCredential`` fetch tokens from the emulator; their lifetime is
``emu.token_lifetime`` (settable at runtime, e.g. 2.0 for refresh demos).

Answers: bodies shaped like recorded Azure traffic and valid against the 2024-10-21 spec (``chatcmpl-…`` /
``cmpl-…`` ids, ``created``, ``model``, ``usage``, ``content_filter_results``, ``prompt_filter_results``);
headers ``apim-request-id``, ``x-request-id``, ``x-ms-region``, ``x-ms-deployment-name``,
``x-ratelimit-limit-*`` / ``x-ratelimit-remaining-*``, ``openai-processing-ms``, ``x-ms-client-request-id``
(echoed). Streams (``"stream": true``) are chunked server-sent events in the recorded order: a filter event
with empty ``choices`` and blank id/model/object, a role event per choice, content events, a finish event
per choice, a usage event when ``stream_options.include_usage``, then ``data: [DONE]``.

Text: deterministic for the same prompt, seed and max_tokens; honours ``max_tokens`` (finish_reason
"length"), ``n``, ``stop``; /completions defaults to 16 max tokens like the API. Tokens are an estimate:
``ceil(characters / 4)`` (chat adds 4 per message + 3). Embeddings: deterministic unit vectors, 1536
dimensions or ``dimensions``; ``encoding_format: "base64"`` supported.

Rate limits per deployment: ``Deployment(rpm=…, tpm=…, window=60.0)`` allows ``rpm*window/60`` requests
and ``tpm*window/60`` tokens per sliding window. The token cost is charged up front: prompt estimate +
``max_tokens`` (default: 16 for completions, 90 for chat) × ``n``. Over budget → 429 with the service's
message, ``retry-after`` (whole seconds) and ``retry-after-ms``. Shared quotas (ratelimit.py, background.py):
``Emulator(background_load=0.5)`` puts another consumer on each deployment, spending half of every window's
budget; ``Emulator(daily_quota=N)`` answers N requests per deployment, then the service's 429 "Please retry
after 86400 seconds" until ``emu.reset_daily_quota()``; ``rate_limit_headers="foundry"`` answers as Foundry
project endpoints do (limit/remaining ``-1``, resets of ``0``, 429s that name no wait).

Batch API (shapes and quirks of ../shared/azure-batch-api.md and the recordings it cites):
- ``Deployment(name, model, kind="batch", max_enqueued_tokens=…)`` is a GlobalBatch deployment: batch files
  name it in ``body.model``; a direct call to it is 400 OperationNotSupported; its quota is enqueued tokens
  (default 1,000,000,000; over it, create answers 400 ``token_limit_exceeded``).
- Files: upload (multipart ``purpose`` + ``file``) → 201 + ``Location`` (v1: 200); a valid JSONL file is
  ``processed`` at once, one with a non-JSON line ``pending`` then ``error`` with ``status_details``
  "Validation of jsonl file failed: Line N: …". Output and error files: purpose ``batch_output``, named
  ``batch_<id>_results.jsonl`` / ``batch_<id>_errors.jsonl``.
- Batches: create → 200 ``validating`` (``deployment-enqueued-tokens`` headers) → ``in_progress`` →
  ``finalizing`` → ``completed``, or ``failed`` with ``errors.data[].code`` (invalid_json_line, too_many_tasks,
  url_mismatch, model_not_found, model_mismatch, invalid_request, duplicate_custom_id, empty_file,
  empty_batch), or ``cancelling`` → ``cancelled``. File ids are ``""`` until completed, null after a cancel or
  failure; partial results of a cancelled batch stay listed under purpose ``batch_output`` (batches.py).
- One background thread per emulator runs the lines through the same pipeline as direct calls, in shuffled
  order, at ``emu.batch_settings`` pace (defaults: validating 0.3 s, 500 lines/s, finalizing 0.2 s; a
  200-line batch completes in about a second); settable in process or via ``PATCH /_emulator/config``.

Faults for the next N requests, in process (``emu.add_fault(kind, times=…, route=…, …)``) or over
``POST /_emulator/faults``: status, delay, reset, truncate, content_filter, unavailable, rate_limit
(see faults.py). ``route`` None (default) means inference requests; ``"files"``, ``"batches"``, one
operation (``"batches.retrieve"``, ``"files.create"``, …) or ``"*"`` aim at the Batch API's routes, and
``"batches.line"`` fails lines of batch jobs. Log and counters: ``emu.log``, ``emu.counters``,
``GET /_emulator/log|counters``; entries hold a fingerprint of the credential, never the key or token.
``emu.reset()`` forgets log, counters, rate-limit windows, daily-quota counts and faults (files and
batches stay).

Modules: emulator (the object: creates the shared state and wires the parts), server (HTTP), inference (the
pipeline), routes (routing/validation), versions, deployments, identity (tokens; ``Auth``, the key and issuer
every route checks), ratelimit (windows, daily quota, header profiles), background (another consumer of a
deployment), faults, responses (bodies), textgen, service_errors, control (``Controls``: faults, log, reset,
config, in process and over /_emulator), journal (log/counters), tunables (the live settings: token lifetime,
stream delay, region, seed), wire (request/reply types); for the Batch API:
batch_api (its HTTP routes), files (file store), multipart (upload parsing), batches (jobs, settings, Batch
object), batch_validation (file and line checks), batch_worker (the background thread).
No part receives the ``Emulator``: each gets the narrow state objects it reads, so imports form no cycle.
"""

from __future__ import annotations

from .batches import BatchSettings
from .deployments import Deployment
from .emulator import Emulator

__all__ = ["BatchSettings", "Deployment", "Emulator"]
