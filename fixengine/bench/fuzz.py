"""Fuzz the framer, the decoder with validation, and the session: crashes, hangs, memory.

``fixengine bench fuzz --inputs N [--json] [--seed S] [--target framer|decoder|session|all]``.

Theory of operation
-------------------
Every input is drawn from its own ``random.Random(seed * 2**40 + index)``, so input
``index`` of run ``seed`` can be regenerated alone (``--seed S --start I --inputs 1``)
and the whole run is deterministic. Targets take turns: input ``index`` goes to
``targets[index % len(targets)]``.

Inputs are structure-aware. :class:`MessageFactory` writes valid messages of any type
of the shipped dictionaries (FIX.4.0-4.4, FIXT.1.1 with FIX 5.0-5.0SP2): the required
fields of the body and of repeating groups, a few optional ones, values of the
field's type or one of its enumerated values, data fields with their length. Those
are then damaged at three levels:

* fields (:func:`mutate_fields`): duplicate, remove, swap, move, reorder, odd tags
  (0, negative, ten digits, leading zeros, not a number), odd values (empty, SOH
  inside, huge or 5000-digit numbers, bad timestamps, long strings), data fields
  whose length is wrong, NumInGroup counts that lie, another MsgType;
* the frame (:func:`serialise`): BodyLength and CheckSum wrong, huge, missing or not
  digits, another or overlong BeginString, BodyLength not second, no trailer;
* bytes (:func:`mutate_bytes`): bit flips, inserted and deleted bytes, truncation,
  duplicated slices, stray ``8=FIX`` / ``<SOH>10=`` / SOH, splices of two messages;

plus plain random bytes. Streams are several such pieces, fed in arbitrary
chunkings (one chunk, random cuts, fixed small sizes, byte by byte).

Targets (:data:`TARGETS`), each checking invariants and raising
:class:`InvariantViolation` when one fails:

``framer``
    The pure and compiled ``Parser`` get the same chunks (random
    ``max_message_size``, resync rule, extra data fields). They must return equal
    items and hold equal ``buffered`` after every chunk (differential fuzzing);
    every byte fed is in exactly one place - a message's ``raw``, a
    GarbledMessage's ``size``, or the buffer - in stream order; a message's frame
    has a right CheckSum and decodes to the same fields; the buffer never holds
    more than ``max_message_size + BUFFER_SLACK`` bytes.
``decoder``
    ``decode`` of one frame with both codecs (same message or same GarbledMessage),
    then ``validate`` against the dictionary of its BeginString and sometimes
    another one, with random options: the only exception allowed is the
    documented LocalProtocolError (a FIXT.1.1 application message with no
    application dictionary); both codecs' messages get the same verdict; a
    message the fast pass accepts is accepted by the exact pass; typed getters
    raise at most ValueError; re-encoding gives the same bytes with both codecs.
``session``
    A logged-on acceptor (FIX.4.0-FIXT.1.1, random settings, memory, file or
    SQLite store) fed a random sequence of peer messages - mostly well-formed with
    plausible MsgSeqNums (in sequence, gaps, too low with and without PossDupFlag,
    resends, gap fills, resets, Logon and Logout) and some damaged as above - in
    random chunkings, with clock advances, application sends, disconnects and
    reconnects. It must never raise. After every step: what it sends frames
    cleanly, carries our BeginString and CompIDs, and new messages take
    consecutive MsgSeqNums; the outbox, the events of one step and the queue of
    messages above a gap stay bounded; NextTargetSeq only decreases through a
    store reset; an application message is delivered at most once (a second time
    only with PossDupFlag=Y), in sequence, with the right header, and passing
    validation; the store agrees with the session; a handled timer does not ask
    to be called again at once.

Failures are *crashes* (any unexpected exception), *violations* (an invariant) and
*hangs* (an input taking longer than ``deadline``). By default the inputs run in a
worker process watched by the parent. Inside the worker a timer signal interrupts an
input stuck in Python for ``watchdog`` seconds; a worker that makes no progress for
:func:`kill_after` seconds (a loop in C code that no signal reaches) is killed and
its input recorded as a hang; a worker that dies (a segfault) records a crash; both
resume at the next input. Failing inputs are saved as JSON (``--save DIR``): the
recorded input and how to regenerate it; :func:`minimize` shrinks them, and
``tests/test_fuzz_regressions.py`` replays every file of ``tests/fuzz_corpus/``. RSS
is sampled every 256 inputs; the run fails if it grows by more than
``max_rss_growth_mb`` in the second half of the run over the first.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import importlib
import json
import multiprocessing
import os
import platform
import random
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from types import FrameType, ModuleType
from typing import Any

from .. import _codec_py, dictionary
from ..dictionary import DataDictionary, FieldDef, Layout
from ..errors import GarbledMessage, GarbleReason, LocalProtocolError
from ..fields import format_utc_timestamp

__all__ = [
    "BUFFER_SLACK",
    "TARGETS",
    "FuzzOptions",
    "FuzzReport",
    "InvariantViolation",
    "MessageFactory",
    "Target",
    "add_arguments",
    "chunkings",
    "corrupt_frame",
    "failure_of",
    "fuzz",
    "fuzz_isolated",
    "minimize",
    "mutate_bytes",
    "mutate_fields",
    "replay",
    "run",
    "serialise",
]

SOH = b"\x01"
#: Bytes the framer may hold beyond ``max_message_size`` (the framer needs none).
BUFFER_SLACK = 32
_SEED_SPACE = 1 << 40
Field = tuple[bytes, bytes]  # (tag text, value) as they go on the wire
Stats = dict[str, int]


class InvariantViolation(Exception):
    """A property the code under test promises did not hold for an input."""


def _expect(condition: object, text: str, *args: object) -> None:
    """Raise InvariantViolation unless ``condition``: ``text.format(*args)``, made only then."""
    if not condition:
        raise InvariantViolation(text.format(*args) if args else text)


def _latin(data: bytes) -> str:
    return data.decode("latin-1")


def _unlatin(text: str) -> bytes:
    return text.encode("latin-1")


def _compiled_codec() -> ModuleType | None:
    try:
        return importlib.import_module("fixengine._codec")
    except ImportError:  # pragma: no cover - depends on the build
        return None


# -- valid messages from the dictionaries ------------------------------------------------------
#: BeginString -> (session dictionary, application dictionaries to pick from).
VERSIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "FIX.4.0": ("FIX40", ()),
    "FIX.4.1": ("FIX41", ()),
    "FIX.4.2": ("FIX42", ()),
    "FIX.4.3": ("FIX43", ()),
    "FIX.4.4": ("FIX44", ()),
    "FIXT.1.1": ("FIXT11", ("FIX50", "FIX50SP1", "FIX50SP2")),
}
_APPL_VER_ID = {"FIX50": b"7", "FIX50SP1": b"8", "FIX50SP2": b"9"}
START = 1_750_000_000.0  # the fake clock's first reading (2025-06-15T15:06:40Z)
_DATES = (b"20250615", b"20241231", b"20000229")


def _stamp(now: float, precision: int = 3) -> bytes:
    return format_utc_timestamp(round(now * 1e9), precision)


def _word(rng: random.Random, low: int = 1, high: int = 8) -> bytes:
    return bytes(
        rng.choice(b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(rng.randint(low, high))
    )


def _payload(rng: random.Random, soh: bool = True) -> bytes:
    """Content of a data field: may hold SOH, '=', even a whole trailer or BeginString.

    Never empty; without SOH when ``soh`` is false (a pair the framer does not know).
    """
    parts = [
        rng.randbytes(rng.randint(0, 12)),
        SOH,
        b"10=123\x01",
        b"8=FIX.4.4\x01",
        b"=",
        _word(rng),
    ]
    data = b"".join(rng.choice(parts) for _ in range(rng.randint(0, 4))) + _word(rng, 1, 3)
    return data if soh else data.replace(SOH, b"")


_NUMERIC = frozenset({"FLOAT", "PRICE", "QTY", "AMT", "PRICEOFFSET", "PERCENTAGE"})
_INTEGER = frozenset({"INT", "LENGTH", "SEQNUM", "NUMINGROUP", "TAGNUM"})


def _typed_value(rng: random.Random, fdef: FieldDef | None) -> bytes:
    """A well-formed value for ``fdef`` (one of its enum values when it has some)."""
    if fdef is None:
        return _word(rng)
    if fdef.enums:
        values = list(fdef.enums)
        if fdef.is_multi_value and len(values) > 1 and rng.random() < 0.3:
            return b" ".join(rng.sample(values, 2))
        return rng.choice(values)
    kind = fdef.type
    if kind in _INTEGER:
        return b"%d" % rng.randint(1, 500)
    if kind in _NUMERIC:
        return rng.choice(
            (b"%d" % rng.randint(0, 10_000), b"%d.%d" % (rng.randint(0, 999), rng.randint(0, 99)))
        )
    if kind in ("UTCTIMESTAMP", "TIME"):
        return _stamp(START + rng.randint(-5, 5), rng.choice((0, 3, 6)))
    if kind in ("UTCTIMEONLY", "LOCALMKTTIME"):
        return b"15:06:40"
    if kind in ("UTCDATEONLY", "UTCDATE", "LOCALMKTDATE", "DATE"):
        return rng.choice(_DATES)
    if kind == "MONTHYEAR":
        return rng.choice((b"202506", b"20250615", b"202506w2"))
    if kind == "TZTIMEONLY":
        return rng.choice((b"15:06:40Z", b"09:30-05"))
    if kind == "TZTIMESTAMP":
        return b"20250615-15:06:40Z"
    if kind == "DAYOFMONTH":
        return b"%d" % rng.randint(1, 31)
    if kind == "BOOLEAN":
        return rng.choice((b"Y", b"N"))
    if kind == "CHAR":
        return bytes([rng.choice(b"ABCXYZ0123")])
    if kind in ("DATA", "XMLDATA"):
        return _payload(rng)
    if kind == "CURRENCY":
        return b"USD"
    if kind == "COUNTRY":
        return b"US"
    return _word(rng)


class MessageFactory:
    """Writes valid messages of one FIX version from its shipped dictionaries.

    ``begin_string`` is a key of :data:`VERSIONS`; under FIXT.1.1 ``app`` names the
    application dictionary (default FIX50SP2). Messages are lists of (tag, value)
    wire fields starting with MsgType(35); :func:`serialise` adds 8, 9 and 10.
    """

    def __init__(self, begin_string: str, app: str | None = None) -> None:
        session_name, apps = VERSIONS[begin_string]
        self.begin_string = begin_string
        self.begin = begin_string.encode()
        self.session_dd: DataDictionary = _load(session_name)
        self.app_name = (app or apps[-1]) if apps else None
        self.app_dd: DataDictionary = _load(self.app_name) if self.app_name else self.session_dd
        self.msg_types = sorted(set(self.session_dd.messages) | set(self.app_dd.messages))
        self.app_types = sorted(
            mt for mt, mdef in self.app_dd.messages.items() if not mdef.is_admin
        )
        self._data = {**self.session_dd.data_fields, **self.app_dd.data_fields}
        self._data_tags = frozenset(self._data.values())
        self._tag_list = sorted(self.session_dd.tags | self.app_dd.tags)

    def msg_tags(self) -> list[int]:
        """Every tag either dictionary defines."""
        return self._tag_list

    def field(self, tag: int) -> FieldDef | None:
        """The field definition of ``tag`` in either dictionary, or None."""
        fdef = self.app_dd.fields.get(tag)
        return fdef if fdef is not None else self.session_dd.fields.get(tag)

    def value(self, rng: random.Random, tag: int) -> bytes:
        """A well-formed value for ``tag``."""
        return _typed_value(rng, self.field(tag))

    def body_dictionary(self, msg_type: str) -> DataDictionary:
        """The dictionary whose definition of ``msg_type`` describes the body."""
        if msg_type in self.session_dd.messages:
            return self.session_dd
        return self.app_dd

    def message(
        self,
        rng: random.Random,
        msg_type: str | None = None,
        header: Sequence[Field] = (),
        optional: float = 0.15,
    ) -> list[Field]:
        """35, the given header fields, then a valid body of ``msg_type`` (random if None)."""
        if msg_type is None:
            msg_type = rng.choice(self.msg_types)
        out: list[Field] = [(b"35", msg_type.encode()), *header]
        if self.app_name and msg_type not in self.session_dd.messages and rng.random() < 0.3:
            out.append((b"1128", _APPL_VER_ID[self.app_name]))
        dd = self.body_dictionary(msg_type)
        mdef = dd.messages.get(msg_type)
        if mdef is not None:
            self._level(rng, mdef, out, optional, 0)
        return out

    def _level(
        self, rng: random.Random, layout: Layout, out: list[Field], optional: float, depth: int
    ) -> None:
        """Fields of one level (body or group instance) in dictionary order."""
        fields = layout.fields
        budget = max(1, int(len(fields) * optional)) if fields else 0
        extra = set(rng.sample(fields, min(len(fields), rng.randint(0, min(budget, 6)))))
        first = True
        for tag in fields:
            chosen = tag in layout.required or tag in extra or (first and depth > 0)
            first = False
            if not chosen or tag in (8, 9, 10, 35, 34, 49, 52, 56):
                continue
            if tag in self._data_tags:
                continue  # written right after its length field
            group = layout.groups.get(tag)
            if group is not None:
                if depth >= 2 and tag not in layout.required:
                    continue
                count = rng.randint(1, 2) if depth < 3 else 1
                out.append((b"%d" % tag, b"%d" % count))
                for _ in range(count):
                    self._level(rng, group, out, optional, depth + 1)
                continue
            data_tag = self._data.get(tag)
            if data_tag is not None:
                # SOH only in pairs the framer knows without being told (decode() has no table)
                payload = _payload(rng, _codec_py.DATA_FIELDS.get(tag) == data_tag)
                out.append((b"%d" % tag, b"%d" % len(payload)))
                out.append((b"%d" % data_tag, payload))
                continue
            out.append((b"%d" % tag, self.value(rng, tag)))


def header_fields(
    sender: bytes, target: bytes, seq: int | bytes, now: float, precision: int = 3
) -> list[Field]:
    """49, 56, 34, 52 in the order the session writes them."""
    seq_text = seq if isinstance(seq, bytes) else b"%d" % seq
    return [(b"49", sender), (b"56", target), (b"34", seq_text), (b"52", _stamp(now, precision))]


# -- serialising and damaging --------------------------------------------------------------
def serialise(
    begin: bytes,
    fields: Sequence[Field],
    *,
    body_length: bytes | None = None,
    checksum: bytes | None = None,
    trailer: bool = True,
) -> bytes:
    """``8=begin|9=len|<fields>|10=sum|``: BodyLength and CheckSum computed unless given."""
    body = b"".join(tag + b"=" + value + SOH for tag, value in fields)
    length = b"%d" % len(body) if body_length is None else body_length
    head = b"8=" + begin + SOH + b"9=" + length + SOH + body
    if not trailer:
        return head
    cks = b"%03d" % (sum(head) & 0xFF) if checksum is None else checksum
    return head + b"10=" + cks + SOH


_ODD_TAGS = (
    b"0", b"-1", b"-34", b"-999999999", b"999999999", b"1000000000", b"4294967296", b"034",
    b"00000035", b"", b"x", b"3 4", b"+34", b"999999999999", b"-", b"5000", b"9999", b"10", b"8",
    b"9", b"35",
)  # fmt: skip
_ODD_VALUES = (
    b"", b"0", b"-1", b"-0", b"+5", b"00000000000000000001", b"1.5", b"1e3", b" ", b"Y", b"N",
    b"\x00", b"\xff\xfe", b"=", b"8=FIX.4.4", b"10=000", b"NaN", b"Infinity", b"-.5", b".",
    b"1..2", "\u00e9\u20ac".encode(), b"20250615-25:00:00", b"20250230-10:00:00",
    b"20251315-10:00:00", b"99999999-99:99:99.9999999999", b"20250615-15:06:40.1234567891",
    b"18446744073709551616", b"9223372036854775808", b"-9223372036854775809", b"2147483648",
)  # fmt: skip


def _odd_value(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.55:
        return rng.choice(_ODD_VALUES)
    if roll < 0.7:
        return b"9" * rng.randint(10, 40)
    if roll < 0.75:
        return b"9" * rng.choice((400, 4301, 5000))  # past float range and int()'s digit limit
    if roll < 0.85:
        return rng.randbytes(rng.randint(1, 20)).replace(SOH, b"")
    if roll < 0.92:
        return b"A" * rng.randint(200, 3000)
    return _word(rng) + SOH + _word(rng)


def _odd_tag(rng: random.Random, factory: MessageFactory | None) -> bytes:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(_ODD_TAGS)
    if roll < 0.8 and factory is not None:
        return b"%d" % rng.choice(factory.msg_tags())
    return b"%d" % rng.randint(1, 60000)


def mutate_fields(
    rng: random.Random, fields: list[Field], factory: MessageFactory | None = None
) -> list[Field]:
    """Apply one to three field-level mutations; return the new field list."""
    out = list(fields)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        n = len(out)
        op = rng.randrange(16)
        i = rng.randrange(n) if n else 0
        j = rng.randrange(n) if n else 0
        if n == 0:
            out.append((_odd_tag(rng, factory), _odd_value(rng)))
        elif op == 0:  # duplicate a field
            out.insert(j, out[i])
        elif op == 1:  # remove a field
            del out[i]
        elif op == 2:  # swap two fields
            out[i], out[j] = out[j], out[i]
        elif op == 3:  # move a field
            out.insert(j, out.pop(i))
        elif op == 4:  # odd value
            out[i] = (out[i][0], _odd_value(rng))
        elif op == 5:  # odd tag
            out[i] = (_odd_tag(rng, factory), out[i][1])
        elif op == 6:  # extra field, well-formed or not
            if factory is not None and rng.random() < 0.6:
                number = rng.choice(factory.msg_tags())
                out.insert(j, (b"%d" % number, factory.value(rng, number)))
            else:
                out.insert(j, (_odd_tag(rng, factory), _odd_value(rng)))
        elif op == 7:  # a data field whose length is wrong
            length_tag, data_tag = rng.choice([*_codec_py.DATA_FIELDS.items(), (5000, 5001)])
            payload = _payload(rng)
            claimed = rng.choice(
                (len(payload) + rng.randint(1, 5), max(0, len(payload) - rng.randint(1, 5)), 0,
                 999_999_999, 10**12, len(payload))
            )  # fmt: skip
            length = rng.choice((b"%d" % claimed, b"-1", b"x", b""))
            pair = [(b"%d" % length_tag, length), (b"%d" % data_tag, payload)]
            if rng.random() < 0.2:
                pair.reverse()
            out[j:j] = pair
        elif op == 8:  # SOH inside a value
            tag, value = out[i]
            k = rng.randint(0, len(value))
            out[i] = (tag, value[:k] + SOH + value[k:])
        elif op == 9:  # another MsgType
            mt = rng.choice(factory.msg_types).encode() if factory and rng.random() < 0.6 else None
            value = mt if mt is not None else rng.choice((b"", b"ZZ", b"A\x00", b"0" * 5, b"U1"))
            out = [(t, value) if t == b"35" else (t, v) for t, v in out]
        elif op == 10:  # empty value
            out[i] = (out[i][0], b"")
        elif op == 11:  # shuffle everything after MsgType
            rest = out[1:]
            rng.shuffle(rest)
            out = out[:1] + rest
        elif op == 12:  # reverse a slice
            lo, hi = sorted((i, j))
            out[lo : hi + 1] = out[lo : hi + 1][::-1]
        elif op == 13:  # numbers at the edges
            out[i] = (
                out[i][0],
                rng.choice((b"0", b"-1", b"4294967296", b"9" * rng.randint(19, 30))),
            )
        elif op == 14:  # a NumInGroup that lies
            counts = [
                k for k, (t, v) in enumerate(out)
                if v.isdigit() and factory is not None and t.isdigit()
                and (f := factory.field(int(t))) is not None and f.type == "NUMINGROUP"
            ]  # fmt: skip
            k = rng.choice(counts) if counts else i
            tag, value = out[k]
            base = int(value) if value.isdigit() and len(value) < 6 else 1
            out[k] = (tag, b"%d" % rng.choice((0, base + 1, max(0, base - 1), 10**6)))
        else:  # duplicate a run of fields (a group instance, say)
            lo, hi = sorted((i, j))
            out[hi + 1 : hi + 1] = out[lo : min(hi + 1, lo + 8)]
    return out


_BEGIN_STRINGS = (
    b"FIX.4.0", b"FIX.4.2", b"FIX.4.4", b"FIXT.1.1", b"FIX.4.4.4", b"", b"FIX", b"X" * 40,
    b"FIX.4.4\x00", b"fix.4.4",
)  # fmt: skip
_TOKENS = (
    b"8=FIX.4.4\x01", b"8=FIXT.1.1\x019=", b"\x0110=", b"\x019=", b"8=FIX", b"\x01", b"10=000\x01",
    b"=", b"\x0135=", b"\x0110=000\x01",
)  # fmt: skip


def corrupt_frame(rng: random.Random, begin: bytes, fields: Sequence[Field]) -> bytes:
    """Serialise ``fields`` with the frame itself damaged (BodyLength, CheckSum, BeginString...)."""
    body_len = len(b"".join(t + b"=" + v + SOH for t, v in fields))
    op = rng.randrange(8)
    if op == 0:
        length = rng.choice(
            (body_len + rng.randint(1, 30), max(0, body_len - rng.randint(1, 30)), 0,
             999_999_999, 10**10, body_len * 1000)
        )  # fmt: skip
        return serialise(begin, fields, body_length=b"%d" % length)
    if op == 1:
        text = rng.choice(
            (b"", b"-5", b"abc", b"0" * 3 + b"%d" % body_len, b"+%d" % body_len, b" 1")
        )
        return serialise(begin, fields, body_length=text)
    if op == 2:
        good = sum(serialise(begin, fields, trailer=False)) & 0xFF
        text = rng.choice(
            (b"%03d" % ((good + rng.randint(1, 255)) & 0xFF), b"%d" % (good % 100), b"1234",
             b"abc", b"", b"%04d" % good, b"-01")
        )  # fmt: skip
        return serialise(begin, fields, checksum=text)
    if op == 3:
        return serialise(rng.choice([b for b in _BEGIN_STRINGS if b != begin]), fields)
    if op == 4:  # no trailer, or a field after it
        if rng.random() < 0.5:
            return serialise(begin, fields, trailer=False) + rng.choice((b"", b"58=after\x01"))
        return serialise(begin, fields)[:-1] + rng.choice((b"58=after\x01", b"0\x01", b"|"))
    if op == 5:  # BodyLength not second
        data = serialise(begin, fields)
        soh = data.find(SOH)
        nxt = data.find(SOH, soh + 1)
        third = data.find(SOH, nxt + 1)
        return (
            data[: soh + 1]
            + data[nxt + 1 : third + 1]
            + data[soh + 1 : nxt + 1]
            + data[third + 1 :]
        )
    if op == 6:  # no BeginString
        data = serialise(begin, fields)
        return data[data.find(SOH) + 1 :]
    # a checksum right for the damaged frame, a length that is not
    body = b"".join(t + b"=" + v + SOH for t, v in fields)
    head = b"8=" + begin + b"\x019=%d\x01" % (len(body) + rng.choice((-1, 1))) + body
    return head + b"10=%03d\x01" % (sum(head) & 0xFF)


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """Apply one to four byte-level mutations."""
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4))):
        n = len(buf)
        op = rng.randrange(9)
        i = rng.randrange(n + 1)
        if op == 0 and n:  # flip bits
            k = min(i, n - 1)
            buf[k] ^= 1 << rng.randrange(8)
        elif op == 1:  # insert random bytes
            buf[i:i] = rng.randbytes(rng.randint(1, 4))
        elif op == 2 and n:  # delete bytes
            del buf[i : i + rng.randint(1, 8)]
        elif op == 3 and n:  # overwrite with a framing byte
            k = min(i, n - 1)
            buf[k] = rng.choice(b"\x01=089|")
        elif op == 4:  # truncate
            del buf[i:]
        elif op == 5 and n:  # duplicate a slice
            j = rng.randrange(n)
            lo, hi = sorted((i, j))
            buf[hi:hi] = buf[lo:hi][:64]
        elif op == 6:  # insert a framing token
            buf[i:i] = rng.choice(_TOKENS)
        elif op == 7 and rng.random() < 0.2:  # SOH written as '|'
            buf = bytearray(bytes(buf).replace(SOH, b"|"))
        else:  # swap two bytes
            if n > 1:
                j = rng.randrange(n)
                k = min(i, n - 1)
                buf[k], buf[j] = buf[j], buf[k]
    return bytes(buf)


def random_bytes(rng: random.Random) -> bytes:
    """Plain noise, sometimes from an alphabet close to FIX's."""
    n = rng.choice((rng.randint(0, 40), rng.randint(0, 300), rng.randint(0, 3000)))
    if rng.random() < 0.5:
        return rng.randbytes(n)
    return bytes(rng.choice(b"0123456789=\x01FIX.8|T") for _ in range(min(n, 400)))


