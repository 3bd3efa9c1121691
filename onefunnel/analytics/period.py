"""The period a report covers, and how user-given dates become bound query parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from onefunnel.services.errors import InputError

DEFAULT_DAYS = 365


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days from ``first`` to ``last``, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
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
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{field}: {text!r} is not a date (YYYY-MM-DD)") from None


def period_of(first: str | date | None, last: str | date | None, *, today: date) -> Period:
    """The period between two optional dates: the last defaults to ``today``, the first to
    a year before the last."""
    last_day = (
        parse_day(last, "to") if isinstance(last, str) else (last if last is not None else today)
    )
    first_day = (
        parse_day(first, "from")
        if isinstance(first, str)
        else (first if first is not None else last_day - timedelta(days=DEFAULT_DAYS - 1))
    )
    return Period(first_day, last_day)
