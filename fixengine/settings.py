"""QuickFIX-style settings files -> typed per-session settings.

Theory of operation
-------------------
A settings file is a ``[DEFAULT]`` section followed by ``[SESSION]`` sections of
``Key=Value`` lines; lines whose first non-blank character is ``#`` are comments.
Every session inherits the DEFAULT values it does not set itself. Key names are
QuickFIX's (and QuickFIX/J's where QuickFIX has none) and match case-insensitively,
so an existing QuickFIX configuration is reused as it is; the keys fixengine adds
are listed in :data:`KEYS` too.

Each session section becomes a :class:`SessionSettings`: the
:class:`~fixengine.session.config.SessionConfig` the state machine needs, plus
what the transport, the store and the logs need. Everything is checked at start-up:
an unknown key, a bad value, a missing required key, a duplicate session, an
initiator without host/port or an acceptor without port raise
:class:`SettingsError` (a :class:`~fixengine.errors.ConfigError`) whose lines read
``file:line: Key: what is wrong``. All problems of a file are reported at once.

Idle strategy (``IdleStrategy``, fixengine's own, after Artio's idle strategies):
what the engine's event loop does while it has nothing to do. ``sleep`` (the
default) blocks until a socket or timer is ready; ``spin`` never blocks (lowest
latency, one CPU kept busy: for a dedicated core); ``backoff`` spins for
``IdleSpinMicros`` microseconds (default 50) after each read or write, then blocks.
The sessions of one engine share its loop, so the engine takes the most eager
strategy any of its sessions asks for (and the longest spin of that strategy).

``GcFreeze=Y`` (engine-wide, default N): when the engine starts it collects once, then
moves everything built so far (modules, data dictionaries and their validation
tables, settings) out of reach of Python's cyclic garbage collector
(``gc.freeze()``). Its full passes then walk only what was made since, which
shortens the pauses that otherwise land on whatever order is in flight (measured
by ``fixengine bench roundtrip``: p99 at a fixed rate several times lower). Objects
frozen stay until the process ends, unless freed by reference counting.

``FirstMessageAlone`` (per session, fixengine's own): when one read brings several
messages, the first is worked on alone and the rest at the event loop's next turn,
so a task the first one woke (a caller awaiting an order's acknowledgement) resumes
before the fill that came with it is worked on. Unset, it is on for sessions an
:class:`~fixengine.orders.router.OrderRouter` drives and off for the others; ``Y``
or ``N`` decides for the session whatever its application prefers.

Secrets: any value may be written ``${env:NAME}`` (taken from the environment at
load time), and ``PasswordFile`` / ``SocketPrivateKeyPasswordFile`` name a file
holding the secret. Secret values never appear in error messages or in the
``repr`` of the result.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import os
import re
import ssl
import zoneinfo
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import ConfigError
from .session.config import Role, SessionConfig, SessionID
from .session.schedule import SessionSchedule
from .session.store import (
    DEFAULT_BATCH_INTERVAL_MS,
    FSYNC_POLICIES,
    STORE_TYPES,
    FsyncPolicy,
    MessageStore,
    StoreType,
    open_store,
)

if TYPE_CHECKING:
    from .log import MessageLog
    from .transport.loop import IdleMode

__all__ = [
    "KEYS",
    "SessionSettings",
    "SettingsError",
    "TlsSettings",
    "load_settings",
    "parse_settings",
]

BEGIN_STRINGS = ("FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1")
#: ApplVerID(1128) values and the names QuickFIX accepts for DefaultApplVerID.
APPL_VER_IDS = {
    "FIX.2.7": "0",
    "FIX.3.0": "1",
    "FIX.4.0": "2",
    "FIX.4.1": "3",
    "FIX.4.2": "4",
    "FIX.4.3": "5",
    "FIX.4.4": "6",
    "FIX.5.0": "7",
    "FIX.5.0SP1": "8",
    "FIX.5.0SP2": "9",
}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PRECISION_NAMES = {"SECONDS": 0, "MILLIS": 3, "MICROS": 6, "NANOS": 9}
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_FAILOVER = re.compile(r"^(SocketConnectHost|SocketConnectPort)(\d+)$", re.IGNORECASE)

VerifyMode = Literal["none", "optional", "required"]
LogType = Literal["file", "logging", "null", "memory"]


class SettingsError(ConfigError):
    """One or more problems in a settings file; ``errors`` lists them one per line."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


