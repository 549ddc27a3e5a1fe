"""Pretty-print the FIX messages found in log files, captures or standard input.

``fixengine decode [FILE...]``.

Theory of operation
-------------------
Input is any text (or bytes) that contains FIX messages: raw wire captures (SOH
separators), messages written with ``|`` or ``^A`` (also ``<SOH>`` and the U+2401
symbol) in place of SOH, this engine's JSON-lines message logs
(:mod:`fixengine.log`, one ``{"msg": ...}`` object per line, event lines are
skipped) and QuickFIX's ``*.messages.current.log`` files (a timestamp, `` : `` and
the message). :func:`scan` reads it line by line and finds every ``8=FIX...``: the
separator is whatever stands between the BeginString value and ``9=``; the message
ends with its CheckSum field ``10=NNN``. Separators are turned back into SOH, so a
message copied out of a log decodes to the bytes that were on the wire, and each
message is checked with the strict codec (:func:`fixengine.codec.decode`: framing,
BodyLength, CheckSum). A message that fails is still shown, field by field, and
flagged with the reason (and the BodyLength/CheckSum it should have had); text
that only looks like the start of a message is flagged as incomplete. Nothing in
the input ever raises out of this module.

Names come from the data dictionary of the message's BeginString. For FIXT.1.1 the
header, trailer and session messages use the FIXT11 transport dictionary and
application messages the dictionary of ApplVerID(1128), else of the
DefaultApplVerID(1137) the session's Logon announced earlier in the same input,
else ``--appl-ver-id`` (default FIX.5.0SP2). ``--dictionary`` overrides the choice.

Repeating groups are laid out from the dictionary: a NumInGroup field opens the
group, its delimiter (first field) opens each instance, and the first tag that is
not a member closes it, as the framer-independent group parser does
(:mod:`fixengine.groups`); instances are indented under their NumInGroup field.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

from .codec import checksum
from .codec import decode as strict_decode
from .dictionary import APPL_VER_IDS, DataDictionary, GroupDef, Layout
from .dictionary import load as load_dictionary
from .errors import ConfigError, GarbledMessage, GarbleReason

__all__ = [
    "DecodedField",
    "DecodedMessage",
    "Decoder",
    "FoundMessage",
    "add_arguments",
    "format_json",
    "format_text",
    "run",
    "scan",
]

SOH = b"\x01"

# BeginString value, then the separator, then BodyLength's tag
_START = re.compile(
    rb"8=(FIXT?\.[0-9]{1,2}\.[0-9]{1,2}(?:SP[0-9])?)(\x01|\^A|<SOH>|\\x01|\xe2\x90\x81|\|)9="
)
_ADMIN_TYPES = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})
_APPL_VER_NAMES = {
    "FIX.4.0": "2",
    "FIX.4.1": "3",
    "FIX.4.2": "4",
    "FIX.4.3": "5",
    "FIX.4.4": "6",
    "FIX.5.0": "7",
    "FIX.5.0SP1": "8",
    "FIX.5.0SP2": "9",
}


@dataclasses.dataclass(frozen=True, slots=True)
class FoundMessage:
    """A message located in the input, separators already turned back into SOH.

    ``complete`` is False when no CheckSum(10) field ended it (cut-off text).
    ``context`` carries what the input said around it: the text before it on its
    line (a QuickFIX timestamp), or the other keys of a JSON log record.
    """

    raw: bytes
    source: str
    line: int
    complete: bool
    separator: str
    context: dict[str, Any]


@dataclasses.dataclass(slots=True)
class DecodedField:
    """One field with its dictionary name and enum meaning; ``groups`` for NumInGroup."""

    tag: int | None
    value: bytes
    name: str | None = None
    enum: str | None = None
    note: str | None = None
    groups: list[list[DecodedField]] | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form."""
        out: dict[str, Any] = {
            "tag": self.tag,
            "name": self.name,
            "value": _text(self.value),
        }
        if self.enum is not None:
            out["enum"] = self.enum
        if self.note is not None:
            out["note"] = self.note
        if self.groups is not None:
            out["groups"] = [[f.to_json() for f in inst] for inst in self.groups]
        return out


