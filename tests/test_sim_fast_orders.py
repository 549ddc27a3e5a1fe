"""The simulator's fast path for orders filled on arrival answers exactly as the general path.

Two exchanges get the same messages, one with ``fast_orders`` off: every report sent
(field for field), the counts, and the engine's orders and books must come out the same,
whatever the order flow: good orders, bad ones, duplicates, possible resends, resting
orders that cross, other fill models, tick sizes, FIX versions.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fixengine.sim.exchange as exchange_module
from fixengine.codec import Message
from fixengine.extensions import compiled
from fixengine.fields import format_utc_timestamp
from fixengine.orders.model import OrdStatus, Side
from fixengine.session.config import SessionConfig
from fixengine.sim import _fast_py
from fixengine.sim.exchange import Exchange, FillSpec
from fixengine.sim.faults import FaultInjected
from fixengine.sim.reports import (
    _LEFT_TO_PARSER,
    IdSource,
    _stamp,
    read_new_order,
    read_order,
    round_avg_px,
)

NOW = 1_700_000_000.123

#: The fast path's twins: the pure one, and the compiled one when it is built.
_COMPILED = compiled("_sim")
TWINS = [_fast_py] + ([_COMPILED] if _COMPILED is not None else [])


@pytest.fixture(autouse=True, params=TWINS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def twin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every test of this module runs with each twin of the fast path."""
    monkeypatch.setattr(exchange_module, "_FastPath", request.param.FastPath)
    return request.param


class Handle:
    """What the exchange needs of a session handle; keeps what it is sent."""

    def __init__(self, target: str, begin_string: str = "FIX.4.4") -> None:
        appl = "FIX.5.0SP2" if begin_string == "FIXT.1.1" else None
        self.config = SessionConfig(
            begin_string, "EXEC", target, role="acceptor", default_appl_ver_id=appl
        )
        self.session_id = self.config.session_id
        self.connection = None
        self.sent: list[list[tuple[int, bytes]]] = []
        self.rejected: list[tuple[bytes | None, int, str]] = []

    def send_nowait(self, msg: Message) -> int:
        self.sent.append(msg.fields())
        return len(self.sent)

    def reject(self, msg: Message, reason: int = 3, text: str = "") -> None:
        self.rejected.append((msg.get(11), reason, text))


def _exchange(fast: bool, begin_string: str, **kw: Any) -> tuple[Exchange, dict[str, Handle]]:
    fills = {"FAST": FillSpec("immediate"), "BOOK": FillSpec("none"), "PART": FillSpec("partial")}
    ex = Exchange(
        fill_for=lambda sid: fills[sid.target_comp_id],
        ids=IdSource("T"),
        clock=lambda: NOW,
        **kw,
    )
    ex.fast_orders = fast
    handles = {name: Handle(name, begin_string) for name in fills}
    for handle in handles.values():
        ex.on_create(handle)  # type: ignore[arg-type]
    return ex, handles


def _order(fields: list[tuple[int, bytes]]) -> Message:
    msg = Message(b"D")
    for tag, value in fields:
        msg.append(tag, value)
    return msg


def _outcome(ex: Exchange, handles: dict[str, Handle]) -> Any:
    engine = ex.engine
    return (
        {name: (h.sent, h.rejected) for name, h in handles.items()},
        ex.stats,
        engine.orders(live_only=False),
        {s: (b.depth(50), b.last_price, b.stops()) for s, b in engine.books().items()},
        [[getattr(o, f.name) for f in dataclasses.fields(o)] for o in engine._orders.values()],
        dict(engine._by_client),
        list(engine._done),
        engine.next_wakeup(),
    )


def _run(
    flow: list[tuple[str, list[tuple[int, bytes]]]], begin_string: str = "FIX.4.4", **kw: Any
) -> None:
    results = []
    for fast in (False, True):
        ex, handles = _exchange(fast, begin_string, **kw)
        for who, fields in flow:
            ex.on_message(handles[who], _order(fields))  # type: ignore[arg-type]
        results.append(_outcome(ex, handles))
    assert results[0] == results[1]