class _Bad(Exception):
    """A value that does not parse; the text says what was expected."""


# -- value parsers -------------------------------------------------------------------


def _text(v: str) -> str:
    return v


def _bool(v: str) -> bool:
    u = v.upper()
    if u in ("Y", "YES", "TRUE"):
        return True
    if u in ("N", "NO", "FALSE"):
        return False
    raise _Bad("expected Y or N")


def _int_in(low: int, high: int | None, what: str) -> Callable[[str], int]:
    def parse(v: str) -> int:
        try:
            n = int(v, 10)
        except ValueError:
            raise _Bad(f"expected {what}") from None
        if n < low or (high is not None and n > high):
            raise _Bad(f"expected {what}")
        return n

    return parse


_positive = _int_in(1, None, "a positive integer")
_non_negative = _int_in(0, None, "a non-negative integer")
_port = _int_in(1, 65535, "a TCP port (1-65535)")


def _seconds(v: str) -> float:
    try:
        n = float(v)
    except ValueError:
        raise _Bad("expected a positive number of seconds") from None
    if not n > 0 or n == float("inf"):
        raise _Bad("expected a positive number of seconds")
    return n


def _fraction(v: str) -> float:
    try:
        n = float(v)
    except ValueError:
        raise _Bad("expected a non-negative number") from None
    if not 0 <= n < float("inf"):
        raise _Bad("expected a non-negative number")
    return n


def _choice(*values: str) -> Callable[[str], str]:
    canon = {x.lower(): x for x in values}

    def parse(v: str) -> str:
        try:
            return canon[v.lower()]
        except KeyError:
            raise _Bad(f"expected one of {', '.join(values)}") from None

    return parse


def _begin_string(v: str) -> str:
    if v not in BEGIN_STRINGS:
        raise _Bad(f"expected one of {', '.join(BEGIN_STRINGS)}")
    return v


def _appl_ver_id(v: str) -> str:
    if v in APPL_VER_IDS or v in APPL_VER_IDS.values():
        return v
    raise _Bad("expected an ApplVerID such as FIX.5.0SP2 or 9")


def _time_of_day(v: str) -> datetime.time:
    m = re.fullmatch(r"(\d{2}):(\d{2}):(\d{2})", v)
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3]) > 59:
        raise _Bad("expected a time HH:MM:SS")
    return datetime.time(int(m[1]), int(m[2]), int(m[3]))


def _day(v: str) -> int:
    w = v.strip().lower()
    if len(w) >= 2:
        for i, name in enumerate(_DAYS):
            if name.startswith(w):
                return i
    raise _Bad("expected a day of the week (Monday ... Sunday, or Mon, Mo, ...)")


def _weekdays(v: str) -> tuple[int, ...]:
    days = tuple(sorted({_day(part) for part in v.split(",") if part.strip()}))
    if not days:
        raise _Bad("expected a comma-separated list of days")
    return days


def _time_zone(v: str) -> str:
    try:
        zoneinfo.ZoneInfo(v)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _Bad("expected an IANA time zone name such as America/New_York or UTC") from None
    return v


def _precision(v: str) -> int:
    if v.upper() in _PRECISION_NAMES:
        return _PRECISION_NAMES[v.upper()]
    if v in ("0", "3", "6", "9"):
        return int(v)
    raise _Bad("expected 0, 3, 6 or 9 (or SECONDS, MILLIS, MICROS, NANOS)")


