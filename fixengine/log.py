"""Message logs: every message in and out, and session events, as JSON lines.

Theory of operation
-------------------
A session reports each message it receives (``on_incoming``) or sends
(``on_outgoing``) as wire bytes, and each notable event as a line of text
(``on_event``): the :class:`~fixengine.session.events.MessageLog` protocol. The
logs here turn them into one JSON object per line::

    {"time": "2024-05-01T12:00:00.123456Z", "session": "FIX.4.4:ME->THEM",
     "dir": "out", "seq": 12, "type": "D", "msg": "8=FIX.4.4|9=...|10=123|"}
    {"time": "2024-05-01T12:00:00.124001Z", "session": "FIX.4.4:ME->THEM",
     "event": "Logon sent"}

``time`` is UTC with microseconds; ``seq`` is MsgSeqNum(34) and ``type`` is
MsgType(35) (null when a garbled frame lacks them); in ``msg`` SOH is shown as
``|``. The values of secret fields - Password(554), NewPassword(925) and any tag
added with ``masked_tags`` (LogMaskedTags) - are replaced by ``***`` before anything
is formatted, and ``tag=value`` pairs of those tags are masked in event text too.

Lines are written by hand, not through :func:`json.dumps`, but byte for byte as
it would write them: the common message (printable ASCII, no secret tag) is
copied into a template in one pass - by the compiled :mod:`fixengine._logline`
when it is built, else by :func:`_render` - and any other takes the general path
(mask, decode, escape with the JSON encoder).

Logs are not the durability mechanism (the message store is): lines are kept in
memory (64 KiB) and written with one ``write`` when the buffer is full, when an
event is logged, when ``flush_interval`` has passed since the last write (checked
on each message), and on :meth:`close`. A process crash can lose the lines not
written yet, never store data. A failing log write (disk full) is counted in
``write_errors`` and reported once through :mod:`logging`; it never stops the
session.

Implementations: :class:`FileLog` (``<FileLogPath>/<session>.messages.log`` and
``<session>.event.log``), :class:`MemoryLog` (tests), :class:`NullLog`,
:class:`LoggingLog` (Python :mod:`logging`), :class:`TeeLog` (several at once).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import weakref
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring_ascii as _json_str
from types import ModuleType
from typing import Any, BinaryIO, Protocol

from .session.config import SessionID
from .session.events import MessageLog
from .session.store import session_dir_name

_compiled: ModuleType | None = None  # fixengine._logline, when built and not turned off
if os.environ.get("FIXENGINE_NO_EXTENSIONS", "").lower() not in ("1", "true", "yes"):
    try:
        from . import _logline as _compiled
    except ImportError:  # pragma: no cover - a pure install
        _compiled = None

__all__ = [
    "DEFAULT_MASKED_TAGS",
    "FileLog",
    "LoggingLog",
    "MemoryLog",
    "MessageLog",
    "NullLog",
    "TeeLog",
    "format_event",
    "format_message",
    "mask_fields",
    "open_log",
]

#: Password(554) and NewPassword(925): never written to a log.
DEFAULT_MASKED_TAGS: frozenset[int] = frozenset({554, 925})

_internal = logging.getLogger(__name__)


class _Masker:
    """Replaces the values of secret tags in raw messages and event text.

    A value runs from ``tag=`` to the next SOH (and, in text, to ``|`` or a line
    end); the tag must not follow a digit, so 1554= is not 554=. Garbled frames are
    masked the same way, and over-masking binary data is accepted.
    """

    __slots__ = ("_raw_re", "_text_re", "needles", "tags")

    def __init__(self, tags: Iterable[int]) -> None:
        self.tags = frozenset(int(t) for t in tags)
        #: ``b"554="``...: a message holding none of them needs no regex
        self.needles = tuple(b"%d=" % t for t in sorted(self.tags))
        alts = "|".join(str(t) for t in sorted(self.tags)) or "(?!)"
        self._raw_re = re.compile(rf"(^|[^0-9])((?:{alts})=)[^\x01]*".encode())
        self._text_re = re.compile(rf"(^|[^0-9])((?:{alts})=)[^\x01|\n]*")

    def raw(self, data: bytes) -> bytes:
        for needle in self.needles:  # fast path: substring search, no regex
            if data.find(needle) >= 0:
                return self.sub(data)
        return data

    def sub(self, data: bytes) -> bytes:
        """``data`` with every secret value masked (the regex, no fast path)."""
        return self._raw_re.sub(rb"\1\2***", data)

    def text(self, text: str) -> str:
        return self._text_re.sub(r"\1\2***", text)


def mask_fields(data: bytes, tags: Iterable[int] = DEFAULT_MASKED_TAGS) -> bytes:
    """``data`` with the value of every field whose tag is in ``tags`` replaced by ``***``."""
    return _Masker(tags).raw(data)


_time_ns = time.time_ns

#: ``(second, b"YYYY-MM-DDTHH:MM:SS")`` of the last timestamp formatted: a line
#: pays for ``strftime`` once per second, the microseconds are formatted per line.
_stamp_cache: tuple[int, bytes] = (-1, b"")


def _stamp(ns: int) -> bytes:
    """The ``YYYY-MM-DDTHH:MM:SS`` part of the UTC time ``ns`` (ns since the epoch)."""
    global _stamp_cache
    sec = ns // 1_000_000_000
    cache = _stamp_cache
    if cache[0] != sec:
        cache = _stamp_cache = (
            sec,
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)).encode(),
        )
    return cache[1]


def _utc_now() -> str:
    """ISO 8601 UTC time with microseconds, e.g. ``2024-05-01T12:00:00.123456Z``."""
    ns = _time_ns()
    return f"{_stamp(ns).decode()}.{ns // 1000 % 1_000_000:06d}Z"


def _json(text: str) -> bytes:
    """``text`` as a JSON string, exactly as :func:`json.dumps` writes it (ASCII only)."""
    return _json_str(text).encode("ascii")


#: Maps SOH to ``|``, every byte JSON would escape (controls, quote, backslash,
#: DEL and non-ASCII) to NUL, and keeps the rest: a message without NUL after
#: ``translate`` is its own JSON text.
_SAFE = bytes(
    0x7C if b == 1 else b if 0x20 <= b < 0x7F and b not in b'"\\' else 0 for b in range(256)
)

#: Longer MsgSeqNum digit runs are logged as null: what ``int()`` (and so
#: ``json.loads``) accepts by default.
_MAX_SEQ_DIGITS = 4300

#: MsgType(35) bytes -> its JSON value (a handful of types in practice; capped).
_TYPE_JSON: dict[bytes, bytes] = {}


def _head(session: str, direction: str) -> bytes:
    """What a message line holds between the microseconds of its time and its seq."""
    return b'Z", "session": %s, "dir": %s, "seq": ' % (_json(session), _json(direction))


def _template(head: bytes) -> bytes:
    """The ``%``-template of a message line: time up to the second, microseconds,
    ``seq``, ``type`` and the inside of the ``msg`` string."""
    return b'{"time": "%s.%06d' + head.replace(b"%", b"%%") + b'%s, "type": %s, "msg": "%s"}'


def _value_after(raw: bytes, needle: bytes) -> bytes | None:
    """The value of the first field ``needle`` (``<SOH>tag=``) opens in ``raw``, or None."""
    i = raw.find(needle)
    if i < 0:
        return None
    i += len(needle)
    j = raw.find(b"\x01", i)
    return raw[i:j] if j >= 0 else raw[i:]


def _render(template: bytes, masker: _Masker, raw: bytes, ns: int) -> bytes:
    """The line (no newline) of one message: masked, then byte for byte what
    ``json.dumps`` writes for the record with ``separators=(", ", ": ")``.

    A message that is printable ASCII without quote or backslash is copied as is
    (SOH becoming ``|``); any other is decoded (UTF-8, invalid bytes as
    backslash-x escapes) and escaped by the JSON encoder.
    """
    if type(raw) is not bytes:
        raw = bytes(raw)
    for needle in masker.needles:  # substring search first: no regex per message
        if raw.find(needle) >= 0:
            raw = masker.sub(raw)
            break
    seq = _value_after(raw, b"\x0134=")
    if seq is not None and seq.isdigit() and len(seq) <= _MAX_SEQ_DIGITS:
        seq = seq.lstrip(b"0") or b"0"  # int(seq) as JSON: the digits without leading zeros
    else:
        seq = b"null"
    raw_type = _value_after(raw, b"\x0135=")
    if raw_type is None:
        typ = b"null"
    else:
        typ = _TYPE_JSON.get(raw_type)  # type: ignore[assignment]
        if typ is None:
            typ = _json(raw_type.decode("utf-8", "backslashreplace"))
            if len(_TYPE_JSON) < 1024:
                _TYPE_JSON[raw_type] = typ
    msg = raw.translate(_SAFE)
    if msg.find(b"\x00") >= 0:
        msg = _json(raw.replace(b"\x01", b"|").decode("utf-8", "backslashreplace"))[1:-1]
    return template % (_stamp(ns), ns // 1000 % 1_000_000, seq, typ, msg)


class _Format(Protocol):
    def incoming(self, raw: bytes, ns: int) -> bytes: ...

    def outgoing(self, raw: bytes, ns: int) -> bytes: ...


class _LineFormat:
    """The message lines of one log (session, masked tags): the general path.

    :class:`fixengine._logline.LineFormat`, when compiled, formats the common
    message (no secret tag, nothing to escape) itself and hands any other to this.
    """

    __slots__ = ("_masker", "_tpl_in", "_tpl_out")

    def __init__(self, head_in: bytes, head_out: bytes, masker: _Masker) -> None:
        self._masker = masker
        self._tpl_in = _template(head_in)
        self._tpl_out = _template(head_out)

    def incoming(self, raw: bytes, ns: int) -> bytes:
        """The line of a message received at ``ns`` (ns since the epoch)."""
        return _render(self._tpl_in, self._masker, raw, ns)

    def outgoing(self, raw: bytes, ns: int) -> bytes:
        """The line of a message sent at ``ns``."""
        return _render(self._tpl_out, self._masker, raw, ns)


def _line_format(session: str, masker: _Masker) -> _Format:
    """The fastest line format available for ``session``: compiled, else pure."""
    head_in, head_out = _head(session, "in"), _head(session, "out")
    general = _LineFormat(head_in, head_out, masker)
    if _compiled is None or not all(0 < t < 1_000_000_000 for t in masker.tags):
        return general
    fast: _Format = _compiled.LineFormat(head_in, head_out, tuple(sorted(masker.tags)), general)
    return fast


def format_message(
    direction: str, session: str, raw: bytes, masked_tags: Iterable[int] = DEFAULT_MASKED_TAGS
) -> str:
    """One JSON log line (without newline) for a message in (``"in"``) or out (``"out"``)."""
    template = _template(_head(session, direction))
    return _render(template, _Masker(masked_tags), raw, _time_ns()).decode("ascii")


def format_event(session: str, text: str, masked_tags: Iterable[int] = DEFAULT_MASKED_TAGS) -> str:
    """One JSON log line (without newline) for a session event."""
    return _format_event(_json_str(session), _Masker(masked_tags).text(str(text)))


def _format_event(session_json: str, text: str) -> str:
    return f'{{"time": "{_utc_now()}", "session": {session_json}, "event": {_json_str(text)}}}'


class _Common:
    """Session id, masking and events, shared by every log that formats lines."""

    def __init__(self, session_id: SessionID | str, masked_tags: Iterable[int]) -> None:
        self._masker = _Masker(masked_tags)
        self.session = str(session_id)

    @property
    def session(self) -> str:
        """The session id written in every line."""
        return self._session

    @session.setter
    def session(self, value: str) -> None:
        self._session = value
        self._session_json = _json_str(value)
        self._format = _line_format(value, self._masker)
        self._format_changed()

    def _format_changed(self) -> None:
        """``_format`` was made anew (a new session id)."""

    @property
    def masked_tags(self) -> frozenset[int]:
        return self._masker.tags

    def on_event(self, text: str) -> None:
        """Log a session event."""
        self._event(_format_event(self._session_json, self._masker.text(str(text))))

    def _event(self, line: str) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Write buffered lines out."""

    def close(self) -> None:
        """Flush and release resources; later calls are ignored."""


