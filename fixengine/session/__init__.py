"""The FIX session layer: a sans-IO state machine, its stores and its configuration.

:class:`Session` is driven by the transport (``connection_made``, ``receive_data``,
``handle_timer``, ``connection_lost``) and by the application (``send``, ``logout``,
``send_business_reject``); it is drained with ``next_event()`` and ``data_to_send()``.
"""

from __future__ import annotations

from . import admin, events
from .config import SessionConfig, SessionID
from .schedule import SessionSchedule
from .session import Session
from .state import SessionState
from .store import MemoryStore, MessageStore

__all__ = [
    "MemoryStore",
    "MessageStore",
    "Session",
    "SessionConfig",
    "SessionID",
    "SessionSchedule",
    "SessionState",
    "admin",
    "events",
]
