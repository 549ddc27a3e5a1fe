"""kill -9 of a peer process in the middle of two-way streams, several rounds.

One peer (the *victim*) is killed with SIGKILL at random moments and restarted from
the same settings file and file store; the other (the *survivor*) runs throughout.
Both send a numbered stream of orders. Between rounds the test reads the victim's
store directly (the process is gone, so its lock is free). At the end both stop
cleanly and the test checks, against the stores:

* the victim resumed with the sequence numbers its store held: each Logon after a
  restart carries exactly the store's next sender MsgSeqNum, no reset, no
  "MsgSeqNum too low";
* every message an application received is in the sender's store under its
  MsgSeqNum with the same content; no MsgSeqNum was used for two contents; a
  repeated delivery carries PossDupFlag=Y; first deliveries are in order;
* every application message in the victim's store reached the survivor (after the
  resends), and both sides end with matching sequence numbers.

What the victim's own application had not yet been handed when it died is the one
exception (see ``test_a_message_the_application_had_not_handled_survives_kill_9``):
it is counted precisely from the store and must be the only thing missing.
"""

from __future__ import annotations

import random
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from e2e_peer import (
    Pair,
    Peer,
    PeerGroup,
    StoreContents,
    message_log,
    peer_pair,
    stream_number,
    verify_stream,
    wait_until,
)

TIMEOUT = 30.0
ROUNDS = 5


@pytest.fixture
def group(tmp_path: Path) -> Iterator[PeerGroup]:
    with PeerGroup(tmp_path) as peers:
        yield peers


def _store_of(pair: Pair, peer: Peer) -> StoreContents:
    return pair.ini_store_contents() if peer is pair.ini else pair.acc_store_contents()


def _numbers(store: StoreContents) -> set[int]:
    return {n for msg in store.app_messages().values() if (n := stream_number(msg)) is not None}


def _admin(peer: Peer, msg_type: str) -> list[dict[str, Any]]:
    return [r for r in peer.records("admin") if r["type"] == msg_type]


def _kill_rounds(group: PeerGroup, victim_role: str, seed: str) -> dict[str, Any]:
    rng = random.Random(seed)
    stream = ["--count", "1000000", "--wait-logon"]
    pair = peer_pair(
        group,
        ini_args=[*stream, "--interval", "0.005" if victim_role == "initiator" else "0.01"],
        acc_args=[*stream, "--interval", "0.005" if victim_role == "acceptor" else "0.01"],
    )
    victim, survivor = (pair.ini, pair.acc) if victim_role == "initiator" else (pair.acc, pair.ini)
    pair.acc.start()
    pair.ini.start()

    expected_logons: list[int] = [1]  # next sender MsgSeqNum when each victim run started
    logged_on_runs: list[int] = []
    for rnd in range(ROUNDS):
        if rnd:
            victim.start()
        if rnd == 1:
            # any moment from start: connecting, logging on, resending or streaming
            time.sleep(rng.uniform(0.05, 1.0))
        else:
            wait_until(victim.logged_on_in_this_run, TIMEOUT, "victim logon", [victim, survivor])
            time.sleep(rng.uniform(0.05, 0.6))
        victim.kill()
        if victim.logged_on_in_this_run():
            logged_on_runs.append(expected_logons[-1])
        store = _store_of(pair, victim)
        run = victim.this_run()
        if run:  # it got as far as opening its store
            assert run[0]["next_sender"] == expected_logons[-1]
        expected_logons.append(store.next_sender)

    survivor.stop_sending()
    wait_until(lambda: survivor.records("stopped_sending"), TIMEOUT, "end of stream", [survivor])
    victim_numbers = _numbers(_store_of(pair, victim))
    victim.start("--no-send")
    wait_until(
        lambda: (
            victim.logged_on_in_this_run()
            and survivor.received_numbers() >= victim_numbers
            and victim.received_numbers() >= {r["n"] for r in survivor.sent()}
        ),
        TIMEOUT,
        "both streams delivered after the restarts",
        [victim, survivor],
    )
    assert pair.ini.terminate() == 0
    assert pair.acc.terminate() == 0

    victim_store, survivor_store = _store_of(pair, victim), _store_of(pair, survivor)
    # the victim's stream reached the survivor completely, each message once
    to_survivor = verify_stream(victim_store, survivor.received(), victim.origin)
    assert to_survivor.missing == set()
    assert set(to_survivor.deliveries.values()) == {1}
    assert to_survivor.numbers == sorted(victim_numbers)
    # the survivor's stream reached the victim completely: what the victim's session had
    # consumed but its application not yet handled was asked for again after the restart
    to_victim = verify_stream(survivor_store, victim.received(), survivor.origin)
    assert to_victim.missing == set(), sorted(to_victim.missing)
    # both ends agree on where the sequence numbers are
    assert victim_store.next_sender == survivor_store.next_target
    assert survivor_store.next_sender == victim_store.next_target
    # each restart logged on with the number its store held; no reset anywhere
    victim_logons = [r["seq"] for r in _admin(survivor, "A")]
    assert set(logged_on_runs) <= set(victim_logons) <= set(expected_logons)
    assert victim_logons == sorted(set(victim_logons))
    for peer in (victim, survivor):
        assert all(r.get("141") is None for r in _admin(peer, "A"))
        texts = [r.get("58") or "" for r in _admin(peer, "5")] + [
            r.get("text") or "" for r in peer.records("logout")
        ]
        assert not [t for t in texts if "too low" in t], texts
        assert not [r for r in peer.records("event") if r["name"] == "StoreReset"]
    return {
        "sent_by_victim": len(victim_numbers),
        "resent_to_survivor": len(to_survivor.possdup),
        "resent_to_victim": len(to_victim.possdup),
        "lost_in_victim_queue": len(to_victim.missing),
        "logons": len(victim_logons),
    }


