"""The quick path's two twins: ``fixengine._orders`` (compiled) and ``fixengine.orders._quick_py``.

Both are fed the same random report sequences (plausible ones, and ones off in a
single field, duplicated, malformed or for another order, from
tests/test_orders_quick.py) for two registries with the same orders; after each
report they must have returned the same and left every order, and the OrderID
index, the same. A report neither takes goes to the general path in both.
"""

from __future__ import annotations

import dataclasses
import importlib
from decimal import Decimal as D
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixengine.orders import _quick_py
from fixengine.orders.model import Fill, NewOrderRequest, Order, OrdType, Side
from fixengine.orders.state import OrderRegistry, _make_quick, _quick_arguments
from tests.test_orders_quick import SETTINGS, plausible, registry, report


def _compiled() -> ModuleType:
    try:
        return importlib.import_module("fixengine._orders")
    except ImportError:  # pragma: no cover - depends on the build
        pytest.skip("fixengine._orders is not built (python setup.py build_ext --inplace)")


def _state(reg: OrderRegistry) -> tuple[Any, ...]:
    return (
        reg.to_dict(),
        sorted(reg._by_order_id),
        [(o.cum_qty, o.avg_px, o.status, o.updated_at, o._totals) for o in reg],
    )


def _same_result(a: Any, b: Any) -> None:
    if a is None or b is None:
        assert a is b
        return
    order_a, *rest_a = a
    order_b, *rest_b = b
    assert isinstance(order_a, Order) and isinstance(order_b, Order)
    assert order_a.to_dict() == order_b.to_dict()
    assert rest_a == rest_b


@SETTINGS
@given(st.data())
def test_both_twins_return_the_same_and_leave_the_same_state(data: st.DataObject) -> None:
    compiled = _make_quick(_compiled()).apply
    pure = _make_quick(_quick_py).apply
    reg_c, reg_p = registry(), registry()
    for step in range(data.draw(st.integers(1, 12))):
        msg = data.draw(plausible(reg_p, step))
        now = float(step)
        got_c = compiled(reg_c._by_cl, reg_c._by_order_id, msg, now)
        got_p = pure(reg_p._by_cl, reg_p._by_order_id, msg, now)
        _same_result(got_c, got_p)
        if got_p is None:
            reg_c.apply(msg, now)
            reg_p.apply(msg, now)
        assert _state(reg_c) == _state(reg_p)


@pytest.mark.parametrize("twin", ["c", "py"])
def test_each_twin_takes_an_acknowledgement_and_a_fill(twin: str) -> None:
    module = _compiled() if twin == "c" else _quick_py
    apply = _make_quick(module).apply
    reg = registry()
    order = next(iter(reg))
    cl = order.cl_ord_id
    base = [(37, "O1"), (11, cl), (55, "ACME"), (54, "1"), (38, "100"), (40, "1")]
    ack = report([*base, (17, "E1"), (150, "0"), (39, "0"), (151, "100"), (14, "0"), (6, "0")])
    taken = apply(reg._by_cl, reg._by_order_id, ack, 2)
    assert taken is not None and taken[0] is order and taken[3] is None
    assert reg.by_order_id("O1") is order and order.updated_at == 2
    fill = [(17, "E2"), (150, "F"), (39, "2"), (32, "100"), (31, "10.25"), (43, "Y")]
    done = report([*base, *fill, (151, "0"), (14, "100"), (6, "10.25")])
    taken = apply(reg._by_cl, None, done, 3)
    assert taken is not None and taken[5] is True
    assert taken[3] is not None and (taken[3].quantity, taken[3].price) == (D(100), D("10.25"))
    assert order.is_done and order.exec_ids == {"E1", "E2"}
    # the same report again is a duplicate, for the general path
    assert apply(reg._by_cl, None, done, 4) is None


# -- set_slots: the fields of frozen requests and updates ---------------------------------------
@dataclasses.dataclass(frozen=True, slots=True)
class _Frozen:
    a: Any
    b: Any = None
    c: Any = 0


@given(st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5)), min_size=3, max_size=3))
def test_both_twins_store_the_same_fields(values: list[Any]) -> None:
    descriptors = tuple(_Frozen.__dict__[name] for name in ("a", "b", "c"))
    made = []
    for module in (_compiled(), _quick_py):
        obj = _Frozen(None)
        module.set_slots(obj, descriptors, tuple(values))
        made.append(obj)
    assert made[0] == made[1] == _Frozen(*values)


