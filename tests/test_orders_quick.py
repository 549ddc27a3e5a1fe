"""The quick path for common ExecutionReports (``apply_quick``) against the general one.

``OrderRegistry.apply_quick`` takes acknowledgements and fills that fit the order in
every field, straight from the message; everything else it leaves to
``OrderRegistry.apply``. Whichever path a report takes, the registry must end the
same: the property test feeds the same random report sequences (plausible ones, and
ones off in a single field, duplicated, malformed or for another order) to a
registry that only uses ``apply`` and to one that tries ``apply_quick`` first.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixengine.codec import Message, decode, encode
from fixengine.orders.model import (
    ExecType,
    NewOrderRequest,
    OrdStatus,
    OrdType,
    Side,
)
from fixengine.orders.state import ClOrdIdGenerator, ExecEvent, OrderRegistry

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def registry() -> OrderRegistry:
    reg = OrderRegistry(ClOrdIdGenerator(1_700_000_000.0, entropy=7), now=1.0)
    reg.new_order(NewOrderRequest("ACME", Side.BUY, D(100), OrdType.MARKET), 1.0)
    reg.new_order(NewOrderRequest("ACME", Side.SELL, D(30), price=D("10.5")), 1.0)
    return reg


def report(fields: list[tuple[int, Any]]) -> Message:
    msg = Message("8")
    for tag, value in fields:
        msg.append(tag, value)
    for tag, value in ((49, "V"), (56, "C"), (34, 7), (52, "20240101-00:00:00.000")):
        msg.set(tag, value)
    return decode(encode(msg, "FIX.4.4"))  # as it comes off the wire


#: A field of a report made wrong (or added) in one way.
SPOILERS: list[tuple[int, Any]] = [
    (55, "OTHER"),
    (55, "ACM"),
    (55, "ACM\u00c9"),
    (54, "2"),
    (54, "Z"),
    (38, "99"),
    (38, "1x"),
    (14, "1"),
    (151, "3"),
    (6, "10.26"),
    (6, "abc"),
    (37, "OTHER-ID"),
    (37, "\u00e9"),
    (41, "somebody"),
    (20, "0"),
    (19, "E1"),
    (103, "5"),
    (99, "10"),
    (40, "?"),
    (59, "?"),
    (44, "1.2.3"),
    (58, "caf\u00e9"),
    (60, "20240101-00:00:01.000"),
    (43, "Y"),
    (97, "Y"),
    (1, "ACCT"),
    (58, "some text"),
]


@st.composite
def plausible(draw: st.DrawFn, reg: OrderRegistry, step: int) -> Message:
    """A report for one of the registry's orders, right for its state or slightly off."""
    order = draw(st.sampled_from(list(reg)))
    cum = order.cum_qty
    qty = order.quantity
    exec_type = draw(st.sampled_from(["0", "F", "F", "1", "2", "4", "8", "I"]))
    fields: list[tuple[int, Any]] = [
        (37, order.order_id or draw(st.sampled_from(["O1", "O2", "NONE"]))),
        (11, draw(st.sampled_from([order.cl_ord_id, order.cl_ord_id, "unknown"]))),
    ]
    used = sorted(order.exec_ids)
    exec_id = draw(st.sampled_from(used)) if used and draw(st.booleans()) else f"X{step}"
    fields.append((17, exec_id))
    fields.append((150, exec_type))
    last = D(0)
    px = draw(st.sampled_from([D("10.25"), D("10.5"), D("9.99")]))
    if exec_type in ("F", "1", "2"):
        last = draw(st.sampled_from([D(1), D(10), qty - cum, qty, D(0), D(-1)]))
    new_cum = cum + last
    if exec_type == "0" and not cum:
        status = OrdStatus.NEW
    elif exec_type in ("F", "1", "2", "0"):
        status = OrdStatus.FILLED if new_cum >= qty else OrdStatus.PARTIALLY_FILLED
    else:
        status = draw(st.sampled_from(list(OrdStatus)))
    fields.append((39, draw(st.sampled_from([status, status, status, OrdStatus.NEW])).value))
    fields += [(55, order.symbol), (54, order.side.value), (38, qty)]
    fields.append((40, order.ord_type.value))
    if order.price is not None:
        fields.append((44, order.price))
    if exec_type in ("F", "1", "2"):
        fields += [(32, last), (31, px)]
    leaves = max(qty - new_cum, D(0)) if status is not OrdStatus.FILLED else D(0)
    notional = order.notional + last * px
    avg = notional / new_cum if new_cum else D(0)
    fields += [(151, leaves), (14, new_cum), (6, round(avg, 4) if new_cum else D(0))]
    fields.append((60, "20240101-00:00:00.000"))
    for _ in range(draw(st.integers(0, 2))):
        tag, value = draw(st.sampled_from(SPOILERS))
        fields = [(t, v) for t, v in fields if t != tag] + [(tag, value)]
    if draw(st.integers(0, 9)) == 0:
        fields = [f for f in fields if f[0] != draw(st.sampled_from([17, 11, 39, 32, 31]))]
    return report(fields)