def test_initiator_killed_at_random_moments_resumes_its_sequence_numbers(
    group: PeerGroup, record_property: Any
) -> None:
    stats = _kill_rounds(group, "initiator", "initiator-kill")
    record_property("stats", stats)
    print(stats)
    assert stats["sent_by_victim"] > 0 and stats["logons"] >= 2


def test_acceptor_killed_at_random_moments_resumes_its_sequence_numbers(
    group: PeerGroup, record_property: Any
) -> None:
    stats = _kill_rounds(group, "acceptor", "acceptor-kill")
    record_property("stats", stats)
    print(stats)
    assert stats["sent_by_victim"] > 0 and stats["logons"] >= 2


# -- the receiving side: delivery to the application ------------------------------------------
def _slow_receiver(group: PeerGroup) -> Pair:
    pair = peer_pair(
        group,
        ini_args=["--count", "10", "--interval", "0", "--wait-logon"],
        acc_args=["--no-send", "--app-delay", "0.4"],
    )
    pair.acc.start()
    pair.ini.start()
    wait_until(lambda: pair.ini.records("stopped_sending"), TIMEOUT, "the burst", [pair.ini])
    wait_until(lambda: pair.acc.received(), TIMEOUT, "the first delivery", [pair.acc])
    return pair


def _restart_and_collect(pair: Pair) -> set[int]:
    pair.acc.start(args=["--no-send"])
    wait_until(pair.acc.logged_on_in_this_run, TIMEOUT, "logon", [pair.ini, pair.acc])
    assert pair.ini.terminate() == 0  # Logout handshake: everything in flight is processed
    assert pair.acc.terminate() == 0
    return pair.acc.received_numbers()


def test_a_message_the_application_had_not_handled_survives_kill_9(group: PeerGroup) -> None:
    pair = _slow_receiver(group)
    pair.acc.kill()  # nine orders are consumed by the session, not yet by the application
    assert _restart_and_collect(pair) == set(range(1, 11))


def test_a_clean_stop_delivers_every_consumed_message_to_a_slow_application(
    group: PeerGroup,
) -> None:
    pair = _slow_receiver(group)
    assert pair.acc.terminate() == 0
    assert _restart_and_collect(pair) == set(range(1, 11))


# -- a frozen process (SIGSTOP): no FIN, only silence -----------------------------------------
def test_a_frozen_acceptor_is_detected_by_test_request_and_the_stream_resumes(
    group: PeerGroup,
) -> None:
    count = 80  # 4 s of orders: the stream outlasts the freeze
    pair = peer_pair(
        group,
        ini_args=["--count", str(count), "--interval", "0.05", "--wait-logon"],
        acc_args=["--no-send"],
        heartbeat=1,
    )
    ini, acc = pair.ini, pair.acc
    acc.start()
    ini.start()
    wait_until(lambda: len(acc.received()) >= 5, TIMEOUT, "five orders", [ini, acc])
    assert acc.proc is not None
    acc.proc.send_signal(signal.SIGSTOP)
    try:
        # HeartBtInt=1: TestRequest after 1.2 s of silence, disconnect after 2.4 s
        wait_until(lambda: ini.records("logout"), TIMEOUT, "the heartbeat timeout", [ini])
    finally:
        acc.proc.send_signal(signal.SIGCONT)
    wait_until(
        lambda: (
            len(ini.records("logon")) == 2 and acc.received_numbers() >= set(range(1, count + 1))
        ),
        TIMEOUT,
        "a new logon and every order after the acceptor woke up",
        [ini, acc],
    )
    assert ini.terminate() == 0
    assert acc.terminate() == 0

    assert ini.records("logout")[0]["text"] == "Timed out waiting for heartbeat"
    probes = [r for r in message_log(pair.ini_log) if r["dir"] == "out" and r["type"] == "1"]
    assert probes and all(r["fields"][112] == "TEST" for r in probes)
    assert len(ini.records("logon")) == 2  # it reconnected once the acceptor answered again
    report = verify_stream(pair.ini_store_contents(), acc.received(), "I")
    assert report.numbers == list(range(1, count + 1)) and report.missing == set()
    assert set(report.deliveries.values()) == {1}
    assert report.possdup  # what was sent into the silence came again by resend
