"""End to end over loopback: two peer processes (tests/e2e_peer.py) built from settings files.

Each test starts an initiator and an acceptor program with file stores and file
logs in ``tmp_path``, drives them with signals (SIGTERM = clean stop with Logout,
SIGUSR1 = end the stream) and checks what their applications recorded against
their message stores and message logs after they exited.
"""

from __future__ import annotations

import re
import secrets
import selectors
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from e2e_peer import (
    Peer,
    PeerGroup,
    free_port,
    message_log,
    peer_pair,
    verify_stream,
    wait_until,
)

TIMEOUT = 30.0  # generous: two cores shared with other work


@pytest.fixture
def group(tmp_path: Path) -> Iterator[PeerGroup]:
    with PeerGroup(tmp_path) as peers:
        yield peers


def _logons_from(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("ev") == "admin" and r.get("type") == "A"]


# -- 1. clean restart ----------------------------------------------------------------------------
def test_sequence_numbers_continue_after_a_clean_restart(group: PeerGroup) -> None:
    args = ["--count", "5", "--wait-logon"]
    pair = peer_pair(group, ini_args=args, acc_args=args)
    ini, acc = pair.ini, pair.acc

    # run 1: logon, five messages each way, logout
    acc.start()
    ini.start()
    wait_until(
        lambda: len(ini.received()) == 5 and len(acc.received()) == 5,
        TIMEOUT,
        "five messages each way",
        [ini, acc],
    )
    assert ini.terminate() == 0  # initiator logs out first
    assert acc.terminate() == 0
    ini1, acc1 = pair.ini_store_contents(), pair.acc_store_contents()
    # everything each side sent (Logout included) was consumed by the other
    assert ini1.next_sender == acc1.next_target
    assert acc1.next_sender == ini1.next_target
    assert verify_stream(ini1, acc.received(), "I").missing == set()
    assert verify_stream(acc1, ini.received(), "A").missing == set()

    # run 2: same settings and stores, five more each way
    acc.start("--count", "10")
    ini.start("--count", "10")
    wait_until(
        lambda: len(ini.received()) == 10 and len(acc.received()) == 10,
        TIMEOUT,
        "five more messages each way",
        [ini, acc],
    )
    assert ini.terminate() == 0
    assert acc.terminate() == 0
    ini2, acc2 = pair.ini_store_contents(), pair.acc_store_contents()

    # the second Logons carry the next numbers of the first run, without a reset
    acc_run2, ini_run2 = acc.runs_records()[1], ini.runs_records()[1]
    assert [(r["seq"], r.get("141")) for r in _logons_from(acc_run2)] == [(ini1.next_sender, None)]
    assert [(r["seq"], r.get("141")) for r in _logons_from(ini_run2)] == [(acc1.next_sender, None)]
    assert acc_run2[0]["next_target"] == ini1.next_sender  # the store said so at start
    # no gap, no resend, no reset in the second run
    for records in (acc_run2, ini_run2):
        assert not [r for r in records if r.get("ev") == "event"]
        assert not [r for r in records if r.get("ev") == "admin" and r["type"] in ("2", "4")]
    for peer, store in ((acc, ini2), (ini, acc2)):
        report = verify_stream(store, peer.received(), "A" if peer is ini else "I")
        assert report.missing == set() and report.possdup == set()
        assert report.numbers == list(range(1, 11))
        assert set(report.deliveries.values()) == {1}
    assert ini2.next_sender == acc2.next_target and acc2.next_sender == ini2.next_target

    # the message logs of both runs never reuse a MsgSeqNum in either direction
    for log_dir in (pair.ini_log, pair.acc_log):
        lines = message_log(log_dir)
        for direction in ("in", "out"):
            seqs = [r["seq"] for r in lines if r["dir"] == direction]
            assert seqs == sorted(set(seqs)) and seqs[0] == 1, (log_dir, direction, seqs)


# -- 2. acceptor restarted mid-stream ---------------------------------------------------------
def _backoff(peer: Peer) -> list[float]:
    """Reconnect delays the initiator logged after its first established connection ended."""
    text = peer.outputs[-1].read_text()
    _, ended, after = text.partition("ended (session)")
    return [float(d) for d in re.findall(r"reconnecting in ([0-9.]+)s", after)] if ended else []


