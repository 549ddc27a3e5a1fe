"""Message logs: JSON lines, directions, masking of secrets, buffering, implementations."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from fixengine.codec import Message, encode
from fixengine.errors import ConfigError
from fixengine.log import (
    FileLog,
    LoggingLog,
    MemoryLog,
    MessageLog,
    NullLog,
    TeeLog,
    format_event,
    format_message,
    mask_fields,
    open_log,
)
from fixengine.session.config import SessionID

SID = SessionID("FIX.4.4", "ME", "THEM")
SECRET = "Hunter2-Secret"
NEW_SECRET = "Brand-New-Secret"


def logon(password: str = SECRET, new_password: str | None = NEW_SECRET) -> bytes:
    m = Message("A")
    m.set(49, "ME")
    m.set(56, "THEM")
    m.set(34, 1)
    m.set(52, "20240501-12:00:00.000")
    m.set(98, 0)
    m.set(108, 30)
    m.set(553, "alice")
    m.set(554, password)
    if new_password is not None:
        m.set(925, new_password)
    return encode(m, "FIX.4.4")


def order(seq: int = 7) -> bytes:
    m = Message("D")
    m.set(49, "ME")
    m.set(56, "THEM")
    m.set(34, seq)
    m.set(52, "20240501-12:00:00.000")
    m.set(11, "ord|1")
    m.set(55, "IBM")
    return encode(m, "FIX.4.4")


def test_message_line_has_the_documented_fields() -> None:
    raw = order(7)
    rec = json.loads(format_message("out", str(SID), raw))
    assert set(rec) == {"time", "session", "dir", "seq", "type", "msg"}
    assert (rec["session"], rec["dir"], rec["seq"], rec["type"]) == (
        "FIX.4.4:ME->THEM",
        "out",
        7,
        "D",
    )
    assert rec["msg"] == raw.decode().replace("\x01", "|")
    assert rec["time"].endswith("Z")
    when = time.strptime(rec["time"][:19], "%Y-%m-%dT%H:%M:%S")
    assert abs(time.mktime(when) - time.mktime(time.gmtime())) < 5


def test_timestamps_are_utc_with_microseconds() -> None:
    stamp = json.loads(format_event("s", "x"))["time"]
    assert len(stamp) == len("2024-05-01T12:00:00.123456Z")
    assert stamp[10] == "T" and stamp[19] == "."


def test_password_fields_are_masked() -> None:
    masked = mask_fields(logon())
    assert b"\x01554=***\x01" in masked
    assert b"\x01925=***\x01" in masked
    assert SECRET.encode() not in masked and NEW_SECRET.encode() not in masked
    assert b"\x01553=alice\x01" in masked  # the user name is not secret


def test_masking_leaves_other_messages_untouched() -> None:
    raw = order()
    assert mask_fields(raw) is raw


def test_masking_only_matches_whole_tags() -> None:
    raw = b"8=FIX.4.4\x019=5\x0135=A\x011554=keep\x015540=keep\x01554=drop\x0110=000\x01"
    assert mask_fields(raw) == (
        b"8=FIX.4.4\x019=5\x0135=A\x011554=keep\x015540=keep\x01554=***\x0110=000\x01"
    )


def test_extra_masked_tags() -> None:
    raw = b"8=FIX.4.4\x0135=A\x0196=token\x01554=pw\x01"
    assert mask_fields(raw, {96, 554}) == b"8=FIX.4.4\x0135=A\x0196=***\x01554=***\x01"


def test_garbled_input_is_logged_without_crashing() -> None:
    log = MemoryLog(SID)
    log.on_incoming(b"\xff\xfegarbage 554=oops")
    log.on_incoming(b"")
    log.on_incoming(b"8=FIX.4.4\x019=12\x0134=abc\x01")
    recs = log.message_records()
    assert [r["seq"] for r in recs] == [None, None, None]
    assert "oops" not in log.messages[0]
    assert recs[0]["msg"].startswith("\\xff\\xfe")


def test_memory_log_records_both_directions_and_events() -> None:
    log = MemoryLog(SID)
    log.on_outgoing(logon())
    log.on_incoming(order(3))
    log.on_event("Logon sent")
    recs = log.message_records()
    assert [(r["dir"], r["seq"], r["type"]) for r in recs] == [("out", 1, "A"), ("in", 3, "D")]
    assert [e["event"] for e in log.event_records()] == ["Logon sent"]
    assert isinstance(log, MessageLog)


def test_event_text_is_masked_too() -> None:
    log = MemoryLog(SID)
    log.on_event(f"rejected Logon 35=A|553=alice|554={SECRET}|10=1")
    log.on_event(f"raw: 8=FIX.4.4\x01554={SECRET}\x01925={NEW_SECRET}\x01")
    assert SECRET not in "".join(log.events) and NEW_SECRET not in "".join(log.events)
    assert "553=alice" in log.events[0]


def test_file_log_writes_one_file_per_session_plus_event_log(tmp_path: Path) -> None:
    with FileLog(tmp_path, SID) as log:
        log.on_outgoing(order(1))
        log.on_incoming(order(2))
        log.on_event("connected")
    other = FileLog(tmp_path, SessionID("FIX.4.2", "ME", "ELSE"))
    other.on_event("x")
    other.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "FIX.4.2-ME-ELSE.event.log",
        "FIX.4.2-ME-ELSE.messages.log",
        "FIX.4.4-ME-THEM.event.log",
        "FIX.4.4-ME-THEM.messages.log",
    ]
    lines = (tmp_path / "FIX.4.4-ME-THEM.messages.log").read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 2]
    events = (tmp_path / "FIX.4.4-ME-THEM.event.log").read_text().splitlines()
    assert json.loads(events[0])["event"] == "connected"


def test_file_log_appends_across_reopen(tmp_path: Path) -> None:
    for seq in (1, 2):
        with FileLog(tmp_path, SID) as log:
            log.on_outgoing(order(seq))
    lines = (tmp_path / "FIX.4.4-ME-THEM.messages.log").read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 2]


def test_file_log_buffers_until_interval_or_event(tmp_path: Path) -> None:
    log = FileLog(tmp_path, SID, flush_interval=3600)
    path = tmp_path / "FIX.4.4-ME-THEM.messages.log"
    log.on_outgoing(order(1))
    assert path.read_text() == ""  # buffered: no write per message
    log.on_event("flush point")
    assert path.read_text().count("\n") == 1
    log.on_outgoing(order(2))
    log.flush()
    assert path.read_text().count("\n") == 2
    log.close()


def test_file_log_flushes_periodically(tmp_path: Path) -> None:
    log = FileLog(tmp_path, SID, flush_interval=0.0)
    log.on_outgoing(order(1))
    assert (tmp_path / "FIX.4.4-ME-THEM.messages.log").read_text().count("\n") == 1
    log.close()


def test_file_log_after_close_is_ignored(tmp_path: Path) -> None:
    log = FileLog(tmp_path, SID)
    log.close()
    log.on_outgoing(order(1))
    log.on_event("late")
    log.close()
    assert (tmp_path / "FIX.4.4-ME-THEM.messages.log").read_text() == ""


def test_file_log_write_failure_does_not_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = FileLog(tmp_path, SID, flush_interval=0.0)

    class Broken:
        def write(self, _: str) -> int:
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            return None

    log._messages = Broken()  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="fixengine.log"):
        log.on_outgoing(order(1))
        log.on_outgoing(order(2))
    assert log.write_errors >= 2
    assert sum("write failed" in r.message for r in caplog.records) == 1
    log.close()


def test_secrets_never_reach_any_log_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    file_log = FileLog(tmp_path / "f", SID, masked_tags={554, 925, 96})
    logging_log = LoggingLog(SID, masked_tags={554, 925, 96})
    tee = TeeLog(file_log, logging_log)
    raw = logon()
    raw_data = b"8=FIX.4.4\x019=30\x0135=A\x0195=14\x0196=" + SECRET.encode() + b"\x0110=000\x01"
    with caplog.at_level(logging.INFO, logger="fixengine"):
        tee.on_outgoing(raw)
        tee.on_incoming(raw)
        tee.on_incoming(raw_data)
        tee.on_event(f"Logon received: {raw.decode()}")
        tee.on_event(f"Logon text 554={SECRET}")
    tee.close()
    written = "".join(p.read_text() for p in (tmp_path / "f").iterdir())
    captured = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert written.count("\n") == 5 and len(caplog.records) == 5
    for text in (written, captured):
        assert SECRET not in text and NEW_SECRET not in text
        assert "554=***" in text


def test_logging_adapter_uses_named_loggers(caplog: pytest.LogCaptureFixture) -> None:
    log = LoggingLog(SID)
    with caplog.at_level(logging.INFO, logger="fixengine"):
        log.on_incoming(order(4))
        log.on_event("hello")
    msg, ev = caplog.records
    assert (msg.name, ev.name) == ("fixengine.messages", "fixengine.events")
    assert json.loads(msg.getMessage())["seq"] == 4
    assert msg.fix_session == "FIX.4.4:ME->THEM"  # type: ignore[attr-defined]
    assert msg.fix_direction == "in"  # type: ignore[attr-defined]


def test_logging_adapter_skips_formatting_when_disabled(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("fixengine.test.disabled")
    logger.setLevel(logging.WARNING)
    log = LoggingLog(SID, messages_logger=logger)
    with caplog.at_level(logging.WARNING, logger="fixengine.test.disabled"):
        log.on_outgoing(order())
    assert caplog.records == []


def test_null_log_accepts_everything() -> None:
    log = NullLog()
    log.on_incoming(b"x")
    log.on_outgoing(b"y")
    log.on_event("z")
    log.close()
    assert isinstance(log, MessageLog)


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("memory", MemoryLog), ("null", NullLog), ("logging", LoggingLog), ("file", FileLog)],
)
def test_open_log_builds_each_kind(tmp_path: Path, kind: str, cls: type) -> None:
    log = open_log(kind, SID, str(tmp_path))
    assert isinstance(log, cls)
    log.close()  # type: ignore[attr-defined]


def test_open_log_errors() -> None:
    with pytest.raises(ConfigError, match="needs a path"):
        open_log("file", SID, None)
    with pytest.raises(ConfigError, match="log type"):
        open_log("syslog", SID)
