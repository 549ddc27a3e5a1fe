"""Public codec: :class:`Message`, :class:`Parser`, :func:`encode`, :func:`decode`.

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
        Message,
        Parser,
        checksum,
        decode,
        encode,
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

__all__ = [
    "ACCELERATED",
    "DATA_FIELDS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "HEADER_TAGS",
    "MAX_TAG",
    "Message",
    "Parser",
    "checksum",
    "decode",
    "encode",
]
