"""Validate a received message against its data dictionary.

Theory of operation
-------------------
:func:`validate` (or a reusable :class:`Validator`) returns None for a valid
message, else a :class:`Rejection`: the SessionRejectReason(373) the FIX spec
assigns, the offending tag for RefTagID(371) and QuickFIX's wording for Text(58).
The session turns it into a Reject(35=3); validation never raises on bad input.

Which problem is reported when several exist follows QuickFIX
(``DataDictionary::validate``), so the acceptance scripts' expectations hold:

1. structure, in wire order: a header field after the body or a body field after
   the trailer (14, session test case 14g); a group instance not opened by its
   delimiter, or its fields out of dictionary order (15);
2. MsgType: unknown to the dictionary -> 11 "Invalid MsgType" (test case 2q).
   A MsgType the dictionary knows but the application does not handle is the
   application's business (BusinessMessageReject, test case 2r), not checked here;
3. required fields (1, test case 14b): header, trailer, body in ascending tag
   order, then the instances of each repeating group;
4. every field, header then trailer then body in ascending tag order (QuickFIX
   keeps fields sorted), then the fields of group instances: repeated tag (13,
   14h), empty value (4, 14d), SOH in a non-data value (17), data format (6, 14f),
   enumeration (5, 14e), tag not defined at all (0, 14a), not defined for this
   message type (2, 14c), NumInGroup differing from the instances present
   (16, 14i).

Messages are overwhelmingly valid, so fast passes go first. The quickest is the
codec's :class:`~fixengine.codec.FieldRules` for the message type: the fields read
in place in one pass against per-tag tables (section, value rule), a bitmap for
repeated and required tags; it takes messages without repeating groups or fields
outside the message's definition. Then a Python pass: one walk over the fields
with one dictionary lookup per tag (a per-message-type table giving the tag's
section, group and value predicate), a set comparison for the required tags and
the group instances checked as they are read. Only when that finds anything
wrong does the exact pass above run to pick the reason QuickFIX would report.
The fast passes are conservative: whatever they accept, the exact pass accepts
too. The tables are built once per dictionaries and options and shared by every
validator (so by every session) using them.

FIXT.1.1: pass the transport dictionary as ``dictionary`` (header, trailer and
session messages) and the FIX 5.x application dictionary as ``app_dictionary``
(bodies of application messages).

Deliberate differences from QuickFIX: tags <= 0 are always "Invalid tag number"
(also with ``allow_unknown_msg_fields``); empty values are not format-checked
when ``validate_fields_have_values`` is off; NumInGroup of header groups
(NoHops) is checked too; a group instance must start with its delimiter (as
QuickFIX/J); a required field inside an optional component is required only
when every enclosing component on that level is required.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .codec import (
    DATA_FIELDS,
    RULE_ANY,
    RULE_CALL,
    RULE_CHAR,
    RULE_DECIMAL,
    RULE_DIGITS,
    RULE_ENUM,
    RULE_GROUP,
    RULE_INT,
    RULE_TIMESTAMP,
    FieldRules,
    Message,
)
from .dictionary import DataDictionary, GroupDef, Layout, MessageDef, format_checker
from .errors import LocalProtocolError
from .groups import Group, parse_structure

if TYPE_CHECKING:
    from .session.config import SessionConfig

__all__ = [
    "DEFAULT_OPTIONS",
    "REASON_TEXTS",
    "STANDARD_HEADER_TAGS",
    "STANDARD_TRAILER_TAGS",
    "RejectReason",
    "Rejection",
    "ValidationOptions",
    "Validator",
    "validate",
]

USER_DEFINED_MIN = 5000  # FIX: tags 5000 and up are user-defined

#: Standard header tags of every FIX version. As in QuickFIX, these count as header
#: fields even when a dictionary does not define them (an OnBehalfOfLocationID(144)
#: in FIX.4.0 is then an "Invalid tag number" of the header, not a body field).
STANDARD_HEADER_TAGS = frozenset(
    {
        8, 9, 35, 49, 56, 115, 128, 90, 91, 34, 50, 142, 57, 143, 116, 144, 129, 145, 43,
        97, 52, 122, 212, 213, 347, 369, 370, 1128, 1129, 1156, 627, 628, 629, 630,
    }
)  # fmt: skip
#: Standard trailer tags: SignatureLength, Signature, CheckSum.
STANDARD_TRAILER_TAGS = frozenset({93, 89, 10})


class RejectReason(enum.IntEnum):
    """SessionRejectReason(373) values."""

    INVALID_TAG_NUMBER = 0
    REQUIRED_TAG_MISSING = 1
    TAG_NOT_DEFINED_FOR_MESSAGE_TYPE = 2
    UNDEFINED_TAG = 3
    TAG_SPECIFIED_WITHOUT_A_VALUE = 4
    VALUE_IS_INCORRECT = 5
    INCORRECT_DATA_FORMAT = 6
    DECRYPTION_PROBLEM = 7
    SIGNATURE_PROBLEM = 8
    COMPID_PROBLEM = 9
    SENDING_TIME_ACCURACY_PROBLEM = 10
    INVALID_MSG_TYPE = 11
    XML_VALIDATION_ERROR = 12
    TAG_APPEARS_MORE_THAN_ONCE = 13
    TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER = 14
    REPEATING_GROUP_FIELDS_OUT_OF_ORDER = 15
    INCORRECT_NUM_IN_GROUP_COUNT = 16
    NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER = 17
    INVALID_UNSUPPORTED_APPL_VERSION = 18
    OTHER = 99


#: Text(58) for each reason, worded as QuickFIX writes them (logs are grepped for these).
REASON_TEXTS: Mapping[int, str] = {
    0: "Invalid tag number",
    1: "Required tag missing",
    2: "Tag not defined for this message type",
    3: "Undefined Tag",
    4: "Tag specified without a value",
    5: "Value is incorrect (out of range) for this tag",
    6: "Incorrect data format for value",
    7: "Decryption problem",
    8: "Signature problem",
    9: "CompID problem",
    10: "SendingTime accuracy problem",
    11: "Invalid MsgType",
    12: "XML Validation error",
    13: "Tag appears more than once",
    14: "Tag specified out of required order",
    15: "Repeating group fields out of order",
    16: "Incorrect NumInGroup count for repeating group",
    17: "Non Data value includes field delimiter (SOH character)",
    18: "Invalid/Unsupported Application Version",
    99: "Other",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message is rejected: SessionRejectReason(373), RefTagID(371), Text(58)."""

    reason: int
    tag: int | None
    text: str

    @classmethod
    def of(cls, reason: int, tag: int | None = None) -> Rejection:
        """A rejection with the standard text for ``reason``."""
        return cls(int(reason), tag, REASON_TEXTS.get(int(reason), "Other"))


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """What to check; the names and defaults are QuickFIX's session settings."""

    validate_user_defined_fields: bool = True
    """ValidateUserDefinedFields: tags >= 5000 must be defined for the message."""
    validate_fields_out_of_order: bool = True
    """ValidateFieldsOutOfOrder: header, body and trailer fields must not mix (14)."""
    validate_fields_have_values: bool = True
    """ValidateFieldsHaveValues: empty values are rejected (4)."""
    allow_unknown_msg_fields: bool = False
    """AllowUnknownMsgFields: tags below 5000 not defined for the message are accepted."""
    validate_unordered_group_fields: bool = True
    """ValidateUnorderedGroupFields: group members must follow dictionary order (15)."""
    check_enums: bool = True
    """Enumerated fields must carry one of their values (5)."""
    check_formats: bool = True
    """Values must match their field's data type (6)."""

    @classmethod
    def from_config(cls, config: SessionConfig) -> ValidationOptions:
        """The options a :class:`~fixengine.session.config.SessionConfig` asks for."""
        return cls(
            validate_user_defined_fields=config.validate_user_defined_fields,
            validate_fields_out_of_order=config.validate_fields_out_of_order,
            validate_fields_have_values=config.validate_fields_have_values,
            allow_unknown_msg_fields=config.allow_unknown_msg_fields,
            validate_unordered_group_fields=config.validate_unordered_group_fields,
        )


