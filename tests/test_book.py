"""Matching engine: price-time priority and every order-handling rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest

from fixengine.orders.model import (
    CancelRequest,
    CxlRejReason,
    CxlRejResponseTo,
    NewOrderRequest,
    OrdRejReason,
    OrdStatus,
    OrdType,
    ReplaceRequest,
    Side,
    TimeInForce,
)
from fixengine.sim.book import (
    CancelReason,
    CancelRejected,
    MatchingEngine,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    RejectReason,
    SelfTradePolicy,
    StopTriggered,
    Trade,
)

BUY, SELL = Side.BUY, Side.SELL
S = OrdStatus


def order(cl: str, side: Side, qty: str, price: str | None = None, **kw: Any) -> NewOrderRequest:
    kw.setdefault("symbol", "IBM")
    if "ord_type" not in kw:
        kw["ord_type"] = OrdType.LIMIT if price is not None else OrdType.MARKET
    return NewOrderRequest(
        side=side, quantity=D(qty), price=None if price is None else D(price), cl_ord_id=cl, **kw
    )


def trades(events: list[Any]) -> list[tuple[str, str, D, D]]:
    """(buy ClOrdID, sell ClOrdID, qty, price) of each trade."""
    out = []
    for e in events:
        if isinstance(e, Trade):
            assert e.buy is not None and e.sell is not None
            out.append((e.buy.order.cl_ord_id, e.sell.order.cl_ord_id, e.quantity, e.price))
    return out


def kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


@pytest.fixture
def engine() -> MatchingEngine:
    return MatchingEngine()


# -- resting and crossing ------------------------------------------------------------------------


def test_non_crossing_limit_order_rests_and_shows_in_depth(engine: MatchingEngine) -> None:
    events = engine.submit("A", order("s1", SELL, "100", "10.5"), 1.0)
    assert kinds(events) == ["OrderAccepted"]
    engine.submit("B", order("b1", BUY, "40", "10.4"), 1.0)
    book = engine.book("IBM")
    assert (book.best_bid(), book.best_ask()) == (D("10.4"), D("10.5"))
    assert book.depth() == ([(D("10.4"), D(40))], [(D("10.5"), D(100))])


def test_crossing_order_trades_at_the_resting_price_with_both_sides(engine: MatchingEngine) -> None:
    engine.submit("A", order("s1", SELL, "100", "10.00"), 1.0)
    events = engine.submit("B", order("b1", BUY, "30", "10.20"), 2.0)
    assert kinds(events) == ["OrderAccepted", "Trade"]
    trade = events[1]
    assert isinstance(trade, Trade) and trade.buy and trade.sell
    assert (trade.price, trade.quantity) == (D("10.00"), D(30))
    assert trade.buy.aggressor and not trade.sell.aggressor
    assert (trade.buy.contra_owner, trade.sell.contra_owner) == ("A", "B")
    assert trade.buy.order.status is S.FILLED and trade.buy.order.avg_px == D("10.00")
    assert trade.sell.order.status is S.PARTIALLY_FILLED
    assert (trade.sell.order.cum_qty, trade.sell.order.leaves_qty) == (D(30), D(70))
    assert engine.book("IBM").depth() == ([], [(D("10.00"), D(70))])


def test_time_priority_at_one_price_and_price_priority_across(engine: MatchingEngine) -> None:
    engine.submit("A", order("first", SELL, "10", "10"), 1.0)
    engine.submit("B", order("second", SELL, "10", "10"), 2.0)
    engine.submit("C", order("better", SELL, "10", "9.9"), 3.0)
    events = engine.submit("D", order("b", BUY, "25", "10"), 4.0)
    assert trades(events) == [
        ("b", "better", D(10), D("9.9")),
        ("b", "first", D(10), D(10)),
        ("b", "second", D(5), D(10)),
    ]


def test_buy_sweeps_levels_then_rests_at_its_limit(engine: MatchingEngine) -> None:
    engine.submit("A", order("s1", SELL, "10", "10.0"), 1.0)
    engine.submit("A", order("s2", SELL, "10", "10.1"), 1.0)
    engine.submit("A", order("s3", SELL, "10", "10.3"), 1.0)
    events = engine.submit("B", order("b", BUY, "35", "10.2"), 2.0)
    assert [t[2:] for t in trades(events)] == [(D(10), D("10.0")), (D(10), D("10.1"))]
    state = engine.find("B", "b")
    assert state is not None and state.avg_px == D("10.05") and state.leaves_qty == D(15)
    assert engine.book("IBM").depth() == ([(D("10.2"), D(15))], [(D("10.3"), D(10))])


def test_sell_side_matches_highest_bid_first(engine: MatchingEngine) -> None:
    engine.submit("A", order("b1", BUY, "5", "9.8"), 1.0)
    engine.submit("A", order("b2", BUY, "5", "9.9"), 2.0)
    events = engine.submit("B", order("s", SELL, "7", "9.8"), 3.0)
    assert trades(events) == [("b2", "s", D(5), D("9.9")), ("b1", "s", D(2), D("9.8"))]


def test_clients_of_different_sessions_trade_with_each_other(engine: MatchingEngine) -> None:
    engine.submit("session-1", order("x", SELL, "1", "5"), 1.0)
    trade = engine.submit("session-2", order("x", BUY, "1", "5"), 1.0)[-1]
    assert isinstance(trade, Trade) and trade.buy and trade.sell
    assert (trade.buy.order.owner, trade.sell.order.owner) == ("session-2", "session-1")


# -- market, IOC, FOK, MinQty ---------------------------------------------------------------


def test_market_order_sweeps_and_cancels_what_is_left(engine: MatchingEngine) -> None:
    engine.submit("A", order("s1", SELL, "10", "10"), 1.0)
    engine.submit("A", order("s2", SELL, "10", "12"), 1.0)
    events = engine.submit("B", order("m", BUY, "25"), 2.0)
    assert kinds(events) == ["OrderAccepted", "Trade", "Trade", "OrderCanceled"]
    cancel = events[-1]
    assert isinstance(cancel, OrderCanceled) and cancel.reason is CancelReason.NO_LIQUIDITY
    assert cancel.order.cum_qty == D(20) and cancel.order.leaves_qty == 0
    assert engine.book("IBM").best_ask() is None


def test_market_order_into_an_empty_book_is_canceled(engine: MatchingEngine) -> None:
    events = engine.submit("B", order("m", SELL, "5"), 1.0)
    assert kinds(events) == ["OrderAccepted", "OrderCanceled"]
    assert engine.book("IBM").best_bid() is None


def test_ioc_trades_what_it_can_and_cancels_the_rest(engine: MatchingEngine) -> None:
    engine.submit("A", order("s", SELL, "10", "10"), 1.0)
    ioc = TimeInForce.IMMEDIATE_OR_CANCEL
    events = engine.submit("B", order("b", BUY, "15", "10", time_in_force=ioc), 2.0)
    assert kinds(events) == ["OrderAccepted", "Trade", "OrderCanceled"]
    assert events[-1].reason is CancelReason.IOC_REMAINDER  # type: ignore[union-attr]
    assert engine.book("IBM").best_bid() is None


def test_fok_fills_completely_or_not_at_all(engine: MatchingEngine) -> None:
    fok = TimeInForce.FILL_OR_KILL
    engine.submit("A", order("s1", SELL, "10", "10"), 1.0)
    engine.submit("A", order("s2", SELL, "10", "11"), 1.0)
    killed = engine.submit("B", order("b1", BUY, "21", "11", time_in_force=fok), 2.0)
    assert kinds(killed) == ["OrderAccepted", "OrderCanceled"]
    assert killed[-1].reason is CancelReason.FOK_NOT_FILLED  # type: ignore[union-attr]
    assert engine.book("IBM").depth()[1] == [(D(10), D(10)), (D(11), D(10))]  # untouched
    filled = engine.submit("B", order("b2", BUY, "20", "11", time_in_force=fok), 3.0)
    assert [t[2] for t in trades(filled)] == [D(10), D(10)]
    assert filled[-1].buy.order.status is S.FILLED  # type: ignore[union-attr]


def test_fok_counts_only_prices_within_its_limit(engine: MatchingEngine) -> None:
    engine.submit("A", order("s1", SELL, "10", "10"), 1.0)
    engine.submit("A", order("s2", SELL, "10", "12"), 1.0)
    events = engine.submit(
        "B", order("b", BUY, "20", "11", time_in_force=TimeInForce.FILL_OR_KILL), 2.0
    )
    assert kinds(events) == ["OrderAccepted", "OrderCanceled"]


def test_min_qty_must_trade_on_entry_then_the_rest_rests(engine: MatchingEngine) -> None:
    engine.submit("A", order("s1", SELL, "30", "10"), 1.0)
    refused = engine.submit("B", order("b1", BUY, "100", "10", min_qty=D(40)), 2.0)
    assert kinds(refused) == ["OrderAccepted", "OrderCanceled"]
    assert refused[-1].reason is CancelReason.MIN_QTY_NOT_MET  # type: ignore[union-attr]
    done = engine.submit("B", order("b2", BUY, "100", "10", min_qty=D(30)), 3.0)
    assert trades(done) == [("b2", "s1", D(30), D(10))]
    assert engine.book("IBM").depth()[0] == [(D(10), D(70))]


def test_min_qty_order_that_cannot_trade_at_once_is_canceled(engine: MatchingEngine) -> None:
    events = engine.submit("B", order("b", BUY, "100", "10", min_qty=D(1)), 1.0)
    assert kinds(events) == ["OrderAccepted", "OrderCanceled"]
    assert engine.book("IBM").best_bid() is None


# -- stops ----------------------------------------------------------------------------------------


def stop(cl: str, side: Side, qty: str, stop_px: str, price: str | None = None) -> NewOrderRequest:
    kind = OrdType.STOP_LIMIT if price is not None else OrdType.STOP
    return order(cl, side, qty, price, ord_type=kind, stop_px=D(stop_px))


def test_buy_stop_waits_off_book_until_last_price_reaches_it(engine: MatchingEngine) -> None:
    engine.submit("A", order("s1", SELL, "5", "10"), 1.0)
    engine.submit("A", order("s2", SELL, "5", "11"), 1.0)
    assert kinds(engine.submit("C", stop("stp", BUY, "3", "10.5"), 1.0)) == ["OrderAccepted"]
    assert len(engine.book("IBM").stops()) == 1
    engine.submit("B", order("b1", BUY, "5", "10"), 2.0)  # last 10: not yet
    assert len(engine.book("IBM").stops()) == 1
    events = engine.submit("B", order("b2", BUY, "1", "11"), 3.0)  # last 11 >= 10.5
    assert kinds(events) == ["OrderAccepted", "Trade", "StopTriggered", "Trade"]
    assert trades(events)[-1] == ("stp", "s2", D(3), D(11))
    assert engine.book("IBM").stops() == []


def test_sell_stop_limit_becomes_a_resting_limit_order(engine: MatchingEngine) -> None:
    engine.submit("C", stop("stp", SELL, "10", "9.5", price="9.4"), 1.0)
    engine.submit("A", order("b", BUY, "1", "9.5"), 2.0)
    events = engine.submit("B", order("s", SELL, "1", "9.5"), 3.0)  # last 9.5 <= 9.5
    assert kinds(events)[-1] == "StopTriggered"
    triggered = events[-1]
    assert isinstance(triggered, StopTriggered) and triggered.order.triggered
    assert engine.book("IBM").depth()[1] == [(D("9.4"), D(10))]


def test_stop_already_reached_triggers_on_entry(engine: MatchingEngine) -> None:
    engine.submit("A", order("b", BUY, "1", "20"), 1.0)
    engine.submit("B", order("s", SELL, "1", "20"), 1.0)
    events = engine.submit("C", stop("stp", SELL, "5", "21"), 2.0)
    assert kinds(events) == ["OrderAccepted", "StopTriggered", "OrderCanceled"]


def test_stop_triggers_cascade(engine: MatchingEngine) -> None:
    engine.submit("A", order("s1", SELL, "1", "10"), 1.0)
    engine.submit("A", order("s2", SELL, "1", "11"), 1.0)
    engine.submit("A", order("s3", SELL, "1", "12"), 1.0)
    engine.submit("C", stop("stop-a", BUY, "1", "10"), 1.0)
    engine.submit("C", stop("stop-b", BUY, "1", "11"), 1.0)
    events = engine.submit("B", order("b", BUY, "1", "10"), 2.0)
    assert [t[:2] for t in trades(events)] == [("b", "s1"), ("stop-a", "s2"), ("stop-b", "s3")]


def test_set_last_price_triggers_stops(engine: MatchingEngine) -> None:
    engine.submit("A", order("s1", SELL, "1", "10"), 1.0)
    engine.submit("C", stop("stp", BUY, "1", "10"), 1.0)
    events = engine.set_last_price("IBM", D(10), 2.0)
    assert kinds(events) == ["StopTriggered", "Trade"]


# -- cancel ---------------------------------------------------------------------------------


def cancel(cl: str, orig: str, side: Side = BUY) -> CancelRequest:
    return CancelRequest(cl, orig, "IBM", side)


def test_cancel_removes_the_order(engine: MatchingEngine) -> None:
    engine.submit("A", order("b", BUY, "10", "10"), 1.0)
    events = engine.cancel("A", cancel("c", "b"), 2.0)
    assert kinds(events) == ["OrderCanceled"]
    canceled = events[0]
    assert isinstance(canceled, OrderCanceled)
    assert canceled.reason is CancelReason.REQUESTED and canceled.request_cl_ord_id == "c"
    assert engine.book("IBM").best_bid() is None
    assert engine.find("A", "c") == engine.find("A", "b")


@pytest.mark.parametrize(
    ("setup", "request_", "reason"),
    [
        ([], cancel("c", "nope"), CxlRejReason.UNKNOWN_ORDER),
        (
            [("A", order("b", BUY, "1", "10")), ("B", order("s", SELL, "1", "10"))],
            cancel("c", "b"),
            CxlRejReason.TOO_LATE_TO_CANCEL,
        ),
        ([("A", order("b", BUY, "1", "10"))], cancel("b", "b2"), CxlRejReason.DUPLICATE_CL_ORD_ID),
    ],
)
def test_cancel_that_cannot_be_done_is_rejected(
    engine: MatchingEngine, setup: list[Any], request_: CancelRequest, reason: CxlRejReason
) -> None:
    for owner, req in setup:
        engine.submit(owner, req, 1.0)
    events = engine.cancel("A", request_, 2.0)
    assert kinds(events) == ["CancelRejected"]
    reject = events[0]
    assert isinstance(reject, CancelRejected)
    assert reject.reason is reason and reject.response_to is CxlRejResponseTo.ORDER_CANCEL_REQUEST


def test_one_session_cannot_cancel_another_sessions_order(engine: MatchingEngine) -> None:
    engine.submit("A", order("b", BUY, "1", "10"), 1.0)
    events = engine.cancel("B", cancel("c", "b"), 2.0)
    assert events[0].reason is CxlRejReason.UNKNOWN_ORDER  # type: ignore[union-attr]
    assert engine.book("IBM").best_bid() == D(10)


def test_mass_cancel_cancels_only_the_owners_matching_orders(engine: MatchingEngine) -> None:
    engine.submit("A", order("a1", BUY, "1", "10"), 1.0)
    engine.submit("A", order("a2", SELL, "1", "11"), 1.0)
    engine.submit("A", order("a3", BUY, "1", "10", symbol="MSFT"), 1.0)
    engine.submit("B", order("b1", BUY, "1", "10"), 1.0)
    events = engine.mass_cancel("A", 2.0, symbol="IBM", side=BUY)
    assert [e.order.cl_ord_id for e in events] == ["a1"]  # type: ignore[union-attr]
    assert {o.cl_ord_id for o in engine.orders()} == {"a2", "a3", "b1"}
    assert len(engine.mass_cancel("A", 3.0)) == 2


# -- replace -----------------------------------------------------------------------------------


def replace(
    cl: str, orig: str, qty: str, price: str, side: Side = SELL, **kw: Any
) -> ReplaceRequest:
    return ReplaceRequest(cl, orig, "IBM", side, D(qty), price=D(price), **kw)


def test_replace_reducing_quantity_keeps_time_priority(engine: MatchingEngine) -> None:
    engine.submit("A", order("first", SELL, "10", "10"), 1.0)
    engine.submit("B", order("second", SELL, "10", "10"), 1.0)
    events = engine.replace("A", replace("first-2", "first", "6", "10"), 2.0)
    assert isinstance(events[0], OrderReplaced) and events[0].kept_priority
    assert events[0].order.cl_ord_id == "first-2" and events[0].order.orig_cl_ord_id == "first"
    assert trades(engine.submit("C", order("b", BUY, "6", "10"), 3.0)) == [
        ("b", "first-2", D(6), D(10))
    ]


def test_replace_increasing_quantity_loses_time_priority(engine: MatchingEngine) -> None:
    engine.submit("A", order("first", SELL, "10", "10"), 1.0)
    engine.submit("B", order("second", SELL, "10", "10"), 1.0)
    events = engine.replace("A", replace("first-2", "first", "12", "10"), 2.0)
    assert isinstance(events[0], OrderReplaced) and not events[0].kept_priority
    assert trades(engine.submit("C", order("b", BUY, "5", "10"), 3.0))[0][1] == "second"


def test_replace_to_a_crossing_price_trades_at_once(engine: MatchingEngine) -> None:
    engine.submit("A", order("b", BUY, "10", "9"), 1.0)
    engine.submit("B", order("s", SELL, "10", "10"), 1.0)
    events = engine.replace("B", replace("s2", "s", "10", "9"), 2.0)
    assert kinds(events) == ["OrderReplaced", "Trade"]
    assert trades(events) == [("b", "s2", D(10), D(9))]


def test_replace_down_to_cum_qty_fills_the_order(engine: MatchingEngine) -> None:
    engine.submit("A", order("s", SELL, "10", "10"), 1.0)
    engine.submit("B", order("b", BUY, "4", "10"), 1.0)
    events = engine.replace("A", replace("s2", "s", "4", "10"), 2.0)
    assert isinstance(events[0], OrderReplaced)
    assert events[0].order.status is S.FILLED and events[0].order.leaves_qty == 0
    assert engine.book("IBM").best_ask() is None


def test_replace_below_cum_qty_amends_order_qty_to_cum_qty(engine: MatchingEngine) -> None:
    engine.submit("A", order("s", SELL, "10", "10"), 1.0)
    engine.submit("B", order("b", BUY, "4", "10"), 1.0)
    replaced = engine.replace("A", replace("s2", "s", "3", "10"), 2.0)[0]
    assert isinstance(replaced, OrderReplaced)
    assert replaced.order.status is S.FILLED
    assert (replaced.order.order_qty, replaced.order.cum_qty) == (D(4), D(4))
    assert replaced.order.leaves_qty == 0 and engine.book("IBM").best_ask() is None


@pytest.mark.parametrize(
    ("request_", "text"),
    [
        (replace("s2", "s", "5", "10", side=BUY), "Side cannot change"),
        (ReplaceRequest("s2", "s", "MSFT", SELL, D(5), price=D(10)), "Symbol cannot change"),
        (ReplaceRequest("s2", "s", "IBM", SELL, D(5), OrdType.MARKET), "OrdType cannot change"),
        (
            replace("s2", "s", "5", "10", time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL),
            "TimeInForce",
        ),
    ],
)
def test_replace_changing_what_cannot_change_is_rejected(
    engine: MatchingEngine, request_: ReplaceRequest, text: str
) -> None:
    engine.submit("A", order("s", SELL, "10", "10"), 1.0)
    events = engine.replace("A", request_, 2.0)
    reject = events[0]
    assert isinstance(reject, CancelRejected) and text in reject.text
    assert reject.response_to is CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST
    assert engine.find("A", "s2") is None and engine.book("IBM").depth()[1] == [(D(10), D(10))]


def test_replace_of_a_filled_order_is_too_late(engine: MatchingEngine) -> None:
    engine.submit("A", order("s", SELL, "1", "10"), 1.0)
    engine.submit("B", order("b", BUY, "1", "10"), 1.0)
    reject = engine.replace("A", replace("s2", "s", "2", "10"), 2.0)[0]
    assert isinstance(reject, CancelRejected) and reject.reason is CxlRejReason.TOO_LATE_TO_CANCEL


def test_replace_of_a_stop_moves_its_trigger(engine: MatchingEngine) -> None:
    engine.submit("A", order("s1", SELL, "1", "10"), 1.0)
    engine.submit("X", order("b0", BUY, "1", "10"), 1.0)  # last = 10
    engine.submit("A", order("s2", SELL, "1", "10"), 1.0)
    engine.submit("C", stop("stp", BUY, "1", "12"), 2.0)
    moved = ReplaceRequest("stp2", "stp", "IBM", BUY, D(1), OrdType.STOP, stop_px=D(10))
    events = engine.replace("C", moved, 3.0)
    assert kinds(events) == ["OrderReplaced", "StopTriggered", "Trade"]


# -- iceberg, self-trade, rejects, expiry -------------------------------------------------------


def test_iceberg_shows_max_floor_and_refreshes_at_the_back(engine: MatchingEngine) -> None:
    engine.submit("A", order("ice", SELL, "25", "10", max_floor=D(10)), 1.0)
    engine.submit("B", order("plain", SELL, "5", "10"), 2.0)
    assert engine.book("IBM").depth()[1] == [(D(10), D(15))]  # 10 shown + 5
    events = engine.submit("C", order("b", BUY, "17", "10"), 3.0)
    assert trades(events) == [
        ("b", "ice", D(10), D(10)),
        ("b", "plain", D(5), D(10)),
        ("b", "ice", D(2), D(10)),
    ]
    assert engine.book("IBM").depth()[1] == [(D(10), D(8))]
    assert engine.find("A", "ice").leaves_qty == D(13)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (SelfTradePolicy.ALLOW, ["OrderAccepted", "Trade"]),
        (SelfTradePolicy.CANCEL_RESTING, ["OrderAccepted", "OrderCanceled"]),
        (SelfTradePolicy.CANCEL_INCOMING, ["OrderAccepted", "OrderCanceled"]),
    ],
)
def test_self_trade_policy(policy: SelfTradePolicy, expected: list[str]) -> None:
    engine = MatchingEngine(self_trade=policy)
    engine.submit("A", order("s", SELL, "5", "10"), 1.0)
    events = engine.submit("A", order("b", BUY, "5", "10"), 2.0)
    assert kinds(events) == expected
    if policy is SelfTradePolicy.CANCEL_RESTING:
        assert events[-1].order.cl_ord_id == "s"  # type: ignore[union-attr]
        assert engine.book("IBM").depth()[0] == [(D(10), D(5))]
    if policy is SelfTradePolicy.CANCEL_INCOMING:
        assert events[-1].order.cl_ord_id == "b"  # type: ignore[union-attr]
        assert engine.book("IBM").depth()[1] == [(D(10), D(5))]


@pytest.mark.parametrize(
    ("request_", "reason", "code"),
    [
        (
            order("x", BUY, "1", "10", symbol="ZZZ"),
            RejectReason.UNKNOWN_SYMBOL,
            OrdRejReason.UNKNOWN_SYMBOL,
        ),
        (
            order("x", Side.CROSS, "1", "10"),
            RejectReason.UNSUPPORTED_SIDE,
            OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
        ),
        (
            order("x", BUY, "1", "10", ord_type=OrdType.LIMIT_ON_CLOSE),
            RejectReason.UNSUPPORTED_ORDER_TYPE,
            OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
        ),
        (
            order("x", BUY, "1", "10", time_in_force=TimeInForce.AT_THE_OPENING),
            RejectReason.UNSUPPORTED_TIME_IN_FORCE,
            OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
        ),
        (
            order("x", BUY, "1", "10.001"),
            RejectReason.INVALID_PRICE_INCREMENT,
            OrdRejReason.INVALID_PRICE_INCREMENT,
        ),
        (
            order("x", BUY, "1", "10", time_in_force=TimeInForce.GOOD_TILL_DATE, expire_time=5.0),
            RejectReason.TOO_LATE,
            OrdRejReason.TOO_LATE_TO_ENTER,
        ),
        (
            NewOrderRequest("IBM", BUY, D(1), price=D(1)),
            RejectReason.MISSING_CL_ORD_ID,
            OrdRejReason.OTHER,
        ),
    ],
)
def test_order_the_venue_cannot_take_is_rejected_with_a_reason(
    request_: NewOrderRequest, reason: RejectReason, code: OrdRejReason
) -> None:
    engine = MatchingEngine(symbols=["IBM"], tick_size=D("0.01"))
    events = engine.submit("A", request_, 10.0)
    assert kinds(events) == ["OrderRejected"]
    reject = events[0]
    assert isinstance(reject, OrderRejected)
    assert reject.reason is reason and reject.reason.ord_rej_reason is code
    assert reject.order.status is S.REJECTED and reject.text
    assert engine.orders() == [] and engine.book("IBM").best_bid() is None


def test_duplicate_cl_ord_id_of_the_same_session_is_rejected(engine: MatchingEngine) -> None:
    engine.submit("A", order("x", BUY, "1", "10"), 1.0)
    events = engine.submit("A", order("x", BUY, "1", "10"), 2.0)
    assert events[0].reason is RejectReason.DUPLICATE_CL_ORD_ID  # type: ignore[union-attr]
    assert kinds(engine.submit("B", order("x", BUY, "1", "10"), 2.0)) == ["OrderAccepted"]


def test_tick_size_can_differ_per_symbol() -> None:
    engine = MatchingEngine(tick_size={"IBM": D("0.05")})
    assert kinds(engine.submit("A", order("a", BUY, "1", "10.05"), 1.0)) == ["OrderAccepted"]
    assert kinds(engine.submit("A", order("b", BUY, "1", "10.01"), 1.0)) == ["OrderRejected"]
    assert kinds(engine.submit("A", order("c", BUY, "1", "10.01", symbol="MSFT"), 1.0)) == [
        "OrderAccepted"
    ]


def test_gtd_orders_expire_when_time_advances(engine: MatchingEngine) -> None:
    gtd = TimeInForce.GOOD_TILL_DATE
    engine.submit("A", order("t", BUY, "1", "10", time_in_force=gtd, expire_time=100.0), 1.0)
    day = dt.date(2024, 1, 2)
    engine.submit("A", order("d", BUY, "1", "10", time_in_force=gtd, expire_date=day), 1.0)
    assert engine.next_wakeup() == 100.0
    assert engine.advance(99.9) == []
    expired = engine.advance(100.0)
    assert kinds(expired) == ["OrderExpired"] and expired[0].order.cl_ord_id == "t"  # type: ignore[union-attr]
    end_of_day = dt.datetime(2024, 1, 3, tzinfo=dt.timezone.utc).timestamp()
    assert engine.advance(end_of_day - 1) == []
    assert [e.order.cl_ord_id for e in engine.advance(end_of_day)] == ["d"]  # type: ignore[union-attr]


def test_end_of_day_expires_day_orders_only(engine: MatchingEngine) -> None:
    engine.submit("A", order("day", BUY, "1", "10"), 1.0)
    engine.submit("A", order("gtc", BUY, "1", "9", time_in_force=TimeInForce.GOOD_TILL_CANCEL), 1.0)
    engine.submit("A", stop("stp", BUY, "1", "20"), 1.0)
    events = engine.end_of_day(2.0)
    assert all(isinstance(e, OrderExpired) for e in events)
    assert sorted(e.order.cl_ord_id for e in events) == ["day", "stp"]  # type: ignore[union-attr]
    assert [o.cl_ord_id for o in engine.orders()] == ["gtc"]


def test_finished_orders_are_forgotten_beyond_max_done() -> None:
    engine = MatchingEngine(max_done=2)
    for i in range(4):
        engine.submit("A", order(f"m{i}", BUY, "1"), float(i))  # market, canceled at once
    assert engine.find("A", "m0") is None and engine.find("A", "m3") is not None
    assert len(engine.orders(live_only=False)) == 2


def test_a_forgotten_order_takes_every_clordid_it_had_with_it() -> None:
    engine = MatchingEngine(max_done=1)
    engine.submit("A", order("r0", BUY, "5", "10"), 1.0)
    engine.replace("A", replace("r1", "r0", "4", "10", BUY), 2.0)
    engine.replace("A", replace("r2", "r1", "3", "10", BUY), 3.0)
    engine.cancel("A", cancel("c3", "r2", BUY), 4.0)
    assert all(engine.find("A", cl) is not None for cl in ("r0", "r1", "r2", "c3"))
    engine.submit("A", order("m4", BUY, "1"), 5.0)  # a market order, canceled at once
    engine.submit("A", order("m5", BUY, "1"), 6.0)
    assert [engine.find("A", cl) for cl in ("r0", "r1", "r2", "c3", "m4")] == [None] * 5
    assert engine._by_client == {("A", "m5"): engine.find("A", "m5").order_id}  # type: ignore[union-attr]
    assert not engine._client_ids


def test_house_fill_of_a_resting_order_is_a_one_sided_trade(engine: MatchingEngine) -> None:
    engine.submit("A", order("b", BUY, "10", "10"), 1.0)
    state = engine.find("A", "b")
    assert state is not None
    (trade,) = engine.fill(state.order_id, D(4), D("9.5"), 2.0)
    assert isinstance(trade, Trade) and trade.buy is not None and trade.sell is None
    assert (trade.quantity, trade.price) == (D(4), D("9.5"))
    assert trade.buy.contra_owner is None and trade.buy.order.leaves_qty == D(6)
    assert engine.book("IBM").depth()[0] == [(D(10), D(6))]
    (rest,) = engine.fill(state.order_id, D(100), D(10), 3.0)  # capped at LeavesQty
    assert isinstance(rest, Trade) and rest.quantity == D(6)
    assert engine.book("IBM").best_bid() is None
    assert engine.fill(state.order_id, D(1), D(1), 4.0) == []  # nothing left to fill


def test_accepted_event_comes_first_and_carries_new_status(engine: MatchingEngine) -> None:
    event = engine.submit("A", order("a", BUY, "3", "10", account="ACC"), 1.0)[0]
    assert isinstance(event, OrderAccepted)
    assert event.order.status is S.NEW and event.order.account == "ACC"
    assert event.order.order_id and engine.order(event.order.order_id) == event.order
