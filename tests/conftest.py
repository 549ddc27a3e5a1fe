"""Shared pytest fixtures.

Codec: ``codec`` runs a test once against the pure-Python twin ("py") and once
against the compiled core ("c"); ``compiled_codec`` gives the compiled module
alone. Both skip, saying why, when the extension is not built.

Simulator: ``simulator`` is a running exchange simulator on a free port.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest

_NOT_BUILT = "compiled codec fixengine._codec is not built (python setup.py build_ext --inplace)"


def _compiled() -> ModuleType:
    try:
        return importlib.import_module("fixengine._codec")
    except ImportError:
        pytest.skip(_NOT_BUILT)


@pytest.fixture(params=["py", "c"])
def codec(request: pytest.FixtureRequest) -> ModuleType:
    """The codec module under test: ``fixengine._codec_py`` or ``fixengine._codec``."""
    if request.param == "py":
        return importlib.import_module("fixengine._codec_py")
    return _compiled()


@pytest.fixture
def compiled_codec() -> ModuleType:
    """The compiled codec module (skips when it is not built)."""
    return _compiled()


@pytest.fixture
async def simulator() -> AsyncIterator[Any]:
    """The exchange simulator running in-process on a free loopback port (``simulator.port``).

    It accepts a Logon from any CompID pair (FIX.4.2 to FIXT.1.1), validates with the
    shipped dictionaries and fills orders at once; change that per session with
    ``simulator.set_fill(...)`` and inject faults with ``simulator.faults(...)``.
    """
    from fixengine.sim.server import Simulator

    async with Simulator() as sim:
        yield sim
