"""Event-loop selection: uvloop when it is installed, the stock asyncio loop otherwise.

uvloop is the default because the transport spends most of its time in the loop's
socket and timer machinery, where uvloop is several times cheaper. Set
``FIXENGINE_NO_UVLOOP=1`` (or pass ``use_uvloop=False``) to run on the stock loop,
e.g. to compare or to debug with asyncio's debug mode.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["loop_factory", "new_event_loop", "run", "uvloop_available", "uvloop_enabled"]

T = TypeVar("T")

_DISABLED = ("1", "true", "yes", "on")


def uvloop_available() -> bool:
    """True when uvloop can be imported."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def uvloop_enabled(use_uvloop: bool | None = None) -> bool:
    """Whether :func:`new_event_loop` would pick uvloop for this ``use_uvloop`` argument.

    ``None`` means "yes if installed, unless ``FIXENGINE_NO_UVLOOP`` is set".
    ``True`` insists on uvloop (ImportError if it is missing).
    """
    if use_uvloop is None:
        if os.environ.get("FIXENGINE_NO_UVLOOP", "").lower() in _DISABLED:
            return False
        return uvloop_available()
    return use_uvloop


def loop_factory(use_uvloop: bool | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """A zero-argument callable making new loops (for :class:`asyncio.Runner`)."""
    if uvloop_enabled(use_uvloop):
        import uvloop

        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    return asyncio.new_event_loop


def new_event_loop(use_uvloop: bool | None = None) -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop unless disabled (see :func:`uvloop_enabled`)."""
    return loop_factory(use_uvloop)()


def run(
    main: Coroutine[Any, Any, T], *, use_uvloop: bool | None = None, debug: bool | None = None
) -> T:
    """Run ``main`` to completion on a new loop (uvloop by default), like :func:`asyncio.run`."""
    factory = loop_factory(use_uvloop)
    if hasattr(asyncio, "Runner"):  # Python 3.11+
        with asyncio.Runner(loop_factory=factory, debug=debug) as runner:
            return runner.run(main)
    loop = factory()  # pragma: no cover - Python 3.10
    try:
        if debug is not None:
            loop.set_debug(debug)
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        asyncio.set_event_loop(None)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
