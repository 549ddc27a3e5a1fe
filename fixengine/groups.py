"""Repeating groups: read them out of a flat message, append them to one.

Theory of operation
-------------------
On the wire a repeating group is a NumInGroup field followed by its instances,
with nothing marking where an instance or the group ends. The data dictionary
supplies the missing structure (FIX spec, "Repeating Groups"): the first field
of the group, the *delimiter*, opens every instance, and an instance runs while
the tags that follow belong to the group. A nested group's NumInGroup field is
a member of the outer group, so its instances are read recursively before the
outer instance continues. The first tag that is not a member ends the group and
belongs to the enclosing level again.

:func:`parse_structure` does this for a whole message in one pass over
``msg.fields()`` and is shared with :mod:`fixengine.validation`. It never
fails: irregularities are reported as ``(SessionRejectReason, tag)`` issues and
parsing goes on as QuickFIX does — a member tag that comes before any delimiter,
or that repeats within an instance, opens a new instance (reported as 15,
"Repeating group fields out of order"); a member out of dictionary order is
reported as 15 when ``check_order`` is set; a header field after the body or a
body field after the trailer is reported as 14 when ``check_structure`` is set.
Only the first issue in wire order is kept. The NumInGroup *value* is not used
for parsing (validation compares it with the instances found).

:class:`Group` is the read-only view of one instance. :func:`append_group` goes
the other way: NumInGroup, then each instance's fields in the order given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .fields import parse_decimal, parse_int, to_bytes

if TYPE_CHECKING:
    from .dictionary import DataDictionary, GroupDef, Layout

__all__ = ["Group", "GroupInstance", "Structure", "append_group", "parse_groups", "parse_structure"]

_SOH = b"\x01"

Fields = list[tuple[int, bytes]]


class Group:
    """One instance of a repeating group, read-only.

    ``get``/``[]`` look at the instance's own fields (a nested group's NumInGroup
    field included, its members not: use :meth:`group`). :meth:`fields` gives
    every field of the instance in wire order, nested groups included. Tags may be
    names when the group came from a dictionary.
    """

    __slots__ = (
        "_dictionary",
        "_end",
        "_groups",
        "_own",
        "_src",
        "_start",
        "count_tag",
        "delimiter",
    )

    def __init__(
        self,
        count_tag: int,
        delimiter: int,
        src: Fields,
        start: int,
        dictionary: DataDictionary | None = None,
    ) -> None:
        self.count_tag = count_tag
        """NumInGroup tag of the group this is an instance of."""
        self.delimiter = delimiter
        """First field of every instance."""
        self._src = src
        self._start = start
        self._end = start
        self._own: Fields = []
        self._groups: dict[int, list[Group]] = {}
        self._dictionary = dictionary

    def _tag(self, tag: int | str) -> int:
        if isinstance(tag, str):
            if self._dictionary is None:
                raise KeyError(f"field name {tag!r} needs a data dictionary")
            return self._dictionary.tag(tag)
        return tag

    def get(self, tag: int | str, default: bytes | None = None) -> bytes | None:
        """Value of ``tag`` in this instance (not inside nested groups), or ``default``."""
        t = self._tag(tag)
        for ftag, value in self._own:
            if ftag == t:
                return value
        return default

    def __getitem__(self, tag: int | str) -> bytes:
        value = self.get(tag)
        if value is None:
            raise KeyError(tag)
        return value

    def __contains__(self, tag: object) -> bool:
        if not isinstance(tag, (int, str)):
            return False
        return self.get(tag) is not None

    def get_all(self, tag: int | str) -> list[bytes]:
        """Every value of ``tag`` at this instance's level, in order."""
        t = self._tag(tag)
        return [value for ftag, value in self._own if ftag == t]

    def get_int(self, tag: int | str, default: int | None = None) -> int | None:
        """Value of ``tag`` as an int (ValueError if it is not one)."""
        value = self.get(tag)
        return default if value is None else parse_int(value)

    def get_decimal(self, tag: int | str, default: Decimal | None = None) -> Decimal | None:
        """Value of ``tag`` as an exact Decimal."""
        value = self.get(tag)
        return default if value is None else parse_decimal(value)

    def get_str(self, tag: int | str, default: str | None = None) -> str | None:
        """Value of ``tag`` decoded as UTF-8 text."""
        value = self.get(tag)
        return default if value is None else value.decode("utf-8", "replace")

    def group(self, count_tag: int | str) -> list[Group]:
        """Instances of a group nested in this instance (empty if absent)."""
        return list(self._groups.get(self._tag(count_tag), ()))

    def fields(self) -> Fields:
        """Every field of the instance as (tag, value), in wire order, nested ones included."""
        return self._src[self._start : self._end]

    def own_fields(self) -> Fields:
        """The instance's own fields, without the members of nested groups."""
        return list(self._own)

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return iter(self.fields())

    def __len__(self) -> int:
        return self._end - self._start

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Group):
            return NotImplemented
        return self.count_tag == other.count_tag and self.fields() == other.fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        text = "|".join(f"{t}={v.decode('latin-1')}" for t, v in self.fields())
        return f"Group({self.count_tag}, {text!r})"