def _garbled(v: str) -> str:
    canon = {"beginstring": "begin-string", "trailer": "trailer"}
    try:
        return canon[v.lower().replace("-", "")]
    except KeyError:
        raise _Bad("expected BeginString or Trailer") from None


def _tls_version(v: str) -> str:
    canon = {"tlsv1.2": "TLSv1.2", "tlsv1.3": "TLSv1.3", "tls1.2": "TLSv1.2", "tls1.3": "TLSv1.3"}
    try:
        return canon[v.lower()]
    except KeyError:
        raise _Bad("expected the minimum TLS version: TLSv1.2 or TLSv1.3") from None


def _tags(v: str) -> frozenset[int]:
    try:
        tags = frozenset(int(t) for t in v.split(",") if t.strip())
    except ValueError:
        raise _Bad("expected a comma-separated list of tag numbers") from None
    if not tags or min(tags) < 1:
        raise _Bad("expected a comma-separated list of tag numbers")
    return tags


@dataclasses.dataclass(frozen=True, slots=True)
class _Key:
    name: str
    parse: Callable[[str], Any]
    field: str | None = None  # SessionConfig field it sets directly
    secret: bool = False
    help: str = ""


def _keys() -> dict[str, _Key]:
    k: list[_Key] = [
        # identity
        _Key("ConnectionType", _choice("initiator", "acceptor")),
        _Key("BeginString", _begin_string, "begin_string"),
        _Key("DefaultApplVerID", _appl_ver_id, "default_appl_ver_id"),
        _Key("SenderCompID", _text, "sender_comp_id"),
        _Key("SenderSubID", _text, "sender_sub_id"),
        _Key("SenderLocationID", _text, "sender_location_id"),
        _Key("TargetCompID", _text, "target_comp_id"),
        _Key("TargetSubID", _text, "target_sub_id"),
        _Key("TargetLocationID", _text, "target_location_id"),
        _Key("SessionQualifier", _text, "session_qualifier"),
        # transport
        _Key("SocketConnectHost", _text),
        _Key("SocketConnectPort", _port),
        _Key("SocketAcceptHost", _text),
        _Key("SocketAcceptPort", _port),
        _Key("ReconnectInterval", _seconds),
        _Key("SocketNodelay", _bool),
        _Key("MaxMessagesPerSecond", _non_negative, help="inbound throttle; 0 = off"),
        _Key("IdleStrategy", _choice("sleep", "spin", "backoff"), help="engine-wide"),
        _Key("IdleSpinMicros", _non_negative, help="backoff: µs of spinning after I/O"),
        _Key("GcFreeze", _bool, help="engine-wide: freeze the start-up heap out of the collector"),
        _Key("FirstMessageAlone", _bool, help="work on a read's first message alone"),
        # timers
        _Key("HeartBtInt", _positive, "heartbeat_interval"),
        _Key("LogonTimeout", _seconds, "logon_timeout"),
        _Key("LogoutTimeout", _seconds, "logout_timeout"),
        _Key("TestRequestDelayMultiplier", _fraction, "test_request_allowance"),
        # schedule
        _Key("StartTime", _time_of_day, "start_time"),
        _Key("EndTime", _time_of_day, "end_time"),
        _Key("StartDay", _day, "start_day"),
        _Key("EndDay", _day, "end_day"),
        _Key("Weekdays", _weekdays, "weekdays"),
        _Key("TimeZone", _time_zone, "time_zone"),
        _Key("NonStopSession", _bool, "non_stop_session"),
        _Key("UseLocalTime", _bool, "use_local_time"),
        # sequence numbers and recovery
        _Key("ResetOnLogon", _bool, "reset_on_logon"),
        _Key("ResetOnLogout", _bool, "reset_on_logout"),
        _Key("ResetOnDisconnect", _bool, "reset_on_disconnect"),
        _Key("RefreshOnLogon", _bool, "refresh_on_logon"),
        _Key("SendRedundantResendRequests", _bool, "send_redundant_resend_requests"),
        _Key("ResendRequestChunkSize", _non_negative, "resend_request_chunk_size"),
        _Key("EnableNextExpectedMsgSeqNum", _bool, "enable_next_expected_msg_seq_num"),
        _Key("PersistMessages", _bool, "persist_messages"),
        _Key("ResendSessionLevelRejects", _bool, "resend_session_level_rejects"),
        _Key("MaxQueuedMessages", _positive, "max_queued_messages"),
        # checks
        _Key("CheckLatency", _bool, "check_latency"),
        _Key("MaxLatency", _seconds, "max_latency"),
        _Key("CheckCompID", _bool, "check_comp_id"),
        _Key("TimeStampPrecision", _precision, "timestamp_precision"),
        # dictionaries and validation
        _Key("UseDataDictionary", _bool, "use_data_dictionary"),
        _Key("DataDictionary", _text, "data_dictionary"),
        _Key("TransportDataDictionary", _text, "transport_data_dictionary"),
        _Key("AppDataDictionary", _text, "app_data_dictionary"),
        _Key("ValidateUserDefinedFields", _bool, "validate_user_defined_fields"),
        _Key("ValidateFieldsOutOfOrder", _bool, "validate_fields_out_of_order"),
        _Key("ValidateFieldsHaveValues", _bool, "validate_fields_have_values"),
        _Key("ValidateUnorderedGroupFields", _bool, "validate_unordered_group_fields"),
        _Key("AllowUnknownMsgFields", _bool, "allow_unknown_msg_fields"),
        _Key("ValidateLengthAndChecksum", _bool),
        _Key("MaxMessageSize", _positive, "max_message_size"),
        _Key("GarbledMessageRecovery", _garbled, "garbled_recovery"),
        # store and logs
        _Key("StoreType", _choice(*STORE_TYPES)),
        _Key("FileStorePath", _text),
        _Key("FsyncPolicy", _choice(*FSYNC_POLICIES)),
        _Key("FsyncBatchInterval", _positive, help="milliseconds"),
        _Key("FileLogPath", _text),
        _Key("LogType", _choice("file", "logging", "null", "memory")),
        _Key("LogMaskedTags", _tags),
        # logon credentials
        _Key("Username", _text, "username"),
        _Key("Password", _text, "password", secret=True),
        _Key("PasswordFile", _text),
        # TLS
        _Key("SocketUseSSL", _bool),
        _Key("SSLProtocol", _tls_version),
        _Key("SocketCertificateFile", _text),
        _Key("SocketPrivateKeyFile", _text),
        _Key("SocketCAFile", _text),
        _Key("SocketVerifyMode", _choice("none", "optional", "required")),
        _Key("SocketPrivateKeyPassword", _text, secret=True),
        _Key("SocketPrivateKeyPasswordFile", _text),
    ]
    return {key.name.lower(): key for key in k}


