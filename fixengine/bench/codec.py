"""Codec benchmark: encode/decode throughput of fixengine (compiled and pure) vs simplefix.

Theory of operation
-------------------
Every row times one operation on one typical FIX.4.4 message through the public
API a user would call, for one implementation, in the same process and run:

* ``encode``: build the message field by field (``Message(...)``, ``append`` with
  str / int / Decimal / datetime values; simplefix: ``append_pair`` and
  ``append_utc_timestamp``) and serialise it to wire bytes. Both produce the same
  bytes; the benchmark checks that before timing.
* ``decode``: wire bytes -> a message whose fields can be read: ``Parser.feed``
  of one frame on a long-lived parser (simplefix: ``append_buffer`` then
  ``get_message``). fixengine decodes lazily; ``read_all_ns_per_msg`` adds the
  cost of materialising every value (``fields()``).
* ``validate=True``: the same, plus ``fixengine.validation.validate`` against the
  FIX44 dictionary: after decoding; after encoding, on the frame as sent (a
  message being built has no BodyLength or CheckSum to validate, so the encoded
  frame is parsed back first). These rows appear once those modules import.

``quickfix`` rows (when ``bench/quickfix/codec.cpp`` can be compiled against
libquickfix-dev) are the reference: QuickFIX C++ building the same fields into a
``FIX::Message`` and serializing it (``toString``), and parsing the same frames
(``setString``, eager: every value is parsed), with and without
``DataDictionary::validate``, timed the same way in C++. Otherwise a note says why
they are missing.

A row runs ``runs`` timed runs of about ``seconds / runs`` each, each made of
batches sized to take a few milliseconds, with the garbage collector off (as
``timeit`` does). It reports the median run (msgs/s, ns/msg) and the p50/p99 of
the per-batch ns/msg. The loop overhead (~15 ns) is included for every
implementation alike.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

BEGIN_STRING = "FIX.4.4"
SENDING_TIME = _dt.datetime(2024, 1, 2, 10, 11, 12, 123000)
TRANSACT_TIME = _dt.datetime(2024, 1, 2, 10, 11, 12, 120000)

#: (tag, value) in the order a session would write them: header fields, then body.
MESSAGES: dict[str, tuple[str, list[tuple[int, Any]]]] = {
    "NewOrderSingle": (
        "D",
        [
            (49, "BUYSIDE"),
            (56, "BROKER1"),
            (34, 1234567),
            (52, SENDING_TIME),
            (11, "ORD-000123"),
            (1, "ACCT7781"),
            (21, "1"),
            (55, "AAPL"),
            (207, "XNAS"),
            (54, "1"),
            (60, TRANSACT_TIME),
            (38, 1500),
            (40, "2"),
            (44, Decimal("187.25")),
            (59, "0"),
            (18, "G"),
        ],
    ),
    "ExecutionReport": (
        "8",
        [
            (49, "BROKER1"),
            (56, "BUYSIDE"),
            (34, 7654321),
            (52, SENDING_TIME),
            (37, "B-99881"),
            (11, "ORD-000123"),
            (17, "EX-554433"),
            (150, "F"),
            (39, "1"),
            (1, "ACCT7781"),
            (55, "AAPL"),
            (54, "1"),
            (38, 1500),
            (40, "2"),
            (44, Decimal("187.25")),
            (59, "0"),
            (32, 500),
            (31, Decimal("187.24")),
            (151, 1000),
            (14, 500),
            (6, Decimal("187.24")),
            (60, TRANSACT_TIME),
        ],
    ),
}
HEADER = {49, 56, 34, 52}


@dataclass
class Row:
    """One measurement (the JSON keys of a result)."""

    impl: str
    op: str
    message: str
    validate: bool
    msgs_per_s: float
    ns_per_msg: float
    p50_batch_ns: float
    p99_batch_ns: float
    runs: int
    batch: int
    bytes: int
    extra: dict[str, float] = field(default_factory=dict)


# -- the operations ---------------------------------------------------------------------
def _fixengine_ops(codec: ModuleType, name: str) -> dict[str, Callable[[], Any]]:
    msg_type, fields = MESSAGES[name]
    message_cls, encode, parser = codec.Message, codec.encode, codec.Parser()

    def build() -> Any:
        msg = message_cls(msg_type)
        append = msg.append
        for tag, value in fields:
            append(tag, value)
        return msg

    def do_encode() -> bytes:
        return encode(build(), BEGIN_STRING)  # type: ignore[no-any-return]

    raw = do_encode()
    feed = parser.feed

    def do_decode() -> Any:
        return feed(raw)[0]

    def do_decode_read() -> Any:
        return feed(raw)[0].fields()

    return {
        "build": build,
        "encode": do_encode,
        "decode": do_decode,
        "decode_read": do_decode_read,
        "raw": lambda: raw,
    }


def _simplefix_ops(simplefix: ModuleType, name: str) -> dict[str, Callable[[], Any]]:
    msg_type, fields = MESSAGES[name]
    fix_message = simplefix.FixMessage
    parser = simplefix.FixParser()

    def do_encode() -> bytes:
        msg = fix_message()
        msg.append_pair(8, BEGIN_STRING, header=True)
        msg.append_pair(35, msg_type, header=True)
        for tag, value in fields:
            if isinstance(value, _dt.datetime):
                msg.append_utc_timestamp(tag, value, precision=3, header=tag in HEADER)
            else:
                msg.append_pair(tag, value, header=tag in HEADER)
        return msg.encode()  # type: ignore[no-any-return]

    raw = do_encode()

    def do_decode() -> Any:
        parser.append_buffer(raw)
        return parser.get_message()

    return {"encode": do_encode, "decode": do_decode, "raw": lambda: raw}


# -- timing -----------------------------------------------------------------------------
def _timed(fn: Callable[[], Any], n: int) -> int:
    clock = time.perf_counter_ns
    rng = range(n)
    start = clock()
    for _ in rng:
        fn()
    return clock() - start


def _measure(
    fn: Callable[[], Any], seconds: float, runs: int
) -> tuple[list[float], list[float], int]:
    """Per-run ns/msg and per-batch ns/msg; batches take about 2 ms (fewer when quick)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        n = 1
        while True:
            took = _timed(fn, n)
            if took > 1_000_000 or n >= 1 << 20:
                break
            n *= 2
        per_call = max(took / n, 1.0)
        run_ns = seconds / runs * 1e9
        batch = max(1, min(int(2_000_000 / per_call), int(run_ns / per_call / 5) or 1))
        run_results: list[float] = []
        batches: list[float] = []
        for _ in range(runs):
            total_ns = 0
            total_n = 0
            while total_ns < run_ns or total_n == 0:
                took = _timed(fn, batch)
                total_ns += took
                total_n += batch
                batches.append(took / batch)
            run_results.append(total_ns / total_n)
    finally:
        if enabled:
            gc.enable()
    return run_results, batches, batch