def chunkings(rng: random.Random, data: bytes) -> list[bytes]:
    """Cut ``data`` into chunks: whole, random cuts, a fixed small size, or byte by byte."""
    n = len(data)
    roll = rng.random()
    if roll < 0.25 or n < 2:
        return [data]
    if roll < 0.7 or n > 3000:
        cuts = sorted(rng.sample(range(1, n), min(n - 1, rng.randint(1, 8))))
        return [data[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    if roll < 0.9 or n > 600:
        size = rng.randint(1, 32)
        return [data[k : k + size] for k in range(0, n, size)]
    return [data[k : k + 1] for k in range(n)]


# -- factories, cached per process ------------------------------------------------------------
_factories: dict[tuple[str, str | None], MessageFactory] = {}
_dictionaries: dict[str, DataDictionary] = {}


def _load(name: str) -> DataDictionary:
    """A shipped dictionary, loaded once per process."""
    dd = _dictionaries.get(name)
    if dd is None:
        dd = _dictionaries[name] = dictionary.load(name)
    return dd


def factory_for(begin_string: str, app: str | None = None) -> MessageFactory:
    """A cached :class:`MessageFactory` (dictionaries load once per process)."""
    key = (begin_string, app)
    factory = _factories.get(key)
    if factory is None:
        factory = _factories[key] = MessageFactory(begin_string, app)
    return factory


def warm_up() -> None:
    """Load every dictionary and factory now, so that no input pays for it (or looks slow)."""
    for begin, (_, apps) in VERSIONS.items():
        for app in apps or (None,):
            factory_for(begin, app)
    for name in dictionary.available():
        _load(name)


def _random_factory(rng: random.Random) -> MessageFactory:
    begin = rng.choice(
        ("FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIX.4.4", "FIXT.1.1")
    )
    apps = VERSIONS[begin][1]
    return factory_for(begin, rng.choice(apps) if apps else None)


def draw_frame(rng: random.Random, factory: MessageFactory, valid_framing: float = 0.7) -> bytes:
    """One message: valid, with damaged fields, a damaged frame, or damaged bytes."""
    seq = rng.choice((1, 2, rng.randint(1, 10**6)))
    fields = factory.message(rng, header=header_fields(b"TW", b"ISLD", seq, START))
    roll = rng.random()
    if roll < 0.2:
        return serialise(factory.begin, fields)
    fields = mutate_fields(rng, fields, factory)
    if roll < 0.2 + valid_framing * 0.8:
        return serialise(factory.begin, fields)
    if rng.random() < 0.5:
        return corrupt_frame(rng, factory.begin, fields)
    return mutate_bytes(rng, serialise(factory.begin, fields))


def draw_stream(rng: random.Random) -> bytes:
    """Several pieces: messages (good and damaged), splices, big frames, noise."""
    pieces: list[bytes] = []
    for _ in range(rng.choice((1, 2, 3, 4, 6))):
        roll = rng.random()
        factory = _random_factory(rng)
        if roll < 0.78:
            pieces.append(draw_frame(rng, factory, valid_framing=0.5))
        elif roll < 0.86:
            a = draw_frame(rng, factory)
            b = draw_frame(rng, _random_factory(rng))
            pieces.append(a[: rng.randint(0, len(a))] + b[rng.randint(0, len(b)) :])
        elif roll < 0.9:  # a big message: a long data field or many fields
            fields = factory.message(rng, header=header_fields(b"TW", b"ISLD", 7, START))
            payload = rng.randbytes(rng.choice((300, 2000, 70_000)))
            fields += [(b"95", b"%d" % len(payload)), (b"96", payload)]
            pieces.append(serialise(factory.begin, fields))
        else:
            pieces.append(random_bytes(rng))
    return b"".join(pieces)


# -- targets ---------------------------------------------------------------------------------
class Target:
    """A fuzz target: draws inputs from a ``random.Random`` and checks them.

    ``run`` draws one input, writes its JSON-able form into ``case`` (as it is
    made, so that a failing input is kept even when checking raised) and checks
    it; ``replay`` checks a recorded input again. Both return counts of what was
    seen (for the report) and raise on a failure: :class:`InvariantViolation` for a
    broken property, anything else is a crash.
    """

    name = "target"

    def run(self, rng: random.Random, case: dict[str, Any]) -> Stats:
        """Draw an input into ``case`` and check it."""
        raise NotImplementedError

    def replay(self, case: dict[str, Any]) -> Stats:
        """Check a recorded input."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the target holds between inputs (temporary files)."""


def _same_item(a: Any, b: Any) -> bool:
    if isinstance(a, GarbledMessage) or isinstance(b, GarbledMessage):
        return bool(a == b)
    return bool(a.raw == b.raw and a.fields() == b.fields())


class FramerTarget(Target):
    """Both Parsers on the same chunks: agreement, byte accounting, bounded buffer."""

    name = "framer"

    def __init__(self) -> None:
        compiled = _compiled_codec()
        self.codecs: list[ModuleType] = [_codec_py] + ([compiled] if compiled else [])
        warm_up()

    def run(self, rng: random.Random, case: dict[str, Any]) -> Stats:
        case["max_message_size"] = rng.choice((64, 128, 256, 512, 4096, 4096, 1 << 20, 1 << 20))
        case["resync"] = rng.choice(("begin-string", "trailer"))
        case["data_fields"] = {"5000": 5001} if rng.random() < 0.1 else {}
        case["chunks"] = [_latin(c) for c in chunkings(rng, draw_stream(rng))]
        return self.replay(case)

    def replay(self, case: dict[str, Any]) -> Stats:
        max_size = int(case["max_message_size"])
        extra = {int(k): int(v) for k, v in case.get("data_fields", {}).items()}
        chunks = [_unlatin(c) for c in case["chunks"]]
        parsers = [
            c.Parser(max_message_size=max_size, resync=case["resync"], data_fields=extra or None)
            for c in self.codecs
        ]
        stream = b"".join(chunks)
        stats: Stats = collections.Counter()
        offset = fed = 0
        for chunk in chunks:
            outs = [p.feed(chunk) for p in parsers]
            fed += len(chunk)
            ref = outs[0]
            for name, other, parser in zip(("compiled",), outs[1:], parsers[1:], strict=False):
                if len(other) != len(ref) or not all(map(_same_item, ref, other)):
                    k = next(
                        (
                            k
                            for k, (a, b) in enumerate(zip(ref, other, strict=False))
                            if not _same_item(a, b)
                        ),
                        min(len(ref), len(other)),
                    )
                    raise InvariantViolation(
                        f"{name} and pure framers differ at item {k} of a chunk: "
                        f"pure {ref[k : k + 1]!r}, {name} {other[k : k + 1]!r}"
                    )
                _expect(
                    parser.buffered == parsers[0].buffered,
                    "buffered differs: pure {}, {} {}",
                    parsers[0].buffered,
                    name,
                    parser.buffered,
                )
            for item in ref:
                if isinstance(item, GarbledMessage):
                    _expect(item.size > 0, "empty GarbledMessage {!r}", item)
                    _expect(isinstance(item.reason, GarbleReason), "bad reason {!r}", item)
                    _expect(
                        item.data == stream[offset : offset + min(item.size, 256)],
                        "GarbledMessage at {} does not hold the dropped bytes: {!r}",
                        offset,
                        item,
                    )
                    offset += item.size
                    stats["garbled_" + item.reason.name.lower()] += 1
                    continue
                raw = item.raw
                _expect(raw is not None, "decoded message without raw")
                assert raw is not None
                _expect(
                    stream[offset : offset + len(raw)] == raw,
                    "message at {} is not the bytes of the stream there",
                    offset,
                )
                _expect(len(raw) <= max_size, "{}-byte message over {}", len(raw), max_size)
                tail = raw.rfind(b"\x0110=")
                _expect(
                    tail > 0 and int(raw[tail + 4 : -1]) == sum(raw[: tail + 1]) & 0xFF,
                    "message with a wrong CheckSum accepted: {!r}",
                    raw,
                )
                for codec in self.codecs:
                    # the frame alone frames again to the same message (decode() too,
                    # unless it holds a data field only the extra table knows)
                    alone = codec.Parser(max_size, case["resync"], extra or None).feed(raw)
                    _expect(
                        len(alone) == 1 and _same_item(alone[0], item),
                        "the frame alone frames differently: {!r}",
                        raw,
                    )
                    if not extra:
                        again = codec.decode(raw)
                        _expect(
                            again.fields() == item.fields(),
                            "decode disagrees with the framer: {!r}",
                            raw,
                        )
                offset += len(raw)
                stats["messages"] += 1
            buffered = parsers[0].buffered
            _expect(
                offset + buffered == fed,
                "bytes lost: {} fed, {} returned, {} buffered",
                fed,
                offset,
                buffered,
            )
            _expect(
                buffered <= max_size + BUFFER_SLACK,
                "{} bytes buffered with max_message_size {}",
                buffered,
                max_size,
            )
        stats["bytes"] += fed
        return stats


_REASONS = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 99})


