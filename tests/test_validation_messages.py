"""Every message type of every shipped dictionary: a minimal valid message passes,
and each kind of damage gives the reason and tag the FIX spec assigns.

Messages are built from the dictionary (required fields with a valid value of their
type or enumeration, required groups with one instance) and framed by hand, so the
field order on the wire is exactly the one each case needs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixengine.codec import Message, decode
from fixengine.dictionary import DataDictionary, Layout, MessageDef, load
from fixengine.validation import STANDARD_HEADER_TAGS, STANDARD_TRAILER_TAGS, Validator

Fields = list[tuple[int, bytes]]

# FIX 4.x sessions validate with one dictionary; FIX 5.x application messages travel
# in FIXT.1.1 sessions (header and session messages from FIXT11)
VERSIONS = {
    "FIX40": ("FIX.4.0", "FIX40", None),
    "FIX41": ("FIX.4.1", "FIX41", None),
    "FIX42": ("FIX.4.2", "FIX42", None),
    "FIX43": ("FIX.4.3", "FIX43", None),
    "FIX44": ("FIX.4.4", "FIX44", None),
    "FIX50": ("FIXT.1.1", "FIXT11", "FIX50"),
    "FIX50SP1": ("FIXT.1.1", "FIXT11", "FIX50SP1"),
    "FIX50SP2": ("FIXT.1.1", "FIXT11", "FIX50SP2"),
    "FIXT11": ("FIXT.1.1", "FIXT11", None),
}

# a well-formed value of each type (FIX spec, "Data Types")
SAMPLES = {
    "INT": b"1", "SEQNUM": b"1", "NUMINGROUP": b"0", "TAGNUM": b"1", "LENGTH": b"4",
    "DAYOFMONTH": b"1", "FLOAT": b"1.5", "PRICE": b"1.5", "QTY": b"1.5", "AMT": b"1.5",
    "PRICEOFFSET": b"1.5", "PERCENTAGE": b"0.5", "CHAR": b"A", "BOOLEAN": b"Y",
    "UTCTIMESTAMP": b"20240102-03:04:05.678", "TIME": b"20240102-03:04:05",
    "UTCTIMEONLY": b"03:04:05", "LOCALMKTTIME": b"03:04:05", "UTCDATEONLY": b"20240102",
    "UTCDATE": b"20240102", "LOCALMKTDATE": b"20240102", "DATE": b"20240102",
    "MONTHYEAR": b"202401", "TZTIMEONLY": b"03:04Z", "TZTIMESTAMP": b"20240102-03:04:05Z",
    "MULTIPLECHARVALUE": b"A", "DATA": b"DATA", "XMLDATA": b"<x/>",
}  # fmt: skip
HEADER_VALUES = {49: b"SENDER", 56: b"TARGET", 34: b"7", 52: b"20240102-03:04:05.678"}


class Case:
    """One version: its dictionaries and a validator with default options."""

    def __init__(self, name: str) -> None:
        self.begin_string, session, app = VERSIONS[name]
        self.session: DataDictionary = load(session)
        self.app: DataDictionary = load(app) if app else self.session
        self.validator = Validator(self.session, load(app) if app else None)

    def messages(self) -> Iterator[MessageDef]:
        return iter(sorted(self.app.messages.values(), key=lambda m: m.msg_type))

    def value(self, tag: int) -> bytes:
        fdef = self.app.fields.get(tag) or self.session.field(tag)
        if fdef.enums:
            return next(iter(fdef.enums))
        if fdef.tag in self.app.data_fields:  # a length: that of the sample data value
            data_type = self.app.field(self.app.data_fields[fdef.tag]).type
            return str(len(SAMPLES[data_type])).encode()
        return SAMPLES.get(fdef.type, b"X")

    def needed(self, layout: Layout, group: bool = False) -> list[int]:
        """The tags a minimal instance of one level carries, in dictionary order."""
        needed = set(layout.required)
        if group:
            needed.add(layout.fields[0])
        for length, data in self.app.data_fields.items():
            if length in needed or data in needed:
                needed |= {length, data} & layout.field_set
        return [tag for tag in layout.fields if tag in needed]

    def level(self, layout: Layout, group: bool = False) -> Fields:
        """Required fields of one level (and one instance of each required group)."""
        out: Fields = []
        for tag in self.needed(layout, group):
            gdef = layout.groups.get(tag)
            if gdef is not None:
                out.append((tag, b"1"))
                out.extend(self.level(gdef, group=True))
            else:
                out.append((tag, self.value(tag)))
        return out

    def header(self, msg_type: str) -> Fields:
        out: Fields = [(35, msg_type.encode())]
        for tag in self.session.header.fields:
            if tag in self.session.header.required and tag not in (8, 9, 35):
                out.append((tag, HEADER_VALUES.get(tag) or self.value(tag)))
        return out

    def frame(self, fields: Fields) -> Message:
        """Frame fields in the given order (8, 9 and 10 added) and decode them."""
        content = b"".join(b"%d=%b\x01" % (tag, value) for tag, value in fields)
        head = b"8=%b\x019=%d\x01" % (self.begin_string.encode(), len(content))
        data = head + content
        return decode(data + b"10=%03d\x01" % (sum(data) % 256))

    def check(self, fields: Fields) -> tuple[int, int | None] | None:
        result = self.validator.validate(self.frame(fields))
        return None if result is None else (result.reason, result.tag)

    def top_level(self, message: MessageDef, body: Fields) -> list[int]:
        """Tags of the minimal ``body`` that are top-level fields (not in a group)."""
        return self.needed(message)

    def plain_fields(self, message: MessageDef, body: Fields) -> list[int]:
        """Top-level required fields that are neither groups nor length/data fields."""
        data = set(self.app.data_fields) | set(self.app.data_fields.values())
        return [
            t
            for t in self.top_level(message, body)
            if t not in message.groups and t not in data and t not in STANDARD_HEADER_TAGS
        ]

    def undefined_tag(self, start: int) -> int:
        tag = start
        while tag in self.app.tags or tag in self.session.tags or tag in STANDARD_HEADER_TAGS:
            tag += 1
        return tag


CASES = {name: Case(name) for name in VERSIONS}


def run(name: str, build: object) -> None:
    """Apply ``build(case, message, header, body) -> (fields, expected) | None`` to every
    message type; collect every mismatch."""
    case = CASES[name]
    failures = []
    checked = 0
    for message in case.messages():
        header = case.header(message.msg_type)
        body = case.level(message)
        made = build(case, message, header, body)  # type: ignore[operator]
        if made is None:
            continue
        fields, expected = made
        got = case.check(fields)
        checked += 1
        if got != expected:
            failures.append(f"{message.msg_type} ({message.name}): got {got}, expected {expected}")
    assert failures == []
    assert checked > 0


@pytest.mark.parametrize("name", VERSIONS)
def test_minimal_valid_message_of_every_type_validates_clean(name):
    run(name, lambda c, m, h, b: (h + b, None))


@pytest.mark.parametrize("name", VERSIONS)
def test_dropping_each_required_field_reports_it_missing(name):
    case = CASES[name]
    failures = []
    dropped = 0
    for message in case.messages():
        header = case.header(message.msg_type)
        body = case.level(message)
        for tag in case.top_level(message, body):
            if tag not in message.required:
                continue
            got = case.check(header + [f for f in body if f[0] != tag])
            dropped += 1
            if got != (1, tag):
                failures.append(f"{message.msg_type} without {tag}: got {got}")
    assert failures == []
    assert dropped >= len(case.app.messages) // 2


@pytest.mark.parametrize("name", VERSIONS)
def test_dropping_a_required_header_field_reports_it_missing(name):
    def build(c, m, h, b):
        return [f for f in h if f[0] != 49] + b, (1, 49)

    run(name, build)


@pytest.mark.parametrize("name", VERSIONS)
def test_undefined_tag_is_an_invalid_tag_number(name):
    def build(c, m, h, b):
        low, high = c.undefined_tag(100), c.undefined_tag(5000)
        fields = h + b + [(low, b"X")]
        return (fields, (0, low)) if len(b) % 2 else (h + b + [(high, b"X")], (0, high))

    run(name, build)


@pytest.mark.parametrize("name", VERSIONS)
def test_tag_of_another_message_is_not_defined_for_this_type(name):
    def build(c, m, h, b):
        data = set(c.app.data_fields) | set(c.app.data_fields.values())
        exclude = (
            m.field_set | c.session.header.field_set | c.session.trailer.field_set | data
            | STANDARD_HEADER_TAGS | STANDARD_TRAILER_TAGS
        )  # fmt: skip
        tag = next(t for t in sorted(c.app.tags) if t not in exclude)
        return [*h, (tag, c.value(tag)), *b], (2, tag)

    run(name, build)


@pytest.mark.parametrize("name", VERSIONS)
def test_empty_value_is_a_tag_without_value(name):
    def build(c, m, h, b):
        plain = c.plain_fields(m, b)
        if not plain:
            return [(t, b"" if t == 49 else v) for t, v in h] + b, (4, 49)
        tag = plain[0]
        return h + [(t, b"" if t == tag else v) for t, v in b], (4, tag)

    run(name, build)


BAD_VALUES = [b"~", b"#", b"98765", b"QQ~Q", b"-3", b"0.25", b"20991231", b"ZZ9"]


@pytest.mark.parametrize("name", VERSIONS)
def test_value_outside_the_enumeration_is_incorrect(name):
    def build(c, m, h, b):
        present = {t for t, _ in b}
        for tag in m.fields:
            fdef = c.app.fields[tag]
            if not fdef.enums or tag in m.groups or fdef.type == "BOOLEAN":
                continue
            fits = [v for v in BAD_VALUES if c.app.check_format(tag, v)]
            bad = next((v for v in fits if not c.app.check_enum(tag, v)), None)
            if bad is None:
                continue
            if tag in present:
                return h + [(t, bad if t == tag else v) for t, v in b], (5, tag)
            return [*h, (tag, bad), *b], (5, tag)
        return None

    run(name, build)


@pytest.mark.parametrize("name", VERSIONS)
def test_malformed_value_is_incorrect_data_format(name):
    def build(c, m, h, b):
        # SendingTime in every header; a typed body field where the message has one
        if len(b) % 2 == 0:
            return [(t, b"not-a-time" if t == 52 else v) for t, v in h] + b, (6, 52)
        for tag in m.fields:
            if tag in m.groups or c.app.fields[tag].enums:
                continue
            if not c.app.check_format(tag, b"x!"):
                return [*h, (tag, b"x!"), *b], (6, tag)
        return [(t, b"not-a-time" if t == 52 else v) for t, v in h] + b, (6, 52)

    run(name, build)


@pytest.mark.parametrize("name", VERSIONS)
def test_repeated_field_appears_more_than_once(name):
    def build(c, m, h, b):
        plain = c.plain_fields(m, b)
        if not plain:
            return [*h, (49, b"AGAIN"), *b], (13, 49)
        tag = plain[-1]
        i = next(i for i, f in enumerate(b) if f[0] == tag)
        return h + b[: i + 1] + [b[i]] + b[i + 1 :], (13, tag)

    run(name, build)


@pytest.mark.parametrize("name", VERSIONS)
def test_wrong_num_in_group_is_an_incorrect_count(name):
    def build(c, m, h, b):
        if not m.groups:
            if 627 not in c.session.header.groups:
                return None
            # no group in the body: use the header's NoHops
            return [*h, (627, b"2"), (628, b"HUB"), *b], (16, 627)
        count_tag = next(t for t in m.fields if t in m.groups)
        instance = c.level(m.groups[count_tag], group=True)
        if count_tag in {t for t, _ in b}:
            i = next(i for i, f in enumerate(b) if f[0] == count_tag)
            return h + b[:i] + [(count_tag, b"2")] + b[i + 1 :], (16, count_tag)
        return h + b + [(count_tag, b"2")] + instance, (16, count_tag)

    run(name, build)


@pytest.mark.parametrize("name", VERSIONS)
def test_header_field_after_the_body_is_out_of_order(name):
    def build(c, m, h, b):
        if not m.fields:
            return None  # a message without body fields (XMLnonFIX)
        if not b:
            first = m.fields[0]
            gdef = m.groups.get(first)
            b = [(first, b"1"), *c.level(gdef, group=True)] if gdef else [(first, c.value(first))]
        return [f for f in h if f[0] != 34] + b + [(34, b"7")], (14, 34)

    run(name, build)
