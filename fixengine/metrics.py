"""Prometheus metrics for FIX sessions and connections.

Theory of operation
-------------------
One :class:`FixMetrics` owns a dedicated :class:`~prometheus_client.CollectorRegistry`
(never the process-wide default, so two engines - or two tests - never share
counters). The transport updates it from the places that already see every
message, so the hot path pays only a dictionary lookup and a counter increment:

* :class:`MetricsLog` wraps the session's message log hook (``on_incoming`` /
  ``on_outgoing`` / ``on_event``): every FIX message in and out is counted by
  MsgType(35) in a plain dict of ints (no lock, no prometheus child on the hot
  path; its ``on_incoming``/``on_outgoing`` are those of ``fixengine._logline.Counting``
  when it is built, so a message runs no Python frame there), exported as counters
  at scrape time; ResendRequest(2),
  SequenceReset-GapFill(4 with 123=Y), Reject(3) and BusinessMessageReject(j) are
  counted in their own families as well.
* Session events (heartbeat missed, logon, logout) and connection facts
  (reconnects, disconnects by reason, refused connections by reason, pauses of the
  inbound throttle) are counted by the transport through :class:`SessionMetrics`.
* State and the next sequence numbers are gauges read at scrape time from the
  session's own attributes (plain values: the scrape never calls into a store,
  which may not be thread-safe), so nothing is recorded per message for them.
* The order round-trip histogram (``fix_order_round_trip_seconds``) is a list of
  per-bucket ints and a float sum on :class:`SessionMetrics` - a ``bisect`` and
  two additions per order, no lock - exported at scrape time with the samples a
  :class:`prometheus_client.Histogram` writes.

Label cardinality is bounded: ``session`` is the session id, ``msg_type`` is
whatever MsgType the peer sends but each distinct value costs one child only, and
the reason labels come from fixed vocabularies (:data:`DISCONNECT_REASONS`,
:data:`REFUSAL_REASONS`).

The HTTP endpoint is opt-in: :func:`start_metrics_server`.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import prometheus_client.metrics
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.utils import floatToGoString as _go_float

__all__ = [
    "DISCONNECT_REASONS",
    "REFUSAL_REASONS",
    "FixMetrics",
    "MessageLog",
    "MetricsLog",
    "MetricsServer",
    "SessionMetrics",
    "start_metrics_server",
]

#: Why a connection ended (label ``reason`` of ``fix_disconnects_total``).
DISCONNECT_REASONS: frozenset[str] = frozenset(
    {
        "peer_closed",  # the counterparty closed or reset the connection
        "session",  # the session asked for it (logout done, protocol error, no heartbeat...)
        "write_overflow",  # the peer stopped reading and the write buffer hit its cap
        "local",  # our application or shutdown closed it
        "error",  # an I/O error
        "refused",  # an acceptor refused the connection before binding it to a session
    }
)

#: Why an acceptor refused a connection (label ``reason`` of ``fix_connections_refused_total``).
REFUSAL_REASONS: frozenset[str] = frozenset(
    {
        "unknown_session",
        "duplicate",
        "logon_timeout",
        "not_logon",
        "garbage",
        "oversize",
        "too_many_pending",
        "stopping",
        "tls_handshake",  # the TLS handshake failed (no or untrusted client certificate, ...)
        "authentication",  # the session's authenticator refused the Logon (e.g. wrong password)
    }
)

#: Order round-trip latency buckets, 50 microseconds to 10 seconds.
ROUND_TRIP_BUCKETS: tuple[float, ...] = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
)

#: The upper bounds observations are counted against (``+Inf`` last).
_ROUND_TRIP_BOUNDS: tuple[float, ...] = (*ROUND_TRIP_BUCKETS, float("inf"))
_float_label: Callable[[float], str] = _go_float  # how prometheus_client writes ``le``
_ROUND_TRIP_LE = tuple(_float_label(b) for b in _ROUND_TRIP_BOUNDS)
_ROUND_TRIP_HELP = "Order round-trip latency (observed by the order layer)"


class MessageLog(Protocol):
    """The message-log hook a session calls (``fixengine.log`` implements it)."""

    def on_incoming(self, raw: bytes) -> None: ...

    def on_outgoing(self, raw: bytes) -> None: ...

    def on_event(self, text: str) -> None: ...


class SessionMetrics:
    """The per-session children of the :class:`FixMetrics` families, cached.

    Holding the children avoids a ``labels()`` lookup per message. ``state``,
    ``next_sender_seq`` and ``next_target_seq`` are read from the session given to
    :meth:`watch` when asked (at scrape time), so nothing is recorded per message;
    ``connected`` and ``logged_on`` are plain values the transport sets.
    """

    __slots__ = (
        "_connect_attempts",
        "_disconnects",
        "_in",
        "_out",
        "_rt_counts",
        "_rt_created",
        "_rt_sum",
        "_source",
        "connected",
        "heartbeats_missed",
        "inbound_throttled",
        "logged_on",
        "logons",
        "logouts",
        "metrics",
        "reconnects",
        "session",
    )

    def __init__(self, metrics: FixMetrics, session: str) -> None:
        self.metrics = metrics
        self.session = session
        self._in: dict[bytes, int] = {}  # plain ints: exported at scrape time
        self._out: dict[bytes, int] = {}
        self._disconnects: dict[str, Any] = {}
        self._connect_attempts: dict[str, Any] = {}
        # the round-trip histogram: a count per bucket (not cumulative), made by the
        # first observation; exported at scrape time like the message counts
        self._rt_counts: list[int] | None = None
        self._rt_sum = 0.0
        self._rt_created = 0.0
        self.heartbeats_missed = metrics.heartbeats_missed.labels(session)
        self.inbound_throttled = metrics.inbound_throttled.labels(session)
        self.reconnects = metrics.reconnects.labels(session)
        self.logons = metrics.logons.labels(session)
        self.logouts = metrics.logouts.labels(session)
        self._source: Any = None
        self.connected = False
        self.logged_on = False

    # -- messages (called for every message: keep cheap) ----------------------
    def message_in(self, raw: bytes) -> None:
        """Count one received message."""
        msg_type = _count_type(self._in, raw)
        if msg_type is None or msg_type in _ADMIN_COUNTED:
            self._count_rest(self._in, "received", raw, msg_type)

    def message_out(self, raw: bytes) -> None:
        """Count one sent message."""
        msg_type = _count_type(self._out, raw)
        if msg_type is None or msg_type in _ADMIN_COUNTED:
            self._count_rest(self._out, "sent", raw, msg_type)

    def _count_rest(
        self, counts: dict[bytes, int], direction: str, raw: bytes, msg_type: bytes | None
    ) -> None:
        """The rare rest of counting a message: a MsgType not seen before (None), or
        one with a family of its own."""
        if msg_type is None:
            msg_type = self._first_seen(counts, _msg_type(raw))
        if msg_type in _ADMIN_COUNTED:
            self._admin(msg_type, raw, direction)

    @staticmethod
    def _first_seen(counts: dict[bytes, int], msg_type: bytes) -> bytes:
        """Count a MsgType not seen before; junk and types beyond the cap are lumped."""
        if not (0 < len(msg_type) <= 4 and msg_type.isalnum()):
            msg_type = b"invalid"
        elif len(counts) >= _MAX_MSG_TYPES:
            msg_type = b"other"
        counts[msg_type] = counts.get(msg_type, 0) + 1
        return msg_type

    def message_counts(self) -> tuple[dict[bytes, int], dict[bytes, int]]:
        """Copies of the (received, sent) counts by MsgType."""
        return dict(self._in), dict(self._out)

    def _admin(self, msg_type: bytes, raw: bytes, direction: str) -> None:
        m = self.metrics
        if msg_type == b"2":
            m.resend_requests.labels(self.session, direction).inc()
        elif msg_type == b"4":
            if b"\x01123=Y\x01" in raw:
                m.gap_fills.labels(self.session, direction).inc()
            else:
                m.sequence_resets.labels(self.session, direction).inc()
        elif msg_type == b"3":
            m.rejects.labels(self.session, direction, "session").inc()
        elif msg_type == b"j":
            m.rejects.labels(self.session, direction, "business").inc()

    # -- connection facts ---------------------------------------------------------
    def disconnected(self, reason: str) -> None:
        """Count a disconnect; ``reason`` is one of :data:`DISCONNECT_REASONS`."""
        child = self._disconnects.get(reason)
        if child is None:
            child = self._disconnects[reason] = self.metrics.disconnects.labels(
                self.session, reason
            )
        child.inc()
        self.connected = False
        self.logged_on = False

    def connect_attempt(self, outcome: str) -> None:
        """Count an initiator connect attempt: ``connected``, ``failed`` or ``timeout``."""
        child = self._connect_attempts.get(outcome)
        if child is None:
            child = self._connect_attempts[outcome] = self.metrics.connect_attempts.labels(
                self.session, outcome
            )
        child.inc()

    def watch(self, session: Any) -> None:
        """Report ``session``'s ``state``, ``next_sender_seq`` and ``next_target_seq``."""
        self._source = session

    @property
    def state(self) -> str:
        """The watched session's state by name (``DISCONNECTED`` before :meth:`watch`)."""
        state = getattr(self._source, "state", None)
        if state is None:
            return "DISCONNECTED"
        name = getattr(state, "name", None)
        return name if isinstance(name, str) else str(state)

    @property
    def next_sender_seq(self) -> int:
        """The watched session's next outgoing MsgSeqNum (0 before :meth:`watch`)."""
        return int(getattr(self._source, "next_sender_seq", 0))

    @property
    def next_target_seq(self) -> int:
        """The watched session's next expected incoming MsgSeqNum (0 before :meth:`watch`)."""
        return int(getattr(self._source, "next_target_seq", 0))

    def observe_round_trip(self, seconds: float) -> None:
        """Record one order round trip (e.g. NewOrderSingle to its first ExecutionReport).

        No lock: one writer (the event loop's thread) adds to plain ints, which the
        scrape copies; the bucket is the first upper bound >= ``seconds``, as in
        :class:`prometheus_client.Histogram` (NaN goes to no bucket).
        """
        counts = self._rt_counts
        if counts is None:
            counts = self._rt_counts = [0] * len(_ROUND_TRIP_BOUNDS)
            self._rt_created = time.time()
        i = bisect_left(_ROUND_TRIP_BOUNDS, seconds)
        if i or seconds <= _ROUND_TRIP_BOUNDS[0]:
            counts[i] += 1
        self._rt_sum += seconds

    def round_trip_counts(self) -> tuple[list[int], float, float] | None:
        """(count per bucket, sum, created time) of the round trips, or None before the first."""
        counts = self._rt_counts
        if counts is None:
            return None
        return list(counts), self._rt_sum, self._rt_created