#: Every accepted key, by lower-case name.
KEYS: dict[str, _Key] = _keys()

#: Other spellings of the same concept (QuickFIX C++ SSL names) -> our key.
ALIASES: dict[str, str] = {
    "clientcertificatefile": "SocketCertificateFile",
    "servercertificatefile": "SocketCertificateFile",
    "clientcertificatekeyfile": "SocketPrivateKeyFile",
    "servercertificatekeyfile": "SocketPrivateKeyFile",
    "certificationauthoritiesfile": "SocketCAFile",
    "timestampprecision": "TimeStampPrecision",
}

#: Known keys of other engines that have no meaning here, with what to use instead.
UNSUPPORTED: dict[str, str] = {
    "socketkeystore": "Java key stores are not supported; use SocketCertificateFile and "
    "SocketPrivateKeyFile (PEM)",
    "socketkeystorepassword": "Java key stores are not supported; use "
    "SocketPrivateKeyPassword=${env:NAME} or SocketPrivateKeyPasswordFile",
    "sockettruststore": "Java trust stores are not supported; use SocketCAFile (PEM)",
    "sockettruststorepassword": "Java trust stores are not supported; use SocketCAFile (PEM)",
    "millisecondsintimestamp": "use TimeStampPrecision",
}


# -- result types ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS for one session (SocketUseSSL=Y). ``key_password`` is secret."""

    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None
    verify_mode: VerifyMode = "required"
    minimum_version: str = "TLSv1.2"
    key_password: str | None = dataclasses.field(default=None, repr=False)

    def context(self, role: Role) -> ssl.SSLContext:
        """The :class:`ssl.SSLContext` an initiator or acceptor uses."""
        from .transport import tls

        version = ssl.TLSVersion[self.minimum_version.replace(".", "_")]
        if role == "initiator":
            return tls.client_context(
                ca_file=self.ca_file,
                cert_file=self.cert_file,
                key_file=self.key_file,
                password=self.key_password,
                verify=self.verify_mode != "none",
                minimum_version=version,
            )
        if self.cert_file is None:
            raise ConfigError("an acceptor's TLS needs SocketCertificateFile")
        return tls.server_context(
            cert_file=self.cert_file,
            key_file=self.key_file,
            password=self.key_password,
            ca_file=self.ca_file if self.verify_mode != "none" else None,
            require_client_cert=self.verify_mode == "required",
            minimum_version=version,
        )


