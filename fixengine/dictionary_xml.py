"""Read QuickFIX-format XML data dictionaries into the plain dictionary model.

Theory of operation
-------------------
A QuickFIX data dictionary is one ``<fix>`` document::

    <fix type="FIX" major="4" minor="4" servicepack="0">
      <header> items </header>
      <messages> <message name=".." msgtype=".." msgcat="admin|app"> items </message>
      </messages>
      <trailer> items </trailer>
      <components> <component name=".."> items </component> ... </components>
      <fields> <field number=".." name=".." type=".."> <value enum=".." description=".."/>
      </field> ... </fields>
    </fix>

where an *item* is ``<field name required>``, ``<component name required>`` or
``<group name required> items </group>`` (the group's name is its NumInGroup field).
Items refer to fields and components by name, so this reader keeps the document's
structure as it is and only checks that it is well formed; it does not expand
components (:mod:`fixengine.dictionary` does that, for XML and for the compact
format alike, so both give the same :class:`~fixengine.dictionary.DataDictionary`).

The result is the *model*: JSON-compatible lists and dicts (see :data:`MODEL_FORMAT`)::

    {"format": "fixengine.dictionary", "format_version": 1,
     "fix": {"type": "FIX", "major": 4, "minor": 4, "servicepack": 0},
     "fields": [[tag, name, type, [[enum, description], ...]], ...],
     "header": [item, ...], "trailer": [item, ...],
     "messages": [[name, msgtype, msgcat, [item, ...]], ...],
     "components": [[name, [item, ...]], ...]}

    item = ["f", name, required] | ["c", name, required] | ["g", name, required, [item, ...]]

Files come from counterparties, so anything malformed raises
:class:`~fixengine.errors.ConfigError` naming the file and the element, and a
document type declaration with entities is refused (entity expansion attacks).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Any

from .errors import ConfigError

__all__ = ["MODEL_FORMAT", "MODEL_FORMAT_VERSION", "parse_xml", "read_xml"]

MODEL_FORMAT = "fixengine.dictionary"
MODEL_FORMAT_VERSION = 1

Item = list[Any]
Model = dict[str, Any]


def _local(tag: str) -> str:
    """Element name without an XML namespace."""
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def _required(elem: ET.Element) -> bool:
    return elem.get("required", "N").strip().upper() in ("Y", "YES", "TRUE", "1")


def _items(parent: ET.Element, where: str, source: str) -> list[Item]:
    items: list[Item] = []
    for child in parent:
        kind = _local(child.tag)
        name = (child.get("name") or "").strip()
        if kind not in ("field", "component", "group"):
            continue  # comments, documentation elements and the like
        if not name:
            raise ConfigError(f"{source}: a <{kind}> in {where} has no name")
        if kind == "field":
            items.append(["f", name, _required(child)])
        elif kind == "component":
            items.append(["c", name, _required(child)])
        else:
            inner = _items(child, f"group {name} of {where}", source)
            if not inner:
                raise ConfigError(f"{source}: group {name} in {where} has no fields")
            items.append(["g", name, _required(child), inner])
    return items


def _int_attr(elem: ET.Element, attr: str, source: str, default: int | None = None) -> int:
    text = elem.get(attr)
    if text is None or not text.strip():
        if default is None:
            raise ConfigError(f"{source}: <{_local(elem.tag)}> has no {attr!r} attribute")
        return default
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(
            f"{source}: <{_local(elem.tag)}> attribute {attr}={text!r} is not a number"
        ) from None


def _section(root: ET.Element, name: str) -> ET.Element | None:
    for child in root:
        if _local(child.tag) == name:
            return child
    return None


def parse_xml(data: bytes, source: str = "<xml>") -> Model:
    """Parse the bytes of a QuickFIX XML data dictionary into the model."""
    head = data[:4096].upper()
    if b"<!DOCTYPE" in head and b"<!ENTITY" in data.upper():
        raise ConfigError(f"{source}: XML entity declarations are not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ConfigError(f"{source}: not well-formed XML: {exc}") from None
    if _local(root.tag) != "fix":
        raise ConfigError(f"{source}: root element is <{_local(root.tag)}>, expected <fix>")

    kind = (root.get("type") or "FIX").strip().upper()
    if kind not in ("FIX", "FIXT"):
        raise ConfigError(f"{source}: <fix type={kind!r}> must be FIX or FIXT")
    fix = {
        "type": kind,
        "major": _int_attr(root, "major", source),
        "minor": _int_attr(root, "minor", source),
        "servicepack": _int_attr(root, "servicepack", source, default=0),
    }

    fields: list[list[Any]] = []
    seen_tags: dict[int, str] = {}
    seen_names: set[str] = set()
    fields_elem = _section(root, "fields")
    for elem in fields_elem if fields_elem is not None else ():
        if _local(elem.tag) != "field":
            continue
        name = (elem.get("name") or "").strip()
        if not name:
            raise ConfigError(f"{source}: a field definition has no name")
        tag = _int_attr(elem, "number", source + f" (field {name})")
        ftype = (elem.get("type") or "STRING").strip().upper()
        if name in seen_names:
            raise ConfigError(f"{source}: field named {name} is defined more than once")
        if tag in seen_tags:
            raise ConfigError(
                f"{source}: field number {tag} is defined twice ({seen_tags[tag]} and {name})"
            )
        seen_names.add(name)
        seen_tags[tag] = name
        enums: list[list[str]] = []
        for value in elem:
            if _local(value.tag) != "value":
                continue
            enum = value.get("enum")
            if enum is None:
                raise ConfigError(f"{source}: a value of field {name} has no 'enum' attribute")
            enums.append([enum, value.get("description") or ""])
        fields.append([tag, name, ftype, enums])

    def items_of(section: str) -> list[Item]:
        elem = _section(root, section)
        return [] if elem is None else _items(elem, section, source)

    messages: list[list[Any]] = []
    seen_types: set[str] = set()
    messages_elem = _section(root, "messages")
    for elem in messages_elem if messages_elem is not None else ():
        if _local(elem.tag) != "message":
            continue
        name = (elem.get("name") or "").strip()
        msg_type = elem.get("msgtype")
        if not name or msg_type is None or not msg_type.strip():
            raise ConfigError(f"{source}: a <message> needs both 'name' and 'msgtype'")
        msg_type = msg_type.strip()
        if msg_type in seen_types:
            raise ConfigError(f"{source}: message type {msg_type!r} is defined more than once")
        seen_types.add(msg_type)
        category = (elem.get("msgcat") or "app").strip().lower()
        if category not in ("admin", "app"):
            category = "app"
        messages.append([name, msg_type, category, _items(elem, f"message {name}", source)])

    components: list[list[Any]] = []
    components_elem = _section(root, "components")
    for elem in components_elem if components_elem is not None else ():
        if _local(elem.tag) != "component":
            continue
        name = (elem.get("name") or "").strip()
        if not name:
            raise ConfigError(f"{source}: a <component> definition has no name")
        components.append([name, _items(elem, f"component {name}", source)])

    return {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "fix": fix,
        "fields": fields,
        "header": items_of("header"),
        "trailer": items_of("trailer"),
        "messages": messages,
        "components": components,
    }


def read_xml(path: str | os.PathLike[str]) -> Model:
    """Read a QuickFIX XML data dictionary file into the model."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ConfigError(f"cannot read data dictionary {os.fspath(path)}: {exc}") from None
    return parse_xml(data, os.fspath(path))