@dataclasses.dataclass(slots=True)
class DecodedMessage:
    """A found message, named and laid out; ``error`` says why it is flagged, if it is."""

    found: FoundMessage
    fields: list[DecodedField]
    begin_string: str | None
    msg_type: str | None
    msg_type_name: str | None
    dictionary: str | None
    error: str | None

    @property
    def valid(self) -> bool:
        """True when the message is well framed (BodyLength, CheckSum, field syntax)."""
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (one object per message for ``--json``)."""
        return {
            "source": self.found.source,
            "line": self.found.line,
            "begin_string": self.begin_string,
            "msg_type": self.msg_type,
            "msg_type_name": self.msg_type_name,
            "dictionary": self.dictionary,
            "valid": self.valid,
            "error": self.error,
            "context": self.found.context,
            "fields": [f.to_json() for f in self.fields],
        }


def _text(value: bytes) -> str:
    return value.decode("utf-8", "backslashreplace")


# -- finding messages ------------------------------------------------------------------------


def scan(data: bytes | Iterable[bytes], source: str = "<stdin>") -> Iterator[FoundMessage]:
    """Every FIX message in ``data`` (bytes, or lines as read from a binary file), in order."""
    lines = data.split(b"\n") if isinstance(data, bytes) else data
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip(b"\r\n")
        if not line:
            continue
        stripped = line.lstrip()
        if stripped.startswith(b"{"):
            record = _json_record(stripped)
            if record is not None:
                msg = record.pop("msg", None)
                if isinstance(msg, str):
                    yield from _scan_line(msg.encode("utf-8"), source, lineno, record)
                continue
        yield from _scan_line(line, source, lineno, None)


def _json_record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _scan_line(
    line: bytes, source: str, lineno: int, record: dict[str, Any] | None
) -> Iterator[FoundMessage]:
    pos = 0
    while True:
        m = _START.search(line, pos)
        if m is None:
            return
        start = m.start()
        sep = m.group(2)
        trailer = _trailer(sep)
        # the message ends at its CheckSum field, unless another message starts first
        next_start = _START.search(line, m.end())
        limit = next_start.start() if next_start is not None else len(line)
        t = trailer.search(line, m.end(), limit)
        if t is not None:
            end = t.end()
            if line.startswith(sep, end):
                end += len(sep)
            complete = True
        else:
            end = limit
            complete = False
        body = line[start:end]
        if sep != SOH:
            body = body.replace(sep, SOH)
        if complete and not body.endswith(SOH):
            body += SOH
        if record is not None:
            context = dict(record)
        else:
            prefix = line[:start].strip() if pos == 0 else b""
            prefix = prefix.rstrip(b":").strip()
            context = {"prefix": _text(prefix[:200])} if prefix else {}
        yield FoundMessage(
            raw=body,
            source=source,
            line=lineno,
            complete=complete,
            separator=_separator_name(sep),
            context=context,
        )
        pos = max(end, m.end())


_TRAILERS: dict[bytes, re.Pattern[bytes]] = {}


def _trailer(sep: bytes) -> re.Pattern[bytes]:
    """``<sep>10=NNN`` followed by the separator, a blank or the end of the line."""
    pattern = _TRAILERS.get(sep)
    if pattern is None:
        s = re.escape(sep)
        pattern = _TRAILERS[sep] = re.compile(s + rb"10=[0-9]{1,3}(?=" + s + rb"|\s|$)")
    return pattern


def _separator_name(sep: bytes) -> str:
    return {SOH: "SOH", b"|": "|", b"^A": "^A"}.get(sep, _text(sep))


# -- decoding ----------------------------------------------------------------------------------


def _split(raw: bytes) -> list[tuple[int | None, bytes]]:
    """Fields of a possibly damaged message: (tag or None when not a number, value)."""
    out: list[tuple[int | None, bytes]] = []
    for part in raw.split(SOH):
        if not part:
            continue
        tag_text, eq, value = part.partition(b"=")
        if eq and tag_text.isdigit() and len(tag_text) <= 9:
            out.append((int(tag_text), value))
        else:
            out.append((None, part))
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class _Framing:
    error: str | None
    body_length: int | None = None  # what BodyLength(9) should say, when it says otherwise
    checksum: int | None = None  # what CheckSum(10) should say, when it says otherwise


def _framing(raw: bytes, found: FoundMessage) -> _Framing:
    """Why ``raw`` is not a well-framed message, and the BodyLength/CheckSum it needs."""
    if not found.complete:
        return _Framing("incomplete: no CheckSum(10) field ends it")
    try:
        strict_decode(raw)
    except GarbledMessage as exc:
        # a BodyLength pointing past the end reads as "oversize" to the strict framer
        kind = GarbleReason.BAD_BODY_LENGTH if exc.reason is GarbleReason.OVERSIZE else exc.reason
        reason = kind.value
    else:
        return _Framing(None)
    body_length = cks = None
    first = raw.find(SOH)
    second = raw.find(SOH, first + 1) if first >= 0 else -1
    trailer = raw.rfind(b"\x0110=")
    if second > 0 and trailer > second:
        expected_length = trailer + 1 - (second + 1)
        if raw[first + 3 : second] != str(expected_length).encode():
            body_length = expected_length
        expected_sum = checksum(raw[: trailer + 1])
        if raw[trailer + 4 : -1] != b"%03d" % expected_sum:
            cks = expected_sum
    return _Framing(f"garbled: {reason}", body_length, cks)


class Decoder:
    """Names and lays out found messages with the right data dictionaries.

    ``dictionary`` (a shipped name or a path) overrides the choice by BeginString;
    ``appl_ver_id`` is the application version assumed for FIXT.1.1 messages that
    neither carry ApplVerID(1128) nor follow a Logon announcing DefaultApplVerID.
    """

    def __init__(self, dictionary: str | None = None, appl_ver_id: str = "FIX.5.0SP2") -> None:
        self._override: DataDictionary | None = None
        if dictionary is not None:
            self._override = load_dictionary(dictionary)
        self._default_appl = _appl_ver_value(appl_ver_id)
        self._cache: dict[str, DataDictionary | None] = {}
        # DefaultApplVerID announced by each FIXT session's Logon: (sender, target) -> value
        self._session_appl: dict[tuple[bytes, bytes], str] = {}

    def _load(self, name: str) -> DataDictionary | None:
        if name not in self._cache:
            try:
                self._cache[name] = load_dictionary(name)
            except ConfigError:
                self._cache[name] = None
        return self._cache[name]

    def dictionaries(
        self, fields: list[tuple[int | None, bytes]]
    ) -> tuple[DataDictionary | None, DataDictionary | None]:
        """(header/trailer dictionary, body dictionary) for a message's fields."""
        values: dict[int, bytes] = {}
        for tag, value in fields:
            if tag is not None and tag not in values:
                values[tag] = value
        begin = values.get(8, b"")
        msg_type = values.get(35)
        override = self._override
        if begin != b"FIXT.1.1":
            if override is not None and not override.is_transport:
                return override, override
            name = _text(begin).replace(".", "") if begin else ""
            dd = self._load(name) if name else None
            return dd, dd
        transport = override if override is not None and override.is_transport else None
        if transport is None:
            transport = self._load("FIXT11")
        sender, target = values.get(49, b""), values.get(56, b"")
        if msg_type == b"A" and 1137 in values:
            announced = _appl_ver_value(_text(values[1137]))
            self._session_appl[(sender, target)] = announced
            self._session_appl[(target, sender)] = announced
        if msg_type in _ADMIN_TYPES:
            return transport, transport
        if override is not None and not override.is_transport:
            return transport, override
        appl = values.get(1128)
        if appl is not None:
            appl_value = _appl_ver_value(_text(appl))
        else:
            appl_value = self._session_appl.get((sender, target), self._default_appl)
        app_name = APPL_VER_IDS.get(appl_value)
        return transport, self._load(app_name) if app_name else None

    def decode(self, found: FoundMessage) -> DecodedMessage:
        """Name every field of ``found`` and nest its repeating groups."""
        fields = _split(found.raw)
        framing = _framing(found.raw, found)
        header_dd, body_dd = self.dictionaries(fields)
        values = {tag: v for tag, v in reversed(fields) if tag is not None}
        msg_type = values.get(35)
        msg_name: str | None = None
        body_layout: Layout | None = None
        if body_dd is not None and msg_type is not None and body_dd.has_message(msg_type):
            mdef = body_dd.message(msg_type)
            msg_name = mdef.name
            body_layout = mdef
        elif msg_type is not None and header_dd is not None and header_dd.has_message(msg_type):
            mdef = header_dd.message(msg_type)
            msg_name = mdef.name
            body_layout = mdef
        decoded = _layout(fields, header_dd, body_dd, body_layout)
        for f in decoded:
            if f.tag == 9 and framing.body_length is not None:
                f.note = f"should be {framing.body_length}"
            elif f.tag == 10 and framing.checksum is not None:
                f.note = f"should be {framing.checksum:03d}"
        names = [dd.version.name for dd in (header_dd, body_dd) if dd is not None]
        return DecodedMessage(
            found=found,
            fields=decoded,
            begin_string=_text(values[8]) if 8 in values else None,
            msg_type=_text(msg_type) if msg_type is not None else None,
            msg_type_name=msg_name,
            dictionary="+".join(dict.fromkeys(names)) or None,
            error=framing.error,
        )


