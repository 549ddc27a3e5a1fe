"""Replay QuickFIX's acceptance scripts through the validator.

Every message a script sends (``I`` lines) is framed like the reference runner does
(BodyLength and CheckSum added) and validated with the shipped dictionary of the
script's version. When the script's next expectation is a session Reject for a
dictionary problem, the validator must give that SessionRejectReason and RefTagID
(FIX.4.0/4.1 scripts give the tag in the text: ``Invalid tag number (999)``);
otherwise the message must be valid. Problems the session decides (sequence numbers,
CompIDs, SendingTime, PossDup without OrigSendingTime, NewSeqNo going backwards, a
FIXT Logon without DefaultApplVerID) and frames the framer drops are left out.

The scripts are not part of the repository: they are looked for beside the checkout
(``../shared/quickfix/definitions`` or ``$FIXENGINE_QUICKFIX_DEFINITIONS``) and the
tests skip when absent.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from fixengine.codec import Message, Parser
from fixengine.dictionary import load
from fixengine.validation import REASON_TEXTS, ValidationOptions, Validator

ROOT = Path(__file__).resolve().parent.parent
DEFS = Path(
    os.environ.get("FIXENGINE_QUICKFIX_DEFINITIONS", ROOT.parent / "shared/quickfix/definitions")
)
DIRECTORIES = {
    "fix40": ("FIX40", None),
    "fix41": ("FIX41", None),
    "fix42": ("FIX42", None),
    "fix43": ("FIX43", None),
    "fix44": ("FIX44", None),
    "fix50": ("FIXT11", "FIX50"),
    "fix50sp1": ("FIXT11", "FIX50SP1"),
    "fix50sp2": ("FIXT11", "FIX50SP2"),
    "validate": ("FIX44", None),
}
# the reasons a data dictionary decides (the others are the session's)
DICTIONARY_REASONS = {0, 1, 2, 4, 5, 6, 11, 13, 14, 15, 16, 17}
SESSION_TAGS = {122, 36}  # OrigSendingTime on PossDup, NewSeqNo going backwards
TEXT_REASON = {text: reason for reason, text in REASON_TEXTS.items()}

pytestmark = pytest.mark.skipif(
    not DEFS.is_dir(), reason=f"QuickFIX acceptance scripts not found at {DEFS}"
)


def _time(match: re.Match[str]) -> str:
    offset = int(match.group(1) or 0)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(time.time() + offset))


def frame(text: str) -> bytes:
    """What the reference runner sends for an ``I`` line."""
    text = re.sub(r"<TIME([+-]\d+)?>", _time, text)
    data = text.encode("latin-1")
    if data.startswith(b"8=") and b"\x019=" not in data:
        first = data.index(b"\x01") + 1
        rest = data[first:]
        data = data[:first] + b"9=%d\x01" % len(rest) + rest
    if not re.search(rb"\x0110=\d+\x01$", data):
        data += b"10=%03d\x01" % (sum(data) % 256)
    return data


def fields_of(text: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for part in text.split("\x01"):
        tag, _, value = part.partition("=")
        if tag.lstrip("-").isdigit():
            out.setdefault(int(tag), value)
    return out


def expectation(lines: list[str]) -> tuple[int, int | None] | str | None:
    """(reason, tag) of the Reject the script expects next, "skip", or None (valid)."""
    for line in lines:
        if line.startswith(("eDISCONNECT", "e2,DISCONNECT")):
            return "disconnect"
        if line[:1] != "E":
            continue
        expected = fields_of(line[1:])
        if expected.get(35) != "3":
            return None
        text = expected.get(58, "")
        if 373 in expected:
            reason: int | None = int(expected[373])
            tag = int(expected[371]) if 371 in expected else None
        else:  # FIX.4.0/4.1 and 4.2 without 373: the reason by its text, "(tag)" appended
            found = re.fullmatch(r"(.*?)(?: \((-?\d+)\))?", text)
            assert found is not None
            reason = TEXT_REASON.get(found.group(1))
            tag = int(found.group(2)) if found.group(2) else None
            if tag is None and 371 in expected:
                tag = int(expected[371])
        if reason not in DICTIONARY_REASONS or tag in SESSION_TAGS:
            return "skip"
        if reason == 5 and tag is None:  # SequenceReset going backwards (11c): no RefTagID
            return "skip"
        return (reason, tag)  # type: ignore[return-value]
    return None


def scripts() -> list[Path]:
    if not DEFS.is_dir():
        return []
    return sorted(p for d in DIRECTORIES for p in (DEFS / d).glob("*.def"))


@pytest.mark.parametrize("directory", DIRECTORIES)
def test_scripted_messages_get_the_expected_dictionary_verdict(directory):
    session_name, app_name = DIRECTORIES[directory]
    session, app = load(session_name), (load(app_name) if app_name else None)
    validators = {
        "default": Validator(session, app),
        "NO_CHECK_FIELDS_HAVE_VALUES": Validator(
            session, app, ValidationOptions(validate_fields_have_values=False)
        ),
    }
    failures: list[str] = []
    checked = rejects = 0
    paths = sorted((DEFS / directory).glob("*.def"))
    if not paths:
        pytest.skip(f"no scripts in {DEFS / directory}")
    for path in paths:
        lines = path.read_text("latin-1").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.startswith(("I8=", "I2,8=")):
                continue
            items = Parser().feed(frame(line[line.index("8=") :]))
            if len(items) != 1 or not isinstance(items[0], Message):
                continue  # garbled on purpose: the framer drops it
            msg = items[0]
            expected = expectation(lines[number:])
            if expected == "skip" or (expected == "disconnect" and msg.get(35) == b"A"):
                continue
            if expected == "disconnect":
                expected = None
            sender = (msg.get(49) or b"").decode()
            result = validators.get(sender, validators["default"]).validate(msg)
            got = None if result is None else (result.reason, result.tag)
            checked += 1
            rejects += expected is not None
            if got != expected:
                failures.append(f"{path.name}:{number}: got {got}, expected {expected}")
    assert failures == []
    assert checked > 0
    if directory != "validate":
        assert rejects >= 10  # 14a-14h and 2q at least
