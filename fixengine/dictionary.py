"""FIX data dictionaries: load QuickFIX XML or compact files, convert XML to the compact format.

Theory of operation
-------------------
A :class:`DataDictionary` is built from a *model*: the plain structure of a
QuickFIX-format XML dictionary (fields with types and enumerations; header,
trailer, messages and components made of field, component and group items),
read either from the XML itself (:mod:`fixengine.dictionary_xml`) or from this
project's compact format, gzipped JSON of the same model. Both paths go through
the one builder below, so a dictionary converted with
``fixengine dictionary convert IN.xml OUT.json.gz`` loads to an equal object.

The builder expands components in place. Every *level* of a message (the header,
the trailer, a message body, one repeating group) becomes a :class:`Layout`: its
fields in dictionary order, the tags required at that level and the repeating
groups that start there. A field is required when it is marked required and so
is every component enclosing it on that level; a group's NumInGroup field is
required when the group is. The first field of a group (after expanding a
leading component) is its delimiter, which must open every instance (FIX spec,
"Repeating Groups"). Expanded components are memoised, so the large FIX 5.0 SP2
dictionary shares one :class:`GroupDef` per component group.

Everything the validator needs per message is precomputed here: frozensets of
the tags of each level, sorted required tags, and per tag one predicate on the
raw value (its data format and enumeration, e.g. ``frozenset.__contains__``
for enumerated fields) so that checking a field is a dictionary lookup and one
C-level call.

Shipped dictionaries live in ``specs/`` (installed as ``fixengine/specs/``) and
are loaded by name: ``load("FIX44")``, ``load("FIX.4.4")``, ``load("FIXT11")``,
``load("FIX.5.0SP2")``; a path to an XML or compact file works too. Loaded
dictionaries are cached and must be treated as read-only.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.resources
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .dictionary_xml import MODEL_FORMAT, MODEL_FORMAT_VERSION, Item, Model, parse_xml
from .errors import ConfigError

__all__ = [
    "APPL_VER_IDS",
    "DataDictionary",
    "FieldDef",
    "GroupDef",
    "Layout",
    "MessageDef",
    "Version",
    "add_arguments",
    "available",
    "convert",
    "format_checker",
    "from_bytes",
    "load",
    "run",
]

#: ApplVerID(1128/1137) value -> name of the shipped dictionary of that version.
APPL_VER_IDS: Mapping[str, str] = MappingProxyType(
    {
        "2": "FIX40",
        "3": "FIX41",
        "4": "FIX42",
        "5": "FIX43",
        "6": "FIX44",
        "7": "FIX50",
        "8": "FIX50SP1",
        "9": "FIX50SP2",
    }
)
_APPL_VER_ID_OF: dict[tuple[int, int, int], str] = {
    (4, 0, 0): "2",
    (4, 1, 0): "3",
    (4, 2, 0): "4",
    (4, 3, 0): "5",
    (4, 4, 0): "6",
    (5, 0, 0): "7",
    (5, 0, 1): "8",
    (5, 0, 2): "9",
}

#: Types whose values are raw bytes measured by a preceding LENGTH field.
DATA_TYPES = frozenset({"DATA", "XMLDATA"})
#: Types whose values are space-separated lists (each item checked against the enums).
MULTI_VALUE_TYPES = frozenset({"MULTIPLEVALUESTRING", "MULTIPLESTRINGVALUE", "MULTIPLECHARVALUE"})

_MSG_TYPE = 35

# -- data formats (FIX spec, "Data Types") -------------------------------------------------
_DATE = rb"\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_TIME = rb"(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d{1,9})?"
_TZ_TIME = (
    rb"(?:[01]\d|2[0-3]):[0-5]\d(?::(?:[0-5]\d|60)(?:\.\d{1,9})?)?"  # HH:MM[:SS[.s]]
    rb"(?:Z|[+-](?:0\d|1[0-4])(?::?[0-5]\d)?)?"  # offset: Z, +hh, -hh:mm
)


def _fullmatch(pattern: bytes) -> Callable[[bytes], object]:
    return re.compile(pattern, re.DOTALL).fullmatch


def _is_digits(value: bytes) -> bool:
    return value.isdigit()


_INT = _fullmatch(rb"-?\d+")
_DECIMAL_RE = _fullmatch(rb"-?(?:\d+(?:\.\d*)?|\.\d+)")


def _is_decimal(value: bytes) -> bool:
    # the common unsigned forms without the cost of a regex call
    return (
        value.isdigit() or value.replace(b".", b"", 1).isdigit() or _DECIMAL_RE(value) is not None
    )


_FORMATS: dict[str, Callable[[bytes], object]] = {
    "INT": _INT,
    "LENGTH": _is_digits,
    "SEQNUM": _is_digits,
    "NUMINGROUP": _is_digits,
    "TAGNUM": _is_digits,
    "DAYOFMONTH": _fullmatch(rb"0?[1-9]|[12]\d|3[01]"),
    "FLOAT": _is_decimal,
    "PRICE": _is_decimal,
    "QTY": _is_decimal,
    "AMT": _is_decimal,
    "PRICEOFFSET": _is_decimal,
    "PERCENTAGE": _is_decimal,
    "CHAR": _fullmatch(rb"[^\x01]"),
    "BOOLEAN": frozenset((b"Y", b"N")).__contains__,
    "UTCTIMESTAMP": _fullmatch(_DATE + rb"-" + _TIME),
    "TIME": _fullmatch(_DATE + rb"-" + _TIME),  # FIX 4.0/4.1 name of UTCTimestamp
    "UTCTIMEONLY": _fullmatch(_TIME),
    "LOCALMKTTIME": _fullmatch(_TIME),
    "UTCDATEONLY": _fullmatch(_DATE),
    "UTCDATE": _fullmatch(_DATE),
    "LOCALMKTDATE": _fullmatch(_DATE),
    "DATE": _fullmatch(_DATE),  # FIX 4.0/4.1
    "MONTHYEAR": _fullmatch(rb"\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]|w[1-5])?"),
    "TZTIMEONLY": _fullmatch(_TZ_TIME),
    "TZTIMESTAMP": _fullmatch(_DATE + rb"-" + _TZ_TIME),
    "MULTIPLECHARVALUE": _fullmatch(rb"[^ \x01](?: [^ \x01])*"),
}


def format_checker(type_name: str) -> Callable[[bytes], object] | None:
    """The data-format predicate for a dictionary type, or None when any bytes do."""
    return _FORMATS.get(type_name.upper())


# -- public definitions ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Version:
    """The version a dictionary describes (the ``<fix>`` element's attributes)."""

    type: str  # "FIX" or "FIXT"
    major: int
    minor: int
    servicepack: int = 0

    @property
    def begin_string(self) -> str:
        """``FIX.4.4``, ``FIXT.1.1``, ``FIX.5.0SP2`` (the last as used for ApplVerID)."""
        text = f"{self.type}.{self.major}.{self.minor}"
        return f"{text}SP{self.servicepack}" if self.servicepack else text

    @property
    def name(self) -> str:
        """Short name: ``FIX44``, ``FIXT11``, ``FIX50SP2``."""
        text = f"{self.type}{self.major}{self.minor}"
        return f"{text}SP{self.servicepack}" if self.servicepack else text

    @property
    def appl_ver_id(self) -> str | None:
        """ApplVerID(1128) enum value of an application version, e.g. ``"9"``; None for FIXT."""
        if self.type != "FIX":
            return None
        return _APPL_VER_ID_OF.get((self.major, self.minor, self.servicepack))


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field: tag, name, type name (``PRICE``, ``UTCTIMESTAMP``...) and enum values."""

    tag: int
    name: str
    type: str
    enums: Mapping[bytes, str]  # wire value -> description

    def __hash__(self) -> int:
        return hash((self.tag, self.name, self.type))

    @property
    def is_data(self) -> bool:
        """True for DATA / XMLDATA fields (raw bytes after a length field)."""
        return self.type in DATA_TYPES

    @property
    def is_multi_value(self) -> bool:
        """True for space-separated multiple-value types."""
        return self.type in MULTI_VALUE_TYPES


@dataclass(frozen=True, slots=True)
class Layout:
    """One level of a message: the header, the trailer, a body or a group instance.

    ``fields`` are the tags allowed at this level in dictionary order (a group's
    NumInGroup tag included, its members not); ``required`` the tags that must be
    present; ``groups`` the repeating groups starting here, by NumInGroup tag.
    """

    fields: tuple[int, ...]
    required: frozenset[int]
    groups: Mapping[int, GroupDef]
    field_set: frozenset[int] = field(init=False, repr=False, compare=False)
    position: Mapping[int, int] = field(init=False, repr=False, compare=False)
    required_order: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_set", frozenset(self.fields))
        object.__setattr__(
            self, "position", MappingProxyType({t: i for i, t in enumerate(self.fields)})
        )
        object.__setattr__(self, "required_order", tuple(sorted(self.required)))

    def __hash__(self) -> int:
        return hash(self.fields)

    def __contains__(self, tag: object) -> bool:
        return tag in self.field_set

    def walk_groups(self) -> Iterator[GroupDef]:
        """Every group below this level, depth first, in dictionary order."""
        for tag in self.fields:
            group = self.groups.get(tag)
            if group is not None:
                yield group
                yield from group.walk_groups()


@dataclass(frozen=True, slots=True)
class GroupDef(Layout):
    """A repeating group: its NumInGroup tag, delimiter (first field) and members."""

    count_tag: int = 0
    name: str = ""
    delimiter: int = 0
    is_required: bool = False  # whether the NumInGroup field is required where it appears

    def __hash__(self) -> int:
        return hash((self.count_tag, self.fields))


@dataclass(frozen=True, slots=True)
class MessageDef(Layout):
    """A message type: name, MsgType, category (``admin``/``app``) and its body layout."""

    name: str = ""
    msg_type: str = ""
    category: str = "app"

    def __hash__(self) -> int:
        return hash((self.msg_type, self.fields))

    @property
    def is_admin(self) -> bool:
        """True for session-level (administrative) messages."""
        return self.category == "admin"


_EMPTY_LAYOUT_ARGS: tuple[tuple[int, ...], frozenset[int], Mapping[int, GroupDef]] = (
    (),
    frozenset(),
    MappingProxyType({}),
)


# -- building -------------------------------------------------------------------------------
class _Builder:
    """Expands components of a model into layouts (one instance per dictionary)."""

    def __init__(self, model: Model, fields: dict[str, FieldDef], source: str) -> None:
        self.source = source
        self.fields = fields
        self.components: dict[str, list[Item]] = {}
        for name, items in model.get("components", []):
            self.components[name] = items
        self._component_memo: dict[
            tuple[str, bool], tuple[list[int], set[int], dict[int, GroupDef]]
        ] = {}
        self._group_memo: dict[tuple[int, bool], GroupDef] = {}
        self._stack: list[str] = []

    def tag_of(self, name: str, where: str) -> int:
        fdef = self.fields.get(name)
        if fdef is None:
            raise ConfigError(f"{self.source}: {where} refers to undefined field {name}")
        return fdef.tag

    def expand(
        self, items: list[Item], where: str, required_ctx: bool = True
    ) -> tuple[list[int], set[int], dict[int, GroupDef]]:
        order: list[int] = []
        seen: set[int] = set()
        required: set[int] = set()
        groups: dict[int, GroupDef] = {}

        def add(tag: int, is_required: bool) -> None:
            if tag not in seen:
                seen.add(tag)
                order.append(tag)
            if is_required:
                required.add(tag)

        for item in items:
            kind, name, item_required = item[0], item[1], bool(item[2])
            if kind == "f":
                add(self.tag_of(name, where), item_required and required_ctx)
            elif kind == "g":
                tag = self.tag_of(name, where)
                is_required = item_required and required_ctx
                add(tag, is_required)
                groups[tag] = self.group(tag, name, item[3], is_required, where)
            elif kind == "c":
                sub_order, sub_required, sub_groups = self.component(
                    name, item_required and required_ctx, where
                )
                for tag in sub_order:
                    add(tag, tag in sub_required)
                groups.update(sub_groups)
            else:
                raise ConfigError(f"{self.source}: unknown item kind {kind!r} in {where}")
        return order, required, groups

    def component(
        self, name: str, required_ctx: bool, where: str
    ) -> tuple[list[int], set[int], dict[int, GroupDef]]:
        key = (name, required_ctx)
        memo = self._component_memo.get(key)
        if memo is not None:
            return memo
        items = self.components.get(name)
        if items is None:
            raise ConfigError(f"{self.source}: {where} refers to undefined component {name}")
        if name in self._stack:
            cycle = " -> ".join([*self._stack, name])
            raise ConfigError(f"{self.source}: components include themselves: {cycle}")
        self._stack.append(name)
        try:
            result = self.expand(items, f"component {name}", required_ctx)
        finally:
            self._stack.pop()
        self._component_memo[key] = result
        return result

    def group(
        self, tag: int, name: str, items: list[Item], is_required: bool, where: str
    ) -> GroupDef:
        key = (id(items), is_required)
        memo = self._group_memo.get(key)
        if memo is not None:
            return memo
        order, required, groups = self.expand(items, f"group {name} of {where}")
        if not order:
            raise ConfigError(f"{self.source}: group {name} of {where} has no fields")
        gdef = GroupDef(
            tuple(order),
            frozenset(required),
            MappingProxyType(groups),
            count_tag=tag,
            name=name,
            delimiter=order[0],
            is_required=is_required,
        )
        self._group_memo[key] = gdef
        return gdef

    def layout(self, items: list[Item], where: str) -> Layout:
        order, required, groups = self.expand(items, where)
        return Layout(tuple(order), frozenset(required), MappingProxyType(groups))


def _check_model(model: Any, source: str) -> Model:
    if not isinstance(model, dict) or model.get("format") != MODEL_FORMAT:
        raise ConfigError(f"{source}: not a fixengine data dictionary")
    version = model.get("format_version")
    if version != MODEL_FORMAT_VERSION:
        raise ConfigError(
            f"{source}: dictionary format version {version!r} is not supported "
            f"(this fixengine reads version {MODEL_FORMAT_VERSION}); convert the XML again"
        )
    return model


class DataDictionary:
    """A FIX data dictionary with the lookups validation and group parsing need.

    Build one with :func:`load` (shipped names, XML or compact files, cached).
    Instances are shared between sessions: treat them as read-only.
    """

    def __init__(self, model: Model, source: str = "<model>") -> None:
        self._model = _check_model(model, source)
        self.source = source
        try:
            fix = model["fix"]
            self.version = Version(
                str(fix["type"]), int(fix["major"]), int(fix["minor"]), int(fix["servicepack"])
            )
            self._build(model, source)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ConfigError(f"{source}: malformed data dictionary ({exc!r})") from None

    def _build(self, model: Model, source: str) -> None:
        by_name: dict[str, FieldDef] = {}
        by_tag: dict[int, FieldDef] = {}
        for tag, name, ftype, enums in model["fields"]:
            fdef = FieldDef(
                int(tag),
                str(name),
                str(ftype).upper(),
                MappingProxyType({str(e).encode(): str(d) for e, d in enums}),
            )
            if fdef.name in by_name or fdef.tag in by_tag:
                raise ConfigError(f"{source}: field {name} ({tag}) is defined more than once")
            by_name[fdef.name] = fdef
            by_tag[fdef.tag] = fdef
        self._by_name = by_name
        self._by_tag = by_tag
        self.fields: Mapping[int, FieldDef] = MappingProxyType(by_tag)
        """Every field, by tag."""

        builder = _Builder(model, by_name, source)
        self.header: Layout = builder.layout(model.get("header", []), "header")
        self.trailer: Layout = builder.layout(model.get("trailer", []), "trailer")
        messages: dict[str, MessageDef] = {}
        for name, msg_type, category, items in model["messages"]:
            order, required, groups = builder.expand(items, f"message {name}")
            messages[str(msg_type)] = MessageDef(
                tuple(order),
                frozenset(required),
                MappingProxyType(groups),
                name=str(name),
                msg_type=str(msg_type),
                category=str(category),
            )
        self.messages: Mapping[str, MessageDef] = MappingProxyType(messages)
        """Every message type, by MsgType."""
        self.msg_type_names: Mapping[str, str] = MappingProxyType(
            {mt: m.name for mt, m in messages.items()}
        )
        """MsgType -> message name (``"D"`` -> ``"NewOrderSingle"``)."""
        self._by_msg_type_bytes: dict[bytes, MessageDef] = {
            mt.encode(): m for mt, m in messages.items()
        }
        self._by_msg_name: dict[str, MessageDef] = {m.name: m for m in messages.values()}

        self.data_fields: Mapping[int, int] = MappingProxyType(self._find_data_fields())
        """Length tag -> data tag, for every DATA/XMLDATA field (e.g. 95 -> 96)."""
        self.tags: frozenset[int] = frozenset(by_tag)
        """Every tag the dictionary defines."""
        self._build_checks()

    # -- derived tables -------------------------------------------------------------------
    def _layouts(self) -> Iterator[Layout]:
        seen: set[int] = set()
        for top in (self.header, self.trailer, *self.messages.values()):
            yield top
            for group in top.walk_groups():
                if id(group) not in seen:
                    seen.add(id(group))
                    yield group

    def _find_data_fields(self) -> dict[int, int]:
        """Pair each data field with its length field: by name, else by position."""
        lengths = {f.name: f.tag for f in self._by_tag.values() if f.type == "LENGTH"}
        data = [f for f in self._by_tag.values() if f.is_data]
        result: dict[int, int] = {}
        unpaired: set[int] = set()
        for fdef in data:
            for suffix in ("Len", "Length"):
                length = lengths.get(fdef.name + suffix)
                if length is not None:
                    result[length] = fdef.tag
                    break
            else:
                unpaired.add(fdef.tag)
        if unpaired:
            # the length field immediately precedes its data field in the definitions
            length_tags = set(lengths.values())
            for layout in self._layouts():
                for prev, tag in zip(layout.fields, layout.fields[1:], strict=False):
                    if tag in unpaired and prev in length_tags and prev not in result:
                        result[prev] = tag
                        unpaired.discard(tag)
        return dict(sorted(result.items()))

    def _build_checks(self) -> None:
        """Per tag: a format predicate, an enum predicate and their combination."""
        fmt: dict[int, Callable[[bytes], object]] = {}
        enum: dict[int, Callable[[bytes], object]] = {}
        both: dict[int, Callable[[bytes], object]] = {}
        version = self.version
        # FIX 4.0 and 4.1 call their free-format strings "char"
        char_is_string = version.type == "FIX" and (version.major, version.minor) < (4, 2)
        for tag, fdef in self._by_tag.items():
            if tag == _MSG_TYPE:
                continue  # MsgType is checked against the messages, not its enum list
            if char_is_string and fdef.type == "CHAR":
                f = None
            else:
                f = format_checker(fdef.type)
            e: Callable[[bytes], object] | None = None
            if fdef.enums:
                values = frozenset(fdef.enums)
                if fdef.is_multi_value:
                    e = _multi_value_checker(values)
                else:
                    e = values.__contains__
                    if f is not None and all(f(v) for v in values):
                        # every enum value is well formed: membership alone decides
                        both[tag] = e
            if f is not None:
                fmt[tag] = f
            if e is not None:
                enum[tag] = e
            if tag not in both:
                if f is not None and e is not None:
                    both[tag] = _all_of(f, e)
                elif f is not None or e is not None:
                    both[tag] = f or e  # type: ignore[assignment]
        self._format_checks = fmt
        self._enum_checks = enum
        self._value_checks = both

    # -- lookups --------------------------------------------------------------------------
    @property
    def begin_string(self) -> str:
        """BeginString of the version: ``FIX.4.4``, ``FIXT.1.1``; ``FIX.5.0SP2`` for 5.x."""
        return self.version.begin_string

    @property
    def is_transport(self) -> bool:
        """True for a FIXT transport (session-layer) dictionary."""
        return self.version.type == "FIXT"

    @property
    def appl_ver_id(self) -> str | None:
        """ApplVerID value of this application version (``"9"`` for FIX 5.0 SP2)."""
        return self.version.appl_ver_id

    def tag(self, name: str) -> int:
        """Tag number of a field name (KeyError naming the dictionary if unknown)."""
        fdef = self._by_name.get(name)
        if fdef is None:
            raise KeyError(f"no field named {name!r} in {self.begin_string}")
        return fdef.tag

    def name(self, tag: int) -> str:
        """Name of a tag (KeyError if the dictionary does not define it)."""
        fdef = self._by_tag.get(tag)
        if fdef is None:
            raise KeyError(f"tag {tag} is not defined in {self.begin_string}")
        return fdef.name

    def field(self, tag_or_name: int | str) -> FieldDef:
        """Definition of a field by tag or name."""
        if isinstance(tag_or_name, str):
            return self._by_tag[self.tag(tag_or_name)]
        fdef = self._by_tag.get(tag_or_name)
        if fdef is None:
            raise KeyError(f"tag {tag_or_name} is not defined in {self.begin_string}")
        return fdef

    def has_field(self, tag_or_name: int | str) -> bool:
        """Whether the dictionary defines this tag or field name."""
        if isinstance(tag_or_name, str):
            return tag_or_name in self._by_name
        return tag_or_name in self._by_tag

    def message(self, msg_type: str | bytes) -> MessageDef:
        """Definition of a message by MsgType (``"D"``/``b"D"``) or by name."""
        if isinstance(msg_type, bytes):
            mdef = self._by_msg_type_bytes.get(msg_type)
        else:
            mdef = self.messages.get(msg_type) or self._by_msg_name.get(msg_type)
        if mdef is None:
            raise KeyError(f"message type {msg_type!r} is not defined in {self.begin_string}")
        return mdef

    def has_message(self, msg_type: str | bytes) -> bool:
        """Whether the dictionary defines this MsgType."""
        if isinstance(msg_type, bytes):
            return msg_type in self._by_msg_type_bytes
        return msg_type in self.messages

    def group(self, count_tag: int | str, msg_type: str | bytes | None = None) -> GroupDef:
        """A repeating group by NumInGroup tag (or name) within a message type.

        Looks at the message body first, then the header and trailer, then groups
        nested deeper (first match, depth first). Without ``msg_type`` only the
        header and trailer are searched.
        """
        tag = self.tag(count_tag) if isinstance(count_tag, str) else count_tag
        levels: list[Layout] = []
        if msg_type is not None:
            levels.append(self.message(msg_type))
        levels += [self.header, self.trailer]
        for level in levels:
            gdef = level.groups.get(tag)
            if gdef is not None:
                return gdef
        for level in levels:
            for gdef in level.walk_groups():
                if gdef.count_tag == tag:
                    return gdef
        where = f"message type {msg_type!r}" if msg_type is not None else "the header or trailer"
        raise KeyError(f"tag {tag} is not a repeating group of {where} in {self.begin_string}")

    def is_header_field(self, tag: int) -> bool:
        """Whether ``tag`` is a top-level header field of this dictionary."""
        return tag in self.header.field_set

    def is_trailer_field(self, tag: int) -> bool:
        """Whether ``tag`` is a top-level trailer field of this dictionary."""
        return tag in self.trailer.field_set

    def check_format(self, tag: int, value: bytes) -> bool:
        """Whether ``value`` is well formed for the type of ``tag`` (unknown tags: True)."""
        check = self._format_checks.get(tag)
        return check is None or bool(check(value))

    def check_enum(self, tag: int, value: bytes) -> bool:
        """Whether ``value`` is one of the enumerated values of ``tag`` (if it has any)."""
        check = self._enum_checks.get(tag)
        return check is None or bool(check(value))

    # -- persistence ----------------------------------------------------------------------
    @property
    def model(self) -> Model:
        """The plain model this dictionary was built from (do not modify)."""
        return self._model

    def to_bytes(self, compress: bool = True) -> bytes:
        """The dictionary in the compact format (gzipped JSON; plain JSON if not ``compress``)."""
        text = json.dumps(self._model, ensure_ascii=False, separators=(",", ":"))
        data = text.encode("utf-8")
        if not compress:
            return data
        # mtime=0 and no file name: the same dictionary always gives the same bytes
        return gzip.compress(data, compresslevel=9, mtime=0)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the compact format; a ``.json`` name gets uncompressed JSON."""
        data = self.to_bytes(compress=not os.fspath(path).endswith(".json"))
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataDictionary):
            return NotImplemented
        return self._model == other._model

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return (
            f"<DataDictionary {self.begin_string} ({len(self.messages)} messages, "
            f"{len(self.fields)} fields) from {self.source}>"
        )


