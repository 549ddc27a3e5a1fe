"""Interoperability with QuickFIX C++: the fixengine peers, the scenario driver and readers.

Theory of operation
-------------------
Each interop scenario pairs a *trader* (the initiator: sends orders, cancels and
replaces) with an *executor* (the acceptor: acknowledges, fills, cancels,
replaces), one side being a QuickFIX program from ``bench/quickfix`` and the other
a fixengine program run from this module. Both kinds speak the same action plan
(:func:`make_plan`, the twin of ``make_plan`` in ``bench/quickfix/initiator.cpp``)
and write the same *record files* (JSON lines: ``start``, ``logon``, ``recv``,
``admin``, ``intent``, ``sent``, ``dup``, ``stopped`` ...), so the tests read either
side the same way.

QuickFIX's acceptor listens on every interface, so a scenario runs inside a
private network namespace: the test starts ``python tests/interop_support.py
scenario ...``, which calls ``unshare(CLONE_NEWNET)``, brings its loopback up and
then starts both peers and a frame-dropping proxy on 127.0.0.1 there. The driver
only *choreographs* (start, wait, stop, edit a store, restart) and fails with a
readable message when a step times out; the test asserts on what is left in the
work directory afterwards: record files, both sides' message logs, stores and the
proxy's list of dropped frames.

The choreography (:func:`run_scenario`):

1. the proxy drops the first passage of the trader's order 3 and its replace
   (trader -> executor) and of the Canceled report of order 2 (executor -> trader):
   each receiver notices the gap and asks for a resend;
2. the executor is stopped mid-stream while the trader keeps sending (stored, not
   transmitted); its store's next outgoing MsgSeqNum is raised by :data:`BUMP`
   (QuickFIX: the ``.seqnums`` file; fixengine: the file store) and it is started
   again: the trader's Logon is too high (resend of the offline orders, GapFill over
   the Logon) and so is the executor's (GapFill over the raised range);
3. the trader is stopped mid-stream and started again: it resumes its plan and the
   sequence numbers continue;
4. the trader logs out, then the executor stops.

Data dictionaries: QuickFIX reads the XML written by :func:`write_quickfix_dictionary`
from fixengine's shipped specs, so both sides validate against the same content.

Run ``python tests/interop_support.py {executor,trader,scenario} --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import dataclasses
import datetime
import errno
import fcntl
import gzip
import json
import logging
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(_ROOT))
_TESTS = Path(__file__).resolve().parent
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from e2e_peer import Recorder, free_port, read_records  # noqa: E402

import fixengine  # noqa: E402
from fixengine.application import (  # noqa: E402
    Application,
    Engine,
    SessionHandle,
    UnsupportedMessageType,
)
from fixengine.codec import Message  # noqa: E402
from fixengine.fields import format_utc_timestamp  # noqa: E402
from fixengine.orders import (  # noqa: E402
    CancelReject,
    CancelRequest,
    ExecType,
    ExecutionReport,
    NewOrderRequest,
    OrdStatus,
    OrdType,
    ReplaceRequest,
    Side,
    build_request,
    cancel_reject_message,
    execution_report_message,
)
from fixengine.orders.messages import (  # noqa: E402
    parse_cancel_request,
    parse_new_order_single,
    parse_replace_request,
)
from fixengine.orders.model import CxlRejResponseTo, HandlInst  # noqa: E402
from fixengine.orders.router import OrderError as OrderError_  # noqa: E402
from fixengine.session.config import SessionID  # noqa: E402
from fixengine.session.store import open_store  # noqa: E402
from fixengine.transport.initiator import InitiatorOptions  # noqa: E402
from fixengine.transport.loop import run as run_loop  # noqa: E402

HERE = Path(__file__).resolve()
QUICKFIX_DIR = _ROOT / "bench" / "quickfix"
#: How far the executor's next outgoing MsgSeqNum is raised while it is down.
BUMP = 5
#: Exit code of the driver when it cannot make a private network namespace.
NO_NAMESPACE = 77
TRADER, EXECUTOR = ("TRADER", "EXEC")
PREFIX = "T"
#: First passages the proxy drops: (direction, ClOrdID); "up" is trader -> executor.
DROPS = (("up", f"{PREFIX}-3"), ("up", f"{PREFIX}-3-R"), ("down", f"{PREFIX}-2-C"))
ADMIN_TAGS = (7, 16, 36, 43, 45, 58, 98, 108, 112, 123, 141, 372, 373, 1137)
SESSION_TYPES = frozenset({"0", "1", "2", "3", "4", "5", "A"})


# -- versions and dictionaries ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Version:
    """One FIX version a scenario runs: its BeginString and dictionaries."""

    app: str  # "FIX.4.2", "FIX.4.4", "FIX.5.0SP2"

    @property
    def begin_string(self) -> str:
        return "FIXT.1.1" if self.app.startswith("FIX.5") else self.app

    @property
    def is_fixt(self) -> bool:
        return self.begin_string == "FIXT.1.1"

    @property
    def spec(self) -> str:
        """fixengine's shipped dictionary name of the application version."""
        return self.app.replace(".", "")

    @property
    def fills_as_trade(self) -> bool:
        """ExecType F (Trade) for fills (FIX 4.3 on) instead of 1/2 (FIX 4.2)."""
        return self.app != "FIX.4.2"


VERSIONS = (Version("FIX.4.2"), Version("FIX.4.4"), Version("FIX.5.0SP2"))


def _spec_model(name: str) -> dict[str, Any]:
    path = Path(fixengine.__file__).resolve().parent / "specs" / f"{name}.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        model: dict[str, Any] = json.load(fh)
    return model


def _xml_items(parent: ET.Element, items: list[Any]) -> None:
    for item in items:
        kind, name, required = item[0], item[1], "Y" if item[2] else "N"
        tag = {"f": "field", "c": "component", "g": "group"}[kind]
        elem = ET.SubElement(parent, tag, name=name, required=required)
        if kind == "g":
            _xml_items(elem, item[3])


#: The messages the scenarios exchange: QuickFIX's dictionaries keep these (and every
#: session message). QuickFIX 1.15 takes seconds to parse a whole FIX 5.0 SP2 dictionary,
#: which each restart would pay; the definitions kept are the shipped ones, unchanged.
APP_MESSAGES = frozenset({"D", "F", "G", "H", "8", "9", "j"})


