"""Property tests: random order flows keep the book consistent and conserve quantity."""

from __future__ import annotations

import itertools
from collections import defaultdict
from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixengine.orders.model import (
    CancelRequest,
    InvalidOrder,
    NewOrderRequest,
    OrdType,
    ReplaceRequest,
    Side,
    TimeInForce,
)
from fixengine.sim.book import (
    CancelRejected,
    MatchingEngine,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    SelfTradePolicy,
    Trade,
)
from fixengine.sim.fills import FillModel, ImmediateFill, NeverFill, PartialFill

OWNERS = ["A", "B", "C"]
prices = st.integers(min_value=95, max_value=105).map(lambda p: D(p) / 10)
qtys = st.integers(min_value=1, max_value=20).map(D)

new_order = st.tuples(
    st.just("new"),
    st.sampled_from(OWNERS),
    st.sampled_from([Side.BUY, Side.SELL, Side.SELL_SHORT]),
    qtys,
    st.sampled_from(
        [
            "limit",
            "limit",
            "limit",
            "market",
            "ioc",
            "fok",
            "minqty",
            "iceberg",
            "stop",
            "stoplimit",
            "gtd",
        ]
    ),
    prices,
    prices,
)
cancel = st.tuples(st.just("cancel"), st.integers(0, 30))
replace = st.tuples(st.just("replace"), st.integers(0, 30), qtys, prices)
advance = st.tuples(st.just("advance"), st.integers(1, 3))
end_of_day = st.tuples(st.just("eod"))
operations = st.lists(
    st.one_of(new_order, new_order, new_order, cancel, replace, advance, end_of_day),
    min_size=1,
    max_size=40,
)


def make_request(op: tuple[Any, ...], cl: str, now: float) -> NewOrderRequest:
    _, _, side, qty, kind, price, stop_px = op
    kw: dict[str, Any] = {"cl_ord_id": cl, "price": price}
    if kind == "market":
        kw.update(ord_type=OrdType.MARKET, price=None)
    elif kind == "ioc":
        kw["time_in_force"] = TimeInForce.IMMEDIATE_OR_CANCEL
    elif kind == "fok":
        kw["time_in_force"] = TimeInForce.FILL_OR_KILL
    elif kind == "minqty":
        kw["min_qty"] = max(D(1), qty // 2)
    elif kind == "iceberg":
        kw["max_floor"] = max(D(1), qty // 3)
    elif kind == "stop":
        kw.update(ord_type=OrdType.STOP, price=None, stop_px=stop_px)
    elif kind == "stoplimit":
        kw.update(ord_type=OrdType.STOP_LIMIT, stop_px=stop_px)
    elif kind == "gtd":
        kw.update(time_in_force=TimeInForce.GOOD_TILL_DATE, expire_time=now + 2)
    return NewOrderRequest("IBM", side, qty, **kw)


class Ledger:
    """What the events say happened, to compare with the engine's own state."""

    def __init__(self) -> None:
        self.filled: dict[str, D] = defaultdict(D)
        self.done: set[str] = set()
        self.bought = D(0)
        self.sold = D(0)

    def record(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, Trade):
                self.trade(event)
            elif isinstance(event, (OrderCanceled, OrderExpired, OrderRejected)):
                self.done.add(event.order.order_id)
            elif not isinstance(event, CancelRejected):  # a reject may name a finished order
                assert event.order.order_id not in self.done, f"event after the end: {event}"

    def trade(self, trade: Trade) -> None:
        assert trade.quantity > 0
        for execution in trade.executions:
            order = execution.order
            assert order.order_id not in self.done, "fill on a finished order"
            assert (execution.last_qty, execution.last_px) == (trade.quantity, trade.price)
            assert order.cum_qty <= order.order_qty, "over-filled"
            if order.price is not None:  # never worse than the order's limit
                if order.side.is_buy:
                    assert trade.price <= order.price
                else:
                    assert trade.price >= order.price
            self.filled[order.order_id] += trade.quantity
            assert self.filled[order.order_id] == order.cum_qty
            if order.leaves_qty == 0:
                self.done.add(order.order_id)
        if trade.buy is not None and trade.sell is not None:
            assert trade.buy.order.side.is_buy and trade.sell.order.side.is_sell
            assert trade.buy.aggressor != trade.sell.aggressor
            self.bought += trade.quantity
            self.sold += trade.quantity


def check_engine(engine: MatchingEngine, ledger: Ledger) -> None:
    for book in engine.books().values():
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask, f"crossed book {bid} >= {ask}"
        bids, asks = book.depth(levels=1000)
        assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
        assert [p for p, _ in asks] == sorted(p for p, _ in asks)
        for resting in book.orders():
            assert resting.leaves_qty > 0 and resting.price is not None
        assert all(shown > 0 for _, shown in bids + asks)
    for state in engine.orders(live_only=False):
        assert state.cum_qty == ledger.filled.get(state.order_id, D(0))
        assert state.cum_qty <= state.order_qty
        if state.status.value in "01":  # New, PartiallyFilled
            assert state.cum_qty + state.leaves_qty == state.order_qty
        else:
            assert state.leaves_qty == 0
    # every finished order is listed once among the done ones (what max_done counts)
    done = list(engine._done)
    assert len(done) == len(set(done))
    finished = {s.order_id for s in engine.orders(live_only=False) if s.status.value not in "01"}
    assert set(done) == finished
    assert ledger.bought == ledger.sold


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=operations,
    policy=st.sampled_from(list(SelfTradePolicy)),
    model=st.sampled_from([None, "immediate", "partial", "never"]),
)
def test_random_order_flows_keep_the_book_consistent(
    ops: list[tuple[Any, ...]], policy: SelfTradePolicy, model: str | None
) -> None:
    engine = MatchingEngine(self_trade=policy, reference_prices={"IBM": D(10)})
    if model is not None:
        models: dict[str, FillModel] = {
            "immediate": ImmediateFill(),
            "partial": PartialFill(D("0.4"), 1.0),
            "never": NeverFill(),
        }
        engine.set_fill_model("C", models[model])
    ledger = Ledger()
    ids = itertools.count(1)
    placed: list[tuple[str, str]] = []  # (owner, first ClOrdID)
    now = 0.0
    for op in ops:
        now += 0.25
        events: list[Any] = []
        if op[0] == "new":
            cl = f"c{next(ids)}"
            try:
                request = make_request(op, cl, now)
            except InvalidOrder:
                continue
            placed.append((op[1], cl))
            events = engine.submit(op[1], request, now)
        elif op[0] in ("cancel", "replace") and placed:
            owner, first = placed[op[1] % len(placed)]
            state = engine.find(owner, first)
            if state is None:
                continue
            new_cl = f"c{next(ids)}"
            if op[0] == "cancel":
                req: Any = CancelRequest(new_cl, state.cl_ord_id, "IBM", state.side)
                events = engine.cancel(owner, req, now)
            else:
                price = op[3] if state.ord_type in (OrdType.LIMIT, OrdType.STOP_LIMIT) else None
                req = ReplaceRequest(
                    new_cl,
                    state.cl_ord_id,
                    "IBM",
                    state.side,
                    op[2],
                    state.ord_type,
                    price=price,
                    stop_px=state.stop_px,
                    time_in_force=state.time_in_force,
                    expire_time=state.expire_time,
                )
                events = engine.replace(owner, req, now)
        elif op[0] == "advance":
            now += op[1]
            events = engine.advance(now)
        elif op[0] == "eod":
            events = engine.end_of_day(now)
        ledger.record(events)
        check_engine(engine, ledger)