def _nos(
    cl: str, side: bytes = b"1", qty: bytes = b"100", price: bytes | None = None, **more: bytes
) -> list[tuple[int, bytes]]:
    fields = [
        (11, cl.encode()),
        (55, b"XYZ"),
        (54, side),
        (60, b"20231114-22:13:20.123"),
        (38, qty),
    ]
    fields.append((40, b"2" if price is not None else b"1"))
    if price is not None:
        fields.append((44, price))
    fields += [(int(tag[1:]), value) for tag, value in more.items()]
    return fields


def test_reads_the_common_order_as_the_parser_does() -> None:
    msg = _order(_nos("C1", b"2", b"0100", b"10.50", t59=b"1", t1=b"ACC"))
    terms = read_new_order(msg)
    assert terms is not None
    assert terms[:8] == ("C1", "XYZ", Side.SELL, Decimal(100), terms[4], Decimal("10.50"),
                         terms[6], "ACC")  # fmt: skip
    assert terms[8:] == (b"C1", b"XYZ", b"2", b"100", b"2", b"10.50", b"1", b"ACC")


@pytest.mark.parametrize(
    "fields",
    [
        _nos("C1", t58=b"hello"),  # a field the parser checks
        _nos("C 1"),  # ClOrdID with a space
        _nos("C1", qty=b"0"),
        _nos("C1", qty=b"1e5"),
        _nos("C1", side=b"5"),
        _nos("C1", t59=b"4"),  # FOK: the book decides
        _nos("C1", t44=b"10"),  # a market order with a price
        _nos("C1", t1=b""),
        [(11, b"C1"), (54, b"1"), (38, b"1"), (40, b"1")],  # no Symbol
    ],
)
def test_leaves_every_other_order_to_the_parser(fields: list[tuple[int, bytes]]) -> None:
    assert read_new_order(_order(fields)) is None


@pytest.mark.parametrize("tag", _LEFT_TO_PARSER)
def test_every_field_the_parser_checks_sends_the_order_to_it(tag: int) -> None:
    assert read_order(_order(_nos("C1"))) is not None
    assert read_order(_order(_nos("C1", **{f"t{tag}": b"1"}))) is None


def test_orders_with_the_same_terms_share_one_shape() -> None:
    a = read_order(_order(_nos("A", b"2", b"0100", b"10.50", t1=b"ACC")))
    b = read_order(_order(_nos("B", b"2", b"0100", b"10.50", t1=b"ACC")))
    c = read_order(_order(_nos("C", b"2", b"0100", b"10.5", t1=b"ACC")))
    assert a is not None and b is not None and c is not None
    assert (a[0], a[1], b[0], b[1]) == ("A", b"A", "B", b"B")
    assert a[2] is b[2] and c[2] is not a[2]
    assert a[2].fields == (b"XYZ", b"2", b"100", b"2", b"10.50", b"0", b"ACC")
    assert c[2].fields[4] == b"10.5" and c[2].price == Decimal("10.5")


@pytest.mark.parametrize(
    "now",
    [NOW, 1_700_000_000.0, 1_700_000_000.9996, 1_699_999_999.9994, 0.0005, 951_782_400.25],
)
def test_transact_time_stamps_match_the_formatter(now: float, twin: Any) -> None:
    for t in (now, now + 0.0001, now + 0.001, now + 1, now):  # same and other ms / seconds
        ms = round(t * 1000)
        assert _stamp(t) == format_utc_timestamp(ms * 1_000_000, 3)
        assert twin.stamp(t) == _stamp(t)


@given(st.floats(0, 4_102_444_800))
def test_both_twins_stamp_as_utc_timestamp_millis(now: float) -> None:
    for module in TWINS:
        assert module.stamp(now) == _stamp(now)


