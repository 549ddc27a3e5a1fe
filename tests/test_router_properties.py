"""Stateful property test: the router's view of its orders against a model counterparty.

Hypothesis drives an :class:`OrderRouter` (on an in-memory session, no sockets) and a
small model venue with interleaved actions: the client submits, cancels, replaces and
asks for status; the venue acknowledges, rejects, fills, cancels, replaces, answers
cancel rejects, and sometimes delivers a report a second time. Reports reach the
router in the order the venue produced them (as a FIX session guarantees), with the
repeats. After every step the router must agree with the venue on every order
(status, CumQty, quantity, chain), every settled request must have settled the way
the venue decided, and a router restored from the journal must hold the same open
orders.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import tempfile
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fixengine.codec import Message
from fixengine.orders import NewOrderRequest, Side
from fixengine.orders.messages import (
    CancelReject,
    ExecutionReport,
    cancel_reject_message,
    execution_report_message,
)
from fixengine.orders.model import CxlRejResponseTo, ExecType, OrdStatus
from fixengine.orders.router import (
    OrderHandle,
    OrderRouter,
    RequestHandle,
    RouterApplication,
    UpdateKind,
)
from fixengine.session.config import SessionConfig
from fixengine.session.events import MessageReceived

VERSION = "FIX.4.4"


class MemoryPort:
    """A logged-on session that keeps what is sent (the router's only dependency)."""

    def __init__(self) -> None:
        self.config = SessionConfig(VERSION, "C", "V")
        self.session_id = self.config.session_id
        self.is_logged_on = True
        self.outbox: list[Message] = []
        self._seq = itertools.count(2)

    async def send(self, message: Message) -> int:
        seq = next(self._seq)
        message.set(34, seq)
        self.outbox.append(message)
        return seq

    def events(self, *types: type) -> Any:  # pragma: no cover - fed by handle_event
        raise AssertionError("the router is fed directly")


@dataclasses.dataclass(eq=False)
class Book:
    """The venue's order."""

    cl_ord_id: str
    chain: list[str]
    quantity: D
    price: D
    status: OrdStatus = OrdStatus.PENDING_NEW
    cum_qty: D = D(0)
    notional: D = D(0)

    @property
    def open(self) -> bool:
        return self.status in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED)

    @property
    def leaves(self) -> D:
        return self.quantity - self.cum_qty if self.open else D(0)


class RouterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        self.port = MemoryPort()
        self.router = OrderRouter(
            self.port,
            journal=Path(self.tmp.name) / "orders.jsonl",
            journal_fsync="never",
            application=RouterApplication(),
            reconcile=False,
        )
        self.run(self.router.start())
        self.books: dict[str, Book] = {}  # every ClOrdID of an order -> its book entry
        self.handles: dict[str, OrderHandle] = {}  # first ClOrdID -> handle
        self.incoming: list[Message] = []  # requests the venue has not answered
        self.delivered: list[Message] = []
        self.requests: dict[str, tuple[RequestHandle, str | None]] = {}  # cl -> (handle, outcome)
        self.exec_ids = itertools.count(1)
        self.internal_errors = 0
        self.stream = self.router.updates()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.router.stop())
        self.loop.close()
        self.tmp.cleanup()

    # -- the venue ------------------------------------------------------------------------
    def take_requests(self) -> None:
        self.incoming.extend(self.port.outbox)
        self.port.outbox.clear()

    def deliver(self, msg: Message) -> None:
        self.delivered.append(msg)
        self.router.handle_event(MessageReceived(msg))

    def report(self, book: Book, exec_type: ExecType, **kw: Any) -> None:
        avg = book.notional / book.cum_qty if book.cum_qty else D(0)
        er = ExecutionReport(
            exec_id=f"X{next(self.exec_ids)}",
            exec_type=exec_type,
            ord_status=book.status,
            order_id=f"O-{book.chain[0]}",
            cl_ord_id=kw.pop("cl_ord_id", book.cl_ord_id),
            orig_cl_ord_id=kw.pop("orig_cl_ord_id", None),
            symbol="ACME",
            side=Side.BUY,
            order_qty=book.quantity,
            price=book.price,
            cum_qty=book.cum_qty,
            leaves_qty=book.leaves,
            avg_px=avg,
            **kw,
        )
        self.deliver(execution_report_message(er, VERSION))

    # -- client actions ---------------------------------------------------------------------
    @rule(qty=st.integers(1, 40), px=st.sampled_from(["9.5", "10", "10.25"]))
    def submit(self, qty: int, px: str) -> None:
        handle = self.run(
            self.router.submit(NewOrderRequest("ACME", Side.BUY, D(qty), price=D(px)))
        )
        self.handles[handle.key] = handle
        self.take_requests()

    def _open_handles(self) -> list[OrderHandle]:
        return [h for h in self.handles.values() if not h.is_done]

    @precondition(lambda self: self._open_handles())
    @rule(data=st.data(), replace=st.booleans(), qty=st.integers(1, 40))
    def change(self, data: st.DataObject, replace: bool, qty: int) -> None:
        handle = data.draw(st.sampled_from(self._open_handles()))
        if replace:
            request = self.run(self.router.replace(handle, quantity=D(qty)))
        else:
            request = self.run(self.router.cancel(handle))
        self.requests[request.cl_ord_id] = (request, None)
        self.take_requests()

    @precondition(lambda self: self.handles)
    @rule(data=st.data())
    def status(self, data: st.DataObject) -> None:
        handle = data.draw(st.sampled_from(list(self.handles.values())))
        self.run(self.router.status(handle))
        self.take_requests()

    # -- venue actions ----------------------------------------------------------------------
    @precondition(lambda self: self.incoming)
    @rule(data=st.data(), accept=st.integers(0, 3))
    def answer(self, data: st.DataObject, accept: int) -> None:
        """Answer the oldest request (a FIX venue answers in order); accept mostly."""
        msg = self.incoming.pop(0)
        mt = msg.msg_type
        cl = msg.get_str(11) or ""
        ok = accept > 0
        if mt == b"D":
            book = Book(cl, [cl], D(msg.get_str(38) or "0"), D(msg.get_str(44) or "0"))
            self.books[cl] = book
            book.status = OrdStatus.NEW if ok else OrdStatus.REJECTED
            self.report(book, ExecType.NEW if ok else ExecType.REJECTED)
            return
        if mt == b"H":
            book = self.books[cl]
            self.report(book, ExecType.ORDER_STATUS)
            return
        orig = msg.get_str(41) or ""
        book = self.books[orig]
        if not ok or not book.open or orig != book.cl_ord_id:
            reject = CancelReject(
                cl_ord_id=cl,
                ord_status=book.status,
                response_to=CxlRejResponseTo.ORDER_CANCEL_REQUEST
                if mt == b"F"
                else CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST,
                order_id=f"O-{book.chain[0]}",
                orig_cl_ord_id=orig,
                reason=0,
                text="refused",
            )
            self._outcome(cl, "rejected")
            self.deliver(cancel_reject_message(reject, VERSION))
            return
        self.books[cl] = book
        if mt == b"F":  # the cancel's ClOrdID answers for the order; it is not a new version
            book.status = OrdStatus.CANCELED
            self._outcome(cl, "accepted")
            self.report(book, ExecType.CANCELED, cl_ord_id=cl, orig_cl_ord_id=orig)
        else:
            book.chain.append(cl)
            book.cl_ord_id = cl
            book.quantity = D(msg.get_str(38) or "0")
            if book.cum_qty >= book.quantity:
                book.status = OrdStatus.FILLED
            self._outcome(cl, "accepted")
            self.report(book, ExecType.REPLACED, orig_cl_ord_id=orig)

    def _outcome(self, cl: str, outcome: str) -> None:
        if cl in self.requests:
            self.requests[cl] = (self.requests[cl][0], outcome)

    def _open_books(self) -> list[Book]:
        return [b for b in dict.fromkeys(self.books.values()) if b.open]

    @precondition(lambda self: self._open_books())
    @rule(data=st.data(), qty=st.integers(1, 40))
    def fill(self, data: st.DataObject, qty: int) -> None:
        book = data.draw(st.sampled_from(self._open_books()))
        qty_d = min(D(qty), book.quantity - book.cum_qty)
        book.cum_qty += qty_d
        book.notional += qty_d * D("10")
        book.status = (
            OrdStatus.FILLED if book.cum_qty >= book.quantity else OrdStatus.PARTIALLY_FILLED
        )
        self.report(book, ExecType.TRADE, last_qty=qty_d, last_px=D("10"))

    @precondition(lambda self: self._open_books())
    @rule(data=st.data())
    def venue_cancels(self, data: st.DataObject) -> None:
        """The venue ends an order by itself (end of day, a trading halt)."""
        book = data.draw(st.sampled_from(self._open_books()))
        book.status = OrdStatus.CANCELED
        self.report(book, ExecType.CANCELED, text="venue canceled")

    @precondition(lambda self: self.delivered)
    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        """A report the router already has comes again (a resend after a reconnect)."""
        msg = data.draw(st.sampled_from(self.delivered)).copy()
        if msg.msg_type == b"8" and msg.get(150) == b"I":
            return  # a status answer is not an execution: it is never "the same" twice
        msg.set(43, "Y")
        self.router.handle_event(MessageReceived(msg))

    # -- what must hold -------------------------------------------------------------------
    @invariant()
    def router_agrees_with_the_venue(self) -> None:
        for key, handle in self.handles.items():
            book = self.books.get(key)
            if book is None:
                assert handle.state is OrdStatus.PENDING_NEW
                continue
            assert handle.cum_qty == book.cum_qty, (handle, book)
            assert handle.quantity == book.quantity
            assert list(handle.chain) == book.chain
            assert handle.order.base_status is book.status, (handle, book)
            assert handle.leaves_qty == book.leaves

    @invariant()
    def requests_settle_as_the_venue_decided(self) -> None:
        for cl, (request, outcome) in self.requests.items():
            if outcome is None:
                owner = request.order
                assert owner is not None
                if not request.settled:
                    assert not owner.is_done or cl in {p.cl_ord_id for p in owner.order.pending}
                continue
            assert request.settled, request
            if outcome == "accepted":
                assert request.accepted, request

    @invariant()
    def no_anomaly_and_no_internal_error(self) -> None:
        while len(self.stream):
            update = self.stream._queue._items.popleft()
            assert not update.anomalies, update
            assert update.kind is not UpdateKind.ANOMALY, update

    @invariant()
    def journal_restores_the_open_orders(self) -> None:
        journal = self.router.journal
        assert journal is not None
        open_now = {h.key: (h.state, h.cum_qty, h.chain) for h in self.router.open_orders()}
        restored = {
            o.chain[0]: (o.status, o.cum_qty, tuple(o.chain)) for o in journal.open_orders()
        }
        assert restored == open_now


RouterMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_router_tracks_orders_like_the_venue = RouterMachine.TestCase
