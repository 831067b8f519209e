"""Against a real Azure OpenAI resource, when the caller's environment has one (skipped otherwise)."""

from __future__ import annotations

import pytest

from rest_client import Client

pytestmark = pytest.mark.live


def test_chat_against_real_azure(live_env) -> None:
    with Client() as client:
        if not client.settings.deployment:
            pytest.skip("set AZURE_OPENAI_DEPLOYMENT to a chat deployment")
        result = client.chat("Say hello in one word.", max_tokens=20)
        assert result.status_code == 200 and result.text
        assert result.request_id and "x-ms-region" in result.headers


def test_stream_against_real_azure(live_env) -> None:
    with Client() as client:
        if not client.settings.deployment:
            pytest.skip("set AZURE_OPENAI_DEPLOYMENT to a chat deployment")
        stream = client.stream_chat("Count to three.", max_tokens=30)
        assert "".join(stream) and stream.prompt_filter_results