def _appl_ver_value(text: str) -> str:
    """ApplVerID enum value for ``9``, ``FIX.5.0SP2`` or ``FIX50SP2``."""
    text = text.strip()
    if text in APPL_VER_IDS:
        return text
    upper = text.upper()
    for name, value in _APPL_VER_NAMES.items():
        if upper in (name, name.replace(".", "")):
            return value
    return text


def _name(tag: int | None, *dds: DataDictionary | None) -> tuple[str | None, Any]:
    """Field name and definition from the first dictionary that knows ``tag``."""
    if tag is None:
        return None, None
    for dd in dds:
        if dd is not None and tag in dd.fields:
            fdef = dd.fields[tag]
            return fdef.name, fdef
    return None, None


#: Fields whose values are those of another, enumerated field (DefaultApplVerID -> ApplVerID).
_SAME_VALUES_AS = {1137: 1128}


def _describe(tag: int | None, value: bytes, *dds: DataDictionary | None) -> DecodedField:
    name, fdef = _name(tag, *dds)
    if fdef is not None and not fdef.enums and tag in _SAME_VALUES_AS:
        fdef = _name(_SAME_VALUES_AS[tag], *dds)[1] or fdef
    enum: str | None = None
    if fdef is not None and fdef.enums:
        if fdef.is_multi_value:
            parts = [fdef.enums.get(v) for v in value.split(b" ")]
            if all(parts):
                enum = " ".join(p for p in parts if p)
        else:
            enum = fdef.enums.get(value)
    return DecodedField(tag, value, name, enum)