def _multi_value_checker(values: frozenset[bytes]) -> Callable[[bytes], bool]:
    def check(value: bytes) -> bool:
        return value in values or all(v in values for v in value.split(b" "))

    return check


def _all_of(
    first: Callable[[bytes], object], second: Callable[[bytes], object]
) -> Callable[[bytes], bool]:
    def check(value: bytes) -> bool:
        return bool(first(value)) and bool(second(value))

    return check


# -- reading and loading --------------------------------------------------------------------
def from_bytes(data: bytes, source: str = "<bytes>") -> DataDictionary:
    """Build a dictionary from XML, gzipped JSON or JSON bytes (detected by content)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ConfigError(f"{source}: corrupt gzip data: {exc}") from None
    stripped = data.lstrip()
    if stripped[:1] == b"{":
        try:
            model = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{source}: not valid JSON: {exc}") from None
    elif stripped[:1] == b"<" or stripped[:3] == b"\xef\xbb\xbf":
        model = parse_xml(data, source)
    else:
        raise ConfigError(f"{source}: neither a QuickFIX XML dictionary nor a compact one")
    return DataDictionary(model, source)


def _specs_dirs() -> list[Path]:
    """Where shipped dictionaries are: in the package, else beside it (source checkout)."""
    dirs: list[Path] = []
    try:
        packaged = importlib.resources.files("fixengine").joinpath("specs")
        dirs.append(Path(str(packaged)))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - unusual importers
        pass
    dirs.append(Path(__file__).resolve().parent.parent / "specs")
    return dirs


_SPEC_SUFFIX = ".json.gz"


def _shipped(name: str) -> Path | None:
    for directory in _specs_dirs():
        path = directory / f"{name}{_SPEC_SUFFIX}"
        if path.is_file():
            return path
    return None


def available() -> list[str]:
    """Names of the shipped dictionaries (``FIX40`` ... ``FIX50SP2``, ``FIXT11``)."""
    names: set[str] = set()
    for directory in _specs_dirs():
        if directory.is_dir():
            names.update(p.name[: -len(_SPEC_SUFFIX)] for p in directory.glob(f"*{_SPEC_SUFFIX}"))
    return sorted(names)


def _normalise_name(text: str) -> str:
    return text.strip().upper().replace(".", "").replace("_", "")


_cache: dict[tuple[str, int, int], DataDictionary] = {}
_cache_lock = threading.Lock()


def load(name_or_path: str | os.PathLike[str]) -> DataDictionary:
    """Load a dictionary by name or path; results are cached (per file and mtime).

    Names: ``FIX40`` ... ``FIX44``, ``FIX50``, ``FIX50SP1``, ``FIX50SP2``, ``FIXT11``,
    case-insensitive, also as BeginStrings (``FIX.4.4``, ``FIXT.1.1``, ``FIX.5.0SP2``);
    map an ApplVerID value with :data:`APPL_VER_IDS` first. A path may name a
    QuickFIX XML file or a file in the compact format (``.json.gz`` or ``.json``).
    """
    path: Path | None = None
    if isinstance(name_or_path, str) and os.sep not in name_or_path:
        path = _shipped(_normalise_name(name_or_path))
    if path is None:
        candidate = Path(os.fspath(name_or_path)).expanduser()
        if candidate.is_file():
            path = candidate.resolve()
    if path is None:
        known = ", ".join(available()) or "none found"
        raise ConfigError(
            f"no data dictionary {os.fspath(name_or_path)!r}: not a shipped name "
            f"({known}) nor a readable file"
        )
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError as exc:
        raise ConfigError(f"cannot read data dictionary {path}: {exc}") from None
    cached = _cache.get(key)
    if cached is not None:
        return cached
    with _cache_lock:
        cached = _cache.get(key)
        if cached is None:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read data dictionary {path}: {exc}") from None
            cached = from_bytes(data, str(path))
            _cache[key] = cached
        return cached


def convert(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> DataDictionary:
    """Convert a dictionary file (XML or compact) to the compact format.

    ``destination`` may be a directory: the file is then named after the version
    (``FIX44.json.gz``). Returns the dictionary that was written.
    """
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read data dictionary {os.fspath(source)}: {exc}") from None
    dd = from_bytes(data, os.fspath(source))
    target = Path(destination)
    if target.is_dir():
        target = target / f"{dd.version.name}{_SPEC_SUFFIX}"
    dd.save(target)
    return dd


# -- command line: ``fixengine dictionary convert`` ------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``fixengine dictionary convert``."""
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="QuickFIX XML data dictionary (or a file in the compact format)",
    )
    parser.add_argument(
        "output",
        metavar="OUT",
        help="output file (.json.gz; .json for uncompressed JSON), or a directory "
        "(required with several inputs) where files are named after the version",
    )


def run(args: argparse.Namespace) -> int:
    """Convert QuickFIX XML dictionaries to the compact format; 0 on success."""
    inputs: list[str] = list(args.inputs)
    output = Path(args.output)
    if len(inputs) > 1 and not output.is_dir():
        print(f"error: {output} must be an existing directory for several inputs", file=sys.stderr)
        return 2
    for source in inputs:
        try:
            dd = convert(source, output)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        target = output / f"{dd.version.name}{_SPEC_SUFFIX}" if output.is_dir() else output
        print(
            f"{source}: {dd.begin_string}, {len(dd.messages)} messages, {len(dd.fields)} fields"
            f" -> {target} ({target.stat().st_size} bytes)"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fixengine.dictionary convert IN... OUT``."""
    parser = argparse.ArgumentParser(
        prog="python -m fixengine.dictionary", description="FIX data dictionary tools"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    convert_parser = sub.add_parser(
        "convert", help="convert QuickFIX XML dictionaries to the compact format"
    )
    add_arguments(convert_parser)
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
