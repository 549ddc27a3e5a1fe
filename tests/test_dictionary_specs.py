"""The shipped compact dictionaries against the QuickFIX XML they are generated from.

The XML dictionaries are not part of the repository; these tests look for them
beside the checkout (``../shared/quickfix/spec``, or ``$FIXENGINE_QUICKFIX_SPEC``)
and skip when they are absent.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fixengine.dictionary import DataDictionary, from_bytes, load

ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = Path(os.environ.get("FIXENGINE_QUICKFIX_SPEC", ROOT.parent / "shared/quickfix/spec"))
NAMES = ["FIX40", "FIX41", "FIX42", "FIX43", "FIX44", "FIX50", "FIX50SP1", "FIX50SP2", "FIXT11"]

pytestmark = pytest.mark.skipif(
    not SPEC_DIR.is_dir(), reason=f"QuickFIX XML dictionaries not found at {SPEC_DIR}"
)


def xml_path(name: str) -> Path:
    path = SPEC_DIR / f"{name}.xml"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


_from_xml: dict[str, DataDictionary] = {}


def from_xml(name: str) -> DataDictionary:
    if name not in _from_xml:
        path = xml_path(name)
        _from_xml[name] = from_bytes(path.read_bytes(), str(path))
    return _from_xml[name]


@pytest.mark.parametrize("name", NAMES)
def test_shipped_file_is_the_converter_output_for_the_xml(name):
    shipped = ROOT / "specs" / f"{name}.json.gz"
    assert shipped.read_bytes() == from_xml(name).to_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_xml_through_compact_format_loads_equal_to_the_xml(name):
    direct = from_xml(name)
    compact = load(name)
    assert compact == direct
    assert compact.version == direct.version
    assert dict(compact.fields) == dict(direct.fields)
    assert dict(compact.messages) == dict(direct.messages)
    assert compact.header == direct.header and compact.trailer == direct.trailer
    assert dict(compact.data_fields) == dict(direct.data_fields)


@pytest.mark.parametrize("name", NAMES)
def test_every_xml_field_message_and_enum_is_in_the_dictionary(name):
    """Checked against the XML with the standard library only, not through the loader."""
    root = ET.parse(xml_path(name)).getroot()
    dd = load(name)
    fields = root.find("fields")
    assert fields is not None
    for elem in fields:
        fdef = dd.field(int(elem.get("number", "")))
        assert fdef.name == elem.get("name")
        assert fdef.type == elem.get("type")
        assert [v.get("enum", "").encode() for v in elem] == list(fdef.enums)
        assert [v.get("description") for v in elem] == list(fdef.enums.values())
    messages = root.find("messages")
    assert messages is not None
    assert {m.get("msgtype"): m.get("name") for m in messages} == dict(dd.msg_type_names)
    for m in messages:
        assert dd.message(m.get("msgtype", "")).category == m.get("msgcat")


@pytest.mark.parametrize("name", NAMES)
def test_directly_listed_required_fields_are_required(name):
    """A field marked required directly in a message (not via a component) is required."""
    root = ET.parse(xml_path(name)).getroot()
    dd = load(name)
    messages = root.find("messages")
    assert messages is not None
    for m in messages:
        mdef = dd.message(m.get("msgtype", ""))
        for item in m:
            tag = dd.tag(item.get("name", "")) if item.tag in ("field", "group") else None
            if tag is None:
                continue
            assert (tag in mdef.required) == (item.get("required") == "Y"), (mdef.name, tag)
            assert tag in mdef.fields
