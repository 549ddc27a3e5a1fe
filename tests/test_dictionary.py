"""Data dictionaries: XML semantics, lookups, loading by name and path, the converter."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fixengine
import fixengine.cli
from fixengine.dictionary import (
    APPL_VER_IDS,
    DataDictionary,
    available,
    convert,
    format_checker,
    from_bytes,
    load,
    main,
)
from fixengine.errors import ConfigError

SHIPPED = [
    "FIX40",
    "FIX41",
    "FIX42",
    "FIX43",
    "FIX44",
    "FIX50",
    "FIX50SP1",
    "FIX50SP2",
    "FIXT11",
]

FIELDS = """
<field number='8' name='BeginString' type='STRING'/>
<field number='9' name='BodyLength' type='LENGTH'/>
<field number='10' name='CheckSum' type='STRING'/>
<field number='11' name='ClOrdID' type='STRING'/>
<field number='35' name='MsgType' type='STRING'>
  <value enum='U1' description='ORDER'/>
</field>
<field number='48' name='SecurityID' type='STRING'/>
<field number='54' name='Side' type='CHAR'>
  <value enum='1' description='BUY'/>
  <value enum='2' description='SELL'/>
</field>
<field number='55' name='Symbol' type='STRING'/>
<field number='58' name='Text' type='STRING'/>
<field number='95' name='RawDataLength' type='LENGTH'/>
<field number='96' name='RawData' type='DATA'/>
<field number='448' name='PartyID' type='STRING'/>
<field number='447' name='PartyIDSource' type='CHAR'/>
<field number='452' name='PartyRole' type='INT'/>
<field number='453' name='NoPartyIDs' type='NUMINGROUP'/>
<field number='454' name='NoSecurityAltID' type='NUMINGROUP'/>
<field number='455' name='SecurityAltID' type='STRING'/>
<field number='456' name='SecurityAltIDSource' type='STRING'/>
<field number='7001' name='OddLen' type='LENGTH'/>
<field number='7002' name='OddPayload' type='XMLDATA'/>
<field number='7003' name='Custom' type='SOMETHINGNEW'/>
"""

COMPONENTS = """
<component name='Instrument'>
  <field name='Symbol' required='Y'/>
  <field name='SecurityID' required='N'/>
  <group name='NoSecurityAltID' required='N'>
    <field name='SecurityAltID' required='Y'/>
    <field name='SecurityAltIDSource' required='N'/>
  </group>
</component>
<component name='Parties'>
  <group name='NoPartyIDs' required='Y'>
    <component name='PartyIdent' required='Y'/>
    <field name='PartyRole' required='Y'/>
  </group>
</component>
<component name='PartyIdent'>
  <field name='PartyID' required='Y'/>
  <field name='PartyIDSource' required='N'/>
</component>
<component name='Outer'>
  <component name='Inner' required='N'/>
</component>
<component name='Inner'>
  <field name='Text' required='Y'/>
</component>
"""


def make_xml(
    messages: str | None = None,
    components: str = COMPONENTS,
    fields: str = FIELDS,
    root: str = "<fix type='FIX' major='4' minor='4' servicepack='0'>",
) -> bytes:
    if messages is None:
        messages = """
        <message name='Order' msgtype='U1' msgcat='app'>
          <field name='ClOrdID' required='Y'/>
          <component name='Instrument' required='Y'/>
          <component name='Parties' required='N'/>
          <component name='Outer' required='Y'/>
          <field name='Side' required='Y'/>
          <field name='OddLen' required='N'/>
          <field name='OddPayload' required='N'/>
          <field name='RawDataLength' required='N'/>
          <field name='RawData' required='N'/>
          <field name='Custom' required='N'/>
        </message>"""
    return f"""<?xml version='1.0' encoding='UTF-8'?>
{root}
 <header>
  <field name='BeginString' required='Y'/>
  <field name='BodyLength' required='Y'/>
  <field name='MsgType' required='Y'/>
 </header>
 <messages>{messages}</messages>
 <trailer><field name='CheckSum' required='Y'/></trailer>
 <components>{components}</components>
 <fields>{fields}</fields>
