"""Heartbeats and TestRequest on a fake clock: test cases 4a, 4b and 6."""

from __future__ import annotations

from typing import Any

from fixengine.session import admin
from fixengine.session import events as ev
from tests.session_harness import Endpoint, FakeClock, Peer, config


def logged_on(heart_bt_int: int = 6, **kw: Any) -> tuple[Endpoint, Peer]:
    clock = FakeClock()
    ep = Endpoint(config(**kw), clock)
    peer = Peer(clock)
    return ep.logged_on_acceptor(peer, heart_bt_int), peer


def said(ep: Endpoint) -> list[str]:
    return [admin.describe(m) for m in ep.sent()]


def test_heartbeat_after_heartbeat_interval_without_sending() -> None:
    # 4a
    ep, peer = logged_on(6)
    assert ep.session.get_timer() == ep.clock.now + 6
    ep.tick(5.9)
    assert said(ep) == []
    ep.feed(peer.heartbeat())  # receiving does not delay our heartbeat
    ep.tick(0.1)
    assert said(ep) == ["Heartbeat()"]
    ep.tick(5.9)
    assert said(ep) == []


def test_sending_postpones_the_heartbeat() -> None:
    ep, peer = logged_on(6)
    ep.tick(4)
    ep.feed(peer.msg("1", (112, "X")))
    assert said(ep) == ["Heartbeat('X')"]
    ep.tick(5.9)
    assert said(ep) == []


def test_test_request_after_silence_plus_allowance_then_disconnect() -> None:
    # 6: heartbeats at 6 and 12; nothing received -> TestRequest at 7.2, disconnect at 14.4
    ep, _ = logged_on(6)
    ep.tick(6)
    assert said(ep) == ["Heartbeat()"]
    ep.tick(1.1)
    assert said(ep) == []
    ep.tick(0.2)
    assert said(ep) == ["TestRequest('TEST')"]
    assert ep.of(ev.HeartbeatMissed) == [ev.HeartbeatMissed("TEST")]
    ep.tick(7.0)  # no heartbeat while the TestRequest is outstanding
    assert said(ep) == [] and not ep.disconnect_requested
    ep.tick(0.2)
    assert ep.of(ev.DisconnectRequested) == [
        ev.DisconnectRequested("Timed out waiting for heartbeat")
    ]
    assert ep.of(ev.LoggedOut) == [ev.LoggedOut("Timed out waiting for heartbeat")]


def test_answered_test_request_restores_normal_heartbeats() -> None:
    ep, peer = logged_on(6)
    ep.tick(7.2)
    assert said(ep) == ["Heartbeat()", "TestRequest('TEST')"]
    ep.feed(peer.heartbeat((112, "TEST")))
    ep.tick(6)
    assert said(ep) == ["Heartbeat()"]
    assert not ep.disconnect_requested


def test_acceptance_script_6_timeline() -> None:
    # 6_SendTestRequest: hb, (peer hb), hb, TR, (peer hb), hb, (peer hb), hb, TR, disconnect
    ep, peer = logged_on(6)
    got: list[str] = []
    for _ in range(100):
        ep.tick(0.5)
        out = said(ep)
        got += out
        if out == ["TestRequest('TEST')"] and len(got) < 5:
            ep.feed(peer.heartbeat((112, "TEST")))
        elif out == ["Heartbeat()"] and got.count("Heartbeat()") in (1, 3):
            ep.feed(peer.heartbeat())
        if ep.disconnect_requested:
            break
    assert got == ["Heartbeat()", "Heartbeat()", "TestRequest('TEST')", "Heartbeat()",
                   "Heartbeat()", "TestRequest('TEST')"]  # fmt: skip
    assert ep.disconnect_requested


def test_custom_allowance_moves_the_test_request() -> None:
    ep, _ = logged_on(10, test_request_allowance=0.5)
    ep.tick(14.9)
    assert said(ep) == ["Heartbeat()"]
    ep.tick(0.1)
    assert said(ep) == ["TestRequest('TEST')"]


def test_zero_heartbeat_interval_means_no_timer() -> None:
    ep, _ = logged_on(0)
    assert ep.session.get_timer() is None
    ep.tick(3600)
    assert said(ep) == [] and not ep.disconnect_requested


def test_timer_is_the_earliest_deadline() -> None:
    ep, peer = logged_on(10)
    now = ep.clock.now
    assert ep.session.get_timer() == now + 10  # heartbeat before the 12 s probe
    ep.tick(9)
    ep.feed(peer.msg("1", (112, "x")))  # we answer: next heartbeat at 19; probe at 21
    ep.sent()
    assert ep.session.get_timer() == now + 19