def _layout(
    fields: list[tuple[int | None, bytes]],
    header_dd: DataDictionary | None,
    body_dd: DataDictionary | None,
    body: Layout | None,
) -> list[DecodedField]:
    """Fields in wire order with repeating-group instances nested under their count field."""
    header: Layout | None = header_dd.header if header_dd is not None else None
    trailer: Layout | None = header_dd.trailer if header_dd is not None else None
    top: list[DecodedField] = []
    # open groups, innermost last: (definition, instances, current instance)
    stack: list[tuple[GroupDef, list[list[DecodedField]], list[DecodedField] | None]] = []
    for tag, value in fields:
        while stack and (tag is None or tag not in stack[-1][0]):
            stack.pop()
        field = _describe(tag, value, body_dd, header_dd)
        if stack:
            gdef, instances, current = stack[-1]
            if tag == gdef.delimiter or current is None or _repeats(current, tag):
                current = []
                instances.append(current)
                stack[-1] = (gdef, instances, current)
            current.append(field)
            inner = gdef.groups.get(tag) if tag is not None else None
        else:
            top.append(field)
            inner = None
            if tag is not None:
                for level in (header, body, trailer):
                    if level is not None and tag in level.groups:
                        inner = level.groups[tag]
                        break
        if inner is not None:
            field.groups = []
            stack.append((inner, field.groups, None))
    return top


def _repeats(instance: list[DecodedField], tag: int | None) -> bool:
    return any(f.tag == tag for f in instance)


# -- output --------------------------------------------------------------------------------


def format_text(msg: DecodedMessage, index: int) -> str:
    """A readable block: a title line, flags, then one ``tag (Name) = value (ENUM)`` per line."""
    found = msg.found
    where = f"{found.source}:{found.line}"
    title = msg.msg_type_name or (f"MsgType {msg.msg_type}" if msg.msg_type else "no MsgType")
    head = f"#{index} {title}"
    if msg.msg_type and msg.msg_type_name:
        head += f" (35={msg.msg_type})"
    bits = [b for b in (msg.begin_string, msg.dictionary and f"dictionary {msg.dictionary}") if b]
    lines = [f"{head}  [{where}{', ' if bits else ''}{', '.join(bits)}]"]
    context = found.context
    ctx = [str(context[k]) for k in ("time", "dir", "session") if context.get(k) is not None]
    if "prefix" in context:
        ctx.insert(0, str(context["prefix"]))
    if ctx:
        lines.append("  " + " ".join(ctx))
    if msg.error is not None:
        lines.append(f"  !! {msg.error}")
    _format_fields(msg.fields, "  ", lines)
    return "\n".join(lines)


def _format_fields(fields: Iterable[DecodedField], indent: str, lines: list[str]) -> None:
    for f in fields:
        lines.append(indent + _field_line(f))
        if f.groups is not None:
            _format_instances(f.groups, indent + "  ", lines)