class Structure:
    """A message split into header, body and trailer levels (see :func:`parse_structure`)."""

    __slots__ = ("body", "header", "issue", "trailer")

    def __init__(self, header: Group, body: Group, trailer: Group) -> None:
        self.header = header
        self.body = body
        self.trailer = trailer
        self.issue: tuple[int, int] | None = None
        """First structural problem in wire order: (14 or 15, tag), or None."""


def _parse_group(
    src: Fields,
    i: int,
    n: int,
    gdef: GroupDef,
    into: dict[int, list[Group]],
    dictionary: DataDictionary | None,
    check_order: bool,
    result: Structure,
) -> int:
    """Read the instances of ``gdef`` starting at ``src[i]``; return the index after them."""
    members = gdef.field_set
    delimiter = gdef.delimiter
    nested = gdef.groups
    position = gdef.position
    instances: list[Group] = []
    current: Group | None = None
    seen: set[int] = set()
    last = -1
    while i < n:
        tag, value = src[i]
        if tag not in members:
            break
        if tag == delimiter or current is None or tag in seen:
            if current is not None:
                current._end = i
            current = Group(gdef.count_tag, delimiter, src, i, dictionary)
            instances.append(current)
            seen = set()
            last = -1
            if tag != delimiter and result.issue is None:
                result.issue = (15, tag)  # instance not opened by the delimiter
        pos = position[tag]
        if pos <= last and check_order and result.issue is None:
            result.issue = (15, tag)
        last = pos
        seen.add(tag)
        current._own.append((tag, value))
        i += 1
        inner = nested.get(tag)
        if inner is not None:
            i = _parse_group(src, i, n, inner, current._groups, dictionary, check_order, result)
    if current is not None:
        current._end = i
    into[gdef.count_tag] = instances
    return i


def parse_structure(
    fields: Fields,
    header: Layout,
    trailer: Layout,
    body: Layout | None,
    *,
    dictionary: DataDictionary | None = None,
    header_tags: frozenset[int] | None = None,
    trailer_tags: frozenset[int] | None = None,
    check_structure: bool = True,
    check_order: bool = True,
) -> Structure:
    """Split a flat field list into header, body and trailer with their group instances.

    ``header``/``trailer`` give those levels' groups and, unless ``header_tags`` /
    ``trailer_tags`` say otherwise, which tags belong there (any other tag is
    body); ``body`` gives the message's groups (None for an unknown message type:
    no body groups). For FIXT.1.1 pass the transport dictionary's header and
    trailer and the application dictionary's message.
    """
    result = Structure(
        Group(0, 0, fields, 0, dictionary),
        Group(0, 0, fields, 0, dictionary),
        Group(0, 0, fields, 0, dictionary),
    )
    if header_tags is None:
        header_tags = header.field_set
    if trailer_tags is None:
        trailer_tags = trailer.field_set
    header_groups = header.groups
    trailer_groups = trailer.groups
    body_groups: Mapping[int, GroupDef] = body.groups if body is not None else {}
    section = 0  # 0 header, 1 body, 2 trailer
    n = len(fields)
    i = 0
    while i < n:
        tag, value = fields[i]
        i += 1
        if tag in header_tags:
            if section and check_structure and result.issue is None:
                result.issue = (14, tag)
            level = result.header
            gdef = header_groups.get(tag)
        elif tag in trailer_tags:
            section = 2
            level = result.trailer
            gdef = trailer_groups.get(tag)
        else:
            if section == 2 and check_structure and result.issue is None:
                result.issue = (14, tag)
            section = 1
            level = result.body
            gdef = body_groups.get(tag)
        level._own.append((tag, value))
        if gdef is not None:
            i = _parse_group(fields, i, n, gdef, level._groups, dictionary, check_order, result)
    for level in (result.header, result.body, result.trailer):
        level._end = n
    return result


def _message_fields(msg: Any) -> Fields:
    return list(msg.fields())


