"""Modes: how this emulated resource is configured, for the answers a real resource gives when it is set up
so (or when the caller is not set up for it).

Why modes and not faults: a fault is one bad answer; a mode is a property of the resource that holds for every
request until it changes — exactly how a missing role assignment, ``disableLocalAuth`` or a firewall behave on
Azure. Code that passes offline with the defaults can be tried against each before it meets them for real.

    missing_role        valid bearer tokens get 401 PermissionDenied (no "Cognitive Services OpenAI User")
    key_auth_disabled   any api-key gets 403 AuthenticationTypeDisabled (the resource has disableLocalAuth)
    network_rules       every /openai request gets 403 "Access denied due to Virtual Network/Firewall rules."
    async_filter        streams use the Asynchronous Filter: text at once, annotation chunks after the finish
    flagged_words       with async_filter: a text segment containing one of these words is annotated
                        ``filtered: true`` (as the custom blocklist ``emulator-flagged-words``)
    validation          check parameters like the service (unknown names, roles, ranges, context length);
                        on by default, off for code that must reach the generator with odd payloads
    unknown_model       on the v1 routes a ``model`` that names no deployment gets 400 ``unknown_model``
                        ("Unknown model: X", with ``details``) instead of 404 DeploymentNotFound
    simulator_not_found an unknown deployment gets 404 ``{"error": "Deployment X not found"}``, no code, as
                        Microsoft's Azure OpenAI API simulator answers (error_shapes.py has the sources)

One ``Modes`` object is shared by the parts that read it (auth, inference) and the control surface that sets
it (``emu.modes``, ``PATCH /_emulator/config {"modes": {...}}``, ``python -m rest_client.emulator --mode …``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FLAGS = ("missing_role", "key_auth_disabled", "network_rules", "async_filter", "validation", "unknown_model",
         "simulator_not_found")
BLOCKLIST_ID = "emulator-flagged-words"


@dataclass
class Modes:
    """The resource's configuration; fields are read on every request (never copied)."""

    missing_role: bool = False
    key_auth_disabled: bool = False
    network_rules: bool = False
    async_filter: bool = False
    flagged_words: tuple[str, ...] = ()
    validation: bool = True
    unknown_model: bool = False
    simulator_not_found: bool = False

    def update(self, fields: Mapping[str, Any]) -> None:
        """Set several fields at once, all or nothing; ValueError names a bad field or value."""
        checked = checked_modes(fields)
        for name, value in checked.items():
            setattr(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["flagged_words"] = list(self.flagged_words)
        return values


def checked_modes(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields as ``Modes`` values, or ValueError (unknown name, a flag that is not a bool, words not a list)."""
    checked: dict[str, Any] = {}
    for name, value in fields.items():
        if name in FLAGS:
            if not isinstance(value, bool):
                raise ValueError(f"mode {name} must be true or false, not {value!r}")
            checked[name] = value
        elif name == "flagged_words":
            words = [value] if isinstance(value, str) else value
            if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) and w.strip() for w in words):
                raise ValueError("flagged_words must be a list of non-empty words")
            checked[name] = tuple(w.strip().lower() for w in words)
        else:
            raise ValueError(f"unknown mode {name!r}; modes: {', '.join((*FLAGS, 'flagged_words'))}")
    return checked
