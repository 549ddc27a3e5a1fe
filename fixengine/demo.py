"""Run the demo: a simulated exchange, a FIX client with an order router, orders end to end.

Theory of operation
-------------------
Everything runs in one process on one event loop, over real loopback sockets:

1. the exchange simulator (:class:`fixengine.sim.server.Simulator`) listens on a
   free port and accepts the client's Logon;
2. an initiator (:class:`fixengine.application.Engine`) connects with a durable
   file store in a temporary directory (``--store-dir`` keeps it) and an
   :class:`~fixengine.orders.router.OrderRouter` journaling its orders beside it;
3. scenarios show what a trading client does: a limit order replaced twice and
   canceled; a buy partly filled by another client's sell, then filled; an IOC
   order; an order the pre-trade checks refuse (it never reaches the wire);
4. ``--orders N`` orders go one after the other to measure the order round trip
   (NewOrderSingle handed to the session -> first ExecutionReport back);
5. the client logs out, everything stops, and the summary is printed: one line per
   state change of each scenario order (time, ClOrdID, state, CumQty, LeavesQty,
   AvgPx) and the latency percentiles; ``--json`` prints one JSON document instead.

Exit code 0 when every scenario ended as expected, 1 otherwise (the message says
which step failed and what to try).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from .cli import whole_number
from .errors import FixError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fixengine demo``."""
    parser.add_argument(
        "--orders",
        type=whole_number(1),
        default=200,
        metavar="N",
        help="orders sent to measure the round-trip latency (default 200)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead")
    parser.add_argument(
        "--fix-version",
        default="FIX.4.4",
        choices=["FIX.4.2", "FIX.4.3", "FIX.4.4", "FIX.5.0SP2"],
        help="FIX version of the session (default FIX.4.4)",
    )
    parser.add_argument(
        "--store-dir",
        type=Path,
        default=None,
        help="keep the client's message store and order journal here (default: a temp dir)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also print the lifecycle of every latency order"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="give up after this many seconds (default 60)",
    )


class DemoError(Exception):
    """A step of the demo did not go as expected; the text says what to try."""