def parse_groups(
    msg: Any, count_tag: int | str, dictionary: DataDictionary | None = None
) -> list[Group]:
    """The instances of the repeating group ``count_tag`` in ``msg``, in order.

    ``dictionary`` defaults to ``msg.dictionary``; under FIXT.1.1 pass the
    application dictionary for body groups and the transport one for NoHops(627).
    Returns ``[]`` when the message does not contain the group. Raises ValueError
    when no dictionary is available or ``count_tag`` is not a top-level group of
    this message type (nested groups are read with :meth:`Group.group`).
    """
    dd = dictionary if dictionary is not None else getattr(msg, "dictionary", None)
    if dd is None:
        raise ValueError("parse_groups needs a data dictionary (argument or msg.dictionary)")
    tag = dd.tag(count_tag) if isinstance(count_tag, str) else int(count_tag)
    msg_type = msg.get(35)
    body: Layout | None = None
    if msg_type is not None and dd.has_message(msg_type):
        body = dd.message(msg_type)
    owner: str | None = None
    for layout, where in ((body, "body"), (dd.header, "header"), (dd.trailer, "trailer")):
        if layout is not None and tag in layout.groups:
            owner = where
            break
    if owner is None:
        if body is not None:
            for gdef in body.walk_groups():
                if tag in gdef.groups:
                    raise ValueError(
                        f"tag {tag} is a group nested in group {gdef.count_tag} of message type "
                        f"{msg_type!r}; read it with Group.group({tag}) on those instances"
                    )
        what = f"message type {msg_type!r}" if msg_type is not None else "a message without MsgType"
        if msg_type is not None and body is None:
            what += f" (not defined in {dd.begin_string})"
        raise ValueError(f"tag {tag} is not a repeating group of {what} in {dd.begin_string}")
    structure = parse_structure(
        _message_fields(msg),
        dd.header,
        dd.trailer,
        body,
        dictionary=dd,
        check_structure=False,
        check_order=False,
    )
    if owner == "body":
        level = structure.body
    elif owner == "header":
        level = structure.header
    else:
        level = structure.trailer
    return list(level._groups.get(tag, ()))


#: What :func:`append_group` accepts as one instance: (tag, value) pairs, a mapping
#: tag -> value, or a :class:`Group`. A value that is a list is a nested group: a
#: list of instances, written as its NumInGroup field followed by them.
GroupInstance = Group | Mapping[Any, Any] | Iterable[tuple[Any, Any]]


def _flatten(
    instance: GroupInstance,
    out: list[tuple[int | str, bytes]],
    data_tags: frozenset[int],
    dd: Any,
) -> None:
    if isinstance(instance, Group):
        out.extend(instance.fields())
        return
    pairs: Iterable[tuple[Any, Any]]
    pairs = instance.items() if isinstance(instance, Mapping) else instance
    before = len(out)
    for pair in pairs:
        try:
            tag, value = pair
        except (TypeError, ValueError):
            raise TypeError(
                f"a group instance field must be a (tag, value) pair, not {pair!r}"
            ) from None
        if isinstance(tag, str) and dd is not None:
            tag = dd.tag(tag)
        if isinstance(value, (list, tuple)):
            out.append((tag, str(len(value)).encode()))
            for nested in value:
                _flatten(nested, out, data_tags, dd)
            continue
        data = to_bytes(value)
        if _SOH in data and tag not in data_tags:
            raise ValueError(f"value of tag {tag} contains SOH and {tag} is not a data field")
        out.append((tag, data))
    if len(out) == before:
        raise ValueError("a group instance needs at least its delimiter field")


def append_group(msg: Any, count_tag: int | str, instances: Iterable[GroupInstance]) -> None:
    """Append NumInGroup(``count_tag``) = len(instances), then every instance's fields.

    Instances are written in the order given, each as given (put the delimiter
    first); values go through :func:`fixengine.fields.to_bytes`. Nothing is
    appended if any value is invalid.
    """
    from .codec import DATA_FIELDS

    data_tags = frozenset(DATA_FIELDS.values())
    dd = getattr(msg, "dictionary", None)
    if dd is not None and hasattr(dd, "data_fields"):
        data_tags |= frozenset(dd.data_fields.values())
    items = list(instances)
    if isinstance(count_tag, str) and dd is not None:
        count_tag = dd.tag(count_tag)
    flat: list[tuple[int | str, bytes]] = [(count_tag, str(len(items)).encode())]
    for instance in items:
        _flatten(instance, flat, data_tags, dd)
    for tag, value in flat:
        msg.append(tag, value)