@dataclasses.dataclass(slots=True)
class SessionSettings:
    """One ``[SESSION]``: the session's config plus transport, store and log settings."""

    config: SessionConfig
    connection_type: Role
    connect_hosts: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    accept_host: str | None = None
    accept_port: int | None = None
    reconnect_interval: float = 30.0
    socket_nodelay: bool = True
    max_messages_per_second: int | None = None  # inbound throttle per connection (0 = off)
    idle_strategy: IdleMode = "sleep"  # what the engine's loop does while idle
    idle_spin_micros: int = 50  # backoff: how long it spins after the last I/O
    gc_freeze: bool = False  # the engine freezes the start-up heap (gc.freeze) when it starts
    first_message_alone: bool | None = None  # None: as the application asks (TransportOptions)
    store_type: StoreType = "file"
    store_path: str | None = None
    fsync: FsyncPolicy = "always"
    fsync_batch_interval_ms: int = DEFAULT_BATCH_INTERVAL_MS
    log_type: LogType = "null"
    log_path: str | None = None
    masked_tags: frozenset[int] = frozenset()
    tls: TlsSettings | None = None
    validate_length_and_checksum: bool = True
    source: str = ""  # "file:line" of the [SESSION] header

    @property
    def session_id(self) -> SessionID:
        return self.config.session_id

    def open_store(self) -> MessageStore:
        """The message store these settings describe."""
        return open_store(
            self.store_type,
            self.session_id,
            self.store_path,
            self.fsync,
            batch_interval_ms=self.fsync_batch_interval_ms,
        )

    def open_log(self) -> MessageLog:
        """The message log these settings describe."""
        from .log import DEFAULT_MASKED_TAGS, open_log

        return open_log(
            self.log_type,
            self.session_id,
            self.log_path,
            masked_tags=DEFAULT_MASKED_TAGS | self.masked_tags,
        )

    def __repr__(self) -> str:
        cfg = self.config
        if cfg.password is not None:
            cfg = dataclasses.replace(cfg, password="***")
        fields = ", ".join(
            f"{f.name}={(cfg if f.name == 'config' else getattr(self, f.name))!r}"
            for f in dataclasses.fields(self)
        )
        return f"SessionSettings({fields})"


# -- reading the file ----------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Section:
    name: str  # "DEFAULT" or "SESSION"
    line: int
    values: dict[str, tuple[str, str, int]] = dataclasses.field(default_factory=dict)
    # canonical key -> (raw value, key as written, line)


class _Errors:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, line: int, text: str) -> None:
        msg = f"{self.source}:{line}: {text}"
        if msg not in self.items:
            self.items.append(msg)


