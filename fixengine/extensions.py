"""The compiled extension modules (built from ``ext/``) and how a pure class takes one.

``FIXENGINE_NO_EXTENSIONS=1`` at run time makes every module use its pure-Python twin.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")


def compiled(name: str) -> ModuleType | None:
    """The extension module ``fixengine.<name>``, or None when it is not built or
    ``FIXENGINE_NO_EXTENSIONS`` is set."""
    if os.environ.get("FIXENGINE_NO_EXTENSIONS", "").lower() in ("1", "true", "yes"):
        return None
    try:
        return importlib.import_module(f"fixengine.{name}")
    except ImportError:
        return None


def with_compiled_base(pure: type[T], base: type, name: str) -> type[T]:
    """A subclass ``name`` of ``pure`` whose compiled ``base`` comes first: the methods
    ``base`` defines replace the pure ones, which stay the fallback for what it leaves."""
    cls = type(name, (base, pure), {"__doc__": pure.__doc__, "__module__": pure.__module__})
    cls.__qualname__ = name
    return cls


def compiled_subclass(
    pure: type[T],
    module: str,
    base: str,
    name: str,
    setup: Callable[[ModuleType], object] | None = None,
) -> type[T]:
    """``pure`` with the compiled class ``base`` of ``fixengine.<module>`` under it (see
    :func:`with_compiled_base`), after ``setup(module)``; ``pure`` itself when that
    module is not built or turned off."""
    core = compiled(module)
    if core is None:
        return pure
    if setup is not None:
        setup(core)
    return with_compiled_base(pure, getattr(core, base), name)
