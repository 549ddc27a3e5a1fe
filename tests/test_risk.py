"""Pre-trade risk: limits, collar, kill switch, duplicate ClOrdIDs and the two throttles."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixengine.orders.model import (
    CancelRequest,
    MassCancelRequest,
    NewOrderRequest,
    OrdType,
    ReplaceRequest,
    Side,
)
from fixengine.orders.risk import (
    Action,
    PreTradeRisk,
    RefusalReason,
    RiskLimits,
    SlidingWindowThrottle,
    TokenBucket,
    check_notional,
    check_price_collar,
)
from fixengine.orders.state import ClOrdIdGenerator, OrderRegistry

R = RefusalReason


def buy(qty: str = "100", price: str | None = "10", **kw: object) -> NewOrderRequest:
    ord_type = OrdType.LIMIT if price is not None else OrdType.MARKET
    return NewOrderRequest(
        "IBM",
        Side.BUY,
        D(qty),
        ord_type,
        price=None if price is None else D(price),
        **kw,  # type: ignore[arg-type]
    )


LIMITS = RiskLimits(
    max_order_qty=D(1000),
    max_notional=D(50_000),
    price_collar_pct=D(5),
    allowed_symbols=frozenset({"IBM", "MSFT"}),
)


def test_order_within_every_limit_is_allowed() -> None:
    risk = PreTradeRisk(LIMITS)
    decision = risk.check_new(buy(), 1.0, reference_price=D(10))
    assert decision.allowed and decision.reason is None


@pytest.mark.parametrize(
    ("request_", "reference", "reason", "text"),
    [
        (buy("1001"), D(10), R.MAX_ORDER_QTY, "1001 exceeds the maximum 1000"),
        (buy("1000", "50.01"), D(50), R.MAX_NOTIONAL, "50010.00"),
        (buy("100", "10.51"), D(10), R.PRICE_COLLAR, "10.51 is outside 10 +/- 5%"),
        (buy("100", "9.49"), D(10), R.PRICE_COLLAR, "9.49 is outside"),
        (buy("100", "10"), None, R.NO_REFERENCE_PRICE, "reference price"),
        (buy("100", None), None, R.NO_REFERENCE_PRICE, "notional"),
        (buy("6000", None), D(10), R.MAX_ORDER_QTY, "6000"),
        (
            NewOrderRequest("AAPL", Side.BUY, D(1), price=D(10)),
            D(10),
            R.SYMBOL_NOT_ALLOWED,
            "'AAPL'",
        ),
    ],
)
def test_order_outside_a_limit_is_refused_with_a_reason(
    request_: NewOrderRequest, reference: D | None, reason: RefusalReason, text: str
) -> None:
    decision = PreTradeRisk(LIMITS).check_new(request_, 1.0, reference_price=reference)
    assert decision.action is Action.REFUSE and decision.reason is reason
    assert text in decision.text


def test_collar_band_edges_are_inside() -> None:
    assert check_price_collar(D("10.5"), D(10), D(5)).allowed
    assert check_price_collar(D("9.5"), D(10), D(5)).allowed
    assert not check_price_collar(D("10.5000001"), D(10), D(5)).allowed


def test_market_order_is_valued_at_the_reference_price() -> None:
    risk = PreTradeRisk(RiskLimits(max_notional=D(1000)))
    assert risk.check_new(buy("100", None), 1.0, reference_price=D(10)).allowed
    refused = risk.check_new(buy("101", None), 1.0, reference_price=D(10))
    assert refused.reason is R.MAX_NOTIONAL


def test_stop_order_is_valued_at_its_stop_price() -> None:
    risk = PreTradeRisk(RiskLimits(max_notional=D(1000)))
    stop = NewOrderRequest("IBM", Side.SELL, D(100), OrdType.STOP, stop_px=D(11))
    assert risk.check_new(stop, 1.0).reason is R.MAX_NOTIONAL


def test_notional_of_a_negative_price_counts_its_size() -> None:
    assert check_notional(D(10), D(-200), D(1000)).reason is R.MAX_NOTIONAL


def test_kill_switch_refuses_orders_and_replaces_but_not_cancels() -> None:
    risk = PreTradeRisk(LIMITS)
    risk.engage_kill_switch("desk halted")
    decision = risk.check_new(buy(), 1.0, reference_price=D(10))
    assert decision.reason is R.KILL_SWITCH and "desk halted" in decision.text
    replace = ReplaceRequest("C2", "C1", "IBM", Side.BUY, D(1), price=D(10))
    assert risk.check_replace(replace, 1.0, reference_price=D(10)).reason is R.KILL_SWITCH
    assert risk.check_cancel(CancelRequest("C3", "C1", "IBM", Side.BUY), 1.0).allowed
    assert risk.check_cancel(MassCancelRequest("C4"), 1.0).allowed
    risk.release_kill_switch()
    assert risk.check_new(buy(), 1.0, reference_price=D(10)).allowed


def test_duplicate_cl_ord_id_is_refused_against_the_registry() -> None:
    reg = OrderRegistry(ClOrdIdGenerator(0.0, entropy=1))
    reg.new_order(buy(cl_ord_id="A1"), 0.0)
    risk = PreTradeRisk()
    decision = risk.check_new(buy(cl_ord_id="A1"), 1.0, known_cl_ord_ids=reg)
    assert decision.reason is R.DUPLICATE_CL_ORD_ID and "'A1'" in decision.text
    assert risk.check_new(buy(cl_ord_id="A2"), 1.0, known_cl_ord_ids=reg).allowed


def test_replace_is_checked_on_its_new_terms() -> None:
    risk = PreTradeRisk(LIMITS)
    bigger = ReplaceRequest("C2", "C1", "IBM", Side.BUY, D(2000), price=D(10))
    assert risk.check_replace(bigger, 1.0, reference_price=D(10)).reason is R.MAX_ORDER_QTY


def test_limits_refuse_floats_and_non_positive_values() -> None:
    with pytest.raises(ValueError, match="max_order_qty"):
        RiskLimits(max_order_qty=100.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="price_collar_pct"):
        RiskLimits(price_collar_pct=D(0))


# -- throttles ---------------------------------------------------------------------------------


def test_sliding_window_allows_the_limit_then_refuses_until_the_window_moves() -> None:
    throttle = SlidingWindowThrottle(3, 1.0)
    assert [throttle.acquire(t).action for t in (0.0, 0.1, 0.2)] == [Action.ALLOW] * 3
    refused = throttle.acquire(0.5)
    assert refused.reason is R.THROTTLED and "next slot at 1.0" in refused.text
    assert throttle.next_slot(0.5) == 1.0
    assert throttle.acquire(0.999).refused
    assert throttle.acquire(1.0).allowed
    assert throttle.acquire(1.05).refused  # 0.1, 0.2 and 1.0 are within the last second
    assert throttle.acquire(1.1).allowed


def test_sliding_window_queues_within_the_delay_and_reserves_the_slot() -> None:
    throttle = SlidingWindowThrottle(2, 1.0, max_delay=1.0, max_queue=2)
    assert throttle.acquire(0.0).allowed and throttle.acquire(0.5).allowed
    first = throttle.acquire(0.6)
    assert first.action is Action.QUEUE and first.until == 1.0
    second = throttle.acquire(0.6)
    assert second.action is Action.QUEUE and second.until == 1.5
    third = throttle.acquire(0.7)  # queue full (two waiting)
    assert third.refused and third.reason is R.THROTTLED
    assert throttle.queued(0.7) == 2


def test_sliding_window_refuses_when_the_wait_exceeds_max_delay() -> None:
    throttle = SlidingWindowThrottle(1, 10.0, max_delay=1.0)
    assert throttle.acquire(0.0).allowed
    assert throttle.acquire(0.5).refused


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(3, 1.0, burst=5)
    assert all(bucket.acquire(0.0).allowed for _ in range(5))
    assert bucket.acquire(0.0).refused
    assert bucket.tokens(0.5) == Fraction(3, 2)  # exact: 3 per second for half a second
    assert bucket.acquire(0.5).allowed
    assert bucket.acquire(0.5).refused
    assert bucket.next_slot(0.5) == pytest.approx(0.5 + 1 / 6)
    assert bucket.tokens(100.0) == 5  # refills up to the burst, no further


def test_token_bucket_queue_until_is_when_the_token_arrives() -> None:
    bucket = TokenBucket(2, 1.0, max_delay=2.0)
    assert bucket.acquire(0.0).allowed and bucket.acquire(0.0).allowed
    first = bucket.acquire(0.0)
    second = bucket.acquire(0.0)
    assert (first.action, first.until) == (Action.QUEUE, 0.5)
    assert (second.action, second.until) == (Action.QUEUE, 1.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SlidingWindowThrottle(0, 1.0),
        lambda: SlidingWindowThrottle(1, 0.0),
        lambda: TokenBucket(1, 1.0, burst=0),
        lambda: TokenBucket(1, 1.0, max_delay=-1),
    ],
)
def test_throttle_refuses_meaningless_settings(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_throttle_is_applied_last_and_only_to_passing_orders() -> None:
    risk = PreTradeRisk(LIMITS, throttle=SlidingWindowThrottle(1, 1.0))
    assert risk.check_new(buy("5000"), 0.0, reference_price=D(10)).reason is R.MAX_ORDER_QTY
    assert risk.check_new(buy(), 0.0, reference_price=D(10)).allowed  # the slot was still free
    assert risk.check_new(buy(), 0.1, reference_price=D(10)).reason is R.THROTTLED
    assert risk.check_cancel(CancelRequest("C3", "C1", "IBM", Side.BUY), 0.2).refused
    risk.throttle_cancels = False
    assert risk.check_cancel(CancelRequest("C3", "C1", "IBM", Side.BUY), 0.2).allowed


times = st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=60).map(
    lambda xs: [x / 10 for x in sorted(xs)]
)


@settings(max_examples=100, deadline=None)
@given(times=times, limit=st.integers(1, 4), queue=st.booleans())
def test_sliding_window_never_lets_more_than_the_limit_into_any_window(
    times: list[float], limit: int, queue: bool
) -> None:
    throttle = SlidingWindowThrottle(limit, 1.0, max_delay=0.5 if queue else None)
    sent: list[float] = []
    for now in times:
        decision = throttle.acquire(now)
        if decision.action is Action.ALLOW:
            sent.append(now)
        elif decision.action is Action.QUEUE:
            assert decision.until is not None and now < decision.until <= now + 0.5
            sent.append(decision.until)
    sent.sort()
    for i in range(len(sent) - limit):
        assert sent[i + limit] >= sent[i] + 1.0


@settings(max_examples=100, deadline=None)
@given(times=times, limit=st.integers(1, 4), burst=st.integers(1, 6), queue=st.booleans())
def test_token_bucket_never_exceeds_burst_plus_rate(
    times: list[float], limit: int, burst: int, queue: bool
) -> None:
    bucket = TokenBucket(limit, 1.0, burst=burst, max_delay=0.5 if queue else None)
    sent: list[Fraction] = []
    for now in times:
        decision = bucket.acquire(now)
        if decision.action is Action.ALLOW:
            sent.append(Fraction(now))
        elif decision.action is Action.QUEUE:
            assert decision.until is not None
            sent.append(Fraction(decision.until))
    sent.sort()
    for i in range(len(sent)):
        for j in range(i, len(sent)):
            window = sent[j] - sent[i]
            assert j - i + 1 <= burst + window * limit + Fraction(1, 10**9)