def _referenced(items: list[Any], components: dict[str, list[Any]], names: set[str],
                comps: set[str]) -> None:  # fmt: skip
    for item in items:
        kind, name = item[0], item[1]
        if kind == "c":
            if name not in comps:
                comps.add(name)
                _referenced(components[name], components, names, comps)
        else:
            names.add(name)
            if kind == "g":
                _referenced(item[3], components, names, comps)


def write_quickfix_dictionary(
    name: str, path: Path, messages: frozenset[str] | None = APP_MESSAGES
) -> Path:
    """Write fixengine's shipped dictionary ``name`` (e.g. ``FIX44``) as QuickFIX XML.

    With ``messages``, only those application messages are kept (session messages
    always are), with the components and fields they use.
    """
    model = _spec_model(name)
    components = {comp_name: items for comp_name, items in model["components"]}
    kept = [m for m in model["messages"] if messages is None or m[2] == "admin" or m[1] in messages]
    field_names: set[str] = set()
    comp_names: set[str] = set()
    for items in [model["header"], model["trailer"], *(m[3] for m in kept)]:
        _referenced(items, components, field_names, comp_names)
    if messages is None:
        field_names = {f[1] for f in model["fields"]}
        comp_names = set(components)
    fix = model["fix"]
    root = ET.Element(
        "fix",
        type=fix["type"],
        major=str(fix["major"]),
        minor=str(fix["minor"]),
        servicepack=str(fix.get("servicepack", 0)),
    )
    _xml_items(ET.SubElement(root, "header"), model["header"])
    _xml_items(ET.SubElement(root, "trailer"), model["trailer"])
    xml_messages = ET.SubElement(root, "messages")
    for msg_name, msg_type, category, items in kept:
        elem = ET.SubElement(
            xml_messages, "message", name=msg_name, msgtype=msg_type, msgcat=category
        )
        _xml_items(elem, items)
    xml_components = ET.SubElement(root, "components")
    for comp_name, items in model["components"]:
        if comp_name in comp_names:
            _xml_items(ET.SubElement(xml_components, "component", name=comp_name), items)
    fields = ET.SubElement(root, "fields")
    for number, field_name, type_name, values in model["fields"]:
        if field_name not in field_names:
            continue
        elem = ET.SubElement(fields, "field", number=str(number), name=field_name, type=type_name)
        for enum, description in values:
            ET.SubElement(elem, "value", enum=enum, description=description)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


# -- settings files -------------------------------------------------------------------------------


@dataclasses.dataclass
class Side_:
    """Where one side of a scenario keeps its settings, store, log and record."""

    name: str  # "trader" / "executor"
    engine: str  # "quickfix" / "fixengine"
    role: str  # "initiator" / "acceptor"
    sender: str
    target: str
    dir: Path

    @property
    def settings(self) -> Path:
        return self.dir / "session.cfg"

    @property
    def store(self) -> Path:
        return self.dir / "store"

    @property
    def log(self) -> Path:
        return self.dir / "log"

    @property
    def record(self) -> Path:
        return self.dir / "record.jsonl"

    @property
    def book(self) -> Path:
        return self.dir / "book"


def _quickfix_window() -> tuple[str, str]:
    """A daily QuickFIX session window whose boundary is hours away from now (UTC)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now - datetime.timedelta(hours=3)).strftime("%H:%M:%S")
    end = (now - datetime.timedelta(hours=3, minutes=1)).strftime("%H:%M:%S")
    return start, end


def write_settings(side: Side_, version: Version, port: int, heartbeat: int = 1) -> Path:
    """The one-session settings file of ``side`` (QuickFIX key names for both engines)."""
    side.dir.mkdir(parents=True, exist_ok=True)
    side.store.mkdir(exist_ok=True)
    side.log.mkdir(exist_ok=True)
    lines = [
        "[DEFAULT]",
        f"ConnectionType={side.role}",
        f"HeartBtInt={heartbeat}",
        f"FileStorePath={side.store}",
        f"FileLogPath={side.log}",
        "UseDataDictionary=Y",
        "LogonTimeout=5",
        "LogoutTimeout=5",  # generous: a restart test needs the Logout handshake done
        "PersistMessages=Y",
    ]
    if side.engine == "quickfix":
        # QuickFIX's socket initiator reads these from [DEFAULT] only
        lines += ["SocketNodelay=Y", "ReconnectInterval=1"]  # whole seconds
    lines += [
        "",
        "[SESSION]",
        f"BeginString={version.begin_string}",
        f"SenderCompID={side.sender}",
        f"TargetCompID={side.target}",
    ]
    if side.engine == "quickfix":
        start, end = _quickfix_window()
        lines += [f"StartTime={start}", f"EndTime={end}"]
        dicts = side.dir / "dict"
        if version.is_fixt:
            transport = write_quickfix_dictionary("FIXT11", dicts / "FIXT11.xml")
            app = write_quickfix_dictionary(version.spec, dicts / f"{version.spec}.xml")
            lines += [
                f"TransportDataDictionary={transport}",
                f"AppDataDictionary={app}",
            ]
        else:
            dd = write_quickfix_dictionary(version.spec, dicts / f"{version.spec}.xml")
            lines.append(f"DataDictionary={dd}")
        if side.role == "initiator":
            lines += ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}"]
        else:
            lines.append(f"SocketAcceptPort={port}")
    else:
        lines.append("NonStopSession=Y")
        if side.role == "initiator":
            lines += [
                "SocketConnectHost=127.0.0.1",
                f"SocketConnectPort={port}",
                "ReconnectInterval=0.2",
            ]
        else:
            lines += ["SocketAcceptHost=127.0.0.1", f"SocketAcceptPort={port}"]
    if version.is_fixt:
        lines.append(f"DefaultApplVerID={version.app}")
    side.settings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return side.settings


# -- the action plan -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Action:
    """One request of the trader's plan (see bench/quickfix/initiator.cpp)."""

    index: int  # 1-based position in the plan ("a" of the intent record)
    order: int
    kind: str  # "new", "cancel", "replace"
    cl_ord_id: str
    orig: str | None
    side: Side
    ord_type: OrdType
    price: Decimal | None
    qty: Decimal


