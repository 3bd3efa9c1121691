"""SLA arithmetic: business hours across weekends, holidays, time zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onefunnel.domain.sla import (
    BusinessHours,
    SlaError,
    SlaPolicy,
    SlaState,
    add_working_hours,
    sla_state,
    working_hours_between,
)

NEW_YORK = BusinessHours(tz="America/New_York")
BERLIN = BusinessHours(tz="Europe/Berlin")
TOKYO = BusinessHours(tz="Asia/Tokyo")
# A night shift every day of the week, so DST jumps (at 02:00/03:00 local) fall inside it.
BERLIN_NIGHTS = BusinessHours(
    tz="Europe/Berlin", weekdays=frozenset(range(7)), start=time(0, 0), end=time(6, 0)
)
BERLIN_TZ = "Europe/Berlin"
BERLIN_XMAS = BusinessHours(tz="Europe/Berlin", holidays=frozenset({date(2024, 12, 25)}))


def local(tz: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz))


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


ADD_CASES = [
    pytest.param(NEW_YORK, local("America/New_York", 2024, 1, 12, 16), 2.0,
                 local("America/New_York", 2024, 1, 15, 10), id="friday-over-weekend"),
    pytest.param(NEW_YORK, local("America/New_York", 2024, 1, 13, 11), 1.5,
                 local("America/New_York", 2024, 1, 15, 10, 30), id="created-on-saturday"),
    pytest.param(NEW_YORK, local("America/New_York", 2024, 1, 9, 7), 1.0,
                 local("America/New_York", 2024, 1, 9, 10), id="before-opening"),
    pytest.param(NEW_YORK, local("America/New_York", 2024, 1, 9, 19), 1.0,
                 local("America/New_York", 2024, 1, 10, 10), id="after-closing"),
    pytest.param(NEW_YORK, local("America/New_York", 2024, 1, 8, 15), 2.0,
                 local("America/New_York", 2024, 1, 8, 17), id="ends-exactly-at-closing"),
    pytest.param(NEW_YORK, local("America/New_York", 2024, 1, 8, 9), 40.0,
                 local("America/New_York", 2024, 1, 12, 17), id="a-full-week"),
    pytest.param(NEW_YORK, local("America/New_York", 2024, 1, 8, 12), 0.0,
                 local("America/New_York", 2024, 1, 8, 12), id="zero-hours"),
    # Spring forward in Europe (Sunday 2024-03-31): 09:00 Berlin is 08:00 UTC on Friday but
    # 07:00 UTC on Monday; a UTC-only calculation would answer 09:00 UTC.
    pytest.param(BERLIN, utc(2024, 3, 29, 15), 2.0, utc(2024, 4, 1, 8), id="berlin-spring-dst"),
    # Fall back in the US (Sunday 2024-11-03): EDT on Friday, EST on Monday.
    pytest.param(NEW_YORK, utc(2024, 11, 1, 20), 2.0, utc(2024, 11, 4, 15), id="ny-fall-dst"),
    # Monday 09:30 in Tokyo is Monday 00:30 UTC: one working day later is Tuesday 00:30 UTC.
    pytest.param(TOKYO, utc(2024, 1, 8, 0, 30), 8.0, utc(2024, 1, 9, 0, 30), id="tokyo-offset"),
    # Sunday 23:00 UTC is already Monday 08:00 in Tokyo: one hour before opening.
    pytest.param(TOKYO, utc(2024, 1, 7, 23), 1.0, utc(2024, 1, 8, 1), id="tokyo-next-day"),
    pytest.param(BERLIN_XMAS, local("Europe/Berlin", 2024, 12, 24, 16), 2.0,
                 local("Europe/Berlin", 2024, 12, 26, 10), id="holiday-skipped"),
    # The night shift on spring-forward day runs 00:00-06:00 local but has 5 real hours.
    pytest.param(BERLIN_NIGHTS, local("Europe/Berlin", 2024, 3, 31, 0), 5.0,
                 local("Europe/Berlin", 2024, 3, 31, 6), id="shift-spanning-spring-forward"),
    pytest.param(BERLIN_NIGHTS, local("Europe/Berlin", 2024, 3, 31, 0), 5.5,
                 local("Europe/Berlin", 2024, 4, 1, 0, 30), id="shift-spring-forward-overflow"),
    # ... and on fall-back day it has 7.
    pytest.param(BERLIN_NIGHTS, local("Europe/Berlin", 2024, 10, 27, 0), 7.0,
                 local("Europe/Berlin", 2024, 10, 27, 6), id="shift-spanning-fall-back"),
]  # fmt: skip


@pytest.mark.parametrize(("calendar", "start", "hours", "expected"), ADD_CASES)
def test_add_working_hours(
    calendar: BusinessHours, start: datetime, hours: float, expected: datetime
) -> None:
    due = add_working_hours(start, hours, calendar)
    assert due == expected
    assert due.tzinfo is UTC


@pytest.mark.parametrize(("calendar", "start", "hours", "expected"), ADD_CASES)
def test_working_hours_between_inverts_add(
    calendar: BusinessHours, start: datetime, hours: float, expected: datetime
) -> None:
    assert working_hours_between(start, expected, calendar) == pytest.approx(hours)


@pytest.mark.parametrize(
    ("calendar", "a", "b", "hours"),
    [
        (NEW_YORK, utc(2024, 1, 13), utc(2024, 1, 15), 0.0),  # a weekend
        (BERLIN_NIGHTS, local(BERLIN_TZ, 2024, 3, 31), local(BERLIN_TZ, 2024, 4, 1), 5),
        (BERLIN_NIGHTS, local(BERLIN_TZ, 2024, 10, 27), local(BERLIN_TZ, 2024, 10, 28), 7),
        (BERLIN, local(BERLIN_TZ, 2024, 4, 1, 17), local(BERLIN_TZ, 2024, 4, 1, 9), -8),
        (BERLIN_XMAS, utc(2024, 12, 23), utc(2024, 12, 28), 32.0),
    ],
)  # fmt: skip
def test_working_hours_between(
    calendar: BusinessHours, a: datetime, b: datetime, hours: float
) -> None:
    assert working_hours_between(a, b, calendar) == pytest.approx(hours)


ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe"]
calendars = st.builds(
    BusinessHours,
    tz=st.sampled_from(ZONES),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    start=st.sampled_from([time(0, 0), time(1, 30), time(8, 0), time(9, 0)]),
    end=st.sampled_from([time(12, 0), time(17, 0), time(23, 59)]),
)
starts = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
minutes = st.integers(min_value=0, max_value=120 * 60)


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, start=starts, m=minutes)
def test_add_then_measure_round_trips(calendar: BusinessHours, start: datetime, m: int) -> None:
    due = add_working_hours(start, m / 60, calendar)
    assert due >= start
    assert working_hours_between(start, due, calendar) == pytest.approx(m / 60, abs=1e-6)
    if m > 0:
        # A due time always falls inside (or at the close of) one of the team's windows.
        day = due.astimezone(calendar.zone).date()
        open_, close = calendar.window(day)
        assert calendar.is_working_day(day)
        assert open_ < due <= close


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, start=starts, m1=minutes, m2=minutes)
def test_add_is_monotone_and_additive(
    calendar: BusinessHours, start: datetime, m1: int, m2: int
) -> None:
    first = add_working_hours(start, m1 / 60, calendar)
    both = add_working_hours(start, (m1 + m2) / 60, calendar)
    assert first <= both
    if m1 > 0:
        stepwise = add_working_hours(first, m2 / 60, calendar)
        assert abs(stepwise - both) <= timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"tz": "UTC", "weekdays": frozenset()}, "weekdays"),
        ({"tz": "UTC", "weekdays": frozenset({7})}, "weekdays"),
        ({"tz": "UTC", "start": time(17), "end": time(9)}, "end"),
        ({"tz": "UTC", "start": time(9), "end": time(9)}, "end"),
        ({"tz": "UTC", "holidays": frozenset({"2024-12-25"})}, "holidays"),
    ],
)
def test_bad_calendar_is_rejected_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(SlaError, match=rf"^{field}: "):
        BusinessHours(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "hours", "field"),
    [
        (datetime(2024, 1, 8, 9), 1.0, "start"),
        (utc(2024, 1, 8), -1.0, "hours"),
        (utc(2024, 1, 8), float("nan"), "hours"),
        (utc(2024, 1, 8), float("inf"), "hours"),
        (utc(2024, 1, 8), 10**9, "hours"),
    ],
)
def test_bad_add_input_is_rejected(start: datetime, hours: float, field: str) -> None:
    with pytest.raises(SlaError, match=rf"^{field}: "):
        add_working_hours(start, hours, NEW_YORK)


def test_between_rejects_naive_datetimes() -> None:
    with pytest.raises(SlaError, match=r"^b: naive"):
        working_hours_between(utc(2024, 1, 8), datetime(2024, 1, 9), NEW_YORK)


CREATED = utc(2024, 1, 8, 14)
DUE = utc(2024, 1, 8, 16)


@pytest.mark.parametrize(
    ("first_response_at", "now", "expected"),
    [
        (None, utc(2024, 1, 8, 15), SlaState.PENDING),
        (None, DUE, SlaState.PENDING),
        (None, utc(2024, 1, 8, 16, 0, 1), SlaState.BREACHED),
        (utc(2024, 1, 8, 15), utc(2024, 1, 9), SlaState.MET),
        (DUE, utc(2024, 1, 9), SlaState.MET),
        (utc(2024, 1, 8, 17), utc(2024, 1, 9), SlaState.BREACHED),
    ],
)
def test_sla_state(first_response_at: datetime | None, now: datetime, expected: SlaState) -> None:
    assert sla_state(CREATED, DUE, first_response_at, now) is expected


@pytest.mark.parametrize(
    ("created", "due", "response", "field"),
    [
        (CREATED, utc(2024, 1, 8, 13), None, "due_at"),
        (CREATED, DUE, utc(2024, 1, 8, 13), "first_response_at"),
        (datetime(2024, 1, 8), DUE, None, "created_at"),
    ],
)
def test_sla_state_rejects_inconsistent_times(
    created: datetime, due: datetime, response: datetime | None, field: str
) -> None:
    with pytest.raises(SlaError, match=rf"^{field}: "):
        sla_state(created, due, response, utc(2024, 1, 9))


def test_policy_due_at_uses_the_team_calendar() -> None:
    policy = SlaPolicy(first_response_hours=4)
    created = local("America/New_York", 2024, 1, 12, 15)
    assert policy.due_at(created, NEW_YORK) == local("America/New_York", 2024, 1, 15, 11)


@pytest.mark.parametrize(
    ("policy", "state", "so_far", "expected"),
    [
        (SlaPolicy(4), SlaState.BREACHED, 0, True),
        (SlaPolicy(4), SlaState.PENDING, 0, False),
        (SlaPolicy(4), SlaState.MET, 0, False),
        (SlaPolicy(4, max_reassignments=2), SlaState.BREACHED, 2, False),
        (SlaPolicy(4, reassign_on_breach=False), SlaState.BREACHED, 0, False),
    ],
)
def test_policy_should_reassign(
    policy: SlaPolicy, state: SlaState, so_far: int, expected: bool
) -> None:
    assert policy.should_reassign(state, so_far) is expected


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"first_response_hours": 0}, "first_response_hours"),
        ({"first_response_hours": "4"}, "first_response_hours"),
        ({"first_response_hours": 4, "max_reassignments": -1}, "max_reassignments"),
    ],
)
def test_bad_policy_is_rejected(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(SlaError, match=rf"^{field}: "):
        SlaPolicy(**kwargs)  # type: ignore[arg-type]