</fix>""".encode()


@pytest.fixture(scope="module")
def custom() -> DataDictionary:
    return from_bytes(make_xml(), "custom.xml")


# -- structure from XML -----------------------------------------------------------------------
def test_components_expand_in_place_in_dictionary_order(custom):
    order = custom.message("U1").fields
    assert order == (11, 55, 48, 454, 453, 58, 54, 7001, 7002, 95, 96, 7003)


def test_required_field_of_required_component_is_required(custom):
    assert custom.message("U1").required == frozenset({11, 55, 54})


def test_required_field_inside_optional_component_is_not_required(custom):
    # Outer is required but Inner (holding Text) is not
    assert 58 not in custom.message("U1").required
    # and an optional component's required group does not make its NumInGroup required
    assert 453 not in custom.message("U1").required
    assert custom.group(453, "U1").is_required is False


def test_group_delimiter_is_first_field_after_expanding_a_leading_component(custom):
    parties = custom.group(453, "U1")
    assert parties.delimiter == 448
    assert parties.fields == (448, 447, 452)
    assert parties.required == frozenset({448, 452})
    assert parties.name == "NoPartyIDs"


def test_group_inside_component_belongs_to_the_message(custom):
    alt = custom.message("U1").groups[454]
    assert alt.delimiter == 455
    assert alt.required == frozenset({455})
    assert custom.group("NoSecurityAltID", "U1") is alt


def test_header_and_trailer_layouts(custom):
    assert custom.header.fields == (8, 9, 35)
    assert custom.header.required == frozenset({8, 9, 35})
    assert custom.trailer.fields == (10,)
    assert custom.is_header_field(35) and not custom.is_header_field(11)
    assert custom.is_trailer_field(10)


def test_field_definitions_keep_types_and_enum_descriptions(custom):
    side = custom.field(54)
    assert (side.tag, side.name, side.type) == (54, "Side", "CHAR")
    assert dict(side.enums) == {b"1": "BUY", b"2": "SELL"}
    assert custom.field("Side") is side
    assert custom.tag("PartyRole") == 452
    assert custom.name(452) == "PartyRole"
    assert custom.field(96).is_data and custom.field(7002).is_data
    assert custom.field(7003).type == "SOMETHINGNEW"


def test_data_fields_pair_by_name_or_by_position(custom):
    # RawDataLength -> RawData by name; OddLen -> OddPayload only by position
    assert dict(custom.data_fields) == {95: 96, 7001: 7002}


def test_unknown_type_has_no_format_check_but_known_types_do(custom):
    assert custom.check_format(7003, b"anything at all")
    assert not custom.check_format(452, b"x")
    assert custom.check_enum(54, b"1") and not custom.check_enum(54, b"3")
    assert custom.check_enum(11, b"no enums here")


def test_lookups_of_unknown_names_raise_key_error_naming_the_version(custom):
    with pytest.raises(KeyError, match="Nope"):
        custom.tag("Nope")
    with pytest.raises(KeyError, match="9999"):
        custom.field(9999)
    with pytest.raises(KeyError, match="ZZ"):
        custom.message("ZZ")
    with pytest.raises(KeyError, match="not a repeating group"):
        custom.group(11, "U1")
    assert not custom.has_message("ZZ") and custom.has_message(b"U1")
    assert custom.has_field("Symbol") and not custom.has_field(12345)


def test_message_lookup_by_name_and_bytes(custom):
    order = custom.message("Order")
    assert order is custom.message(b"U1")
    assert (order.name, order.msg_type, order.category, order.is_admin) == (
        "Order",
        "U1",
        "app",
        False,
    )
    assert custom.msg_type_names == {"U1": "Order"}


# -- malformed files --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("xml", "message"),
    ids=[
        "not-xml",
        "truncated",
        "wrong-root",
        "no-major",
        "bad-major",
        "undefined-field",
        "undefined-component",
        "component-cycle",
        "message-without-msgtype",
        "duplicate-msgtype",
        "duplicate-field-name",
        "duplicate-field-number",
        "empty-group",
        "entity-declaration",
    ],
    argvalues=[
        (b"not xml at all", "neither"),
        (b"<fix><header>", "not well-formed"),
        (b"<notfix/>", "expected <fix>"),
        (make_xml(root="<fix type='FIX' minor='4'>"), "major"),
        (make_xml(root="<fix type='FIX' major='x' minor='4'>"), "not a number"),
        (
            make_xml("<message name='X' msgtype='U1'><field name='Missing'/></message>"),
            "undefined field Missing",
        ),
        (
            make_xml("<message name='X' msgtype='U1'><component name='Nope'/></message>"),
            "undefined component Nope",
        ),
        (
            make_xml(
                "<message name='X' msgtype='U1'><component name='A'/></message>",
                components="<component name='A'><component name='B'/></component>"
                "<component name='B'><component name='A'/></component>",
            ),
            "include themselves: A -> B -> A",
        ),
        (make_xml("<message name='X'/>"), "needs both 'name' and 'msgtype'"),
        (
            make_xml(
                "<message name='X' msgtype='U1'/><message name='Y' msgtype='U1'/>",
            ),
            "defined more than once",
        ),
        (
            make_xml(fields=FIELDS + "<field number='999' name='Side' type='INT'/>"),
            "Side is defined more than once",
        ),
        (
            make_xml(fields=FIELDS + "<field number='54' name='Other' type='INT'/>"),
            "field number 54 is defined twice",
        ),
        (
            make_xml("<message name='X' msgtype='U1'><group name='NoPartyIDs'/></message>"),
            "has no fields",
        ),
        (
            b"<?xml version='1.0'?><!DOCTYPE fix [<!ENTITY a 'aaaa'>]><fix>&a;</fix>",
            "entity",
        ),
    ],
)
def test_malformed_dictionary_raises_config_error_naming_the_problem(xml, message):
    """A counterparty's broken file gives a ConfigError that says what is wrong."""
    with pytest.raises(ConfigError, match=message):
        from_bytes(xml, "broken.xml")


