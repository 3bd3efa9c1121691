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
    if not 0 <= p <= 1:
        raise ValueError("p must be between 0 and 1")
    pos = f"(CAST({p!r} AS DOUBLE PRECISION) * ({count} - 1))"
    low = f"FLOOR_INT({pos})"
    lower = f"MAX(CASE WHEN {rank} = {low} + 1 THEN {value} END)"
    upper = f"MAX(CASE WHEN {rank} = {low} + 2 THEN {value} END)"
    fraction = f"MAX({pos} - {low})"
    return f"({lower} + COALESCE({fraction} * ({upper} - {lower}), 0))"


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