class DecoderTarget(Target):
    """``decode`` with both codecs, then ``validate`` and the typed getters."""

    name = "decoder"

    def __init__(self) -> None:
        compiled = _compiled_codec()
        self.codecs: list[ModuleType] = [_codec_py] + ([compiled] if compiled else [])
        self._validation = importlib.import_module("fixengine.validation")
        self._validators: dict[tuple[int, int, Any], Any] = {}
        warm_up()

    def run(self, rng: random.Random, case: dict[str, Any]) -> Stats:
        factory = _random_factory(rng)
        case["begin_string"] = factory.begin_string
        case["app"] = factory.app_name
        if rng.random() < 0.15:  # a dictionary of another version (a misconfiguration)
            case["other"] = rng.choice(dictionary.available())
        case["options"] = {
            name: rng.random() < 0.85 or rng.random() < 0.7
            for name in (
                "validate_user_defined_fields", "validate_fields_out_of_order",
                "validate_fields_have_values", "validate_unordered_group_fields",
                "check_enums", "check_formats",
            )
        }  # fmt: skip
        case["options"]["allow_unknown_msg_fields"] = rng.random() < 0.05
        case["frame"] = _latin(draw_frame(rng, factory, valid_framing=0.85))
        return self.replay(case)

    def replay(self, case: dict[str, Any]) -> Stats:
        validation = self._validation
        data = _unlatin(case["frame"])
        stats: Stats = collections.Counter()
        results: list[Any] = []
        for codec in self.codecs:
            try:
                results.append(codec.decode(data))
            except GarbledMessage as exc:
                results.append(exc)
        for other in results[1:]:
            _expect(_same_item(results[0], other), "codecs decode differently: {!r}", results)
        if isinstance(results[0], GarbledMessage):
            stats["garbled"] += 1
            return stats
        stats["decoded"] += 1
        options = validation.ValidationOptions(**case.get("options", {}))
        session_name, _ = VERSIONS[case["begin_string"]]
        pairs: list[tuple[DataDictionary, DataDictionary | None]] = [
            (_load(session_name), _load(case["app"]) if case["app"] else None)
        ]
        if case.get("other"):
            pairs.append((_load(case["other"]), None))
        for dd, app in pairs:
            validator = self._validator(dd, app, options)
            verdicts = []
            for k, msg in enumerate(results):
                try:
                    if k == 0:  # the public function, then the (cached) class
                        verdicts.append(
                            validation.validate(msg, dd, app_dictionary=app, options=options)
                        )
                    else:
                        verdicts.append(validator.validate(msg))
                except LocalProtocolError:
                    # documented: a FIXT.1.1 application message with no application dictionary
                    _expect(
                        dd.is_transport
                        and app is None
                        and msg.msg_type not in dd._by_msg_type_bytes,
                        "validate raised LocalProtocolError for {!r}",
                        msg,
                    )
                    verdicts.append("LocalProtocolError")
            _expect(
                all(v == verdicts[0] for v in verdicts),
                "codecs' messages judged differently: {}",
                verdicts,
            )
            verdict = verdicts[0]
            if verdict is None:
                stats["valid"] += 1
                msg = results[-1]
                mt = msg.get(35)
                exact = validator._exact(msg.fields(), mt, validator._plan(mt) if mt else None)
                _expect(
                    exact is None,
                    "fast pass accepted what the exact pass rejects: {}",
                    exact,
                )
            elif verdict != "LocalProtocolError":
                _expect(verdict.reason in _REASONS, "unknown SessionRejectReason {}", verdict)
                _expect(
                    verdict.tag is None or isinstance(verdict.tag, int),
                    "bad RefTagID {}",
                    verdict,
                )
                _expect(isinstance(verdict.text, str) and verdict.text, "no Text in {}", verdict)
                stats[f"reject_{verdict.reason}"] += 1
            self._read_all(results[-1], app or dd, stats)
        encoded = [codec.encode(msg) for codec, msg in zip(self.codecs, results, strict=True)]
        _expect(all(e == encoded[0] for e in encoded), "codecs encode the same message differently")
        for codec in self.codecs:
            try:
                again = codec.decode(encoded[0])
            except GarbledMessage:
                stats["reencoded_garbled"] += 1
                continue
            _expect(again.get(35) == results[0].get(35), "re-encoded message lost its MsgType")
        for msg in results:
            repr(msg)
            _expect(msg.copy() == msg, "copy differs from the message")
        return stats

    def _validator(self, dd: DataDictionary, app: DataDictionary | None, options: Any) -> Any:
        """A Validator per (dictionaries, options), the last few kept (plans are costly)."""
        key = (id(dd), id(app), options)
        cache = self._validators
        validator = cache.get(key)
        if validator is None:
            validator = cache[key] = self._validation.Validator(dd, app, options)
            if len(cache) > 48:
                del cache[next(iter(cache))]
        return validator

    @staticmethod
    def _read_all(msg: Any, dd: DataDictionary, stats: Stats) -> None:
        """Typed getters raise ValueError at most; groups read or raise ValueError."""
        for tag, _ in msg.fields():
            fdef = dd.fields.get(tag)
            if fdef is None:
                continue
            try:
                if fdef.type in _INTEGER:
                    msg.get_int(tag)
                elif fdef.type in _NUMERIC:
                    msg.get_decimal(tag)
                else:
                    msg.get_str(tag)
            except ValueError:
                stats["getter_value_error"] += 1
            if fdef.type == "NUMINGROUP":
                try:
                    msg.group(tag, dd)
                except ValueError:
                    stats["group_value_error"] += 1


