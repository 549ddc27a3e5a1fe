"""``fixengine decode``: messages found in every input format, named, nested, flagged."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixengine.cli import main as cli_main
from fixengine.codec import Message
from fixengine.decode import Decoder, decode_files, format_text, scan
from fixengine.log import MemoryLog


def execution_report(seq: int = 2, begin: str = "FIX.4.4") -> bytes:
    msg = Message("8")
    for tag, value in [
        (49, "EXEC"), (56, "CLIENT"), (34, seq), (52, "20240501-12:00:00.000"),
        (37, "O1"), (11, "C1"), (17, "E1"), (150, "F"), (39, "1"), (55, "XYZ"),
        (54, "1"), (38, 100), (32, 40), (31, "10.5"), (151, 60), (14, 40), (6, "10.5"),
        (453, 2), (448, "P1"), (447, "D"), (452, 1), (802, 1), (523, "S1"), (803, 4),
        (448, "P2"), (447, "D"), (452, 3),
    ]:  # fmt: skip
        msg.append(tag, value)
    return msg.encode(begin)


def new_order(seq: int = 3) -> bytes:
    msg = Message("D")
    for tag, value in [
        (49, "CLIENT"), (56, "EXEC"), (34, seq), (52, "20240501-12:00:01.000"),
        (11, "C2"), (21, "1"), (55, "ABC"), (54, "2"), (60, "20240501-12:00:01.000"),
        (38, 5), (40, "2"), (44, "1.25"),
    ]:  # fmt: skip
        msg.append(tag, value)
    return msg.encode("FIX.4.2")


def run_decode(data: bytes, *args: str, **kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    stdin = io.BytesIO(data)
    rc = decode_files(["-"], stdin=stdin, stdout=out, stderr=err, **kw)  # type: ignore[arg-type]
    return rc, out.getvalue(), err.getvalue()


def test_decodes_a_raw_capture_with_several_messages_and_no_newlines() -> None:
    data = execution_report(2) + new_order(3)
    rc, out, _ = run_decode(data)
    assert rc == 0
    assert "#1 ExecutionReport (35=8)" in out
    assert "#2 NewOrderSingle (35=D)" in out
    assert "150 (ExecType) = F (TRADE)" in out
    assert "54 (Side) = 2 (SELL)" in out
    assert "dictionary FIX42" in out and "dictionary FIX44" in out


@pytest.mark.parametrize("sep", [b"|", b"^A", b"<SOH>", "\u2401".encode()])
def test_decodes_messages_written_with_visible_separators(sep: bytes) -> None:
    line = execution_report().replace(b"\x01", sep)
    rc, out, _ = run_decode(b"some text before " + line + b"\n")
    assert rc == 0, out
    assert "39 (OrdStatus) = 1 (PARTIALLY_FILLED)" in out
    assert "10 (CheckSum) =" in out


def test_visible_separators_give_back_the_wire_bytes() -> None:
    raw = execution_report()
    (found,) = scan(raw.replace(b"\x01", b"|")[:-1] + b"\n")  # last separator cut off too
    assert found.raw == raw
    assert found.separator == "|"


def test_decodes_our_json_lines_message_log_and_skips_event_lines() -> None:
    log = MemoryLog("FIX.4.4:EXEC->CLIENT")
    log.on_outgoing(execution_report())
    log.on_event("Logon completed")
    log.on_incoming(new_order())
    data = "\n".join(log.messages[:1] + log.events + log.messages[1:]).encode()
    rc, out, _ = run_decode(data)
    assert rc == 0
    assert out.count("#") == 2
    assert "out FIX.4.4:EXEC->CLIENT" in out and "in FIX.4.4:EXEC->CLIENT" in out
    rc, out, _ = run_decode(data, json_output=True)
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["msg_type"] for r in records] == ["8", "D"]
    assert records[0]["context"]["dir"] == "out"


def test_decodes_quickfix_message_log_lines_with_timestamp_prefix(tmp_path: Path) -> None:
    path = tmp_path / "FIX.4.4-EXEC-CLIENT.messages.current.log"
    path.write_bytes(
        b"20240501-12:00:00.123 : " + execution_report(2) + b"\n"
        b"20240501-12:00:00.456 : " + execution_report(3) + b"\n"
    )
    out, err = io.StringIO(), io.StringIO()
    assert decode_files([str(path)], stdout=out, stderr=err) == 0
    text = out.getvalue()
    assert "20240501-12:00:00.123" in text and "20240501-12:00:00.456" in text
    assert f"{path}:2" in text


def test_nests_repeating_groups_under_their_count_field() -> None:
    (found,) = scan(execution_report())
    msg = Decoder().decode(found)
    parties = next(f for f in msg.fields if f.tag == 453)
    assert parties.name == "NoPartyIDs"
    assert parties.groups is not None and len(parties.groups) == 2
    first, second = parties.groups
    assert [f.tag for f in first] == [448, 447, 452, 802]
    assert first[3].groups is not None
    assert [[f.tag for f in inst] for inst in first[3].groups] == [[523, 803]]
    assert [f.tag for f in second] == [448, 447, 452]
    text = format_text(msg, 1).splitlines()
    assert "  453 (NoPartyIDs) = 2" in text
    assert "    - 448 (PartyID) = P1" in text
    assert "      452 (PartyRole) = 1 (EXECUTING_FIRM)" in text
    assert "        - 523 (PartySubID) = S1" in text
    assert "    - 448 (PartyID) = P2" in text
    # the field after the group is back at the top level
    assert any(line.startswith("  10 (CheckSum)") for line in text)


def test_json_output_has_one_object_per_message_with_groups() -> None:
    rc, out, _ = run_decode(execution_report(), json_output=True)
    assert rc == 0
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["valid"] is True and record["msg_type_name"] == "ExecutionReport"
    parties = next(f for f in record["fields"] if f["tag"] == 453)
    assert [g[0]["value"] for g in parties["groups"]] == ["P1", "P2"]
    side = next(f for f in record["fields"] if f["tag"] == 54)
    assert side == {"tag": 54, "name": "Side", "value": "1", "enum": "BUY"}


def test_flags_a_wrong_checksum_and_says_what_it_should_be() -> None:
    raw = execution_report()
    bad = raw[:-4] + b"999\x01"
    rc, out, err = run_decode(bad)
    assert rc == 1
    assert "!! garbled: CheckSum(10) malformed or wrong" in out
    assert f"10 (CheckSum) = 999  <- should be {raw[-4:-1].decode()}" in out
    assert "1 of 1 message(s) flagged" in err


def test_flags_a_wrong_body_length() -> None:
    raw = execution_report()
    bad = raw.replace(b"\x019=", b"\x019=1", 1)
    rc, out, _ = run_decode(bad)
    assert rc == 1
    assert "!! garbled: BodyLength(9) missing, malformed or wrong" in out
    length = raw.split(b"\x01")[1][2:].decode()
    assert f"<- should be {length}" in out


def test_flags_a_cut_off_message_and_still_decodes_the_next_one() -> None:
    raw = execution_report()
    rc, out, _ = run_decode(raw[:60] + b"\n" + new_order())
    assert rc == 1
    assert "!! incomplete: no CheckSum(10) field ends it" in out
    assert "#2 NewOrderSingle (35=D)" in out


def test_fixt_application_messages_use_the_logon_default_appl_ver_id() -> None:
    logon = Message("A")
    stamp = "20240501-12:00:00"
    for tag, value in [
        (49, "C"), (56, "E"), (34, 1), (52, stamp), (98, 0), (108, 30), (1137, "7"),
    ]:  # fmt: skip
        logon.append(tag, value)
    order = Message("D")
    for tag, value in [
        (49, "C"), (56, "E"), (34, 2), (52, stamp), (11, "X"), (55, "S"), (54, "1"),
        (60, stamp), (38, 1), (40, "1"),
    ]:  # fmt: skip
        order.append(tag, value)
    data = logon.encode("FIXT.1.1") + b"\n" + order.encode("FIXT.1.1")
    rc, out, _ = run_decode(data)
    assert rc == 0
    assert "#1 Logon (35=A)" in out and "dictionary FIXT11]" in out
    assert "dictionary FIXT11+FIX50]" in out
    assert "1137 (DefaultApplVerID) = 7 (FIX50)" in out
    # without a Logon before it: ApplVerID(1128) decides, else --appl-ver-id
    rc, out, _ = run_decode(order.encode("FIXT.1.1"), appl_ver_id="FIX.5.0SP1")
    assert "dictionary FIXT11+FIX50SP1]" in out
    order.append(1128, "9")
    rc, out, _ = run_decode(order.encode("FIXT.1.1"))
    assert "dictionary FIXT11+FIX50SP2]" in out


def test_dictionary_option_overrides_the_begin_string_choice() -> None:
    rc, out, _ = run_decode(execution_report(begin="FIX.4.4"), dictionary="FIX42")
    assert rc == 0
    assert "dictionary FIX42" in out
    # ExecType F is not a FIX 4.2 value: shown without a name
    assert "150 (ExecType) = F\n" in out


def test_unknown_tags_and_message_types_are_shown_plainly() -> None:
    msg = Message("ZZ")
    for tag, value in [(49, "A"), (56, "B"), (34, 1), (52, "20240501-12:00:00"), (9999, "x")]:
        msg.append(tag, value)
    rc, out, _ = run_decode(msg.encode("FIX.4.4"))
    assert rc == 0
    assert "#1 MsgType ZZ" in out
    assert "9999 (?) = x" in out


def test_msg_type_filter_keeps_only_the_types_asked_for() -> None:
    rc, out, _ = run_decode(execution_report() + new_order(), msg_types=["D"])
    assert rc == 0
    assert "NewOrderSingle" in out and "ExecutionReport" not in out


def test_no_messages_found_exits_1_with_a_message() -> None:
    rc, out, err = run_decode(b"nothing to see here\n")
    assert rc == 1 and out == ""
    assert "no FIX messages found" in err


def test_unreadable_file_and_bad_dictionary_exit_2(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert decode_files([str(tmp_path / "missing.log")], stdout=out, stderr=err) == 2
    assert "cannot read" in err.getvalue()
    err = io.StringIO()
    rc = decode_files(["-"], dictionary="NOPE99", stdin=io.BytesIO(b""), stdout=out, stderr=err)
    assert rc == 2 and "no data dictionary" in err.getvalue()


def test_cli_runs_decode_on_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "capture.bin"
    path.write_bytes(execution_report())
    assert cli_main(["decode", str(path), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["source"] == str(path)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from([b"8=FIX.4.4\x019=", b"\x0110=", b"|10=123|", b"8=FIXT.1.1|9=5|"]),
        ),
        max_size=12,
    )
)
def test_any_input_is_decoded_without_raising(parts: list[bytes]) -> None:
    data = b"".join(parts) + execution_report()
    rc, out, _ = run_decode(data)
    assert rc in (0, 1)
    assert "ExecutionReport" in out


def test_scan_reads_lines_from_a_file_as_it_goes() -> None:
    data = b"x\n" + execution_report(2) + b"\n" + new_order(3) + b"\r\n"
    from_bytes = [(m.line, m.raw) for m in scan(data)]
    lines = iter(io.BytesIO(data))
    first = next(scan(lines))  # only the lines up to the first message were read
    assert (first.line, first.raw) == from_bytes[0]
    assert next(lines).startswith(b"8=FIX.4.2")
    assert [(m.line, m.raw) for m in scan(io.BytesIO(data))] == from_bytes


def test_a_reader_that_goes_away_stops_decode_quietly(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "big.log"
    path.write_bytes((execution_report() + b"\n") * 2000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixengine", "decode", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"#1 ExecutionReport")
    proc.stdout.close()  # as `| head -1` does
    assert proc.wait(timeout=30) == 0
    assert proc.stderr.read() == b""
