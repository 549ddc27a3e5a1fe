"""Shared pytest fixtures.

Codec: ``codec`` runs a test once against the pure-Python twin ("py") and once
against the compiled core ("c"); ``compiled_codec`` gives the compiled module
alone. Both skip, saying why, when the extension is not built.
"""

from __future__ import annotations

import importlib
from types import ModuleType

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