class _Base(_Common):
    """Formats each message as it comes; subclasses implement ``_message``/``_event``."""

    def on_incoming(self, raw: bytes) -> None:
        """Log a received message (or garbled frame)."""
        self._message(self._format.incoming(raw, _time_ns()).decode("ascii"), "in")

    def on_outgoing(self, raw: bytes) -> None:
        """Log a sent message."""
        self._message(self._format.outgoing(raw, _time_ns()).decode("ascii"), "out")

    def _message(self, line: str, direction: str) -> None:
        raise NotImplementedError


class NullLog:
    """Logs nothing."""

    def on_incoming(self, raw: bytes) -> None:
        return None

    def on_outgoing(self, raw: bytes) -> None:
        return None

    def on_event(self, text: str) -> None:
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


class MemoryLog(_Base):
    """Keeps the JSON lines in lists (for tests): ``messages`` and ``events``."""

    def __init__(
        self, session_id: SessionID | str = "", masked_tags: Iterable[int] = DEFAULT_MASKED_TAGS
    ) -> None:
        super().__init__(session_id, masked_tags)
        self.messages: list[str] = []
        self.events: list[str] = []

    def _message(self, line: str, direction: str) -> None:
        self.messages.append(line)

    def _event(self, line: str) -> None:
        self.events.append(line)

    def message_records(self) -> list[dict[str, Any]]:
        """The message lines, parsed."""
        return [json.loads(line) for line in self.messages]

    def event_records(self) -> list[dict[str, Any]]:
        """The event lines, parsed."""
        return [json.loads(line) for line in self.events]