def run(args: argparse.Namespace) -> int:
    """Entry point of ``fixengine demo``."""
    try:
        from .transport.loop import run as run_loop

        summary = run_loop(asyncio.wait_for(_demo(args), args.timeout))
    except asyncio.TimeoutError:
        print(
            f"fixengine demo: did not finish within {args.timeout:g}s; the machine may be "
            "overloaded: try --orders 50 or a larger --timeout",
            file=sys.stderr,
        )
        return 1
    except DemoError as exc:
        print(f"fixengine demo: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"fixengine demo: {exc}; check that loopback networking is available and, with "
            "--store-dir, that the directory is writable",
            file=sys.stderr,
        )
        return 1
    except FixError as exc:
        print(
            f"fixengine demo: {exc}; if another demo uses the same --store-dir, give this one "
            "another directory (or leave --store-dir out)",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for line in summary["text"]:
            print(line)
    return 0 if summary["ok"] else 1


async def _demo(args: argparse.Namespace) -> dict[str, Any]:
    if args.store_dir is not None:
        args.store_dir.mkdir(parents=True, exist_ok=True)
        return await _run(args, args.store_dir)
    with tempfile.TemporaryDirectory(prefix="fixengine-demo-") as tmp:
        return await _run(args, Path(tmp))


async def _run(args: argparse.Namespace, store_dir: Path) -> dict[str, Any]:
    from .application import Engine
    from .orders.model import NewOrderRequest, OrdStatus, Side, TimeInForce
    from .orders.risk import PreTradeRisk, RiskLimits, SlidingWindowThrottle
    from .orders.router import OrderRefused, OrderRouter, RouterApplication, RouterUpdate
    from .session.config import SessionConfig
    from .session.store_file import FileStore
    from .transport import InitiatorOptions

    try:
        from .sim.server import Simulator
    except ImportError as exc:  # pragma: no cover - a broken installation
        raise DemoError(f"the simulator is not available ({exc}); reinstall fixengine") from exc

    version = args.fix_version
    begin, appl = ("FIXT.1.1", version) if version.startswith("FIX.5") else (version, None)
    reference = Decimal(100)
    started = time.perf_counter()
    lines: list[str] = []
    out = lines.append

    def client(sender: str) -> SessionConfig:
        return SessionConfig(
            begin,
            sender,
            "EXEC",
            default_appl_ver_id=appl,
            heartbeat_interval=10,
            logon_timeout=5.0,
            logout_timeout=2.0,
            # the simulator is new on every run: so is the FIX session (ResetSeqNumFlag=Y),
            # also when --store-dir keeps the client's store from an earlier run
            reset_on_logon=True,
        )

    options = InitiatorOptions(connect_timeout=5.0, reconnect_interval=0.2, jitter=0.0)
    async with Simulator(fill="none", reference_price=reference) as sim:
        out(f"simulator listening on 127.0.0.1:{sim.port} ({version}, fill model: book only)")
        app = RouterApplication()
        engine = Engine(app)
        cfg = client("CLIENT")
        store = FileStore(store_dir, cfg.session_id, fsync="batch")
        handle = engine.add_initiator(cfg, [("127.0.0.1", sim.port)], store=store, options=options)
        risk = PreTradeRisk(
            RiskLimits(
                max_order_qty=Decimal(10_000),
                max_notional=Decimal(5_000_000),
                price_collar_pct=Decimal(10),
            ),
            throttle=SlidingWindowThrottle(2000, 1.0, max_delay=1.0),
        )
        router = OrderRouter(
            handle,
            risk=risk,
            reference_prices=lambda symbol: reference,
            journal="store",
            application=app,
        )
        other_cfg = client("MARKETMAKER")
        other = engine.add_initiator(other_cfg, [("127.0.0.1", sim.port)], options=options)
        other_router = OrderRouter(other, reference_prices=lambda symbol: reference)
        scenario_updates = router.updates()
        await router.start()
        await other_router.start()
        try:
            await engine.start()
            try:
                await handle.wait_logged_on(timeout=10)
                await other.wait_logged_on(timeout=10)
            except asyncio.TimeoutError:
                raise DemoError(
                    "the client could not log on to the simulator within 10s; "
                    "check that nothing blocks loopback connections"
                ) from None
            out(f"client logged on: {handle.session_id} (store and journal in {store_dir})")
            problems: list[str] = []
            scenario_ids: list[str] = []

            async def step(what: str, coro: Any) -> Any:
                try:
                    return await asyncio.wait_for(coro, 5)
                except asyncio.TimeoutError:
                    problems.append(f"{what}: no answer within 5s")
                except Exception as exc:
                    problems.append(f"{what}: {exc}")
                return None

            # 1. a limit order, replaced twice, then canceled
            order = await router.submit(
                NewOrderRequest("ACME", Side.BUY, Decimal(100), price=Decimal("99.50"))
            )
            scenario_ids.append(order.key)
            await step("acknowledgement", order.acknowledged())
            r1 = await router.replace(order, quantity=Decimal(150))
            await step("replace", r1.result())
            r2 = await router.replace(order, price=Decimal("99.75"))
            await step("replace of the replace", r2.result())
            cancel = await router.cancel(order)
            await step("cancel", cancel.result())
            if order.state is not OrdStatus.CANCELED:
                problems.append(f"order {order.cl_ord_id} ended {order.state.name}, not CANCELED")

            # 2. a buy partly filled by another client's sell, then filled
            buy = await router.submit(
                NewOrderRequest("ACME", Side.BUY, Decimal(200), price=Decimal("100.10"))
            )
            scenario_ids.append(buy.key)
            await step("acknowledgement", buy.acknowledged())
            sell1 = await other_router.submit(
                NewOrderRequest("ACME", Side.SELL, Decimal(80), price=Decimal("100.10"))
            )
            await step("first partial fill", buy.wait_for(lambda o: o.cum_qty >= 80))
            sell2 = await other_router.submit(
                NewOrderRequest("ACME", Side.SELL, Decimal(120), price=Decimal("100.05"))
            )
            await step("fill", buy.filled())
            await step("counterparty fills", sell1.filled())
            await step("counterparty fills", sell2.filled())

            # 3. an immediate-or-cancel order with nothing to trade against
            ioc = await router.submit(
                NewOrderRequest(
                    "ACME",
                    Side.SELL,
                    Decimal(50),
                    price=Decimal("100.50"),
                    time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL,
                )
            )
            scenario_ids.append(ioc.key)
            await step("IOC", ioc.done())

            # 4. a refused order never reaches the wire
            refused_text = ""
            try:
                await router.submit(
                    NewOrderRequest("ACME", Side.BUY, Decimal(50), price=Decimal(150))
                )
                problems.append("an order far outside the price collar was not refused")
            except OrderRefused as exc:
                refused_text = str(exc)

            # 5. round-trip latency: orders one after the other, filled by the simulator
            sim.set_fill(handle.session_id.sender_comp_id, "immediate")
            bulk_ids: list[str] = []
            bulk_start = time.perf_counter()
            for i in range(args.orders):
                side = Side.BUY if i % 2 == 0 else Side.SELL
                o = await router.submit(NewOrderRequest("ACME", side, Decimal(10), price=reference))
                bulk_ids.append(o.key)
                await step(f"latency order {i + 1}", o.acknowledged())
            bulk_elapsed = time.perf_counter() - bulk_start
            for key in bulk_ids:
                h = router.get(key)
                if h is not None and not h.is_done:
                    await step("latency order fill", h.done())
            filled = sum(
                1
                for k in bulk_ids
                if (h := router.get(k)) is not None and h.state is OrdStatus.FILLED
            )
            if filled != args.orders:
                problems.append(f"{args.orders - filled} latency order(s) not filled")
            bulk_latencies = [
                h.ack_latency
                for k in bulk_ids
                if (h := router.get(k)) is not None and h.ack_latency is not None
            ]
        finally:
            await engine.stop(timeout=2.0)
            await router.stop()
            await other_router.stop()
            store.close()
        anomalies = len(router.anomalies) + sum(len(h.anomalies) for h in router.orders())
        if anomalies:
            problems.append(f"{anomalies} anomal{'y' if anomalies == 1 else 'ies'} in the reports")
        sim_summary = sim.summary()

    # -- the report ---------------------------------------------------------------------
    updates: list[RouterUpdate] = []
    while len(scenario_updates):
        updates.append(await scenario_updates.get(1))
    wanted = set(scenario_ids) | (set(bulk_ids) if args.verbose else set())
    by_order: dict[str, list[RouterUpdate]] = {}
    for u in updates:
        if u.order is None or u.duplicate:
            continue
        key = u.order.chain[0]
        if key in wanted:
            by_order.setdefault(key, []).append(u)
    stats = _latency(bulk_latencies)
    out("")
    titles = {
        scenario_ids[0]: "limit order, replaced twice, then canceled",
        scenario_ids[1]: "buy partly filled by another client's sell, then filled",
        scenario_ids[2]: "IOC sell with nothing to trade against",
    }
    for key in [*scenario_ids, *(bulk_ids if args.verbose else [])]:
        out(f"order {key}: {titles.get(key, 'latency order')}")
        for u in by_order.get(key, []):
            out("  " + u.line())
    out(f"refused before the wire: {refused_text or '-'}")
    out("")
    out(
        f"{args.orders} orders sent one after the other in {bulk_elapsed:.2f}s, "
        f"{filled} filled; order -> first ExecutionReport round trip:"
    )
    out(
        "  "
        + "  ".join(f"{k} {_us(stats[k])}" for k in ("p50", "p90", "p99", "max"))
        + f"  (n={stats['count']})"
    )
    out(f"logged out; total {time.perf_counter() - started:.2f}s")
    if problems:
        out("")
        out("PROBLEMS:")
        lines.extend(f"  {p}" for p in problems)
    return {
        "ok": not problems,
        "problems": problems,
        "fix_version": version,
        "orders": args.orders,
        "filled": filled,
        "latency_seconds": stats,
        "bulk_elapsed_seconds": round(bulk_elapsed, 6),
        "refused": refused_text,
        "scenarios": [
            {
                "cl_ord_id": key,
                "title": titles.get(key, ""),
                "lifecycle": [u.to_dict() for u in by_order.get(key, [])],
            }
            for key in scenario_ids
        ],
        "simulator": sim_summary,
        "text": lines,
    }


def _latency(samples: list[float]) -> dict[str, Any]:
    from .orders.router import latency_summary

    stats = latency_summary(samples)
    return {k: (round(v, 9) if isinstance(v, float) else v) for k, v in stats.items()}


def _us(seconds: float) -> str:
    if seconds != seconds:  # NaN: no samples
        return "-"
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f}us"
    return f"{seconds * 1000:.2f}ms"
