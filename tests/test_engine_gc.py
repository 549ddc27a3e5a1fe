"""GcFreeze: an engine started with it freezes the start-up heap out of the collector."""

from __future__ import annotations

import asyncio
import gc

from fixengine.application import Engine
from fixengine.settings import parse_settings

SETTINGS = """
[DEFAULT]
BeginString=FIX.4.4
HeartBtInt=30
StoreType=memory
UseDataDictionary=N
ConnectionType=initiator
SocketConnectHost=127.0.0.1
SocketConnectPort=1

[SESSION]
SenderCompID=A
TargetCompID=B

[SESSION]
SenderCompID=A
TargetCompID=C
{extra}
"""


def test_gc_freeze_is_engine_wide_and_off_by_default() -> None:
    plain = parse_settings(SETTINGS.format(extra=""), "gc.cfg")
    assert not Engine.from_settings(plain, load_dictionaries=False).gc_freeze
    one = parse_settings(SETTINGS.format(extra="GcFreeze=Y"), "gc.cfg")
    assert [s.gc_freeze for s in one] == [False, True]
    assert Engine.from_settings(one, load_dictionaries=False).gc_freeze


def test_started_engine_freezes_what_exists_and_a_plain_one_does_not() -> None:
    class Marker:
        pass

    async def scenario(freeze: bool) -> tuple[int, bool]:
        gc.unfreeze()
        before = Marker()
        engine = Engine(gc_freeze=freeze)
        await engine.start()
        try:
            tracked = any(obj is before for obj in gc.get_objects())
            return gc.get_freeze_count(), tracked
        finally:
            await engine.stop()
            gc.unfreeze()

    try:
        frozen, tracked = asyncio.run(scenario(True))
        assert frozen > 0 and not tracked  # the marker left the collector's generations
        frozen, tracked = asyncio.run(scenario(False))
        assert frozen == 0 and tracked
    finally:
        gc.unfreeze()