@pytest.mark.parametrize("begin_string", ["FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1"])
def test_market_and_limit_orders_filled_on_arrival(begin_string: str) -> None:
    flow = [
        ("FAST", _nos("C1")),
        ("FAST", _nos("C2", b"2", b"5.5", t1=b"ACC", t59=b"3")),
        ("FAST", _nos("C3", b"1", b"3", b"10.25", t59=b"1")),
        ("FAST", _nos("C4", b"2", b"7", b"1.12345678901")),  # AvgPx rounded to 10 places
        ("FAST", _nos("C5", b"1", b"123456789012345678", b"1.23456789012345678")),  # inexact
        ("FAST", _nos("C1")),  # duplicate ClOrdID: rejected
    ]
    _run(flow, begin_string)


def test_orders_that_would_trade_with_the_book_take_the_general_path() -> None:
    flow = [
        ("BOOK", _nos("R1", b"2", b"10", b"101")),
        ("FAST", _nos("C1", b"1", b"5", b"100")),  # does not cross: the house fills it
        ("FAST", _nos("C2", b"1", b"15", b"102")),  # crosses the resting sell
        ("FAST", _nos("C3", b"1", b"1")),  # a market buy takes what rests
        ("BOOK", _nos("R2", b"1", b"10", b"99")),
        ("FAST", _nos("C4", b"2", b"2")),
        ("FAST", _nos("C5", b"1", b"2", b"99.5", t97=b"Y")),
        ("FAST", _nos("C5", b"1", b"2", b"99.5", t97=b"Y")),  # a possible resend, known
    ]
    _run(flow)


def test_tick_size_symbols_and_other_fill_models() -> None:
    flow = [
        ("FAST", _nos("C1", b"1", b"5", b"100.05")),  # off the tick
        ("FAST", _nos("C2", b"1", b"5", b"100.10")),
        ("PART", _nos("P1", b"1", b"8", b"100.10")),
        ("FAST", [(t, b"NOPE" if t == 55 else v) for t, v in _nos("C3")]),  # unknown symbol
    ]
    _run(flow, tick_size=Decimal("0.1"), symbols=["XYZ"])


sides = st.sampled_from([b"1", b"2", b"5", b"Z"])
qtys = st.sampled_from([b"100", b"0100", b"1.50", b"7", b"0", b"-5", b"abc", b""])
prices = st.sampled_from([None, b"100", b"99.5", b"101", b"100.25", b"", b"x", b"-1"])
optional = st.sampled_from(
    [{}, {"t59": b"1"}, {"t59": b"3"}, {"t59": b"4"}, {"t59": b"6"}, {"t59": b"Z"},
     {"t1": b"ACC"}, {"t1": b"\xc3\xa9"}, {"t58": b"note"}, {"t110": b"1"}, {"t21": b"1"},
     {"t97": b"Y"}, {"t99": b"100"}, {"t40": b"3"}]
)  # fmt: skip
orders = st.tuples(
    st.sampled_from(["FAST", "FAST", "FAST", "BOOK", "PART"]),
    st.integers(0, 12),
    sides,
    qtys,
    prices,
    optional,
)


def _flow(
    items: list[tuple[str, int, bytes, bytes, bytes | None, dict[str, bytes]]],
) -> list[tuple[str, list[tuple[int, bytes]]]]:
    flow = []
    for who, cl, side, qty, price, more in items:
        fields = _nos(f"C{cl}", side, qty, price, **{k: v for k, v in more.items() if k != "t40"})
        if "t40" in more:
            fields = [(t, more["t40"] if t == 40 else v) for t, v in fields]
        flow.append((who, fields))
    return flow


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(orders, min_size=1, max_size=25), st.sampled_from(["FIX.4.2", "FIX.4.4"]))
def test_any_order_flow_gets_the_same_answers(items: Any, begin_string: str) -> None:
    _run(_flow(items), begin_string)


