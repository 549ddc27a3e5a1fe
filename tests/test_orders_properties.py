"""Property tests: random report sequences never break an order, never raise, never
double-count."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixengine.codec import Message
from fixengine.errors import LocalProtocolError
from fixengine.orders.messages import CancelReject, ExecutionReport
from fixengine.orders.model import (
    LIVE_STATUSES,
    CxlRejResponseTo,
    ExecTransType,
    ExecType,
    InvalidOrder,
    NewOrderRequest,
    OrdStatus,
    Side,
)
from fixengine.orders.state import ClOrdIdGenerator, ExecEvent, OrderRegistry, classify

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

qty = st.integers(min_value=-2, max_value=60).map(D) | st.none()
price = st.sampled_from([D("9.99"), D(10), D("10.015"), D("-1")]) | st.none()
common_exec_types = st.sampled_from(
    [
        ExecType.NEW,
        ExecType.TRADE,
        ExecType.TRADE,
        ExecType.PENDING_CANCEL,
        ExecType.CANCELED,
        ExecType.PENDING_REPLACE,
        ExecType.REPLACED,
        ExecType.SUSPENDED,
        ExecType.DONE_FOR_DAY,
        ExecType.TRADE_CANCEL,
        ExecType.TRADE_CORRECT,
        ExecType.RESTATED,
        ExecType.EXPIRED,
    ]
)


@st.composite
def reports(draw: st.DrawFn, ids: list[str], used: list[str]) -> ExecutionReport:
    """A report for one of ``ids``: mostly plausible, sometimes anything at all."""
    exec_type = draw(common_exec_types | st.sampled_from(list(ExecType)))
    last_qty = draw(st.integers(min_value=1, max_value=30).map(D) | qty)
    last_px = draw(price)
    if exec_type in (ExecType.TRADE, ExecType.PARTIAL_FILL, ExecType.FILL):
        # the parser guarantees a fill has LastQty and LastPx
        last_qty = last_qty if last_qty is not None else D(1)
        last_px = last_px if last_px is not None else D(10)
    if used and draw(st.integers(0, 5)) == 0:
        exec_id = draw(st.sampled_from(used))  # a resend or a venue bug
    else:
        exec_id = f"E{len(used)}"
        used.append(exec_id)
    return ExecutionReport(
        exec_id=exec_id,
        exec_type=exec_type,
        ord_status=draw(st.sampled_from(list(OrdStatus))),
        order_id=draw(st.sampled_from(["O1", "O2", None])),
        cl_ord_id=draw(st.sampled_from(ids) | st.sampled_from(["stranger", None])),
        orig_cl_ord_id=draw(st.sampled_from([*ids, None])),
        exec_trans_type=draw(st.sampled_from([None, None, None, *ExecTransType])),
        exec_ref_id=draw(st.sampled_from(used) | st.none()),
        order_qty=draw(qty),
        price=draw(price),
        last_qty=last_qty,
        last_px=last_px,
        cum_qty=draw(qty),
        leaves_qty=draw(qty),
        avg_px=draw(price),
        poss_dup=draw(st.booleans()),
    )


def check_invariants(reg: OrderRegistry) -> None:
    for order in reg:
        assert order.status in OrdStatus
        assert order.base_status not in (
            OrdStatus.PENDING_CANCEL,
            OrdStatus.PENDING_REPLACE,
            OrdStatus.REPLACED,
        )
        assert all(f.quantity > 0 for f in order.fills)
        assert order.cum_qty == sum((f.quantity for f in order.fills), D(0))
        assert order.leaves_qty >= 0
        if order.is_live:
            assert order.status in LIVE_STATUSES
            assert order.cum_qty + order.leaves_qty == order.quantity
        else:
            assert order.leaves_qty == 0
        for cl in order.chain:
            assert reg[cl] is order


@SETTINGS
@given(data=st.data(), n_orders=st.integers(min_value=1, max_value=2))
def test_random_report_sequences_never_yield_an_invalid_state(
    data: st.DataObject, n_orders: int
) -> None:
    reg = OrderRegistry(ClOrdIdGenerator(0.0, entropy=1))
    ids: list[str] = []
    used: list[str] = []
    for i in range(n_orders):
        req = reg.new_order(
            NewOrderRequest("IBM", Side.BUY, D(10 * (i + 1)), price=D(10)), float(i)
        )
        assert req.cl_ord_id is not None
        ids.append(req.cl_ord_id)
    steps = data.draw(st.integers(min_value=1, max_value=30))
    for step in range(steps):
        now = 10.0 + step
        action = data.draw(st.sampled_from(["report", "report", "report", "reject", "request"]))
        if action == "request":
            target = data.draw(st.sampled_from(ids))
            try:
                if data.draw(st.booleans()):
                    ids.append(reg.cancel(target, now).cl_ord_id)
                else:
                    new_qty = data.draw(st.integers(min_value=1, max_value=50).map(D))
                    ids.append(reg.replace(target, now, quantity=new_qty).cl_ord_id)
            except InvalidOrder:
                pass  # terms the venue restated may not allow this replace; said clearly
            except LocalProtocolError:
                assert reg[target].is_done
        elif action == "reject":
            reject = CancelReject(
                cl_ord_id=data.draw(st.sampled_from(ids)),
                ord_status=data.draw(st.sampled_from([None, *OrdStatus])),
                response_to=data.draw(st.sampled_from(list(CxlRejResponseTo))),
            )
            reg.apply(reject, now)
        else:
            report = data.draw(reports(ids, used))
            before = {id(o): (o.cum_qty, o.status) for o in reg}
            update = reg.apply(report, now)
            if update.order is not None and classify(report) is not ExecEvent.STATUS:
                again = reg.apply(report, now + 0.5)
                assert again.duplicate and not again.anomalies
                assert (update.order.cum_qty, update.order.status) == (
                    again.order.cum_qty,  # type: ignore[union-attr]
                    again.status,
                )
            if update.order is None:
                assert {id(o): (o.cum_qty, o.status) for o in reg} == before
        check_invariants(reg)
    restored = OrderRegistry.from_json(reg.to_json())
    assert restored.to_dict() == reg.to_dict()


fields = st.lists(
    st.tuples(
        st.sampled_from([6, 11, 14, 17, 19, 20, 31, 32, 37, 38, 39, 41, 54, 55, 150, 151, 434]),
        st.sampled_from([b"", b"0", b"1", b"2", b"F", b"8", b"Z", b"-5", b"1.5", b"x", b"E1"]),
    ),
    max_size=14,
)


@SETTINGS
@given(msg_type=st.sampled_from([b"8", b"9", b"D"]), items=fields)
def test_arbitrary_report_messages_never_raise(msg_type: bytes, items: list[Any]) -> None:
    reg = OrderRegistry(ClOrdIdGenerator(0.0, entropy=1))
    req = reg.new_order(NewOrderRequest("IBM", Side.BUY, D(5), price=D(1), cl_ord_id="E1"), 0.0)
    msg = Message(msg_type)
    for tag, value in items:
        msg.append(tag, value)
    update = reg.apply(msg, 1.0)
    assert update.duplicate or update.anomalies or update.order is not None
    check_invariants(reg)
    assert req.cl_ord_id in reg