_ADMIN_COUNTED = frozenset({b"2", b"3", b"4", b"j"})
_MAX_MSG_TYPES = 200  # distinct MsgType labels per session and direction


def _msg_type(raw: bytes) -> bytes:
    """The MsgType(35) a message is counted under (before the label cap)."""
    start = raw.find(b"\x0135=", 0, 64)  # MsgType is the third field
    if start < 0:
        return b"invalid"
    start += 4
    return bytes(raw[start : raw.find(b"\x01", start, start + 8)])


def _count_type_py(counts: dict[bytes, int], raw: bytes) -> bytes | None:
    """Add one to ``counts[MsgType]`` and return the MsgType if it is already a key;
    else None (``counts`` unchanged). The pure twin of ``_logline.count_type``."""
    msg_type = _msg_type(raw)
    n = counts.get(msg_type)
    if n is None:
        return None
    counts[msg_type] = n + 1
    return msg_type


_count_type: Callable[[dict[bytes, int], bytes], bytes | None] = _count_type_py


class _Counting:
    """``on_incoming/on_outgoing`` of a :class:`MetricsLog` (pure twin of
    ``fixengine._logline.Counting``).

    Counts the message by MsgType in ``counts_in``/``counts_out``; a MsgType not
    seen before, or one with a family of its own, also goes to
    ``rest(counts, direction, raw, msg_type or None)``; then the message goes to
    ``inner_in``/``inner_out`` (when not None).
    """

    __slots__ = ("_in", "_inner_in", "_inner_out", "_out", "_rest")

    def __init__(
        self,
        counts_in: dict[bytes, int],
        counts_out: dict[bytes, int],
        rest: Callable[[dict[bytes, int], str, bytes, bytes | None], None],
        inner_in: Callable[[bytes], None] | None,
        inner_out: Callable[[bytes], None] | None,
    ) -> None:
        self._in = counts_in
        self._out = counts_out
        self._rest = rest
        self._inner_in = inner_in
        self._inner_out = inner_out

    def incoming(self, raw: bytes) -> None:
        """Count a message received, then pass it on."""
        msg_type = _count_type(self._in, raw)
        if msg_type is None or msg_type in _ADMIN_COUNTED:
            self._rest(self._in, "received", raw, msg_type)
        if self._inner_in is not None:
            self._inner_in(raw)

    def outgoing(self, raw: bytes) -> None:
        """Count a message sent, then pass it on."""
        msg_type = _count_type(self._out, raw)
        if msg_type is None or msg_type in _ADMIN_COUNTED:
            self._rest(self._out, "sent", raw, msg_type)
        if self._inner_out is not None:
            self._inner_out(raw)


