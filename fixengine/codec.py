"""Public codec: :class:`Message`, :class:`Parser`, :func:`encode`, :func:`decode`.

Uses the compiled core (``fixengine._codec``, built from ``ext/_codec.pyx``) unless
it is missing or ``FIXENGINE_NO_EXTENSIONS=1`` is set, in which case the pure-Python
twin (``fixengine._codec_py``) is used. :data:`ACCELERATED` says which.
"""

from __future__ import annotations

import os

from . import _codec_py

ACCELERATED: bool = False
"""True when the compiled core is in use."""

if os.environ.get("FIXENGINE_NO_EXTENSIONS", "") not in ("1", "true", "yes"):
    try:
        from . import _codec as _impl  # type: ignore[attr-defined]

        ACCELERATED = True
    except ImportError:  # pragma: no cover - depends on the build
        _impl = _codec_py
else:
    _impl = _codec_py

Message = _impl.Message
Parser = _impl.Parser
encode = _impl.encode
decode = _impl.decode
checksum = _impl.checksum
HEADER_TAGS = _codec_py.HEADER_TAGS
DATA_FIELDS = _codec_py.DATA_FIELDS
DEFAULT_MAX_MESSAGE_SIZE = _codec_py.DEFAULT_MAX_MESSAGE_SIZE

__all__ = [
    "ACCELERATED",
    "DATA_FIELDS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "HEADER_TAGS",
    "Message",
    "Parser",
    "checksum",
    "decode",
    "encode",
]
