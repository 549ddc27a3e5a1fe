"""The codec benchmark command runs and prints the documented JSON object."""

from __future__ import annotations

import json

import pytest

from fixengine.bench import codec as bench
from fixengine.bench.codec import MESSAGES
from fixengine.cli import build_parser

pytest.importorskip("simplefix")


def test_bench_codec_prints_one_json_object_with_the_documented_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench.main(["--json", "--seconds", "0.02", "--runs", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["results"]
    for row in rows:
        assert {"impl", "op", "message", "validate", "msgs_per_s", "ns_per_msg"} <= row.keys()
        assert row["impl"] in ("fixengine", "fixengine-pure", "simplefix", "quickfix")
        assert row["op"] in ("encode", "decode")
        assert row["message"] in ("NewOrderSingle", "ExecutionReport")
        assert isinstance(row["validate"], bool)
        assert row["msgs_per_s"] > 0
        assert row["msgs_per_s"] * row["ns_per_msg"] == pytest.approx(1e9)
    seen = {(r["impl"], r["op"], r["message"]) for r in rows if not r["validate"]}
    for impl in ("fixengine-pure", "simplefix"):
        for op in ("encode", "decode"):
            for message in ("NewOrderSingle", "ExecutionReport"):
                assert (impl, op, message) in seen
    assert not any(r["validate"] for r in rows if r["impl"] == "simplefix")
    # QuickFIX C++ is the reference row when it can be built, else a note says why not
    quickfix = {(r["op"], r["message"]) for r in rows if r["impl"] == "quickfix"}
    if quickfix:
        assert quickfix == {(op, m) for op in ("encode", "decode") for m in MESSAGES}
    else:
        assert any(note.startswith("quickfix skipped") for note in doc["notes"])


def test_bench_codec_is_registered_on_the_command_line() -> None:
    args = build_parser().parse_args(["bench", "codec", "--quick", "--json"])
    assert args.quick and args.json
    assert args._run is bench.run


def test_bench_codec_refuses_a_non_positive_duration(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--seconds", "0"]) == 2
    assert "--seconds" in capsys.readouterr().err
