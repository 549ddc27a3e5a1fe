"""A counterparty the router tests script, and the wiring that connects routers to it.

:class:`ScriptedVenue` is an acceptor-side :class:`~fixengine.application.Application`
on its own engine, over real loopback sockets. It records every request, keeps a
small book of the orders it acknowledged, and answers either by itself (``auto``:
acknowledge, cancel, replace, answer status and mass cancels) or when the test says
so (:meth:`ScriptedVenue.ack`, :meth:`fill`, :meth:`reject`, :meth:`send`...), which
is how tests produce late, repeated or impossible reports.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from fixengine.application import Application, Engine, SessionHandle
from fixengine.codec import Message
from fixengine.dictionary import load
from fixengine.orders.messages import (
    CancelReject,
    ExecutionReport,
    FixVersion,
    cancel_reject_message,
    execution_report_message,
    parse_cancel_request,
    parse_new_order_single,
    parse_replace_request,
    parse_status_request,
)
from fixengine.orders.model import (
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    OrdStatus,
    OrdType,
    Side,
    TimeInForce,
)
from fixengine.orders.router import OrderRouter, RouterApplication
from fixengine.session.config import SessionConfig
from fixengine.session.store_file import FileStore
from fixengine.transport import InitiatorOptions

FAST = InitiatorOptions(
    connect_timeout=2.0, reconnect_interval=0.05, max_reconnect_interval=0.2, jitter=0.0
)


@dataclasses.dataclass(eq=False)
class VenueOrder:
    """The venue's view of one order."""

    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    symbol: str
    side: Side
    quantity: Decimal
    ord_type: OrdType
    price: Decimal | None
    time_in_force: TimeInForce
    session: Any
    cum_qty: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    status: OrdStatus = OrdStatus.NEW

    @property
    def leaves_qty(self) -> Decimal:
        if self.status in (OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED):
            return Decimal(0)
        return self.quantity - self.cum_qty

    @property
    def avg_px(self) -> Decimal:
        return self.notional / self.cum_qty if self.cum_qty else Decimal(0)

    @property
    def is_open(self) -> bool:
        return self.status in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED)