# -- the session -------------------------------------------------------------------------
_SESSION_VERSIONS = ("FIX.4.0", "FIX.4.2", "FIX.4.4", "FIX.4.4", "FIXT.1.1")
_MAX_STEPS = 60


_ADMIN = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})
_SENT_NAMES = {
    b"0": "heartbeat", b"1": "test_request", b"2": "resend_request", b"3": "reject",
    b"4": "sequence_reset", b"5": "logout", b"A": "logon", b"j": "business_reject",
}  # fmt: skip


_validators: dict[tuple[str, str | None, Any], Any] = {}  # ours, to judge what is delivered


class _SessionRun:
    """One acceptor driven step by step, with the invariants checked after every step."""

    def __init__(self, setup: dict[str, Any], workdir: Callable[[], str]) -> None:
        from ..session import events as ev
        from ..session.config import SessionConfig
        from ..session.session import Session
        from ..session.state import SessionState
        from ..session.store import MemoryStore

        self.ev = ev
        self.states = SessionState
        self.now = START
        begin = setup["begin_string"]
        self.factory = factory_for(begin, setup.get("app"))
        kw = dict(setup.get("config", {}))
        if begin == "FIXT.1.1":
            kw["default_appl_ver_id"] = "FIX.5.0SP2"
        role = setup.get("role", "acceptor")
        if role == "initiator":
            kw["heartbeat_interval"] = int(setup.get("heartbeat", 30))
        self.config = SessionConfig(begin, "ISLD", "TW", role=role, **kw)
        store_kind = setup.get("store", "memory")
        self.store: Any
        if store_kind == "file":
            from ..session.store_file import FileStore

            self.store = FileStore(workdir(), self.config.session_id, fsync="never", now=self.now)
        elif store_kind == "sqlite":
            from ..session.store_sqlite import SqliteStore

            self.store = SqliteStore(workdir(), self.config.session_id, fsync="never", now=self.now)
        else:
            self.store = MemoryStore(self.now)
        dd = app = None
        if setup.get("dictionary", True):
            dd = self.factory.session_dd
            app = self.factory.app_dd if self.factory.app_name else None
        self.validator: Callable[[Any], Any] | None = None
        if dd is not None and self.config.use_data_dictionary:
            from ..validation import ValidationOptions, Validator

            options = ValidationOptions.from_config(self.config)
            key = (begin, setup.get("app"), options)
            validator = _validators.get(key)
            if validator is None:
                validator = _validators[key] = Validator(dd, app, options)
            self.validator = validator.validate
        self.session = Session(
            self.config, self.store, dictionary=dd, app_dictionary=app,
            confirm_delivery=bool(setup.get("confirm_delivery")),
        )  # fmt: skip
        compiled = _compiled_codec()
        self._codec = compiled if compiled is not None else _codec_py
        self._out_parser = self._codec.Parser()
        self.heartbeat = int(setup.get("heartbeat", 30))
        self.begin = begin.encode()
        self.delivered: set[int] = set()
        self.last_delivered = 0
        self.last_out = self.session.next_sender_seq - 1
        self.unconfirmed: list[int] = []
        self.stats: Stats = collections.Counter()
        self.pending = b""  # bytes of drawn peer messages not yet fed
        self.last_app: Any = None  # the last application message delivered
        self.peer_next = 0

    def close(self) -> None:
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    # -- executing a recorded step -----------------------------------------------------------
    def step(self, step: Sequence[Any]) -> None:
        s = self.session
        kind = step[0]
        target_before = s.next_target_seq
        received = 0
        if kind == "connect":
            s.connection_made(self.now)
        elif kind == "lost":
            s.connection_lost(self.now)
            self._out_parser = self._codec.Parser()
        elif kind == "recv":
            data = _unlatin(step[1])
            received = len(data)
            s.receive_data(data, self.now)
        elif kind == "time":
            self._tick(float(step[1]))
        elif kind == "send":
            from ..codec import Message

            msg = Message(str(step[1]))
            msg.append(11, b"ORD%d" % s.next_sender_seq)
            msg.append(58, b"x" * int(step[2]) if len(step) > 2 else b"hello")
            s.send(msg, self.now)
        elif kind == "handled":
            s.message_handled(int(step[1]))
        elif kind == "logout":
            s.logout(self.now, "bye")
        elif kind == "business_reject":
            if self.last_app is not None:
                s.send_business_reject(self.last_app, int(step[1]), "not handled", self.now)
        else:
            raise ValueError(f"unknown step {step!r}")
        self.stats[f"step_{kind}"] += 1
        self.stats["steps"] += 1
        self._check(target_before, received)

    def _tick(self, seconds: float) -> None:
        s = self.session
        end = self.now + seconds
        for _ in range(10_000):
            when = s.get_timer()
            if when is None or when > end:
                break
            self.now = max(self.now, when)
            s.handle_timer(self.now)
            after = s.get_timer()
            _expect(
                after is None or after > self.now or s.state is self.states.DISCONNECTING,
                "handle_timer({}) left get_timer() at {} ({})",
                self.now,
                after,
                s.state.name,
            )
        else:
            raise InvariantViolation("timer loop: 10000 handle_timer calls within one advance")
        self.now = end

    # -- invariants ------------------------------------------------------------------------
    def _check(self, target_before: int, received: int) -> None:
        ev = self.ev
        s = self.session
        events = []
        while (event := s.next_event()) is not None:
            events.append(event)
        resets = 0
        for event in events:
            self.stats["ev_" + type(event).__name__] += 1
            if isinstance(event, ev.StoreReset):
                resets += 1
                self.delivered.clear()
                self.last_delivered = 0
                self.unconfirmed.clear()
            elif isinstance(event, ev.MessageReceived):
                self._check_delivered(event.message)
            elif isinstance(event, ev.DisconnectRequested):
                _expect(
                    s.state in (self.states.DISCONNECTING, self.states.DISCONNECTED),
                    "DisconnectRequested in state {}",
                    s.state.name,
                )
        # a frame is at least 20 bytes; a garbled run at least one byte per 5-byte "8=FIX"
        _expect(len(events) <= 64 + received // 2, "{} events for {} bytes", len(events), received)
        _expect(
            s.next_target_seq >= target_before or resets,
            "NextTargetSeq went from {} to {} without a reset",
            target_before,
            s.next_target_seq,
        )
        out = s.data_to_send()
        items = self._out_parser.feed(out)
        _expect(self._out_parser.buffered == 0, "the session sent a partial frame")
        _expect(
            len(items) <= s.next_sender_seq + 16,
            "{} messages sent in one step with next sender seq {}",
            len(items),
            s.next_sender_seq,
        )
        restarts = resets
        for item in items:
            _expect(
                not isinstance(item, GarbledMessage),
                "the session sent a garbled frame {!r}",
                item,
            )
            restarts = self._check_sent(item, restarts)
        if resets and s.next_sender_seq == 1:
            self.last_out = 0
        _expect(
            self.last_out == s.next_sender_seq - 1,
            "last MsgSeqNum sent {}, next sender seq {}",
            self.last_out,
            s.next_sender_seq,
        )
        queue = getattr(s, "_queue", {})
        _expect(
            len(queue) <= self.config.max_queued_messages,
            "{} messages queued, limit {}",
            len(queue),
            self.config.max_queued_messages,
        )
        _expect(
            s.next_sender_seq == self.store.next_sender_seq(),
            "next sender seq {}, store {}",
            s.next_sender_seq,
            self.store.next_sender_seq(),
        )
        if not getattr(s, "_confirm", False):
            _expect(
                s.next_target_seq == self.store.next_target_seq(),
                "next target seq {}, store {}",
                s.next_target_seq,
                self.store.next_target_seq(),
            )
        self.stats["sent"] += len(items)

    def _check_delivered(self, msg: Any) -> None:
        seq = int(msg.get(34))
        poss_dup = msg.get(43) == b"Y"
        _expect(
            seq not in self.delivered or poss_dup,
            "application message {} delivered twice without PossDupFlag",
            seq,
        )
        _expect(
            seq > self.last_delivered,
            "message {} delivered after {}",
            seq,
            self.last_delivered,
        )
        self.delivered.add(seq)
        self.last_delivered = seq
        _expect(msg.get(8) == self.begin, "delivered with BeginString {!r}", msg.get(8))
        _expect(msg.msg_type not in _ADMIN, "admin message delivered")
        if self.config.check_comp_id:
            _expect(msg.get(49) == b"TW" and msg.get(56) == b"ISLD", "delivered with wrong CompIDs")
        if self.validator is not None:
            verdict = self.validator(msg)
            _expect(verdict is None, "delivered a message validation rejects: {}", verdict)
        self.unconfirmed.append(seq)
        self.last_app = msg
        self.stats["delivered"] += 1

    def _check_sent(self, msg: Any, restarts: int) -> int:
        """Check one message we sent; ``restarts``: times MsgSeqNum may start again at 1."""
        _expect(msg.get(8) == self.begin, "sent BeginString {!r}", msg.get(8))
        _expect(msg.get(49) == b"ISLD" and msg.get(56) == b"TW", "sent with wrong CompIDs")
        if self.validator is not None and msg.msg_type in _ADMIN:
            # what the session writes itself must pass the peer's validation
            verdict = self.validator(msg)
            _expect(verdict is None, "sent a message validation rejects: {} {!r}", verdict, msg)
        seq = msg.get_int(34)
        _expect(seq is not None and seq >= 1, "sent MsgSeqNum {!r}", msg.get(34))
        assert seq is not None
        if msg.get(43) == b"Y":
            _expect(seq <= self.last_out, "resent {}, never sent (last {})", seq, self.last_out)
            self.stats["resent"] += 1
            return restarts
        if seq != self.last_out + 1:
            _expect(restarts and seq == 1, "sent MsgSeqNum {} after {}", seq, self.last_out)
            restarts -= 1
        self.last_out = seq
        self.stats["sent_" + _SENT_NAMES.get(msg.msg_type, "app")] += 1
        return restarts

    # -- drawing the next step ---------------------------------------------------------------
    def draw(self, rng: random.Random) -> list[Any]:
        s = self.session
        state = s.state
        st = self.states
        if state is st.DISCONNECTING and self.pending and rng.random() < 0.3:
            return self._feed_pending(rng)  # bytes read before the transport closed
        if state is st.DISCONNECTING or (state is not st.DISCONNECTED and rng.random() < 0.01):
            self.pending = b""
            return ["lost"]
        if state is st.DISCONNECTED:
            return ["connect"]
        if self.pending and rng.random() < 0.8:
            return self._feed_pending(rng)
        roll = rng.random()
        if state is st.AWAITING_LOGON or state is st.LOGON_SENT:
            if roll < 0.85:
                self._queue_bytes(rng, self._logon(rng))
                return self._feed_pending(rng)
            return ["time", rng.choice((0.5, 5.0, 15.0))]
        if roll < 0.15:
            return ["time", rng.choice((0.001, 0.5, 1.0, self.heartbeat * 0.6, self.heartbeat * 1.3,
                                        self.heartbeat * 2.5, -1.0))]  # fmt: skip
        if roll < 0.22 and s.is_logged_on:
            types = self.factory.app_types or ["D"]
            return ["send", rng.choice(types[:20]), rng.choice((5, 5, 500))]
        if roll < 0.25 and self.unconfirmed:
            seq = rng.choice([*self.unconfirmed, rng.randint(0, 50)])
            if seq in self.unconfirmed:
                self.unconfirmed.remove(seq)
            return ["handled", seq]
        if roll < 0.26 and s.is_logged_on:
            return ["logout"]
        if roll < 0.28 and s.is_logged_on and self.last_app is not None:
            return ["business_reject", rng.choice((0, 3, 5))]
        self._queue_bytes(rng, self._peer_message(rng))
        return self._feed_pending(rng)

    def _queue_bytes(self, rng: random.Random, fields: list[Field]) -> None:
        roll = rng.random()
        if roll < 0.85:
            data = serialise(self.begin, fields)
        elif roll < 0.9:
            data = serialise(self.begin, mutate_fields(rng, fields, self.factory))
        elif roll < 0.95:
            data = corrupt_frame(rng, self.begin, fields)
        elif roll < 0.98:
            data = mutate_bytes(rng, serialise(self.begin, fields))
        else:
            data = random_bytes(rng)[:200]
        self.pending += data

    def _feed_pending(self, rng: random.Random) -> list[Any]:
        data = self.pending
        cut = len(data) if rng.random() < 0.6 else rng.randint(1, max(1, len(data)))
        self.pending = data[cut:]
        return ["recv", _latin(data[:cut])]

    def _seq(self, rng: random.Random) -> bytes:
        expected = self.session.next_target_seq
        if self.pending:
            expected = max(expected, self.peer_next)
        roll = rng.random()
        if roll < 0.7:
            seq = expected
        elif roll < 0.82:
            seq = expected + rng.randint(1, 6)
        elif roll < 0.94:
            seq = max(1, expected - rng.randint(1, 3))
        else:
            return rng.choice((b"0", b"-1", b"", b"x", b"9" * 19, b"18446744073709551617",
                               b"9" * 5000, b"0000%d" % expected))  # fmt: skip
        self.peer_next = seq + 1
        return b"%d" % seq

    def _header(self, rng: random.Random, seq: bytes | None = None) -> list[Field]:
        when = self.now
        roll = rng.random()
        if roll < 0.04:
            when += rng.choice((-300.0, 300.0, -86400.0))
        fields = header_fields(b"TW", b"ISLD", seq if seq is not None else self._seq(rng), when)
        if roll > 0.97:
            fields[0] = (b"49", rng.choice((b"XX", b"", b"ISLD")))
        if rng.random() < 0.12:  # a possible duplicate
            orig = rng.choice((_stamp(when - 1), _stamp(when + 60), b"garbage", None))
            fields.append((b"43", b"Y"))
            if orig is not None:
                fields.append((b"122", orig))
        if roll > 0.94 and roll <= 0.97:
            fields[3] = (
                b"52",
                rng.choice((b"20250615", b"bad", b"", b"20250615-15:06:40.1234567890")),
            )
        return fields

    def _logon(self, rng: random.Random) -> list[Field]:
        reset = rng.random() < 0.25
        seq = b"1" if reset else self._seq(rng)
        body = [(b"98", b"0"), (b"108", b"%d" % self.heartbeat)]
        if reset:
            body.append((b"141", b"Y"))
        if self.factory.app_name:
            body.append((b"1137", b"9"))
        if rng.random() < 0.1:
            body.append((b"789", b"%d" % rng.randint(1, self.session.next_sender_seq + 2)))
        if rng.random() < 0.05:
            body[1] = (b"108", rng.choice((b"-1", b"x", b"9" * 400, b"0")))
        return [(b"35", b"A"), *self._header(rng, seq), *body]

    def _peer_message(self, rng: random.Random) -> list[Field]:
        s = self.session
        kind = rng.random()
        if kind < 0.4:
            mt = rng.choice(self.factory.app_types or ["D"])
            return self.factory.message(rng, mt, self._header(rng), optional=0.05)
        header = self._header(rng)
        last = s.next_sender_seq
        if kind < 0.5:
            body = [(b"35", b"0")] + ([(b"112", b"TEST")] if rng.random() < 0.3 else [])
        elif kind < 0.57:
            body = [(b"35", b"1"), (b"112", _word(rng))]
        elif kind < 0.67:
            begin = rng.randint(1, last + 2)
            end = rng.choice((0, begin, last, last + 5, 999999, rng.randint(0, last + 3)))
            body = [(b"35", b"2"), (b"7", b"%d" % begin), (b"16", b"%d" % end)]
        elif kind < 0.78:
            new = s.next_target_seq + rng.randint(-3, 8)
            body = [(b"35", b"4"), (b"123", b"Y"), (b"36", b"%d" % max(0, new))]
        elif kind < 0.82:
            new = s.next_target_seq + rng.randint(-3, 8)
            body = [(b"35", b"4"), (b"36", b"%d" % max(0, new))]
            if rng.random() < 0.2:
                body.append((b"36", rng.choice((b"9" * 25, b"x", b""))))
        elif kind < 0.88:
            body = [(b"35", b"3"), (b"45", b"%d" % rng.randint(1, last)), (b"58", b"no")]
            if self.begin >= b"FIX.4.2":
                body += [(b"371", b"55"), (b"372", b"D"), (b"373", b"%d" % rng.randint(0, 18))]
        elif kind < 0.9:
            body = [(b"35", b"5")] + ([(b"58", b"bye")] if rng.random() < 0.5 else [])
        elif kind < 0.93:
            return self._logon(rng)
        else:
            return self.factory.message(rng, None, header, optional=0.05)
        return [body[0], *header, *body[1:]]


class SessionTarget(Target):
    """A logged-on acceptor fed peer messages, clock advances, sends and reconnects."""

    name = "session"

    def __init__(self) -> None:
        self._tmp: str | None = None
        self._count = 0
        warm_up()

    def _workdir(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="fixengine-fuzz-")
        self._count += 1
        path = os.path.join(self._tmp, str(self._count))
        os.mkdir(path)
        return path

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    @staticmethod
    def draw_setup(rng: random.Random) -> dict[str, Any]:
        """Version, dictionary, store and settings of one session."""
        begin = rng.choice(_SESSION_VERSIONS)
        roll = rng.random()
        config: dict[str, Any] = {
            "max_queued_messages": rng.choice((3, 20, 10_000)),
            "resend_request_chunk_size": rng.choice((0, 0, 0, 2, 5)),
            "send_redundant_resend_requests": rng.random() < 0.15,
            # NextExpectedMsgSeqNum(789) exists from FIX.4.4 on
            "enable_next_expected_msg_seq_num": begin >= "FIX.4.4" and rng.random() < 0.15,
            "garbled_recovery": rng.choice(("begin-string", "trailer")),
            "max_message_size": rng.choice((1024, 4096, 1 << 20)),
            "reset_on_logout": rng.random() < 0.1,
            "reset_on_disconnect": rng.random() < 0.1,
            "resend_session_level_rejects": rng.random() < 0.1,
            "validate_user_defined_fields": rng.random() < 0.9,
            "allow_unknown_msg_fields": rng.random() < 0.1,
            "check_latency": rng.random() < 0.9,
            "persist_messages": rng.random() < 0.95,
            "reset_on_logon": rng.random() < 0.05,
        }
        return {
            "begin_string": begin,
            "app": "FIX50SP2" if begin == "FIXT.1.1" else None,
            "dictionary": rng.random() < 0.85,
            "store": "sqlite" if roll < 0.005 else "file" if roll < 0.025 else "memory",
            "confirm_delivery": rng.random() < 0.2,
            "heartbeat": rng.choice((1, 5, 30)),
            "role": "initiator" if rng.random() < 0.2 else "acceptor",
            "config": config,
        }

    def run(self, rng: random.Random, case: dict[str, Any]) -> Stats:
        case["setup"] = self.draw_setup(rng)
        steps: list[list[Any]] = []
        case["steps"] = steps
        driver = _SessionRun(case["setup"], self._workdir)
        try:
            count = rng.choice((5, 10, 20, 40, _MAX_STEPS))
            for _ in range(count):
                step = driver.draw(rng)
                steps.append(step)
                driver.step(step)
        finally:
            driver.close()
        return driver.stats

    def replay(self, case: dict[str, Any]) -> Stats:
        driver = _SessionRun(case["setup"], self._workdir)
        try:
            for step in case["steps"]:
                driver.step(step)
        finally:
            driver.close()
        return driver.stats


#: The built-in targets, by name.
TARGETS: dict[str, Callable[[], Target]] = {
    "framer": FramerTarget,
    "decoder": DecoderTarget,
    "session": SessionTarget,
}


# -- running ---------------------------------------------------------------------------------
@dataclasses.dataclass
class FuzzOptions:
    """What to run: ``inputs`` inputs from index ``start`` of run ``seed``."""

    inputs: int = 10_000
    seed: int = 0
    start: int = 0
    targets: tuple[str, ...] = ("framer", "decoder", "session")
    deadline: float = 1.0
    """An input taking longer than this (seconds) is a hang."""
    watchdog: float = 10.0
    """A worker stuck this long in one input is killed (isolated runs)."""
    save: str | None = None
    """Directory where failing inputs are written as JSON."""
    max_rss_growth_mb: float = 64.0
    """RSS growth (second half of the run over the first) above which the run fails."""
    saves_per_failure: int = 5
    """Inputs saved per distinct failure (same kind, target, error type and place)."""


@dataclasses.dataclass
class _TargetTally:
    inputs: int = 0
    crashes: int = 0
    violations: int = 0
    hangs: int = 0
    seconds: float = 0.0
    slowest_ms: float = 0.0
    slowest_index: int = -1
    stats: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)