def test_compact_file_of_another_format_version_is_refused():
    model = json.loads(load("FIXT11").to_bytes(compress=False))
    model["format_version"] = 99
    with pytest.raises(ConfigError, match="version 99 is not supported"):
        from_bytes(json.dumps(model).encode(), "future.json")
    with pytest.raises(ConfigError, match="not a fixengine data dictionary"):
        from_bytes(b'{"hello": 1}', "other.json")
    with pytest.raises(ConfigError, match="corrupt gzip"):
        from_bytes(b"\x1f\x8b\x08\x00garbage", "broken.json.gz")


def test_compact_form_rebuilds_an_equal_dictionary(custom):
    again = from_bytes(custom.to_bytes(), "again")
    assert again == custom
    assert again.message("U1") == custom.message("U1")
    assert again.group(453, "U1") == custom.group(453, "U1")
    assert dict(again.data_fields) == dict(custom.data_fields)
    plain = from_bytes(custom.to_bytes(compress=False), "plain")
    assert plain == custom


def test_compact_form_is_byte_for_byte_reproducible(custom):
    first = custom.to_bytes()
    assert first == from_bytes(first).to_bytes()
    assert gzip.decompress(first).startswith(b'{"format":"fixengine.dictionary"')


# -- version information ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "begin_string", "appl_ver_id", "transport"),
    [
        ("FIX40", "FIX.4.0", "2", False),
        ("FIX42", "FIX.4.2", "4", False),
        ("FIX44", "FIX.4.4", "6", False),
        ("FIX50", "FIX.5.0", "7", False),
        ("FIX50SP1", "FIX.5.0SP1", "8", False),
        ("FIX50SP2", "FIX.5.0SP2", "9", False),
        ("FIXT11", "FIXT.1.1", None, True),
    ],
)
def test_shipped_dictionary_version_information(name, begin_string, appl_ver_id, transport):
    dd = load(name)
    assert dd.begin_string == begin_string
    assert dd.version.name == name
    assert dd.appl_ver_id == appl_ver_id
    assert dd.is_transport is transport
    if appl_ver_id is not None:
        assert APPL_VER_IDS[appl_ver_id] == name


