"""Every input in ``tests/fuzz_corpus/`` replays cleanly, and the session bugs the fuzzer
found stay fixed (each also has its input in the corpus).

A corpus file is what ``fixengine bench fuzz --save DIR`` writes (shrunk with
:func:`fixengine.bench.fuzz.minimize`): the target, the recorded input, the error it
once raised. ``kind`` "seed" marks inputs kept for the paths they reach, not for a
failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixengine import dictionary
from fixengine.bench import fuzz
from fixengine.codec import Message, decode, encode
from fixengine.session import events as ev
from fixengine.session.store_file import FileStore
from fixengine.session.store_sqlite import SqliteStore
from fixengine.validation import validate
from tests.session_harness import Endpoint, FakeClock, Peer, config

CORPUS = Path(__file__).parent / "fuzz_corpus"
FILES = sorted(CORPUS.glob("*.json"))


@pytest.fixture(scope="module")
def targets() -> Iterator[dict[str, fuzz.Target]]:
    made = {name: make() for name, make in fuzz.TARGETS.items()}
    yield made
    for target in made.values():
        target.close()


def test_corpus_is_not_empty() -> None:
    kinds = {json.loads(p.read_text())["target"] for p in FILES}
    assert kinds == {"framer", "decoder", "session"}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_corpus_input_replays_without_failure(path: Path, targets: dict[str, Any]) -> None:
    record = json.loads(path.read_text())
    assert record["input"], "corpus files carry the recorded input"
    stats = fuzz.replay(str(path), targets)
    assert stats, "the replay ran the target"


# -- the session bugs found, as behaviour ------------------------------------------------------
def _logged_on(store: Any = None, begin: str = "FIX.4.4") -> tuple[Endpoint, Peer]:
    clock = FakeClock()
    peer = Peer(clock, begin)
    endpoint = Endpoint(config("acceptor", begin), clock, store=store)
    endpoint.logged_on_acceptor(peer)
    return endpoint, peer


def test_logs_out_when_msgseqnum_has_more_digits_than_an_int_field_may() -> None:
    endpoint, peer = _logged_on()
    endpoint.feed(peer.heartbeat(seq=b"9" * 5000))  # type: ignore[arg-type]
    sent = endpoint.sent()
    assert [m.msg_type for m in sent] == [b"5"]
    assert sent[0].get(58) == b"MsgSeqNum(34) missing or invalid"
    assert endpoint.disconnect_requested


def test_disconnects_on_logon_whose_heartbtint_is_past_float_range() -> None:
    clock = FakeClock()
    peer = Peer(clock)
    endpoint = Endpoint(config(), clock).connect()
    endpoint.feed(peer.msg("A", (98, 0), (108, b"9" * 400)))
    assert endpoint.sent() == []
    [disconnect] = endpoint.of(ev.DisconnectRequested)
    assert "HeartBtInt" in disconnect.reason


@pytest.mark.parametrize("store_kind", ["file", "sqlite"])
def test_rejects_newseqno_past_64_bits_instead_of_crashing_the_store(
    store_kind: str, tmp_path: Path
) -> None:
    cfg = config()
    store: Any
    if store_kind == "file":
        store = FileStore(tmp_path, cfg.session_id, fsync="never", now=FakeClock().now)
    else:
        store = SqliteStore(tmp_path, cfg.session_id, fsync="never", now=FakeClock().now)
    try:
        endpoint, peer = _logged_on(store)
        endpoint.feed(peer.msg("4", (36, b"%d" % (2**64 + 5))))
        [reject] = endpoint.of(ev.RejectSent)
        assert (reject.reason, reject.tag) == (6, 36)  # Incorrect data format
        # a rejected SequenceReset does not consume its MsgSeqNum (QuickFIX)
        assert endpoint.session.next_target_seq == 2
        assert store.next_target_seq() == 2
    finally:
        store.close()


def test_fix40_initiator_logon_never_carries_reset_seq_num_flag() -> None:
    clock = FakeClock()
    endpoint = Endpoint(config("initiator", "FIX.4.0", reset_on_logon=True), clock).connect()
    [logon] = endpoint.sent()
    assert logon.msg_type == b"A"
    assert 141 not in logon
    assert endpoint.of(ev.StoreReset)  # the reset itself still happens


def test_fix41_initiator_logon_carries_reset_seq_num_flag() -> None:
    endpoint = Endpoint(config("initiator", "FIX.4.1", reset_on_logon=True), FakeClock()).connect()
    [logon] = endpoint.sent()
    assert logon.get(141) == b"Y"


def test_handle_timer_at_the_instant_get_timer_gave_always_moves_the_timer() -> None:
    # HeartBtInt 29 from a whole second past START: last_received + 34.8 is an instant at
    # which now - last_received rounds just below 34.8 (found by the fuzzer)
    clock = FakeClock(1_750_000_001.0)
    peer = Peer(clock)
    endpoint = Endpoint(config(), clock).connect()
    endpoint.feed(peer.logon(29))
    endpoint.sent()
    session = endpoint.session
    actions = []
    for _ in range(5):
        when = session.get_timer()
        if when is None:
            break
        clock.now = when
        session.handle_timer(when)
        after = session.get_timer()
        assert after is None or after > when
        actions.append([m.msg_type for m in endpoint.sent()])
    # heartbeat at 29 s, TestRequest at 34.8 s, then the disconnect at 69.6 s
    assert actions == [[b"0"], [b"1"], []]
    assert endpoint.disconnect_requested


@pytest.mark.parametrize("count", [b"9" * 5000, b"0" * 5000 + b"1"])
def test_validate_compares_a_numingroup_of_thousands_of_digits_without_raising(
    count: bytes,
) -> None:
    msg = Message("W")
    for tag, value in ((49, "TW"), (56, "ISLD"), (34, 2), (52, "20250615-15:06:40.000")):
        msg.append(tag, value)
    msg.append(268, count)  # NoMDEntries
    msg.append(269, "7")
    verdict = validate(decode(encode(msg, "FIX.4.4")), dictionary.load("FIX44"))
    if count.endswith(b"9"):
        assert verdict is not None and (verdict.reason, verdict.tag) == (16, 268)
    else:  # leading zeros: the count is one, which is right
        assert verdict is None