DEFAULT_OPTIONS = ValidationOptions()

_SOH = b"\x01"
_PARSER_DATA_TAGS = frozenset(DATA_FIELDS.values())
_Check = Callable[[bytes], object]
_END: tuple[int, bytes] = (-1, b"")  # identity marker: the message ended inside a group
# per tag of one message type: (section 0 header / 1 body / 2 trailer, group or None, check)
_Entry = tuple[int, GroupDef | None, _Check | None]


def _no_soh(check: _Check | None) -> _Check:
    if check is None:

        def no_soh(value: bytes) -> bool:
            return _SOH not in value

        return no_soh

    def no_soh_and(value: bytes) -> bool:
        return _SOH not in value and bool(check(value))

    return no_soh_and


class _DictTables:
    """One dictionary's per-tag checks under a set of options."""

    __slots__ = ("dd", "enum", "fmt", "soh_tags", "value")

    def __init__(self, dd: DataDictionary, options: ValidationOptions) -> None:
        self.dd = dd
        self.fmt: dict[int, _Check] = dict(dd._format_checks) if options.check_formats else {}
        self.enum: dict[int, _Check] = dict(dd._enum_checks) if options.check_enums else {}
        if options.check_formats and options.check_enums:
            value = dict(dd._value_checks)
        elif options.check_formats:
            value = dict(self.fmt)
        elif options.check_enums:
            value = dict(self.enum)
        else:
            value = {}
        # tags the framer reads as length-prefixed data but this dictionary does not (17)
        self.soh_tags = _PARSER_DATA_TAGS - frozenset(dd.data_fields.values())
        for tag in self.soh_tags:
            value[tag] = _no_soh(value.get(tag))
        self.value = value