def _format_instances(instances: list[list[DecodedField]], indent: str, lines: list[str]) -> None:
    """Each instance opened by ``- ``, its members aligned under the first one."""
    for inst in instances:
        for i, member in enumerate(inst):
            lines.append(indent + ("- " if i == 0 else "  ") + _field_line(member))
            if member.groups is not None:
                _format_instances(member.groups, indent + "    ", lines)


def _field_line(f: DecodedField) -> str:
    if f.tag is None:
        return f"?? {_text(f.value)!r} (not a tag=value field)"
    text = f"{f.tag} ({f.name or '?'}) = {_text(f.value)}"
    if f.enum is not None:
        text += f" ({f.enum})"
    if f.note is not None:
        text += f"  <- {f.note}"
    return text


def format_json(msg: DecodedMessage) -> str:
    """One JSON object (one line) for ``msg``."""
    return json.dumps(msg.to_json(), ensure_ascii=False)


# -- command ---------------------------------------------------------------------------------


_HELP = """\
Pretty-print the FIX messages found in log files, captures or standard input:
raw wire bytes (SOH), text with | or ^A separators, fixengine's JSON-lines
message logs, QuickFIX's *.messages.current.log. One block per message, one
line per field: tag (FieldName) = value (ENUM), repeating groups indented.
The dictionary follows BeginString (and ApplVerID / DefaultApplVerID for
FIXT.1.1). Damaged messages are shown and flagged with "!!".

Exit status: 0 when every message is well formed, 1 when one is flagged or
none is found, 2 when an input or the dictionary cannot be read."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fixengine decode``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = _HELP
    parser.add_argument(
        "files", nargs="*", metavar="FILE", help="log files or captures (default: stdin; - too)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per message")
    parser.add_argument(
        "--dictionary",
        metavar="PATH",
        help="data dictionary to use for every message (shipped name or file)",
    )
    parser.add_argument(
        "--appl-ver-id",
        default="FIX.5.0SP2",
        metavar="VERSION",
        help="FIXT.1.1 application version when a message does not say (default FIX.5.0SP2)",
    )
    parser.add_argument(
        "-t",
        "--msg-type",
        action="append",
        metavar="TYPE",
        help="show only this MsgType (repeatable), e.g. -t 8 -t D",
    )


def run(args: argparse.Namespace) -> int:
    """Decode the inputs; 0 when every message is well formed, 1 if any is flagged or none
    was found, 2 when an input or the dictionary cannot be read."""
    return decode_files(
        args.files or ["-"],
        json_output=args.json,
        dictionary=args.dictionary,
        appl_ver_id=args.appl_ver_id,
        msg_types=args.msg_type,
    )


def decode_files(
    files: Sequence[str],
    *,
    json_output: bool = False,
    dictionary: str | None = None,
    appl_ver_id: str = "FIX.5.0SP2",
    msg_types: Sequence[str] | None = None,
    stdin: IO[bytes] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """The body of :func:`run`, with injectable streams."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    inp = stdin if stdin is not None else sys.stdin.buffer
    try:
        decoder = Decoder(dictionary, appl_ver_id)
    except ConfigError as exc:
        print(f"fixengine decode: {exc}", file=err)
        return 2
    wanted = set(msg_types) if msg_types else None
    count = flagged = 0
    status = 0
    for path in files:
        source = "<stdin>" if path == "-" else path
        try:
            f = inp if path == "-" else open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            print(f"fixengine decode: cannot read {path}: {exc.strerror or exc}", file=err)
            status = 2
            continue
        try:
            # line by line, so that a large log or a pipe (tail -f) is decoded as it is read
            for found in scan(f, source):
                msg = decoder.decode(found)
                if wanted is not None and msg.msg_type not in wanted:
                    continue
                count += 1
                if not msg.valid:
                    flagged += 1
                if json_output:
                    print(format_json(msg), file=out, flush=True)
                else:
                    if count > 1:
                        print(file=out)
                    print(format_text(msg, count), file=out, flush=True)
        except BrokenPipeError:
            # the reader went away (``| head``): stop quietly
            _silence(out)
            return 0
        except OSError as exc:
            print(f"fixengine decode: cannot read {path}: {exc.strerror or exc}", file=err)
            status = 2
        finally:
            if f is not inp:
                f.close()
    if status:
        return status
    if count == 0:
        print("fixengine decode: no FIX messages found", file=err)
        return 1
    if flagged:
        print(f"fixengine decode: {flagged} of {count} message(s) flagged", file=err)
        return 1
    return 0


def _silence(out: IO[str]) -> None:
    """Point ``out`` at /dev/null so that the interpreter's final flush does not fail too."""
    try:
        fd = out.fileno()
    except (OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
