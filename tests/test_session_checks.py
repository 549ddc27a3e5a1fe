"""Header checks and rejects: test cases 2i, 2k, 2o, 2q, 2r, 7, 14a-14i, reverse routing.

Dictionary-driven cases use the QuickFIX XML dictionaries when they are available
(``../shared/quickfix/spec`` beside the repository) and skip otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixengine.codec import Message
from fixengine.session import admin
from fixengine.session import events as ev
from fixengine.session.state import SessionState
from tests.session_harness import Endpoint, FakeClock, Peer, body, config

SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "quickfix" / "spec"


def logged_on(begin: str = "FIX.4.4", **kw: Any) -> tuple[Endpoint, Peer]:
    clock = FakeClock()
    session_kw = {k: kw.pop(k) for k in ("dictionary", "app_dictionary") if k in kw}
    ep = Endpoint(config("acceptor", begin, **kw), clock, **session_kw)
    peer = Peer(clock, begin)
    return ep.logged_on_acceptor(peer), peer


def said(ep: Endpoint) -> list[str]:
    return [admin.describe(m) for m in ep.sent()]


def test_wrong_begin_string_logs_out_and_waits_for_the_answer() -> None:
    # 2i
    ep, peer = logged_on()
    ep.feed(peer.msg("1", (112, "id"), begin="FIX.4.1"))
    assert said(ep) == ["Logout('Incorrect BeginString')"]
    assert ep.session.state is SessionState.LOGOUT_SENT
    assert ep.session.next_target_seq == 3
    ep.feed(peer.msg("5"))
    assert said(ep) == [] and ep.disconnect_requested


def test_wrong_comp_id_is_rejected_then_logged_out() -> None:
    # 2k
    for kw in ({"sender": "WT"}, {"target": "DLSI"}, {"sender": "WT", "target": "DLSI"}):
        ep, peer = logged_on()
        ep.feed(peer.order(**kw))
        assert said(ep) == ["Reject(2, 9, None, 'CompID problem')", "Logout()"]
        assert ep.session.next_target_seq == 3
        assert ep.received_app() == []


def test_sending_time_out_of_range_is_rejected_then_logged_out() -> None:
    # 2o
    for offset in (-121, 121):
        ep, peer = logged_on()
        ep.feed(peer.heartbeat(sending_time=ep.clock.now + offset))
        assert said(ep) == ["Reject(2, 10, None, 'SendingTime accuracy problem')", "Logout()"]


def test_sending_time_window_is_configurable_and_can_be_switched_off() -> None:
    ep, peer = logged_on(max_latency=5)
    ep.feed(peer.heartbeat(sending_time=ep.clock.now - 4))
    assert said(ep) == []
    ep.feed(peer.heartbeat(sending_time=ep.clock.now - 6))
    assert said(ep)[0].startswith("Reject(3, 10")
    ep2, peer2 = logged_on(check_latency=False)
    ep2.feed(peer2.heartbeat(sending_time=ep2.clock.now - 3600))
    assert said(ep2) == []


def test_missing_msg_seq_num_logs_out_and_disconnects() -> None:
    ep, peer = logged_on()
    raw = peer.msg("0")
    m = Message.from_fields([(t, v) for t, v in _decode(raw).fields() if t not in (9, 10, 34)])
    ep.feed(m.encode())
    assert said(ep) == ["Logout('MsgSeqNum(34) missing or invalid')"]
    assert ep.disconnect_requested


def _decode(raw: bytes) -> Message:
    from fixengine.codec import decode

    return decode(raw)


def test_missing_header_fields_are_rejected_without_a_dictionary() -> None:
    # 14b (without a dictionary the session still checks what it needs)
    ep, peer = logged_on()
    raw = peer.msg("0")
    fields = [(t, v) for t, v in _decode(raw).fields() if t not in (9, 10, 56)]
    ep.feed(Message.from_fields(fields).encode())
    assert said(ep) == ["Reject(2, 1, 56, 'Required tag missing')"]
    assert ep.session.next_target_seq == 3


def test_malformed_sending_time_is_an_incorrect_data_format() -> None:
    ep, peer = logged_on()
    ep.feed(peer.heartbeat(sending_time=b"yesterday-noon-ish"))
    assert said(ep) == ["Reject(2, 6, 52, 'Incorrect data format for value')"]


def test_received_reject_is_reported_and_consumes_its_number() -> None:
    # 7
    ep, peer = logged_on()
    ep.feed(peer.msg("3", (45, 1)))
    assert len(ep.of(ev.RejectReceived)) == 1
    assert ep.session.next_target_seq == 3 and said(ep) == []


def test_test_request_is_answered_with_its_id() -> None:
    # 4b
    ep, peer = logged_on()
    ep.feed(peer.msg("1", (112, "HELLO")))
    (answer,) = ep.sent()
    assert body(answer) == body(admin.heartbeat(b"HELLO"))


def test_test_request_without_id_is_rejected() -> None:
    ep, peer = logged_on()
    ep.feed(peer.msg("1"))
    assert said(ep) == ["Reject(2, 1, 112, 'Required tag missing')"]


def test_rejects_reverse_the_routing_fields() -> None:
    ep, peer = logged_on()
    ep.feed(peer.msg("0", target="", header=[(115, "JCD"), (116, "CS"), (144, "CHI")]))
    (rej,) = ep.sent()
    assert rej.get(128) == b"JCD" and rej.get(129) == b"CS" and rej.get(145) == b"CHI"
    assert 115 not in rej


def test_fix40_reject_puts_the_tag_in_the_text() -> None:
    ep, peer = logged_on("FIX.4.0")
    ep.feed(peer.msg("0", target=""))
    (rej,) = ep.sent()
    assert body(rej) == [(35, b"3"), (45, b"2"), (58, b"Tag specified without a value (56)")]


# -- application rejects (2r) -----------------------------------------------------------
def test_business_reject_for_an_unsupported_message_type() -> None:
    ep, peer = logged_on()
    ep.feed(peer.msg("8", (37, "id")))
    (msg,) = ep.received_app()
    ep.session.send_business_reject(msg, 3, "Unsupported Message Type", ep.clock.now)
    (rej,) = ep.sent()
    assert body(rej) == body(admin.business_message_reject(2, b"8", 3, "Unsupported Message Type"))
    assert rej.get(34) == b"2"


def test_business_reject_under_fixt_carries_default_appl_ver_id() -> None:
    clock = FakeClock()
    ep = Endpoint(config("acceptor", "FIXT.1.1"), clock)
    peer = Peer(clock, "FIXT.1.1")
    ep.connect().feed(peer.logon(30, (1137, 9)))
    ep.sent()
    ep.feed(peer.msg("8", (37, "id")))
    (msg,) = ep.received_app()
    ep.session.send_business_reject(msg, 3, "Unsupported Message Type", clock.now)
    (rej,) = ep.sent()
    assert rej.get(1137) == b"9" and rej.get(380) == b"3"


def test_fix41_has_no_business_reject_and_uses_a_session_reject() -> None:
    ep, peer = logged_on("FIX.4.1")
    ep.feed(peer.msg("8", (37, "id")))
    (msg,) = ep.received_app()
    ep.session.send_business_reject(msg, 3, "Unsupported message type", ep.clock.now)
    (rej,) = ep.sent()
    assert body(rej) == [(35, b"3"), (45, b"2"), (58, b"Unsupported message type")]


# -- with a data dictionary ---------------------------------------------------------------
def dictionary(name: str) -> Any:
    path = SPEC / f"{name}.xml"
    if not path.exists():
        pytest.skip(f"QuickFIX dictionaries not found at {SPEC}")
    from fixengine.dictionary import load

    return load(str(path))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # 14a
        ([(999, "HI")], "Reject(2, 0, 999, 'Invalid tag number')"),
        # 14c
        ([(55, "MSFT")], "Reject(2, 2, 55, 'Tag not defined for this message type')"),
    ],
)
def test_dictionary_validation_rejects_bad_heartbeats(
    fields: list[tuple[int, str]], expected: str
) -> None:
    ep, peer = logged_on(dictionary=dictionary("FIX44"))
    ep.feed(peer.msg("0", *fields))
    assert said(ep) == [expected]
    assert ep.session.next_target_seq == 3


def test_invalid_msg_type_is_rejected_without_a_ref_tag() -> None:
    # 2q
    ep, peer = logged_on(dictionary=dictionary("FIX44"))
    ep.feed(peer.msg("*"))
    (rej,) = ep.sent()
    assert body(rej) == [(35, b"3"), (45, b"2"), (58, b"Invalid MsgType"), (372, b"*"),
                         (373, b"11")]  # fmt: skip


def test_valid_application_message_passes_the_dictionary() -> None:
    ep, peer = logged_on(dictionary=dictionary("FIX44"))
    ep.feed(peer.order())
    assert said(ep) == [] and len(ep.received_app()) == 1


def test_fields_without_value_can_be_allowed() -> None:
    # validate/CheckFieldsHaveValues.def
    ep, peer = logged_on(dictionary=dictionary("FIX44"), validate_fields_have_values=False)
    ep.feed(peer.msg("1", (112, "")))
    (answer,) = ep.sent()
    assert body(answer) == [(35, b"0"), (112, b"")]
    ep2, peer2 = logged_on(dictionary=dictionary("FIX44"))
    ep2.feed(peer2.msg("1", (112, "")))
    assert said(ep2) == ["Reject(2, 4, 112, 'Tag specified without a value')"]


def test_invalid_logon_is_disconnected_when_a_dictionary_rejects_it() -> None:
    clock = FakeClock()
    ep = Endpoint(config(), clock, dictionary=dictionary("FIX44"))
    ep.connect().feed(Peer(clock).logon(30, (999, "x")))
    assert ep.sent() == [] and ep.disconnect_requested


@given(st.integers(0, 4_102_444_799_999), st.sampled_from([0, 3, 6, 9]))
@settings(max_examples=200)
def test_sending_time_parser_agrees_with_the_field_parser(millis: int, precision: int) -> None:
    from fixengine.fields import format_utc_timestamp, parse_utc_timestamp_ns
    from fixengine.session.session import _parse_time

    raw = format_utc_timestamp(millis * 1_000_000, precision)
    parsed = _parse_time(raw)
    assert parsed is not None
    assert abs(parsed - parse_utc_timestamp_ns(raw) / 1e9) < 1e-3


@pytest.mark.parametrize(
    "raw",
    [b"", b"20250101-00:00", b"20251301-00:00:00", b"20250101-24:00:00", b"2025010100:00:00x",
     b"20250101-00:00:00.", b"20250101-00:00:00.12a", b"20250101-00:00:61", b"abcdefgh-00:00:00"],
)  # fmt: skip
def test_sending_time_parser_refuses_malformed_values(raw: bytes) -> None:
    from fixengine.session.session import _parse_time

    assert _parse_time(raw) is None


def test_data_fields_the_dictionary_defines_may_carry_soh() -> None:
    """The framer learns the dictionary's length/data pairs (e.g. FIX 5.0SP2 custom ones)."""

    class PairsOnly:  # only what the framer needs; validation is off
        data_fields = {5000: 5001}

    clock = FakeClock()
    peer = Peer(clock)
    ep = Endpoint(config(use_data_dictionary=False), clock, dictionary=PairsOnly())
    ep.logged_on_acceptor(peer)
    # the codec refuses SOH in a value it does not know as data: patch the frame by hand
    frame = bytearray(peer.msg("C", (5000, 7), (5001, b"ab\x02cd\x02e"), (58, "x")))
    frame[:-7] = frame[:-7].replace(b"ab\x02cd\x02e", b"ab\x01cd\x01e")
    frame[-7:] = b"10=%03d\x01" % (sum(frame[:-7]) % 256)
    ep.feed(bytes(frame))
    (msg,) = ep.received_app()
    assert msg.get(5001) == b"ab\x01cd\x01e" and msg.get(58) == b"x"
