"""SLA arithmetic: when a handoff's first response is due, counted in a team's working hours.

The intuition: a team's week is a set of *windows* (say Monday to Friday, 09:00–17:00 in
Europe/Berlin, minus holidays). An SLA of N working hours is a clock that only runs inside those
windows. To find the due time we walk forward from the moment the handoff was created, day by
local day, consuming each window's remaining time until N hours are used up.

Two details make this correct across time zones and daylight saving time:

* Windows are built from *local* wall-clock times (09:00 in the team's zone), so they follow DST
  shifts: 09:00 Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
* Durations are measured between *UTC* instants, never by subtracting wall-clock times, so a
  window that spans a DST jump (a night shift 01:00–05:00 on the spring-forward day) has the
  three real hours it really has. Python compares and subtracts datetimes that share a tzinfo by
  wall clock, which is why every computation here converts to UTC first.

All datetimes in and out are timezone-aware; results are in UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Longest SLA we compute: a year of 24/7 hours. Longer asks are bad input, not a policy.
MAX_SLA_HOURS = 24 * 366

MONDAY_TO_FRIDAY: frozenset[int] = frozenset(range(5))


class SlaError(ValueError):
    """Bad SLA input; the message starts with the name of the offending field."""


@dataclass(frozen=True)
class BusinessHours:
    """A team's working calendar: its time zone, working weekdays (0 = Monday), daily opening
    and closing wall-clock times, and holidays (local dates on which nobody works)."""

    tz: str
    weekdays: frozenset[int] = MONDAY_TO_FRIDAY
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise SlaError(f"tz: unknown time zone {self.tz!r}") from None
        weekdays = frozenset(self.weekdays)
        if not weekdays:
            raise SlaError("weekdays: at least one working weekday is needed")
        if any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in weekdays):
            raise SlaError(f"weekdays: expected integers 0 (Monday) to 6 (Sunday), got {weekdays}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise SlaError(f"{name}: expected a wall-clock time without time zone")
        if self.start >= self.end:
            raise SlaError(f"end: closing time {self.end} must be after opening time {self.start}")
        holidays = frozenset(self.holidays)
        if any(not isinstance(h, date) or isinstance(h, datetime) for h in holidays):
            raise SlaError("holidays: expected local dates")
        object.__setattr__(self, "weekdays", weekdays)
        object.__setattr__(self, "holidays", holidays)

    @property
    def zone(self) -> ZoneInfo:
        """The team's time zone (ZoneInfo caches instances, so this is cheap)."""
        return ZoneInfo(self.tz)

    def is_working_day(self, day: date) -> bool:
        """True if ``day`` (a local date) has a working window."""
        return day.weekday() in self.weekdays and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The working window of a local date as UTC instants (open, close).

        A wall-clock time that does not exist on a spring-forward day is read with the offset
        in force before the jump (zoneinfo's ``fold=0``), which moves it past the gap.
        """
        open_ = datetime.combine(day, self.start, tzinfo=self.zone).astimezone(UTC)
        close = datetime.combine(day, self.end, tzinfo=self.zone).astimezone(UTC)
        return open_, close

    def windows_from(self, moment: datetime) -> Iterable[tuple[datetime, datetime]]:
        """Working windows (UTC) in order, starting with the local day of ``moment``; endless."""
        day = moment.astimezone(self.zone).date()
        while True:
            if self.is_working_day(day):
                yield self.window(day)
            day += timedelta(days=1)


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise SlaError(f"{name}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise SlaError(f"{name}: naive datetime; expected a timezone-aware one")
    return value.astimezone(UTC)


def _check_hours(hours: float) -> None:
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not math.isfinite(hours):
        raise SlaError(f"hours: expected a finite number, got {hours!r}")
    if hours < 0:
        raise SlaError(f"hours: must not be negative, got {hours}")
    if hours > MAX_SLA_HOURS:
        raise SlaError(f"hours: {hours} is more than the maximum of {MAX_SLA_HOURS}")


def add_working_hours(start: datetime, hours: float, calendar: BusinessHours) -> datetime:
    """The UTC instant at which ``hours`` working hours have elapsed after ``start``.

    Time outside the calendar's windows does not count: a 2-hour SLA on a lead created Friday
    16:00 with 09:00–17:00 hours is due Monday 10:00. Zero hours returns ``start`` itself. An
    SLA that ends exactly at closing time is due at closing time, not the next morning.
    """
    moment = _aware("start", start)
    _check_hours(hours)
    remaining = timedelta(hours=hours)
    if remaining == timedelta(0):
        return moment
    for open_, close in calendar.windows_from(moment):
        begin = max(moment, open_)
        if begin >= close:
            continue
        available = close - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable: windows_from is endless")  # pragma: no cover


def working_hours_between(a: datetime, b: datetime, calendar: BusinessHours) -> float:
    """Working hours elapsed from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
    first = _aware("a", a)
    second = _aware("b", b)
    if second < first:
        return -working_hours_between(second, first, calendar)
    total = timedelta(0)
    for open_, close in calendar.windows_from(first):
        if open_ >= second:
            break
        begin, finish = max(first, open_), min(second, close)
        if finish > begin:
            total += finish - begin
    return total / timedelta(hours=1)


class SlaState(StrEnum):
    """Where a handoff stands against its first-response SLA."""

    PENDING = "pending"
    MET = "met"
    BREACHED = "breached"


@dataclass(frozen=True)
class SlaPolicy:
    """A team's first-response SLA and what happens on breach.

    ``reassign_on_breach``: a breached handoff expires and is reassigned to the next eligible
    rep; ``max_reassignments`` bounds how often, after which it waits in the team queue.
    """

    first_response_hours: float
    reassign_on_breach: bool = True
    max_reassignments: int = 2

    def __post_init__(self) -> None:
        hours = self.first_response_hours
        if isinstance(hours, bool) or not isinstance(hours, int | float):
            raise SlaError(f"first_response_hours: expected a number, got {hours!r}")
        if not math.isfinite(hours) or not 0 < hours <= MAX_SLA_HOURS:
            raise SlaError(
                f"first_response_hours: expected more than 0 and at most {MAX_SLA_HOURS}, "
                f"got {hours}"
            )
        reassignments = self.max_reassignments
        if isinstance(reassignments, bool) or not isinstance(reassignments, int):
            raise SlaError(f"max_reassignments: expected an integer, got {reassignments!r}")
        if reassignments < 0:
            raise SlaError(f"max_reassignments: must not be negative, got {reassignments}")

    def due_at(self, created_at: datetime, calendar: BusinessHours) -> datetime:
        """When the first response to a handoff created at ``created_at`` is due (UTC)."""
        return add_working_hours(created_at, self.first_response_hours, calendar)

    def should_reassign(self, state: SlaState, reassignments_so_far: int) -> bool:
        """True if a handoff in ``state`` must now expire and go to the next eligible rep."""
        if reassignments_so_far < 0:
            raise SlaError(f"reassignments_so_far: negative ({reassignments_so_far})")
        return (
            state is SlaState.BREACHED
            and self.reassign_on_breach
            and reassignments_so_far < self.max_reassignments
        )


def sla_state(
    created_at: datetime,
    due_at: datetime,
    first_response_at: datetime | None,
    now: datetime,
) -> SlaState:
    """Met if the first response came by the due time, breached if it came later or has not
    come and the due time has passed, pending otherwise. A response exactly at the due time
    meets the SLA."""
    created = _aware("created_at", created_at)
    due = _aware("due_at", due_at)
    current = _aware("now", now)
    if due < created:
        raise SlaError("due_at: is before created_at")
    if first_response_at is not None:
        responded = _aware("first_response_at", first_response_at)
        if responded < created:
            raise SlaError("first_response_at: is before created_at")
        return SlaState.MET if responded <= due else SlaState.BREACHED
    return SlaState.BREACHED if current > due else SlaState.PENDING
