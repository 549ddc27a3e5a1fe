"""Restart: open orders come back from the journal and are reconciled after the Logon.

The client keeps a file store and the order journal beside it; the venue keeps
trading while the client is away, so its reports come back by resend (PossDupFlag=Y)
when the client logs on again. The last test kills a client process with SIGKILL in
the middle of a burst of fills and checks that the restarted one ends with exactly
the venue's fills, each once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from test_router_fakes import FAST, Client, ScriptedVenue, VenueServer, client_config

from fixengine.application import Engine
from fixengine.orders import NewOrderRequest, Side
from fixengine.orders.journal import OrderJournal, journal_path_for
from fixengine.orders.model import OrdStatus
from fixengine.orders.risk import RefusalReason
from fixengine.orders.router import OrderRefused, OrderRouter, UpdateKind
from fixengine.orders.state import OrderRegistry
from fixengine.session.config import SessionID
from fixengine.session.store_file import FileStore

CHILD = Path(__file__).with_name("test_router_crash_child.py")


def limit(qty: int, **kw: object) -> NewOrderRequest:
    return NewOrderRequest("ACME", Side.BUY, D(qty), price=D(10), **kw)  # type: ignore[arg-type]


async def test_open_orders_are_recovered_and_reconciled_after_a_restart(tmp_path: Path) -> None:
    venue = ScriptedVenue()
    async with VenueServer(venue) as server:
        async with Client(server.port, store_dir=tmp_path) as first:
            a = await first.router.submit(limit(10, cl_ord_id="MINE-A"))
            b = await first.router.submit(limit(20))
            c = await first.router.submit(limit(30))
            for order in (a, b, c):
                await order.acknowledged(2)
            await venue.fill(a.cl_ord_id, D(10), D(10))
            await venue.fill(b.cl_ord_id, D(5), D(10))
            await b.wait_for(lambda o: o.cum_qty == 5, 2)
            await a.filled(2)
            ids = (a.cl_ord_id, b.cl_ord_id, c.cl_ord_id)
        # the client is gone; the venue keeps trading: these come back by resend
        await venue.fill(ids[1], D(15), D("10.2"))
        await venue.fill(ids[2], D(1), D(10))
        statuses_before = len(venue.messages(b"H"))

        second = Client(server.port, store_dir=tmp_path)
        updates = second.router.updates()
        async with second:
            router = second.router
            await router.wait_reconciled(3)
            recovered = [
                u.cl_ord_id for u in list(updates._queue._items) if u.kind is UpdateKind.RECOVERED
            ]
            assert sorted(recovered) == sorted(ids[1:])  # A was done: not recovered
            b2, c2 = router.get(ids[1]), router.get(ids[2])
            assert b2 is not None and c2 is not None
            assert b2.state is OrdStatus.FILLED and b2.cum_qty == D(20)
            assert b2.avg_px == (D(50) + D(153)) / 20
            assert c2.state is OrdStatus.PARTIALLY_FILLED and c2.cum_qty == D(1)
            assert [f.exec_id for f in b2.fills] == [f"E{n}" for n in _exec_numbers(venue, ids[1])]
            resent = [
                u for u in list(updates._queue._items) if u.kind is UpdateKind.REPORT and u.poss_dup
            ]
            assert len(resent) == 2 and all(u.fill is not None for u in resent)
            # the resend came first; only the order still open was asked about
            asked = [m.get_str(11) for m in venue.messages(b"H")[statuses_before:]]
            assert asked == [ids[2]]
            assert any(u.kind is UpdateKind.RECONCILED for u in list(updates._queue._items))
            # ClOrdIDs stay unique across the restart, the caller's too
            with pytest.raises(OrderRefused) as info:
                await router.submit(limit(1, cl_ord_id="MINE-A"))
            assert info.value.reason is RefusalReason.DUPLICATE_CL_ORD_ID
            fresh = await router.submit(limit(1))
            assert fresh.cl_ord_id not in ids
            await fresh.acknowledged(2)
            # the recovered order keeps trading and can be canceled by its chain
            request = await router.cancel(ids[2])
            await request.result(2)
            assert c2.state is OrdStatus.CANCELED


def _exec_numbers(venue: ScriptedVenue, cl: str) -> list[int]:
    out = []
    for msg in venue.sent:
        if msg.get_str(11) == cl and msg.get(32) is not None:
            exec_id = msg.get_str(17) or ""
            out.append(int(exec_id[1:]))
    return out


async def test_an_order_journaled_but_never_sent_is_rejected_by_reconciliation(
    tmp_path: Path,
) -> None:
    venue = ScriptedVenue()
    sid = SessionID("FIX.4.4", "CLIENT", "VENUE")
    # a process died between writing the order to the journal and handing it to the session
    store = FileStore(tmp_path, sid, fsync="never")
    path = journal_path_for(store)
    store.close()
    with OrderJournal(path) as journal:
        registry = OrderRegistry(now=1.0)
        req = registry.new_order(limit(5), 1.0)
        assert req.cl_ord_id is not None
        journal.record_order(registry[req.cl_ord_id])
    async with VenueServer(venue) as server, Client(server.port, store_dir=tmp_path) as client:
        order = client.router.get(req.cl_ord_id)
        assert order is not None
        await client.router.wait_reconciled(3)
        assert order.state is OrdStatus.REJECTED
        assert order.order.text == "Unknown order"
        assert not venue.messages(b"D")


async def test_a_client_killed_mid_stream_ends_with_every_fill_exactly_once(
    tmp_path: Path,
) -> None:
    venue = ScriptedVenue()
    async with VenueServer(venue) as server:
        orders = 4
        child = await _spawn(server.port, tmp_path, "submit", orders)
        line = await _line(child, "READY")
        cl_ord_ids = json.loads(line.split(" ", 1)[1])
        assert len(cl_ord_ids) == orders
        fills = [(cl, D(1), D(10) + D(n) / 100) for n in range(25) for cl in cl_ord_ids]
        for n, (cl, qty, px) in enumerate(fills):
            await venue.fill(cl, qty, px)
            if n == 37:
                await asyncio.sleep(0.02)  # let some of the burst be handled, then kill
                child.send_signal(signal.SIGKILL)
                await child.wait()
        # the rest of the burst is stored by the venue and resent after the restart
        child = await _spawn(server.port, tmp_path, "recover", orders)
        line = await _line(child, "RESULT")
        await asyncio.wait_for(child.wait(), 5)
        result = json.loads(line.split(" ", 1)[1])
    for cl in cl_ord_ids:
        expected = [m.get_str(17) for m in venue.sent if m.get_str(11) == cl and m.get(32)]
        assert result[cl]["exec_ids"] == expected, cl  # every fill once, in order
        assert D(result[cl]["cum_qty"]) == D(25)
        assert result[cl]["status"] == "FILLED"
    assert result["_anomalies"] == 0
    # the kill came in the middle: some fills were journaled before it, the rest resent
    assert 0 < D(result["_recovered_cum_qty"]) < 100
    assert result["_resent_fills"] == 100 - D(result["_recovered_cum_qty"])


async def _spawn(port: int, store: Path, mode: str, orders: int) -> asyncio.subprocess.Process:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        str(port),
        str(store),
        mode,
        str(orders),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )


async def _line(proc: asyncio.subprocess.Process, prefix: str, timeout: float = 10.0) -> str:
    assert proc.stdout is not None

    async def read() -> str:
        assert proc.stdout is not None
        seen: list[str] = []
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                tail = "\n".join(seen[-20:])
                raise AssertionError(f"child ended before printing {prefix}:\n{tail}")
            seen.append(raw.decode(errors="replace").rstrip())
            text = raw.decode().strip()
            if text.startswith(prefix):
                return text

    return await asyncio.wait_for(read(), timeout)


async def test_a_router_started_after_the_logon_still_reconciles_its_orders(
    tmp_path: Path,
) -> None:
    venue = ScriptedVenue()
    async with VenueServer(venue) as server:
        async with Client(server.port, store_dir=tmp_path) as first:
            order = await first.router.submit(limit(10))
            await order.acknowledged(2)
            key = order.key
        engine = Engine()
        cfg = client_config()
        store = FileStore(tmp_path, cfg.session_id, fsync="never")
        handle = engine.add_initiator(cfg, [("127.0.0.1", server.port)], store=store, options=FAST)
        await engine.start()
        try:
            await handle.wait_logged_on(timeout=5)
            router = OrderRouter(handle, journal="store")  # the LoggedOn is long gone
            await router.start()
            await router.wait_reconciled(3)
            asked = [m.get_str(11) for m in venue.messages(b"H")]
            assert asked == [key]
            recovered = router.get(key)
            assert recovered is not None and recovered.state is OrdStatus.NEW
            await router.stop()
        finally:
            await engine.stop(timeout=0.5)
            store.close()
