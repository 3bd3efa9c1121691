"""The period a report covers, and how user-given dates become bound query parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from onefunnel.services.errors import InputError

DEFAULT_DAYS = 365
# The days a report can cover: every engine computes with them (the day after the last, epoch
# seconds) without overflowing, and no business record is older or younger.
MIN_DAY = date(1900, 1, 1)
MAX_DAY = date(9998, 12, 31)


def check_day(day: date, field: str) -> date:
    """The day, or InputError naming the field when it is outside MIN_DAY … MAX_DAY."""
    if not MIN_DAY <= day <= MAX_DAY:
        raise InputError(
            f"{field}: {day.isoformat()} is out of range "
            f"({MIN_DAY.isoformat()} to {MAX_DAY.isoformat()})"
        )
    return day


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days from ``first`` to ``last``, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        check_day(self.first, "from")
        check_day(self.last, "to")
        if self.last < self.first:
            raise InputError(
                f"to: {self.last.isoformat()} is before from: {self.first.isoformat()}"
            )

    @property
    def start(self) -> datetime:
        """The first instant of the period (inclusive)."""
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The instant just after the period (exclusive): midnight after the last day."""
        return self.start + timedelta(days=(self.last - self.first).days + 1)

    @property
    def end_day(self) -> date:
        """The day after the last day (exclusive bound for date columns)."""
        return self.last + timedelta(days=1)

    def params(self) -> dict[str, date | datetime | int]:
        """The bound parameters every report query may use."""
        return {
            "period_start": self.start,
            "period_end": self.end,
            "first_day": self.first,
            "end_day": self.end_day,
            "start_s": int(self.start.timestamp()),
            "end_s": int(self.end.timestamp()),
        }


def parse_day(text: str, field: str) -> date:
    """An ISO date (YYYY-MM-DD), or InputError naming the field."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{field}: {text[:40]!r} is not a date (YYYY-MM-DD)") from None
    return check_day(day, field)


def period_of(first: str | date | None, last: str | date | None, *, today: date) -> Period:
    """The period between two optional dates: the last defaults to ``today``, the first to
    a year before the last."""
    last_day = check_day(
        parse_day(last, "to") if isinstance(last, str) else (last if last is not None else today),
        "to",
    )
    default_first = last_day - timedelta(days=min(DEFAULT_DAYS - 1, (last_day - MIN_DAY).days))
    first_day = (
        parse_day(first, "from")
        if isinstance(first, str)
        else (first if first is not None else default_first)
    )
    return Period(first_day, last_day)
