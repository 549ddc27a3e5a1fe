"""asyncio transport: binds sans-IO sessions to TCP (optionally TLS) sockets.

Only this package (with ``sim/`` and ``cli.py``) touches sockets, the event loop
and the clock. :class:`Initiator` connects out, :class:`Acceptor` listens for many
sessions; both drive each session through a :class:`SessionDriver`.
"""

from __future__ import annotations

from .acceptor import Acceptor, AcceptorOptions, SessionProvider, acceptor_key
from .connection import Connection, SessionDriver, SessionListener, TransportOptions
from .initiator import Initiator, InitiatorOptions, backoff_delay
from .loop import IdlePoller, IdleStrategy, new_event_loop, run, uvloop_available, uvloop_enabled
from .tls import client_context, load_passphrase, server_context

__all__ = [
    "Acceptor",
    "AcceptorOptions",
    "Connection",
    "IdlePoller",
    "IdleStrategy",
    "Initiator",
    "InitiatorOptions",
    "SessionDriver",
    "SessionListener",
    "SessionProvider",
    "TransportOptions",
    "acceptor_key",
    "backoff_delay",
    "client_context",
    "load_passphrase",
    "new_event_loop",
    "run",
    "server_context",
    "uvloop_available",
    "uvloop_enabled",
]