def test_stream_continues_exactly_once_when_the_acceptor_restarts_mid_stream(
    group: PeerGroup,
) -> None:
    count = 60
    pair = peer_pair(group, ini_args=["--count", str(count), "--interval", "0.03"], acc_args=[])
    ini, acc = pair.ini, pair.acc
    acc.start("--no-send")
    ini.start()
    wait_until(lambda: len(acc.received()) >= 15, TIMEOUT, "15 messages", [ini, acc])
    assert acc.terminate() == 0  # Logout, then the process is gone
    wait_until(
        lambda: any(r["ev"] == "disconnect" for r in ini.records()),
        TIMEOUT,
        "the initiator to notice",
        [ini],
    )
    # the initiator keeps sending while nobody listens: those are stored, not lost
    sent_before = len(ini.sent())
    wait_until(lambda: len(ini.sent()) >= sent_before + 5, TIMEOUT, "sends while down", [ini])
    # and retries with a growing delay (ReconnectInterval=0.2 doubled, capped at 1 s)
    wait_until(lambda: len(_backoff(ini)) >= 3, TIMEOUT, "two failed reconnects", [ini])
    acc.start("--no-send")
    wait_until(
        lambda: acc.received_numbers() >= set(range(1, count + 1)),
        TIMEOUT,
        f"all {count} stream messages at the acceptor",
        [ini, acc],
    )
    assert ini.terminate() == 0
    assert acc.terminate() == 0

    report = verify_stream(pair.ini_store_contents(), acc.received(), "I")
    assert report.missing == set()
    assert report.numbers == list(range(1, count + 1))  # each once, in order
    assert set(report.deliveries.values()) == {1}
    # the initiator reconnected by itself and logged on twice; the delays grew
    assert len(ini.records("logon")) == 2
    delays = _backoff(ini)
    assert delays[0] <= 0.2 and delays == sorted(delays) and max(delays) <= 1.0, delays
    # messages numbered before the second Logon that the first acceptor run never saw
    # came by resend with PossDupFlag=Y; later ones came fresh
    first_run, second_run = acc.runs_records()
    seen_first = {r["seq"] for r in first_run if r["ev"] == "recv"}
    logon2 = _logons_from(second_run)[0]["seq"]
    for rec in (r for r in second_run if r["ev"] == "recv"):
        assert rec["seq"] not in seen_first
        assert rec["possdup"] == (rec["seq"] < logon2), rec
    assert any(r["possdup"] for r in second_run if r["ev"] == "recv")
    assert any(r["ev"] == "admin" and r["type"] == "2" for r in ini.records())


