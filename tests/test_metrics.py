"""Metrics move for real traffic; registries are isolated; the endpoint is opt-in."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_application import cfg, order, start_pair
from test_transport_fakes import RawClient, eventually, logon_bytes, run

from fixengine.application import Engine
from fixengine.metrics import FixMetrics, MetricsLog, start_metrics_server
from fixengine.session import SessionID

__all__ = ["run"]


def sample(metrics: FixMetrics, name: str, **labels: str) -> float:
    return metrics.value(name, labels) or 0.0


def test_counters_and_gauges_follow_a_real_session(run: Any) -> None:
    async def scenario() -> None:
        engine = Engine()
        m = engine.metrics
        ini, acc = await start_pair(engine)
        for i in range(7):
            await ini.send(order(f"M{i}"))
        await eventually(lambda: acc.next_target_seq == ini.next_sender_seq)
        a, i_ = str(acc.session_id), str(ini.session_id)
        assert sample(m, "fix_messages_sent_total", session=i_, msg_type="D") == 7
        assert sample(m, "fix_messages_received_total", session=a, msg_type="D") == 7
        assert sample(m, "fix_messages_sent_total", session=i_, msg_type="A") == 1
        assert sample(m, "fix_messages_received_total", session=i_, msg_type="A") == 1
        assert sample(m, "fix_logons_total", session=a) == 1
        assert sample(m, "fix_session_logged_on", session=a) == 1
        assert sample(m, "fix_session_connected", session=i_) == 1
        assert sample(m, "fix_session_state", session=a, state="LOGGED_ON") == 1
        assert sample(m, "fix_session_next_sender_seq", session=i_) == ini.next_sender_seq
        assert sample(m, "fix_session_next_target_seq", session=a) == acc.next_target_seq

        # offline send, then reconnect: the acceptor asks for a resend, the initiator
        # resends (its Logout/Logon are replaced by a GapFill)
        await ini.logout(timeout=2)
        await ini.send(order("LATE"))
        await ini.logon()
        await eventually(lambda: acc.next_target_seq == ini.next_sender_seq, timeout=5)
        assert sample(m, "fix_resend_requests_total", session=a, direction="sent") == 1
        assert sample(m, "fix_resend_requests_total", session=i_, direction="received") == 1
        assert sample(m, "fix_logouts_total", session=i_) == 1
        assert sample(m, "fix_reconnects_total", session=i_) == 1
        assert sample(m, "fix_disconnects_total", session=i_, reason="session") >= 1
        assert sample(m, "fix_session_logged_on", session=i_) == 1
        await engine.stop()
        assert sample(m, "fix_session_logged_on", session=i_) == 0

    run(scenario())


def test_rejects_and_gap_fills_are_counted_from_the_wire() -> None:
    metrics = FixMetrics()
    log = MetricsLog(metrics.session("S"))
    soh = "\x01"

    def raw(*fields: str) -> bytes:
        return (soh.join(["8=FIX.4.4", "9=10", *fields]) + soh + "10=000" + soh).encode()

    log.on_outgoing(raw("35=4", "34=3", "123=Y", "36=7"))
    log.on_incoming(raw("35=4", "34=3", "36=9"))
    log.on_incoming(raw("35=3", "34=4", "45=2", "373=5"))
    log.on_outgoing(raw("35=j", "34=8", "45=2", "380=3"))
    assert sample(metrics, "fix_gap_fills_total", session="S", direction="sent") == 1
    assert sample(metrics, "fix_sequence_resets_total", session="S", direction="received") == 1
    assert (
        sample(metrics, "fix_rejects_total", session="S", direction="received", kind="session") == 1
    )
    assert sample(metrics, "fix_rejects_total", session="S", direction="sent", kind="business") == 1


def test_junk_msg_types_cannot_create_unbounded_labels() -> None:
    metrics = FixMetrics()
    log = MetricsLog(metrics.session("S"))
    for i in range(500):
        log.on_incoming(f"8=FIX.4.4\x019=5\x0135=Z{i:04d}\x0110=000\x01".encode())
    log.on_incoming(b"garbage without a msgtype")
    types = {
        s.labels["msg_type"]
        for family in metrics.registry.collect()
        if family.name == "fix_messages_received"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert types == {"invalid"}
    for i in range(300):
        log.on_incoming(f"8=FIX.4.4\x019=5\x0135=U{i}\x0110=000\x01".encode())
    types = {
        s.labels["msg_type"]
        for family in metrics.registry.collect()
        if family.name == "fix_messages_received"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert len(types) <= 202 and "other" in types


def test_metrics_log_forwards_to_the_inner_log() -> None:
    class Inner:
        def __init__(self) -> None:
            self.lines: list[Any] = []

        def on_incoming(self, raw: bytes) -> None:
            self.lines.append(("in", raw))

        def on_outgoing(self, raw: bytes) -> None:
            self.lines.append(("out", raw))

        def on_event(self, text: str) -> None:
            self.lines.append(("event", text))

        def flush(self) -> str:
            return "flushed"

    inner = Inner()
    log = MetricsLog(FixMetrics().session("S"), inner)
    log.on_incoming(b"\x0135=0\x01")
    log.on_outgoing(b"\x0135=1\x01")
    log.on_event("hello")
    assert [k for k, _ in inner.lines] == ["in", "out", "event"]
    assert log.flush() == "flushed"


def test_registries_are_isolated() -> None:
    one, two = FixMetrics(), FixMetrics()
    one.session("S").message_in(b"8=FIX.4.4\x019=5\x0135=D\x0110=000\x01")
    assert sample(one, "fix_messages_received_total", session="S", msg_type="D") == 1
    assert sample(two, "fix_messages_received_total", session="S", msg_type="D") == 0


def test_round_trip_histogram_takes_observations() -> None:
    metrics = FixMetrics()
    metrics.observe_round_trip("S", 0.0003)
    metrics.observe_round_trip("S", 0.002)
    assert sample(metrics, "fix_order_round_trip_seconds_count", session="S") == 2
    assert sample(metrics, "fix_order_round_trip_seconds_bucket", session="S", le="0.0005") == 1


def test_refusals_are_served_on_the_opt_in_http_endpoint(run: Any) -> None:
    async def scenario() -> str:
        engine = Engine()
        engine.add_acceptor_session(cfg("SERVER", "CLIENT", "acceptor"), port=0, host="127.0.0.1")
        await engine.start()
        server = engine.start_metrics_server(0)
        assert server.address == "127.0.0.1"
        port = engine.acceptors[0].port
        client = await RawClient.connect(port)
        await client.send(logon_bytes("NOBODY", "SERVER"))
        await client.wait_closed_by_peer()
        url = f"http://127.0.0.1:{server.port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        await engine.stop()
        return body.decode()

    text = run(scenario())
    assert 'fix_connections_refused_total{reason="unknown_session"} 1.0' in text
    assert "fix_session_state" in text


def test_start_metrics_server_serves_a_given_registry_and_closes() -> None:
    metrics = FixMetrics()
    metrics.refused_connection("garbage")
    with start_metrics_server(0, metrics=metrics) as server:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5).read()
    assert b'fix_connections_refused_total{reason="garbage"} 1.0' in body


def test_round_trip_histogram_exports_what_a_prometheus_histogram_does() -> None:
    from prometheus_client import CollectorRegistry, Histogram

    from fixengine.metrics import ROUND_TRIP_BUCKETS

    reference = CollectorRegistry()
    hist = Histogram(
        "fix_order_round_trip_seconds",
        "Order round-trip latency (observed by the order layer)",
        ["session"],
        buckets=ROUND_TRIP_BUCKETS,
        registry=reference,
    )
    metrics = FixMetrics()
    values = [0.0, 0.00005, 0.00005001, 0.0003, 0.002, 0.002, 10.0, 11.0, -1.0, float("nan")]
    for session, amount in [("S", v) for v in values] + [("T", 0.5)]:
        hist.labels(session).observe(amount)
        metrics.observe_round_trip(session, amount)
    metrics.round_trip.labels(session="T").observe(0.01)
    hist.labels("T").observe(0.01)

    def samples(families: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in families
            if f.name == "fix_order_round_trip_seconds"
            for s in f.samples
            if not s.name.endswith("_created")
        }

    ours, theirs = samples(metrics.registry.collect()), samples(reference.collect())
    nan = ("fix_order_round_trip_seconds_sum", (("session", "S"),))
    assert ours.pop(nan) != ours.get(nan) and theirs.pop(nan) != theirs.get(nan)  # both NaN
    assert ours == theirs and len(ours) == 2 * (len(ROUND_TRIP_BUCKETS) + 3) - 1
    created = {
        s.labels["session"]
        for f in metrics.registry.collect()
        for s in f.samples
        if s.name == "fix_order_round_trip_seconds_created"
    }
    assert created == {"S", "T"}


def test_sessions_without_round_trips_export_no_histogram_samples() -> None:
    metrics = FixMetrics()
    metrics.session("quiet").message_in(b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01")
    assert sample(metrics, "fix_order_round_trip_seconds_count", session="quiet") == 0
    family = [f for f in metrics.registry.collect() if f.name == "fix_order_round_trip_seconds"]
    assert len(family) == 1 and family[0].type == "histogram" and family[0].samples == []


COUNTED = [
    b"8=FIX.4.4\x019=5\x0135=D\x0134=1\x0110=000\x01",
    b"8=FIX.4.4\x019=5\x0135=AE\x0134=1\x01",
    b"8=FIX.4.4\x019=5\x0135=D",  # no SOH after the type: counted as it always was
    b"8=FIX.4.4\x019=5\x0135=",
    b"8=FIX.4.4\x019=5\x0135=TOOLONGTYPE\x01",
    b"x" * 61 + b"\x0135=D\x01",  # the needle must end within the first 64 bytes
    b"x" * 60 + b"\x0135=D\x01",
    b"garbage",
    b"",
]


@pytest.mark.parametrize("impl", ["py", "c"])
def test_compiled_and_pure_message_counts_agree(impl: str) -> None:
    from fixengine import metrics as m

    if impl == "py":
        count_type = m._count_type_py
    else:
        logline = pytest.importorskip("fixengine._logline", reason="extension not built")
        count_type = logline.count_type
    types = [b"D", b"AE", b"", b"", b"TOOLONGTYPE", b"invalid", b"D", b"invalid", b"invalid"]
    assert [m._msg_type(raw) for raw in COUNTED] == types
    counts = dict.fromkeys(types, 0)
    for raw, msg_type in zip(COUNTED, types, strict=True):
        assert count_type(counts, raw) == msg_type
        assert count_type({}, raw) is None  # a type not seen before is left to Python
    assert counts == {b"D": 2, b"AE": 1, b"": 2, b"TOOLONGTYPE": 1, b"invalid": 3}
    # anything but bytes: the pure path counts it, the compiled one declines
    assert count_type(counts, bytearray(COUNTED[0])) == (b"D" if impl == "py" else None)


@pytest.mark.parametrize("impl", ["py", "c"])
def test_compiled_and_pure_metrics_hooks_agree(impl: str) -> None:
    from fixengine import metrics as m

    if impl == "py":
        counting: Any = m._Counting
    else:
        counting = pytest.importorskip("fixengine._logline", reason="not built").Counting
    counts_in: dict[bytes, int] = {b"D": 0}
    counts_out: dict[bytes, int] = {}
    rest: list[tuple[str, bytes, bytes | None]] = []
    passed: list[tuple[str, bytes]] = []
    hooks = counting(
        counts_in,
        counts_out,
        lambda counts, direction, raw, msg_type: rest.append((direction, raw, msg_type)),
        lambda raw: passed.append(("in", raw)),
        lambda raw: passed.append(("out", raw)),
    )
    d, gap, junk = COUNTED[0], b"8=FIX.4.4\x019=5\x0135=4\x01", b"garbage"
    hooks.incoming(d)
    hooks.outgoing(d)  # D not a key of counts_out yet: left to rest
    counts_out[b"4"] = 0
    hooks.outgoing(gap)  # counted, and rest sees it (SequenceReset has a family)
    hooks.incoming(junk)
    assert counts_in == {b"D": 1} and counts_out == {b"4": 1}
    assert rest == [("sent", d, None), ("sent", gap, b"4"), ("received", junk, None)]
    assert passed == [("in", d), ("out", d), ("out", gap), ("in", junk)]
    quiet = counting({}, {}, lambda *a: None, None, None)
    quiet.incoming(d)  # no inner log: nothing else to call


def test_compiled_hooks_over_a_file_log_keep_each_line_in_its_direction(tmp_path: Any) -> None:
    # the compiled hooks call a compiled log's pending lines without a Python call
    pytest.importorskip("fixengine._logline", reason="not built")
    from fixengine.log import FileLog

    inner = FileLog(tmp_path, SessionID("FIX.4.4", "S", "T"))
    log = MetricsLog(FixMetrics().session("S"), inner)
    first, second = COUNTED[0], b"8=FIX.4.4\x019=5\x0135=0\x0134=7\x0110=000\x01"
    log.on_incoming(first)
    log.on_outgoing(second)
    inner.close()
    lines = [json.loads(line) for line in Path(inner.messages_path).read_text().splitlines()]
    assert [(line["dir"], line["type"]) for line in lines] == [("in", "D"), ("out", "0")]
    assert lines[1]["seq"] == 7
