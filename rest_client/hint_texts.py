"""The hint sentences that are always the same, whatever the situation (pure: text only).

Apart from hints.py, which holds the situation, the rules and their order: the table reads better when the
long sentences it gives stand elsewhere, and a sentence can be fixed without touching the precedence.
"""

from __future__ import annotations

from .errors import COGNITIVE_SERVICES_SCOPE

# The data-plane role a keyless caller needs on the resource; named in the 401/403 hints.
OPENAI_USER_ROLE = "Cognitive Services OpenAI User"

ROLE_MISSING = (f"your identity is signed in but has no data-plane role on this resource: assign it "
                f"'{OPENAI_USER_ROLE}' (az role assignment create --role '{OPENAI_USER_ROLE}' --assignee YOUR_ID "
                "--scope RESOURCE_ID); Owner or Contributor is not enough, and an assignment takes a few minutes "
                "to apply")
ROLE_LACKING = (f"your identity lacks the '{OPENAI_USER_ROLE}' role on this resource: az role assignment create "
                f"--role '{OPENAI_USER_ROLE}' --assignee YOUR_ID --scope RESOURCE_ID (takes up to 5 min to apply)")
ASSISTANTS_RETIRED = ("the Assistants API (/openai/assistants, /openai/threads) was retired on 26 August 2026: use "
                      "the Responses API on /openai/v1 — a thread is a conversation, a run a response with "
                      "conversation= / --conversation (background= / --background to poll it like a run); which "
                      "call replaces which: docs/assistants-to-responses.md, notebook 10")
RESPONSES_V1_ONLY = ("the Responses API is served only on the v1 routes: POST {resource}/openai/v1/responses with "
                     "the deployment as model (Client.responses / --responses do this)")
STRUCTURED_OUTPUTS_VERSION = ("structured outputs (response_format json_schema) need api-version 2024-08-01-preview "
                              "or later: --api-version 2024-10-21 (OPENAI_API_VERSION), or the v1 endpoint "
                              "…/openai/v1")
MAX_COMPLETION_TOKENS = ("this is a reasoning model: send max_completion_tokens instead of max_tokens "
                         "(--max-completion-tokens N); it also counts the reasoning tokens, so leave room for them")
DEVELOPER_ROLE = "this model refuses the system role: send the instructions as a developer message (--developer TEXT)"
REASONING_EFFORT = ("reasoning_effort takes low, medium or high (gpt-5 models also minimal): pick one this model "
                    "lists (--reasoning-effort)")
OPERATION_NOT_SUPPORTED = ("this deployment's model does not support that operation: use --chat for chat models, "
                           "--completions for instruct models, or another deployment")
CONTEXT_LENGTH = ("the prompt plus max_tokens is longer than this model's context window: shorten the messages "
                  "(or drop old turns) or lower max_tokens")
TOKEN_REJECTED = ("the token was rejected: it must be for scope " + COGNITIVE_SERVICES_SCOPE +
                  ", from the resource's tenant (az login --tenant TENANT), and unexpired")
NETWORK_RULES = ("the resource's network rules block this client (firewall, virtual network or private "
                 "endpoint only): allow your IP under Networking, or call it from inside its network")
REQUEST_RATE = ("over the deployment's call rate limit (requests per minute): send fewer calls at once or "
                "spread them out (bulk paces itself); each call counts, however small")
TOKEN_RATE = ("over the deployment's token rate limit: lower max_tokens (it is charged up front) or send "
              "fewer at once, or raise the deployment's tokens-per-minute quota in the portal")
RATE_LIMIT = "over the deployment's rate limit: slow down (bulk paces itself), or raise its quota in the portal"
SERVICE_TIMEOUT = ("the service gave up waiting for the model (408: a long answer or long reasoning): stream it "
                   "(--stream) so it arrives as it is made, or ask for less (max_tokens, reasoning_effort)")
SERVER_FAILED = "the service failed; if it persists, quote the request id to Azure support"
NOT_THE_API = "this answer did not come from Azure OpenAI's API: check the endpoint"
NO_RECORDING = ("a replay (python -m rest_client.emulator --replay) answered, and it has no recording of this request: "
                "send it as recorded (the message names the closest recording and what differs), or record it again "
                "(--record FILE --upstream URL; in tests REST_CLIENT_RECORD=1)")
