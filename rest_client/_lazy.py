"""Names of a package loaded on first use (PEP 562), for ``rest_client`` and its ``responses`` family.

Why: ``python -m rest_client --help`` and ``import rest_client.emulator`` should not pay for importing
requests and tenacity, and ``responses/`` cannot import its calls eagerly (``payloads`` reads answers through
``responses.results``: an eager import would be circular). One helper, so both packages resolve names alike.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, exports: Mapping[str, tuple[str, ...]]
               ) -> tuple[dict[str, str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(where, __getattr__, __dir__)`` for ``package``: ``exports`` maps a relative module to its names; a name
    is imported from its module on first access and kept in the package's namespace."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return where, __getattr__, __dir__