def _row(
    impl: str,
    op: str,
    message: str,
    validate: bool,
    fn: Callable[[], Any],
    seconds: float,
    runs: int,
    size: int,
) -> Row:
    per_run, batches, batch = _measure(fn, seconds, runs)
    ns = statistics.median(per_run)
    batches.sort()
    p99 = batches[min(len(batches) - 1, int(len(batches) * 0.99))]
    return Row(
        impl=impl,
        op=op,
        message=message,
        validate=validate,
        msgs_per_s=1e9 / ns,
        ns_per_msg=ns,
        p50_batch_ns=statistics.median(batches),
        p99_batch_ns=p99,
        runs=runs,
        batch=batch,
        bytes=size,
    )


def _load_validation() -> tuple[Callable[..., Any], Any] | None:
    """``(validate, FIX44 dictionary)`` once those modules exist, else None."""
    try:
        dictionary = importlib.import_module("fixengine.dictionary")
        validation = importlib.import_module("fixengine.validation")
        return validation.validate, dictionary.load("FIX44")
    except Exception as exc:  # the modules may be missing or not ready
        print(f"note: validate rows skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None


def collect(seconds: float, runs: int) -> tuple[list[Row], list[str]]:
    """Run every measurement; return the rows and notes about skipped ones."""
    notes: list[str] = []
    impls: list[tuple[str, ModuleType]] = []
    try:
        impls.append(("fixengine", importlib.import_module("fixengine._codec")))
    except ImportError:
        notes.append("fixengine (compiled) skipped: extension not built")
    impls.append(("fixengine-pure", importlib.import_module("fixengine._codec_py")))
    try:
        simplefix: ModuleType | None = importlib.import_module("simplefix")
    except ImportError:
        simplefix = None
        notes.append("simplefix skipped: not installed (pip install simplefix)")
    validation = _load_validation()
    if validation is None:
        notes.append("validate=True rows skipped: fixengine.validation not available")

    rows: list[Row] = []
    for name in MESSAGES:
        reference: bytes | None = None
        if simplefix is not None:
            sf = _simplefix_ops(simplefix, name)
            reference = sf["raw"]()
        for impl, codec in impls:
            ops = _fixengine_ops(codec, name)
            raw = ops["raw"]()
            if reference is not None and raw != reference:
                raise RuntimeError(f"{impl} and simplefix encode {name} differently")
            size = len(raw)
            rows.append(_row(impl, "encode", name, False, ops["encode"], seconds, runs, size))
            row = _row(impl, "decode", name, False, ops["decode"], seconds, runs, size)
            read = _row(impl, "decode", name, False, ops["decode_read"], seconds / 2, runs, size)
            row.extra["read_all_ns_per_msg"] = read.ns_per_msg
            rows.append(row)
            if validation is not None:
                validate, dd = validation
                rows += _validate_rows(impl, codec, name, validate, dd, ops, seconds, runs, size)
        if simplefix is not None and reference is not None:
            sf = _simplefix_ops(simplefix, name)
            size = len(reference)
            rows.append(_row("simplefix", "encode", name, False, sf["encode"], seconds, runs, size))
            rows.append(_row("simplefix", "decode", name, False, sf["decode"], seconds, runs, size))
    frames = {name: _fixengine_ops(impls[0][1], name)["raw"]() for name in MESSAGES}
    try:
        rows += quickfix_rows(frames, seconds, runs, validate=validation is not None)
    except RuntimeError as exc:
        notes.append(f"quickfix skipped: {exc}")
    return rows, notes


# -- QuickFIX C++ (reference rows) ---------------------------------------------------------
def _quickfix_dir() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "bench" / "quickfix"


def quickfix_codec_program() -> Path:
    """``qf_codec`` (``bench/quickfix/codec.cpp``), compiled once into the QuickFIX cache.

    Raises RuntimeError saying why it cannot be had: no source checkout, no C++
    compiler, no QuickFIX headers or library (``apt-get install -y libquickfix-dev``).
    """
    source = _quickfix_dir() / "codec.cpp"
    build_py = _quickfix_dir() / "build.py"
    if not source.exists() or not build_py.exists():
        raise RuntimeError("bench/quickfix/codec.cpp not found (run from a source checkout)")
    spec = importlib.util.spec_from_file_location("_fixengine_qf_build", build_py)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {build_py}")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    try:
        cxx = build._compiler()
        header = build._quickfix_header(cxx)
    except build.BuildUnavailable as exc:
        raise RuntimeError(str(exc)) from None
    digest = hashlib.sha256(source.read_bytes())
    digest.update(" ".join((cxx, *build.CXXFLAGS, *build.LIBS)).encode())
    config = header.parent / "config.h"
    digest.update(config.read_bytes() if config.exists() else b"")
    target = Path(build.default_cache_dir()) / f"codec-{digest.hexdigest()[:16]}" / "qf_codec"
    if os.access(target, os.X_OK):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".qf_codec.", dir=target.parent)
    os.close(fd)
    cmd = [cxx, *build.CXXFLAGS, str(source), "-o", tmp_name, *build.LIBS]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        os.unlink(tmp_name)
        if "cannot find -lquickfix" in done.stderr + done.stdout:
            raise RuntimeError(f"QuickFIX library not found; {build.INSTALL_HINT}")
        raise RuntimeError(f"codec.cpp does not compile: {(done.stderr or done.stdout)[-2000:]}")
    os.chmod(tmp_name, 0o755)
    os.replace(tmp_name, target)
    return target


