"""Types of the compiled fast path of the simulator (built from ext/_sim.pyx)."""

from types import ModuleType
from typing import Any

from .codec import Message

FAST_TAGS: tuple[int, ...]

def twin() -> ModuleType: ...
def stamp(now: float) -> bytes: ...
def on_message(exchange: Any, session: Any, message: Message) -> None: ...
def on_event(exchange: Any, session: Any, event: Any) -> None: ...

class FastPath:
    exchange: Any
    fast: dict[Any, tuple[Any, ...]]
    opened: set[str]
    engine: Any
    def __init__(self, exchange: Any) -> None: ...
    def fill(self, session: Any, message: Message) -> bool: ...