@dataclasses.dataclass
class FuzzReport:
    """The outcome of a run; :meth:`to_dict` is what ``--json`` prints."""

    options: FuzzOptions
    inputs: int = 0
    seconds: float = 0.0
    per_target: dict[str, _TargetTally] = dataclasses.field(default_factory=dict)
    failures: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    rss_samples_mb: list[float] = dataclasses.field(default_factory=list)
    max_rss_mb: float = 0.0
    isolated: bool = False
    worker_restarts: int = 0
    saved: dict[str, int] = dataclasses.field(default_factory=dict)
    """Inputs saved so far per distinct failure (carried across a worker's partial reports)."""

    def tally(self, target: str) -> _TargetTally:
        """The counts of ``target`` (made on first use)."""
        return self.per_target.setdefault(target, _TargetTally())

    @property
    def crashes(self) -> int:
        """Inputs that raised an unexpected exception."""
        return sum(t.crashes for t in self.per_target.values())

    @property
    def violations(self) -> int:
        """Inputs that broke an invariant."""
        return sum(t.violations for t in self.per_target.values())

    @property
    def hangs(self) -> int:
        """Inputs slower than the deadline, interrupted, or killed."""
        return sum(t.hangs for t in self.per_target.values())

    @property
    def rss_growth_mb(self) -> float:
        """How much higher RSS went in the second half of the run than in the first.

        Caches fill in the first half (dictionaries, validation plans); a leak keeps
        growing and shows here, in proportion to the run's length.
        """
        samples = self.rss_samples_mb
        if len(samples) < 4:
            return 0.0
        half = len(samples) // 2
        return max(0.0, max(samples[half:]) - max(samples[:half]))

    def rss_profile(self, points: int = 11) -> list[float]:
        """RSS at ``points`` evenly spaced moments of the run (first and last included), MB."""
        samples = self.rss_samples_mb
        if not samples:
            return []
        n = len(samples)
        picks = sorted({round(k * (n - 1) / max(1, points - 1)) for k in range(points)})
        return [round(samples[k], 1) for k in picks]

    @property
    def memory_ok(self) -> bool:
        """RSS grew by at most ``max_rss_growth_mb`` in the second half of the run."""
        return self.rss_growth_mb <= self.options.max_rss_growth_mb

    @property
    def ok(self) -> bool:
        """No crash, violation or hang, and memory stayed bounded."""
        return not (self.crashes or self.violations or self.hangs) and self.memory_ok

    def to_dict(self) -> dict[str, Any]:
        """The JSON report."""
        compiled = _compiled_codec() is not None
        return {
            "seed": self.options.seed,
            "start": self.options.start,
            "inputs": self.inputs,
            "targets": list(self.options.targets),
            "crashes": self.crashes,
            "violations": self.violations,
            "hangs": self.hangs,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "inputs_per_s": round(self.inputs / self.seconds, 1) if self.seconds else 0.0,
            "deadline_s": self.options.deadline,
            "max_rss_mb": round(self.max_rss_mb, 1),
            "rss_first_mb": round(self.rss_samples_mb[0], 1) if self.rss_samples_mb else None,
            "rss_last_mb": round(self.rss_samples_mb[-1], 1) if self.rss_samples_mb else None,
            "rss_growth_mb": round(self.rss_growth_mb, 1),
            "rss_profile_mb": self.rss_profile(),
            "memory_ok": self.memory_ok,
            "per_target": {
                name: {
                    "inputs": t.inputs,
                    "crashes": t.crashes,
                    "violations": t.violations,
                    "hangs": t.hangs,
                    "seconds": round(t.seconds, 3),
                    "inputs_per_s": round(t.inputs / t.seconds, 1) if t.seconds else 0.0,
                    "slowest_ms": round(t.slowest_ms, 2),
                    "slowest_index": t.slowest_index,
                    "stats": dict(sorted(t.stats.items())),
                }
                for name, t in sorted(self.per_target.items())
            },
            "failures": sorted(self.failures.values(), key=lambda f: f["first_index"]),
            "compiled_codec": compiled,
            "isolated": self.isolated,
            "worker_restarts": self.worker_restarts,
            "python": platform.python_version(),
        }