@pytest.mark.skipif(_COMPILED is None, reason="fixengine._sim is not built")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(orders, min_size=1, max_size=25), st.sampled_from(["FIX.4.2", "FIX.4.4"]))
def test_both_twins_answer_any_order_flow_the_same(items: Any, begin_string: str) -> None:
    flow = _flow(items)
    results = []
    for module in TWINS:
        exchange_module._FastPath = module.FastPath  # (the fixture puts it back)
        ex, handles = _exchange(True, begin_string)
        for who, fields in flow:
            ex.on_message(handles[who], _order(fields))  # type: ignore[arg-type]
        results.append(_outcome(ex, handles))
    assert results[0] == results[1]


def test_a_new_matching_engine_is_taken_up() -> None:
    results = []
    for fast in (False, True):
        ex, handles = _exchange(fast, "FIX.4.4")
        ex.on_message(handles["FAST"], _order(_nos("A")))  # type: ignore[arg-type]
        ex.on_message(handles["FAST"], _order(_nos("B")))  # type: ignore[arg-type]
        engine = type(ex.engine)(order_id_prefix="N-")
        engine.set_fill_model(ex.owner(handles["FAST"].session_id), FillSpec().build())
        engine.set_last_price("XYZ", Decimal(100), NOW)
        ex.engine = engine
        ex.on_message(handles["FAST"], _order(_nos("A")))  # type: ignore[arg-type]
        ex.on_message(handles["FAST"], _order(_nos("C", b"2", b"3", b"99")))  # type: ignore[arg-type]
        results.append(_outcome(ex, handles))
    assert results[0] == results[1]
    assert [dict(m)[37] for m in results[1][0]["FAST"][0]][-4:] == [b"N-1", b"N-1", b"N-2", b"N-2"]


def test_faults_injected_are_told(twin: Any) -> None:
    told: list[str] = []
    ex = Exchange(notify=told.append)
    handle = Handle("FAST")
    twin.on_event(ex, handle, FaultInjected(kind="garble", detail="garbled MsgSeqNum 3"))
    twin.on_event(ex, handle, object())
    assert told == [f"fault on {handle.session_id}: garbled MsgSeqNum 3"]
    ex.on_event(handle, FaultInjected(kind="drop", detail="dropped"))  # type: ignore[arg-type]
    assert told[1:] == [f"fault on {handle.session_id}: dropped"]


def test_id_prefixes_changed_at_run_time_are_taken_up() -> None:
    results = []
    for fast in (False, True):
        ex, handles = _exchange(fast, "FIX.4.4")
        for n, (ids, orders) in enumerate([("T", "O-T-"), ("Z9", "X-"), ("Z9", "é-"), ("T", "")]):
            ex.ids.prefix = ids
            ex.engine.order_id_prefix = orders
            ex.on_message(handles["FAST"], _order(_nos(f"C{n}")))  # type: ignore[arg-type]
        results.append(_outcome(ex, handles))
    assert results[0] == results[1]
    sent = [dict(m) for m in results[1][0]["FAST"][0]]
    assert [(m[37], m[17]) for m in sent[-2:]] == [(b"4", b"E-T-7"), (b"4", b"E-T-8")]
    assert sent[-3][37] == "é-3".encode()


def test_avg_px_rounding_matches_the_reports() -> None:
    assert round_avg_px(Decimal("1.12345678901")) == Decimal("1.123456789")
    assert round_avg_px(Decimal("10.5")) == Decimal("10.5")


def test_fast_path_is_off_for_an_id_source_that_makes_its_own_exec_ids() -> None:
    class Mine(IdSource):
        def exec_id(self) -> str:
            return "mine"

    assert not Exchange(ids=Mine()).fast_orders
    assert Exchange().fast_orders


