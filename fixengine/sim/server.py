"""The simulator in-process: ``async with Simulator(...) as sim: ... sim.port``.

Theory of operation
-------------------
A :class:`Simulator` is an :class:`~fixengine.application.Engine` of acceptor
sessions whose application is the :class:`~fixengine.sim.exchange.Exchange`. It is
put together only from the engine's public pieces:

* sessions come from QuickFIX-style settings (:func:`load_simulator_settings`
  reads a settings file whose ``Sim*`` keys configure the simulator, the rest being
  ordinary engine keys) or from :class:`SimSession` objects built in code; with
  ``accept_any_comp_id`` a Logon from any CompID pair (FIX.4.2 to FIXT.1.1) creates
  a session on the fly (``Engine.listen(dynamic_sessions=...)``);
* every session is built by the fault-injecting session factory of
  :mod:`fixengine.sim.faults`, so faults can be set per session in the file, in
  code or at run time (:meth:`Simulator.faults`); a simulator made with
  ``fault_controls=False`` (the command line: nothing changes its faults once it
  runs) serves a session with no fault set through the plain session and store;
* ``Engine.from_settings`` opens the stores, logs, dictionaries and ports.

The simulator listens on ``port`` (0 picks a free one: read :attr:`Simulator.port`
once started). Settings-file sessions keep their own ``SocketAcceptPort`` unless
a port is given. :meth:`Simulator.summary` counts what happened; the ``notify``
callback gets a readable line per logon, logout and fault (the command line prints
them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import os
import time
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..application import Engine, SessionHandle
from ..codec import Message
from ..errors import ConfigError
from ..log import FileLog
from ..metrics import MetricsLog
from ..session.config import SessionConfig, SessionID
from ..settings import SessionSettings, SettingsError, parse_settings
from ..transport.acceptor import AcceptorOptions
from .exchange import FILL_MODELS, Exchange, FillSpec
from .faults import SKIP_MODES, Faults, FaultStats, FaultySession, faulty_session_factory
from .reports import session_version

__all__ = [
    "SIM_KEYS",
    "SimSession",
    "Simulator",
    "load_simulator_settings",
    "parse_simulator_settings",
]

#: BeginStrings a dynamic session may log on with.
DYNAMIC_BEGIN_STRINGS = ("FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1")


@dataclasses.dataclass
class SimSession:
    """One session the simulator serves: engine settings plus fill model and faults."""

    settings: SessionSettings
    fill: FillSpec = dataclasses.field(default_factory=FillSpec)
    faults: Faults = dataclasses.field(default_factory=Faults)

    @classmethod
    def acceptor(
        cls,
        sender_comp_id: str = "EXEC",
        target_comp_id: str = "CLIENT",
        begin_string: str = "FIX.4.4",
        *,
        default_appl_ver_id: str | None = None,
        fill: FillSpec | str = "immediate",
        faults: Faults | None = None,
        **config: Any,
    ) -> SimSession:
        """A memory-store acceptor session; ``config`` sets other SessionConfig fields.

        ``begin_string`` may name a FIX 5 version (``FIX.5.0SP2``): the session is
        then FIXT.1.1 with that DefaultApplVerID.
        """
        begin_string, default_appl_ver_id = split_version(begin_string, default_appl_ver_id)
        cfg = SessionConfig(
            begin_string,
            sender_comp_id,
            target_comp_id,
            role="acceptor",
            default_appl_ver_id=default_appl_ver_id,
            **config,
        )
        session_version(cfg.begin_string, cfg.default_appl_ver_id)  # trade-able version?
        settings = SessionSettings(
            config=cfg, connection_type="acceptor", accept_port=0, store_type="memory"
        )
        spec = FillSpec(model=fill) if isinstance(fill, str) else fill
        return cls(settings, spec, faults if faults is not None else Faults())

    @property
    def session_id(self) -> SessionID:
        """The session's SessionID (the simulator's point of view)."""
        return self.settings.session_id


def split_version(begin_string: str, default_appl_ver_id: str | None) -> tuple[str, str | None]:
    """``FIX.5.0SP2`` -> (``FIXT.1.1``, ``FIX.5.0SP2``); other BeginStrings unchanged."""
    text = begin_string.strip()
    compact = text.upper().replace(".", "")
    if compact.startswith("FIX5"):
        return "FIXT.1.1", default_appl_ver_id or text
    if text == "FIXT.1.1" and default_appl_ver_id is None:
        return text, "FIX.5.0SP2"
    return text, default_appl_ver_id


# -- settings files -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _SimKey:
    name: str
    parse: Callable[[str], Any]
    help: str


def _bool(v: str) -> bool:
    u = v.strip().upper()
    if u in ("Y", "YES", "TRUE"):
        return True
    if u in ("N", "NO", "FALSE"):
        return False
    raise ValueError("expected Y or N")


def _count(v: str) -> int:
    n = int(v)
    if n < 0:
        raise ValueError("expected a non-negative integer")
    return n


def _positive(v: str) -> int:
    n = int(v)
    if n < 1:
        raise ValueError("expected a positive integer")
    return n


def _choice(*values: str) -> Callable[[str], str]:
    def parse(v: str) -> str:
        low = v.strip().lower()
        if low not in values:
            raise ValueError(f"expected one of {', '.join(values)}")
        return low

    return parse


def _fraction(v: str) -> float:
    x = float(v)
    if not 0.0 <= x <= 1.0:
        raise ValueError("expected a number from 0 to 1")
    return x


def _decimal(v: str) -> Decimal:
    try:
        d = Decimal(v.strip())
    except InvalidOperation:
        raise ValueError("expected a decimal number") from None
    if not d.is_finite() or d <= 0:
        raise ValueError("expected a positive decimal number")
    return d


def _millis(v: str) -> float:
    x = float(v)
    if not 0 <= x <= 3_600_000:
        raise ValueError("expected milliseconds from 0 to 3600000")
    return x


def _seconds(v: str) -> float:
    x = float(v)
    if not 0 < x <= 3600:
        raise ValueError("expected seconds, more than 0 and at most 3600")
    return x


def _refusals(v: str) -> int:
    text = v.strip().upper()
    if text in ("Y", "YES", "ALL"):
        return -1
    if text in ("N", "NO"):
        return 0
    return _count(v)


def _symbols(v: str) -> tuple[str, ...]:
    items = tuple(s.strip() for s in v.split(",") if s.strip())
    if not items:
        raise ValueError("expected a comma-separated list of symbols")
    return items


#: Simulator keys of a settings file, by lower-case name.
SIM_KEYS: dict[str, _SimKey] = {
    k.name.lower(): k
    for k in (
        _SimKey("SimFill", _choice(*FILL_MODELS), "fill model: " + ", ".join(FILL_MODELS)),
        _SimKey("SimPartialFraction", _fraction, "share of the order each partial fill takes"),
        _SimKey("SimPartialInterval", _seconds, "seconds between partial fills"),
        _SimKey("SimRejectFraction", _fraction, "share of orders the reject model rejects"),
        _SimKey("SimSeed", int, "random seed of the reject model"),
        _SimKey("SimReferencePrice", _decimal, "price every symbol opens at"),
        _SimKey("SimTickSize", _decimal, "prices must be multiples of this"),
        _SimKey("SimSymbols", _symbols, "the only symbols accepted (comma-separated)"),
        _SimKey("SimDropAfter", _positive, "drop the connection after N messages received"),
        _SimKey("SimSkipSeq", _count, "withhold the next N application messages"),
        _SimKey("SimSkipMode", _choice(*SKIP_MODES), "resend or gap-fill skipped numbers"),
        _SimKey("SimGarbleEvery", _positive, "a garbled copy after every N-th message"),
        _SimKey("SimDelayMs", _millis, "hold every outgoing message this long"),
        _SimKey("SimRefuseLogon", _refusals, "refuse the next N Logons (Y: all)"),
        _SimKey("SimRefuseText", str, "Text(58) of the refusing Logout"),
        _SimKey("SimHeartbeats", _bool, "N: send no Heartbeats"),
        _SimKey("SimAcceptAnyCompID", _bool, "accept a Logon from any CompID pair"),
        _SimKey("SimRequiredHeartBtInt", _positive, "refuse Logons with another HeartBtInt"),
        _SimKey("SimCancelOnDisconnect", _bool, "cancel a session's orders when it disconnects"),
    )
}


#: Keys that apply to the whole simulator ([DEFAULT] only).
_WIDE_KEYS = frozenset(
    {
        "SimAcceptAnyCompID",
        "SimRequiredHeartBtInt",
        "SimSymbols",
        "SimReferencePrice",
        "SimTickSize",
        "SimCancelOnDisconnect",
    }
)


@dataclasses.dataclass
class SimulatorSettings:
    """A simulator settings file, read: the sessions and the simulator-wide options."""

    sessions: list[SimSession]
    accept_any_comp_id: bool = False
    required_heartbeat: int | None = None
    symbols: tuple[str, ...] | None = None
    reference_price: Decimal | None = None
    tick_size: Decimal | None = None
    cancel_on_disconnect: bool = False


def load_simulator_settings(path: str | os.PathLike[str]) -> SimulatorSettings:
    """Read a simulator settings file (see :func:`parse_simulator_settings`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SettingsError([f"{p}: cannot read settings file: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise SettingsError([f"{p}: not UTF-8 text ({exc.reason})"]) from None
    return parse_simulator_settings(text, source=str(p))


def parse_simulator_settings(text: str, source: str = "<string>") -> SimulatorSettings:
    """Split ``Sim*`` keys from a QuickFIX-style settings text and read both parts.

    ``Sim*`` keys may be set in ``[DEFAULT]`` (for every session) or per
    ``[SESSION]``; every other key is the engine's (:mod:`fixengine.settings`). Every
    session must be an acceptor (ConnectionType defaults to acceptor here). Errors
    read ``file:line: Key: problem``, all of them at once.
    """
    errors: list[str] = []
    default: dict[str, tuple[Any, int]] = {}
    sections: list[dict[str, tuple[Any, int]]] = []
    current: dict[str, tuple[Any, int]] | None = None
    engine_lines: list[str] = []
    has_connection_type = False
    for lineno, raw in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        line = raw.strip()
        upper = line.upper()
        if upper == "[DEFAULT]":
            current = default
        elif upper == "[SESSION]":
            current = {}
            sections.append(current)
        elif line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            low = key.lower()
            if low == "connectiontype":
                has_connection_type = True
            if low.startswith("sim"):
                engine_lines.append("")  # keep line numbers for the engine's errors
                spec = SIM_KEYS.get(low)
                if spec is None:
                    close = difflib.get_close_matches(key, [k.name for k in SIM_KEYS.values()])
                    hint = f" (did you mean {close[0]}?)" if close else ""
                    errors.append(f"{source}:{lineno}: {key}: unknown simulator key{hint}")
                elif current is None:
                    errors.append(f"{source}:{lineno}: {key}: outside a section")
                else:
                    try:
                        current[spec.name] = (spec.parse(value), lineno)
                    except ValueError as exc:
                        errors.append(f"{source}:{lineno}: {key}: {exc}")
                continue
        engine_lines.append(raw)
    if not has_connection_type:
        # a simulator file is all acceptors; a [DEFAULT] repeated at the end adds to
        # the first one and keeps every line number
        engine_lines += ["[DEFAULT]", "ConnectionType=acceptor"]
    try:
        settings = parse_settings("\n".join(engine_lines), source)
    except SettingsError as exc:
        errors.extend(exc.errors)
        settings = []
    for own in sections:
        for name, (_, lineno) in own.items():
            if name in _WIDE_KEYS:
                errors.append(f"{source}:{lineno}: {name}: simulator-wide, set it in [DEFAULT]")
    sessions: list[SimSession] = []
    for s, own in zip(settings, sections, strict=False):
        if s.connection_type != "acceptor":
            errors.append(f"{s.source}: the simulator serves acceptor sessions only")
            continue
        values = {**default, **own}
        try:
            session_version(s.config.begin_string, s.config.default_appl_ver_id)
        except ConfigError as exc:
            errors.append(f"{s.source}: {exc}")
            continue
        sessions.append(SimSession(s, _fill_spec(values), _faults(values)))
    if errors:
        raise SettingsError(errors)
    wide = {k: v for k, (v, _) in default.items()}
    return SimulatorSettings(
        sessions=sessions,
        accept_any_comp_id=bool(wide.get("SimAcceptAnyCompID", False)),
        required_heartbeat=wide.get("SimRequiredHeartBtInt"),
        symbols=wide.get("SimSymbols"),
        reference_price=wide.get("SimReferencePrice"),
        tick_size=wide.get("SimTickSize"),
        cancel_on_disconnect=bool(wide.get("SimCancelOnDisconnect", False)),
    )


def _fill_spec(values: dict[str, tuple[Any, int]]) -> FillSpec:
    v = {k: x for k, (x, _) in values.items()}
    base = FillSpec()
    return FillSpec(
        model=v.get("SimFill", base.model),
        partial_fraction=Decimal(str(v.get("SimPartialFraction", base.partial_fraction))),
        partial_interval=v.get("SimPartialInterval", base.partial_interval),
        reject_fraction=v.get("SimRejectFraction", base.reject_fraction),
        seed=v.get("SimSeed", base.seed),
    )


def _faults(values: dict[str, tuple[Any, int]]) -> Faults:
    v = {k: x for k, (x, _) in values.items()}
    base = Faults()
    return Faults(
        drop_after=v.get("SimDropAfter", base.drop_after),
        skip_seq=v.get("SimSkipSeq", base.skip_seq),
        skip_mode=v.get("SimSkipMode", base.skip_mode),
        garble_every=v.get("SimGarbleEvery", base.garble_every),
        delay_ms=v.get("SimDelayMs", base.delay_ms),
        refuse_logons=v.get("SimRefuseLogon", base.refuse_logons),
        refuse_text=v.get("SimRefuseText", base.refuse_text),
        heartbeats=v.get("SimHeartbeats", base.heartbeats),
    )


# -- the simulator ---------------------------------------------------------------------------


SessionRef = SessionID | SessionHandle | str


class Simulator:
    """A FIX acceptor that trades: sessions -> order books and fill models -> reports.

    ``sessions`` are the sessions it serves (none: any CompID pair is accepted).
    ``port`` (0 = any free port) replaces every session's own port when given.
    ``fill`` and ``faults`` are the defaults of sessions created on the fly.
    ``fault_controls=False`` fixes each session's faults when the session is made:
    one with none set is then served without the fault wrappers (nothing between the
    transport and the session), and faults set on it later have no effect.
    """

    def __init__(
        self,
        sessions: Iterable[SimSession] = (),
        *,
        host: str | None = None,
        port: int | None = 0,
        accept_any_comp_id: bool | None = None,
        fill: FillSpec | str = "immediate",
        faults: Faults | None = None,
        validate: bool = True,
        data_dictionary: str | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        required_heartbeat: int | None = None,
        symbols: Iterable[str] | None = None,
        reference_price: Decimal | None = None,
        cancel_on_disconnect: bool = False,
        notify: Callable[[str], None] | None = None,
        tick_size: Decimal | None = None,
        acceptor_options: AcceptorOptions | None = None,
        fault_controls: bool = True,
    ) -> None:
        self.sessions = list(sessions)
        self.fault_controls = fault_controls
        self._host_given = host is not None
        self.host = host if host is not None else "127.0.0.1"
        self._port = port
        self.accept_any_comp_id = (
            not self.sessions if accept_any_comp_id is None else accept_any_comp_id
        )
        self.default_fill = FillSpec(model=fill) if isinstance(fill, str) else fill
        self.default_faults = faults if faults is not None else Faults()
        self.validate = validate
        self.data_dictionary = data_dictionary
        self.log_dir = os.fspath(log_dir) if log_dir is not None else None
        self.required_heartbeat = required_heartbeat
        self.notify = notify
        self._acceptor_options = acceptor_options
        self._faults: dict[SessionID, Faults] = {}
        self._faults_by_target: dict[str, Faults] = {}
        self._wrappers: dict[SessionID, FaultySession] = {}
        self._created: set[SessionID] = set()  # every session made (wrapped or not)
        self._fills: dict[SessionID, FillSpec] = {}
        self._fills_by_target: dict[str, FillSpec] = {}
        for s in self.sessions:
            self._faults[s.session_id] = s.faults
            self._fills[s.session_id] = s.fill
        self._dynamic_logs: list[FileLog] = []
        self.exchange = Exchange(
            fill_for=self.fill_for,
            symbols=symbols,
            reference_price=reference_price,
            tick_size=tick_size,
            cancel_on_disconnect=cancel_on_disconnect,
            notify=self._notify,
        )
        self.engine: Engine | None = None
        self.started_at: float | None = None

    @classmethod
    def from_settings(
        cls, settings: SimulatorSettings | str | os.PathLike[str], **kwargs: Any
    ) -> Simulator:
        """A simulator serving the sessions of a settings file (``Sim*`` keys included)."""
        if not isinstance(settings, SimulatorSettings):
            settings = load_simulator_settings(settings)
        kwargs.setdefault("accept_any_comp_id", settings.accept_any_comp_id)
        kwargs.setdefault("required_heartbeat", settings.required_heartbeat)
        kwargs.setdefault("symbols", settings.symbols)
        kwargs.setdefault("reference_price", settings.reference_price)
        kwargs.setdefault("tick_size", settings.tick_size)
        kwargs.setdefault("cancel_on_disconnect", settings.cancel_on_disconnect)
        kwargs.setdefault("port", None)
        return cls(settings.sessions, **kwargs)

    # -- configuration lookups (also used by the factory and the exchange) ------------------------
    def fill_for(self, session_id: SessionID) -> FillSpec:
        """The fill model of a session (the default for sessions made on the fly)."""
        spec = self._fills.get(session_id)
        if spec is None:
            spec = self._fills_by_target.get(session_id.target_comp_id, self.default_fill)
            self._fills[session_id] = spec
        return spec

    def set_fill(self, session: SessionRef, fill: FillSpec | str) -> None:
        """Change a session's fill model for its orders from now on.

        ``session`` is as for :meth:`faults`: a client CompID that has not logged on
        yet gets this model when it does.
        """
        spec = FillSpec(model=fill) if isinstance(fill, str) else fill
        if isinstance(session, str):
            known = [sid for sid in self._fills if session in (str(sid), sid.target_comp_id)]
            if not known:
                self._fills_by_target[session] = spec
                return
            for sid in known:
                self._fills[sid] = spec
                self.exchange.set_fill(sid, spec)
            return
        sid = self._resolve(session)
        self._fills[sid] = spec
        self.exchange.set_fill(sid, spec)

    def _faults_for(self, session_id: SessionID) -> Faults:
        faults = self._faults.get(session_id)
        if faults is None:
            faults = self._faults_by_target.get(session_id.target_comp_id)
            if faults is None:
                faults = self.default_faults.copy()
            self._faults[session_id] = faults
        return faults

    def faults(self, session: SessionRef) -> Faults:
        """The live :class:`Faults` of a session; change its attributes to inject faults.

        ``session`` is a SessionID, a handle, ``str(SessionID)`` or the client's
        CompID (its TargetCompID from our side). A CompID that has not logged on yet
        gets faults that apply from its first Logon.
        """
        if isinstance(session, str):
            for sid in self._faults:
                if str(sid) == session or sid.target_comp_id == session:
                    return self._faults[sid]
            return self._faults_by_target.setdefault(session, self.default_faults.copy())
        return self._faults_for(self._resolve(session))

    def fault_stats(self, session: SessionRef) -> FaultStats:
        """How often each fault fired on a session."""
        wrapper = self._wrappers.get(self._resolve(session))
        return wrapper.stats if wrapper is not None else FaultStats()

    def inject_garbled(self, session: SessionRef) -> None:
        """Send a garbled frame to a logged-on session now."""
        handle = self.handle(session)
        wrapper = self._wrappers.get(handle.session_id)
        if wrapper is None:
            raise ConfigError(
                f"session {handle.session_id} was started without faults and without "
                "run-time fault controls (fault_controls=False)"
            )
        if not handle.is_connected:
            raise ConfigError(f"session {handle.session_id} is not connected")
        wrapper.inject_garbled()
        handle.driver.pump()

    def drop(self, session: SessionRef) -> None:
        """Close a session's connection now, without a Logout."""
        handle = self.handle(session)
        if handle.is_connected:
            self._notify(f"fault: dropping {handle.session_id} now")
        handle.disconnect()

    def _resolve(self, session: SessionRef) -> SessionID:
        if isinstance(session, SessionID):
            return session
        if isinstance(session, SessionHandle):
            return session.session_id
        return self.handle(session).session_id

    def handle(self, session: SessionRef) -> SessionHandle:
        """The handle of a session: by SessionID, ``str(SessionID)`` or the client's CompID."""
        engine = self._require_engine()
        if isinstance(session, SessionHandle):
            return session
        if isinstance(session, SessionID):
            return engine.session(session)
        for handle in engine.sessions:
            sid = handle.session_id
            if str(sid) == session or sid.target_comp_id == session:
                return handle
        known = ", ".join(str(h.session_id) for h in engine.sessions) or "none yet"
        raise KeyError(f"no session {session!r} (sessions: {known})")

    async def wait_logged_on(self, session: SessionRef, timeout: float = 10.0) -> SessionHandle:
        """Wait until ``session`` exists and is logged on; returns its handle."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                handle = self.handle(session)
            except KeyError:
                handle = None
            if handle is not None and handle.is_logged_on:
                return handle
            if loop.time() >= deadline:
                raise asyncio.TimeoutError(f"{session!r} did not log on within {timeout}s")
            await asyncio.sleep(0.01)

    # -- life cycle -----------------------------------------------------------------------------
    def _require_engine(self) -> Engine:
        if self.engine is None:
            raise ConfigError("the simulator has not been started")
        return self.engine

    @property
    def ports(self) -> list[int]:
        """The listening ports (real numbers once started)."""
        engine = self._require_engine()
        return sorted({a.port for a in engine.acceptors})

    @property
    def port(self) -> int:
        """The (first) listening port."""
        return self.ports[0]

    def _settings(self) -> list[SessionSettings]:
        out = []
        for s in self.sessions:
            st = s.settings
            changes: dict[str, Any] = {}
            if self._port is not None or st.accept_port is None:
                changes["accept_port"] = self._port or 0
            if st.accept_host is None or self._host_given:
                changes["accept_host"] = self.host
            if self.log_dir is not None:
                changes["log_type"] = "file"
                changes["log_path"] = self.log_dir
            cfg = self._session_config(st.config)
            if cfg is not st.config:
                changes["config"] = cfg
            out.append(dataclasses.replace(st, **changes) if changes else st)
        return out

    def _session_config(self, cfg: SessionConfig) -> SessionConfig:
        changes: dict[str, Any] = {}
        if not self.validate:
            changes["use_data_dictionary"] = False
        if self.data_dictionary is not None:
            if cfg.begin_string == "FIXT.1.1":
                changes["app_data_dictionary"] = self.data_dictionary
            else:
                changes["data_dictionary"] = self.data_dictionary
        return dataclasses.replace(cfg, **changes) if changes else cfg

    def _authenticate(self, session_id: SessionID, logon: Message) -> str | None:
        required = self.required_heartbeat
        if required is not None and logon.get(108) != str(required).encode():
            return f"HeartBtInt(108) must be {required}"
        return None

    def _on_session(self, session: Any) -> None:
        self._created.add(session.session_id)
        if isinstance(session, FaultySession):
            self._wrappers[session.session_id] = session

    def _notify(self, line: str) -> None:
        if self.notify is not None:
            self.notify(line)

    async def start(self) -> None:
        """Open the ports and serve."""
        if self.engine is not None:
            return
        factory = faulty_session_factory(
            self._faults_for,
            authenticator=self._authenticate,
            on_created=self._on_session,
            log_for=self._dynamic_log if self.log_dir is not None else None,
            controls=self.fault_controls,
        )
        settings = self._settings()
        options = self._acceptor_options or AcceptorOptions()
        engine = Engine.from_settings(
            settings, self.exchange, session_factory=factory, acceptor_options=options
        )
        if self.accept_any_comp_id:
            for host, port in self._wanted(settings):
                engine.listen(
                    port,
                    host,
                    options=options,
                    dynamic_sessions=self._dynamic_session,
                    dynamic_dictionary=_dictionaries,
                )
        self.engine = engine
        try:
            await engine.start()
        except OSError as exc:
            self.engine = None
            await engine.stop(logout=False)
            where = ", ".join(f"{h}:{p}" for h, p in self._wanted(settings))
            raise ConfigError(
                f"cannot listen on {where}: {exc.strerror or exc}; is another program using "
                "the port? choose another one (0: any free port)"
            ) from exc
        self.started_at = time.time()
        self.exchange.start()

    def _wanted(self, settings: list[SessionSettings]) -> list[tuple[str, int]]:
        """The (host, port) pairs to listen on."""
        addresses = {(s.accept_host or self.host, s.accept_port or 0) for s in settings}
        if not addresses:
            addresses = {(self.host, self._port or 0)}
        return sorted(addresses)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs listened on (real ports once started)."""
        engine = self._require_engine()
        return sorted({(a.host or "0.0.0.0", a.port) for a in engine.acceptors})

    def _dynamic_session(self, session_id: SessionID, logon: Message) -> SessionConfig | None:
        begin = session_id.begin_string
        if begin not in DYNAMIC_BEGIN_STRINGS:
            self._notify(f"refused a Logon from {session_id}: unsupported BeginString {begin}")
            return None
        appl: str | None = None
        if begin == "FIXT.1.1":
            raw = logon.get(1137)
            appl = raw.decode("ascii", "replace") if raw else "9"
        cfg = SessionConfig(
            begin,
            session_id.sender_comp_id,
            session_id.target_comp_id,
            role="acceptor",
            default_appl_ver_id=appl,
        )
        try:
            session_version(begin, appl)
        except ConfigError as exc:
            self._notify(f"refused a Logon from {session_id}: {exc}")
            return None
        return self._session_config(cfg)

    def _dynamic_log(self, session_id: SessionID, log: Any) -> Any:
        if self.log_dir is None or any(s.session_id == session_id for s in self.sessions):
            return log
        file_log = FileLog(self.log_dir, session_id)
        self._dynamic_logs.append(file_log)
        if isinstance(log, MetricsLog):
            return MetricsLog(log.metrics, file_log)
        return file_log

    async def stop(self) -> None:
        """Log every session out and close the ports."""
        engine = self.engine
        if engine is None:
            return
        await self.exchange.stop()
        await engine.stop()
        for log in self._dynamic_logs:
            log.close()
        self._dynamic_logs.clear()
        self.engine = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        """Start (if needed) and serve until :meth:`stop` is called."""
        await self.start()
        engine = self._require_engine()
        await engine.serve_forever()

    # -- reporting ---------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts of what happened: sessions, orders, executions, faults."""
        stats = self.exchange.stats
        faults = FaultStats()
        for wrapper in self._wrappers.values():
            for f in dataclasses.fields(FaultStats):
                setattr(faults, f.name, getattr(faults, f.name) + getattr(wrapper.stats, f.name))
        uptime = time.time() - self.started_at if self.started_at is not None else 0.0
        return {
            "uptime_seconds": round(uptime, 3),
            "sessions": len(self._created),
            **dataclasses.asdict(stats),
            "faults": dataclasses.asdict(faults),
        }

    def summary_lines(self) -> list[str]:
        """:meth:`summary` as readable lines."""
        s = self.summary()
        faults = s.pop("faults")
        lines = [
            f"uptime {s.pop('uptime_seconds'):.1f}s, {s.pop('sessions')} session(s), "
            f"{s.pop('logons')} logon(s)"
        ]
        lines.append(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in s.items()))
        fired = {k: v for k, v in faults.items() if v}
        if fired:
            lines.append(
                "faults: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in fired.items())
            )
        return lines


def _dictionaries(config: SessionConfig) -> tuple[Any, Any]:
    """(dictionary, app dictionary) for a session made on the fly."""
    if not config.use_data_dictionary:
        return None, None
    from ..dictionary import APPL_VER_IDS, load
    from ..session.admin import appl_ver_id

    if config.begin_string == "FIXT.1.1":
        app = config.app_data_dictionary
        if app is None and config.default_appl_ver_id is not None:
            app = APPL_VER_IDS.get(appl_ver_id(config.default_appl_ver_id))
        return load(config.transport_data_dictionary or "FIXT11"), load(app) if app else None
    return load(config.data_dictionary or config.begin_string), None
