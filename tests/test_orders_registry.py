"""Order registry: ClOrdID assignment and chains, request creation, persistence across a restart."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest

from fixengine.errors import LocalProtocolError
from fixengine.orders.messages import CancelReject, ExecutionReport
from fixengine.orders.model import (
    CxlRejResponseTo,
    ExecType,
    NewOrderRequest,
    OrdStatus,
    OrdType,
    Side,
    TimeInForce,
)
from fixengine.orders.state import AnomalyKind, ClOrdIdGenerator, OrderRegistry

S = OrdStatus


def registry(now: float = 1_700_000_000.0, entropy: int = 3) -> OrderRegistry:
    return OrderRegistry(ClOrdIdGenerator(now, entropy=entropy))


def order(reg: OrderRegistry, **kw: object) -> str:
    kw.setdefault("price", D(10))
    req = reg.new_order(NewOrderRequest("IBM", Side.BUY, D(100), **kw), 1.0)  # type: ignore[arg-type]
    assert req.cl_ord_id is not None
    return req.cl_ord_id


def report(
    cl: str, exec_type: ExecType, status: OrdStatus, exec_id: str, **kw: object
) -> ExecutionReport:
    return ExecutionReport(
        exec_id=exec_id, exec_type=exec_type, ord_status=status, cl_ord_id=cl, order_id="O1", **kw
    )  # type: ignore[arg-type]


# -- ClOrdIDs --------------------------------------------------------------------------------


def test_generated_cl_ord_ids_are_unique_short_and_printable() -> None:
    gen = ClOrdIdGenerator(1_700_000_000.0, entropy=11)
    ids = [gen.next() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(i.isascii() and i.isprintable() and " " not in i for i in ids)
    assert max(len(i) for i in ids) <= 20


def test_cl_ord_ids_do_not_repeat_after_a_restart_without_saved_state() -> None:
    first = ClOrdIdGenerator(1_700_000_000.000)
    before = {first.next() for _ in range(1000)}
    restarted = ClOrdIdGenerator(1_700_000_000.001)  # a millisecond later, fresh randomness
    after = {restarted.next() for _ in range(1000)}
    assert not before & after


def test_cl_ord_ids_differ_between_processes_started_in_the_same_millisecond() -> None:
    a = ClOrdIdGenerator(1_700_000_000.0, entropy=1)
    b = ClOrdIdGenerator(1_700_000_000.0, entropy=2)
    assert not {a.next() for _ in range(100)} & {b.next() for _ in range(100)}


def test_restored_generator_continues_its_series() -> None:
    gen = ClOrdIdGenerator(1_700_000_000.0, prefix="X-", entropy=5)
    seen = {gen.next() for _ in range(10)}
    restored = ClOrdIdGenerator.from_state(json.loads(json.dumps(gen.state())))
    nxt = restored.next()
    assert nxt not in seen and nxt.startswith("X-")
    assert gen.next() == nxt  # same series, same next value


def test_generator_refuses_a_prefix_with_spaces_or_a_time_before_the_epoch() -> None:
    with pytest.raises(ValueError, match="prefix"):
        ClOrdIdGenerator(0.0, prefix="a b")
    with pytest.raises(ValueError, match="epoch"):
        ClOrdIdGenerator(-1.0)


# -- requests ----------------------------------------------------------------------------------


def test_new_order_assigns_a_cl_ord_id_or_keeps_the_callers() -> None:
    reg = registry()
    generated = order(reg)
    mine = order(reg, cl_ord_id="MINE-1")
    assert mine == "MINE-1" and generated != mine
    assert reg[mine].status is S.PENDING_NEW and len(reg) == 2


def test_duplicate_cl_ord_id_is_refused() -> None:
    reg = registry()
    cl = order(reg, cl_ord_id="A")
    with pytest.raises(LocalProtocolError, match="duplicate ClOrdID 'A'"):
        order(reg, cl_ord_id="A")
    cxl = reg.cancel(cl, 2.0)
    with pytest.raises(LocalProtocolError, match="duplicate"):
        order(reg, cl_ord_id=cxl.cl_ord_id)
    mass = reg.mass_cancel(3.0)
    with pytest.raises(LocalProtocolError, match="duplicate"):
        order(reg, cl_ord_id=mass.cl_ord_id)


def test_cancel_or_replace_of_a_done_or_unknown_order_is_refused() -> None:
    reg = registry()
    cl = order(reg)
    reg.apply(report(cl, ExecType.REJECTED, S.REJECTED, "E1"), 2.0)
    with pytest.raises(LocalProtocolError, match="REJECTED"):
        reg.cancel(cl, 3.0)
    with pytest.raises(LocalProtocolError, match="REJECTED"):
        reg.replace(cl, 3.0, price=D(11))
    with pytest.raises(LocalProtocolError, match="unknown order"):
        reg.cancel("nope", 3.0)


def test_replace_restates_every_unchanged_term() -> None:
    reg = registry()
    cl = order(
        reg,
        time_in_force=TimeInForce.GOOD_TILL_DATE,
        expire_date=dt.date(2030, 1, 2),
        min_qty=D(10),
        max_floor=D(20),
        exec_inst="G",
        account="ACC",
    )
    rpl = reg.replace(cl, 2.0, quantity=D(80))
    assert (rpl.symbol, rpl.side, rpl.price, rpl.quantity) == ("IBM", Side.BUY, D(10), D(80))
    assert rpl.time_in_force is TimeInForce.GOOD_TILL_DATE
    assert rpl.expire_date == dt.date(2030, 1, 2)
    assert (rpl.min_qty, rpl.max_floor, rpl.exec_inst, rpl.account) == (D(10), D(20), "G", "ACC")


def test_replace_can_turn_a_limit_order_into_a_market_order() -> None:
    reg = registry()
    cl = order(reg)
    rpl = reg.replace(cl, 2.0, ord_type=OrdType.MARKET, price=None)
    assert rpl.ord_type is OrdType.MARKET and rpl.price is None


def test_status_request_names_the_current_version_of_the_order() -> None:
    reg = registry()
    cl = order(reg)
    rpl = reg.replace(cl, 2.0, price=D(11))
    reg.apply(report(rpl.cl_ord_id, ExecType.REPLACED, S.NEW, "E1", orig_cl_ord_id=cl), 3.0)
    status = reg.status_request(cl)
    assert status.cl_ord_id == rpl.cl_ord_id and status.order_id == "O1"


def test_live_and_open_orders() -> None:
    reg = registry()
    live = order(reg)
    gt = order(reg, time_in_force=TimeInForce.GOOD_TILL_CANCEL)
    done = order(reg)
    reg.apply(report(gt, ExecType.DONE_FOR_DAY, S.DONE_FOR_DAY, "E1"), 2.0)
    reg.apply(report(done, ExecType.REJECTED, S.REJECTED, "E2"), 2.0)
    assert [o.cl_ord_id for o in reg.live_orders()] == [live]
    assert [o.cl_ord_id for o in reg.open_orders()] == [live, gt]
    assert reg.forget_done() == 1 and done not in reg and len(reg) == 2


def test_anomalies_are_kept_up_to_the_limit() -> None:
    reg = OrderRegistry(ClOrdIdGenerator(0.0, entropy=1), max_anomalies=3)
    for i in range(5):
        reg.apply(report(f"x{i}", ExecType.NEW, S.NEW, f"E{i}"), float(i))
    assert [a.cl_ord_id for a in reg.anomalies] == ["x2", "x3", "x4"]
    assert all(a.kind is AnomalyKind.UNKNOWN_ORDER for a in reg.anomalies)


# -- persistence -------------------------------------------------------------------------------


def busy_registry() -> tuple[OrderRegistry, dict[str, str]]:
    reg = registry()
    ids = {
        "filled": order(reg),
        "partial": order(reg),
        "pending_cxl": order(reg),
        "replaced": order(reg, time_in_force=TimeInForce.GOOD_TILL_DATE, expire_time=2e9),
    }
    reg.apply(
        report(ids["filled"], ExecType.TRADE, S.FILLED, "F1", last_qty=D(100), last_px=D("10.01")),
        2.0,
    )
    reg.apply(
        report(
            ids["partial"],
            ExecType.TRADE,
            S.PARTIALLY_FILLED,
            "P1",
            last_qty=D(30),
            last_px=D("9.99"),
        ),
        2.0,
    )
    cxl = reg.cancel(ids["pending_cxl"], 3.0)
    ids["cxl"] = cxl.cl_ord_id
    reg.apply(
        report(
            cxl.cl_ord_id,
            ExecType.PENDING_CANCEL,
            S.PENDING_CANCEL,
            "C1",
            orig_cl_ord_id=ids["pending_cxl"],
        ),
        3.0,
    )
    rpl = reg.replace(ids["replaced"], 4.0, price=D(12))
    ids["rpl"] = rpl.cl_ord_id
    reg.apply(
        report(
            rpl.cl_ord_id,
            ExecType.REPLACED,
            S.NEW,
            "R1",
            orig_cl_ord_id=ids["replaced"],
            price=D(12),
        ),
        4.0,
    )
    return reg, ids


def test_registry_survives_a_restart_through_json() -> None:
    reg, ids = busy_registry()
    text = json.dumps(reg.to_dict())
    restored = OrderRegistry.from_dict(json.loads(text))
    assert restored.to_dict() == reg.to_dict()
    for name, cl in ids.items():
        assert restored[cl].chain == reg[cl].chain, name
    assert restored[ids["partial"]].cum_qty == D(30)
    assert restored[ids["partial"]].avg_px == D("9.99")
    assert restored[ids["pending_cxl"]].status is S.PENDING_CANCEL
    assert restored[ids["replaced"]].price == D(12)
    assert restored.chain(ids["rpl"]) == (ids["replaced"], ids["rpl"])
    assert restored.by_order_id("O1") is not None
    assert restored.ids.next() not in reg  # the ID series continues


def test_reports_after_a_restart_continue_the_orders() -> None:
    reg, ids = busy_registry()
    restored = OrderRegistry.from_json(reg.to_json())
    # a resent fill seen before the restart is still a duplicate
    dup = restored.apply(
        report(
            ids["partial"],
            ExecType.TRADE,
            S.PARTIALLY_FILLED,
            "P1",
            last_qty=D(30),
            last_px=D("9.99"),
            poss_dup=True,
        ),
        5.0,
    )
    assert dup.duplicate and restored[ids["partial"]].cum_qty == D(30)
    # the pending cancel is answered after the restart
    rej = restored.apply(
        CancelReject(
            ids["cxl"],
            S.NEW,
            CxlRejResponseTo.ORDER_CANCEL_REQUEST,
            orig_cl_ord_id=ids["pending_cxl"],
        ),
        5.0,
    )
    assert rej.status is S.NEW and not rej.anomalies
    fill = restored.apply(
        report(ids["rpl"], ExecType.TRADE, S.PARTIALLY_FILLED, "R2", last_qty=D(1), last_px=D(12)),
        5.0,
    )
    assert fill.status is S.PARTIALLY_FILLED and not fill.anomalies


def test_saving_open_orders_only_leaves_out_done_ones() -> None:
    reg, ids = busy_registry()
    restored = OrderRegistry.from_dict(reg.to_dict(open_only=True))
    assert ids["filled"] not in restored
    assert {o.cl_ord_id for o in restored} == {ids["partial"], ids["pending_cxl"], ids["rpl"]}


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"format": "other", "version": 1},
        {"format": "fixengine.orders", "version": 99},
        {"format": "fixengine.orders", "version": 1, "ids": {}, "orders": []},
        {
            "format": "fixengine.orders",
            "version": 1,
            "ids": {"prefix": "", "stem": "s", "counter": 0},
            "orders": [{"cl_ord_id": "x"}],
        },
    ],
)
def test_restoring_something_else_is_a_clear_value_error(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="order registry"):
        OrderRegistry.from_dict(data)


@pytest.mark.parametrize("start", [0, 1290, 1295, 1296, 2590, 1296**2 - 3, 1296**3 - 2])
def test_generated_cl_ord_ids_count_in_base_36(start: int) -> None:
    gen = ClOrdIdGenerator(1_700_000_000.0, prefix="P", entropy=3)
    restored = ClOrdIdGenerator.from_state({**gen.state(), "counter": start})
    head = f"P{gen.state()['stem']}."
    for n in range(start + 1, start + 2600):
        assert restored.next() == head + _in_base_36(n)


def _in_base_36(n: int) -> str:
    digits = ""
    while True:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
        if n == 0:
            return digits
