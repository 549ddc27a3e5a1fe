"""Session schedules: when a FIX session may be logged on, and when a new period starts.

Theory of operation
-------------------
A FIX "session" spans one or more connections and ends when sequence numbers are reset
(FIX Session Protocol: "a FIX session is defined as a bi-directional stream of ordered
messages between two parties within a continuous sequence number series"). Most venues
run one session per day or per week; QuickFIX describes the window with StartTime,
EndTime, StartDay, EndDay, Weekdays, TimeZone and NonStopSession, and so does
:class:`SessionSchedule`:

* non-stop (``non_stop=True`` or no times): always in session, never a new period;
* daily: from ``start_time`` to ``end_time`` every day (or only on ``weekdays``); when
  ``start_time > end_time`` the window runs overnight and belongs to the day it starts;
  ``start_time == end_time`` is a 24-hour session that starts a new period every day;
* weekly: from (``start_day``, ``start_time``) to the next (``end_day``, ``end_time``).

Windows are half-open, ``[start, end)``, computed in the IANA ``time_zone`` (zoneinfo,
so daylight-saving changes are followed) and compared in UTC epoch seconds. A session
whose store was created before the start of the current window belongs to an older
period: the session resets its store (``store.reset(now)``) before logging on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from ..errors import ConfigError

__all__ = ["SessionSchedule"]

_UTC = dt.timezone.utc
_DAY = dt.timedelta(days=1)


class SessionSchedule:
    """When a session is open. All instants are UTC epoch seconds (floats)."""

    __slots__ = ("_tz", "end_day", "end_time", "non_stop", "start_day", "start_time", "weekdays")

    def __init__(
        self,
        start_time: dt.time | None = None,
        end_time: dt.time | None = None,
        *,
        start_day: int | None = None,
        end_day: int | None = None,
        weekdays: Iterable[int] = (),
        time_zone: str | None = None,
        use_local_time: bool = False,
        non_stop: bool = False,
    ) -> None:
        self.non_stop = non_stop or (start_time is None and end_time is None)
        if not self.non_stop and (start_time is None or end_time is None):
            raise ConfigError("a session schedule needs both StartTime and EndTime")
        if (start_day is None) != (end_day is None):
            raise ConfigError("a weekly schedule needs both StartDay and EndDay")
        for day in [start_day, end_day, *weekdays]:
            if day is not None and not 0 <= day <= 6:
                raise ConfigError(f"weekday must be 0 (Monday) to 6 (Sunday), not {day}")
        if start_day is not None and weekdays:
            raise ConfigError("Weekdays cannot be combined with StartDay/EndDay")
        self.start_time = start_time or dt.time(0)
        self.end_time = end_time or dt.time(0)
        self.start_day = start_day
        self.end_day = end_day
        self.weekdays = frozenset(weekdays)
        tz: dt.tzinfo
        if use_local_time:
            local = dt.datetime.now().astimezone().tzinfo
            tz = local if local is not None else _UTC
        elif time_zone in (None, "", "UTC", "Z"):
            tz = _UTC
        else:
            try:
                tz = ZoneInfo(str(time_zone))
            except (KeyError, ValueError, OSError) as exc:
                raise ConfigError(f"unknown time zone {time_zone!r}") from exc
        self._tz = tz

    @classmethod
    def from_config(cls, config: object) -> SessionSchedule:
        """Build the schedule a :class:`~fixengine.session.config.SessionConfig` describes."""
        g = getattr
        return cls(
            g(config, "start_time", None),
            g(config, "end_time", None),
            start_day=g(config, "start_day", None),
            end_day=g(config, "end_day", None),
            weekdays=g(config, "weekdays", ()),
            time_zone=g(config, "time_zone", None),
            use_local_time=g(config, "use_local_time", False),
            non_stop=g(config, "non_stop_session", False),
        )

    # -- windows ---------------------------------------------------------------
    def _at(self, day: dt.date, t: dt.time) -> float:
        return dt.datetime.combine(day, t, tzinfo=self._tz).timestamp()

    def _windows(self, now: float, back: int, ahead: int) -> Iterator[tuple[float, float]]:
        """Windows whose start day lies from ``back`` days before to ``ahead`` after ``now``."""
        today = dt.datetime.fromtimestamp(now, self._tz).date()
        for offset in range(-back, ahead + 1):
            day = today + dt.timedelta(days=offset)
            if self.start_day is not None:
                if day.weekday() != self.start_day:
                    continue
                assert self.end_day is not None
                days = (self.end_day - self.start_day) % 7
                if days == 0 and self.end_time <= self.start_time:
                    days = 7
                start = self._at(day, self.start_time)
                end = self._at(day + dt.timedelta(days=days), self.end_time)
            else:
                if self.weekdays and day.weekday() not in self.weekdays:
                    continue
                start = self._at(day, self.start_time)
                end_day = day if self.end_time > self.start_time else day + _DAY
                end = self._at(end_day, self.end_time)
            yield start, end

    def window(self, now: float) -> tuple[float, float] | None:
        """The (start, end) of the window containing ``now``, or None outside every window."""
        if self.non_stop:
            return (float("-inf"), float("inf"))
        for start, end in self._windows(now, 8, 0):
            if start <= now < end:
                return start, end
        return None

    def is_session_time(self, now: float) -> bool:
        """True when ``now`` falls inside a session window."""
        return self.window(now) is not None

    def period_start(self, now: float) -> float | None:
        """Start of the window containing ``now`` (-inf when non-stop), None outside."""
        w = self.window(now)
        return None if w is None else w[0]

    def is_same_period(self, earlier: float, later: float) -> bool:
        """True when both instants fall in the same window (always, for non-stop sessions)."""
        if self.non_stop:
            return True
        w = self.window(later)
        return w is not None and w[0] <= earlier < w[1]

    def next_change(self, now: float) -> float | None:
        """The next instant after ``now`` at which a window starts or ends (None: never)."""
        if self.non_stop:
            return None
        w = self.window(now)
        if w is not None:
            return w[1]
        starts = [s for s, _ in self._windows(now, 0, 8) if s > now]
        return min(starts) if starts else None

    def __repr__(self) -> str:
        if self.non_stop:
            return "SessionSchedule(non_stop=True)"
        days = (
            f", start_day={self.start_day}, end_day={self.end_day}"
            if self.start_day is not None
            else (f", weekdays={sorted(self.weekdays)}" if self.weekdays else "")
        )
        return f"SessionSchedule({self.start_time}, {self.end_time}{days}, tz={self._tz})"