@pytest.mark.parametrize("twin", ["c", "py"])
def test_set_slots_refuses_what_it_cannot_store(twin: str) -> None:
    module = _compiled() if twin == "c" else _quick_py
    obj = _Frozen(1)
    descriptors = (_Frozen.__dict__["a"], _Frozen.__dict__["b"])
    with pytest.raises(ValueError):
        module.set_slots(obj, descriptors, (1,))
    with pytest.raises(TypeError):
        module.set_slots(obj, (1,), (2,))
    assert obj == _Frozen(1)


def test_requests_made_either_way_are_equal() -> None:
    request = NewOrderRequest("ACME", Side.SELL, D(5), OrdType.LIMIT, price=D("1.5"), account="A")
    assert type(request).__init__.__code__.co_names.count("_set_slots") == (
        _quick_py.twin() is not _quick_py
    )
    assert (request.symbol, request.side, request.quantity, request.price, request.account) == (
        "ACME",
        Side.SELL,
        D(5),
        D("1.5"),
        "A",
    )


def test_compiled_twin_makes_fills_as_the_constructor_does() -> None:
    module = _compiled()
    assert _make_quick(module)._fill_slots is not None  # Fill: made from C
    made: list[tuple[Any, ...]] = []

    def fill(*args: Any) -> tuple[Any, ...]:  # not a slotted dataclass: called
        made.append(args)
        return args

    quick = module.QuickApply(*_quick_arguments(fill))
    assert quick._fill_slots is None
    reg = registry()
    order = next(iter(reg))
    fields = [(37, "O1"), (11, order.cl_ord_id), (55, "ACME"), (54, "1"), (38, "100")]
    fields += [(17, "E1"), (150, "F"), (39, "1"), (32, "40"), (31, "10.25"), (151, "60")]
    fields += [(14, "40"), (6, "10.25"), (60, "20240101-00:00:00.000")]
    msg = report(fields)
    taken = quick.apply(reg._by_cl, None, msg, 5.0)
    assert taken is not None and made == [("E1", D(40), D("10.25"), 5.0, "20240101-00:00:00.000")]
    reg2 = registry()
    taken = _make_quick(module).apply(reg2._by_cl, None, msg, 5.0)
    assert taken is not None and taken[3] == Fill(
        "E1", D(40), D("10.25"), 5.0, "20240101-00:00:00.000"
    )


# -- orders of other types: the compiled twin reads them as the pure one ------------------------
def _retyped(reg: OrderRegistry, cls: type[Order]) -> Order:
    """The registry's first order, made an instance of ``cls`` (a subclass of Order) in place
    of the original in every index."""
    order = next(iter(reg))
    copy = object.__new__(cls)
    for name in Order.__slots__:
        Order.__dict__[name].__set__(copy, Order.__dict__[name].__get__(order))
    for index in (reg._orders, reg._by_cl):
        for key, value in list(index.items()):
            if value is order:
                index[key] = copy
    return copy


def _ack(order: Order, exec_id: str, symbol: str = "ACME") -> Any:
    fields = [(37, "O1"), (11, order.cl_ord_id), (55, symbol), (54, "1"), (38, "100")]
    fields += [(40, "1"), (17, exec_id), (150, "0"), (39, "0"), (151, "100"), (14, "0"), (6, "0")]
    return report(fields)


@pytest.mark.parametrize("twin", ["c", "py"])
def test_an_attribute_a_subclass_makes_a_property_is_read_through_it(twin: str) -> None:
    module = _compiled() if twin == "c" else _quick_py
    member = Order.__dict__["symbol"]

    class Watched(Order):
        __slots__ = ("reads",)

        @property  # type: ignore[override]
        def symbol(self) -> str:
            self.reads += 1
            return member.__get__(self)  # type: ignore[no-any-return]

        @symbol.setter
        def symbol(self, value: str) -> None:
            member.__set__(self, value)

    reg = registry()
    order = _retyped(reg, Watched)
    order.reads = 0
    apply = _make_quick(module).apply
    taken = apply(reg._by_cl, reg._by_order_id, _ack(order, "E1"), 2.0)
    assert taken is not None and taken[0] is order and order.reads == 1
    assert order.base_status.name == "NEW" and order.updated_at == 2.0


