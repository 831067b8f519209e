"""What every notebook shares: its setup cell, cleanup cell and the sentence on where it runs."""

from __future__ import annotations

INTRO_RUNS_WHERE = """\
It runs against **your** Azure OpenAI resource when `./config.json` (beside this notebook) or
`AZURE_OPENAI_ENDPOINT` exists, and otherwise against rest_client's **built-in emulator**: an Azure OpenAI
look-alike on 127.0.0.1, so every cell works offline with no Azure account (its answers are deterministic
filler text: the point here is the wire, not the wit). Nothing here prints a key or a token: where one is
shown, it reads `***`."""


def md_table(header: tuple[str, ...], *rows: tuple[str, ...]) -> str:
    """A markdown table; rows are tuples so long cells can be split over several source lines here."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def setup_cell(*, with_client: bool = True) -> str:
    """The one cell every notebook opens with: your resource when configured, else the emulator."""
    text = """\
import os
from pathlib import Path

from rest_client import Client, load_settings

if os.environ.get("AZURE_OPENAI_ENDPOINT") or Path("config.json").exists():
    emu = None
    settings = load_settings()  # arguments > environment > ./config.json > defaults
    credential = None  # rest_client picks: the api-key when one is set, else DefaultAzureCredential
    print(f"Using YOUR Azure OpenAI resource {settings.endpoint} (auth: {settings.auth})")
else:
    from azure.identity import ManagedIdentityCredential

    from rest_client.emulator import Emulator

    emu = Emulator().start()
    os.environ.update(emu.identity_env)  # azure-identity's managed identity now gets its tokens from the emulator
    settings = load_settings(endpoint=emu.endpoint, deployment=emu.chat_deployment,
                             completions_deployment=emu.completions_deployment, auth="default")
    credential = ManagedIdentityCredential()  # what DefaultAzureCredential finds on an Azure VM or App Service
    print(f"No ./config.json or AZURE_OPENAI_ENDPOINT: using the built-in emulator at {emu.endpoint} (offline)")
"""
    if with_client:
        text += """
client = Client(settings, credential=credential)
print("chat deployment:", settings.deployment, "| completions deployment:", settings.completions_deployment)
"""
    return text


CLEANUP = """\
client.close()
if emu:
    emu.stop()
"""