def quickfix_rows(
    frames: dict[str, bytes], seconds: float, runs: int, *, validate: bool
) -> list[Row]:
    """QuickFIX C++ parsing and serializing the same frames (impl ``quickfix``).

    With ``validate`` its validate rows use the FIX44 dictionary written from
    fixengine's shipped spec, so both check the same content.
    """
    program = quickfix_codec_program()
    with tempfile.TemporaryDirectory(prefix="fixengine-codec-") as tmp:
        cmd = [str(program), "--seconds", str(seconds), "--runs", str(runs)]
        if validate:
            from .roundtrip import quickfix_dictionary

            cmd += ["--dictionary", str(quickfix_dictionary("FIX44", Path(tmp) / "FIX44.xml"))]
        shown = {name: raw.replace(b"\x01", b"|").decode("ascii") for name, raw in frames.items()}
        text = "".join(f"{name} {frame}\n" for name, frame in shown.items())
        done = subprocess.run(
            cmd, input=text, capture_output=True, text=True, check=False, timeout=600
        )
    if done.returncode != 0:
        raise RuntimeError(f"qf_codec failed: {done.stderr.strip()[-500:]}")
    rows = []
    for line in done.stdout.splitlines():
        item = json.loads(line)
        ns = float(item["ns_per_msg"])
        rows.append(
            Row(
                impl="quickfix",
                op=item["op"],
                message=item["message"],
                validate=bool(item["validate"]),
                msgs_per_s=1e9 / ns,
                ns_per_msg=ns,
                p50_batch_ns=float(item["p50_batch_ns"]),
                p99_batch_ns=float(item["p99_batch_ns"]),
                runs=int(item["runs"]),
                batch=int(item["batch"]),
                bytes=int(item["bytes"]),
            )
        )
    return rows


