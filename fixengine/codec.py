"""Public codec: :class:`Message`, :class:`Parser`, :func:`encode`, :func:`decode`.

Also the two one-pass helpers of the session's hot path: :class:`HeaderTemplate`
(a message with the session's standard header, written in one call) and
:class:`FieldRules` (a message type's fields checked in one pass, for validation).

Uses the compiled core (``fixengine._codec``, built from ``ext/_codec.pyx``) unless
it is missing or ``FIXENGINE_NO_EXTENSIONS=1`` is set, in which case the pure-Python
twin (``fixengine._codec_py``) is used. :data:`ACCELERATED` says which. Both
behave the same, byte for byte (the test suite runs every codec test on both);
for type checking the names are those of the pure twin.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

ACCELERATED: bool = False
"""True when the compiled core is in use."""

if TYPE_CHECKING:
    from ._codec_py import (
        DATA_FIELDS,
        DEFAULT_MAX_MESSAGE_SIZE,
        HEADER_TAGS,
        MAX_TAG,
        RULE_ANY,
        RULE_CALL,
        RULE_CHAR,
        RULE_DECIMAL,
        RULE_DIGITS,
        RULE_ENUM,
        RULE_GROUP,
        RULE_INT,
        RULE_TIMESTAMP,
        RULES_TAG_LIMIT,
        FieldRules,
        HeaderTemplate,
        Message,
        Parser,
        checksum,
        decode,
        encode,
        format_sending_time,
        utc_timestamp_millis,
    )
else:
    from . import _codec_py as _impl

    if os.environ.get("FIXENGINE_NO_EXTENSIONS", "").lower() not in ("1", "true", "yes"):
        try:
            from . import _codec as _impl

            ACCELERATED = True
        except ImportError:  # pragma: no cover - depends on the build
            pass

    Message = _impl.Message
    Parser = _impl.Parser
    encode = _impl.encode
    decode = _impl.decode
    checksum = _impl.checksum
    HEADER_TAGS = _impl.HEADER_TAGS
    DATA_FIELDS = _impl.DATA_FIELDS
    DEFAULT_MAX_MESSAGE_SIZE = _impl.DEFAULT_MAX_MESSAGE_SIZE
    MAX_TAG = _impl.MAX_TAG
    FieldRules = _impl.FieldRules
    HeaderTemplate = _impl.HeaderTemplate
    format_sending_time = _impl.format_sending_time
    utc_timestamp_millis = _impl.utc_timestamp_millis
    RULE_ANY = _impl.RULE_ANY
    RULE_CALL = _impl.RULE_CALL
    RULE_CHAR = _impl.RULE_CHAR
    RULE_DECIMAL = _impl.RULE_DECIMAL
    RULE_DIGITS = _impl.RULE_DIGITS
    RULE_ENUM = _impl.RULE_ENUM
    RULE_GROUP = _impl.RULE_GROUP
    RULE_INT = _impl.RULE_INT
    RULE_TIMESTAMP = _impl.RULE_TIMESTAMP
    RULES_TAG_LIMIT = _impl.RULES_TAG_LIMIT

__all__ = [
    "ACCELERATED",
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