class _Pending:
    """The message lines of a file log not written yet (pure twin of
    :class:`fixengine._logline.Pending`).

    ``incoming(raw)`` / ``outgoing(raw)`` read the clock, format the line with
    ``line_format`` and keep it; once ``limit`` bytes are pending, or a line comes
    ``interval_ns`` or more after the last :meth:`take` (or the clock went back),
    they call ``write()``, which is to :meth:`take` the lines. After :meth:`close`
    lines are dropped.
    """

    __slots__ = (
        "_closed",
        "_flushed_ns",
        "_lines",
        "_size",
        "_write",
        "interval_ns",
        "limit",
        "line_format",
    )

    def __init__(
        self, line_format: _Format, limit: int, interval_ns: int, write: Callable[[], None]
    ) -> None:
        self.line_format = line_format
        self._lines: list[bytes] = []
        self._size = 0
        self._flushed_ns = _time_ns()
        self.limit = limit
        self.interval_ns = interval_ns
        self._write = write
        self._closed = False

    def incoming(self, raw: bytes) -> None:
        """Keep the line of a message received now."""
        if not self._closed:
            ns = _time_ns()
            self._keep(self.line_format.incoming(raw, ns), ns)

    def outgoing(self, raw: bytes) -> None:
        """Keep the line of a message sent now."""
        if not self._closed:
            ns = _time_ns()
            self._keep(self.line_format.outgoing(raw, ns), ns)

    def _keep(self, line: bytes, ns: int) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        if self._size >= self.limit or not 0 <= ns - self._flushed_ns < self.interval_ns:
            self._write()

    def take(self) -> list[bytes]:
        """The pending lines (without newlines), in order; none are pending after."""
        lines = self._lines
        self._lines = []
        self._size = 0
        self._flushed_ns = _time_ns()
        return lines

    def close(self) -> None:
        """Drop the lines of later messages."""
        self._closed = True


