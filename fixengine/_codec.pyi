"""Types of the compiled codec core (built from ext/_codec.pyx); same API as _codec_py."""

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from .errors import GarbledMessage
from .fields import FieldValue
from .groups import Group

__all__ = [
    "DATA_FIELDS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "HEADER_TAGS",
    "MAX_TAG",
    "RULES_TAG_LIMIT",
    "RULE_ANY",
    "RULE_CALL",
    "RULE_CHAR",
    "RULE_DECIMAL",
    "RULE_DIGITS",
    "RULE_ENUM",
    "RULE_GROUP",
    "RULE_INT",
    "RULE_TIMESTAMP",
    "FieldRules",
    "HeaderTemplate",
    "Message",
    "Parser",
    "checksum",
    "decode",
    "encode",
    "format_sending_time",
    "utc_timestamp_millis",
]

DATA_FIELDS: dict[int, int]
DEFAULT_MAX_MESSAGE_SIZE: int
HEADER_TAGS: frozenset[int]
TRAILER_TAGS: frozenset[int]
MAX_TAG: int
RULE_ANY: int
RULE_DIGITS: int
RULE_INT: int
RULE_DECIMAL: int
RULE_CHAR: int
RULE_TIMESTAMP: int
RULE_ENUM: int
RULE_CALL: int
RULE_GROUP: int
RULES_TAG_LIMIT: int

#: Message.session_header(): MsgType, BeginString, MsgSeqNum, PossDupFlag, SenderCompID,
#: TargetCompID, SendingTime.
SessionHeader = tuple[
    bytes | None, bytes | None, int | None, bytes | None, bytes | None, bytes | None, float | None
]

def checksum(data: bytes) -> int: ...

class Message:
    raw: bytes | None
    dictionary: Any
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __init__(self, msg_type: bytes | str | None = None, dictionary: Any = None) -> None: ...
    @classmethod
    def from_fields(
        cls, fields: Iterable[tuple[int | str, FieldValue]], dictionary: Any = None
    ) -> Message: ...
    @classmethod
    def from_pairs(
        cls,
        msg_type: bytes | str,
        pairs: Iterable[tuple[int | str, FieldValue]],
        dictionary: Any = None,
    ) -> Message: ...
    def session_header(self) -> SessionHeader: ...
    def pick(self, tags: Iterable[int | str]) -> tuple[bytes | None, ...]: ...
    @property
    def msg_type(self) -> bytes | None: ...
    @property
    def begin_string(self) -> bytes | None: ...
    def get(self, tag: int | str, default: bytes | None = None) -> bytes | None: ...
    def __getitem__(self, tag: int | str) -> bytes: ...
    def __contains__(self, tag: object) -> bool: ...
    def get_all(self, tag: int | str) -> list[bytes]: ...
    def get_int(self, tag: int | str, default: int | None = None) -> int | None: ...
    def get_decimal(self, tag: int | str, default: Decimal | None = None) -> Decimal | None: ...
    def get_str(self, tag: int | str, default: str | None = None) -> str | None: ...
    def fields(self) -> list[tuple[int, bytes]]: ...
    def group(self, count_tag: int | str, dictionary: Any = None) -> list[Group]: ...
    def add_group(self, count_tag: int | str, instances: Any) -> None: ...
    def __iter__(self) -> Iterator[tuple[int, bytes]]: ...
    def __len__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __copy__(self) -> Message: ...
    def set(self, tag: int | str, value: FieldValue) -> None: ...
    def append(self, tag: int | str, value: FieldValue) -> None: ...
    def set_data(self, data_tag: int | str, payload: bytes) -> None: ...
    def remove(self, tag: int | str) -> int: ...
    def copy(self) -> Message: ...
    def encode(self, begin_string: bytes | str | None = None) -> bytes: ...

def encode(msg: Message, begin_string: bytes | str | None = None) -> bytes: ...

class Parser:
    def __init__(
        self,
        max_message_size: int = ...,
        resync: str = "begin-string",
        data_fields: Mapping[int, int] | None = None,
    ) -> None: ...
    @property
    def max_message_size(self) -> int: ...
    @property
    def resync(self) -> str: ...
    @property
    def data_fields(self) -> Mapping[int, int]: ...
    @property
    def buffered(self) -> int: ...
    def feed(self, data: bytes) -> list[Message | GarbledMessage]: ...

def decode(data: bytes) -> Message: ...
def format_sending_time(now: float, precision: int) -> bytes: ...
def utc_timestamp_millis(now: float) -> bytes: ...

class FieldRules:
    def __init__(
        self,
        entries: Mapping[int, tuple[int, int, Any]],
        required: Iterable[int],
        have_values: bool = True,
        strict_order: bool = True,
    ) -> None: ...
    def check(self, msg: Message) -> bool: ...

class HeaderTemplate:
    def __init__(
        self,
        begin_string: bytes,
        leading: Iterable[tuple[int, bytes]],
        trailing: Iterable[tuple[int, bytes]],
        skip: Iterable[int],
        precision: int = 3,
    ) -> None: ...
    def sending_time(self, now: float) -> bytes: ...
    def encode(
        self,
        msg: Message,
        msg_type: bytes,
        seq: int,
        now: float,
        orig_sending_time: bytes | None = None,
    ) -> bytes: ...
