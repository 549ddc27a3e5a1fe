"""Session events stay immutable value objects, whatever way they are built."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

from fixengine.codec import Message
from fixengine.session import events as ev


@pytest.mark.parametrize("kind", [ev.MessageReceived, ev.AdminMessageReceived])
def test_message_events_are_frozen_values(kind: Any) -> None:
    msg = Message(b"8")
    event = kind(msg)
    assert event.message is msg
    assert event == kind(message=Message(b"8"))
    assert event != kind(Message(b"0"))
    assert issubclass(type(event), ev.Event)
    assert repr(event) == f"{kind.__name__}(message={msg!r})"
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.message = Message(b"0")
    assert [f.name for f in dataclasses.fields(event)] == ["message"]
    assert dataclasses.replace(event, message=Message(b"0")) == kind(Message(b"0"))
    assert pickle.loads(pickle.dumps(event)) == event
    match event:
        case kind(message=m):
            assert m is msg
        case _:  # pragma: no cover
            pytest.fail("no match")


def test_message_events_need_their_message() -> None:
    with pytest.raises(TypeError):
        ev.MessageReceived()  # type: ignore[call-arg]
