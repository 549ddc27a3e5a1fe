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

Logs are not the durability mechanism (the message store is): writes go through
a 64 KiB buffer, flushed when an event is logged, when ``flush_interval`` has
passed since the last flush (checked on each write), and on :meth:`close`. A
process crash can lose the last unflushed lines. A failing log write (disk full)
is counted in ``write_errors`` and reported once through :mod:`logging`; it never
stops the session.

Implementations: :class:`FileLog` (``<FileLogPath>/<session>.messages.log`` and
``<session>.event.log``), :class:`MemoryLog` (tests), :class:`NullLog`,
:class:`LoggingLog` (Python :mod:`logging`), :class:`TeeLog` (several at once).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from .session.config import SessionID
from .session.events import MessageLog
from .session.store import session_dir_name

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

    __slots__ = ("_needles", "_raw_re", "_text_re", "tags")

    def __init__(self, tags: Iterable[int]) -> None:
        self.tags = frozenset(int(t) for t in tags)
        self._needles = tuple(b"%d=" % t for t in sorted(self.tags))
        alts = "|".join(str(t) for t in sorted(self.tags)) or "(?!)"
        self._raw_re = re.compile(rf"(^|[^0-9])((?:{alts})=)[^\x01]*".encode())
        self._text_re = re.compile(rf"(^|[^0-9])((?:{alts})=)[^\x01|\n]*")

    def raw(self, data: bytes) -> bytes:
        for needle in self._needles:  # fast path: substring search, no regex
            if needle in data:
                return self._raw_re.sub(rb"\1\2***", data)
        return data

    def text(self, text: str) -> str:
        return self._text_re.sub(r"\1\2***", text)


def mask_fields(data: bytes, tags: Iterable[int] = DEFAULT_MASKED_TAGS) -> bytes:
    """``data`` with the value of every field whose tag is in ``tags`` replaced by ``***``."""
    return _Masker(tags).raw(data)


_sec_cache: tuple[int, str] = (-1, "")


def _utc_now() -> str:
    """ISO 8601 UTC time with microseconds, e.g. ``2024-05-01T12:00:00.123456Z``."""
    global _sec_cache
    ns = time.time_ns()
    sec, frac = divmod(ns, 1_000_000_000)
    if _sec_cache[0] != sec:
        _sec_cache = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return f"{_sec_cache[1]}.{frac // 1000:06d}Z"


def _field(data: bytes, needle: bytes) -> bytes | None:
    i = data.find(needle)
    if i < 0:
        return None
    start = i + len(needle)
    end = data.find(b"\x01", start)
    return data[start : end if end >= 0 else len(data)]


def format_message(
    direction: str, session: str, raw: bytes, masked_tags: Iterable[int] = DEFAULT_MASKED_TAGS
) -> str:
    """One JSON log line (without newline) for a message in (``"in"``) or out (``"out"``)."""
    return _format_message(direction, session, _Masker(masked_tags).raw(raw))


def _format_message(direction: str, session: str, masked: bytes) -> str:
    seq_raw = _field(masked, b"\x0134=")
    seq = int(seq_raw) if seq_raw is not None and seq_raw.isdigit() else None
    typ = _field(masked, b"\x0135=")
    record = {
        "time": _utc_now(),
        "session": session,
        "dir": direction,
        "seq": seq,
        "type": typ.decode("utf-8", "backslashreplace") if typ is not None else None,
        "msg": masked.replace(b"\x01", b"|").decode("utf-8", "backslashreplace"),
    }
    return json.dumps(record, separators=(", ", ": "))


def format_event(session: str, text: str, masked_tags: Iterable[int] = DEFAULT_MASKED_TAGS) -> str:
    """One JSON log line (without newline) for a session event."""
    return _format_event(session, _Masker(masked_tags).text(text))


def _format_event(session: str, text: str) -> str:
    return json.dumps(
        {"time": _utc_now(), "session": session, "event": text}, separators=(", ", ": ")
    )


class _Base:
    """Shared masking and formatting; subclasses implement ``_message``/``_event``."""

    def __init__(self, session_id: SessionID | str, masked_tags: Iterable[int]) -> None:
        self.session = str(session_id)
        self._masker = _Masker(masked_tags)

    @property
    def masked_tags(self) -> frozenset[int]:
        return self._masker.tags

    def on_incoming(self, raw: bytes) -> None:
        """Log a received message (or garbled frame)."""
        self._message(_format_message("in", self.session, self._masker.raw(bytes(raw))), "in")

    def on_outgoing(self, raw: bytes) -> None:
        """Log a sent message."""
        self._message(_format_message("out", self.session, self._masker.raw(bytes(raw))), "out")

    def on_event(self, text: str) -> None:
        """Log a session event."""
        self._event(_format_event(self.session, self._masker.text(str(text))))

    def _message(self, line: str, direction: str) -> None:
        raise NotImplementedError

    def _event(self, line: str) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Write buffered lines out."""

    def close(self) -> None:
        """Flush and release resources; later calls are ignored."""


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


class FileLog(_Base):
    """Appends to ``<directory>/<session>.messages.log`` and ``<session>.event.log``."""

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
        self.flush_interval = flush_interval
        self.write_errors = 0
        self._messages: io.TextIOWrapper | None = open(  # noqa: SIM115 - closed in close()
            self.messages_path, "a", encoding="utf-8", newline="\n", buffering=buffer_size
        )
        self._events: io.TextIOWrapper | None = open(  # noqa: SIM115
            self.events_path, "a", encoding="utf-8", newline="\n", buffering=buffer_size
        )
        self._last_flush = time.monotonic()

    def _write(self, f: io.TextIOWrapper | None, line: str, force: bool) -> None:
        if f is None:
            return
        try:
            f.write(line + "\n")
            now = time.monotonic()
            if force or now - self._last_flush >= self.flush_interval:
                self._flush()
                self._last_flush = now
        except (OSError, ValueError) as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.write_errors += 1
        if self.write_errors == 1:
            _internal.warning("message log %s: write failed: %s", self.messages_path, exc)

    def _message(self, line: str, direction: str) -> None:
        self._write(self._messages, line, False)

    def _event(self, line: str) -> None:
        self._write(self._events, line, True)

    def _flush(self) -> None:
        if self._messages is not None:
            self._messages.flush()
        if self._events is not None:
            self._events.flush()

    def flush(self) -> None:
        try:
            self._flush()
        except (OSError, ValueError) as exc:
            self._failed(exc)

    def close(self) -> None:
        self.flush()
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
