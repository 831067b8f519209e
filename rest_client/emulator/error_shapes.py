"""More of the service's error answers, as users have met them since the classic ones (service_errors.py).

Why a module of their own: each is a *variation* a client must survive — another code, another wording, a wait
in another place or none at all — and the emulator is a witness, so it produces them as they come, not as the
client would like them. Each is a fault kind (faults.py: ``emu.add_fault("rate_limit_reached")``, ``POST
/_emulator/faults {"kind": "operation_timeout"}``) or, for the unknown-deployment wordings, a mode (modes.py).

Sources (public reports quoting the bodies; UNCERTAIN where we had to guess):
- 429 ``code: "RateLimitReached"``, "Your requests to MODEL for DEPLOYMENT in REGION have exceeded the token rate
  limit for your current AIServices S0 pricing tier. This request was for ChatCompletions_Create under Azure
  OpenAI API version V. Please retry after N seconds. To increase your default rate limit, visit:
  https://aka.ms/oai/quotaincrease.": dyad-sh/dyad#1849 (2025, gpt-5.1); "… exceeded the call rate limit …
  This request was for Embeddings_Create …": Lapis0x0/obsidian-yolo#297 (2026). UNCERTAIN: which of the two
  names is the model and which the deployment (the reports use the same name for both), and the headers (we
  send ``retry-after`` as the classic 429 does).
- 429 over the call rate with no wait anywhere (no ``retry-after``, no "Please retry after"): "Requests to the
  Embeddings_Create Operation under Azure OpenAI API version V have exceeded call rate limit of your current
  OpenAI S0 pricing tier. Please go here: https://aka.ms/oai/quotaincrease if you would like to further
  increase the default rate limit." (langchain-ai/langchain#12986's title; the body without the wait sentence).
- 408 ``{"error": {"code": "Timeout", "message": "The operation was timeout."}}`` when the model takes too
  long: langgenius/dify-official-plugins#2199 (2025, gpt-5.1), QuantumNous/new-api#1565 (gpt-5).
- 500 "Unable to get resource information.": Azure-Samples/azure-search-openai-demo#687 (embeddings, 2023).
  UNCERTAIN: the code (we send ``InternalServerError``).
- 400 ``{"error": {"code": "unknown_model", "message": "Unknown model: X", "details": "Unknown model: X"}}`` for
  a v1 ``model`` that names no deployment (issue "Fidelity, third pass"); the same body with 404 from GitHub
  Models: microsoft/Generative-AI-for-beginners-dotnet#302.
- 404 ``{"error": "Deployment X not found"}``, no code: Microsoft's Azure OpenAI API simulator
  (microsoft/aoai-api-simulator, generator/openai.py), which many test suites stand in for Azure with.
"""

from __future__ import annotations

import math

from . import service_errors
from .modes import Modes
from .service_errors import ServiceError

_QUOTA_LINK = "https://aka.ms/oai/quotaincrease"
EMBEDDINGS_OPERATION = "Embeddings_Create"

# Fault kinds answered by one of the builders below (see ``fault_shape``).
SHAPE_KINDS = ("rate_limit_reached", "rate_limit_no_wait", "operation_timeout", "resource_information")


def rate_limit_reached(model: str, deployment: str, region: str, operation_id: str, api_version: str,
                       retry_after_s: float) -> ServiceError:
    """The newer 429: code ``RateLimitReached``, the model, deployment and region named; the token rate limit,
    or the call rate limit on embeddings (as both were reported)."""
    seconds = max(1, math.ceil(retry_after_s))
    which = "call rate limit" if operation_id == EMBEDDINGS_OPERATION else "token rate limit"
    message = (f"Your requests to {model} for {deployment} in {region} have exceeded the {which} for your current "
               f"AIServices S0 pricing tier. This request was for {operation_id} under Azure OpenAI API version "
               f"{api_version}. Please retry after {seconds} seconds. To increase your default rate limit, visit: "
               f"{_QUOTA_LINK}.")
    return ServiceError(429, {"error": {"code": "RateLimitReached", "message": message}},
                        {"retry-after": str(seconds)})


def rate_limit_no_wait(operation_id: str, api_version: str) -> ServiceError:
    """429 over the call rate that names no wait, in no header and not in its message: back off on your own."""
    message = (f"Requests to the {operation_id} Operation under Azure OpenAI API version {api_version} have exceeded "
               f"call rate limit of your current OpenAI S0 pricing tier. Please go here: {_QUOTA_LINK} if you would "
               "like to further increase the default rate limit.")
    return ServiceError(429, {"error": {"code": "429", "message": message}})


def operation_timeout() -> ServiceError:
    """408 when the model did not answer in the service's time (a long generation or long reasoning)."""
    return ServiceError(408, {"error": {"code": "Timeout", "message": "The operation was timeout."}})


def resource_information() -> ServiceError:
    """500 when the service could not look its own resource up."""
    message = "Unable to get resource information."
    return ServiceError(500, {"error": {"code": "InternalServerError", "message": message}})


def unknown_model(name: str) -> ServiceError:
    """400 on the v1 routes for a ``model`` that names no deployment (mode ``unknown_model``)."""
    message = f"Unknown model: {name}"
    return ServiceError(400, {"error": {"code": "unknown_model", "message": message, "details": message}})


def simulator_not_found(name: str) -> ServiceError:
    """404 as Microsoft's simulator answers an unknown deployment: the error is a bare string (mode
    ``simulator_not_found``)."""
    return ServiceError(404, {"error": f"Deployment {name} not found"})


def unknown_deployment(name: str, *, v1: bool, modes: Modes) -> ServiceError:
    """How this resource answers a name that is no deployment: the dated routes' 404 ``DeploymentNotFound``, or
    as the modes say (v1's 400 ``unknown_model``; the simulator's 404 ``Deployment X not found``)."""
    if v1 and modes.unknown_model:
        return unknown_model(name)
    if modes.simulator_not_found:
        return simulator_not_found(name)
    return service_errors.deployment_not_found()


def fault_shape(kind: str, retry_after: float | None, *, operation_id: str, api_version: str, model: str,
                deployment: str, region: str) -> ServiceError | None:
    """The answer a fault of ``kind`` stands for (``SHAPE_KINDS``); ``None`` for any other kind."""
    if kind == "rate_limit_reached":
        return rate_limit_reached(model, deployment, region, operation_id, api_version,
                                  1.0 if retry_after is None else retry_after)
    if kind == "rate_limit_no_wait":
        return rate_limit_no_wait(operation_id, api_version)
    if kind == "operation_timeout":
        return operation_timeout()
    if kind == "resource_information":
        return resource_information()
    return None