def make_plan(prefix: str, orders: int) -> list[Action]:
    """The trader's actions: every order is answered by exactly three messages."""
    plan: list[Action] = []

    def add(**kw: Any) -> None:
        plan.append(Action(index=len(plan) + 1, **kw))

    for i in range(1, orders + 1):
        base = f"{prefix}-{i}"
        side = Side.BUY if i % 2 else Side.SELL
        market = i % 4 == 1
        ord_type = OrdType.MARKET if market else OrdType.LIMIT
        price = None if market else Decimal("10.5")
        common = {"order": i, "side": side, "ord_type": ord_type}
        add(kind="new", cl_ord_id=base, orig=None, price=price, qty=Decimal(100), **common)
        if i % 4 == 2:
            add(kind="cancel", cl_ord_id=f"{base}-C", orig=base, price=price, qty=Decimal(100),
                **common)  # fmt: skip
        elif i % 4 == 3:
            add(kind="replace", cl_ord_id=f"{base}-R", orig=base, price=Decimal("11.5"),
                qty=Decimal(200), **common)  # fmt: skip
        elif i % 4 == 0:
            add(kind="cancel", cl_ord_id=f"{base}-X", orig=f"{base}-unknown", price=price,
                qty=Decimal(100), **common)  # fmt: skip
    return plan


def expected_reports(plan: Sequence[Action], version: Version) -> list[tuple[str, str, str]]:
    """(ClOrdID, MsgType+ExecType, OrdStatus) of every report the executor must send."""
    fill, done = ("F", "F") if version.fills_as_trade else ("1", "2")
    out: list[tuple[str, str, str]] = []
    for a in plan:
        if a.kind == "new":
            out.append((a.cl_ord_id, "8:0", "0"))
            out.append((a.cl_ord_id, f"8:{fill}", "1"))
            if a.ord_type is OrdType.MARKET:
                out.append((a.cl_ord_id, f"8:{done}", "2"))
        elif a.kind == "replace":
            out.append((a.cl_ord_id, "8:5", "1"))
        elif a.orig is not None and a.orig.endswith("-unknown"):
            out.append((a.cl_ord_id, "9", "8"))
        else:
            out.append((a.cl_ord_id, "8:4", "4"))
    return out


# -- what a peer records ---------------------------------------------------------------------------

_APP_TAGS = (
    (11, "clordid"),
    (41, "origclordid"),
    (37, "orderid"),
    (17, "execid"),
    (150, "exectype"),
    (39, "ordstatus"),
    (14, "cumqty"),
    (151, "leavesqty"),
    (38, "qty"),
    (44, "price"),
    (32, "lastqty"),
    (102, "cxlrejreason"),
    (434, "cxlrejto"),
)


def app_fields(message: Message) -> dict[str, Any]:
    """The ``recv`` record of an application message (same keys as the C++ programs)."""
    raw = message.raw if message.raw is not None else message.encode()
    out: dict[str, Any] = {
        "type": (message.msg_type or b"").decode(),
        "seq": message.get_int(34),
        "possdup": message.get(43) == b"Y",
    }
    for tag, key in _APP_TAGS:
        if tag in message:
            out[key] = message.get_str(tag)
    out["raw"] = raw.decode("latin-1")
    return out


def admin_fields(message: Message) -> dict[str, Any]:
    """The ``admin`` record of a session message (never Password 554 / NewPassword 925)."""
    out: dict[str, Any] = {
        "type": (message.msg_type or b"").decode(),
        "seq": message.get_int(34),
    }
    for tag in ADMIN_TAGS:
        if tag in message:
            out[str(tag)] = message.get_str(tag)
    return out


class _RecordingApp(Application):
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    async def on_logon(self, session: SessionHandle) -> None:
        self.rec.write(
            "logon", next_sender=session.next_sender_seq, next_target=session.next_target_seq
        )

    def on_logout(self, session: SessionHandle, text: str | None) -> None:
        self.rec.write("logout", text=text)

    def on_admin_message(self, session: SessionHandle, message: Message) -> None:
        self.rec.write("admin", **admin_fields(message))

    def on_disconnect(self, session: SessionHandle, reason: str) -> None:
        self.rec.write("disconnect", reason=reason)


def _app_version(handle: SessionHandle) -> str:
    config = handle.config
    if config.begin_string != "FIXT.1.1":
        return config.begin_string
    return config.default_appl_ver_id or "FIX.5.0SP2"


# -- the fixengine executor ------------------------------------------------------------------------


@dataclasses.dataclass
class _Order:
    order_id: str
    cl_ord_id: str
    symbol: str
    side: Side
    qty: Decimal
    ord_type: OrdType
    price: Decimal | None
    cum: Decimal = Decimal(0)
    status: OrdStatus = OrdStatus.NEW
    execs: int = 0


