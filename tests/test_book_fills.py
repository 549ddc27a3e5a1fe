"""Fill models for a lone client: immediate, partial over time, reject a fraction, never."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from fixengine.orders.model import (
    CancelRequest,
    NewOrderRequest,
    OrdStatus,
    OrdType,
    ReplaceRequest,
    Side,
    TimeInForce,
)
from fixengine.sim.book import (
    CancelReason,
    MatchingEngine,
    OrderCanceled,
    OrderRejected,
    RejectReason,
    Trade,
)
from fixengine.sim.fills import (
    FILL_MODELS,
    ImmediateFill,
    NeverFill,
    PartialFill,
    RejectFraction,
    fill_model,
    parse_fill_model,
)

BUY, SELL = Side.BUY, Side.SELL


def order(cl: str, side: Side, qty: str, price: str | None = None, **kw: Any) -> NewOrderRequest:
    kw.setdefault("ord_type", OrdType.LIMIT if price is not None else OrdType.MARKET)
    return NewOrderRequest(
        "IBM", side, D(qty), price=None if price is None else D(price), cl_ord_id=cl, **kw
    )


def house_fills(events: list[Any]) -> list[tuple[D, D]]:
    """(quantity, price) of each house fill (a trade with one side)."""
    out = []
    for e in events:
        if isinstance(e, Trade):
            assert (e.buy is None) != (e.sell is None), "a house fill has exactly one side"
            out.append((e.quantity, e.price))
    return out


def lone(model: Any, **kw: Any) -> MatchingEngine:
    engine = MatchingEngine(**kw)
    engine.set_fill_model("L", model)
    return engine


# -- immediate -------------------------------------------------------------------------------


def test_immediate_fills_a_limit_order_at_its_price_at_once() -> None:
    engine = lone(ImmediateFill())
    events = engine.submit("L", order("a", BUY, "100", "10.25"), 1.0)
    assert house_fills(events) == [(D(100), D("10.25"))]
    trade = events[-1]
    assert isinstance(trade, Trade) and trade.buy is not None and trade.sell is None
    assert trade.buy.order.status is OrdStatus.FILLED and trade.buy.contra_owner is None
    assert engine.book("IBM").best_bid() is None and engine.next_wakeup() is None


def test_immediate_fills_market_orders_at_the_reference_price() -> None:
    engine = lone(ImmediateFill(), reference_prices={"IBM": D("99.5")})
    assert house_fills(engine.submit("L", order("m", SELL, "7"), 1.0)) == [(D(7), D("99.5"))]


def test_market_order_without_any_price_is_canceled_with_the_reason() -> None:
    engine = lone(ImmediateFill())
    events = engine.submit("L", order("m", SELL, "7"), 1.0)
    assert isinstance(events[-1], OrderCanceled)
    assert events[-1].reason is CancelReason.NO_REFERENCE_PRICE


def test_market_order_uses_the_last_trade_price_when_there_is_no_reference() -> None:
    engine = lone(ImmediateFill())
    engine.submit("L", order("a", BUY, "1", "12"), 1.0)
    assert house_fills(engine.submit("L", order("m", SELL, "2"), 2.0)) == [(D(2), D(12))]


def test_real_counterparties_trade_before_the_house() -> None:
    engine = lone(ImmediateFill())
    engine.submit("OTHER", order("s", SELL, "30", "9.9"), 1.0)
    events = engine.submit("L", order("b", BUY, "100", "10"), 2.0)
    trades = [e for e in events if isinstance(e, Trade)]
    assert trades[0].sell is not None and trades[0].sell.order.owner == "OTHER"
    assert (trades[0].quantity, trades[0].price) == (D(30), D("9.9"))
    assert house_fills(trades[1:]) == [(D(70), D(10))]


def test_immediate_satisfies_fill_or_kill_and_min_qty() -> None:
    engine = lone(ImmediateFill())
    fok = order("f", BUY, "10", "10", time_in_force=TimeInForce.FILL_OR_KILL)
    assert house_fills(engine.submit("L", fok, 1.0)) == [(D(10), D(10))]
    assert house_fills(engine.submit("L", order("m", BUY, "10", "10", min_qty=D(10)), 1.0)) == [
        (D(10), D(10))
    ]


def test_immediate_fills_what_a_replace_adds() -> None:
    engine = lone(PartialFill(D("0.5"), 10.0))
    engine.submit("L", order("a", BUY, "10", "10"), 0.0)
    engine.set_fill_model("L", ImmediateFill())  # e.g. the operator switches models
    events = engine.replace("L", ReplaceRequest("a2", "a", "IBM", BUY, D(12), price=D(10)), 1.0)
    assert house_fills(events) == [(D(12), D(10))]


# -- partial ----------------------------------------------------------------------------------


def test_partial_fills_a_share_every_interval_as_time_advances() -> None:
    engine = lone(PartialFill(D("0.3"), 0.5))
    assert house_fills(engine.submit("L", order("a", BUY, "100", "10"), 0.0)) == []
    assert engine.book("IBM").best_bid() == D(10)  # working in the book meanwhile
    assert engine.next_wakeup() == 0.5
    assert engine.advance(0.49) == []
    assert house_fills(engine.advance(0.5)) == [(D(30), D(10))]
    assert house_fills(engine.advance(1.6)) == [(D(30), D(10)), (D(30), D(10))]
    events = engine.advance(2.0)
    assert house_fills(events) == [(D(10), D(10))]  # the rest
    assert events[-1].buy.order.status is OrdStatus.FILLED  # type: ignore[union-attr]
    assert engine.next_wakeup() is None and engine.book("IBM").best_bid() is None


def test_partial_fill_chunks_round_down_to_the_lot_and_are_at_least_one_lot() -> None:
    model = PartialFill(D("0.25"), 1.0, lot=D(10))
    assert model.chunk(D(95)) == D(20)
    assert model.chunk(D(5)) == D(10)
    assert PartialFill(D("0.01"), 1.0).chunk(D(50)) == D(1)


def test_cancel_stops_further_partial_fills() -> None:
    engine = lone(PartialFill(D("0.5"), 1.0))
    engine.submit("L", order("a", BUY, "10", "10"), 0.0)
    engine.advance(1.0)
    engine.cancel("L", CancelRequest("c", "a", "IBM", BUY), 1.5)
    assert engine.advance(10.0) == [] and engine.next_wakeup() is None


def test_replace_restarts_the_partial_fill_schedule_on_the_new_quantity() -> None:
    engine = lone(PartialFill(D("0.5"), 1.0))
    engine.submit("L", order("a", BUY, "10", "10"), 0.0)
    engine.replace("L", ReplaceRequest("a2", "a", "IBM", BUY, D(20), price=D(11)), 0.5)
    assert engine.advance(1.0) == []  # the old schedule is gone
    assert house_fills(engine.advance(1.5)) == [(D(10), D(11))]


def test_partial_market_order_waits_for_its_fills_off_book() -> None:
    engine = lone(PartialFill(D("0.5"), 1.0), reference_prices={"IBM": D(50)})
    events = engine.submit("L", order("m", SELL, "4"), 0.0)
    assert [type(e).__name__ for e in events] == ["OrderAccepted"]
    assert engine.book("IBM").best_ask() is None
    assert house_fills(engine.advance(2.0)) == [(D(2), D(50)), (D(2), D(50))]


def test_partial_ioc_and_fok_cannot_wait() -> None:
    engine = lone(PartialFill(D("0.5"), 1.0))
    ioc = engine.submit(
        "L", order("i", BUY, "10", "10", time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL), 0.0
    )
    assert ioc[-1].reason is CancelReason.IOC_REMAINDER  # type: ignore[union-attr]
    fok = engine.submit(
        "L", order("f", BUY, "10", "10", time_in_force=TimeInForce.FILL_OR_KILL), 0.0
    )
    assert fok[-1].reason is CancelReason.FOK_NOT_FILLED  # type: ignore[union-attr]
    assert engine.next_wakeup() is None


def test_house_fill_moves_the_last_price_and_triggers_stops() -> None:
    engine = lone(PartialFill(D("1"), 1.0))
    engine.submit("L", order("a", BUY, "5", "20"), 0.0)
    stop = order("stp", SELL, "1", None, ord_type=OrdType.STOP, stop_px=D(21))
    engine.submit("OTHER", stop, 0.0)  # needs last <= 21
    events = engine.advance(1.0)
    names = [type(e).__name__ for e in events]
    assert names[0] == "Trade" and "StopTriggered" in names


def test_house_fill_of_an_iceberg_shows_its_next_part() -> None:
    engine = lone(PartialFill(D("0.5"), 1.0))
    engine.submit("L", order("ice", SELL, "4", "10", max_floor=D(1)), 0.0)
    assert house_fills(engine.advance(1.0)) == [(D(2), D(10))]  # more than the shown part
    assert engine.book("IBM").depth()[1] == [(D(10), D(1))]
    events = engine.submit("OTHER", order("b", BUY, "2", "10"), 1.5)
    assert [e.quantity for e in events if isinstance(e, Trade)] == [D(1), D(1)]


# -- never, reject ------------------------------------------------------------------------------


def test_never_leaves_orders_working() -> None:
    engine = lone(NeverFill())
    events = engine.submit("L", order("a", BUY, "10", "10"), 0.0)
    assert [type(e).__name__ for e in events] == ["OrderAccepted"]
    assert engine.next_wakeup() is None and engine.advance(1e9) == []
    market = engine.submit("L", order("m", BUY, "1"), 0.0)
    assert market[-1].reason is CancelReason.NO_REFERENCE_PRICE  # type: ignore[union-attr]


def test_reject_fraction_is_reproducible_with_a_seed() -> None:
    def run(seed: int) -> list[bool]:
        engine = lone(RejectFraction(0.3, seed=seed))
        return [
            isinstance(engine.submit("L", order(f"o{i}", BUY, "1", "10"), 0.0)[0], OrderRejected)
            for i in range(400)
        ]

    first, again, other = run(7), run(7), run(8)
    assert first == again and first != other
    assert 80 <= sum(first) <= 160  # about 30% of 400


def test_rejected_order_carries_the_reason_and_its_cl_ord_id_stays_used() -> None:
    engine = lone(RejectFraction(1.0))
    reject = engine.submit("L", order("a", BUY, "1", "10"), 0.0)[0]
    assert isinstance(reject, OrderRejected) and reject.reason is RejectReason.FILL_MODEL
    assert "reject model" in reject.text
    engine.set_fill_model("L", ImmediateFill())
    again = engine.submit("L", order("a", BUY, "1", "10"), 1.0)[0]
    assert isinstance(again, OrderRejected) and again.reason is RejectReason.DUPLICATE_CL_ORD_ID


def test_reject_fraction_fills_the_accepted_ones_with_its_next_model() -> None:
    engine = lone(RejectFraction(0.0, then=PartialFill(D("0.5"), 1.0)))
    assert house_fills(engine.submit("L", order("a", BUY, "2", "10"), 0.0)) == []
    assert house_fills(engine.advance(1.0)) == [(D(1), D(10))]


def test_sessions_without_a_model_use_the_book_only() -> None:
    engine = lone(ImmediateFill())
    events = engine.submit("BOOK-ONLY", order("a", BUY, "1", "10"), 0.0)
    assert [type(e).__name__ for e in events] == ["OrderAccepted"]


# -- building models ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("immediate", ImmediateFill),
        ("never", NeverFill),
        ("partial:25%/500ms", PartialFill),
        ("reject:10%", RejectFraction),
        ("reject:10%@42:partial:50%/2s", RejectFraction),
    ],
)
def test_parse_fill_model(spec: str, kind: type) -> None:
    model = parse_fill_model(spec)
    assert isinstance(model, kind)
    if spec == "partial:25%/500ms":
        assert (model.fraction, model.interval) == (D("0.25"), 0.5)  # type: ignore[attr-defined]
    if spec.startswith("reject:10%@42"):
        assert (model.fraction, model.seed) == (0.1, 42)  # type: ignore[attr-defined]
        assert isinstance(model.then, PartialFill) and model.then.interval == 2.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "spec",
    [
        "sometimes",
        "partial:25%",
        "partial:x/1s",
        "partial:25%/soon",
        "reject:10%@x",
        "partial:0%/1s",
        "reject:150%",
    ],
)
def test_parse_fill_model_refuses_bad_text_clearly(spec: str) -> None:
    with pytest.raises(ValueError, match=r"fill model|fraction"):
        parse_fill_model(spec)


def test_fill_model_by_name_for_every_known_name() -> None:
    for name in FILL_MODELS:
        assert fill_model(name, partial_fraction=D("0.5"), partial_interval=0.2).name == name  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown fill model"):
        fill_model("sometimes")