# -- 3. resend after a gap made by a proxy that drops frames ------------------------------------
class DroppingProxy:
    """Forwards TCP between the initiator and the acceptor; drops chosen initiator frames.

    Frames are cut by BodyLength(9) (this proxy's own framing, independent of the
    engine's). ``drop(frame, fields)`` decides for each complete frame from the
    initiator; dropped frames are kept in ``dropped``.
    """

    def __init__(self, upstream_port: int, drop: Callable[[bytes, dict[int, bytes]], bool]) -> None:
        self.upstream_port = upstream_port
        self.drop = drop
        self.dropped: list[dict[int, bytes]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        self.listener.setblocking(False)
        sel.register(self.listener, selectors.EVENT_READ, None)
        pairs: dict[socket.socket, tuple[socket.socket, bytearray | None]] = {}
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self.listener:
                        client, _addr = self.listener.accept()
                        try:
                            server = socket.create_connection(("127.0.0.1", self.upstream_port))
                        except OSError:
                            client.close()
                            continue
                        pairs[client] = (server, bytearray())  # filtered direction
                        pairs[server] = (client, None)
                        for s in (client, server):
                            sel.register(s, selectors.EVENT_READ, None)
                        continue
                    other, buf = pairs[sock]
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        for s in (sock, other):
                            if s in pairs:
                                sel.unregister(s)
                                del pairs[s]
                                s.close()
                        continue
                    try:
                        other.sendall(data if buf is None else self._filter(buf, data))
                    except OSError:
                        pass
        finally:
            for s in pairs:
                s.close()
            sel.close()

    def _filter(self, buf: bytearray, data: bytes) -> bytes:
        buf += data
        out = bytearray()
        while True:
            start = buf.find(b"8=FIX")
            length_at = buf.find(b"\x019=", start)
            body_at = buf.find(b"\x01", length_at + 3)
            if start < 0 or length_at < 0 or body_at < 0:
                break
            end = body_at + 1 + int(buf[length_at + 3 : body_at]) + 7  # + "10=nnn\x01"
            if end > len(buf):
                break
            frame = bytes(buf[start:end])
            del buf[:end]
            fields = {
                int(k): v for k, _, v in (f.partition(b"=") for f in frame.split(b"\x01") if f)
            }
            if self.drop(frame, fields):
                self.dropped.append(fields)
            else:
                out += frame
        return bytes(out)


def test_gap_is_filled_by_resend_request_resend_and_gap_fill(group: PeerGroup) -> None:
    state = {"seen_i3": False, "heartbeat": False, "app": False}

    def drop(frame: bytes, fields: dict[int, bytes]) -> bool:
        # after I-3: the first Heartbeat (a session message) and the next order
        if fields.get(11) == b"I-3":
            state["seen_i3"] = True
        elif state["seen_i3"] and not state["heartbeat"] and fields.get(35) == b"0":
            state["heartbeat"] = True
            return True
        elif state["heartbeat"] and not state["app"] and fields.get(35) == b"D":
            state["app"] = True
            return True
        return False

    acc_port = free_port()
    proxy = DroppingProxy(acc_port, drop)
    try:
        # bursts of 3 with 1.6 s pauses: the initiator sends a Heartbeat in each pause
        pair = peer_pair(
            group,
            ini_args=["--count", "9", "--burst", "3", "--pause", "1.6", "--wait-logon"],
            heartbeat=1,
            connect_port=proxy.port,
        )
        # the acceptor listens on the port the proxy forwards to
        settings = pair.acc.settings.read_text().replace(
            f"SocketAcceptPort={pair.port}", f"SocketAcceptPort={acc_port}"
        )
        pair.acc.settings.write_text(settings)
        ini, acc = pair.ini, pair.acc
        acc.start("--no-send")
        ini.start()
        wait_until(lambda: len(acc.received_numbers()) == 9, TIMEOUT, "9 orders", [ini, acc])
        assert ini.terminate() == 0
        assert acc.terminate() == 0
    finally:
        proxy.close()

    assert [f[35] for f in proxy.dropped] == [b"0", b"D"]
    hb_seq, order_seq = (int(f[34]) for f in proxy.dropped)
    assert proxy.dropped[1][11] == b"I-4"

    report = verify_stream(pair.ini_store_contents(), acc.received(), "I")
    assert report.numbers == list(range(1, 10)) and report.missing == set()
    assert set(report.deliveries.values()) == {1}  # the application saw each once
    assert report.possdup == {order_seq}  # only the dropped order came by resend

    acc_log, ini_log = message_log(pair.acc_log), message_log(pair.ini_log)

    def sent(log: list[dict[str, Any]], msg_type: str) -> list[dict[int, str]]:
        return [r["fields"] for r in log if r["dir"] == "out" and r["type"] == msg_type]

    # the acceptor asked for each hole, from its first missing number
    begins = [int(f[7]) for f in sent(acc_log, "2")]
    assert hb_seq in begins and order_seq in begins
    # the initiator replaced the Heartbeat by a GapFill and resent the order
    gap_fills = [f for f in sent(ini_log, "4") if f.get(123) == "Y"]
    assert any(int(f[34]) == hb_seq and int(f[36]) > hb_seq for f in gap_fills)
    assert all(f.get(43) == "Y" for f in gap_fills)
    resent = [f for f in sent(ini_log, "D") if f.get(43) == "Y"]
    assert order_seq in [int(f[34]) for f in resent]
    assert all(122 in f for f in resent)
    # and the acceptor received them
    received_fills = [r["fields"] for r in acc_log if r["dir"] == "in" and r["type"] == "4"]
    assert any(int(f[34]) == hb_seq for f in received_fills)


# -- 6. sending while disconnected -------------------------------------------------------------
def test_messages_sent_before_the_first_logon_are_delivered_by_resend_with_possdup(
    group: PeerGroup,
) -> None:
    pair = peer_pair(group, ini_args=["--count", "3", "--interval", "0.01"])
    ini, acc = pair.ini, pair.acc
    ini.start()  # nobody listens yet: connect attempts fail and back off
    wait_until(lambda: ini.records("stopped_sending"), TIMEOUT, "three offline sends", [ini])
    assert [(r["n"], r["seq"]) for r in ini.sent()] == [(1, 1), (2, 2), (3, 3)]
    assert not ini.records("logon")
    acc.start("--no-send")
    wait_until(lambda: len(acc.received()) == 3, TIMEOUT, "the three messages", [ini, acc])
    assert ini.terminate() == 0
    assert acc.terminate() == 0

    report = verify_stream(pair.ini_store_contents(), acc.received(), "I")
    assert report.numbers == [1, 2, 3]
    assert report.possdup == {1, 2, 3}  # they came by ResendRequest
    assert [r["seq"] for r in _logons_from(acc.records())] == [4]  # the Logon came after them
    requests = [r for r in ini.records("admin") if r["type"] == "2"]
    assert [(r["7"], r["16"]) for r in requests] == [("1", "0")]


def test_messages_sent_while_the_logon_awaits_its_answer_follow_the_handshake(
    group: PeerGroup,
) -> None:
    # the acceptor takes 1 s to answer the Logon; the initiator sends meanwhile
    pair = peer_pair(
        group,
        ini_args=["--count", "3", "--interval", "0.05", "--wait-connected"],
        acc_args=["--no-send", "--logon-delay", "1.0"],
    )
    ini, acc = pair.ini, pair.acc
    acc.start()
    ini.start()
    wait_until(lambda: len(acc.received()) == 3, TIMEOUT, "the three messages", [ini, acc])
    assert ini.terminate() == 0
    assert acc.terminate() == 0

    logon_at = ini.records("logon")[0]["t"]
    assert all(r["t"] < logon_at for r in ini.sent())  # all sent before the handshake ended
    report = verify_stream(pair.ini_store_contents(), acc.received(), "I")
    assert report.numbers == [1, 2, 3]
    assert report.possdup == set()  # they went out after the Logon, not by resend
    assert [r["seq"] for r in _logons_from(acc.records())] == [1]
    assert [r["seq"] for r in acc.received()] == [2, 3, 4]
    assert not [r for r in ini.records("admin") if r["type"] == "2"]


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [("ResetOnLogon", "Y", "reset"), ("PersistMessages", "N", "PersistMessages=N")],
)
def test_sending_while_disconnected_raises_when_the_message_could_never_be_delivered(
    group: PeerGroup, key: str, value: str, why: str
) -> None:
    extra = {key: value}
    pair = peer_pair(group, ini_args=["--count", "2"], ini_extra=extra, acc_extra=extra)
    ini, acc = pair.ini, pair.acc
    ini.start()
    wait_until(lambda: ini.records("stopped_sending"), TIMEOUT, "two offline sends", [ini])
    errors = ini.records("send_error")
    assert [e["n"] for e in errors] == [1, 2]
    assert all(e["kind"] == "LocalProtocolError" and why in e["error"] for e in errors)
    assert not ini.sent()
    acc.start("--no-send")
    wait_until(lambda: acc.records("logon"), TIMEOUT, "logon", [ini, acc])
    assert ini.terminate() == 0
    assert acc.terminate() == 0
    assert acc.received() == []
    assert pair.ini_store_contents().app_messages() == {}
    logon = _logons_from(acc.records())[0]
    assert logon["seq"] == 1  # the refused sends took no sequence number


