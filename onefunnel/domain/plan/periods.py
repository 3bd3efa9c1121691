"""Plan periods: a month (``YYYY-MM``) or a quarter (``YYYY-Qn``), as whole calendar months."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta


class PlanError(ValueError):
    """Input a plan cannot use; the message starts with the name of the field at fault."""


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def add_months(month: date, n: int) -> date:
    """The first day of the month ``n`` months after ``month``'s (negative goes back)."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_end(month: date) -> date:
    """The last day of ``month``'s month."""
    return add_months(month_start(month), 1) - timedelta(days=1)


def month_label(month: date) -> str:
    """``YYYY-MM``."""
    return f"{month.year:04d}-{month.month:02d}"


def parse_month(text: str, field: str = "month") -> date:
    """A ``YYYY-MM`` month as its first day, or PlanError naming the field."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise PlanError(f"{field}: {text!r} is not a month (YYYY-MM)")
    return date(int(match.group(1)), int(match.group(2)), 1)


@dataclass(frozen=True, slots=True)
class PlanPeriod:
    """Whole calendar months, the first to the last; ``label`` is how the user wrote it."""

    label: str
    first: date
    months_count: int

    @property
    def months(self) -> tuple[date, ...]:
        """The first day of each month of the period."""
        return tuple(add_months(self.first, i) for i in range(self.months_count))

    @property
    def last(self) -> date:
        """The last day of the period."""
        return month_end(add_months(self.first, self.months_count - 1))

    @property
    def end(self) -> date:
        """The day after the period (exclusive bound)."""
        return add_months(self.first, self.months_count)


def parse_period(text: str, field: str = "period") -> PlanPeriod:
    """``YYYY-MM`` or ``YYYY-Qn`` as a PlanPeriod, or PlanError naming the field."""
    cleaned = text.strip()
    quarter = _QUARTER.match(cleaned)
    if quarter:
        year, q = int(quarter.group(1)), int(quarter.group(2))
        if year < 1900:
            raise PlanError(f"{field}: {text!r} is not a period (YYYY-MM or YYYY-Qn)")
        return PlanPeriod(f"{year}-Q{q}", date(year, 3 * (q - 1) + 1, 1), 3)
    try:
        month = parse_month(cleaned, field)
    except PlanError:
        raise PlanError(f"{field}: {text!r} is not a period (YYYY-MM or YYYY-Qn)") from None
    return PlanPeriod(month_label(month), month, 1)


def require_future(period: PlanPeriod, today: date, field: str = "period") -> None:
    """PlanError unless the period has not ended (the current month or quarter may be planned)."""
    if period.last < today:
        raise PlanError(f"{field}: {period.label} is in the past (today is {today.isoformat()})")