class ExecutorApp(_RecordingApp):
    """The fixengine twin of ``qf_executor``: same answers, same book file semantics."""

    def __init__(self, rec: Recorder, book: Path | None) -> None:
        super().__init__(rec)
        self.book_path = book
        self.handled: set[str] = set()
        self.orders: dict[str, _Order] = {}
        self.by_cl_ord_id: dict[str, str] = {}
        if book is not None and book.exists():
            for line in book.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                if entry["k"] == "R":
                    self.handled.add(entry["id"])
                else:
                    order = _Order(
                        order_id=entry["order_id"],
                        cl_ord_id=entry["cl_ord_id"],
                        symbol=entry["symbol"],
                        side=Side(entry["side"]),
                        qty=Decimal(entry["qty"]),
                        ord_type=OrdType(entry["ord_type"]),
                        price=Decimal(entry["price"]) if entry["price"] else None,
                        cum=Decimal(entry["cum"]),
                        status=OrdStatus(entry["status"]),
                        execs=entry["execs"],
                    )
                    self.orders[order.order_id] = order
                    self.by_cl_ord_id[order.cl_ord_id] = order.order_id

    def _append(self, entry: dict[str, Any]) -> None:
        if self.book_path is not None:
            with open(self.book_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")

    def _save(self, o: _Order) -> None:
        self.by_cl_ord_id[o.cl_ord_id] = o.order_id
        self._append(
            {
                "k": "O",
                "order_id": o.order_id,
                "cl_ord_id": o.cl_ord_id,
                "symbol": o.symbol,
                "side": o.side.value,
                "qty": str(o.qty),
                "ord_type": o.ord_type.value,
                "price": None if o.price is None else str(o.price),
                "cum": str(o.cum),
                "status": o.status.value,
                "execs": o.execs,
            }
        )

    async def on_message(self, session: SessionHandle, message: Message) -> None:
        self.rec.write("recv", **app_fields(message))
        msg_type = message.msg_type
        if msg_type not in (b"D", b"F", b"G", b"H"):
            raise UnsupportedMessageType()
        cl_ord_id = message.get_str(11) or ""
        if msg_type == b"H":  # a status request may be repeated: never a duplicate
            await session.send(self._status(message, _app_version(session)))
            return
        if cl_ord_id in self.handled:
            self.rec.write("dup", clordid=cl_ord_id, possdup=message.get(43) == b"Y")
            return
        self.handled.add(cl_ord_id)
        self._append({"k": "R", "id": cl_ord_id})
        version = _app_version(session)
        out: list[Message] = []
        if msg_type == b"D":
            out = self._new_order(message, version)
        elif msg_type == b"F":
            out = self._cancel(message, version)
        else:
            out = self._replace(message, version)
        for msg in out:
            await session.send(msg)

    def _report(
        self, o: _Order, exec_type: ExecType, version: str, last_qty: Decimal | None = None,
        orig: str | None = None,
    ) -> Message:  # fmt: skip
        o.execs += 1
        px = o.price if o.price is not None else Decimal(10)
        done = o.status in (OrdStatus.CANCELED, OrdStatus.FILLED, OrdStatus.REJECTED)
        report = ExecutionReport(
            exec_id=f"{o.order_id}.{o.execs}",
            exec_type=exec_type,
            ord_status=o.status,
            order_id=o.order_id,
            cl_ord_id=o.cl_ord_id,
            orig_cl_ord_id=orig,
            symbol=o.symbol,
            side=o.side,
            order_qty=o.qty,
            ord_type=o.ord_type,
            price=o.price,
            last_qty=last_qty,
            last_px=px if last_qty else None,
            cum_qty=o.cum,
            leaves_qty=Decimal(0) if done else o.qty - o.cum,
            avg_px=px if o.cum else Decimal(0),
            transact_time=format_utc_timestamp(time.time_ns(), 3),
        )
        return execution_report_message(report, version)

    def _fill(self, o: _Order, qty: Decimal, version: str) -> Message:
        o.cum += qty
        o.status = OrdStatus.FILLED if o.cum >= o.qty else OrdStatus.PARTIALLY_FILLED
        return self._report(o, ExecType.TRADE, version, last_qty=qty)

    def _status(self, message: Message, version: str) -> Message:
        """OrderStatusRequest: an Order Status report (OrdStatus 8 for an unknown order)."""
        o = self._find(message.get_str(11))
        if o is None:
            o = _Order(
                order_id="NONE",
                cl_ord_id=message.get_str(11) or "",
                symbol=message.get_str(55) or "?",
                side=Side(message.get_str(54) or "1"),
                qty=Decimal(0),
                ord_type=OrdType.LIMIT,
                price=None,
                status=OrdStatus.REJECTED,
            )
            return self._report(o, ExecType.ORDER_STATUS, version)
        out = self._report(o, ExecType.ORDER_STATUS, version)
        self._save(o)
        return out

    def _new_order(self, message: Message, version: str) -> list[Message]:
        req = parse_new_order_single(message)
        o = _Order(
            order_id=f"O{len(self.orders) + 1}",
            cl_ord_id=req.cl_ord_id or "",
            symbol=req.symbol,
            side=req.side,
            qty=req.quantity,
            ord_type=req.ord_type,
            price=req.price,
        )
        self.orders[o.order_id] = o
        out = [self._report(o, ExecType.NEW, version)]
        part = (o.qty * 2 / 5).to_integral_value()
        if part > 0:
            out.append(self._fill(o, part, version))
        if o.ord_type is OrdType.MARKET:
            out.append(self._fill(o, o.qty - o.cum, version))
        self._save(o)
        return out

    def _find(self, cl_ord_id: str | None) -> _Order | None:
        order_id = self.by_cl_ord_id.get(cl_ord_id or "")
        return None if order_id is None else self.orders[order_id]

    def _reject(
        self, cl_ord_id: str, orig: str | None, o: _Order | None, to: CxlRejResponseTo,
        version: str,
    ) -> Message:  # fmt: skip
        return cancel_reject_message(
            CancelReject(
                cl_ord_id=cl_ord_id,
                ord_status=o.status if o else OrdStatus.REJECTED,
                response_to=to,
                order_id=o.order_id if o else "NONE",
                orig_cl_ord_id=orig or "NONE",
                reason=0 if o else 1,
                text="order is done" if o else "unknown order",
            ),
            version,
        )

    def _cancel(self, message: Message, version: str) -> list[Message]:
        req = parse_cancel_request(message)
        o = self._find(req.orig_cl_ord_id)
        if o is None or o.status in (OrdStatus.FILLED, OrdStatus.CANCELED):
            to = CxlRejResponseTo.ORDER_CANCEL_REQUEST
            return [self._reject(req.cl_ord_id, req.orig_cl_ord_id, o, to, version)]
        o.cl_ord_id = req.cl_ord_id
        o.status = OrdStatus.CANCELED
        out = [self._report(o, ExecType.CANCELED, version, orig=req.orig_cl_ord_id)]
        self._save(o)
        return out

    def _replace(self, message: Message, version: str) -> list[Message]:
        req = parse_replace_request(message)
        o = self._find(req.orig_cl_ord_id)
        if o is None or o.status in (OrdStatus.FILLED, OrdStatus.CANCELED) or req.quantity <= o.cum:
            to = CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST
            return [self._reject(req.cl_ord_id, req.orig_cl_ord_id, o, to, version)]
        o.cl_ord_id, o.qty, o.ord_type, o.price = (
            req.cl_ord_id,
            req.quantity,
            req.ord_type,
            req.price,
        )
        o.status = OrdStatus.PARTIALLY_FILLED if o.cum else OrdStatus.NEW
        out = [self._report(o, ExecType.REPLACED, version, orig=req.orig_cl_ord_id)]
        self._save(o)
        return out


# -- the fixengine trader --------------------------------------------------------------------------


class TraderApp(_RecordingApp):
    """Records every report (the fixengine twin of ``qf_initiator``'s scripted mode)."""

    async def on_message(self, session: SessionHandle, message: Message) -> None:
        self.rec.write("recv", **app_fields(message))


def build_action(action: Action, version: str, symbol: str = "QFX") -> Message:
    """The request message of a plan action, laid out by :mod:`fixengine.orders`."""
    now = time.time()
    req: Any
    if action.kind == "new":
        req = NewOrderRequest(
            symbol=symbol,
            side=action.side,
            quantity=action.qty,
            ord_type=action.ord_type,
            price=action.price,
            cl_ord_id=action.cl_ord_id,
            handl_inst=HandlInst.AUTOMATED_PRIVATE,
        )
    elif action.kind == "cancel":
        assert action.orig is not None
        req = CancelRequest(
            cl_ord_id=action.cl_ord_id,
            orig_cl_ord_id=action.orig,
            symbol=symbol,
            side=action.side,
            quantity=action.qty,
        )
    else:
        assert action.orig is not None
        req = ReplaceRequest(
            cl_ord_id=action.cl_ord_id,
            orig_cl_ord_id=action.orig,
            symbol=symbol,
            side=action.side,
            quantity=action.qty,
            ord_type=action.ord_type,
            price=action.price,
            handl_inst=HandlInst.AUTOMATED_PRIVATE,
        )
    return build_request(req, version, now=now)


def _last_intent(path: Path) -> int:
    return max((r["a"] for r in read_records(path) if r.get("ev") == "intent"), default=0)


async def _trade(
    handle: SessionHandle,
    rec: Recorder,
    args: argparse.Namespace,
    stop_sending: asyncio.Event,
    paused: asyncio.Event,
) -> None:
    while not handle.is_logged_on and not stop_sending.is_set():
        try:
            await handle.wait_logged_on(timeout=0.05)
        except asyncio.TimeoutError:
            pass
    plan = make_plan(args.prefix, args.orders)
    version = _app_version(handle)
    for action in plan[_last_intent(Path(args.record)) :]:
        while paused.is_set() and not stop_sending.is_set():
            await asyncio.sleep(0.01)
        if stop_sending.is_set():
            return
        rec.write(
            "intent", a=action.index, n=action.order, kind=action.kind, clordid=action.cl_ord_id
        )
        try:
            await handle.send(build_action(action, version))
        except Exception as exc:  # recorded: the test reports it
            rec.write("send_error", a=action.index, error=str(exc))
        else:
            rec.write("sent", a=action.index)
        if action.index == len(plan):
            rec.write("stopped_sending", last_a=action.index)
        try:
            await asyncio.wait_for(stop_sending.wait(), args.interval)
        except asyncio.TimeoutError:
            pass


async def _peer_main(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stop_sending = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    paused = asyncio.Event()  # SIGUSR1 pauses the plan, SIGUSR2 resumes it
    loop.add_signal_handler(signal.SIGUSR1, paused.set)
    loop.add_signal_handler(signal.SIGUSR2, paused.clear)
    rec = Recorder(args.record)
    app: _RecordingApp
    if args.command == "executor":
        app = ExecutorApp(rec, Path(args.book) if args.book else None)
    else:
        app = TraderApp(rec)
    engine = Engine.from_settings(
        args.settings,
        app,
        initiator_options=InitiatorOptions(
            connect_timeout=2.0, reconnect_interval=0.2, max_reconnect_interval=0.5, jitter=0.1
        ),
    )
    (handle,) = engine.sessions
    await engine.start()
    rec.write(
        "start",
        pid=os.getpid(),
        role=handle.role,
        next_sender=handle.next_sender_seq,
        next_target=handle.next_target_seq,
    )
    task = None
    if args.command == "trader":
        task = loop.create_task(_trade(handle, rec, args, stop_sending, paused))
    await stop.wait()
    rec.write("stopping", next_sender=handle.next_sender_seq, next_target=handle.next_target_seq)
    stop_sending.set()
    if task is not None:
        await task
    await engine.stop(logout=True, timeout=5.0)
    rec.write("stopped", next_sender=handle.next_sender_seq, next_target=handle.next_target_seq)
    rec.close()
    return 0


# -- stores and logs of both engines ---------------------------------------------------------------


def _session_id(side: Side_, version: Version) -> SessionID:
    return SessionID(version.begin_string, side.sender, side.target)


def quickfix_seqnums_path(side: Side_, version: Version) -> Path:
    """QuickFIX's FileStore sequence-number file of the session."""
    return side.store / f"{version.begin_string}-{side.sender}-{side.target}.seqnums"


def store_seqnums(side: Side_, version: Version) -> tuple[int, int]:
    """(next sender, next target) MsgSeqNum of a stopped side's store."""
    if side.engine == "quickfix":
        text = quickfix_seqnums_path(side, version).read_text()
        sender, _, target = text.partition(":")
        return int(sender), int(target)
    store = open_store("file", _session_id(side, version), str(side.store), "never")
    try:
        return store.next_sender_seq(), store.next_target_seq()
    finally:
        store.close()


def bump_next_sender(side: Side_, version: Version, by: int) -> tuple[int, int]:
    """Raise a stopped side's next outgoing MsgSeqNum by ``by``; returns (old, new)."""
    if side.engine == "quickfix":
        path = quickfix_seqnums_path(side, version)
        sender, target = store_seqnums(side, version)
        path.write_text(f"{sender + by:010d} : {target:010d}")
        return sender, sender + by
    store = open_store("file", _session_id(side, version), str(side.store), "always")
    try:
        old = store.next_sender_seq()
        store.set_next_sender_seq(old + by)
        return old, old + by
    finally:
        store.close()


def parse_fix(text: str, sep: str = "\x01") -> dict[int, str]:
    """tag -> value of a message's text (the first occurrence of each tag)."""
    out: dict[int, str] = {}
    for part in text.split(sep):
        tag, eq, value = part.partition("=")
        if eq and tag.isdigit():
            out.setdefault(int(tag), value)
    return out


def wire_log(side: Side_) -> list[dict[str, Any]]:
    """Every message in ``side``'s message log as {"dir", "seq", "type", "fields"}, in order.

    QuickFIX's ``*.messages.current.log`` lines are ``<time> : <message>`` (direction
    told by SenderCompID); fixengine's ``*.messages.log`` lines are JSON.
    """
    out: list[dict[str, Any]] = []
    if side.engine == "quickfix":
        for path in sorted(side.log.glob("*.messages.current.log")):
            for line in path.read_text(encoding="latin-1").splitlines():
                _, sep, text = line.partition(" : ")
                if not sep:
                    continue
                fields = parse_fix(text)
                out.append(_wire(fields, "out" if fields.get(49) == side.sender else "in"))
    else:
        for path in sorted(side.log.glob("*.messages.log")):
            for line in path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                out.append(_wire(parse_fix(rec["msg"], "|"), rec["dir"]))
    return out


def _wire(fields: dict[int, str], direction: str) -> dict[str, Any]:
    return {
        "dir": direction,
        "seq": int(fields.get(34, "0") or 0),
        "type": fields.get(35),
        "possdup": fields.get(43) == "Y",
        "fields": fields,
    }


# -- the proxy -------------------------------------------------------------------------------------


class DroppingProxy:
    """TCP between trader and executor that drops the first passage of chosen frames.

    Frames are cut by BodyLength(9). A frame is dropped when its direction and
    ClOrdID(11) are in ``drops`` and it is not a PossDupFlag=Y resend; each drop is
    appended to ``log`` as a JSON line. A connection whose upstream cannot be reached
    is closed at once (the initiator retries).
    """

    def __init__(self, upstream_port: int, drops: Sequence[tuple[str, str]], log: Path) -> None:
        self.upstream_port = upstream_port
        self.pending = set(drops)
        self.log = log
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proxy", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()

    def _drop(self, direction: str, frame: bytes) -> bool:
        fields = parse_fix(frame.decode("latin-1"))
        key = (direction, fields.get(11, ""))
        if key not in self.pending or fields.get(43) == "Y":
            return False
        self.pending.discard(key)
        entry = {"dir": direction, "clordid": key[1], "seq": fields.get(34), "type": fields.get(35)}
        with open(self.log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
        return True

    @staticmethod
    def _frames(buf: bytearray) -> list[bytes]:
        out: list[bytes] = []
        while True:
            start = buf.find(b"\x019=")
            if start < 0:
                return out
            end_len = buf.find(b"\x01", start + 3)
            if end_len < 0:
                return out
            total = end_len + 1 + int(buf[start + 3 : end_len]) + 7  # body + "10=xxx\x01"
            if len(buf) < total:
                return out
            out.append(bytes(buf[:total]))
            del buf[:total]

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        self.listener.setblocking(False)
        sel.register(self.listener, selectors.EVENT_READ, None)
        # socket -> (its partner, direction of what it reads, buffer)
        links: dict[socket.socket, tuple[socket.socket, str, bytearray]] = {}

        def close_pair(sock: socket.socket) -> None:
            partner = links.pop(sock, (None, "", b""))[0]
            for s in (sock, partner):
                if s is None:
                    continue
                links.pop(s, None)
                try:
                    sel.unregister(s)
                except (KeyError, ValueError):
                    pass
                s.close()

        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self.listener:
                        client, _ = self.listener.accept()
                        try:
                            upstream = socket.create_connection(
                                ("127.0.0.1", self.upstream_port), timeout=1
                            )
                        except OSError:
                            client.close()
                            continue
                        for s in (client, upstream):
                            s.setblocking(True)
                            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        links[client] = (upstream, "up", bytearray())
                        links[upstream] = (client, "down", bytearray())
                        sel.register(client, selectors.EVENT_READ, None)
                        sel.register(upstream, selectors.EVENT_READ, None)
                        continue
                    if sock not in links:
                        continue
                    partner, direction, buf = links[sock]
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        close_pair(sock)
                        continue
                    buf += data
                    try:
                        for frame in self._frames(buf):
                            if not self._drop(direction, frame):
                                partner.sendall(frame)
                    except OSError:
                        close_pair(sock)
        finally:
            for s in list(links):
                s.close()
            sel.close()


# -- processes -------------------------------------------------------------------------------------


class Proc:
    """One peer program (restartable); stdout/stderr go to files in its directory."""

    def __init__(self, side: Side_, cmd: list[str]) -> None:
        self.side = side
        self.cmd = cmd
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> Proc:
        assert self.proc is None or self.proc.poll() is not None
        self.runs += 1
        env = dict(os.environ)
        env["PYTHONPATH"] = str(_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        out = self.side.dir / f"{self.side.name}.{self.runs}.out"
        err = self.side.dir / f"{self.side.name}.{self.runs}.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            self.proc = subprocess.Popen(self.cmd, stdout=stdout, stderr=stderr, env=env)
        return self

    def records(self, ev: str | None = None) -> list[dict[str, Any]]:
        recs = read_records(self.side.record)
        return recs if ev is None else [r for r in recs if r.get("ev") == ev]

    def this_run(self) -> list[dict[str, Any]]:
        pid = None if self.proc is None else self.proc.pid
        runs: list[list[dict[str, Any]]] = []
        for r in read_records(self.side.record):
            if r.get("ev") == "start" or not runs:
                runs.append([])
            runs[-1].append(r)
        for run in reversed(runs):
            if run and run[0].get("ev") == "start" and run[0].get("pid") == pid:
                return run
        return []

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise ScenarioError(
                f"{self.side.name} exited with {self.proc.returncode}\n{self.tail()}"
            )

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise ScenarioError(
                f"{self.side.name} did not stop on SIGTERM\n{self.tail()}"
            ) from None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def tail(self) -> str:
        err = self.side.dir / f"{self.side.name}.{self.runs}.err"
        text = err.read_text(errors="replace")[-3000:] if err.exists() else ""
        return f"--- {self.side.name} run {self.runs} stderr:\n{text}"


class ScenarioError(AssertionError):
    """A step of the choreography did not happen in time (the text says which)."""


def wait_for(condition: Callable[[], Any], timeout: float, what: str, procs: Sequence[Proc]) -> Any:
    """Poll ``condition`` until it is truthy; ScenarioError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        for p in procs:
            p.check_alive()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tails = "\n".join(p.tail() for p in procs)
            raise ScenarioError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
        time.sleep(0.02)


# -- network namespace -----------------------------------------------------------------------------

_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def enter_private_network() -> str | None:
    """Move this process into a new network namespace with loopback up.

    Returns None on success, else why it is not possible (not root, no support).
    Must be called before any thread or child process is started.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        return f"unshare(CLONE_NEWNET) failed: {os.strerror(err)} ({errno.errorcode.get(err)})"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        req = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, req)[:18])[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))
    return None


# -- the scenario ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Scenario:
    """The two sides of a scenario in ``workdir`` (the test reads them back afterwards)."""

    workdir: Path
    version: Version
    trader: Side_
    executor: Side_

    @classmethod
    def layout(cls, workdir: Path, version: Version, quickfix_side: str) -> Scenario:
        """``quickfix_side`` is "trader" or "executor": the side QuickFIX plays."""
        trader = Side_(
            "trader",
            "quickfix" if quickfix_side == "trader" else "fixengine",
            "initiator",
            TRADER,
            EXECUTOR,
            workdir / "trader",
        )
        executor = Side_(
            "executor",
            "quickfix" if quickfix_side == "executor" else "fixengine",
            "acceptor",
            EXECUTOR,
            TRADER,
            workdir / "executor",
        )
        return cls(workdir, version, trader, executor)

    @property
    def proxy_log(self) -> Path:
        return self.workdir / "proxy.jsonl"

    @property
    def result(self) -> Path:
        return self.workdir / "result.json"


def _command(side: Side_, binaries: dict[str, str], orders: int, interval: float) -> list[str]:
    if side.engine == "quickfix":
        if side.name == "executor":
            return [binaries["executor"], "--settings", str(side.settings), "--record",
                    str(side.record), "--book", str(side.book)]  # fmt: skip
        return [binaries["initiator"], "--settings", str(side.settings), "--record",
                str(side.record), "--orders", str(orders), "--prefix", PREFIX, "--interval",
                str(interval)]  # fmt: skip
    cmd = [sys.executable, str(HERE), side.name, "--settings", str(side.settings), "--record",
           str(side.record)]  # fmt: skip
    if side.name == "executor":
        return [*cmd, "--book", str(side.book)]
    return [*cmd, "--orders", str(orders), "--prefix", PREFIX, "--interval", str(interval)]


def run_scenario(
    sc: Scenario, binaries: dict[str, str], orders: int = 20, interval: float = 0.1,
    timeout: float = 40.0,
) -> dict[str, Any]:  # fmt: skip
    """Drive the four phases (see the module docstring); returns what the test needs."""
    port = free_port()
    write_settings(sc.executor, sc.version, port)
    proxy = DroppingProxy(port, DROPS, sc.proxy_log)
    write_settings(sc.trader, sc.version, proxy.port)
    plan = make_plan(PREFIX, orders)
    ex = Proc(sc.executor, _command(sc.executor, binaries, orders, interval))
    tr = Proc(sc.trader, _command(sc.trader, binaries, orders, interval))
    info: dict[str, Any] = {"orders": orders, "plan": len(plan)}

    def intents() -> int:
        return max((r["a"] for r in tr.records("intent")), default=0)

    def received(proc: Proc) -> set[str]:
        return {r.get("clordid", "") for r in proc.records("recv")}

    try:
        # 1. logon, orders; the proxy makes a gap each way
        ex.start()
        wait_for(lambda: ex.this_run() != [], timeout, "the executor to start", [ex])
        tr.start()
        wait_for(lambda: tr.records("logon"), timeout, "the first logon", [ex, tr])
        wait_for(
            lambda: (
                {f"{PREFIX}-3", f"{PREFIX}-3-R"} <= received(ex) and f"{PREFIX}-2-C" in received(tr)
            ),
            timeout,
            "the dropped frames to be resent",
            [ex, tr],
        )
        # 2. the executor stops mid-stream; the trader sends on; the executor's store is
        #    raised by BUMP; the executor starts again
        info["executor_stopped_at"] = intents()
        if ex.terminate() != 0:
            raise ScenarioError(f"executor stop failed\n{ex.tail()}")
        sent_down = len(tr.records("sent"))
        wait_for(lambda: len(tr.records("sent")) >= sent_down + 3, timeout, "offline sends", [tr])
        tr.signal(signal.SIGUSR1)  # pause: the rest of the plan waits for the executor
        info["bump"] = bump_next_sender(sc.executor, sc.version, BUMP)
        ex.start()
        wait_for(lambda: tr.records("logon")[1:], timeout, "the trader's logon", [ex, tr])
        info["offline"] = [r["clordid"] for r in tr.records("intent")][sent_down:]
        wait_for(
            lambda: set(info["offline"]) <= received(ex),
            timeout,
            "the orders sent while the executor was down",
            [ex, tr],
        )
        tr.signal(signal.SIGUSR2)
        # 3. the trader stops mid-stream and starts again
        resume_at = intents() + 2
        wait_for(lambda: intents() >= resume_at, timeout, "two more actions", [ex, tr])
        if resume_at >= len(plan):
            raise ScenarioError("the plan ended before the trader restart: raise orders")
        info["trader_stopped_at"] = intents()
        if tr.terminate() != 0:
            raise ScenarioError(f"trader stop failed\n{tr.tail()}")
        info["trader_store_at_stop"] = store_seqnums(sc.trader, sc.version)
        tr.start()
        wanted = {a.cl_ord_id for a in plan}
        wait_for(lambda: wanted <= received(ex), timeout, "every request at the executor", [ex, tr])
        n_reports = len(expected_reports(plan, sc.version))
        wait_for(lambda: len(tr.records("recv")) >= n_reports, timeout, "every report", [ex, tr])
        # 4. logout: the trader first, then the executor
        if tr.terminate() != 0:
            raise ScenarioError(f"trader logout failed\n{tr.tail()}")
        if ex.terminate() != 0:
            raise ScenarioError(f"executor stop failed\n{ex.tail()}")
        info["final"] = {
            "trader": store_seqnums(sc.trader, sc.version),
            "executor": store_seqnums(sc.executor, sc.version),
        }
    finally:
        for p in (tr, ex):
            p.cleanup()
        proxy.close()
    return info


# -- the order router and the simulator ------------------------------------------------------------


async def _router_trades(settings: Path, out: Path) -> dict[str, Any]:
    """fixengine's OrderRouter on an initiator: a market order, a cancel and a replace."""
    from fixengine.orders.router import OrderRouter

    engine = Engine.from_settings(
        settings, None, initiator_options=InitiatorOptions(connect_timeout=2.0)
    )
    (handle,) = engine.sessions
    await engine.start()
    result: dict[str, Any] = {}
    try:
        await handle.wait_logged_on(timeout=20)
        async with OrderRouter(handle) as router:

            async def limit() -> Any:
                order = await router.submit(
                    NewOrderRequest("QFX", Side.BUY, Decimal(100), price=Decimal("10.5"))
                )
                await order.wait_for(lambda o: o.cum_qty == 40, timeout=20)
                return order

            market = await router.submit(
                NewOrderRequest("QFX", Side.SELL, Decimal(100), ord_type=OrdType.MARKET)
            )
            await market.done(timeout=20)
            cancelled = await limit()
            cancel = await (await router.cancel(cancelled)).result(timeout=20)
            await cancelled.done(timeout=20)
            replaced = await limit()
            replace = await (
                await router.replace(replaced, quantity=Decimal(200), price=Decimal("11.5"))
            ).result(timeout=20)
            await replaced.wait_for(lambda o: o.quantity == 200, timeout=20)
            for name, order in (("market", market), ("cancelled", cancelled),
                                ("replaced", replaced)):  # fmt: skip
                result[name] = {
                    "cl_ord_id": order.cl_ord_id,
                    "chain": list(order.chain),
                    "state": order.state.value,
                    "quantity": str(order.quantity),
                    "price": None if order.price is None else str(order.price),
                    "cum_qty": str(order.cum_qty),
                    "leaves_qty": str(order.leaves_qty),
                    "fills": [str(f.quantity) for f in order.fills],
                }
            result["cancel_accepted"] = cancel.accepted
            result["replace_accepted"] = replace.accepted
    finally:
        await engine.stop(logout=True, timeout=2.0)
    out.write_text(json.dumps(result), encoding="utf-8")
    return result


def _router_main(args: argparse.Namespace) -> int:
    """QuickFIX executor <- fixengine OrderRouter (in a private network namespace)."""
    why = enter_private_network()
    if why is not None:
        print(f"cannot make a private network namespace: {why}", file=sys.stderr)
        return NO_NAMESPACE
    sc = Scenario.layout(Path(args.workdir), Version(args.version), "executor")
    port = free_port()
    write_settings(sc.executor, sc.version, port)
    write_settings(sc.trader, sc.version, port)
    ex = Proc(sc.executor, _command(sc.executor, {"executor": args.executor_bin}, 0, 0))
    try:
        ex.start()
        wait_for(lambda: ex.this_run() != [], 20, "the executor to start", [ex])
        run_loop(_router_trades(sc.trader.settings, sc.result))
        if ex.terminate() != 0:
            raise ScenarioError(f"executor stop failed\n{ex.tail()}")
    except (ScenarioError, OrderError_, TimeoutError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        ex.cleanup()
    return 0


def _simulator_main(args: argparse.Namespace) -> int:
    """QuickFIX trader -> ``fixengine sim`` (the exchange simulator) as the executor."""
    why = enter_private_network() if args.netns != "off" else "not asked"
    sc = Scenario.layout(Path(args.workdir), Version(args.version), "trader")
    port = free_port()
    write_settings(sc.executor, sc.version, port)
    with open(sc.executor.settings, "a", encoding="utf-8") as fh:
        fh.write("SimFill=immediate\n")
    write_settings(sc.trader, sc.version, port)
    ex = Proc(sc.executor, [sys.executable, "-m", "fixengine", "sim", "--config",
                            str(sc.executor.settings)])  # fmt: skip
    tr = Proc(sc.trader, _command(sc.trader, {"initiator": args.initiator_bin}, args.orders, 0.02))
    plan = make_plan(PREFIX, args.orders)
    try:
        ex.start()
        err = sc.executor.dir / "executor.1.err"
        out = sc.executor.dir / "executor.1.out"

        def listening() -> bool:
            text = (out.read_text() if out.exists() else "") + err.read_text()
            return "listening" in text

        wait_for(listening, 30, "the simulator to listen", [ex])
        tr.start()
        answered = {a.cl_ord_id for a in plan}
        wait_for(
            lambda: answered <= {r.get("clordid") for r in tr.records("recv")},
            30,
            "an answer to every request",
            [ex, tr],
        )
        time.sleep(0.3)  # late reports (the tests check nothing more arrives)
        if tr.terminate() != 0:
            raise ScenarioError(f"trader logout failed\n{tr.tail()}")
        if ex.terminate() != 0:
            raise ScenarioError(f"simulator stop failed\n{ex.tail()}")
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        for p in (tr, ex):
            p.cleanup()
    sc.result.write_text(json.dumps({"orders": args.orders, "netns": why is None}))
    return 0


def _scenario_main(args: argparse.Namespace) -> int:
    why = enter_private_network() if args.netns != "off" else "not asked"
    if why is not None and args.netns == "required":
        print(f"cannot make a private network namespace: {why}", file=sys.stderr)
        return NO_NAMESPACE
    sc = Scenario.layout(Path(args.workdir), Version(args.version), args.quickfix_side)
    binaries = {"executor": args.executor_bin, "initiator": args.initiator_bin}
    try:
        info = run_scenario(sc, binaries, orders=args.orders, interval=args.interval)
    except ScenarioError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    info["netns"] = why is None
    sc.result.write_text(json.dumps(info), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("executor", "trader"):
        p = sub.add_parser(name, help=f"run the fixengine {name}")
        p.add_argument("--settings", required=True)
        p.add_argument("--record", required=True)
        if name == "executor":
            p.add_argument("--book", help="order book file (kept across restarts)")
        else:
            p.add_argument("--orders", type=int, default=0)
            p.add_argument("--prefix", default=PREFIX)
            p.add_argument("--interval", type=float, default=0.05)
    p = sub.add_parser("scenario", help="drive one scenario (in a private network namespace)")
    p.add_argument("--workdir", required=True)
    p.add_argument("--version", required=True, choices=[v.app for v in VERSIONS])
    p.add_argument("--quickfix-side", required=True, choices=["trader", "executor"])
    p.add_argument("--executor-bin", required=True)
    p.add_argument("--initiator-bin", required=True)
    p.add_argument("--orders", type=int, default=20)
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--netns", choices=["required", "optional", "off"], default="required")
    p = sub.add_parser("router", help="fixengine's order router against the QuickFIX executor")
    p.add_argument("--workdir", required=True)
    p.add_argument("--version", required=True, choices=[v.app for v in VERSIONS])
    p.add_argument("--executor-bin", required=True)
    p = sub.add_parser("simulator", help="the QuickFIX trader against fixengine's simulator")
    p.add_argument("--workdir", required=True)
    p.add_argument("--version", required=True, choices=[v.app for v in VERSIONS])
    p.add_argument("--initiator-bin", required=True)
    p.add_argument("--orders", type=int, default=8)
    p.add_argument("--netns", choices=["optional", "off"], default="optional")
    args = parser.parse_args(argv)
    if args.command == "scenario":
        return _scenario_main(args)
    if args.command == "router":
        return _router_main(args)
    if args.command == "simulator":
        return _simulator_main(args)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    return run_loop(_peer_main(args))


if __name__ == "__main__":
    sys.exit(main())