class ScriptedVenue(Application):
    """Acceptor application: records requests, answers automatically or as scripted."""

    def __init__(self, version: str = "FIX.4.4", *, auto: bool = True) -> None:
        self.version = FixVersion.parse(version)
        self.auto = auto
        self.received: list[tuple[Any, Message]] = []
        self.requests: asyncio.Queue[Message] = asyncio.Queue()
        self.orders: dict[str, VenueOrder] = {}  # every ClOrdID of an order -> the order
        self.sent: list[Message] = []
        self._ids = itertools.count(1)
        self.handles: dict[Any, SessionHandle] = {}
        self.fill_on_ack: Decimal | None = None  # fill this much right after acknowledging
        self.reject_symbols: set[str] = set()
        self.silent = False  # record requests, answer nothing

    # -- what arrived -----------------------------------------------------------------------
    def on_create(self, session: SessionHandle) -> None:
        self.handles[session.session_id] = session

    def messages(self, msg_type: bytes | None = None) -> list[Message]:
        return [m for _, m in self.received if msg_type is None or m.msg_type == msg_type]

    async def next_request(self, msg_type: bytes | None = None, timeout: float = 3.0) -> Message:
        """The next request received (of ``msg_type``, skipping others)."""

        async def get() -> Message:
            while True:
                msg = await self.requests.get()
                if msg_type is None or msg.msg_type == msg_type:
                    return msg

        return await asyncio.wait_for(get(), timeout)

    async def on_message(self, session: SessionHandle, message: Message) -> None:
        self.received.append((session.session_id, message))
        self.requests.put_nowait(message)
        if not self.auto or self.silent:
            return
        mt = message.msg_type
        if mt == b"D":
            req = parse_new_order_single(message)
            if req.symbol in self.reject_symbols:
                await self.reject(message, text="unknown symbol", session=session)
                return
            order = await self.ack(message, session=session)
            if self.fill_on_ack is not None:
                await self.fill(order.cl_ord_id, self.fill_on_ack, order.price or Decimal(1))
            if (
                req.time_in_force
                in (
                    TimeInForce.IMMEDIATE_OR_CANCEL,
                    TimeInForce.FILL_OR_KILL,
                )
                and order.is_open
            ):
                await self.cancel_rest(order.cl_ord_id, text="IOC/FOK: no liquidity")
        elif mt == b"F":
            await self.accept_cancel(message)
        elif mt == b"G":
            await self.accept_replace(message)
        elif mt == b"H":
            await self.answer_status(message, session=session)
        elif mt == b"q":
            await self.accept_mass_cancel(message, session=session)

    # -- building answers -----------------------------------------------------------------
    def _exec_id(self) -> str:
        return f"E{next(self._ids)}"

    def report(
        self,
        order: VenueOrder,
        exec_type: ExecType,
        *,
        last_qty: Decimal | None = None,
        last_px: Decimal | None = None,
        exec_id: str | None = None,
        text: str | None = None,
        cl_ord_id: str | None = None,
        orig_cl_ord_id: str | None = None,
        ord_status: OrdStatus | None = None,
    ) -> Message:
        er = ExecutionReport(
            exec_id=exec_id or self._exec_id(),
            exec_type=exec_type,
            ord_status=ord_status or order.status,
            order_id=order.order_id,
            cl_ord_id=cl_ord_id or order.cl_ord_id,
            orig_cl_ord_id=orig_cl_ord_id if orig_cl_ord_id is not None else order.orig_cl_ord_id,
            symbol=order.symbol,
            side=order.side,
            order_qty=order.quantity,
            ord_type=order.ord_type,
            price=order.price,
            time_in_force=order.time_in_force,
            last_qty=last_qty,
            last_px=last_px,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves_qty,
            avg_px=order.avg_px,
            text=text,
            transact_time=time.strftime("%Y%m%d-%H:%M:%S.000", time.gmtime()),
        )
        return execution_report_message(er, self.version)

    async def send(self, message: Message, session: Any = None) -> int:
        handle = self._handle(session)
        self.sent.append(message)
        return await handle.send(message)

    def _handle(self, session: Any = None) -> SessionHandle:
        if isinstance(session, SessionHandle):
            return session
        if session is None:
            return next(iter(self.handles.values()))
        return self.handles[session]

    # -- answers ------------------------------------------------------------------------
    async def ack(self, new_order: Message, *, session: Any = None) -> VenueOrder:
        req = parse_new_order_single(new_order)
        assert req.cl_ord_id is not None
        handle = self._handle(session)
        order = VenueOrder(
            order_id=f"O{next(self._ids)}",
            cl_ord_id=req.cl_ord_id,
            orig_cl_ord_id=None,
            symbol=req.symbol,
            side=req.side,
            quantity=req.quantity,
            ord_type=req.ord_type,
            price=req.price,
            time_in_force=req.time_in_force,
            session=handle.session_id,
        )
        self.orders[order.cl_ord_id] = order
        await self.send(self.report(order, ExecType.NEW), handle)
        return order

    async def reject(
        self, new_order: Message, *, text: str = "rejected", session: Any = None
    ) -> None:
        req = parse_new_order_single(new_order)
        assert req.cl_ord_id is not None
        order = VenueOrder(
            order_id="NONE",
            cl_ord_id=req.cl_ord_id,
            orig_cl_ord_id=None,
            symbol=req.symbol,
            side=req.side,
            quantity=req.quantity,
            ord_type=req.ord_type,
            price=req.price,
            time_in_force=req.time_in_force,
            session=self._handle(session).session_id,
            status=OrdStatus.REJECTED,
        )
        await self.send(self.report(order, ExecType.REJECTED, text=text), session)

    async def fill(
        self, cl_ord_id: str, qty: Decimal, px: Decimal, *, exec_id: str | None = None
    ) -> Message:
        order = self.orders[cl_ord_id]
        order.cum_qty += qty
        order.notional += qty * px
        order.status = (
            OrdStatus.FILLED if order.cum_qty >= order.quantity else OrdStatus.PARTIALLY_FILLED
        )
        msg = self.report(order, ExecType.TRADE, last_qty=qty, last_px=px, exec_id=exec_id)
        await self.send(msg, order.session)
        return msg

    async def cancel_rest(self, cl_ord_id: str, *, text: str | None = None) -> None:
        order = self.orders[cl_ord_id]
        order.status = OrdStatus.CANCELED
        await self.send(self.report(order, ExecType.CANCELED, text=text), order.session)

    async def accept_cancel(self, message: Message) -> None:
        req = parse_cancel_request(message)
        order = self.orders.get(req.orig_cl_ord_id)
        if order is None or not order.is_open:
            await self.cancel_reject(message, text="unknown order or too late")
            return
        order.orig_cl_ord_id = order.cl_ord_id
        order.cl_ord_id = req.cl_ord_id
        self.orders[req.cl_ord_id] = order
        order.status = OrdStatus.CANCELED
        await self.send(self.report(order, ExecType.CANCELED), order.session)

    async def cancel_reject(
        self, message: Message, *, text: str = "too late", session: Any = None
    ) -> None:
        cl = message.get_str(11)
        orig = message.get_str(41)
        assert cl is not None
        order = self.orders.get(orig or "")
        reject = CancelReject(
            cl_ord_id=cl,
            ord_status=order.status if order is not None else OrdStatus.REJECTED,
            response_to=(
                CxlRejResponseTo.ORDER_CANCEL_REQUEST
                if message.msg_type == b"F"
                else CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST
            ),
            order_id=order.order_id if order is not None else "NONE",
            orig_cl_ord_id=orig,
            reason=int(CxlRejReason.TOO_LATE_TO_CANCEL if order else CxlRejReason.UNKNOWN_ORDER),
            text=text,
        )
        target = order.session if order is not None else session
        await self.send(cancel_reject_message(reject, self.version), target)

    async def accept_replace(self, message: Message) -> None:
        req = parse_replace_request(message)
        order = self.orders.get(req.orig_cl_ord_id)
        if order is None or not order.is_open:
            await self.cancel_reject(message, text="unknown order or too late")
            return
        order.orig_cl_ord_id = order.cl_ord_id
        order.cl_ord_id = req.cl_ord_id
        order.quantity = req.quantity
        order.price = req.price
        order.ord_type = req.ord_type
        self.orders[req.cl_ord_id] = order
        if order.cum_qty >= order.quantity:
            order.status = OrdStatus.FILLED
        await self.send(self.report(order, ExecType.REPLACED), order.session)

    async def answer_status(self, message: Message, *, session: Any = None) -> None:
        req = parse_status_request(message)
        order = self.orders.get(req.cl_ord_id)
        if order is None:
            unknown = VenueOrder(
                order_id="NONE",
                cl_ord_id=req.cl_ord_id,
                orig_cl_ord_id=None,
                symbol=req.symbol,
                side=req.side,
                quantity=Decimal(0),
                ord_type=OrdType.LIMIT,
                price=None,
                time_in_force=TimeInForce.DAY,
                session=self._handle(session).session_id,
                status=OrdStatus.REJECTED,
            )
            msg = self.report(unknown, ExecType.ORDER_STATUS, text="Unknown order")
            msg.append(103, 5)
            await self.send(msg, session)
            return
        await self.send(self.report(order, ExecType.ORDER_STATUS), order.session)

    async def accept_mass_cancel(self, message: Message, *, session: Any = None) -> None:
        handle = self._handle(session)
        symbol = message.get_str(55)
        affected = [
            o
            for o in dict.fromkeys(self.orders.values())
            if o.is_open
            and o.session == handle.session_id
            and (symbol is None or o.symbol == symbol)
        ]
        report = Message("r")
        report.append(11, message.get_str(11) or "")
        report.append(37, f"M{next(self._ids)}")
        report.append(530, message.get_str(530) or "7")
        report.append(531, message.get_str(530) or "7")
        report.append(533, len(affected))
        await self.send(report, handle)
        for order in affected:
            order.status = OrdStatus.CANCELED
            await self.send(
                self.report(
                    order,
                    ExecType.CANCELED,
                    cl_ord_id=message.get_str(11),
                    orig_cl_ord_id=order.cl_ord_id,
                ),
                handle,
            )