@pytest.mark.parametrize("twin", ["c", "py"])
def test_a_class_changed_after_its_orders_were_applied_is_read_anew(twin: str) -> None:
    module = _compiled() if twin == "c" else _quick_py

    class Plain(Order):
        __slots__ = ()

    apply = _make_quick(module).apply
    first, second = registry(), registry()
    one, other = _retyped(first, Plain), _retyped(second, Plain)
    assert apply(first._by_cl, None, _ack(one, "E1"), 2.0) is not None
    # the symbol every Plain order now reports is another: the next report does not fit
    Plain.symbol = property(lambda self: "OTHER")  # type: ignore[assignment]
    assert apply(second._by_cl, None, _ack(other, "E2"), 3.0) is None
    assert other.base_status.name == "PENDING_NEW" and other.updated_at == 1.0
    assert apply(second._by_cl, None, _ack(other, "E3", symbol="OTHER"), 4.0) is not None


def test_numbers_alike_in_length_and_ends_are_told_apart() -> None:
    # 190 and 100 (and 1.0): the same length and first and last characters
    for module in (_compiled(), _quick_py):
        apply = _make_quick(module).apply
        reg = registry()
        order = next(iter(reg))
        base = [(37, "O1"), (11, order.cl_ord_id), (55, "ACME"), (54, "1"), (40, "1")]
        ack = [(150, "0"), (39, "0"), (14, "0"), (6, "0")]
        for exec_id, qty, leaves in (("E1", "190", "190"), ("E2", "1.0", "1.0")):
            wrong = report([*base, *ack, (17, exec_id), (38, qty), (151, leaves)])
            assert apply(reg._by_cl, None, wrong, 2.0) is None
        right = report([*base, *ack, (17, "E3"), (38, "100"), (151, "100")])
        assert apply(reg._by_cl, None, right, 2.0) is not None
        fill = [(150, "F"), (39, "1"), (17, "E4"), (38, "100"), (32, "10"), (31, "190")]
        fill += [(14, "10"), (151, "90"), (6, "190")]
        taken = apply(reg._by_cl, None, report([*base, *fill]), 3.0)
        assert taken is not None and taken[3] is not None
        assert (taken[3].quantity, taken[3].price) == (D(10), D(190))
        assert (order.cum_qty, order.leaves_qty, order.avg_px) == (D(10), D(90), D(190))


@pytest.mark.parametrize("symbol", ["ACME", "\u00c4CME"])
def test_both_twins_read_a_symbol_as_text(symbol: str) -> None:
    # a symbol of other than ASCII characters is compared decoded (and never matches the
    # ASCII a report must carry)
    for module in (_compiled(), _quick_py):
        reg = OrderRegistry(now=1.0)
        order = reg.register(NewOrderRequest(symbol, Side.BUY, D(5), OrdType.MARKET), 1.0)
        apply = _make_quick(module).apply
        base = [(37, "O1"), (11, order.cl_ord_id), (54, "1"), (38, "5"), (40, "1")]
        ack = [(150, "0"), (39, "0"), (14, "0"), (6, "0"), (151, "5")]
        for exec_id, sent in (("E1", "\u00c4CME"), ("E2", "ACM"), ("E3", "ACMEE")):
            msg = report([*base, *ack, (17, exec_id), (55, sent)])
            assert apply(reg._by_cl, None, msg, 2) is None
        taken = apply(reg._by_cl, None, report([*base, *ack, (17, "E4"), (55, "ACME")]), 2)
        assert (taken is not None) is (symbol == "ACME")
        assert reg._by_order_id == {}


class _FrozenChild(_Frozen):
    __slots__ = ()


@pytest.mark.parametrize("twin", ["c", "py"])
def test_set_slots_stores_into_instances_of_a_subclass(twin: str) -> None:
    module = _compiled() if twin == "c" else _quick_py
    descriptors = tuple(_Frozen.__dict__[name] for name in ("a", "b", "c"))
    obj = _FrozenChild(1)
    module.set_slots(obj, descriptors, ("x", None, 3))
    assert (obj.a, obj.b, obj.c) == ("x", None, 3)
    with pytest.raises(TypeError):  # another class's slots: refused, nothing stored
        module.set_slots(_Unrelated(), descriptors[:1], (1,))


class _Unrelated:
    __slots__ = ("a",)