def _rss_mb() -> float:
    """Resident set size now (Linux), else the peak so far."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


class _Stuck(BaseException):
    """Raised by the timer signal inside an input that overran the watchdog."""


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Interrupt the block with :class:`_Stuck` after ``seconds`` (main thread, POSIX)."""
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def fire(signum: int, frame: FrameType | None) -> None:
        raise _Stuck()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame of ``exc``'s traceback."""
    tb = traceback.extract_tb(exc.__traceback__)
    if not tb:
        return "?"
    frame = tb[-1]
    return f"{os.path.basename(frame.filename)}:{frame.lineno}"


def _rng(seed: int, index: int) -> random.Random:
    return random.Random(seed * _SEED_SPACE + index)


def _record(
    report: FuzzReport,
    kind: str,
    target: str,
    index: int,
    error: str,
    where: str,
    case: dict[str, Any] | None,
    elapsed: float | None = None,
) -> dict[str, Any]:
    """Count a failure, save its input (a few per distinct failure); return its record."""
    tally = report.tally(target)
    if kind == "crash":
        tally.crashes += 1
    elif kind == "violation":
        tally.violations += 1
    else:
        tally.hangs += 1
    error_type = error.split(":", 1)[0]
    key = f"{kind}|{target}|{error_type}|{where}"
    entry = report.failures.get(key)
    if entry is None:
        entry = report.failures[key] = {
            "kind": kind, "target": target, "error": error[:300], "where": where,
            "count": 0, "first_index": index, "files": [],
        }  # fmt: skip
    entry["count"] += 1
    options = report.options
    if options.save and report.saved.get(key, 0) < options.saves_per_failure:
        report.saved[key] = report.saved.get(key, 0) + 1
        os.makedirs(options.save, exist_ok=True)
        path = os.path.join(options.save, f"{target}-{kind}-s{options.seed}-i{index}.json")
        record = {
            "target": target,
            "kind": kind,
            "seed": options.seed,
            "index": index,
            "error": error[:2000],
            "where": where,
            "seconds": None if elapsed is None else round(elapsed, 3),
            "regenerate": f"fixengine bench fuzz --target {target} --seed {options.seed} "
            f"--start {index} --inputs 1",
            "input": case,
        }
        with open(path, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
            f.write("\n")
        entry["files"].append(path)
    return entry


def _run_one(target: Target, options: FuzzOptions, index: int, report: FuzzReport) -> None:
    """Draw and check input ``index``; count it and any failure in ``report``."""
    rng = _rng(options.seed, index)
    case: dict[str, Any] = {}
    tally = report.tally(target.name)
    t0 = time.perf_counter()
    failure: tuple[str, str, str] | None = None
    try:
        with _alarm(options.watchdog):
            stats = target.run(rng, case)
        tally.stats.update(stats)
    except _Stuck:
        failure = ("hang", f"Stuck: interrupted after {options.watchdog} s", "?")
    except InvariantViolation as exc:
        failure = ("violation", f"InvariantViolation: {exc}", _where(exc))
    except Exception as exc:  # any exception is a crash, and is recorded
        failure = ("crash", f"{type(exc).__name__}: {exc}", _where(exc))
    elapsed = time.perf_counter() - t0
    tally.inputs += 1
    tally.seconds += elapsed
    if elapsed * 1e3 > tally.slowest_ms:
        tally.slowest_ms = elapsed * 1e3
        tally.slowest_index = index
    if failure is None and elapsed > options.deadline:
        failure = ("hang", f"Slow: {elapsed:.3f} s (deadline {options.deadline} s)", "?")
    if failure is not None:
        _record(report, *failure[:1], target.name, index, failure[1], failure[2], case, elapsed)


_RSS_EVERY = 256


def fuzz(
    options: FuzzOptions,
    targets: Sequence[Target] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> FuzzReport:
    """Run the inputs in this process; ``targets`` replaces the built-in ones (tests)."""
    if targets is None:
        targets = [TARGETS[name]() for name in options.targets]
    else:
        options = dataclasses.replace(options, targets=tuple(t.name for t in targets))
    report = FuzzReport(options)
    t0 = time.perf_counter()
    report.rss_samples_mb.append(_rss_mb())
    try:
        for k in range(options.inputs):
            index = options.start + k
            _run_one(targets[index % len(targets)], options, index, report)
            report.inputs += 1
            if report.inputs % _RSS_EVERY == 0:
                report.rss_samples_mb.append(_rss_mb())
                if progress is not None:
                    progress(report.inputs)
    finally:
        for target in targets:
            target.close()
    report.rss_samples_mb.append(_rss_mb())
    report.max_rss_mb = max(report.rss_samples_mb)
    report.seconds = time.perf_counter() - t0
    return report


# -- isolated runs: a worker process and a watchdog ------------------------------------------
def _worker(
    options: FuzzOptions,
    factories: Sequence[Callable[[], Target]],
    start: int,
    count: int,
    current: Any,
    conn: Any,
) -> None:
    """Run inputs [start, start + count) and send partial reports to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    targets = [make() for make in factories]
    saved: dict[str, int] = {}
    part = FuzzReport(options, saved=saved)
    try:
        for index in range(start, start + count):
            current.value = index
            failures = part.crashes + part.violations + part.hangs
            _run_one(targets[index % len(targets)], options, index, part)
            part.inputs += 1
            full = part.inputs >= _RSS_EVERY
            if full:
                part.rss_samples_mb.append(_rss_mb())
            # a failure goes to the parent at once: the worker may not live to send it
            if full or part.crashes + part.violations + part.hangs != failures:
                conn.send(("part", _portable(part)))
                part = FuzzReport(options, saved=saved)
        conn.send(("part", _portable(part)))
    finally:
        for target in targets:
            target.close()
    conn.send(("done", None))


def _portable(report: FuzzReport) -> dict[str, Any]:
    return {
        "inputs": report.inputs,
        "per_target": {
            name: {
                **{f.name: getattr(t, f.name) for f in dataclasses.fields(t)},
                "stats": dict(t.stats),
            }
            for name, t in report.per_target.items()
        },
        "failures": report.failures,
        "rss": report.rss_samples_mb,
    }


def _merge(report: FuzzReport, part: dict[str, Any]) -> None:
    report.inputs += part["inputs"]
    for name, t in part["per_target"].items():
        tally = report.tally(name)
        tally.inputs += t["inputs"]
        tally.crashes += t["crashes"]
        tally.violations += t["violations"]
        tally.hangs += t["hangs"]
        tally.seconds += t["seconds"]
        if t["slowest_ms"] > tally.slowest_ms:
            tally.slowest_ms = t["slowest_ms"]
            tally.slowest_index = t["slowest_index"]
        tally.stats.update(t["stats"])
    for key, entry in part["failures"].items():
        mine = report.failures.get(key)
        if mine is None:
            report.failures[key] = entry
        else:
            mine["count"] += entry["count"]
            mine["first_index"] = min(mine["first_index"], entry["first_index"])
            room = report.options.saves_per_failure - len(mine["files"])
            mine["files"] += entry["files"][: max(0, room)]
    report.rss_samples_mb += part["rss"]


def kill_after(watchdog: float) -> float:
    """Seconds without progress after which the parent kills the worker."""
    return 2 * watchdog + 1.0


def fuzz_isolated(
    options: FuzzOptions,
    factories: Sequence[Callable[[], Target]] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> FuzzReport:
    """Run the inputs in a worker process, watched.

    Inside the worker an input is interrupted after ``watchdog`` seconds; a worker
    that makes no progress for :func:`kill_after` seconds (stuck where no signal
    reaches, e.g. a loop in C) is killed, and one that dies (a segfault) is noted:
    either way its input is recorded and a new worker resumes at the next input.
    ``factories`` replaces the built-in targets (with the "spawn" start method they
    must be picklable).
    """
    if factories is None:
        factories = [TARGETS[name] for name in options.targets]
    else:
        names = tuple(getattr(make, "name", None) or make().name for make in factories)
        options = dataclasses.replace(options, targets=names)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx: Any = multiprocessing.get_context(method)
    report = FuzzReport(options, isolated=True)
    t0 = time.perf_counter()
    next_index = options.start
    end = options.start + options.inputs
    while next_index < end:
        current = ctx.Value("q", next_index - 1, lock=False)
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_worker,
            args=(options, list(factories), next_index, end - next_index, current, sender),
            daemon=True,
        )
        proc.start()
        sender.close()
        seen, since = current.value, time.monotonic()
        finished = False
        stuck = False
        while True:
            try:
                ready = receiver.poll(0.2)
            except (EOFError, OSError):
                ready = False
            if ready:
                try:
                    kind, part = receiver.recv()
                except (EOFError, OSError):
                    break
                if kind == "done":
                    finished = True
                    break
                _merge(report, part)
                next_index = options.start + report.inputs
                if progress is not None:
                    progress(report.inputs)
                continue
            if not proc.is_alive():
                # drain what it sent before dying
                while receiver.poll(0):
                    try:
                        kind, part = receiver.recv()
                    except (EOFError, OSError):
                        break
                    if kind == "part":
                        _merge(report, part)
                    else:
                        finished = True
                break
            value = current.value
            if value != seen:
                seen, since = value, time.monotonic()
            elif time.monotonic() - since > kill_after(options.watchdog):
                stuck = True
                proc.kill()
                break
        proc.join(timeout=5)
        receiver.close()
        if finished:
            break
        # the worker died or was killed in input ``current``: inputs before it whose
        # report was not sent yet are lost from the counts; the failing one is recorded
        failed = max(current.value, next_index)
        names = options.targets
        for index in range(options.start + report.inputs, failed + 1):
            report.tally(names[index % len(names)]).inputs += 1  # their timings are lost
        report.inputs = failed + 1 - options.start
        target = names[failed % len(names)]
        code = proc.exitcode
        if stuck:
            kind, error = "hang", f"Killed: no progress for {kill_after(options.watchdog)} s"
        else:
            kind, error = "crash", f"WorkerDied: exit code {code}"
        _record(report, kind, target, failed, error, "?", None)
        report.worker_restarts += 1
        next_index = failed + 1
    report.max_rss_mb = max(report.rss_samples_mb, default=0.0)
    report.seconds = time.perf_counter() - t0
    return report


def _recorded(record: dict[str, Any], target: Target) -> dict[str, Any]:
    """The input of a saved record; regenerated from its seed and index if not recorded."""
    case = record.get("input")
    if case:
        return dict(case)
    case = {}
    with contextlib.suppress(Exception):  # the failure itself is not the point here
        target.run(_rng(int(record["seed"]), int(record["index"])), case)
    return case


def replay(path: str, targets: dict[str, Target] | None = None) -> Stats:
    """Check a saved input again (raises like the target does); regenerate it if not recorded."""
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    made = targets if targets is not None else {}
    name = record["target"]
    target = made.get(name) or TARGETS[name]()
    try:
        if record.get("input"):
            return target.replay(record["input"])
        return target.run(_rng(int(record["seed"]), int(record["index"])), {})
    finally:
        if targets is None:
            target.close()


def failure_of(target: Target, case: dict[str, Any]) -> str | None:
    """``"<ExceptionType> at <file:line>"`` if replaying ``case`` fails, else None."""
    try:
        target.replay(case)
    except Exception as exc:  # the failure is the answer
        return f"{type(exc).__name__} at {_where(exc)}"
    return None


def _shrink_list(items: list[Any], fails: Callable[[list[Any]], bool]) -> list[Any]:
    """Drop runs of items, halving the run length, while ``fails`` stays true (ddmin-like)."""
    size = max(1, len(items) // 2)
    while True:
        k = 0
        while k < len(items):
            trial = items[:k] + items[k + size :]
            if trial and fails(trial):
                items = trial
            else:
                k += size
        if size == 1:
            return items
        size = max(1, size // 2)


def minimize(target: Target, case: dict[str, Any], budget: int = 2000) -> dict[str, Any]:
    """A smaller input that fails the same way (same exception type and place).

    Session inputs lose steps, framer inputs lose chunks (then try one chunk),
    decoder inputs lose fields. At most ``budget`` replays.
    """
    want = failure_of(target, case)
    if want is None:
        return case
    tries = [0]

    def same(trial: dict[str, Any]) -> bool:
        tries[0] += 1
        return tries[0] <= budget and failure_of(target, trial) == want

    case = json.loads(json.dumps(case))
    if "steps" in case:
        case["steps"] = _shrink_list(case["steps"], lambda s: same({**case, "steps": s}))
    if "chunks" in case:
        case["chunks"] = _shrink_list(case["chunks"], lambda c: same({**case, "chunks": c}))
        whole = ["".join(case["chunks"])]
        if len(case["chunks"]) > 1 and same({**case, "chunks": whole}):
            case["chunks"] = whole
    if "frame" in case:
        case["frame"] = _shrink_frame(case["frame"], lambda f: same({**case, "frame": f}))
    return case


def _shrink_frame(frame: str, fails: Callable[[str], bool]) -> str:
    """Drop fields of a frame; re-framed (BodyLength, CheckSum) when it framed to begin with."""
    try:
        msg = _codec_py.decode(_unlatin(frame))
    except GarbledMessage:
        msg = None
    if msg is not None:
        begin = msg.get(8) or b""
        body = [(b"%d" % t, v) for t, v in msg.fields() if t not in (8, 9, 10)]

        def framed(fields: list[Field]) -> str:
            return _latin(serialise(begin, fields))

        if fails(framed(body)):
            return framed(_shrink_list(body, lambda f: fails(framed(f))))
    parts = [p + "\x01" for p in frame.split("\x01")]
    parts[-1] = parts[-1][:-1]
    return "".join(_shrink_list(parts, lambda p: fails("".join(p))))


# -- command line ----------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fixengine bench fuzz``."""
    parser.add_argument("--inputs", type=int, default=10_000, help="inputs to run (default 10000)")
    parser.add_argument("--seed", type=int, default=None, help="run seed (default: random)")
    parser.add_argument("--start", type=int, default=0, help="first input index (resume a run)")
    parser.add_argument(
        "--target", choices=("framer", "decoder", "session", "all"), default="all",
        help="what to fuzz (default all, taking turns)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--save", metavar="DIR", help="write failing inputs to DIR as JSON")
    parser.add_argument("--deadline", type=float, default=1.0, help="per-input hang threshold, s")
    parser.add_argument(
        "--watchdog", type=float, default=10.0,
        help="interrupt an input stuck this long, s (an unresponsive worker is killed after "
        "twice that plus 1 s)",
    )  # fmt: skip
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="no worker process (a hang in C code then stops the run)",
    )
    parser.add_argument("--max-rss-growth", type=float, default=64.0, help="allowed RSS growth, MB")
    parser.add_argument("--replay", nargs="+", metavar="FILE", help="check saved inputs again")
    parser.add_argument(
        "--minimize", action="store_true", help="with --replay: write FILE.min.json, shrunk"
    )
    parser.add_argument("--progress", action="store_true", help="progress on stderr")


def _replay_files(paths: Sequence[str], as_json: bool, shrink: bool) -> int:
    """``--replay``: check saved inputs; with ``--minimize`` write a shrunk copy of failing ones."""
    results: list[dict[str, Any]] = []
    failed = 0
    targets: dict[str, Target] = {}
    try:
        for path in paths:
            with open(path, encoding="utf-8") as f:
                record = json.load(f)
            name = record["target"]
            if name not in targets:
                targets[name] = TARGETS[name]()
            result: dict[str, Any] = {"file": path, "ok": True}
            try:
                replay(path, targets)
            except Exception as exc:  # reported per file
                failed += 1
                result.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
                if shrink:
                    small = minimize(targets[name], _recorded(record, targets[name]))
                    out = os.path.splitext(path)[0] + ".min.json"
                    with open(out, "w", encoding="utf-8") as f:
                        json.dump({**record, "input": small}, f, indent=1)
                        f.write("\n")
                    result["minimized"] = out
            results.append(result)
    finally:
        for target in targets.values():
            target.close()
    if as_json:
        print(json.dumps({"replayed": len(paths), "failed": failed, "results": results}))
    else:
        for r in results:
            line = ("ok    " if r["ok"] else "FAIL  ") + r["file"]
            if not r["ok"]:
                line += f"  {r['error']}"
            if "minimized" in r:
                line += f"  (shrunk: {r['minimized']})"
            print(line)
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``fixengine bench fuzz``."""
    if args.replay:
        return _replay_files(args.replay, args.json, args.minimize)
    if args.inputs < 0 or args.start < 0:
        print("fixengine bench fuzz: --inputs and --start must not be negative", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    if seed < 0:
        print("fixengine bench fuzz: --seed must not be negative", file=sys.stderr)
        return 2
    targets = tuple(TARGETS) if args.target == "all" else (args.target,)
    options = FuzzOptions(
        inputs=args.inputs, seed=seed, start=args.start, targets=targets,
        deadline=args.deadline, watchdog=args.watchdog, save=args.save,
        max_rss_growth_mb=args.max_rss_growth,
    )  # fmt: skip

    def progress(done: int) -> None:
        if args.progress:
            print(f"\r{done}/{options.inputs} inputs", end="", file=sys.stderr, flush=True)

    if args.in_process:
        report = fuzz(options, progress=progress)
    else:
        report = fuzz_isolated(options, progress=progress)
    if args.progress:
        print(file=sys.stderr)
    result = report.to_dict()
    if args.json:
        print(json.dumps(result))
    else:
        _print_table(result)
    return 0 if report.ok else 1


def _print_table(r: dict[str, Any]) -> None:
    print(
        f"seed {r['seed']}  inputs {r['inputs']} (from {r['start']})  {r['seconds']} s  "
        f"{r['inputs_per_s']} inputs/s  compiled codec: {'yes' if r['compiled_codec'] else 'no'}"
    )
    print(
        f"crashes {r['crashes']}  violations {r['violations']}  hangs {r['hangs']}  "
        f"max RSS {r['max_rss_mb']} MB (growth {r['rss_growth_mb']} MB)"
    )
    heads = (
        ("inputs", 9),
        ("crash", 6),
        ("viol", 6),
        ("hang", 6),
        ("inputs/s", 10),
        ("slowest ms", 11),
    )
    print(f"{'target':<9} " + " ".join(f"{h:>{w}}" for h, w in heads))
    for name, t in r["per_target"].items():
        print(
            f"{name:<9} {t['inputs']:>9} {t['crashes']:>6} {t['violations']:>6} {t['hangs']:>6} "
            f"{t['inputs_per_s']:>10} {t['slowest_ms']:>11}"
        )
    for f in r["failures"]:
        files = f", saved: {', '.join(f['files'])}" if f["files"] else ""
        print(
            f"  {f['kind']} x{f['count']} in {f['target']} (first input {f['first_index']}) "
            f"at {f['where']}: {f['error']}{files}"
        )
    print("OK" if r["ok"] else "FAILED")
