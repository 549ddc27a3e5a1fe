"""Order state machine: every transition of the table, the FIX state-change scenarios,
duplicates and anomalies."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from fixengine.codec import decode, encode
from fixengine.orders.messages import (
    CancelReject,
    ExecutionReport,
    FixVersion,
    cancel_reject_message,
    execution_report_message,
)
from fixengine.orders.model import (
    CxlRejReason,
    CxlRejResponseTo,
    ExecTransType,
    ExecType,
    Fill,
    NewOrderRequest,
    Order,
    OrdStatus,
    OrdType,
    PendingRequest,
    Side,
    TimeInForce,
)
from fixengine.orders.state import (
    TRANSITIONS,
    AnomalyKind,
    ClOrdIdGenerator,
    ExecEvent,
    Next,
    OrderRegistry,
    OrderUpdate,
    classify,
)

S = OrdStatus
_ids = itertools.count(1)


def er(
    exec_type: ExecType,
    status: OrdStatus,
    cl: str | None,
    **kw: object,
) -> ExecutionReport:
    """An ExecutionReport with a fresh ExecID unless one is given."""
    kw.setdefault("exec_id", f"E{next(_ids)}")
    kw.setdefault("order_id", "O1")
    kw.setdefault("symbol", "IBM")
    kw.setdefault("side", Side.BUY)
    return ExecutionReport(exec_type=exec_type, ord_status=status, cl_ord_id=cl, **kw)  # type: ignore[arg-type]


class Venue:
    """The sell side of one order: emits consistent reports and feeds them to the registry.

    With a ``version`` every report goes over the wire: built for that FIX version,
    encoded, decoded and parsed again, as the router would receive it.
    """

    def __init__(self, reg: OrderRegistry, cl: str, version: str | None = None) -> None:
        self.reg = reg
        self.cl = cl
        self.qty = reg[cl].quantity
        self.cum = D(0)
        self.notional = D(0)
        self.version = version
        self.live = True

    def leaves(self) -> D:
        return self.qty - self.cum if self.live else D(0)

    def avg(self) -> D:
        return (self.notional / self.cum).quantize(D("0.000001")) if self.cum else D(0)

    def send(self, exec_type: ExecType, status: OrdStatus, **kw: object) -> OrderUpdate:
        kw.setdefault("cum_qty", self.cum)
        kw.setdefault("leaves_qty", self.leaves())
        kw.setdefault("avg_px", self.avg())
        kw.setdefault("order_qty", self.qty)
        cl = kw.pop("cl", self.cl)
        report = er(exec_type, status, cl, **kw)  # type: ignore[arg-type]
        return self.deliver(report)

    def deliver(self, item: ExecutionReport | CancelReject) -> OrderUpdate:
        if self.version is None:
            return self.reg.apply(item, 100.0)
        v = FixVersion.parse(self.version)
        if isinstance(item, ExecutionReport):
            msg = execution_report_message(item, v)
        else:
            msg = cancel_reject_message(item, v)
        return self.reg.apply(decode(encode(msg, v.begin_string)), 100.0)

    def ack(self) -> OrderUpdate:
        return self.send(ExecType.NEW, S.NEW)

    def fill(self, qty: str, px: str, status: OrdStatus | None = None) -> OrderUpdate:
        self.cum += D(qty)
        self.notional += D(qty) * D(px)
        if status is None:
            status = S.FILLED if self.cum >= self.qty else S.PARTIALLY_FILLED
        return self.send(ExecType.TRADE, status, last_qty=D(qty), last_px=D(px))

    def status(self) -> OrdStatus:
        return S.FILLED if self.cum >= self.qty else S.PARTIALLY_FILLED if self.cum else S.NEW


def placed(qty: str = "100", price: str = "10") -> tuple[OrderRegistry, str]:
    reg = OrderRegistry(ClOrdIdGenerator(1_700_000_000.0, entropy=7))
    req = reg.new_order(NewOrderRequest("IBM", Side.BUY, D(qty), price=D(price)), 1.0)
    assert req.cl_ord_id is not None
    return reg, req.cl_ord_id


def kinds(update: OrderUpdate) -> set[AnomalyKind]:
    return {a.kind for a in update.anomalies}


VERSIONS = [None, "FIX.4.2", "FIX.4.4", "FIX.5.0SP2"]


# -- the FIX order state change scenarios --------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_order_goes_new_then_partially_filled_then_filled(version: str | None) -> None:
    reg, cl = placed()
    v = Venue(reg, cl, version)
    assert reg[cl].status is S.PENDING_NEW
    assert v.send(ExecType.PENDING_NEW, S.PENDING_NEW).status is S.PENDING_NEW
    assert v.ack().status is S.NEW
    u = v.fill("30", "10.01")
    assert u.status is S.PARTIALLY_FILLED and u.fill is not None and u.fill.quantity == D(30)
    u = v.fill("70", "10.02")
    assert u.status is S.FILLED
    order = reg[cl]
    assert order.cum_qty == D(100) and order.leaves_qty == D(0)
    assert order.avg_px == (D(30) * D("10.01") + D(70) * D("10.02")) / D(100)
    assert not order.is_live and order.is_done
    assert not any(u.anomalies for u in [u])


@pytest.mark.parametrize("version", VERSIONS)
def test_clean_lifecycle_raises_no_anomaly(version: str | None) -> None:
    reg, cl = placed()
    v = Venue(reg, cl, version)
    updates = [v.ack(), v.fill("10", "10"), v.fill("5", "10.5")]
    cxl = reg.cancel(cl, 2.0)
    updates.append(
        v.send(ExecType.PENDING_CANCEL, S.PENDING_CANCEL, cl=cxl.cl_ord_id, orig_cl_ord_id=cl)
    )
    v.live = False
    updates.append(v.send(ExecType.CANCELED, S.CANCELED, cl=cxl.cl_ord_id, orig_cl_ord_id=cl))
    assert [a for u in updates for a in u.anomalies] == []
    assert reg[cl].status is S.CANCELED and reg[cl].cum_qty == D(15)
    assert reg.anomalies == type(reg.anomalies)([], maxlen=reg.anomalies.maxlen)


def test_average_price_is_exact_and_rounded_reports_are_accepted() -> None:
    reg, cl = placed("3")
    v = Venue(reg, cl)
    v.ack()
    v.fill("1", "10")
    u = v.fill("2", "10.01", status=S.FILLED)
    exact = D("30.02") / D(3)
    assert reg[cl].avg_px == exact
    assert AnomalyKind.AVG_PX_MISMATCH not in kinds(u)  # report carried 10.006667


def test_average_price_far_from_the_fills_is_an_anomaly() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    u = v.send(
        ExecType.TRADE,
        S.PARTIALLY_FILLED,
        last_qty=D(10),
        last_px=D(10),
        cum_qty=D(10),
        leaves_qty=D(90),
        avg_px=D("10.1"),
    )
    assert AnomalyKind.AVG_PX_MISMATCH in kinds(u)
    assert reg[cl].avg_px == D(10)


def test_fill_before_acknowledgement_is_accepted() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    u = v.fill("40", "10")
    assert u.status is S.PARTIALLY_FILLED and not u.anomalies


@pytest.mark.parametrize("version", VERSIONS)
def test_rejected_new_order_records_the_reason(version: str | None) -> None:
    reg, cl = placed()
    v = Venue(reg, cl, version)
    v.live = False
    u = v.send(ExecType.REJECTED, S.REJECTED, ord_rej_reason=3, text="exceeds limit")
    assert u.status is S.REJECTED and not u.anomalies
    assert reg[cl].ord_rej_reason == 3 and reg[cl].text == "exceeds limit"
    assert reg[cl].is_done


@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_request_goes_pending_cancel_then_canceled(version: str | None) -> None:
    reg, cl = placed()
    v = Venue(reg, cl, version)
    v.ack()
    cxl = reg.cancel(cl, 5.0)
    assert cxl.orig_cl_ord_id == cl and cxl.cl_ord_id != cl
    assert reg[cl].status is S.NEW  # not pending until the venue says so
    assert reg[cl].pending[0].kind == "cancel" and not reg[cl].pending[0].acknowledged
    u = v.send(ExecType.PENDING_CANCEL, S.PENDING_CANCEL, cl=cxl.cl_ord_id, orig_cl_ord_id=cl)
    assert u.status is S.PENDING_CANCEL and reg[cl].base_status is S.NEW
    v.live = False
    u = v.send(ExecType.CANCELED, S.CANCELED, cl=cxl.cl_ord_id, orig_cl_ord_id=cl)
    assert u.status is S.CANCELED and reg[cl].pending == [] and reg[cl].leaves_qty == 0
    assert reg.get(cxl.cl_ord_id) is reg[cl]


@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_reject_returns_the_order_to_its_state(version: str | None) -> None:
    reg, cl = placed()
    v = Venue(reg, cl, version)
    v.ack()
    v.fill("20", "10")
    cxl = reg.cancel(cl, 5.0)
    v.send(ExecType.PENDING_CANCEL, S.PENDING_CANCEL, cl=cxl.cl_ord_id, orig_cl_ord_id=cl)
    reject = CancelReject(
        cxl.cl_ord_id,
        S.PARTIALLY_FILLED,
        CxlRejResponseTo.ORDER_CANCEL_REQUEST,
        order_id="O1",
        orig_cl_ord_id=cl,
        reason=CxlRejReason.BROKER_OPTION,
    )
    u = v.deliver(reject)
    assert u.event is ExecEvent.CANCEL_REJECTED and not u.anomalies
    assert u.previous_status is S.PENDING_CANCEL and u.status is S.PARTIALLY_FILLED
    assert reg[cl].pending == []
    again = v.deliver(reject)  # a resent copy
    assert again.duplicate and not again.anomalies


def test_fills_while_cancel_pending_keep_pending_cancel_and_count() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    cxl = reg.cancel(cl, 5.0)
    v.send(ExecType.PENDING_CANCEL, S.PENDING_CANCEL, cl=cxl.cl_ord_id, orig_cl_ord_id=cl)
    u = v.fill("25", "10", status=S.PENDING_CANCEL)
    assert u.status is S.PENDING_CANCEL and not u.anomalies
    assert reg[cl].base_status is S.PARTIALLY_FILLED and reg[cl].cum_qty == D(25)
    assert reg[cl].leaves_qty == D(75)
    v.live = False
    u = v.send(ExecType.CANCELED, S.CANCELED, cl=cxl.cl_ord_id, orig_cl_ord_id=cl)
    assert u.status is S.CANCELED and reg[cl].cum_qty == D(25)


def test_order_filled_before_cancel_then_cancel_rejected_too_late() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    cxl = reg.cancel(cl, 5.0)
    u = v.fill("100", "10")
    assert u.status is S.FILLED
    u = v.deliver(
        CancelReject(
            cxl.cl_ord_id,
            S.FILLED,
            CxlRejResponseTo.ORDER_CANCEL_REQUEST,
            order_id="O1",
            orig_cl_ord_id=cl,
            reason=CxlRejReason.TOO_LATE_TO_CANCEL,
        )
    )
    assert u.status is S.FILLED and not u.anomalies and reg[cl].pending == []


@pytest.mark.parametrize("version", VERSIONS)
def test_replace_moves_the_order_to_its_new_cl_ord_id_and_keeps_cum_qty(
    version: str | None,
) -> None:
    reg, cl = placed()
    v = Venue(reg, cl, version)
    v.ack()
    v.fill("30", "10")
    rpl = reg.replace(cl, 5.0, quantity=D(150), price=D("10.5"))
    assert rpl.orig_cl_ord_id == cl and rpl.quantity == D(150) and rpl.price == D("10.5")
    u = v.send(ExecType.PENDING_REPLACE, S.PENDING_REPLACE, cl=rpl.cl_ord_id, orig_cl_ord_id=cl)
    assert u.status is S.PENDING_REPLACE
    v.qty = D(150)
    u = v.send(
        ExecType.REPLACED, S.PARTIALLY_FILLED, cl=rpl.cl_ord_id, orig_cl_ord_id=cl, price=D("10.5")
    )
    assert u.status is S.PARTIALLY_FILLED and not u.anomalies
    order = reg[rpl.cl_ord_id]
    assert order is reg[cl]
    assert order.cl_ord_id == rpl.cl_ord_id and order.orig_cl_ord_id == cl
    assert order.quantity == D(150) and order.price == D("10.5")
    assert order.cum_qty == D(30) and order.leaves_qty == D(120)
    assert reg.status_of(cl) is S.REPLACED and reg.status_of(rpl.cl_ord_id) is S.PARTIALLY_FILLED
    assert reg.chain(cl) == (cl, rpl.cl_ord_id)


def test_replace_of_a_replace_chains_orig_cl_ord_ids() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    first = reg.replace(cl, 2.0, price=D("10.1"))
    v.send(ExecType.REPLACED, S.NEW, cl=first.cl_ord_id, orig_cl_ord_id=cl)
    second = reg.replace(first.cl_ord_id, 3.0, price=D("10.2"))
    assert second.orig_cl_ord_id == first.cl_ord_id
    u = v.send(ExecType.REPLACED, S.NEW, cl=second.cl_ord_id, orig_cl_ord_id=first.cl_ord_id)
    assert not u.anomalies
    assert reg.chain(cl) == (cl, first.cl_ord_id, second.cl_ord_id)
    assert reg[cl].price == D("10.2")
    cxl = reg.cancel(cl, 4.0)  # any ID of the chain finds the order
    assert cxl.orig_cl_ord_id == second.cl_ord_id


def test_replace_reducing_quantity_to_cum_qty_fills_the_order() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    v.fill("40", "10")
    rpl = reg.replace(cl, 2.0, quantity=D(40))
    v.qty = D(40)
    u = v.send(ExecType.REPLACED, S.FILLED, cl=rpl.cl_ord_id, orig_cl_ord_id=cl)
    assert u.status is S.FILLED and reg[cl].leaves_qty == 0 and not u.anomalies


def test_replace_below_cum_qty_amended_to_cum_qty_is_the_prescribed_answer() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    v.fill("40", "10")
    rpl = reg.replace(cl, 2.0, quantity=D(30))
    v.qty = D(40)  # matrices C.3.c: OrderQty amended to CumQty, order filled
    u = v.send(ExecType.REPLACED, S.FILLED, cl=rpl.cl_ord_id, orig_cl_ord_id=cl)
    assert u.status is S.FILLED and not u.anomalies and reg[cl].quantity == D(40)


def test_replace_to_another_quantity_than_asked_is_flagged_and_adopted() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    rpl = reg.replace(cl, 2.0, quantity=D(150))
    v.qty = D(120)
    u = v.send(ExecType.REPLACED, S.NEW, cl=rpl.cl_ord_id, orig_cl_ord_id=cl)
    assert kinds(u) == {AnomalyKind.ORDER_QTY_MISMATCH}
    assert reg[cl].quantity == D(120) and reg[cl].leaves_qty == D(120)


def test_replace_rejected_keeps_the_old_terms_and_chain() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    rpl = reg.replace(cl, 2.0, price=D(11))
    u = v.deliver(
        CancelReject(
            rpl.cl_ord_id,
            S.NEW,
            CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST,
            order_id="O1",
            orig_cl_ord_id=cl,
        )
    )
    assert u.event is ExecEvent.REPLACE_REJECTED and u.status is S.NEW and not u.anomalies
    assert reg[cl].price == D(10) and reg.chain(cl) == (cl,) and reg[cl].pending == []


def test_rejected_execution_report_for_a_replace_rejects_only_the_replace() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    rpl = reg.replace(cl, 2.0, price=D(11))
    u = v.send(ExecType.REJECTED, S.NEW, cl=rpl.cl_ord_id, orig_cl_ord_id=cl)
    assert u.event is ExecEvent.REPLACE_REJECTED and u.status is S.NEW and not u.anomalies
    assert reg[cl].pending == []


def test_unsolicited_cancel_of_ioc_remainder_is_not_an_anomaly() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    v.fill("60", "10")
    v.live = False
    u = v.send(ExecType.CANCELED, S.CANCELED)
    assert u.status is S.CANCELED and not u.anomalies and reg[cl].cum_qty == D(60)


@pytest.mark.parametrize(
    ("exec_type", "status"),
    [
        (ExecType.EXPIRED, S.EXPIRED),
        (ExecType.DONE_FOR_DAY, S.DONE_FOR_DAY),
        (ExecType.STOPPED, S.STOPPED),
        (ExecType.SUSPENDED, S.SUSPENDED),
    ],
)
def test_venue_actions_move_a_working_order(exec_type: ExecType, status: OrdStatus) -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    v.fill("10", "10")
    v.live = status in (S.STOPPED, S.SUSPENDED)
    u = v.send(exec_type, status)
    assert u.status is status and not u.anomalies
    assert reg[cl].is_live is (status in (S.STOPPED, S.SUSPENDED))


def test_good_till_cancel_order_done_for_day_is_acknowledged_again_next_day() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    v.fill("10", "10")
    v.live = False
    v.send(ExecType.DONE_FOR_DAY, S.DONE_FOR_DAY)
    assert reg[cl] in reg.open_orders() and reg[cl] not in reg.live_orders()
    v.live = True
    u = v.send(ExecType.NEW, S.PARTIALLY_FILLED)
    assert u.status is S.PARTIALLY_FILLED and not u.anomalies


def test_restatement_changes_quantity_and_status() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    v.qty = D(80)
    u = v.send(ExecType.RESTATED, S.NEW, exec_restatement_reason=5)
    assert u.status is S.NEW and reg[cl].quantity == D(80) and not u.anomalies


@pytest.mark.parametrize("version", ["FIX.4.2", "FIX.4.4"])
def test_trade_bust_reopens_a_filled_order(version: str) -> None:
    reg, cl = placed()
    v = Venue(reg, cl, version)
    v.ack()
    first = v.fill("60", "10")
    v.fill("40", "11")
    assert reg[cl].status is S.FILLED
    assert first.fill is not None
    v.cum, v.notional = D(40), D(440)
    u = v.send(ExecType.TRADE_CANCEL, S.PARTIALLY_FILLED, exec_ref_id=first.fill.exec_id)
    assert u.event is ExecEvent.TRADE_CANCEL and not u.anomalies
    assert u.status is S.PARTIALLY_FILLED and reg[cl].cum_qty == D(40)
    assert reg[cl].avg_px == D(11) and reg[cl].leaves_qty == D(60)


@pytest.mark.parametrize("version", ["FIX.4.2", "FIX.4.4"])
def test_trade_correction_changes_quantity_and_price(version: str) -> None:
    reg, cl = placed()
    v = Venue(reg, cl, version)
    v.ack()
    first = v.fill("60", "10")
    assert first.fill is not None
    v.cum, v.notional = D(50), D(500)
    u = v.send(
        ExecType.TRADE_CORRECT,
        S.PARTIALLY_FILLED,
        exec_ref_id=first.fill.exec_id,
        last_qty=D(50),
        last_px=D(10),
    )
    assert u.event is ExecEvent.TRADE_CORRECT and not u.anomalies
    assert reg[cl].cum_qty == D(50) and reg[cl].fills[0].corrected_by == u.report.exec_id  # type: ignore[union-attr]


def test_trade_correction_for_unknown_exec_id_is_an_anomaly() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    u = v.send(ExecType.TRADE_CANCEL, S.NEW, exec_ref_id="nope")
    assert AnomalyKind.UNKNOWN_EXEC_REF in kinds(u)


@pytest.mark.parametrize("version", ["FIX.4.2", "FIX.4.4"])
def test_status_report_changes_nothing(version: str) -> None:
    reg, cl = placed()
    v = Venue(reg, cl, version)
    v.ack()
    v.fill("10", "10")
    u = v.send(ExecType.ORDER_STATUS, S.PARTIALLY_FILLED, exec_id="0")
    assert u.event is ExecEvent.STATUS and not u.changed and not u.anomalies
    again = v.send(ExecType.ORDER_STATUS, S.PARTIALLY_FILLED, exec_id="0")
    assert not again.duplicate  # status reports may reuse ExecID 0; never counted anyway
    assert reg[cl].cum_qty == D(10)


def test_cancel_reject_saying_new_stands_for_a_lost_acknowledgement() -> None:
    reg, cl = placed()
    cxl = reg.cancel(cl, 2.0)
    u = reg.apply(
        CancelReject(cxl.cl_ord_id, S.NEW, CxlRejResponseTo.ORDER_CANCEL_REQUEST, order_id="O1"),
        3.0,
    )
    assert u.status is S.NEW and not u.anomalies and reg[cl].order_id == "O1"


def test_status_report_disagreeing_with_the_order_is_an_anomaly() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    u = v.send(ExecType.ORDER_STATUS, S.FILLED)
    assert AnomalyKind.STATUS_MISMATCH in kinds(u) and reg[cl].status is S.NEW


def test_order_status_precedence_pending_cancel_over_partially_filled() -> None:
    order = Order("A", "IBM", Side.BUY, D(10), OrdType.LIMIT, D(1), None, TimeInForce.DAY, 0.0)
    order.base_status = S.PARTIALLY_FILLED
    order.pending = [PendingRequest("replace", "B", "A", 0.0, acknowledged=True)]
    assert order.status is S.PENDING_REPLACE
    order.pending.append(PendingRequest("cancel", "C", "A", 0.0, acknowledged=True))
    assert order.status is S.PENDING_CANCEL
    order.base_status = S.FILLED
    assert order.status is S.FILLED


# -- duplicates and anomalies ----------------------------------------------------------------


@pytest.mark.parametrize("poss_dup", [False, True])
def test_report_with_a_seen_exec_id_is_not_counted_twice(poss_dup: bool) -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    report = er(
        ExecType.TRADE,
        S.PARTIALLY_FILLED,
        cl,
        last_qty=D(10),
        last_px=D(10),
        cum_qty=D(10),
        leaves_qty=D(90),
    )
    assert not reg.apply(report, 2.0).duplicate
    dup = er(
        ExecType.TRADE,
        S.PARTIALLY_FILLED,
        cl,
        exec_id=report.exec_id,
        last_qty=D(10),
        last_px=D(10),
        cum_qty=D(10),
        leaves_qty=D(90),
        poss_dup=poss_dup,
    )
    u = reg.apply(dup, 3.0)
    assert u.duplicate and not u.changed and reg[cl].cum_qty == D(10)


def test_poss_dup_report_with_a_new_exec_id_is_applied() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    u = v.send(
        ExecType.TRADE,
        S.PARTIALLY_FILLED,
        last_qty=D(10),
        last_px=D(10),
        cum_qty=D(10),
        leaves_qty=D(90),
        avg_px=D(10),
        poss_dup=True,
    )
    assert not u.duplicate and u.fill is not None and reg[cl].cum_qty == D(10)


def test_late_new_after_a_fill_is_stale_and_does_not_move_the_order_back() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.fill("10", "10")
    u = v.send(ExecType.NEW, S.NEW, cum_qty=D(0), leaves_qty=D(100))
    assert AnomalyKind.STALE_REPORT in kinds(u) and reg[cl].status is S.PARTIALLY_FILLED


def test_canceled_after_filled_is_an_anomaly_and_the_order_stays_filled() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    v.fill("100", "10")
    u = v.send(ExecType.CANCELED, S.CANCELED)
    assert AnomalyKind.UNEXPECTED_TRANSITION in kinds(u) and reg[cl].status is S.FILLED


def test_fill_on_a_canceled_order_is_counted_and_flagged() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    v.live = False
    v.send(ExecType.CANCELED, S.CANCELED)
    u = v.fill("10", "10", status=S.CANCELED)
    assert AnomalyKind.UNEXPECTED_TRANSITION in kinds(u)
    assert reg[cl].cum_qty == D(10) and reg[cl].status is S.CANCELED


def test_overfill_is_an_anomaly_and_the_order_is_filled() -> None:
    reg, cl = placed("10")
    v = Venue(reg, cl)
    v.ack()
    v.fill("8", "10")
    u = v.fill("5", "10")
    assert AnomalyKind.OVERFILL in kinds(u) and reg[cl].status is S.FILLED
    assert reg[cl].cum_qty == D(13)


def test_fill_while_suspended_that_completes_the_order_fills_it() -> None:
    reg, cl = placed("10")
    v = Venue(reg, cl)
    v.ack()
    v.send(ExecType.SUSPENDED, S.SUSPENDED)
    u = v.fill("10", "10")
    assert AnomalyKind.UNEXPECTED_TRANSITION in kinds(u) and u.status is S.FILLED


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("cum_qty", D(5), AnomalyKind.CUM_QTY_MISMATCH),
        ("leaves_qty", D(7), AnomalyKind.LEAVES_QTY_MISMATCH),
        ("order_qty", D(99), AnomalyKind.ORDER_QTY_MISMATCH),
        ("side", Side.SELL, AnomalyKind.FIELD_MISMATCH),
        ("symbol", "MSFT", AnomalyKind.FIELD_MISMATCH),
    ],
)
def test_report_values_are_cross_checked(field: str, value: object, kind: AnomalyKind) -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    u = v.send(ExecType.NEW, S.NEW, **{field: value})
    assert kind in kinds(u)
    assert reg[cl].cum_qty == 0 and reg[cl].quantity == D(100) and reg[cl].side is Side.BUY
    assert reg.anomalies[-1].kind in {a.kind for a in u.anomalies}


def test_report_for_an_unknown_order_is_an_anomaly_not_an_error() -> None:
    reg, _ = placed()
    u = reg.apply(er(ExecType.NEW, S.NEW, "nobody", order_id="O77"), 1.0)
    assert u.order is None and kinds(u) == {AnomalyKind.UNKNOWN_ORDER}


@pytest.mark.parametrize(
    "fields",
    [
        b"37=O1|11={cl}|150=0|39=0|55=IBM|54=1|151=100|14=0|6=0|",  # no ExecID
        b"37=O1|11={cl}|17=X|150=0|39=0|55=IBM|54=1|151=abc|14=0|6=0|",  # bad LeavesQty
        b"37=O1|11={cl}|17=X|150=Z|39=0|55=IBM|54=1|151=100|14=0|6=0|",  # unknown ExecType
        b"37=O1|11={cl}|17=X|150=F|39=1|55=IBM|54=1|151=90|14=10|6=10|",  # fill, no LastQty
    ],
)
def test_malformed_report_is_an_anomaly_not_an_error(fields: bytes) -> None:
    from fixengine.codec import Message

    reg, cl = placed()
    msg = Message("8")
    for part in fields.replace(b"{cl}", cl.encode()).split(b"|")[:-1]:
        tag, _, value = part.partition(b"=")
        msg.append(int(tag), value)
    u = reg.apply(msg, 1.0)
    assert kinds(u) == {AnomalyKind.MALFORMED_REPORT}
    assert u.order is reg[cl] and reg[cl].status is S.PENDING_NEW


def test_cancel_reject_for_no_pending_request_is_an_anomaly() -> None:
    reg, cl = placed()
    u = reg.apply(
        CancelReject("zzz", S.NEW, CxlRejResponseTo.ORDER_CANCEL_REQUEST, orig_cl_ord_id=cl), 1.0
    )
    assert AnomalyKind.UNMATCHED_CANCEL_REJECT in kinds(u)


def test_replaced_without_a_request_is_flagged_and_adopted() -> None:
    reg, cl = placed()
    v = Venue(reg, cl)
    v.ack()
    v.qty = D(50)
    u = v.send(ExecType.REPLACED, S.NEW, cl="VENUE-1", orig_cl_ord_id=cl)
    assert AnomalyKind.UNSOLICITED_REPLACE in kinds(u)
    assert reg[cl].cl_ord_id == "VENUE-1" and reg[cl].quantity == D(50)
    assert reg.get("VENUE-1") is reg[cl]


def test_fix42_replaced_status_on_a_replace_report_is_consistent() -> None:
    reg, cl = placed()
    v = Venue(reg, cl, "FIX.4.2")
    v.ack()
    rpl = reg.replace(cl, 2.0, price=D(11))
    u = v.send(ExecType.REPLACED, S.REPLACED, cl=rpl.cl_ord_id, orig_cl_ord_id=cl)
    assert not u.anomalies and u.status is S.NEW


def test_session_reject_of_a_new_order_rejects_it() -> None:
    reg, cl = placed()
    u = reg.request_rejected(cl, 2.0, "Required tag missing")
    assert u.status is S.REJECTED and reg[cl].text == "Required tag missing"


def test_session_reject_of_a_cancel_drops_only_the_request() -> None:
    reg, cl = placed()
    Venue(reg, cl).ack()
    cxl = reg.cancel(cl, 2.0)
    u = reg.request_rejected(cxl.cl_ord_id, 3.0)
    assert u.status is S.NEW and reg[cl].pending == []


# -- every row of the table ---------------------------------------------------------------------

_EVENT_REPORT: dict[ExecEvent, tuple[ExecType, ExecTransType | None]] = {
    ExecEvent.PENDING_NEW: (ExecType.PENDING_NEW, None),
    ExecEvent.NEW: (ExecType.NEW, None),
    ExecEvent.TRADE: (ExecType.TRADE, None),
    ExecEvent.TRADE_CORRECT: (ExecType.TRADE_CORRECT, None),
    ExecEvent.TRADE_CANCEL: (ExecType.TRADE_CANCEL, None),
    ExecEvent.PENDING_CANCEL: (ExecType.PENDING_CANCEL, None),
    ExecEvent.CANCELED: (ExecType.CANCELED, None),
    ExecEvent.PENDING_REPLACE: (ExecType.PENDING_REPLACE, None),
    ExecEvent.REPLACED: (ExecType.REPLACED, None),
    ExecEvent.REJECTED: (ExecType.REJECTED, None),
    ExecEvent.EXPIRED: (ExecType.EXPIRED, None),
    ExecEvent.DONE_FOR_DAY: (ExecType.DONE_FOR_DAY, None),
    ExecEvent.STOPPED: (ExecType.STOPPED, None),
    ExecEvent.SUSPENDED: (ExecType.SUSPENDED, None),
    ExecEvent.RESTATED: (ExecType.RESTATED, None),
    ExecEvent.CALCULATED: (ExecType.CALCULATED, None),
    ExecEvent.TRIGGERED: (ExecType.TRIGGERED_OR_ACTIVATED_BY_SYSTEM, None),
    ExecEvent.STATUS: (ExecType.ORDER_STATUS, None),
}
_BASES = sorted({state for state, _ in TRANSITIONS}, key=lambda s: s.value)


def _order_in(base: OrdStatus) -> tuple[OrderRegistry, Order]:
    reg, cl = placed()
    order = reg[cl]
    filled = {S.FILLED: D(100), S.CALCULATED: D(100)}.get(base, D(10))
    order.add_fill(Fill("F0", filled, D(10), 0.0))
    order.exec_ids.add("F0")
    order.pending = [
        PendingRequest("cancel", "CXL", cl, 0.0),
        PendingRequest("replace", "RPL", cl, 0.0, quantity=D(100), price=D(11)),
    ]
    reg._index("CXL", order)
    reg._index("RPL", order)
    order.base_status = base
    return reg, order


def _apply_event(reg: OrderRegistry, order: Order, event: ExecEvent) -> OrderUpdate:
    if event in (ExecEvent.CANCEL_REJECTED, ExecEvent.REPLACE_REJECTED):
        cancel = event is ExecEvent.CANCEL_REJECTED
        to = (
            CxlRejResponseTo.ORDER_CANCEL_REQUEST
            if cancel
            else CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST
        )
        return reg.apply(CancelReject("CXL" if cancel else "RPL", None, to), 5.0)
    exec_type, trans = _EVENT_REPORT[event]
    kw: dict[str, object] = {"exec_trans_type": trans}
    cl = order.cl_ord_id
    if event is ExecEvent.TRADE:
        kw.update(last_qty=D(5), last_px=D(10))
    elif event is ExecEvent.TRADE_CORRECT:
        kw.update(exec_ref_id="F0", last_qty=D(4), last_px=D(10))
    elif event is ExecEvent.TRADE_CANCEL:
        kw.update(exec_ref_id="F0")
    elif event is ExecEvent.PENDING_CANCEL:
        cl = "CXL"
    elif event in (ExecEvent.PENDING_REPLACE, ExecEvent.REPLACED):
        cl = "RPL"
    return reg.apply(
        er(exec_type, S.PENDING_NEW if event is ExecEvent.RESTATED else S.NEW, cl, **kw), 5.0
    )  # type: ignore[arg-type]


def _expected(
    qty: D, cum_after: D, nxt: OrdStatus | Next, base: OrdStatus, event: ExecEvent
) -> OrdStatus:
    by_qty = S.FILLED if cum_after >= qty else S.PARTIALLY_FILLED if cum_after else S.NEW
    if isinstance(nxt, OrdStatus):
        return nxt
    if nxt is Next.KEEP:
        return base
    if nxt is Next.REPORTED:
        return S.PENDING_NEW  # the restatement in _apply_event reports PendingNew
    if nxt is Next.CONFIRMED:  # status reports in _apply_event say New; cancel rejects nothing
        return by_qty if event is ExecEvent.STATUS else base
    return by_qty


@pytest.mark.parametrize("event", list(ExecEvent), ids=lambda e: e.name)
@pytest.mark.parametrize("base", _BASES, ids=lambda s: s.name)
def test_every_state_and_event_pair_follows_the_table(base: OrdStatus, event: ExecEvent) -> None:
    reg, order = _order_in(base)
    u = _apply_event(reg, order, event)
    nxt = TRANSITIONS.get((base, event))
    table_kinds = {AnomalyKind.UNEXPECTED_TRANSITION, AnomalyKind.STALE_REPORT}
    if nxt is None:
        assert kinds(u) & table_kinds, f"{base.name} + {event.name} should be flagged"
        if order.cum_qty < order.quantity or base not in (S.PENDING_NEW, S.NEW, S.SUSPENDED):
            assert order.base_status is base
    else:
        assert not kinds(u) & table_kinds
        expected = _expected(order.quantity, order.cum_qty, nxt, base, event)
        assert order.base_status is expected
    # the invariant holds whatever happened
    if order.is_live:
        assert order.cum_qty + order.leaves_qty == order.quantity


def test_classify_reads_fix42_exec_trans_type_first() -> None:
    base = {"exec_id": "1", "ord_status": S.PARTIALLY_FILLED}
    assert classify(ExecutionReport(exec_type=ExecType.PARTIAL_FILL, **base)) is ExecEvent.TRADE  # type: ignore[arg-type]
    for trans, event in [
        (ExecTransType.CANCEL, ExecEvent.TRADE_CANCEL),
        (ExecTransType.CORRECT, ExecEvent.TRADE_CORRECT),
        (ExecTransType.STATUS, ExecEvent.STATUS),
    ]:
        r = ExecutionReport(exec_type=ExecType.PARTIAL_FILL, exec_trans_type=trans, **base)  # type: ignore[arg-type]
        assert classify(r) is event
