"""Session schedules: daily, overnight, weekly, weekdays, time zones, non-stop."""

from __future__ import annotations

import datetime as dt

import pytest

from fixengine.errors import ConfigError
from fixengine.session.schedule import SessionSchedule

UTC = dt.timezone.utc


def at(text: str, tz: dt.tzinfo = UTC) -> float:
    """Epoch seconds of 'YYYY-MM-DD HH:MM' in ``tz``."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=tz).timestamp()


def test_non_stop_is_always_in_session_and_never_starts_a_new_period() -> None:
    s = SessionSchedule(non_stop=True)
    assert s.is_session_time(at("2025-01-04 03:00"))
    assert s.is_same_period(0.0, at("2030-01-01 00:00"))
    assert s.next_change(at("2025-01-04 03:00")) is None
    assert SessionSchedule().non_stop  # no times at all: non-stop too


def test_daily_window_is_half_open_between_start_and_end() -> None:
    s = SessionSchedule(dt.time(8), dt.time(17))
    assert not s.is_session_time(at("2025-03-05 07:59"))
    assert s.is_session_time(at("2025-03-05 08:00"))
    assert s.is_session_time(at("2025-03-05 16:59"))
    assert not s.is_session_time(at("2025-03-05 17:00"))
    assert s.period_start(at("2025-03-05 12:00")) == at("2025-03-05 08:00")
    assert s.next_change(at("2025-03-05 12:00")) == at("2025-03-05 17:00")
    assert s.next_change(at("2025-03-05 18:00")) == at("2025-03-06 08:00")


def test_overnight_window_belongs_to_the_day_it_starts() -> None:
    s = SessionSchedule(dt.time(22), dt.time(6))
    assert s.is_session_time(at("2025-03-05 23:00"))
    assert s.is_session_time(at("2025-03-06 05:00"))
    assert not s.is_session_time(at("2025-03-06 12:00"))
    assert s.is_same_period(at("2025-03-05 22:30"), at("2025-03-06 05:30"))
    assert not s.is_same_period(at("2025-03-04 23:00"), at("2025-03-05 23:00"))


def test_equal_start_and_end_is_a_24_hour_session_with_a_daily_new_period() -> None:
    s = SessionSchedule(dt.time(17), dt.time(17))
    assert s.is_session_time(at("2025-03-05 16:59"))
    assert s.is_session_time(at("2025-03-05 17:00"))
    assert not s.is_same_period(at("2025-03-05 16:59"), at("2025-03-05 17:01"))


def test_weekdays_limit_a_daily_session() -> None:
    s = SessionSchedule(dt.time(8), dt.time(17), weekdays=[0, 1, 2, 3, 4])  # Mon-Fri
    assert s.is_session_time(at("2025-03-07 09:00"))  # Friday
    assert not s.is_session_time(at("2025-03-08 09:00"))  # Saturday
    assert s.next_change(at("2025-03-07 18:00")) == at("2025-03-10 08:00")  # Monday


def test_weekly_window_runs_from_start_day_to_end_day() -> None:
    s = SessionSchedule(dt.time(17), dt.time(17), start_day=6, end_day=4)  # Sun 17:00 - Fri 17:00
    assert not s.is_session_time(at("2025-03-09 16:00"))  # Sunday before the open
    assert s.is_session_time(at("2025-03-09 18:00"))
    assert s.is_session_time(at("2025-03-12 03:00"))  # Wednesday night
    assert not s.is_session_time(at("2025-03-14 17:30"))  # Friday after the close
    assert s.is_same_period(at("2025-03-10 09:00"), at("2025-03-14 09:00"))
    assert not s.is_same_period(at("2025-03-07 09:00"), at("2025-03-10 09:00"))


def test_time_zone_follows_daylight_saving_time() -> None:
    s = SessionSchedule(dt.time(9, 30), dt.time(16), time_zone="America/New_York")
    # 09:30 New York is 14:30 UTC in winter and 13:30 UTC in summer
    assert s.is_session_time(at("2025-01-15 14:30"))
    assert not s.is_session_time(at("2025-01-15 13:45"))
    assert s.is_session_time(at("2025-07-15 13:45"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start_time": dt.time(8)},
        {"start_time": dt.time(8), "end_time": dt.time(9), "start_day": 1},
        {"start_time": dt.time(8), "end_time": dt.time(9), "weekdays": [7]},
        {"start_time": dt.time(8), "end_time": dt.time(9), "time_zone": "Mars/Olympus"},
        {"start_time": dt.time(8), "end_time": dt.time(9), "start_day": 0, "end_day": 4,
         "weekdays": [1]},
    ],
)  # fmt: skip
def test_inconsistent_schedules_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SessionSchedule(**kwargs)  # type: ignore[arg-type]
