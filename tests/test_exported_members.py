"""The public surface of ``import fixengine`` is pinned: changing it is a decision."""

from __future__ import annotations

import subprocess
import sys

import fixengine

EXPECTED = {
    "ACCELERATED", "Application", "ConfigError", "DataDictionary", "Engine", "FixError",
    "GarbleReason", "GarbledMessage", "LocalProtocolError", "Message", "OrderRouter", "Parser",
    "Rejection", "RemoteProtocolError", "Session", "SessionConfig", "SessionHandle", "SessionID",
    "Simulator", "__version__", "decode", "encode", "load_dictionary", "load_settings", "validate",
}  # fmt: skip


def test_all_is_the_pinned_public_surface() -> None:
    assert set(fixengine.__all__) == EXPECTED


def test_every_exported_name_resolves() -> None:
    for name in fixengine.__all__:
        assert getattr(fixengine, name) is not None, name
    assert fixengine.load_dictionary("FIX44").begin_string == "FIX.4.4"


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        fixengine.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_import_stays_light() -> None:
    code = (
        "import sys, fixengine; "
        "print('asyncio' in sys.modules, 'fixengine.application' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