class FileLog(_Common):
    """Appends to ``<directory>/<session>.messages.log`` and ``<session>.event.log``.

    Lines are kept in memory and written with one ``write`` per batch: when
    ``buffer_size`` bytes are pending, when a message is logged ``flush_interval``
    seconds or more after the last write, when an event is logged, on
    :meth:`flush` and on :meth:`close` (or when the log is collected unclosed, as a
    buffered file would be). A process crash loses the lines not written yet - at
    most ``buffer_size`` bytes, or the last ``flush_interval`` seconds of traffic -
    and nothing else: the message store, not this log, is what recovery reads.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        session_id: SessionID,
        *,
        masked_tags: Iterable[int] = DEFAULT_MASKED_TAGS,
        flush_interval: float = 1.0,
        buffer_size: int = 64 * 1024,
    ) -> None:
        super().__init__(session_id, masked_tags)
        os.makedirs(directory, exist_ok=True)
        stem = os.path.join(os.fspath(directory), session_dir_name(session_id))
        self.messages_path = stem + ".messages.log"
        self.events_path = stem + ".event.log"
        self.write_errors = 0
        pending = _Pending if _compiled is None else _compiled.Pending
        ref = weakref.ref(self)  # no cycle: an unclosed log is written out when dropped

        def write() -> None:
            log = ref()
            if log is not None:
                log._write_pending()

        self._pending: _Pending = pending(
            self._format, buffer_size, int(flush_interval * 1e9), write
        )
        # a logged message need not run a Python frame of this class: unless a
        # subclass overrides them, the pending lines' methods stand in for ours
        if type(self).on_incoming is FileLog.on_incoming:
            vars(self)["on_incoming"] = self._pending.incoming
        if type(self).on_outgoing is FileLog.on_outgoing:
            vars(self)["on_outgoing"] = self._pending.outgoing
        self._event_lines: list[bytes] = []
        # unbuffered, O_APPEND: each batch is one write() at the end of the file
        self._messages: BinaryIO | None = open(self.messages_path, "ab", buffering=0)  # noqa: SIM115
        self._events: BinaryIO | None = open(self.events_path, "ab", buffering=0)  # noqa: SIM115

    @property
    def flush_interval(self) -> float:
        """Seconds after which a logged message writes out everything pending."""
        return self._pending.interval_ns / 1e9

    @flush_interval.setter
    def flush_interval(self, seconds: float) -> None:
        self._pending.interval_ns = int(seconds * 1e9)

    @property
    def buffer_size(self) -> int:
        """Bytes of pending lines that make a write."""
        return self._pending.limit

    @buffer_size.setter
    def buffer_size(self, size: int) -> None:
        self._pending.limit = size

    def on_incoming(self, raw: bytes) -> None:
        """Log a received message (or garbled frame)."""
        self._pending.incoming(raw)

    def on_outgoing(self, raw: bytes) -> None:
        """Log a sent message."""
        self._pending.outgoing(raw)

    def _format_changed(self) -> None:
        pending = getattr(self, "_pending", None)
        if pending is not None:  # later lines name the new session
            pending.line_format = self._format

    def _event(self, line: str) -> None:
        if self._events is None:
            return
        self._event_lines.append(line.encode("ascii"))
        self._write_pending()

    def _write_pending(self) -> None:
        """Write every pending line out (messages, then events); never raises."""
        lines = self._pending.take()
        if lines:
            lines.append(b"")  # join() then ends with a newline too
            self._write(self._messages, b"\n".join(lines))
        lines = self._event_lines
        if lines:
            self._event_lines = []
            lines.append(b"")
            self._write(self._events, b"\n".join(lines))

    def _write(self, f: BinaryIO | None, data: bytes) -> None:
        if f is None:
            return
        try:
            view = memoryview(data)
            while view:
                n = f.write(view)
                view = view[n:] if n else view[:0]
        except (OSError, ValueError) as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.write_errors += 1
        if self.write_errors == 1:
            _internal.warning("message log %s: write failed: %s", self.messages_path, exc)

    def flush(self) -> None:
        self._write_pending()

    def close(self) -> None:
        self.flush()
        self._pending.close()
        for f in (self._messages, self._events):
            if f is not None:
                try:
                    f.close()
                except OSError as exc:
                    self._failed(exc)
        self._messages = self._events = None

    def __enter__(self) -> FileLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # like a buffered file: lines still pending are written when collected unclosed
        try:
            if self._messages is not None or self._events is not None:
                self.close()
        except Exception:  # interpreter shutdown, or __init__ failed half-way
            pass


class LoggingLog(_Base):
    """Sends the JSON lines to :mod:`logging` at INFO (``fixengine.messages`` / ``.events``).

    Each record also carries ``fix_session`` and, for messages, ``fix_direction``
    as ``extra`` attributes for filters and formatters.
    """

    def __init__(
        self,
        session_id: SessionID | str,
        *,
        masked_tags: Iterable[int] = DEFAULT_MASKED_TAGS,
        messages_logger: logging.Logger | None = None,
        events_logger: logging.Logger | None = None,
        level: int = logging.INFO,
    ) -> None:
        super().__init__(session_id, masked_tags)
        self.messages_logger = messages_logger or logging.getLogger("fixengine.messages")
        self.events_logger = events_logger or logging.getLogger("fixengine.events")
        self.level = level

    def on_incoming(self, raw: bytes) -> None:
        if self.messages_logger.isEnabledFor(self.level):
            super().on_incoming(raw)

    def on_outgoing(self, raw: bytes) -> None:
        if self.messages_logger.isEnabledFor(self.level):
            super().on_outgoing(raw)

    def _message(self, line: str, direction: str) -> None:
        self.messages_logger.log(
            self.level, line, extra={"fix_session": self.session, "fix_direction": direction}
        )

    def _event(self, line: str) -> None:
        self.events_logger.log(self.level, line, extra={"fix_session": self.session})


class TeeLog:
    """Forwards every call to several logs (e.g. a file and :mod:`logging`)."""

    def __init__(self, *logs: MessageLog) -> None:
        self.logs = logs

    def on_incoming(self, raw: bytes) -> None:
        for log in self.logs:
            log.on_incoming(raw)

    def on_outgoing(self, raw: bytes) -> None:
        for log in self.logs:
            log.on_outgoing(raw)

    def on_event(self, text: str) -> None:
        for log in self.logs:
            log.on_event(text)

    def flush(self) -> None:
        for log in self.logs:
            flush = getattr(log, "flush", None)
            if flush is not None:
                flush()

    def close(self) -> None:
        for log in self.logs:
            close = getattr(log, "close", None)
            if close is not None:
                close()


def open_log(
    kind: str,
    session_id: SessionID,
    path: str | None = None,
    *,
    masked_tags: Iterable[int] = DEFAULT_MASKED_TAGS,
) -> MessageLog:
    """The log a session's settings describe: ``"file"`` (needs ``path``, the
    FileLogPath directory), ``"logging"``, ``"memory"`` or ``"null"``."""
    from .errors import ConfigError

    if kind == "file":
        if not path:
            raise ConfigError("a file log needs a path (FileLogPath)")
        return FileLog(path, session_id, masked_tags=masked_tags)
    if kind == "logging":
        return LoggingLog(session_id, masked_tags=masked_tags)
    if kind == "memory":
        return MemoryLog(session_id, masked_tags)
    if kind == "null":
        return NullLog()
    raise ConfigError(f"log type must be file, logging, memory or null, got {kind!r}")