@SETTINGS
@given(st.data())
def test_quick_path_leaves_the_registry_as_the_general_one(data: st.DataObject) -> None:
    general, quick = registry(), registry()
    for step in range(data.draw(st.integers(1, 12))):
        msg = data.draw(plausible(general, step))
        expected = general.apply(msg, float(step))
        taken = quick.apply_quick(msg, float(step))
        if taken is None:
            got = quick.apply(msg, float(step))
            assert (got.event, got.status, got.duplicate) == (
                expected.event,
                expected.status,
                expected.duplicate,
            )
        else:
            order, event, previous, fill, text, poss_dup = taken
            assert not expected.anomalies and not expected.duplicate
            assert expected.order is not None and expected.report is not None
            assert order.cl_ord_id == expected.order.cl_ord_id
            assert (event, previous) == (expected.event, expected.previous_status)
            assert fill == expected.fill
            assert text == expected.report.text
            assert poss_dup == (expected.report.poss_dup or expected.report.poss_resend)
        assert quick.to_dict() == general.to_dict()
        assert list(quick.anomalies) == list(general.anomalies)
        for a, b in zip(quick, general, strict=True):
            assert (a.cum_qty, a.avg_px, a.leaves_qty, a.status) == (
                b.cum_qty,
                b.avg_px,
                b.leaves_qty,
                b.status,
            )


def test_acknowledgement_and_fill_take_the_quick_path() -> None:
    reg = registry()
    order = next(iter(reg))
    cl = order.cl_ord_id
    base = [(37, "O1"), (11, cl), (55, "ACME"), (54, "1"), (38, "100"), (40, "1")]
    ack = report([*base, (17, "E1"), (150, "0"), (39, "0"), (151, "100"), (14, "0"), (6, "0")])
    taken = reg.apply_quick(ack, 2.0)
    assert taken is not None
    assert taken[1:4] == (ExecEvent.NEW, OrdStatus.PENDING_NEW, None)
    assert order.status is OrdStatus.NEW and order.order_id == "O1"
    assert reg.by_order_id("O1") is order
    fill = [(17, "E2"), (150, "F"), (39, "1"), (32, "40"), (31, "10.25")]
    partial = report([*base, *fill, (151, "60"), (14, "40"), (6, "10.25")])
    taken = reg.apply_quick(partial, 3.0)
    assert taken is not None and taken[3] is not None
    assert (taken[3].quantity, taken[3].price) == (D(40), D("10.25"))
    assert (order.status, order.cum_qty, order.leaves_qty) == (
        OrdStatus.PARTIALLY_FILLED,
        D(40),
        D(60),
    )
    # the same ExecID again is a duplicate: the general path says so
    assert reg.apply_quick(partial, 4.0) is None
    assert reg.apply(partial, 4.0).duplicate
    assert order.cum_qty == D(40) and not reg.anomalies


def test_a_report_that_disagrees_is_left_to_the_general_path() -> None:
    reg = registry()
    order = next(iter(reg))
    wrong_cum = report(
        [
            (37, "O1"),
            (11, order.cl_ord_id),
            (17, "E1"),
            (150, ExecType.NEW.value),
            (39, "0"),
            (14, "5"),
        ]
    )
    assert reg.apply_quick(wrong_cum, 2.0) is None
    assert order.status is OrdStatus.PENDING_NEW and not order.exec_ids  # untouched
    update = reg.apply(wrong_cum, 2.0)
    assert [a.kind.name for a in update.anomalies] == ["CUM_QTY_MISMATCH"]