def _known_rules() -> dict[Any, int]:
    """The dictionary's format predicates that a codec value rule does the same as."""
    known: dict[Any, int] = {}
    for names, rule in (
        (("SEQNUM", "LENGTH", "NUMINGROUP", "TAGNUM"), RULE_DIGITS),
        (("INT",), RULE_INT),
        (("FLOAT", "PRICE", "QTY", "AMT", "PRICEOFFSET", "PERCENTAGE"), RULE_DECIMAL),
        (("CHAR",), RULE_CHAR),
        (("UTCTIMESTAMP", "TIME"), RULE_TIMESTAMP),
    ):
        for name in names:
            check = format_checker(name)
            if check is not None:
                known[check] = rule
    return known


_KNOWN_RULES = _known_rules()


def _rule_of(check: _Check | None) -> tuple[int, Any]:
    """The codec value rule (and its argument) doing what ``check`` does."""
    if check is None:
        return RULE_ANY, None
    try:
        rule = _KNOWN_RULES.get(check)
    except TypeError:  # an unhashable bound method
        rule = None
    if rule is not None:
        return rule, None
    owner = getattr(check, "__self__", None)
    if type(owner) is frozenset and getattr(check, "__name__", "") == "__contains__":
        return RULE_ENUM, owner  # an enumeration (or Boolean): membership decides
    return RULE_CALL, check


