"""Customers' purchase histories as the arrays the lifetime-value models read.

The BG/NBD and Gamma-Gamma models see each customer through four numbers, measured in a *time
unit* (days, or weeks = days / 7) up to the end of the calibration period:

* ``frequency`` x: the number of *repeat* purchases (purchase days after the first one; several
  orders on one day count as one purchase, their amounts summed);
* ``recency`` t_x: the time from the first purchase to the last one (0 when x = 0);
* ``age`` T: the time from the first purchase to the end of calibration;
* ``monetary`` m̄: the mean amount of the repeat purchases (0 when x = 0; the first purchase is
  left out, as in Fader, Hardie & Lee 2005b, because it is often unlike the ones that follow).

`summarise_orders` turns one row per order (customer code, day number, amount) into these arrays
set-based: one sort of (customer, day) keys, then bincount and reduceat, never a Python loop per
order, so millions of orders take a second or so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class LtvInputError(ValueError):
    """Input the lifetime-value models cannot use; the message names the field (or row)."""


@dataclass(frozen=True, eq=False)
class CustomerSummary:
    """Per-customer frequency, recency, age and mean repeat spend (aligned arrays), checked
    when built (`check_summary`), so the models can trust them.

    ``customers`` holds each row's customer code (the caller's numbering, e.g. a dictionary
    index into the customer ids of a file); ``first_day`` the day number of the first purchase.
    """

    customers: IntArray
    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    monetary: FloatArray
    first_day: IntArray

    def __post_init__(self) -> None:
        check_summary(self)

    def __len__(self) -> int:
        return int(self.frequency.shape[0])

    @classmethod
    def of(
        cls,
        frequency: object,
        recency: object,
        age: object,
        monetary: object | None = None,
    ) -> CustomerSummary:
        """Build a summary from already-summarised columns (checked; customers numbered 0..n-1)."""
        x = np.asarray(frequency, dtype=np.float64)
        t_x = np.asarray(recency, dtype=np.float64)
        t = np.asarray(age, dtype=np.float64)
        m = np.zeros_like(x) if monetary is None else np.asarray(monetary, dtype=np.float64)
        return cls(
            np.arange(x.shape[0], dtype=np.int64), x, t_x, t, m, np.zeros(x.shape[0], np.int64)
        )


def check_summary(summary: CustomerSummary) -> None:
    """Raise `LtvInputError` naming the field and the first customer (row) that breaks a rule."""
    x, t_x, t, m = summary.frequency, summary.recency, summary.age, summary.monetary
    n = x.shape[0]
    for name, values in (("frequency", x), ("recency", t_x), ("age", t), ("monetary", m)):
        if values.ndim != 1 or values.shape[0] != n:
            raise LtvInputError(f"{name}: expected one value per customer ({n})")
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise LtvInputError(f"{name}: row {int(np.argmax(bad))}: must be a finite number >= 0")
    rules = (
        ("frequency", x != np.round(x), "a repeat-purchase count must be a whole number"),
        ("recency", t_x > t, "recency is later than the customer's age T"),
        ("recency", (x > 0) & (t_x <= 0), "a customer with repeat purchases has recency > 0"),
    )
    for name, bad, message in rules:
        if bad.any():
            raise LtvInputError(f"{name}: row {int(np.argmax(bad))}: {message}")


def summarise_orders(
    customers: IntArray,
    days: IntArray,
    amounts: FloatArray,
    *,
    calibration_end: int,
    days_per_unit: float = 7.0,
) -> CustomerSummary:
    """Summarise orders up to and including day `calibration_end` (later orders are ignored).

    `customers` are integer codes, `days` whole day numbers (e.g. days since 1970-01-01),
    `amounts` each order's amount (>= 0). Customers whose first order comes after the end of
    calibration are not in the summary. Rows come out ordered by customer code.
    """
    if not customers.shape == days.shape == amounts.shape:
        raise LtvInputError("orders: customers, days and amounts must have the same length")
    keep = days <= calibration_end
    codes = customers[keep].astype(np.int64)
    day = days[keep].astype(np.int64)
    amount = amounts[keep].astype(np.float64)
    if codes.shape[0] == 0:
        raise LtvInputError("calibration_end: no order on or before the end of calibration")
    first_day_all = int(day.min())
    span = int(day.max()) - first_day_all + 1
    # One int64 key per order: customer-major, then day; equal keys are same-day orders.
    keys, inverse = np.unique(codes * span + (day - first_day_all), return_inverse=True)
    day_amount = np.bincount(inverse.ravel(), weights=amount)
    key_customer = keys // span
    key_day = keys % span + first_day_all
    starts = np.flatnonzero(np.r_[True, key_customer[1:] != key_customer[:-1]])
    purchases = np.diff(np.r_[starts, keys.shape[0]])
    first = key_day[starts]
    last = key_day[starts + purchases - 1]
    frequency = (purchases - 1).astype(np.float64)
    repeat_spend = np.add.reduceat(day_amount, starts) - day_amount[starts]
    monetary = np.divide(
        repeat_spend, frequency, out=np.zeros_like(repeat_spend), where=frequency > 0
    )
    return CustomerSummary(
        customers=key_customer[starts],
        frequency=frequency,
        recency=(last - first) / days_per_unit,
        age=(calibration_end - first) / days_per_unit,
        monetary=monetary,
        first_day=first,
    )


def collapse(*columns: FloatArray) -> tuple[tuple[FloatArray, ...], FloatArray, IntArray]:
    """Identical rows collapsed: (the distinct rows' columns, their counts, row → distinct).

    The likelihoods depend on a customer only through these columns, so a million customers
    with a few thousand distinct histories cost a few thousand evaluations. Rows are grouped by
    sorting one 64-bit hash of their bits (a third of the cost of sorting by every column); if
    two different rows ever share a hash, the exact sort by every column is used instead.
    """
    n = columns[0].shape[0]
    exact = [np.ascontiguousarray(c, dtype=np.float64) + 0.0 for c in columns]  # -0.0 → 0.0
    mixed = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in exact:
            mixed = (mixed ^ c.view(np.uint64)) * np.uint64(0x9E3779B97F4A7C15)
            mixed ^= mixed >> np.uint64(31)
    order = np.argsort(mixed)
    ordered = [c[order] for c in exact]
    new = np.ones(n, dtype=bool)
    if n > 1:
        same = np.ones(n - 1, dtype=bool)
        for c in ordered:
            same &= c[1:] == c[:-1]
        hashes = mixed[order]
        if np.any((hashes[1:] == hashes[:-1]) & ~same):  # a collision: sort exactly
            order = np.lexsort(exact[::-1])
            ordered = [c[order] for c in exact]
            same = np.ones(n - 1, dtype=bool)
            for c in ordered:
                same &= c[1:] == c[:-1]
        new[1:] = ~same
    group_of_sorted = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group_of_sorted
    starts = np.flatnonzero(new)
    counts = np.diff(np.r_[starts, n]).astype(np.float64)
    return tuple(c[starts] for c in ordered), counts, inverse