# -- loading ------------------------------------------------------------------------------------
def test_every_version_is_shipped():
    assert available() == sorted(SHIPPED)


@pytest.mark.parametrize("alias", ["FIX44", "fix44", "FIX.4.4", " FIX.4.4 ", "Fix_44"])
def test_load_accepts_names_and_begin_strings(alias):
    assert load(alias) is load("FIX44")


def test_load_accepts_fix5_begin_string_style_names():
    assert load("FIX.5.0SP2") is load("FIX50SP2")
    assert load("FIXT.1.1") is load("FIXT11")


def test_load_reads_xml_and_compact_paths_and_caches_per_file(tmp_path):
    xml = tmp_path / "CUSTOM.xml"
    xml.write_bytes(make_xml())
    first = load(xml)
    assert first is load(str(xml))
    assert first.message("U1").name == "Order"
    compact = tmp_path / "custom.json.gz"
    convert(xml, compact)
    assert load(compact) == first
    # an edited file is read again
    xml.write_bytes(make_xml().replace(b"name='Order'", b"name='Order2'"))
    os.utime(xml, ns=(1, 1))
    assert load(xml).message("U1").name == "Order2"


def test_load_of_unknown_name_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match=r"FIX44.*FIXT11"):
        load("FIX99")


def test_shipped_dictionaries_load_from_an_installed_package_layout(tmp_path):
    """The package as a wheel installs it (specs copied into fixengine/specs), used from
    another directory."""
    site = tmp_path / "site"
    package = Path(fixengine.__file__).parent
    shutil.copytree(
        package, site / "fixengine", symlinks=False, ignore=shutil.ignore_patterns("__pycache__")
    )
    assert not (site / "fixengine" / "specs").is_symlink()
    code = (
        "import fixengine.dictionary as d; dd = d.load('FIX44'); "
        "print(dd.source); print(d.available())"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert Path(out[0]).parent == site / "fixengine" / "specs"
    assert out[1] == repr(sorted(SHIPPED))


def test_package_data_configuration_ships_the_specs():
    """pyproject's package data pattern matches the files that fixengine/specs exposes."""
    import tomllib

    root = Path(fixengine.__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["fixengine"]
    package = Path(fixengine.__file__).parent
    shipped = {p.name for pattern in patterns for p in package.glob(pattern) if "specs" in pattern}
    assert shipped == {f"{name}.json.gz" for name in SHIPPED}


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("FIXENGINE_PACKAGING_TESTS") != "1",
    reason="builds a wheel (compiles the codec); set FIXENGINE_PACKAGING_TESTS=1",
)
def test_wheel_contains_the_shipped_dictionaries(tmp_path):  # pragma: no cover - opt-in
    import zipfile

    root = Path(fixengine.__file__).resolve().parent.parent
    source = tmp_path / "src"
    shutil.copytree(
        root,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
         str(tmp_path / "dist"), str(source)],
        check=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("fixengine-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"fixengine/specs/{name}.json.gz" for name in SHIPPED} <= names


# -- the converter ------------------------------------------------------------------------------
def test_convert_command_writes_a_loadable_compact_file(tmp_path, capsys):
    xml = tmp_path / "c.xml"
    xml.write_bytes(make_xml())
    out = tmp_path / "c.json.gz"
    assert main(["convert", str(xml), str(out)]) == 0
    assert load(out) == from_bytes(make_xml())
    assert "FIX.4.4, 1 messages" in capsys.readouterr().out


def test_convert_command_names_outputs_after_the_version_in_a_directory(tmp_path):
    a = tmp_path / "a.xml"
    a.write_bytes(make_xml())
    b = tmp_path / "b.xml"
    b.write_bytes(make_xml(root="<fix type='FIXT' major='1' minor='1'>"))
    out = tmp_path / "out"
    out.mkdir()
    assert main(["convert", str(a), str(b), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["FIX44.json.gz", "FIXT11.json.gz"]
    assert load(out / "FIXT11.json.gz").is_transport


def test_convert_command_reports_errors_with_exit_status(tmp_path, capsys):
    bad = tmp_path / "bad.xml"
    bad.write_bytes(make_xml("<message name='X' msgtype='U1'><field name='Missing'/></message>"))
    assert main(["convert", str(bad), str(tmp_path / "o.json.gz")]) == 1
    assert "undefined field Missing" in capsys.readouterr().err
    assert main(["convert", str(bad), str(bad), str(tmp_path / "nodir")]) == 2
    assert main(["convert", str(tmp_path / "absent.xml"), str(tmp_path / "o.json.gz")]) == 1
    assert not (tmp_path / "o.json.gz").exists()


def test_convert_is_registered_as_a_fixengine_cli_command(tmp_path, monkeypatch):
    assert fixengine.cli.COMMANDS[("dictionary", "convert")] == "fixengine.dictionary"
    monkeypatch.setattr(
        fixengine.cli, "COMMANDS", {("dictionary", "convert"): "fixengine.dictionary"}
    )
    xml = tmp_path / "c.xml"
    xml.write_bytes(make_xml())
    assert fixengine.cli.main(["dictionary", "convert", str(xml), str(tmp_path / "o.json")]) == 0
    assert json.loads((tmp_path / "o.json").read_text())["fix"]["major"] == 4


# -- data formats (FIX spec "Data Types") -----------------------------------------------------
FORMAT_CASES = {
    "INT": (["0", "42", "-7", "007"], ["", "+1", "1.0", "1e3", "x", "- 1"]),
    "SEQNUM": (["1", "123456"], ["-1", "1.0", "+2"]),
    "NUMINGROUP": (["0", "3"], ["-1", "two"]),
    "DAYOFMONTH": (["1", "09", "31"], ["0", "32", "x"]),
    "PRICE": (
        ["002000.00", "1", "-1.5", "1.", ".5", "-.5", "0"],
        ["+200.00", "1e5", ".", "-", "1.2.3", "1,5", " 1"],
    ),
    "QTY": (["100", "0.0001"], ["1/2", "NaN"]),
    "CHAR": (["A", "1", " "], ["", "AB"]),
    "BOOLEAN": (["Y", "N"], ["y", "T", "YES", ""]),
    "UTCTIMESTAMP": (
        ["20240102-03:04:05", "20240102-23:59:60", "20240102-03:04:05.678",
         "20240102-03:04:05.123456789"],
        ["20241302-03:04:05", "20240132-03:04:05", "20240102-24:00:00", "20240102 03:04:05",
         "20240102-03:04:05.", "20240102-03:04:05.1234567890", "2024-01-02T03:04:05"],
    ),
    "TIME": (["20240102-03:04:05"], ["03:04:05"]),
    "UTCTIMEONLY": (["03:04:05", "03:04:05.123"], ["3:04:05", "03:60:00", "03:04"]),
    "UTCDATEONLY": (["20240229"], ["2024022", "20240001", "2024-02-29"]),
    "LOCALMKTDATE": (["20240102"], ["240102"]),
    "MONTHYEAR": (["202401", "20240115", "202401w2"], ["2024", "202413", "202401w6", "2024011"]),
    "TZTIMEONLY": (
        ["07:39Z", "02:39-05", "15:39+08:00", "13:39:00.123Z", "07:39"],
        ["7:39Z", "07:39+15", "07:39X"],
    ),
    "TZTIMESTAMP": (["20060901-07:39Z", "20060901-02:39-05:00"], ["20060901T07:39Z"]),
    "MULTIPLECHARVALUE": (["A", "A B C"], ["AB", "A  B", " A"]),
}  # fmt: skip


@pytest.mark.parametrize("type_name", sorted(FORMAT_CASES))
def test_format_checks_accept_valid_and_refuse_malformed_values(type_name):
    check = format_checker(type_name)
    assert check is not None
    good, bad = FORMAT_CASES[type_name]
    assert [v for v in good if not check(v.encode())] == []
    assert [v for v in bad if check(v.encode())] == []


@pytest.mark.parametrize(
    "type_name",
    ["STRING", "DATA", "XMLDATA", "CURRENCY", "EXCHANGE", "COUNTRY", "LANGUAGE",
     "MULTIPLEVALUESTRING", "MULTIPLESTRINGVALUE", "XID", "XIDREF", "UNHEARD_OF"],
)  # fmt: skip
def test_free_text_types_have_no_format_check(type_name):
    assert format_checker(type_name) is None


def test_fix40_char_fields_are_free_text_as_in_that_version():
    assert load("FIX40").field(8).type == "CHAR"
    assert load("FIX40").check_format(8, b"FIX.4.0")
    assert load("FIX41").check_format(11, b"ORDER-1")
    assert not load("FIX42").check_format(54, b"12")


def test_multiple_value_enums_check_each_item():
    dd = load("FIX44")
    assert dd.field(18).is_multi_value
    assert dd.check_enum(18, b"G")
    assert dd.check_enum(18, b"G 1 6")
    assert not dd.check_enum(18, b"G ZZ")


# -- facts of the shipped dictionaries ----------------------------------------------------------
def test_shipped_fix44_facts():
    dd = load("FIX44")
    assert dd.tag("MsgType") == 35
    assert dd.field("Side").enums[b"1"] == "BUY"
    nos = dd.message("D")
    assert (nos.name, nos.category) == ("NewOrderSingle", "app")
    assert nos.required == frozenset({11, 40, 54, 60})
    assert dd.message("0").category == "admin"
    parties = dd.group(453, "D")
    assert (parties.delimiter, parties.fields) == (448, (448, 447, 452, 802))
    assert dd.group(802, "D").delimiter == 523  # nested, found depth first
    assert dd.group(627).fields == (628, 629, 630)  # header group
    assert dd.group(268, "W").delimiter == 269
    assert dd.header.required == frozenset({8, 9, 35, 49, 56, 34, 52})
    assert dd.trailer.required == frozenset({10})
    assert dict(dd.data_fields) == {
        90: 91, 93: 89, 95: 96, 212: 213, 348: 349, 350: 351, 352: 353, 354: 355,
        356: 357, 358: 359, 360: 361, 362: 363, 364: 365, 445: 446, 618: 619, 621: 622,
    }  # fmt: skip


def test_shipped_fix42_new_order_single_requires_what_the_spec_says():
    assert load("FIX42").message("D").required == frozenset({11, 21, 40, 54, 55, 60})
    assert load("FIX40").message("D").required == frozenset({11, 21, 38, 40, 54, 55})


def test_shipped_fix50sp2_data_fields_include_length_named_and_positional_pairs():
    data = load("FIX50SP2").data_fields
    assert data[43109] == 42684  # PaymentStreamFormulaLength -> PaymentStreamFormula
    assert data[41873] == 41874  # paired only by position in the definitions
    assert data[354] == 355


def test_fixt11_holds_session_messages_and_fix50sp2_application_ones():
    transport, app = load("FIXT11"), load("FIX50SP2")
    assert set(transport.messages) == {"0", "1", "2", "3", "4", "5", "A", "n"}
    assert all(m.is_admin for m in transport.messages.values())
    assert not app.has_message("A") and app.has_message("D")
    assert app.header.fields == () and 1128 in transport.header
