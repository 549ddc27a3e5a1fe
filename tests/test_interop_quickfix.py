"""Interoperability with QuickFIX C++ 1.15 (Debian's libquickfix-dev) over loopback.

For FIX.4.2, FIX.4.4 and FIXT.1.1/FIX.5.0SP2, in both directions (fixengine trader
-> QuickFIX executor, QuickFIX trader -> fixengine executor), one scenario runs once
per pairing (see ``tests/interop_support.py``): logon with data-dictionary validation
on both sides, orders with fills, cancels and replaces, a frame-dropping proxy that
forces a resend each way, the executor restarted mid-stream with its next outgoing
MsgSeqNum raised (GapFill each way), the trader restarted mid-stream, and logout.
The tests below then check what both sides' applications recorded, their message
logs, stores and the proxy's drops.

The QuickFIX programs (``bench/quickfix``) are compiled once per cache key. Without
g++ or libquickfix-dev the tests skip and say so; with FIXENGINE_REQUIRE_QUICKFIX=1
they fail instead (CI sets it after installing the package).
"""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import interop_support as isup
from interop_support import (
    BUMP,
    DROPS,
    PREFIX,
    VERSIONS,
    Action,
    Scenario,
    Version,
    expected_reports,
    make_plan,
    read_records,
    wire_log,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_TIMEOUT = 120.0


def _load_build_module() -> Any:
    path = ROOT / "bench" / "quickfix" / "build.py"
    spec = importlib.util.spec_from_file_location("quickfix_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["quickfix_build"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def quickfix_programs() -> dict[str, str]:
    """The compiled QuickFIX executor and initiator (built once, cached by source hash)."""
    build = _load_build_module()
    try:
        paths = build.build()
    except build.BuildUnavailable as exc:
        if exc.missing and os.environ.get("FIXENGINE_REQUIRE_QUICKFIX") != "1":
            pytest.skip(f"QuickFIX programs unavailable: {exc}")
        pytest.fail(f"QuickFIX programs do not build: {exc}")
    return {name: str(path) for name, path in paths.items()}


@dataclasses.dataclass
class Outcome:
    """Everything a finished scenario left behind."""

    sc: Scenario
    info: dict[str, Any]
    plan: list[Action]

    @property
    def version(self) -> Version:
        return self.sc.version

    def records(self, side: str, ev: str | None = None) -> list[dict[str, Any]]:
        path = (self.sc.trader if side == "trader" else self.sc.executor).record
        recs = read_records(path)
        return recs if ev is None else [r for r in recs if r.get("ev") == ev]

    def wire(self, side: str) -> list[dict[str, Any]]:
        return wire_log(self.sc.trader if side == "trader" else self.sc.executor)

    def drops(self) -> list[dict[str, Any]]:
        return read_records(self.sc.proxy_log)


PAIRINGS = [
    pytest.param((v, side), id=f"{v.app}-{'qf' if side == 'executor' else 'fe'}_acceptor")
    for v in VERSIONS
    for side in ("executor", "trader")
]


@pytest.fixture(scope="module", params=PAIRINGS)
def outcome(
    request: pytest.FixtureRequest,
    quickfix_programs: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Outcome:
    """Run one scenario (QuickFIX plays ``side``) in its own work directory."""
    version, quickfix_side = request.param
    workdir = tmp_path_factory.mktemp(f"interop-{version.spec}-qf-{quickfix_side}")
    # QuickFIX's acceptor binds every interface: it runs only in a private namespace
    netns = "required" if quickfix_side == "executor" else "optional"
    cmd = [
        sys.executable,
        str(Path(isup.__file__).resolve()),
        "scenario",
        "--workdir",
        str(workdir),
        "--version",
        version.app,
        "--quickfix-side",
        quickfix_side,
        "--executor-bin",
        quickfix_programs["executor"],
        "--initiator-bin",
        quickfix_programs["initiator"],
        "--netns",
        netns,
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT, env=env, check=False
    )
    if proc.returncode == isup.NO_NAMESPACE:
        pytest.skip(f"QuickFIX acceptor needs a private network namespace: {proc.stderr.strip()}")
    assert proc.returncode == 0, (
        f"scenario failed (exit {proc.returncode}) in {workdir}\n{proc.stderr[-6000:]}"
    )
    sc = Scenario.layout(workdir, version, quickfix_side)
    info = json.loads(sc.result.read_text())
    return Outcome(sc, info, make_plan(PREFIX, info["orders"]))


# -- helpers --------------------------------------------------------------------------------------


def _msgs(wire: list[dict[str, Any]], direction: str, msg_type: str) -> list[dict[str, Any]]:
    return [m for m in wire if m["dir"] == direction and m["type"] == msg_type]


def _app(wire: list[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
    return [m for m in wire if m["dir"] == direction and m["type"] not in isup.SESSION_TYPES]


def _covers(resend_request: dict[str, Any], seq: int) -> bool:
    begin = int(resend_request["fields"][7])
    end = int(resend_request["fields"][16])
    return begin <= seq and (end == 0 or end >= seq or end == 999999)


# -- logon ---------------------------------------------------------------------------------------


def test_logs_on_with_data_dictionary_validation_on_both_sides(outcome: Outcome) -> None:
    for side in (outcome.sc.trader, outcome.sc.executor):
        settings = side.settings.read_text()
        assert "UseDataDictionary=Y" in settings
        if side.engine == "quickfix":
            key = "AppDataDictionary=" if outcome.version.is_fixt else "DataDictionary="
            assert key in settings
    trader, executor = outcome.wire("trader"), outcome.wire("executor")
    first_logon = _msgs(trader, "out", "A")[0]
    assert first_logon["seq"] == 1 and first_logon["fields"][108] == "1"
    answer = _msgs(executor, "out", "A")[0]
    assert answer["seq"] == 1 and 141 not in answer["fields"]
    if outcome.version.is_fixt:  # DefaultApplVerID FIX.5.0SP2 on both Logons
        assert first_logon["fields"][1137] == "9" and answer["fields"][1137] == "9"
    # both validators passed every message: no session Reject, no BusinessMessageReject
    for wire in (trader, executor):
        for direction in ("in", "out"):
            assert _msgs(wire, direction, "3") == [], _msgs(wire, direction, "3")
            assert _msgs(wire, direction, "j") == [], _msgs(wire, direction, "j")
    # initial logon, after the executor's restart, after the trader's restart
    assert len(outcome.records("trader", "logon")) == 3
    assert len(outcome.records("executor", "logon")) == 3


# -- orders --------------------------------------------------------------------------------------


def test_orders_are_acked_filled_cancelled_and_replaced_exactly_once(outcome: Outcome) -> None:
    got = outcome.records("trader", "recv")
    kinds = collections.Counter(
        (r["clordid"], f"8:{r['exectype']}" if r["type"] == "8" else r["type"], r["ordstatus"])
        for r in got
    )
    assert kinds == collections.Counter(expected_reports(outcome.plan, outcome.version))
    exec_ids = [r["execid"] for r in got if r["type"] == "8"]
    assert len(exec_ids) == len(set(exec_ids))  # the trader's application saw each report once
    by_id = {r["clordid"] + ":" + r.get("exectype", "9") + ":" + r["ordstatus"]: r for r in got}
    fill = "F" if outcome.version.fills_as_trade else "2"
    done = by_id[f"{PREFIX}-1:{fill}:2"]  # market order: filled in full
    assert Decimal(done["cumqty"]) == 100 and Decimal(done["leavesqty"]) == 0
    replaced = by_id[f"{PREFIX}-3-R:5:1"]  # limit order replaced to 200 after 40 filled
    assert replaced["origclordid"] == f"{PREFIX}-3" and Decimal(replaced["qty"]) == 200
    assert Decimal(replaced["cumqty"]) == 40 and Decimal(replaced["leavesqty"]) == 160
    assert Decimal(replaced["price"]) == Decimal("11.5")
    cancelled = by_id[f"{PREFIX}-2-C:4:4"]
    assert cancelled["origclordid"] == f"{PREFIX}-2"
    assert Decimal(cancelled["cumqty"]) == 40 and Decimal(cancelled["leavesqty"]) == 0
    rejected = by_id[f"{PREFIX}-4-X:9:8"]  # cancel of an unknown order
    assert rejected["cxlrejreason"] == "1" and rejected["cxlrejto"] == "1"
    # the executor's application saw every request exactly once, never a duplicate
    requests = collections.Counter(r["clordid"] for r in outcome.records("executor", "recv"))
    assert requests == collections.Counter(a.cl_ord_id for a in outcome.plan)
    assert outcome.records("executor", "dup") == []


# -- resend after dropped frames ---------------------------------------------------------------


def test_dropped_messages_are_resent_with_possdup_each_way(outcome: Outcome) -> None:
    drops = outcome.drops()
    assert {(d["dir"], d["clordid"]) for d in drops} == set(DROPS)
    trader, executor = outcome.wire("trader"), outcome.wire("executor")
    for drop in drops:
        seq = int(drop["seq"])
        if drop["dir"] == "up":  # trader -> executor: the executor asks, the trader resends
            asker, answerer, asker_name = executor, trader, "executor"
        else:
            asker, answerer, asker_name = trader, executor, "trader"
        requests = [m for m in _msgs(asker, "out", "2") if _covers(m, seq)]
        assert requests, f"{asker_name} sent no ResendRequest covering {seq}"
        assert [m for m in _msgs(answerer, "in", "2") if _covers(m, seq)]
        resent = [m for m in _app(answerer, "out") if m["seq"] == seq and m["possdup"]]
        assert resent and resent[0]["fields"][11] == drop["clordid"]
        assert 122 in resent[0]["fields"]  # OrigSendingTime on a PossDupFlag=Y resend
        arrived = [m for m in _app(asker, "in") if m["seq"] == seq]
        assert [m["possdup"] for m in arrived] == [True] * len(arrived) and arrived
        # the receiving application got the dropped message once: from the resend
        side = "executor" if drop["dir"] == "up" else "trader"
        seen = [r for r in outcome.records(side, "recv") if r["seq"] == seq]
        assert len(seen) == 1 and seen[0]["possdup"] is True


# -- gap fill after a restart --------------------------------------------------------------------


def test_gaps_after_the_executor_restart_are_filled_each_way(outcome: Outcome) -> None:
    trader, executor = outcome.wire("trader"), outcome.wire("executor")
    old, new = outcome.info["bump"]
    assert new - old == BUMP
    # executor -> trader: its first Logon after the restart carries the raised number;
    # the trader asks from the old one and the executor gap-fills what it never sent
    relogon = [m for m in _msgs(executor, "out", "A") if m["seq"] == new]
    assert relogon, "the restarted executor did not log on with the raised MsgSeqNum"
    # (from ``old`` or earlier: reports the executor stored while it was logging out come
    # again as resends)
    assert [m for m in _msgs(trader, "out", "2") if _covers(m, old)]
    fills = [
        m
        for m in _msgs(executor, "out", "4")
        if m["seq"] <= old < int(m["fields"][36]) and m["fields"].get(123) == "Y" and m["possdup"]
    ]
    assert fills and int(fills[0]["fields"][36]) > new
    assert [m for m in _msgs(trader, "in", "4") if m["seq"] == fills[0]["seq"]]
    # trader -> executor: orders sent while the executor was down come by resend, and
    # the trader's reconnect Logon inside the resent range is gap-filled
    offline = set(outcome.info["offline"])
    assert offline
    for rec in outcome.records("executor", "recv"):
        if rec["clordid"] in offline:
            assert rec["possdup"] is True, rec
    assert [m for m in _msgs(executor, "out", "2")]
    gap_fills = [
        m for m in _msgs(trader, "out", "4") if m["fields"].get(123) == "Y" and m["possdup"]
    ]
    assert gap_fills
    assert {m["seq"] for m in gap_fills} <= {m["seq"] for m in _msgs(executor, "in", "4")}


# -- restarts ------------------------------------------------------------------------------------


def test_sequence_numbers_continue_across_restarts_of_either_side(outcome: Outcome) -> None:
    for side in ("trader", "executor"):
        wire = outcome.wire(side)
        assert not [m for m in wire if m["fields"].get(141) == "Y"], "a sequence reset"
        for direction in ("in", "out"):
            fresh = [m["seq"] for m in wire if m["dir"] == direction and not m["possdup"]]
            assert fresh[0] == 1
            assert fresh == sorted(fresh) and len(fresh) == len(set(fresh)), (
                side,
                direction,
                fresh,
            )
    # the restarted trader logs on with the number its store kept, and is answered with
    # the number it expects: no resend needed
    next_sender, next_target = outcome.info["trader_store_at_stop"]
    trader = outcome.wire("trader")
    logon = [m for m in _msgs(trader, "out", "A") if m["seq"] == next_sender]
    answer = [m for m in _msgs(trader, "in", "A") if m["seq"] == next_target]
    logons = [(m["dir"], m["seq"]) for m in trader if m["type"] in ("A", "5")]
    assert logon and answer, (next_sender, next_target, logons)
    executor = outcome.wire("executor")
    at = next(i for i, m in enumerate(executor) if m["dir"] == "in" and m["type"] == "A"
              and m["seq"] == next_sender)  # fmt: skip
    asked = [m for m in executor[at:] if m["dir"] == "out" and m["type"] == "2"]
    last_in = max(m["seq"] for m in executor[:at] if m["dir"] == "in")
    if next_sender == last_in + 1:
        # everything the trader numbered before it stopped had arrived: nothing to ask for
        assert not asked, logons
    else:
        # the trader numbered a message while stopping that never left it (QuickFIX may,
        # during its logout): the executor asks for exactly that, and it is filled in
        assert asked and all(int(m["fields"][7]) == last_in + 1 for m in asked), logons
        answered = [m for m in executor[at:] if m["dir"] == "in" and m["seq"] == last_in + 1]
        assert answered and answered[0]["possdup"], answered
    # both stores agree at the end: each expects the other's next number, but for session
    # messages a side numbered while logging out that the other was gone before reading
    # (QuickFIX may send a Heartbeat after its Logout when its timer fires)
    final = outcome.info["final"]
    for sender, receiver in (("trader", "executor"), ("executor", "trader")):
        numbered, expected = final[sender][0], final[receiver][1]
        late = [m for m in outcome.wire(sender) if m["dir"] == "out" and m["seq"] >= expected]
        assert numbered == expected + len(late), (sender, numbered, expected, late)
        assert all(m["type"] in isup.SESSION_TYPES for m in late), late


# -- logout --------------------------------------------------------------------------------------


def test_logs_out_cleanly_at_the_end(outcome: Outcome) -> None:
    def session_tail(side: str) -> list[tuple[str, str]]:
        wire = [m for m in outcome.wire(side) if m["type"] not in ("0", "1")]
        return [(m["dir"], m["type"]) for m in wire[-2:]]

    assert session_tail("trader") == [("out", "5"), ("in", "5")]
    assert session_tail("executor") == [("in", "5"), ("out", "5")]
    for side in ("trader", "executor"):
        assert outcome.records(side)[-1]["ev"] == "stopped"


# -- fixengine's order router and simulator against QuickFIX ------------------------------------


def _drive(args: list[str], workdir: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, str(Path(isup.__file__).resolve()), *args, "--workdir", str(workdir)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT, env=env, check=False
    )
    if proc.returncode == isup.NO_NAMESPACE:
        pytest.skip(f"QuickFIX acceptor needs a private network namespace: {proc.stderr.strip()}")
    assert proc.returncode == 0, f"{args[0]} failed in {workdir}\n{proc.stderr[-6000:]}"


def _no_rejects(*sides: isup.Side_) -> None:
    for side in sides:
        for m in wire_log(side):
            assert m["type"] not in ("3", "j"), (side.name, m["fields"])


@pytest.mark.parametrize("version", VERSIONS, ids=[v.app for v in VERSIONS])
def test_order_router_fills_cancels_and_replaces_against_the_quickfix_executor(
    version: Version, quickfix_programs: dict[str, str], tmp_path: Path
) -> None:
    _drive(
        ["router", "--version", version.app, "--executor-bin", quickfix_programs["executor"]],
        tmp_path,
    )
    sc = Scenario.layout(tmp_path, version, "executor")
    result = json.loads(sc.result.read_text())
    market, cancelled, replaced = result["market"], result["cancelled"], result["replaced"]
    assert (market["state"], market["cum_qty"], market["leaves_qty"]) == ("2", "100", "0")
    assert market["fills"] == ["40", "60"]
    assert result["cancel_accepted"] is True
    assert (cancelled["state"], cancelled["cum_qty"], cancelled["leaves_qty"]) == ("4", "40", "0")
    assert result["replace_accepted"] is True
    assert (replaced["state"], replaced["quantity"], replaced["leaves_qty"]) == ("1", "200", "160")
    assert Decimal(replaced["price"]) == Decimal("11.5") and len(replaced["chain"]) == 2
    requests = collections.Counter(
        r["clordid"]
        for r in read_records(sc.executor.record)
        if r["ev"] == "recv" and r["type"] in ("D", "F", "G")
    )
    assert len(requests) == 5 and set(requests.values()) == {1}  # 3 orders, 1 cancel, 1 replace
    _no_rejects(sc.trader, sc.executor)


@pytest.mark.parametrize("version", VERSIONS, ids=[v.app for v in VERSIONS])
def test_quickfix_trader_is_answered_by_the_simulator(
    version: Version, quickfix_programs: dict[str, str], tmp_path: Path
) -> None:
    _drive(
        ["simulator", "--version", version.app, "--initiator-bin", quickfix_programs["initiator"]],
        tmp_path,
    )
    sc = Scenario.layout(tmp_path, version, "trader")
    plan = make_plan(PREFIX, json.loads(sc.result.read_text())["orders"])
    got = [r for r in read_records(sc.trader.record) if r["ev"] == "recv"]
    answers: dict[str, list[tuple[str, str, str]]] = collections.defaultdict(list)
    for r in got:
        answers[r["clordid"]].append((r["type"], r.get("exectype", ""), r["ordstatus"]))
    fill = "F" if version.fills_as_trade else "2"
    for a in plan:  # the simulator fills at once: cancels and replaces come too late
        if a.kind == "new":
            assert answers[a.cl_ord_id] == [("8", "0", "0"), ("8", fill, "2")], a
        elif a.orig is not None and a.orig.endswith("-unknown"):
            assert answers[a.cl_ord_id] == [("9", "", "8")], a
        else:
            assert answers[a.cl_ord_id] == [("9", "", "2")], a
    assert len(answers) == len(plan)
    exec_ids = [r["execid"] for r in got if r["type"] == "8"]
    assert len(exec_ids) == len(set(exec_ids))
    _no_rejects(sc.trader, sc.executor)
    tail = [(m["dir"], m["type"]) for m in wire_log(sc.trader) if m["type"] not in ("0", "1")]
    assert tail[-2:] == [("out", "5"), ("in", "5")]