def test_the_common_order_skips_the_engine_events(monkeypatch: pytest.MonkeyPatch) -> None:
    ex, handles = _exchange(True, "FIX.4.4")
    assert ex.ids.exec_id_bytes() == b"E-T-1" and ex.ids.exec_id() == "E-T-2"  # one counter
    ex.on_message(handles["FAST"], _order(_nos("A")))  # type: ignore[arg-type]  # opens XYZ

    def no_submit(*args: Any) -> Any:
        raise AssertionError("general path taken")

    monkeypatch.setattr(ex.engine, "submit", no_submit)
    ex.on_message(handles["FAST"], _order(_nos("B")))  # type: ignore[arg-type]
    assert [dict(m)[39] for m in handles["FAST"].sent] == [b"0", b"2"] * 2
    assert [dict(m)[17] for m in handles["FAST"].sent][2:] == [b"E-T-5", b"E-T-6"]
    assert all(o.status is OrdStatus.FILLED for o in ex.engine.orders(live_only=False))


def test_reports_go_to_the_handle_of_the_latest_session_created() -> None:
    ex, handles = _exchange(True, "FIX.4.4")
    first = handles["FAST"]
    ex.on_message(first, _order(_nos("A")))  # type: ignore[arg-type]  # opens XYZ
    ex.on_message(first, _order(_nos("B")))  # type: ignore[arg-type]  # the fast path
    again = Handle("FAST")  # the same session, created anew (a new handle for its owner)
    ex.on_create(again)  # type: ignore[arg-type]
    ex.on_message(first, _order(_nos("C")))  # type: ignore[arg-type]
    ex.on_message(again, _order(_nos("D")))  # type: ignore[arg-type]
    assert [dict(m)[11] for m in first.sent] == [b"A", b"A", b"B", b"B"]
    assert [dict(m)[11] for m in again.sent] == [b"C", b"C", b"D", b"D"]
    assert ex.stats.orders == 4 and ex.stats.trades == 4


@pytest.mark.parametrize("look", [False, True])
def test_orders_filled_on_arrival_are_forgotten_beyond_max_done_as_the_others(look: bool) -> None:
    # ``look``: read the orders between requests, so some are forgotten after being read
    flow = [("FAST", _nos(f"C{i}")) for i in range(6)]
    flow += [("BOOK", _nos("R1", b"2", b"1000", b"101")), ("FAST", _nos("C6", b"1", b"1"))]
    flow += [("FAST", _nos("C0")), ("FAST", _nos("C5")), ("FAST", _nos("C7"))]
    results = []
    for fast in (False, True):
        ex, handles = _exchange(fast, "FIX.4.4")
        ex.engine.max_done = 3
        seen = []
        for who, fields in flow:
            ex.on_message(handles[who], _order(fields))  # type: ignore[arg-type]
            if look:
                seen.append(ex.engine.orders(live_only=False))
        results.append((_outcome(ex, handles), seen))
    assert results[0] == results[1]
    # C0 was forgotten (a new order), C5 was not (a duplicate)
    sent = [dict(m) for m in results[1][0][0]["FAST"][0]]
    assert [(m[11], m[39]) for m in sent[-5:]] == [
        (b"C0", b"0"), (b"C0", b"2"), (b"C5", b"8"), (b"C7", b"0"), (b"C7", b"2"),
    ]  # fmt: skip


def test_a_fill_model_changed_at_run_time_turns_the_fast_path_off_and_on() -> None:
    results = []
    for fast in (False, True):
        ex, handles = _exchange(fast, "FIX.4.4")
        fast_handle = handles["FAST"]
        ex.on_message(fast_handle, _order(_nos("A", b"1", b"5", b"100")))  # type: ignore[arg-type]
        ex.set_fill(fast_handle.session_id, FillSpec("none"))
        ex.on_message(fast_handle, _order(_nos("B", b"1", b"5", b"100")))  # type: ignore[arg-type]
        ex.set_fill(fast_handle.session_id, FillSpec("immediate"))
        ex.on_message(fast_handle, _order(_nos("C", b"1", b"5", b"99")))  # type: ignore[arg-type]
        results.append(_outcome(ex, handles))
    assert results[0] == results[1]
    sent = [dict(m) for m in results[1][0]["FAST"][0]]
    assert [(m[11], m[39]) for m in sent] == [
        (b"A", b"0"), (b"A", b"2"), (b"B", b"0"), (b"C", b"0"), (b"C", b"2"),
    ]  # fmt: skip
