"""fixengine: a FIX protocol engine with a compiled codec and a sans-IO session layer.

The names below are the public surface. The codec and errors load eagerly; the
session, engine, order router and simulator load on first use, so that
``import fixengine`` stays cheap for tools that only decode messages.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .codec import ACCELERATED, Message, Parser, decode, encode
from .errors import (
    ConfigError,
    FixError,
    GarbledMessage,
    GarbleReason,
    LocalProtocolError,
    RemoteProtocolError,
)
from .session.config import SessionConfig, SessionID

if TYPE_CHECKING:
    from .application import Application, Engine, SessionHandle
    from .dictionary import DataDictionary
    from .dictionary import load as load_dictionary
    from .orders.router import OrderRouter
    from .session.session import Session
    from .settings import load_settings
    from .sim.server import Simulator
    from .validation import Rejection, validate

__version__ = "0.1.0"

# name -> (module, attribute) loaded on first access
_LAZY: dict[str, tuple[str, str]] = {
    "Application": ("fixengine.application", "Application"),
    "DataDictionary": ("fixengine.dictionary", "DataDictionary"),
    "Engine": ("fixengine.application", "Engine"),
    "OrderRouter": ("fixengine.orders.router", "OrderRouter"),
    "Rejection": ("fixengine.validation", "Rejection"),
    "Session": ("fixengine.session.session", "Session"),
    "SessionHandle": ("fixengine.application", "SessionHandle"),
    "Simulator": ("fixengine.sim.server", "Simulator"),
    "load_dictionary": ("fixengine.dictionary", "load"),
    "load_settings": ("fixengine.settings", "load_settings"),
    "validate": ("fixengine.validation", "validate"),
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'fixengine' has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


__all__ = [
    "ACCELERATED",
    "Application",
    "ConfigError",
    "DataDictionary",
    "Engine",
    "FixError",
    "GarbleReason",
    "GarbledMessage",
    "LocalProtocolError",
    "Message",
    "OrderRouter",
    "Parser",
    "Rejection",
    "RemoteProtocolError",
    "Session",
    "SessionConfig",
    "SessionHandle",
    "SessionID",
    "Simulator",
    "__version__",
    "decode",
    "encode",
    "load_dictionary",
    "load_settings",
    "validate",
]