def _validate_rows(
    impl: str,
    codec: ModuleType,
    name: str,
    validate: Callable[..., Any],
    dd: Any,
    ops: dict[str, Callable[[], Any]],
    seconds: float,
    runs: int,
    size: int,
) -> list[Row]:
    raw = ops["raw"]()
    decoded = codec.decode(raw)
    problem = validate(decoded, dd)
    if problem is not None:
        raise RuntimeError(f"the benchmark's {name} is not valid FIX44: {problem}")
    parser = codec.Parser()
    feed, build, encode = parser.feed, ops["build"], codec.encode

    def decode_validate() -> Any:
        msg = feed(raw)[0]
        if validate(msg, dd) is not None:
            raise RuntimeError("rejected")
        return msg

    def encode_validate() -> bytes:
        # a message being built has no BodyLength or CheckSum yet: validate the frame
        # exactly as it goes on the wire
        raw = encode(build(), BEGIN_STRING)
        if validate(feed(raw)[0], dd) is not None:
            raise RuntimeError("rejected")
        return raw  # type: ignore[no-any-return]

    return [
        _row(impl, "encode", name, True, encode_validate, seconds, runs, size),
        _row(impl, "decode", name, True, decode_validate, seconds, runs, size),
    ]


# -- output -------------------------------------------------------------------------------
def format_table(rows: list[Row]) -> str:
    """Readable table with the speed-up against simplefix on the same op and message.

    Rows with validation get none: simplefix does not validate.
    """
    base = {(r.op, r.message): r.ns_per_msg for r in rows if r.impl == "simplefix"}
    lines = [
        f"{'op':<7} {'message':<16} {'validate':<8} {'impl':<15} {'msgs/s':>12} "
        f"{'ns/msg':>10} {'p99 batch':>10} {'vs simplefix':>13}",
    ]
    order = {"fixengine": 0, "fixengine-pure": 1, "simplefix": 2, "quickfix": 3}
    for r in sorted(rows, key=lambda r: (r.op, r.message, r.validate, order.get(r.impl, 9))):
        ref = None if r.validate else base.get((r.op, r.message))  # simplefix cannot validate
        speedup = f"{ref / r.ns_per_msg:12.1f}x" if ref else f"{'-':>13}"
        lines.append(
            f"{r.op:<7} {r.message:<16} {'yes' if r.validate else 'no':<8} {r.impl:<15} "
            f"{r.msgs_per_s:>12,.0f} {r.ns_per_msg:>10,.0f} {r.p99_batch_ns:>10,.0f} {speedup}"
        )
        if "read_all_ns_per_msg" in r.extra:
            lines[-1] += f"   (reading every value: {r.extra['read_all_ns_per_msg']:,.0f} ns)"
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fixengine bench codec``."""
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--seconds",
        type=float,
        default=1.0,
        help="time spent on each measurement (default 1.0)",
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="timed runs per measurement; the median is reported"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of a few seconds (CI): 0.05 s x 3 runs"
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the table or the JSON object."""
    seconds, runs = (0.05, 3) if args.quick else (args.seconds, args.runs)
    if seconds <= 0 or runs < 1:
        print("error: --seconds must be > 0 and --runs >= 1", file=sys.stderr)
        return 2
    rows, notes = collect(seconds, runs)
    if args.json:
        results = []
        for r in rows:
            item = asdict(r)
            item.update(item.pop("extra"))
            results.append(item)
        from .. import codec as public

        doc = {
            "results": results,
            "notes": notes,
            "environment": {
                "python": platform.python_version(),
                "machine": platform.machine(),
                "accelerated": public.ACCELERATED,
                "seconds": seconds,
                "runs": runs,
            },
        }
        print(json.dumps(doc))
    else:
        for note in notes:
            print(f"note: {note}")
        print(format_table(rows))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python bench/codec.py`` and ``python -m fixengine.bench.codec``."""
    parser = argparse.ArgumentParser(prog="bench/codec.py", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
