"""The api-version table: which versions the emulator knows and which operations each one serves.

Why a table and not "anything that looks like a date": the real service rejects versions it does not know,
and a client bug that sends a typo'd or retired version should fail against the emulator too.
"""

from __future__ import annotations

CHAT = "chat/completions"
COMPLETIONS = "completions"
EMBEDDINGS = "embeddings"
OPERATIONS = (CHAT, COMPLETIONS, EMBEDDINGS)

GA_VERSIONS = ("2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21")
PREVIEW_VERSIONS = (
    "2023-03-15-preview",
    "2023-06-01-preview",
    "2023-07-01-preview",
    "2023-08-01-preview",
    "2023-09-01-preview",
    "2023-12-01-preview",
    "2024-02-15-preview",
    "2024-03-01-preview",
    "2024-04-01-preview",
    "2024-05-01-preview",
    "2024-07-01-preview",
    "2024-08-01-preview",
    "2024-09-01-preview",
    "2024-10-01-preview",
    "2024-12-01-preview",
    "2025-01-01-preview",
    "2025-02-01-preview",
    "2025-03-01-preview",
    "2025-04-01-preview",
)
KNOWN_VERSIONS = frozenset(GA_VERSIONS + PREVIEW_VERSIONS)

# Chat completions arrived with 2023-03-15-preview; 2022-12-01 only served completions and embeddings.
# The service answers chat on 2022-12-01 with its generic 404 "Resource not found"
# (reported in microsoft/sample-app-aoai-chatGPT#131).
_CHAT_SINCE = "2023-03-15"

# Files and batches (/openai/files, /openai/batches): the Batch API arrived with 2024-07-01-preview (its REST
# reference lists purpose "batch", quoted in betalgo/openai#628) and is GA in 2024-10-21; traffic is recorded
# from 2024-10-01-preview on. Older versions answer the generic 404. UNCERTAIN: Files for assistants and
# fine-tuning existed on some earlier previews; the emulator serves files only where batches exist.
_BATCH_SINCE = "2024-07-01"
_BATCH_GA = ("2024-10-21",)

# The v1 API (/openai/v1/...) takes no dated version; these values are accepted for compatibility.
V1_ACCEPTED = frozenset({"", "v1", "preview", "latest"})

# Operation names as the service spells them in 429 messages ("Requests to the ChatCompletions_Create
# Operation under Azure OpenAI API version …").
OPERATION_IDS = {CHAT: "ChatCompletions_Create", COMPLETIONS: "Completions_Create", EMBEDDINGS: "Embeddings_Create"}


def is_known(version: str) -> bool:
    """True for a dated api-version the emulator serves (GA or preview)."""
    return version in KNOWN_VERSIONS


def serves(version: str, operation: str) -> bool:
    """True when ``operation`` exists under ``version`` (only chat has a starting point)."""
    if operation == CHAT:
        return version[:10] >= _CHAT_SINCE
    return True


def serves_batch(version: str) -> bool:
    """True when the dated ``version`` has the files and batches routes."""
    return version in _BATCH_GA or (version.endswith("-preview") and version[:10] >= _BATCH_SINCE)
