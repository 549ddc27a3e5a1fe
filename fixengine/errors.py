"""Exception and error types shared across fixengine.

Errors split as in h11: :class:`LocalProtocolError` means the caller misused the
API (our side would break FIX), :class:`RemoteProtocolError` means the peer broke
FIX. :class:`GarbledMessage` describes a frame the framer had to drop; the framer
returns it in-band (it is not raised) so that messages after it are not lost.
"""

from __future__ import annotations

import enum


class FixError(Exception):
    """Base class of every error fixengine raises."""


class LocalProtocolError(FixError):
    """The caller asked for something that would break the FIX protocol."""


class RemoteProtocolError(FixError):
    """The counterparty broke the FIX protocol."""


class ConfigError(FixError):
    """A settings file or option is invalid; the message names the key and file."""


class GarbleReason(enum.Enum):
    """Why the framer dropped bytes."""

    GARBAGE = "bytes before the next BeginString"
    BAD_BEGIN_STRING = "BeginString(8) missing or malformed"
    BAD_BODY_LENGTH = "BodyLength(9) missing, malformed or wrong"
    BAD_CHECKSUM = "CheckSum(10) malformed or wrong"
    MSGTYPE_NOT_THIRD = "MsgType(35) is not the third field"
    BAD_FIELD = "field is not tag=value with an integer tag"
    OVERSIZE = "message larger than the maximum message size"


class GarbledMessage(FixError):
    """A frame (or run of bytes) the framer dropped, and why.

    ``data`` holds at most the first 256 dropped bytes, for logs; ``size`` is
    how many bytes were dropped in all.
    """

    def __init__(self, reason: GarbleReason, data: bytes, size: int | None = None) -> None:
        self.reason = reason
        self.data = bytes(data[:256])
        self.size = len(data) if size is None else size
        super().__init__(f"{reason.value} ({self.size} bytes dropped)")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, GarbledMessage)
            and other.reason is self.reason
            and other.data == self.data
            and other.size == self.size
        )

    def __hash__(self) -> int:
        return hash((self.reason, self.data, self.size))

    def __repr__(self) -> str:
        return f"GarbledMessage({self.reason.name}, {self.data!r}, size={self.size})"
