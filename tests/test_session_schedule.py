"""A session following its schedule: refused outside it, logged out at its end, reset per period."""

from __future__ import annotations

import datetime as dt

from fixengine.session import admin
from fixengine.session import events as ev
from fixengine.session.store import MemoryStore
from tests.session_harness import Endpoint, FakeClock, Peer, config

UTC = dt.timezone.utc


def at(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()


def daily(clock: FakeClock, store: MemoryStore | None = None) -> Endpoint:
    cfg = config(start_time=dt.time(8), end_time=dt.time(17))
    return Endpoint(cfg, clock, store=store)


def test_connection_outside_the_schedule_is_dropped() -> None:
    clock = FakeClock(at("2025-03-05 07:30"))
    ep = daily(clock).connect()
    assert ep.of(ev.DisconnectRequested) == [ev.DisconnectRequested("outside the session schedule")]


def test_store_of_an_earlier_period_is_reset_before_logon() -> None:
    clock = FakeClock(at("2025-03-05 09:00"))
    store = MemoryStore(at("2025-03-04 09:00"))  # yesterday's session
    store.set_next_sender_seq(50)
    store.set_next_target_seq(70)
    ep = daily(clock, store).connect()
    assert ep.of(ev.StoreReset) == [ev.StoreReset("new session period")]
    ep.feed(Peer(clock).logon())
    (answer,) = ep.sent()
    assert answer.get(34) == b"1"
    assert store.creation_time == clock.now


def test_store_of_the_current_period_is_kept() -> None:
    clock = FakeClock(at("2025-03-05 12:00"))
    store = MemoryStore(at("2025-03-05 08:30"))
    store.set_next_target_seq(5)
    ep = daily(clock, store).connect()
    assert not ep.of(ev.StoreReset)
    assert ep.session.next_target_seq == 5


def test_logged_on_session_logs_out_when_the_window_ends() -> None:
    clock = FakeClock(at("2025-03-05 16:59"))
    ep = daily(clock)
    peer = Peer(clock)
    ep.logged_on_acceptor(peer, heart_bt_int=0)
    assert ep.session.get_timer() == at("2025-03-05 17:00")
    ep.tick(61)
    assert [admin.describe(m) for m in ep.sent()] == ["Logout('Session schedule ended')"]
    ep.feed(peer.msg("5"))
    assert ep.disconnect_requested


def test_a_disconnected_session_resets_when_its_next_period_starts() -> None:
    clock = FakeClock(at("2025-03-05 18:00"))
    store = MemoryStore(at("2025-03-05 08:00"))
    store.set_next_sender_seq(9)
    ep = daily(clock, store)
    ep.session.handle_timer(clock.now)  # tells the session what time it is
    assert ep.session.get_timer() == at("2025-03-06 08:00")
    ep.tick(14 * 3600 + 1)
    assert ep.of(ev.StoreReset) == [ev.StoreReset("new session period")]
    assert store.next_sender_seq() == 1


def test_non_stop_session_never_resets_for_the_calendar() -> None:
    clock = FakeClock(at("2025-03-05 18:00"))
    store = MemoryStore(at("2020-01-01 00:00"))
    store.set_next_sender_seq(9)
    ep = Endpoint(config(), clock, store=store).connect()
    assert not ep.of(ev.StoreReset) and ep.session.next_sender_seq == 9