def load_settings(path: str | os.PathLike[str]) -> list[SessionSettings]:
    """Read and check a settings file; one :class:`SessionSettings` per ``[SESSION]``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SettingsError([f"{p}: cannot read settings file: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise SettingsError([f"{p}: not UTF-8 text ({exc.reason})"]) from None
    return parse_settings(text, source=str(p))


def parse_settings(text: str, source: str = "<string>") -> list[SessionSettings]:
    """Parse settings text; ``source`` names it in error messages."""
    errors = _Errors(source)
    default = _Section("DEFAULT", 0)
    sessions: list[_Section] = []
    current: _Section | None = None
    for lineno, raw in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            name = line[1:-1].strip().upper() if line.endswith("]") else ""
            if name == "DEFAULT":
                current = default
                default.line = default.line or lineno
            elif name == "SESSION":
                current = _Section("SESSION", lineno)
                sessions.append(current)
            else:
                errors.add(lineno, f"unknown section {line!r}: expected [DEFAULT] or [SESSION]")
                current = None
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            errors.add(lineno, f"expected Key=Value, got {line[:40]!r}")
            continue
        canon = _canonical(key)
        if canon is None:
            errors.add(lineno, _unknown_key(key))
            continue
        if current is None:
            errors.add(lineno, f"{key}: outside a [DEFAULT] or [SESSION] section")
            continue
        if canon in current.values:
            first = current.values[canon][2]
            errors.add(lineno, f"{key}: set twice in this section (first at line {first})")
            continue
        current.values[canon] = (value, key, lineno)
    if not sessions and not errors.items:
        errors.add(max(default.line, 1), "no [SESSION] section")
    results: list[SessionSettings] = []
    seen: dict[SessionID, int] = {}
    for section in sessions:
        merged = dict(default.values)
        merged.update(section.values)
        built = _build(section.line, merged, errors)
        if built is None:
            continue
        sid = built.session_id
        if sid in seen:
            errors.add(section.line, f"duplicate session {sid} (first at line {seen[sid]})")
            continue
        seen[sid] = section.line
        results.append(built)
    if errors.items:
        raise SettingsError(errors.items)
    return results


def _canonical(key: str) -> str | None:
    low = key.lower()
    if low in KEYS:
        return KEYS[low].name
    if low in ALIASES:
        return ALIASES[low]
    m = _FAILOVER.match(key)
    if m and int(m[2]) >= 1:
        return f"{KEYS[m[1].lower()].name}{int(m[2])}"
    return None


def _unknown_key(key: str) -> str:
    low = key.lower()
    if low in UNSUPPORTED:
        return f"{key}: not supported: {UNSUPPORTED[low]}"
    names = [k.name for k in KEYS.values()]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{key}: unknown key{hint}"


def _expand(value: str, key: str, line: int, errors: _Errors) -> str | None:
    """Replace ``${env:NAME}`` references; None (and an error) if one is unset."""
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        got = os.environ.get(m[1])
        if got is None:
            missing.append(m[1])
            return ""
        return got

    out = _ENV_REF.sub(sub, value)
    if missing:
        errors.add(line, f"{key}: environment variable {missing[0]} is not set")
        return None
    return out


def _read_secret_file(path: str, key: str, line: int, errors: _Errors) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        errors.add(line, f"{key}: cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        errors.add(line, f"{key}: {path} is not UTF-8 text")
    return None


def _build(
    header_line: int, merged: dict[str, tuple[str, str, int]], errors: _Errors
) -> SessionSettings | None:
    """Check and convert one session's merged keys; None when anything is wrong."""
    count = len(errors.items)
    vals: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for canon, (raw, written, line) in merged.items():
        lines[canon] = line
        base = canon.rstrip("0123456789")
        spec = KEYS[(base if base != canon else canon).lower()]
        value = _expand(raw, written, line, errors)
        if value is None:
            continue
        if value == "":
            errors.add(line, f"{written}: empty value")
            continue
        try:
            vals[canon] = spec.parse(value)
        except _Bad as exc:
            shown = "" if spec.secret else f", got {value!r}"
            errors.add(line, f"{written}: {exc}{shown}")

    def need(key: str, why: str = "") -> bool:
        if key in vals or key in merged:
            return True
        errors.add(header_line, f"[SESSION]: missing {key}{why}")
        return False

    before = len(errors.items)
    for key in ("ConnectionType", "BeginString", "SenderCompID", "TargetCompID"):
        need(key)
    if len(errors.items) > before or any(
        k not in vals for k in ("ConnectionType", "BeginString", "SenderCompID", "TargetCompID")
    ):
        return None

    role: Role = vals["ConnectionType"]
    cfg_fields = {
        spec.field: vals[spec.name] for spec in KEYS.values() if spec.field and spec.name in vals
    }
    cfg_fields["role"] = role

    def conflict(a: str, b: str, text: str) -> None:
        errors.add(max(lines[a], lines[b]), text)

    # secrets from files
    for key, file_key in (
        ("Password", "PasswordFile"),
        ("SocketPrivateKeyPassword", "SocketPrivateKeyPasswordFile"),
    ):
        if file_key in vals:
            if key in vals:
                conflict(key, file_key, f"{key} and {file_key} are both set")
                continue
            secret = _read_secret_file(vals[file_key], file_key, lines[file_key], errors)
            if secret is not None:
                vals[key] = secret
    if "Password" in vals:
        cfg_fields["password"] = vals["Password"]

    begin = vals["BeginString"]
    if begin == "FIXT.1.1":
        need("DefaultApplVerID", " (required for FIXT.1.1 sessions)")
    # schedule
    if ("StartTime" in vals) != ("EndTime" in vals):
        have, lack = ("StartTime", "EndTime") if "StartTime" in vals else ("EndTime", "StartTime")
        errors.add(lines[have], f"{have}: {lack} must be set too")
    if ("StartDay" in vals) != ("EndDay" in vals):
        have, lack = ("StartDay", "EndDay") if "StartDay" in vals else ("EndDay", "StartDay")
        errors.add(lines[have], f"{have}: {lack} must be set too")
    if "StartDay" in vals and "StartTime" not in vals and not vals.get("NonStopSession"):
        errors.add(lines["StartDay"], "StartDay: a weekly session needs StartTime and EndTime")
    if "Weekdays" in vals and ("StartDay" in vals or "EndDay" in vals):
        other = "StartDay" if "StartDay" in vals else "EndDay"
        conflict("Weekdays", other, f"Weekdays: cannot be combined with {other}")
    if "TimeZone" in vals and vals.get("UseLocalTime"):
        conflict("TimeZone", "UseLocalTime", "TimeZone: cannot be combined with UseLocalTime=Y")

    # transport
    hosts: list[tuple[str, int]] = []
    accept_port: int | None = None
    if role == "initiator":
        need("SocketConnectHost", " (initiator)")
        need("SocketConnectPort", " (initiator)")
        if "SocketConnectHost" in vals and "SocketConnectPort" in vals:
            hosts.append((vals["SocketConnectHost"], vals["SocketConnectPort"]))
        n = 1
        while f"SocketConnectHost{n}" in merged or f"SocketConnectPort{n}" in merged:
            h, p = f"SocketConnectHost{n}", f"SocketConnectPort{n}"
            if h not in merged or p not in merged:
                have = h if h in merged else p
                lack = p if have == h else h
                errors.add(lines[have], f"{have}: {lack} must be set too")
            elif h in vals and p in vals:
                hosts.append((vals[h], vals[p]))
            n += 1
        for key in merged:
            m = _FAILOVER.match(key)
            if m and int(m[2]) >= n:
                errors.add(
                    lines[key], f"{key}: failover hosts must be numbered 1, 2, ... without gaps"
                )
        need("HeartBtInt", " (initiator)")
    else:
        if need("SocketAcceptPort", " (acceptor)"):
            accept_port = vals.get("SocketAcceptPort")

    # store
    store_type: StoreType = vals.get("StoreType", "file")
    if store_type != "memory":
        need("FileStorePath", f" (StoreType={store_type})")

    # logs
    log_path = vals.get("FileLogPath")
    log_type: LogType = vals.get("LogType", "file" if log_path else "null")
    if log_type == "file" and log_path is None:
        need("FileLogPath", " (LogType=file)")

    # dictionaries: a value that names a file must name an existing one
    for key in ("DataDictionary", "TransportDataDictionary", "AppDataDictionary"):
        value = vals.get(key)
        if value and _looks_like_path(value) and not os.path.isfile(value):
            errors.add(lines[key], f"{key}: file not found: {value}")

    # TLS
    tls: TlsSettings | None = None
    if vals.get("SocketUseSSL"):
        for key in ("SocketCertificateFile", "SocketPrivateKeyFile", "SocketCAFile"):
            if key in vals and not os.path.isfile(vals[key]):
                errors.add(lines[key], f"{key}: file not found: {vals[key]}")
        default_mode = "required" if role == "initiator" else "none"
        mode: VerifyMode = vals.get("SocketVerifyMode", default_mode)
        if role == "acceptor":
            need("SocketCertificateFile", " (acceptor with SocketUseSSL=Y)")
            if mode != "none" and "SocketCAFile" not in vals:
                errors.add(
                    lines.get("SocketVerifyMode", header_line),
                    f"SocketVerifyMode: {mode} client certificates need SocketCAFile",
                )
        if "SocketPrivateKeyFile" in vals and "SocketCertificateFile" not in vals:
            errors.add(
                lines["SocketPrivateKeyFile"],
                "SocketPrivateKeyFile: SocketCertificateFile must be set too",
            )
        tls = TlsSettings(
            cert_file=vals.get("SocketCertificateFile"),
            key_file=vals.get("SocketPrivateKeyFile"),
            ca_file=vals.get("SocketCAFile"),
            verify_mode=mode,
            minimum_version=vals.get("SSLProtocol", "TLSv1.2"),
            key_password=vals.get("SocketPrivateKeyPassword"),
        )

    if len(errors.items) > count:
        return None
    try:
        config = SessionConfig(**cfg_fields)
        SessionSchedule.from_config(config)
    except TypeError as exc:  # a field this version of SessionConfig lacks
        errors.add(header_line, f"[SESSION]: {exc}")
        return None
    except ConfigError as exc:
        errors.add(lines.get("StartTime", header_line), f"schedule: {exc}")
        return None
    return SessionSettings(
        config=config,
        connection_type=role,
        connect_hosts=hosts,
        accept_host=vals.get("SocketAcceptHost"),
        accept_port=accept_port,
        reconnect_interval=vals.get("ReconnectInterval", 30.0),
        socket_nodelay=vals.get("SocketNodelay", True),
        max_messages_per_second=vals.get("MaxMessagesPerSecond"),
        idle_strategy=vals.get("IdleStrategy", "sleep"),
        idle_spin_micros=vals.get("IdleSpinMicros", 50),
        gc_freeze=vals.get("GcFreeze", False),
        first_message_alone=vals.get("FirstMessageAlone"),
        store_type=store_type,
        store_path=vals.get("FileStorePath"),
        fsync=vals.get("FsyncPolicy", "always"),
        fsync_batch_interval_ms=vals.get("FsyncBatchInterval", DEFAULT_BATCH_INTERVAL_MS),
        log_type=log_type,
        log_path=log_path,
        masked_tags=vals.get("LogMaskedTags", frozenset()),
        tls=tls,
        validate_length_and_checksum=vals.get("ValidateLengthAndChecksum", True),
        source=f"{errors.source}:{header_line}",
    )


def _looks_like_path(value: str) -> bool:
    return os.sep in value or value.lower().endswith((".xml", ".json"))


def key_names() -> Iterable[str]:
    """Every key a settings file may use (canonical spelling)."""
    return (k.name for k in KEYS.values())