class _Plan:
    """Everything the fast passes need for one message type."""

    __slots__ = ("body_tables", "entries", "message", "odd_sections", "required", "rules")

    def __init__(
        self,
        message: MessageDef,
        body_tables: _DictTables,
        session: _DictTables,
        header: Layout,
        trailer: Layout,
        header_tags: frozenset[int],
        trailer_tags: frozenset[int],
        options: ValidationOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.message = message
        self.body_tables = body_tables
        entries: dict[int, _Entry] = {}
        # standard header/trailer tags the session dictionary does not define: they
        # are header/trailer fields all the same, and "invalid" unless allowed
        odd: dict[int, int] = {}
        for tag in message.fields:
            entries[tag] = (1, message.groups.get(tag), body_tables.value.get(tag))
        # header before trailer before body, as parse_structure classifies them
        defined = session.dd.tags
        for section, tags, layout in ((2, trailer_tags, trailer), (0, header_tags, header)):
            for tag in tags:
                entries.pop(tag, None)
                odd.pop(tag, None)
                if tag in defined:
                    entries[tag] = (section, layout.groups.get(tag), session.value.get(tag))
                else:
                    odd[tag] = section
        self.entries = entries
        self.odd_sections = odd
        self.required = header.required | trailer.required | message.required
        rules: dict[int, tuple[int, int, Any]] = {}
        for tag, (section, gdef, check) in entries.items():
            if gdef is not None:
                rules[tag] = (section, RULE_GROUP, None)
            else:
                rules[tag] = (section, *_rule_of(check))
        self.rules = FieldRules(
            rules,
            self.required,
            options.validate_fields_have_values,
            options.validate_fields_out_of_order,
        )


class _Shared:
    """The tables of one (dictionary, application dictionary, options): built once."""

    __slots__ = ("app", "app_dictionary", "dictionary", "plans", "session")

    def __init__(
        self,
        dictionary: DataDictionary,
        app_dictionary: DataDictionary | None,
        options: ValidationOptions,
    ) -> None:
        self.dictionary = dictionary  # kept: the cache key holds their ids
        self.app_dictionary = app_dictionary
        self.session = _DictTables(dictionary, options)
        self.app = (
            _DictTables(app_dictionary, options)
            if app_dictionary is not None and app_dictionary is not dictionary
            else None
        )
        self.plans: dict[bytes, _Plan] = {}


_shared: dict[tuple[int, int, ValidationOptions], _Shared] = {}
_shared_lock = threading.Lock()


def _shared_tables(
    dictionary: DataDictionary, app_dictionary: DataDictionary | None, options: ValidationOptions
) -> _Shared:
    key = (id(dictionary), id(app_dictionary), options)
    found = _shared.get(key)
    if found is None or found.dictionary is not dictionary:
        with _shared_lock:
            found = _shared.get(key)
            if found is None or found.dictionary is not dictionary:
                if len(_shared) >= 64:
                    _shared.clear()
                found = _Shared(dictionary, app_dictionary, options)
                _shared[key] = found
    return found


class Validator:
    """Validates messages of one session: its dictionaries and options, precomputed.

    ``validator.validate(msg)`` is what :func:`validate` does, minus the lookup
    of the precomputed tables; sessions keep one.
    """

    def __init__(
        self,
        dictionary: DataDictionary,
        app_dictionary: DataDictionary | None = None,
        options: ValidationOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.dictionary = dictionary
        self.app_dictionary = app_dictionary
        self.options = options
        shared = _shared_tables(dictionary, app_dictionary, options)
        self._session = shared.session
        self._app = shared.app
        self._header = dictionary.header
        self._trailer = dictionary.trailer
        self._header_tags = STANDARD_HEADER_TAGS | dictionary.header.field_set
        self._trailer_tags = (STANDARD_TRAILER_TAGS | dictionary.trailer.field_set) - (
            self._header_tags
        )
        self._plans = shared.plans  # per MsgType, shared with every validator of the tables
        # a tag not defined for the message is acceptable when:
        self._unknown_low_ok = options.allow_unknown_msg_fields
        self._unknown_high_ok = not options.validate_user_defined_fields
        self._have_values = options.validate_fields_have_values
        self._strict_order = options.validate_fields_out_of_order
        self._ordered_groups = options.validate_unordered_group_fields

    # -- message type -> dictionary ---------------------------------------------------------
    def _body_tables(self, msg_type: bytes) -> tuple[_DictTables, MessageDef | None]:
        session_def = self.dictionary._by_msg_type_bytes.get(msg_type)
        if self.app_dictionary is None:
            if session_def is None and self.dictionary.is_transport:
                raise LocalProtocolError(
                    f"MsgType {msg_type!r} is not a {self.dictionary.begin_string} session "
                    "message and no application dictionary was given"
                )
            return self._session, session_def
        if session_def is not None and (session_def.is_admin or self.dictionary.is_transport):
            return self._session, session_def
        tables = self._app if self._app is not None else self._session
        return tables, tables.dd._by_msg_type_bytes.get(msg_type)

    def _plan(self, msg_type: bytes) -> _Plan | None:
        plan = self._plans.get(msg_type)
        if plan is None:
            tables, message = self._body_tables(msg_type)
            if message is None:
                return None  # unknown MsgType: not cached (the peer chooses these)
            plan = _Plan(
                message,
                tables,
                self._session,
                self._header,
                self._trailer,
                self._header_tags,
                self._trailer_tags,
                self.options,
            )
            self._plans[msg_type] = plan
        return plan

    # -- public -----------------------------------------------------------------------------
    def validate(self, msg: Any) -> Rejection | None:
        """None if ``msg`` is valid, else the :class:`Rejection` QuickFIX would send."""
        if type(msg) is Message:
            ready = self._plans.get(msg.msg_type)  # type: ignore[arg-type]
            if ready is not None and ready.rules.check(msg):
                return None
        fields: list[tuple[int, bytes]] = msg.fields()
        # a decoded message has MsgType third; anything else is looked up
        if len(fields) > 2 and fields[2][0] == 35 and fields[0][0] == 8:
            msg_type: bytes | None = fields[2][1]
        else:
            msg_type = msg.get(35)
        plan = self._plan(msg_type) if msg_type is not None else None
        if plan is not None and self._fast(fields, plan):
            return None
        return self._exact(fields, msg_type, plan)

    __call__ = validate

    # -- fast pass --------------------------------------------------------------------------
    def _fast(self, fields: list[tuple[int, bytes]], plan: _Plan) -> bool:
        """True only if the message is certainly valid (False: let _exact decide)."""
        entries = plan.entries
        checks = plan.body_tables.value
        session_checks = self._session.value
        have_values = self._have_values
        strict = self._strict_order
        low_ok = self._unknown_low_ok
        high_ok = self._unknown_high_ok
        top: list[int] = []
        append = top.append
        section = 0
        it = iter(fields)
        for tag, value in it:
            while True:  # runs again only for the field that ended a group
                entry = entries.get(tag)
                if entry is None:  # not defined for this message: acceptable only if allowed
                    if tag <= 0 or not (high_ok if tag >= USER_DEFINED_MIN else low_ok):
                        return False
                    sec = plan.odd_sections.get(tag, 1)
                    gdef = None
                    check = (checks if sec == 1 else session_checks).get(tag)
                else:
                    sec, gdef, check = entry
                if sec < section:
                    if strict:
                        return False
                else:
                    section = sec
                append(tag)
                if value:
                    if check is not None and not check(value):
                        return False
                elif have_values:
                    return False
                if gdef is None:
                    break
                after = self._fast_group(it, gdef, value, checks if sec == 1 else session_checks)
                if after is None:
                    return False
                if after is _END:
                    break
                tag, value = after  # the first field after the group
        seen = set(top)
        return len(seen) == len(top) and plan.required <= seen

    def _fast_group(
        self,
        it: Iterator[tuple[int, bytes]],
        gdef: GroupDef,
        count: bytes,
        checks: Mapping[int, _Check],
    ) -> tuple[int, bytes] | None:
        """Read the group's instances from ``it``.

        Returns the first field after the group, ``_END`` when the message ended,
        or None if anything is irregular.
        """
        if not count.isdigit():
            return None
        members = gdef.field_set
        delimiter = gdef.delimiter
        position = gdef.position
        nested = gdef.groups
        required = gdef.required
        ordered = self._ordered_groups
        have_values = self._have_values
        instances = 0
        seen: set[int] = set()
        last = -1
        after = _END
        for tag, value in it:
            while True:  # runs again only for the field that ended a nested group
                if tag not in members:
                    after = (tag, value)
                    break
                if tag == delimiter:
                    if instances and not required <= seen:
                        return None
                    instances += 1
                    seen = set()
                    last = 0
                elif not instances or tag in seen:
                    return None
                elif ordered:
                    pos = position[tag]
                    if pos <= last:
                        return None
                    last = pos
                seen.add(tag)
                if value:
                    check = checks.get(tag)
                    if check is not None and not check(value):
                        return None
                elif have_values:
                    return None
                inner = nested.get(tag)
                if inner is None:
                    break
                inner_after = self._fast_group(it, inner, value, checks)
                if inner_after is None:
                    return None
                if inner_after is _END:
                    break
                tag, value = inner_after
            if after is not _END:
                break
        if instances and not required <= seen:
            return None
        return after if _counts(count, instances) else None

    # -- exact pass -------------------------------------------------------------------------
    def _exact(
        self, fields: list[tuple[int, bytes]], msg_type: bytes | None, plan: _Plan | None
    ) -> Rejection | None:
        options = self.options
        message = plan.message if plan is not None else None
        structure = parse_structure(
            fields,
            self._header,
            self._trailer,
            message,
            header_tags=self._header_tags,
            trailer_tags=self._trailer_tags,
            check_structure=options.validate_fields_out_of_order,
            check_order=options.validate_unordered_group_fields,
        )
        # 1. structure (QuickFIX: Message::hasValidStructure, then group parsing)
        if structure.issue is not None:
            return Rejection.of(*structure.issue)
        # 2. MsgType
        if msg_type is None:
            return Rejection.of(RejectReason.REQUIRED_TAG_MISSING, 35)
        if plan is None or message is None:
            return Rejection.of(RejectReason.INVALID_MSG_TYPE)
        body_tables = plan.body_tables
        # 3. required fields
        missing = (
            _missing(structure.header, self._header)
            or _missing(structure.trailer, self._trailer)
            or _missing(structure.body, message)
            or _missing_in_groups(structure.body, message)
            or _missing_in_groups(structure.header, self._header)
            or _missing_in_groups(structure.trailer, self._trailer)
        )
        if missing is not None:
            return Rejection.of(RejectReason.REQUIRED_TAG_MISSING, missing)
        # 4. field by field
        return (
            self._iterate(structure.header, self._header, self._session, _header_order, False)
            or self._iterate(structure.trailer, self._trailer, self._session, _trailer_order, False)
            or self._iterate(structure.body, message, body_tables, _tag_order, True)
        )

    def _should_check(self, tag: int) -> bool:
        """Whether tag validity and membership are checked (QuickFIX shouldCheckTag)."""
        if tag <= 0:
            return True
        if tag >= USER_DEFINED_MIN:
            return not self._unknown_high_ok
        return not self._unknown_low_ok

    def _iterate(
        self,
        level: Group,
        layout: Layout,
        tables: _DictTables,
        order: Callable[[Layout, list[tuple[int, bytes]]], list[tuple[int, bytes]]],
        membership: bool,
    ) -> Rejection | None:
        options = self.options
        fmt = tables.fmt
        enum_checks = tables.enum
        soh_tags = tables.soh_tags
        defined = tables.dd.tags
        last: int | None = None
        for tag, value in order(layout, level._own):
            if tag == last:
                return Rejection.of(RejectReason.TAG_APPEARS_MORE_THAN_ONCE, tag)
            last = tag
            if not value:
                if options.validate_fields_have_values:
                    return Rejection.of(RejectReason.TAG_SPECIFIED_WITHOUT_A_VALUE, tag)
            else:
                if tag in soh_tags and _SOH in value:
                    return Rejection.of(RejectReason.NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER, tag)
                check = fmt.get(tag)
                if check is not None and not check(value):
                    return Rejection.of(RejectReason.INCORRECT_DATA_FORMAT, tag)
                check = enum_checks.get(tag)
                if check is not None and not check(value):
                    return Rejection.of(RejectReason.VALUE_IS_INCORRECT, tag)
            if self._should_check(tag):
                if tag not in defined:
                    return Rejection.of(RejectReason.INVALID_TAG_NUMBER, tag)
                if membership and tag not in layout.field_set:
                    return Rejection.of(RejectReason.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, tag)
                if tag in layout.groups:
                    found = len(level._groups.get(tag, ()))
                    if not value.isdigit() or not _counts(value, found):
                        return Rejection.of(RejectReason.INCORRECT_NUM_IN_GROUP_COUNT, tag)
        for count_tag in sorted(level._groups):
            gdef = layout.groups[count_tag]
            for instance in level._groups[count_tag]:
                found_problem = self._iterate(instance, gdef, tables, _group_order, True)
                if found_problem is not None:
                    return found_problem
        return None


def _counts(digits: bytes, found: int) -> bool:
    """Whether a NumInGroup value (digits) says ``found``; compared as text, since int() of
    a value of thousands of digits raises (Python's 4300-digit limit)."""
    return (digits.lstrip(b"0") or b"0") == b"%d" % found


def _tag_order(layout: Layout, own: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    return sorted(own, key=_first)


def _first(item: tuple[int, bytes]) -> int:
    return item[0]


_HEADER_FIRST = {8: -3, 9: -2, 35: -1}


def _header_order(layout: Layout, own: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    return sorted(own, key=lambda item: _HEADER_FIRST.get(item[0], item[0]))


def _trailer_order(layout: Layout, own: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    return sorted(own, key=lambda item: (item[0] == 10, item[0]))


def _group_order(layout: Layout, own: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    position = layout.position
    size = len(layout.fields)
    return sorted(own, key=lambda item: (position.get(item[0], size), item[0]))


def _missing(level: Group, layout: Layout) -> int | None:
    if not layout.required:
        return None
    present = {tag for tag, _ in level._own}
    for tag in layout.required_order:
        if tag not in present:
            return tag
    return None


def _missing_in_groups(level: Group, layout: Layout) -> int | None:
    for count_tag in sorted(level._groups):
        gdef = layout.groups[count_tag]
        for instance in level._groups[count_tag]:
            missing = _missing(instance, gdef) or _missing_in_groups(instance, gdef)
            if missing is not None:
                return missing
    return None


_validators: dict[tuple[int, int, ValidationOptions], Validator] = {}
_last: list[Any] = [None, None, None, None]


def validate(
    msg: Any,
    dictionary: DataDictionary,
    *,
    app_dictionary: DataDictionary | None = None,
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> Rejection | None:
    """Validate ``msg``; None if valid, else the :class:`Rejection` to send.

    ``dictionary`` is the session's dictionary (FIX.4.x, or FIXT.1.1 transport);
    ``app_dictionary`` the FIX 5.x application dictionary under FIXT.1.1.
    Raises :class:`~fixengine.errors.LocalProtocolError` only for a FIXT.1.1
    application message when no ``app_dictionary`` is given.
    """
    last = _last
    if last[0] is dictionary and last[1] is app_dictionary and last[2] is options:
        validator: Validator = last[3]
    else:
        key = (id(dictionary), id(app_dictionary), options)
        validator = _validators.get(key)  # type: ignore[assignment]
        if (
            validator is None
            or validator.dictionary is not dictionary
            or validator.app_dictionary is not app_dictionary
        ):
            if len(_validators) >= 64:
                _validators.clear()
            validator = Validator(dictionary, app_dictionary, options)
            _validators[key] = validator
        last[:] = [dictionary, app_dictionary, options, validator]
    return validator.validate(msg)
