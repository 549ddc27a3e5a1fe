"""fixengine: a FIX protocol engine with a compiled codec and a sans-IO session layer."""

from __future__ import annotations

from .codec import ACCELERATED, Message, Parser, decode, encode
from .errors import (
    ConfigError,
    FixError,
    GarbledMessage,
    GarbleReason,
    LocalProtocolError,
    RemoteProtocolError,
)

__version__ = "0.1.0"

__all__ = [
    "ACCELERATED",
    "ConfigError",
    "FixError",
    "GarbleReason",
    "GarbledMessage",
    "LocalProtocolError",
    "Message",
    "Parser",
    "RemoteProtocolError",
    "__version__",
    "decode",
    "encode",
]
