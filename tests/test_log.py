"""Message logs: JSON lines, directions, masking of secrets, buffering, implementations."""

from __future__ import annotations

import gc
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from fixengine import log as log_module
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


@pytest.fixture(params=["py", "c"])
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a file-log test on the pure pending lines and on the compiled ones."""
    if request.param == "py":
        monkeypatch.setattr(log_module, "_compiled", None)
    elif log_module._compiled is None:
        pytest.skip("fixengine._logline is not built (python setup.py build_ext --inplace)")
    return str(request.param)


def test_file_log_writes_one_file_per_session_plus_event_log(tmp_path: Path, impl: str) -> None:
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


def test_file_log_appends_across_reopen(tmp_path: Path, impl: str) -> None:
    for seq in (1, 2):
        with FileLog(tmp_path, SID) as log:
            log.on_outgoing(order(seq))
    lines = (tmp_path / "FIX.4.4-ME-THEM.messages.log").read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1, 2]


def test_file_log_buffers_until_interval_or_event(tmp_path: Path, impl: str) -> None:
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


def test_file_log_flushes_periodically(tmp_path: Path, impl: str) -> None:
    log = FileLog(tmp_path, SID, flush_interval=0.0)
    log.on_outgoing(order(1))
    assert (tmp_path / "FIX.4.4-ME-THEM.messages.log").read_text().count("\n") == 1
    log.close()


def test_file_log_after_close_is_ignored(tmp_path: Path, impl: str) -> None:
    log = FileLog(tmp_path, SID)
    log.close()
    log.on_outgoing(order(1))
    log.on_event("late")
    log.close()
    assert (tmp_path / "FIX.4.4-ME-THEM.messages.log").read_text() == ""


def test_file_log_write_failure_does_not_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, impl: str
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


# -- the hand-written JSON, the compiled line format, batched writes ---------------------

#: Messages each path of the line formatters must get right: plain, masked, escaped,
#: garbled, odd MsgSeqNum values, tag look-alikes.
TRICKY = [
    b"",
    b"8=FIX.4.4\x019=5\x0135=0\x0134=1\x0110=000\x01",
    b"8=FIX.4.4\x019=5\x0135=D\x0134=007\x0111=a|b\x0110=000\x01",
    b"8=FIX.4.4\x019=5\x0135=D\x0134=000\x0110=000",
    b"8=FIX.4.4\x019=5\x0134=12x\x0135=\x01",
    b"8=FIX.4.4\x0134=" + b"9" * 4300 + b"\x0135=D\x01",
    b"8=FIX.4.4\x0134=" + b"9" * 4301 + b"\x0135=D\x01",  # past int(): null, no error
    b"8=FIX.4.4\x0135=A\x0134=1\x01554=pw\x01925=new\x0110=000\x01",
    b"8=FIX.4.4\x0135=A\x011554=keep\x010554=keep\x01x925=drop\x01",
    b'8=FIX.4.4\x0135=D\x0158="quoted" back\\slash\x01',
    b"8=FIX.4.4\x0135=D\x0158=caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\x01",
    b"8=FIX.4.4\x0135=\xff\xfe\x0134=2\x0158=\x00\x7f\n\t\r\x1f\x01",
    b"8=FIX.4.4\x01034=5\x0135=8\x0134=6\x0135=9\x01",
    b"\x0134=\x0135=",
    b"35=D\x0134=3",
    b"8=FIX.4.4\x0135=D\x0158=100% %s %d\x01",
]


def record(line: str) -> dict[str, Any]:
    rec: dict[str, Any] = json.loads(line)
    assert json.dumps(rec, separators=(", ", ": ")) == line  # exactly json.dumps' bytes
    return rec


def expected(raw: bytes, masked_tags: frozenset[int] = log_module.DEFAULT_MASKED_TAGS) -> dict:
    masked = mask_fields(raw, masked_tags)
    seq = None
    i = masked.find(b"\x0134=")
    if i >= 0:
        value = masked[i + 4 :].split(b"\x01")[0]
        seq = int(value, 10) if value.isdigit() and len(value) <= 4300 else None
    i = masked.find(b"\x0135=")
    typ = None if i < 0 else masked[i + 4 :].split(b"\x01")[0].decode("utf-8", "backslashreplace")
    return {
        "seq": seq,
        "type": typ,
        "msg": masked.replace(b"\x01", b"|").decode("utf-8", "backslashreplace"),
    }


@pytest.mark.parametrize("raw", TRICKY)
def test_message_lines_are_what_json_dumps_writes(raw: bytes) -> None:
    rec = record(format_message("in", 'A "quoted" session %s', raw))
    assert {k: rec[k] for k in ("seq", "type", "msg")} == expected(raw)
    assert (rec["session"], rec["dir"]) == ('A "quoted" session %s', "in")


@pytest.fixture(params=["py", "c"])
def line_format(request: pytest.FixtureRequest) -> Any:
    """The pure and the compiled line format of one session (``c`` skips when not built)."""
    masker = log_module._Masker(log_module.DEFAULT_MASKED_TAGS)
    if request.param == "py":
        return log_module._LineFormat(
            log_module._head(str(SID), "in"), log_module._head(str(SID), "out"), masker
        )
    if log_module._compiled is None:
        pytest.skip("fixengine._logline is not built (python setup.py build_ext --inplace)")
    fmt = log_module._line_format(str(SID), masker)
    assert type(fmt).__module__ == "fixengine._logline"
    return fmt


@pytest.mark.parametrize("raw", TRICKY)
def test_compiled_and_pure_line_formats_write_the_same_bytes(line_format: Any, raw: bytes) -> None:
    ns = 1_714_564_800_123_456_789  # 2024-05-01T12:00:00.123456Z
    line = line_format.outgoing(raw, ns).decode("ascii")
    rec = record(line)
    assert rec["time"] == "2024-05-01T12:00:00.123456Z" and rec["dir"] == "out"
    assert {k: rec[k] for k in ("seq", "type", "msg")} == expected(raw)
    assert line_format.incoming(bytearray(raw), ns) == line.replace('"out"', '"in"', 1).encode()


def test_line_formats_agree_on_times_far_from_now(line_format: Any) -> None:
    raw = order(5)
    for ns, stamp in [
        (0, "1970-01-01T00:00:00.000000Z"),
        (951_825_600_999_999_999, "2000-02-29T12:00:00.999999Z"),
        (253_402_300_799_000_001_000, "9999-12-31T23:59:59.000001Z"),
    ]:
        assert record(line_format.incoming(raw, ns).decode())["time"] == stamp


def test_file_log_lines_match_format_message(tmp_path: Path, impl: str) -> None:
    with FileLog(tmp_path, SID, masked_tags={554, 925, 96}) as log:
        for raw in TRICKY:
            log.on_outgoing(raw)
    lines = (tmp_path / "FIX.4.4-ME-THEM.messages.log").read_text("ascii").splitlines()
    assert len(lines) == len(TRICKY)
    for raw, line in zip(TRICKY, lines, strict=True):
        rec = record(line)
        assert {k: rec[k] for k in ("seq", "type", "msg")} == expected(
            raw, frozenset({554, 925, 96})
        )


def test_file_log_writes_when_the_buffer_fills(tmp_path: Path, impl: str) -> None:
    log = FileLog(tmp_path, SID, flush_interval=3600, buffer_size=1000)
    path = tmp_path / "FIX.4.4-ME-THEM.messages.log"
    written = []
    for seq in range(1, 20):
        log.on_outgoing(order(seq))
        written.append(path.read_text().count("\n"))
    assert 0 < written[-1] < 19  # some batches written, the last lines still pending
    assert written[0] == 0 and sorted(written) == written
    log.close()
    assert [json.loads(x)["seq"] for x in path.read_text().splitlines()] == list(range(1, 20))


def test_file_log_collected_unclosed_writes_its_lines(tmp_path: Path, impl: str) -> None:
    log = FileLog(tmp_path, SID, flush_interval=3600)
    log.on_outgoing(order(1))
    gc.disable()  # dropped by reference count, as at interpreter exit: no cycle to wait for
    try:
        del log
    finally:
        gc.enable()
    lines = (tmp_path / "FIX.4.4-ME-THEM.messages.log").read_text().splitlines()
    assert [json.loads(x)["seq"] for x in lines] == [1]


def test_file_log_lines_follow_a_new_session_name(tmp_path: Path, impl: str) -> None:
    with FileLog(tmp_path, SID) as log:
        log.on_outgoing(order(1))
        log.session = "renamed"
        log.on_outgoing(order(2))
        log.on_event("e")
    path = tmp_path / "FIX.4.4-ME-THEM.messages.log"
    assert [json.loads(x)["session"] for x in path.read_text().splitlines()] == [
        "FIX.4.4:ME->THEM",
        "renamed",
    ]
    events = (tmp_path / "FIX.4.4-ME-THEM.event.log").read_text()
    assert json.loads(events)["session"] == "renamed"


def test_a_file_log_subclass_can_override_the_message_hooks(tmp_path: Path, impl: str) -> None:
    class Counting(FileLog):
        seen = 0

        def on_outgoing(self, raw: bytes) -> None:
            self.seen += 1
            super().on_outgoing(raw)

    with Counting(tmp_path, SID) as log:
        log.on_outgoing(order(1))
        log.on_incoming(order(2))
    assert log.seen == 1
    lines = (tmp_path / "FIX.4.4-ME-THEM.messages.log").read_text().splitlines()
    assert [json.loads(x)["dir"] for x in lines] == ["out", "in"]
