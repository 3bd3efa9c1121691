"""Small builders of portable SQL text shared by the reports (no user input ever reaches them).

Exact percentiles without a percentile function (SQLite has none): rank the values of each
group with ``ROW_NUMBER()`` (1 = smallest) and count them with ``COUNT(value) OVER``; the
*p*-th percentile with linear interpolation — PostgreSQL's ``percentile_cont``, Spark's
``percentile`` — lies at 0-based position ``pos = p * (n - 1)``: take the value ranked
``floor(pos) + 1`` and move the fraction ``pos - floor(pos)`` of the way to the next one.
"""

from __future__ import annotations


def percentile_sql(p: float, value: str, rank: str, count: str) -> str:
    """An aggregate expression for the p-th percentile (0 ≤ p ≤ 1) of ``value`` in a group,
    given each row's 1-based ``rank`` among the group's non-NULL values and their ``count``.
    NULL for a group with no values."""
    place, fraction = percentile_place_sql(p, rank, count)
    return interpolated_sql(value, place, fraction)


def percentile_place_sql(p: float, rank: str, count: str) -> tuple[str, str]:
    """Per-row expressions for the p-th percentile: the row's *place* (1 for the value ranked
    ``floor(pos) + 1``, 2 for the next one) and the interpolation *fraction*. A query over many
    rows computes them once per row in a subquery and aggregates with `interpolated_sql`,
    rather than repeating the arithmetic in every aggregate."""
    if not 0 <= p <= 1:
        raise ValueError("p must be between 0 and 1")
    pos = f"(CAST({p!r} AS DOUBLE PRECISION) * ({count} - 1))"
    low = f"FLOOR_INT({pos})"
    return f"({rank} - {low})", f"({pos} - {low})"


def interpolated_sql(value: str, place: str, fraction: str) -> str:
    """The aggregate interpolating between the values at places 1 and 2 (see above)."""
    lower = f"MAX(CASE WHEN {place} = 1 THEN {value} END)"
    upper = f"MAX(CASE WHEN {place} = 2 THEN {value} END)"
    return f"({lower} + COALESCE(MAX({fraction}) * ({upper} - {lower}), 0))"


def ratio_sql(numerator: str, denominator: str) -> str:
    """numerator / denominator as a double, NULL when the denominator is zero (never an error,
    which ANSI-mode Spark and PostgreSQL would raise)."""
    return f"(CAST({numerator} AS DOUBLE PRECISION) / NULLIF({denominator}, 0))"


def days_between(start: str, end: str) -> str:
    """Days from one timestamp to another, from whole seconds (equal on every engine)."""
    return f"(CAST(EPOCH_SECONDS({end}) - EPOCH_SECONDS({start}) AS DOUBLE PRECISION) / 86400)"


def count_if(condition: str) -> str:
    """How many rows of a group meet a condition (0, not NULL, for none)."""
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"
