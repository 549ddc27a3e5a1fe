"""Settings files: every key maps to its setting, every mistake is a clear error."""

from __future__ import annotations

import dataclasses
import datetime
import os
from pathlib import Path
from typing import Any

import pytest

from fixengine.errors import ConfigError
from fixengine.settings import KEYS, SessionSettings, SettingsError, load_settings, parse_settings

INITIATOR = {
    "ConnectionType": "initiator",
    "BeginString": "FIX.4.4",
    "SenderCompID": "ME",
    "TargetCompID": "THEM",
    "SocketConnectHost": "127.0.0.1",
    "SocketConnectPort": "5001",
    "HeartBtInt": "30",
    "FileStorePath": "store",
}
ACCEPTOR = {
    "ConnectionType": "acceptor",
    "BeginString": "FIX.4.4",
    "SenderCompID": "ME",
    "TargetCompID": "THEM",
    "SocketAcceptPort": "6001",
    "FileStorePath": "store",
}


def cfg(base: dict[str, str] = INITIATOR, **extra: str | None) -> str:
    values = {**base, **extra}
    lines = ["[SESSION]"] + [f"{k}={v}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def one(text: str) -> SessionSettings:
    [s] = parse_settings(text, "test.cfg")
    return s


def error_of(text: str) -> str:
    with pytest.raises(SettingsError) as info:
        parse_settings(text, "settings.cfg")
    assert isinstance(info.value, ConfigError)
    return str(info.value)


def get(s: SessionSettings, path: str) -> Any:
    obj: Any = s
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def test_minimal_initiator() -> None:
    s = one(cfg())
    assert s.connection_type == "initiator"
    assert s.config.role == "initiator"
    assert s.connect_hosts == [("127.0.0.1", 5001)]
    assert str(s.session_id) == "FIX.4.4:ME->THEM"
    assert (s.store_type, s.store_path, s.fsync) == ("file", "store", "always")
    assert (s.log_type, s.log_path, s.tls) == ("null", None, None)
    assert s.source == "test.cfg:1"


def test_minimal_acceptor() -> None:
    s = one(cfg(ACCEPTOR, SocketAcceptHost="127.0.0.1"))
    assert (s.connection_type, s.accept_host, s.accept_port) == ("acceptor", "127.0.0.1", 6001)
    assert s.connect_hosts == []


def test_default_section_is_inherited_and_overridden() -> None:
    text = (
        "# a comment\n[DEFAULT]\nConnectionType=initiator\nBeginString=FIX.4.2\nSenderCompID=ME\n"
        "HeartBtInt=20\nFileStorePath=s\nSocketConnectHost=h\nSocketConnectPort=1\n\n"
        "[SESSION]\nTargetCompID=A\n  # indented comment\n"
        "[SESSION]\nTargetCompID=B\nHeartBtInt=5\nBeginString=FIX.4.4\n"
    )
    a, b = parse_settings(text)
    assert (a.config.begin_string, a.config.target_comp_id, a.config.heartbeat_interval) == (
        "FIX.4.2",
        "A",
        20,
    )
    assert (b.config.begin_string, b.config.target_comp_id, b.config.heartbeat_interval) == (
        "FIX.4.4",
        "B",
        5,
    )


def test_keys_are_case_insensitive_and_values_trimmed() -> None:
    s = one(cfg(HeartBtInt=None) + "HEARTBTINT = 45 \nresetonlogon=y\n")
    assert s.config.heartbeat_interval == 45
    assert s.config.reset_on_logon is True


# (key, value, attribute path, expected)
KEY_CASES: list[tuple[str, str, str, Any]] = [
    ("BeginString", "FIX.4.2", "config.begin_string", "FIX.4.2"),
    ("SenderSubID", "desk1", "config.sender_sub_id", "desk1"),
    ("SenderLocationID", "LDN", "config.sender_location_id", "LDN"),
    ("TargetSubID", "t1", "config.target_sub_id", "t1"),
    ("TargetLocationID", "NY", "config.target_location_id", "NY"),
    ("SessionQualifier", "q1", "config.session_qualifier", "q1"),
    ("ReconnectInterval", "5", "reconnect_interval", 5.0),
    ("HeartBtInt", "45", "config.heartbeat_interval", 45),
    ("LogonTimeout", "3", "config.logon_timeout", 3.0),
    ("LogoutTimeout", "1.5", "config.logout_timeout", 1.5),
    ("TestRequestDelayMultiplier", "0.5", "config.test_request_allowance", 0.5),
    ("StartTime", "08:00:00", "config.start_time", datetime.time(8)),
    ("Weekdays", "Mon,tue, Fri", "config.weekdays", (0, 1, 4)),
    ("TimeZone", "America/New_York", "config.time_zone", "America/New_York"),
    ("NonStopSession", "Y", "config.non_stop_session", True),
    ("UseLocalTime", "Y", "config.use_local_time", True),
    ("ResetOnLogon", "Y", "config.reset_on_logon", True),
    ("ResetOnLogout", "Y", "config.reset_on_logout", True),
    ("ResetOnDisconnect", "Y", "config.reset_on_disconnect", True),
    ("RefreshOnLogon", "Y", "config.refresh_on_logon", True),
    ("SendRedundantResendRequests", "Y", "config.send_redundant_resend_requests", True),
    ("ResendRequestChunkSize", "2500", "config.resend_request_chunk_size", 2500),
    ("EnableNextExpectedMsgSeqNum", "Y", "config.enable_next_expected_msg_seq_num", True),
    ("PersistMessages", "N", "config.persist_messages", False),
    ("ResendSessionLevelRejects", "Y", "config.resend_session_level_rejects", True),
    ("MaxQueuedMessages", "50", "config.max_queued_messages", 50),
    ("CheckLatency", "N", "config.check_latency", False),
    ("MaxLatency", "30", "config.max_latency", 30.0),
    ("CheckCompID", "N", "config.check_comp_id", False),
    ("TimeStampPrecision", "6", "config.timestamp_precision", 6),
    ("TimestampPrecision", "NANOS", "config.timestamp_precision", 9),
    ("UseDataDictionary", "N", "config.use_data_dictionary", False),
    ("DataDictionary", "FIX44", "config.data_dictionary", "FIX44"),
    ("ValidateUserDefinedFields", "N", "config.validate_user_defined_fields", False),
    ("ValidateFieldsOutOfOrder", "N", "config.validate_fields_out_of_order", False),
    ("ValidateFieldsHaveValues", "N", "config.validate_fields_have_values", False),
    ("ValidateUnorderedGroupFields", "N", "config.validate_unordered_group_fields", False),
    ("AllowUnknownMsgFields", "Y", "config.allow_unknown_msg_fields", True),
    ("ValidateLengthAndChecksum", "N", "validate_length_and_checksum", False),
    ("MaxMessageSize", "65536", "config.max_message_size", 65536),
    ("GarbledMessageRecovery", "Trailer", "config.garbled_recovery", "trailer"),
    ("GarbledMessageRecovery", "BeginString", "config.garbled_recovery", "begin-string"),
    ("SocketNodelay", "N", "socket_nodelay", False),
    ("MaxMessagesPerSecond", "200", "max_messages_per_second", 200),
    ("IdleStrategy", "Spin", "idle_strategy", "spin"),
    ("IdleSpinMicros", "200", "idle_spin_micros", 200),
    ("GcFreeze", "Y", "gc_freeze", True),
    ("FirstMessageAlone", "N", "first_message_alone", False),
    ("StoreType", "sqlite", "store_type", "sqlite"),
    ("FsyncPolicy", "batch", "fsync", "batch"),
    ("FsyncBatchInterval", "20", "fsync_batch_interval_ms", 20),
    ("FileLogPath", "logs", "log_path", "logs"),
    ("LogType", "logging", "log_type", "logging"),
    ("LogMaskedTags", "96, 1001", "masked_tags", frozenset({96, 1001})),
    ("Username", "alice", "config.username", "alice"),
    ("Password", "pa#ss=word", "config.password", "pa#ss=word"),
]


@pytest.mark.parametrize(("key", "value", "path", "expected"), KEY_CASES)
def test_each_key_sets_its_setting(key: str, value: str, path: str, expected: Any) -> None:
    extra = {key: value}
    if key == "StartTime":
        extra["EndTime"] = "17:00:00"
    if key == "UseLocalTime":
        extra["StartTime"], extra["EndTime"] = "08:00:00", "17:00:00"
    assert get(one(cfg(**extra)), path) == expected


def test_every_key_is_covered_by_a_test() -> None:
    tested = {k for k, *_ in KEY_CASES} | {k.lower() for k, *_ in KEY_CASES}
    tested |= {  # covered by the dedicated tests below
        "ConnectionType", "SenderCompID", "TargetCompID", "SocketConnectHost",
        "SocketConnectPort", "SocketAcceptHost", "SocketAcceptPort", "EndTime", "StartDay",
        "EndDay", "DefaultApplVerID", "TransportDataDictionary", "AppDataDictionary",
        "PasswordFile", "SocketUseSSL", "SSLProtocol", "SocketCertificateFile",
        "SocketPrivateKeyFile", "SocketCAFile", "SocketVerifyMode", "SocketPrivateKeyPassword",
        "SocketPrivateKeyPasswordFile", "FileStorePath",
    }  # fmt: skip
    assert {k.name for k in KEYS.values()} <= tested


def test_weekly_schedule_days() -> None:
    s = one(cfg(StartDay="sunday", EndDay="Fr", StartTime="18:00:00", EndTime="17:00:00"))
    assert (s.config.start_day, s.config.end_day) == (6, 4)
    assert (s.config.start_time, s.config.end_time) == (datetime.time(18), datetime.time(17))


def test_fixt_session_with_dictionaries(tmp_path: Path) -> None:
    t = tmp_path / "FIXT11.xml"
    a = tmp_path / "FIX50SP2.xml"
    t.write_text("<fix/>")
    a.write_text("<fix/>")
    s = one(
        cfg(
            BeginString="FIXT.1.1",
            DefaultApplVerID="FIX.5.0SP2",
            TransportDataDictionary=str(t),
            AppDataDictionary=str(a),
        )
    )
    assert s.config.default_appl_ver_id == "FIX.5.0SP2"
    assert (s.config.transport_data_dictionary, s.config.app_data_dictionary) == (str(t), str(a))
    assert one(cfg(BeginString="FIXT.1.1", DefaultApplVerID="9")).config.default_appl_ver_id == "9"


def test_failover_hosts_in_order() -> None:
    s = one(
        cfg(
            SocketConnectHost1="10.0.0.2",
            SocketConnectPort1="5002",
            SocketConnectHost2="backup",
            SocketConnectPort2="5003",
        )
    )
    assert s.connect_hosts == [("127.0.0.1", 5001), ("10.0.0.2", 5002), ("backup", 5003)]


def test_password_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIX_TEST_PASSWORD", "from-env")
    s = one(cfg(Password="${env:FIX_TEST_PASSWORD}", Username="u-${env:FIX_TEST_PASSWORD}"))
    assert s.config.password == "from-env"
    assert s.config.username == "u-from-env"


def test_password_from_file(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("file-secret\n")
    assert one(cfg(PasswordFile=str(f))).config.password == "file-secret"


def test_secrets_never_in_repr_or_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIX_TEST_PASSWORD", "TopSecret1")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    s = one(
        cfg(
            Password="${env:FIX_TEST_PASSWORD}",
            SocketUseSSL="Y",
            SocketCertificateFile=str(cert),
            SocketPrivateKeyFile=str(key),
            SocketPrivateKeyPassword="KeyPass2",
        )
    )
    assert s.config.password == "TopSecret1"
    assert s.tls is not None and s.tls.key_password == "KeyPass2"
    text = repr(s) + str(s) + repr(s.tls)
    assert "TopSecret1" not in text and "KeyPass2" not in text
    # a bad secret value is reported without echoing it
    msg = error_of(cfg(SocketPrivateKeyPassword="", Password="TopSecret1", PasswordFile="/x"))
    assert "TopSecret1" not in msg


def test_tls_initiator_defaults_to_verifying(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    s = one(cfg(SocketUseSSL="Y", SocketCAFile=str(ca), SSLProtocol="TLSv1.3"))
    assert s.tls is not None
    assert (s.tls.ca_file, s.tls.verify_mode, s.tls.minimum_version) == (
        str(ca),
        "required",
        "TLSv1.3",
    )


def test_tls_acceptor_mutual_with_quickfix_names(tmp_path: Path) -> None:
    for name in ("c.pem", "k.pem", "ca.pem"):
        (tmp_path / name).write_text("x")
    s = one(
        cfg(
            ACCEPTOR,
            SocketUseSSL="Y",
            ServerCertificateFile=str(tmp_path / "c.pem"),
            ServerCertificateKeyFile=str(tmp_path / "k.pem"),
            CertificationAuthoritiesFile=str(tmp_path / "ca.pem"),
            SocketVerifyMode="required",
        )
    )
    assert s.tls is not None
    assert s.tls.cert_file == str(tmp_path / "c.pem")
    assert s.tls.key_file == str(tmp_path / "k.pem")
    assert s.tls.ca_file == str(tmp_path / "ca.pem")
    assert s.tls.verify_mode == "required"


def test_tls_key_password_from_file(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("x")
    (tmp_path / "kp").write_text("kpass\n")
    s = one(
        cfg(
            SocketUseSSL="Y",
            SocketCertificateFile=str(tmp_path / "c.pem"),
            SocketPrivateKeyPasswordFile=str(tmp_path / "kp"),
        )
    )
    assert s.tls is not None and s.tls.key_password == "kpass"


def test_load_settings_reads_a_file(tmp_path: Path) -> None:
    p = tmp_path / "app.cfg"
    p.write_text("\ufeff" + cfg(), encoding="utf-8")
    [s] = load_settings(p)
    assert s.source == f"{p}:1"


def test_load_settings_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read settings file"):
        load_settings(tmp_path / "nope.cfg")


def test_open_store_and_log_from_settings(tmp_path: Path) -> None:
    s = one(cfg(FileStorePath=str(tmp_path / "st"), FileLogPath=str(tmp_path / "lg")))
    store = s.open_store()
    store.save_sent(1, b"x")
    store.close()
    log = s.open_log()
    log.on_event("hello")
    log.close()  # type: ignore[attr-defined]
    assert (tmp_path / "lg" / "FIX.4.4-ME-THEM.event.log").read_text().count("hello") == 1
    assert (tmp_path / "st" / "FIX.4.4-ME-THEM" / "messages.log").exists()


# (settings text, expected message)
ERROR_CASES: list[tuple[str, str]] = [
    (cfg(HeartBtInt="abc"), "settings.cfg:8: HeartBtInt: expected a positive integer, got 'abc'"),
    (cfg(HeartBtInt="0"), "HeartBtInt: expected a positive integer, got '0'"),
    (cfg(HeartBtInt=""), "HeartBtInt: empty value"),
    (cfg(SocketConnectPort="70000"), "SocketConnectPort: expected a TCP port (1-65535)"),
    (cfg(ResetOnLogon="maybe"), "ResetOnLogon: expected Y or N, got 'maybe'"),
    (cfg(ConnectionType="server"), "ConnectionType: expected one of initiator, acceptor"),
    (cfg(BeginString="FIX.5.0"), "BeginString: expected one of FIX.4.0"),
    (cfg(BeginString="FIXT.1.1"), "missing DefaultApplVerID (required for FIXT.1.1"),
    (cfg(BeginString="FIXT.1.1", DefaultApplVerID="5.0"), "DefaultApplVerID: expected"),
    (cfg(StartTime="8am", EndTime="17:00:00"), "StartTime: expected a time HH:MM:SS"),
    (cfg(StartTime="24:00:00", EndTime="17:00:00"), "StartTime: expected a time HH:MM:SS"),
    (cfg(StartTime="08:00:00"), "StartTime: EndTime must be set too"),
    (cfg(StartDay="Monday", StartTime="08:00:00", EndTime="17:00:00"), "EndDay must be set"),
    (cfg(StartDay="Funday", EndDay="Fri"), "StartDay: expected a day of the week"),
    (cfg(StartDay="Mon", EndDay="Fri"), "a weekly session needs StartTime and EndTime"),
    (
        cfg(Weekdays="Mon", StartDay="Mon", EndDay="Fri", StartTime="01:00:00", EndTime="02:00:00"),
        "Weekdays: cannot be combined with StartDay",
    ),
    (cfg(Weekdays=","), "Weekdays: expected a comma-separated list of days"),
    (cfg(TimeZone="Mars/Olympus"), "TimeZone: expected an IANA time zone name"),
    (cfg(TimeZone="UTC", UseLocalTime="Y"), "TimeZone: cannot be combined with UseLocalTime=Y"),
    (cfg(TimeStampPrecision="2"), "TimeStampPrecision: expected 0, 3, 6 or 9"),
    (cfg(MaxLatency="-1"), "MaxLatency: expected a positive number of seconds"),
    (cfg(LogonTimeout="soon"), "LogonTimeout: expected a positive number of seconds"),
    (cfg(ReconnectInterval="0"), "ReconnectInterval: expected a positive number of seconds"),
    (cfg(TestRequestDelayMultiplier="x"), "TestRequestDelayMultiplier: expected a non-negative"),
    (cfg(ResendRequestChunkSize="-5"), "ResendRequestChunkSize: expected a non-negative integer"),
    (cfg(GarbledMessageRecovery="skip"), "GarbledMessageRecovery: expected BeginString or Trailer"),
    (cfg(StoreType="redis"), "StoreType: expected one of memory, file, sqlite"),
    (cfg(FsyncPolicy="sometimes"), "FsyncPolicy: expected one of always, batch, never"),
    (cfg(IdleStrategy="yield"), "IdleStrategy: expected one of sleep, spin, backoff"),
    (cfg(IdleSpinMicros="-5"), "IdleSpinMicros: expected a non-negative integer"),
    (cfg(FileStorePath=None), "missing FileStorePath (StoreType=file)"),
    (cfg(LogType="file"), "missing FileLogPath (LogType=file)"),
    (cfg(LogMaskedTags="554,abc"), "LogMaskedTags: expected a comma-separated list"),
    (cfg(SSLProtocol="SSLv3", SocketUseSSL="Y"), "SSLProtocol: expected the minimum TLS version"),
    (cfg(SocketVerifyMode="strict"), "SocketVerifyMode: expected one of none, optional"),
    (cfg(DataDictionary="/no/such/FIX44.xml"), "DataDictionary: file not found"),
    (cfg(SocketUseSSL="Y", SocketCAFile="/no/ca.pem"), "SocketCAFile: file not found: /no/ca.pem"),
    (cfg(ACCEPTOR, SocketUseSSL="Y"), "missing SocketCertificateFile (acceptor with SocketUseSSL"),
    (cfg(HeartBeatInt="30"), "HeartBeatInt: unknown key (did you mean HeartBtInt?)"),
    (cfg(SocketKeyStore="x.jks"), "SocketKeyStore: not supported: Java key stores"),
    (
        cfg(SocketConnectHost=None),
        "settings.cfg:1: [SESSION]: missing SocketConnectHost (initiator)",
    ),
    (cfg(SocketConnectPort=None), "missing SocketConnectPort (initiator)"),
    (cfg(HeartBtInt=None), "missing HeartBtInt (initiator)"),
    (cfg(ACCEPTOR, SocketAcceptPort=None), "missing SocketAcceptPort (acceptor)"),
    (cfg(SenderCompID=None), "missing SenderCompID"),
    (cfg(TargetCompID=None), "missing TargetCompID"),
    (cfg(BeginString=None), "missing BeginString"),
    (cfg(ConnectionType=None), "missing ConnectionType"),
    (cfg(SocketConnectHost1="h"), "SocketConnectHost1: SocketConnectPort1 must be set too"),
    (
        cfg(SocketConnectHost2="h", SocketConnectPort2="1"),
        "SocketConnectHost2: failover hosts must be numbered 1, 2, ... without gaps",
    ),
    (
        cfg(Password="${env:FIX_TEST_UNSET_VARIABLE}"),
        "environment variable FIX_TEST_UNSET_VARIABLE",
    ),
    (cfg(PasswordFile="/no/such/pw"), "PasswordFile: cannot read /no/such/pw"),
    (cfg(Password="a", PasswordFile="/x"), "Password and PasswordFile are both set"),
    (cfg() + "HeartBtInt=31\n", "settings.cfg:10: HeartBtInt: set twice in this section"),
    (cfg() + cfg(), "settings.cfg:10: duplicate session FIX.4.4:ME->THEM (first at line 1)"),
    ("HeartBtInt=30\n" + cfg(), "settings.cfg:1: HeartBtInt: outside a [DEFAULT] or [SESSION]"),
    ("[SESSIONS]\n" + cfg(), "settings.cfg:1: unknown section '[SESSIONS]'"),
    (cfg() + "this line has no equals sign\n", "settings.cfg:10: expected Key=Value"),
    ("[DEFAULT]\nHeartBtInt=30\n", "no [SESSION] section"),
    ("", "no [SESSION] section"),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_bad_settings_fail_clearly(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_all_problems_are_reported_at_once() -> None:
    text = cfg(HeartBtInt="x", SocketConnectPort=None, Bogus="1")
    with pytest.raises(SettingsError) as info:
        parse_settings(text, "a.cfg")
    joined = "\n".join(info.value.errors)
    assert "HeartBtInt: expected a positive integer" in joined
    assert "missing SocketConnectPort" in joined
    assert "Bogus: unknown key" in joined
    assert all(e.startswith("a.cfg:") for e in info.value.errors)


def test_error_in_default_is_reported_once_with_its_line() -> None:
    text = "[DEFAULT]\nHeartBtInt=-3\n" + cfg(HeartBtInt=None) + cfg(TargetCompID="OTHER")
    with pytest.raises(SettingsError) as info:
        parse_settings(text, "d.cfg")
    assert [e for e in info.value.errors if "HeartBtInt" in e] == [
        "d.cfg:2: HeartBtInt: expected a positive integer, got '-3'"
    ]


def test_env_reference_in_other_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIX_TEST_HOST", "fix.example.net")
    s = one(cfg(SocketConnectHost="${env:FIX_TEST_HOST}"))
    assert s.connect_hosts[0] == ("fix.example.net", 5001)
    assert os.environ["FIX_TEST_HOST"] == "fix.example.net"


def test_tls_settings_build_an_initiator_context() -> None:
    import ssl

    from fixengine.settings import TlsSettings

    ctx = TlsSettings(verify_mode="none", minimum_version="TLSv1.3").context("initiator")
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
    strict = TlsSettings().context("initiator")
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname


def test_tls_settings_acceptor_context_needs_a_certificate() -> None:
    from fixengine.settings import TlsSettings

    with pytest.raises(ConfigError, match="SocketCertificateFile"):
        TlsSettings(verify_mode="none").context("acceptor")


def test_mutual_tls_settings_load_real_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib
    import ssl

    pytest.importorskip("cryptography")
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "tls"))
    pki_module = importlib.import_module("pki")

    pki = pki_module.make_pki(tmp_path)
    monkeypatch.setenv("FIX_TEST_KEY_PASSPHRASE", pki.server_key_passphrase)
    acceptor = one(
        cfg(
            ACCEPTOR,
            SocketUseSSL="Y",
            SocketCertificateFile=str(pki.server_cert),
            SocketPrivateKeyFile=str(pki.server_key),
            SocketPrivateKeyPassword="${env:FIX_TEST_KEY_PASSPHRASE}",
            SocketCAFile=str(pki.ca_cert),
            SocketVerifyMode="required",
        )
    )
    initiator = one(
        cfg(
            SocketUseSSL="Y",
            SocketCertificateFile=str(pki.client_cert),
            SocketPrivateKeyFile=str(pki.client_key),
            SocketCAFile=str(pki.ca_cert),
        )
    )
    assert acceptor.tls is not None and initiator.tls is not None
    assert acceptor.tls.context("acceptor").verify_mode == ssl.CERT_REQUIRED
    assert initiator.tls.context("initiator").verify_mode == ssl.CERT_REQUIRED
    wrong = dataclasses.replace(acceptor.tls, key_password="not-the-passphrase")
    with pytest.raises(ConfigError) as info:
        wrong.context("acceptor")
    assert "not-the-passphrase" not in str(info.value)
    assert pki.server_key_passphrase not in repr(acceptor)


def test_every_session_config_field_has_a_key() -> None:
    from fixengine.session.config import SessionConfig

    mapped = {k.field for k in KEYS.values() if k.field} | {"role"}  # role: ConnectionType
    unmapped = [f.name for f in dataclasses.fields(SessionConfig) if f.name not in mapped]
    assert unmapped == [], f"SessionConfig fields no settings key sets: {unmapped}"
