"""Per-session configuration (what a QuickFIX ``[SESSION]`` section describes).

:class:`SessionConfig` is plain data; :mod:`fixengine.settings` builds it from
QuickFIX-style settings files and checks every value.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Literal

Role = Literal["initiator", "acceptor"]


@dataclasses.dataclass(frozen=True, slots=True)
class SessionID:
    """Identity of a session: (BeginString, SenderCompID, TargetCompID[, qualifier])."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    qualifier: str = ""

    def __str__(self) -> str:
        text = f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"
        return f"{text}:{self.qualifier}" if self.qualifier else text


@dataclasses.dataclass(slots=True)
class SessionConfig:
    """Everything the session state machine needs to know about one session."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    role: Role = "initiator"
    session_qualifier: str = ""
    sender_sub_id: str | None = None
    sender_location_id: str | None = None
    target_sub_id: str | None = None
    target_location_id: str | None = None
    default_appl_ver_id: str | None = None  # FIXT.1.1 only, e.g. "FIX.5.0SP2" or "9"

    heartbeat_interval: int = 30  # HeartBtInt(108), initiator's proposal
    logon_timeout: float = 10.0
    logout_timeout: float = 2.0
    test_request_allowance: float = 0.2  # fraction of HeartBtInt tolerated as transmission delay

    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    refresh_on_logon: bool = False
    send_redundant_resend_requests: bool = False
    resend_request_chunk_size: int = 0  # 0 = whole range in one ResendRequest
    enable_next_expected_msg_seq_num: bool = False  # NextExpectedMsgSeqNum(789) on Logon
    persist_messages: bool = True

    resend_session_level_rejects: bool = False  # resend our 35=3 instead of gap-filling it
    max_queued_messages: int = 10_000  # messages held above a sequence gap (beyond: re-requested)

    check_latency: bool = True
    max_latency: float = 120.0  # SendingTime accuracy window, seconds
    # digits of SendingTime fractions: 0, 3, 6 or 9; None = 0 for FIX.4.0/4.1, 3 otherwise
    timestamp_precision: int | None = None
    check_comp_id: bool = True

    # Session schedule (QuickFIX StartTime/EndTime/StartDay/EndDay/Weekdays/TimeZone/
    # UseLocalTime/NonStopSession). No start and end time means a non-stop session.
    start_time: datetime.time | None = None
    end_time: datetime.time | None = None
    start_day: int | None = None  # weekly session: 0 = Monday ... 6 = Sunday
    end_day: int | None = None
    weekdays: tuple[int, ...] = ()  # daily session only on these days (0 = Monday)
    time_zone: str | None = None  # IANA name, e.g. "America/New_York"; None = UTC
    use_local_time: bool = False  # the machine's local zone instead of time_zone
    non_stop_session: bool = False

    use_data_dictionary: bool = True
    data_dictionary: str | None = None  # FIX.4.x dictionary (path or shipped name)
    transport_data_dictionary: str | None = None  # FIXT.1.1 transport dictionary
    app_data_dictionary: str | None = None  # FIX 5.x application dictionary
    validate_user_defined_fields: bool = True
    validate_fields_out_of_order: bool = True
    validate_fields_have_values: bool = True
    validate_unordered_group_fields: bool = True
    allow_unknown_msg_fields: bool = False

    username: str | None = None
    # secret: from the environment or a file, never logged (and not in repr)
    password: str | None = dataclasses.field(default=None, repr=False)

    max_message_size: int = 1 << 20
    garbled_recovery: Literal["begin-string", "trailer"] = "begin-string"

    @property
    def session_id(self) -> SessionID:
        return SessionID(
            self.begin_string, self.sender_comp_id, self.target_comp_id, self.session_qualifier
        )