# -- wiring ---------------------------------------------------------------------------------
def client_config(
    sender: str = "CLIENT", target: str = "VENUE", version: str = "FIX.4.4"
) -> SessionConfig:
    begin, appl = ("FIXT.1.1", version) if version.startswith("FIX.5") else (version, None)
    return SessionConfig(
        begin,
        sender,
        target,
        default_appl_ver_id=appl,
        logon_timeout=2.0,
        logout_timeout=1.0,
        heartbeat_interval=5,
    )


class VenueServer:
    """A :class:`ScriptedVenue` listening on a free port (``async with``)."""

    def __init__(
        self,
        venue: ScriptedVenue,
        clients: tuple[str, ...] = ("CLIENT",),
        sender: str = "VENUE",
        *,
        validate: bool = False,
    ) -> None:
        self.venue = venue
        self.engine = Engine(venue)
        self.port = 0
        self.handles: list[SessionHandle] = []
        version = venue.version
        dictionaries: dict[str, Any] = {}
        if validate:
            if version.begin_string == "FIXT.1.1":
                dictionaries = {"dictionary": load("FIXT11"), "app_dictionary": load(version.value)}
            else:
                dictionaries = {"dictionary": load(version.value)}
        for client in clients:
            cfg = client_config(sender, client, version.value)
            cfg.role = "acceptor"
            self.handles.append(
                self.engine.add_acceptor_session(cfg, port=0, host="127.0.0.1", **dictionaries)
            )

    async def __aenter__(self) -> VenueServer:
        await self.engine.start()
        acceptor = self.handles[0].acceptor
        assert acceptor is not None
        self.port = acceptor.port
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.stop(timeout=0.5)


class Client:
    """An initiator engine + order router talking to a venue (``async with``)."""

    def __init__(
        self,
        port: int,
        *,
        sender: str = "CLIENT",
        target: str = "VENUE",
        version: str = "FIX.4.4",
        store_dir: Path | None = None,
        journal: bool = True,
        feed: str = "application",
        **router_kwargs: Any,
    ) -> None:
        self.app = RouterApplication() if feed == "application" else None
        self.engine = Engine(self.app)
        cfg = client_config(sender, target, version)
        self.store = FileStore(store_dir, cfg.session_id, fsync="never") if store_dir else None
        self.handle = self.engine.add_initiator(
            cfg, [("127.0.0.1", port)], store=self.store, options=FAST
        )
        self.router = OrderRouter(
            self.handle,
            journal="store" if (journal and store_dir) else None,
            application=self.app,
            **router_kwargs,
        )

    async def __aenter__(self) -> Client:
        await self.router.start()
        await self.engine.start()
        await self.handle.wait_logged_on(timeout=5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.engine.stop(timeout=0.5)
        await self.router.stop()
        if self.store is not None:
            self.store.close()