# -- 7. secrets ------------------------------------------------------------------------------
def _files_containing(root: Path, secret: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret in p.read_bytes()]


def test_password_from_the_environment_logs_on_and_never_reaches_a_log(
    group: PeerGroup, tmp_path: Path
) -> None:
    password = f"pw-{secrets.token_hex(8)}"
    pair = peer_pair(
        group,
        ini_args=["--count", "3"],
        acc_args=["--count", "3", "--expect-password-env", "E2E_EXPECTED_PASSWORD"],
        ini_extra={"Username": "e2e-user", "Password": "${env:E2E_FIX_PASSWORD}"},
        ini_env={"E2E_FIX_PASSWORD": password},
        acc_env={"E2E_EXPECTED_PASSWORD": password},
    )
    ini, acc = pair.ini, pair.acc
    acc.start()
    ini.start()
    wait_until(
        lambda: len(ini.received()) == 3 and len(acc.received()) == 3,
        TIMEOUT,
        "three messages each way",
        [ini, acc],
    )
    assert ini.terminate() == 0
    assert acc.terminate() == 0

    assert password not in pair.ini.settings.read_text()  # only ${env:...} is written
    assert _logons_from(acc.records())[0]["553"] == "e2e-user"
    # Password(554) went over the wire (the acceptor checked it) and is masked in logs
    for log_dir, direction in ((pair.ini_log, "out"), (pair.acc_log, "in")):
        logons = [r for r in message_log(log_dir) if r["dir"] == direction and r["type"] == "A"]
        assert logons and all(r["fields"][554] == "***" for r in logons)
    assert _files_containing(tmp_path, password.encode()) == []