class MetricsLog:
    """A message-log hook that counts messages, then forwards to an inner log (if any)."""

    __slots__ = ("_inner", "metrics", "on_incoming", "on_outgoing")

    # on_incoming / on_outgoing (raw bytes): set in __init__ to the methods of a
    # _Counting - compiled when built - so a message runs no Python frame here
    on_incoming: Callable[[bytes], None]
    on_outgoing: Callable[[bytes], None]

    def __init__(self, metrics: SessionMetrics, inner: MessageLog | None = None) -> None:
        self.metrics = metrics
        self._inner = inner
        hooks = _counting(
            metrics._in,
            metrics._out,
            metrics._count_rest,
            None if inner is None else inner.on_incoming,
            None if inner is None else inner.on_outgoing,
        )
        self.on_incoming = hooks.incoming
        self.on_outgoing = hooks.outgoing

    @property
    def inner(self) -> MessageLog | None:
        """The log this one forwards to."""
        return self._inner

    def on_event(self, text: str) -> None:
        if self._inner is not None:
            self._inner.on_event(text)

    def __getattr__(self, name: str) -> Any:
        # let callers reach the inner log's extra methods (flush, close, ...)
        inner = object.__getattribute__(self, "_inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)


class _SnapshotCollector:
    """Yields the gauge families of every session, read at scrape time."""

    def __init__(self, metrics: FixMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        sessions = self._metrics.sessions()
        state = GaugeMetricFamily(
            "fix_session_state",
            "Current session state (1 for the state named)",
            labels=["session", "state"],
        )
        sender = GaugeMetricFamily(
            "fix_session_next_sender_seq", "MsgSeqNum of the next message sent", labels=["session"]
        )
        target = GaugeMetricFamily(
            "fix_session_next_target_seq",
            "MsgSeqNum expected on the next message received",
            labels=["session"],
        )
        connected = GaugeMetricFamily(
            "fix_session_connected", "1 while a connection is bound", labels=["session"]
        )
        logged_on = GaugeMetricFamily(
            "fix_session_logged_on", "1 while logged on", labels=["session"]
        )
        for sm in sessions:
            state.add_metric([sm.session, sm.state], 1)
            sender.add_metric([sm.session], sm.next_sender_seq)
            target.add_metric([sm.session], sm.next_target_seq)
            connected.add_metric([sm.session], 1 if sm.connected else 0)
            logged_on.add_metric([sm.session], 1 if sm.logged_on else 0)
        received = CounterMetricFamily(
            "fix_messages_received", "FIX messages received", labels=["session", "msg_type"]
        )
        sent = CounterMetricFamily(
            "fix_messages_sent", "FIX messages sent", labels=["session", "msg_type"]
        )
        for sm in sessions:
            counts_in, counts_out = sm.message_counts()
            for msg_type, n in counts_in.items():
                received.add_metric([sm.session, msg_type.decode("ascii")], n)
            for msg_type, n in counts_out.items():
                sent.add_metric([sm.session, msg_type.decode("ascii")], n)
        yield received
        yield sent
        yield state
        yield sender
        yield target
        yield connected
        yield logged_on


class _RoundTripCollector:
    """Yields ``fix_order_round_trip_seconds`` from the per-session bucket counts.

    The same samples :class:`prometheus_client.Histogram` writes: cumulative
    ``_bucket`` per ``le``, ``_count``, ``_sum`` and (unless turned off in
    prometheus_client) ``_created``.
    """

    def __init__(self, metrics: FixMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        name = "fix_order_round_trip_seconds"
        family = Metric(name, _ROUND_TRIP_HELP, "histogram")
        created = getattr(prometheus_client.metrics, "_use_created", True)
        for sm in self._metrics.sessions():
            snapshot = sm.round_trip_counts()
            if snapshot is None:
                continue
            counts, total, when = snapshot
            acc = 0.0
            for le, n in zip(_ROUND_TRIP_LE, counts, strict=True):
                acc += n
                family.add_sample(name + "_bucket", {"session": sm.session, "le": le}, acc)
            family.add_sample(name + "_count", {"session": sm.session}, acc)
            family.add_sample(name + "_sum", {"session": sm.session}, total)
            if created:
                family.add_sample(name + "_created", {"session": sm.session}, when)
        yield family


class _RoundTripChild:
    """What ``FixMetrics.round_trip.labels(session)`` returns: ``observe(seconds)``."""

    def __init__(self, session: SessionMetrics) -> None:
        self._session = session

    def observe(self, amount: float) -> None:
        self._session.observe_round_trip(amount)


class _RoundTripFamily:
    """``FixMetrics.round_trip``: ``labels(session).observe(seconds)`` as on a
    :class:`prometheus_client.Histogram` labelled by session."""

    def __init__(self, metrics: FixMetrics) -> None:
        self._metrics = metrics

    def labels(self, *values: object, **labels: object) -> _RoundTripChild:
        if len(values) + len(labels) != 1 or (labels and "session" not in labels):
            raise ValueError("fix_order_round_trip_seconds has one label: session")
        session = values[0] if values else labels["session"]
        return _RoundTripChild(self._metrics.session(session))


class FixMetrics:
    """Every fixengine metric family, registered in one dedicated registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.resend_requests = Counter(
            "fix_resend_requests", "ResendRequests (35=2)", ["session", "direction"], registry=r
        )
        self.gap_fills = Counter(
            "fix_gap_fills", "SequenceReset-GapFill messages", ["session", "direction"], registry=r
        )
        self.sequence_resets = Counter(
            "fix_sequence_resets",
            "SequenceReset-Reset messages (no GapFillFlag)",
            ["session", "direction"],
            registry=r,
        )
        self.rejects = Counter(
            "fix_rejects",
            "Session (35=3) and business (35=j) rejects",
            ["session", "direction", "kind"],
            registry=r,
        )
        self.heartbeats_missed = Counter(
            "fix_heartbeats_missed",
            "Times nothing arrived within the heartbeat interval (TestRequest sent)",
            ["session"],
            registry=r,
        )
        self.inbound_throttled = Counter(
            "fix_inbound_throttled",
            "Times the inbound throttle paused reading from the peer",
            ["session"],
            registry=r,
        )
        self.logons = Counter("fix_logons", "Completed logons", ["session"], registry=r)
        self.logouts = Counter("fix_logouts", "Completed logouts", ["session"], registry=r)
        self.reconnects = Counter(
            "fix_reconnects",
            "Connections established after an earlier one",
            ["session"],
            registry=r,
        )
        self.connect_attempts = Counter(
            "fix_connect_attempts",
            "Initiator connect attempts by outcome",
            ["session", "outcome"],
            registry=r,
        )
        self.disconnects = Counter(
            "fix_disconnects", "Connections ended, by reason", ["session", "reason"], registry=r
        )
        self.refused = Counter(
            "fix_connections_refused",
            "Connections an acceptor refused before binding them to a session",
            ["reason"],
            registry=r,
        )
        self._sessions: dict[str, SessionMetrics] = {}
        self._lock = threading.Lock()
        # a histogram kept by the sessions themselves (plain ints, read at scrape time)
        self.round_trip = _RoundTripFamily(self)
        r.register(_RoundTripCollector(self))  # type: ignore[arg-type]
        r.register(_SnapshotCollector(self))  # type: ignore[arg-type]

    def session(self, session_id: object) -> SessionMetrics:
        """The (cached) metrics of one session; ``session_id`` is used through ``str()``."""
        key = str(session_id)
        sm = self._sessions.get(key)
        if sm is None:
            with self._lock:
                sm = self._sessions.get(key)
                if sm is None:
                    sm = self._sessions[key] = SessionMetrics(self, key)
        return sm

    def sessions(self) -> list[SessionMetrics]:
        """Every session seen so far."""
        with self._lock:
            return list(self._sessions.values())

    def refused_connection(self, reason: str) -> None:
        """Count a connection an acceptor refused (reason from :data:`REFUSAL_REASONS`)."""
        self.refused.labels(reason).inc()

    def observe_round_trip(self, session_id: object, seconds: float) -> None:
        """Record one order round trip for ``session_id``."""
        self.session(session_id).observe_round_trip(seconds)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """Current value of one sample (e.g. ``fix_messages_sent_total``), or None."""
        return self.registry.get_sample_value(name, labels or {})

    def __iter__(self) -> Iterator[Metric]:
        return iter(self.registry.collect())


class MetricsServer:
    """A running metrics HTTP endpoint (``GET /metrics``); :meth:`close` stops it."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """The port it listens on (useful after asking for port 0)."""
        return int(self._server.server_port)

    @property
    def address(self) -> str:
        """The address it is bound to."""
        return str(self._server.server_address[0])

    def close(self) -> None:
        """Stop serving and release the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_metrics_server(
    port: int, addr: str = "127.0.0.1", metrics: FixMetrics | CollectorRegistry | None = None
) -> MetricsServer:
    """Serve ``metrics`` (a :class:`FixMetrics` or a registry) over HTTP on ``addr:port``.

    Opt-in: nothing listens unless this is called. The default address is the
    loopback interface; pass ``addr="0.0.0.0"`` deliberately to expose it. Port 0
    picks a free port (see :attr:`MetricsServer.port`).
    """
    if metrics is None:
        registry: CollectorRegistry = FixMetrics().registry
    elif isinstance(metrics, FixMetrics):
        registry = metrics.registry
    else:
        registry = metrics
    server, thread = start_http_server(port, addr, registry)
    return MetricsServer(server, thread)


# the compiled twins of _count_type_py and _Counting, when built and not turned off
_counting: Any = _Counting
if os.environ.get("FIXENGINE_NO_EXTENSIONS", "").lower() not in ("1", "true", "yes"):
    try:
        from ._logline import Counting as _counting
        from ._logline import count_type as _count_type
    except ImportError:  # pragma: no cover - a pure install
        pass
