"""The emulator's live settings: the few values a test or notebook changes while the emulator runs.

Why one small object: the parts that read these (inference, Batch API, batch worker, control routes) get
this object and nothing else of the emulator, and ``emu.stream_delay = 0.05`` or ``PATCH /_emulator/config``
changes it for all of them at once, on the next request, without any part knowing who set it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Generic, TypeVar, cast, overload


@dataclass
class Tunables:
    """Values read on every use (never copied), so a change takes effect on the next request.

    Field order is the order of ``GET /_emulator/config``.
    """

    token_lifetime: float = 3600.0  # seconds a managed-identity token lives
    stream_delay: float = 0.0  # seconds between stream events
    region: str = "East US"  # the x-ms-region header
    seed: int = 0  # mixed into generated text, embeddings and batch line order
    rate_limit_headers: str = "full"  # which rate-limit headers answers carry (see ratelimit.py's profiles)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


T = TypeVar("T")


class WriteThrough(Generic[T]):
    """An ``Emulator`` attribute that lives on one of its shared state objects, so a change is seen by every part
    at once (``emu.stream_delay = 0.05`` writes ``emu._tunables.stream_delay``); ``check`` validates (and may
    convert) a value before it is written, raising ValueError for a bad one."""

    def __init__(self, holder: str, name: str, check: Callable[[Any], T] | None = None) -> None:
        self.holder, self.name, self.check = holder, name, check

    @overload
    def __get__(self, obj: None, owner: type) -> WriteThrough[T]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> T: ...

    def __get__(self, obj: object | None, owner: type) -> WriteThrough[T] | T:
        if obj is None:
            return self
        return cast(T, getattr(getattr(obj, self.holder), self.name))

    def __set__(self, obj: object, value: T) -> None:
        setattr(getattr(obj, self.holder), self.name, value if self.check is None else self.check(value))