def test_password_stays_out_of_the_logs_when_an_application_callback_fails(
    group: PeerGroup, tmp_path: Path
) -> None:
    # on_admin_message raises on every session message, the acceptor's Logon included:
    # the engine logs the failure (stderr) and carries on
    password = f"pw-{secrets.token_hex(8)}"
    pair = peer_pair(
        group,
        ini_args=["--count", "2", "--fail-admin"],
        acc_args=["--count", "2", "--fail-admin", "--expect-password-env", "E2E_EXPECTED"],
        ini_extra={"Username": "e2e-user", "Password": "${env:E2E_FIX_PASSWORD}"},
        ini_env={"E2E_FIX_PASSWORD": password},
        acc_env={"E2E_EXPECTED": password},
    )
    ini, acc = pair.ini, pair.acc
    acc.start()
    ini.start()
    wait_until(
        lambda: len(ini.received()) == 2 and len(acc.received()) == 2,
        TIMEOUT,
        "two messages each way",
        [ini, acc],
    )
    assert ini.terminate() == 0
    assert acc.terminate() == 0
    assert "application callback failed" in acc.outputs[-1].read_text()
    assert _files_containing(tmp_path, password.encode()) == []


def test_wrong_password_is_refused_with_a_logout_text_and_a_disconnect(
    group: PeerGroup, tmp_path: Path
) -> None:
    wrong, right = f"wrong-{secrets.token_hex(8)}", f"right-{secrets.token_hex(8)}"
    pair = peer_pair(
        group,
        acc_args=["--expect-password-env", "E2E_EXPECTED_PASSWORD"],
        ini_extra={"Username": "e2e-user", "Password": "${env:E2E_FIX_PASSWORD}"},
        ini_env={"E2E_FIX_PASSWORD": wrong},
        acc_env={"E2E_EXPECTED_PASSWORD": right},
    )
    ini, acc = pair.ini, pair.acc
    acc.start("--no-send")
    ini.start("--no-send")
    wait_until(
        lambda: len(ini.records("refused")) >= 2 and ini.records("disconnect"),
        TIMEOUT,
        "the refusal, and a refused retry",
        [ini, acc],
    )
    assert ini.terminate() == 0
    assert acc.terminate() == 0

    assert {r["text"] for r in ini.records("refused")} == {"Invalid username or password"}
    assert not ini.records("logon") and not acc.records("logon")
    logouts = [
        r["fields"] for r in message_log(pair.ini_log) if r["dir"] == "in" and r["type"] == "5"
    ]
    assert logouts and logouts[0][58] == "Invalid username or password"
    assert _files_containing(tmp_path, wrong.encode()) == []
    assert _files_containing(tmp_path, right.encode()) == []
