"""Message stores: where a session keeps its sequence numbers and sent messages.

Every store implements :class:`MessageStore`. The session calls it synchronously
(it is the one dependency handed to the sans-IO state machine): ``save_sent`` runs
*before* the bytes are handed to the transport, so a crash can never leave a sent
message the store does not know. :class:`MemoryStore` keeps everything in memory;
the durable stores live in :mod:`.store_file` and :mod:`.store_sqlite`.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["MemoryStore", "MessageStore"]


@runtime_checkable
class MessageStore(Protocol):
    """What a session needs from persistence."""

    @property
    def creation_time(self) -> float:
        """UTC epoch seconds when the current session period's store was reset."""
        ...

    def next_sender_seq(self) -> int:
        """MsgSeqNum the next outgoing message gets."""
        ...

    def next_target_seq(self) -> int:
        """MsgSeqNum expected on the next incoming message."""
        ...

    def set_next_sender_seq(self, seq: int) -> None:
        """Set the next outgoing MsgSeqNum (e.g. after a SequenceReset we sent)."""
        ...

    def set_next_target_seq(self, seq: int) -> None:
        """Set the next expected incoming MsgSeqNum."""
        ...

    def save_sent(self, seq: int, data: bytes) -> None:
        """Persist outgoing message ``seq`` (wire bytes) and set next sender seq to seq+1.

        Both happen as one step: after a crash either both or neither are visible.
        """
        ...

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Stored outgoing messages with begin <= seq <= end, ascending by seq."""
        ...

    def reset(self, now: float) -> None:
        """Start a new session period: drop messages, both sequence numbers to 1."""
        ...

    def refresh(self) -> None:
        """Reload state from the backing medium (no-op for memory)."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


class MemoryStore:
    """A non-durable store: fast, for tests and for sessions that need no recovery."""

    def __init__(self, now: float | None = None) -> None:
        self._created = time.time() if now is None else now
        self._sender = 1
        self._target = 1
        self._messages: dict[int, bytes] = {}

    @property
    def creation_time(self) -> float:
        return self._created

    def next_sender_seq(self) -> int:
        return self._sender

    def next_target_seq(self) -> int:
        return self._target

    def set_next_sender_seq(self, seq: int) -> None:
        self._sender = seq

    def set_next_target_seq(self, seq: int) -> None:
        self._target = seq

    def save_sent(self, seq: int, data: bytes) -> None:
        self._messages[seq] = bytes(data)
        self._sender = seq + 1

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return sorted((s, m) for s, m in self._messages.items() if begin <= s <= end)

    def reset(self, now: float) -> None:
        self._created = now
        self._sender = 1
        self._target = 1
        self._messages.clear()

    def refresh(self) -> None:
        return None

    def close(self) -> None:
        return None
