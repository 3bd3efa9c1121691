"""The records behind an amount: which accounts a credit or a retention figure adds up, and
what each adds.

A credit ("paid search: 12,400 of revenue under linear") is the sum of the converted journeys'
shares (``domain.attribution.shares``) — each journey an account and its first won deal, as
the attribution report reads them (``AttributionQuery.journeys``). A retention figure
("expansion in 2026-03: 1,250 MRR") is a sum over accounts of their recurring revenue at the
month's start and end (``reports.retention``); the list is those accounts, each with what it
adds. Either list, summed, is the cell (tests/integration/test_records_amounts.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from onefunnel.analytics.dimensions import NONE_LABEL
from onefunnel.analytics.engines import Engine, Param
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports.attribution import AttributionQuery
from onefunnel.analytics.reports.retention import (
    _ARR_CENTS,
    COHORT_COLUMNS,
    MONTH_COLUMNS,
    RetentionQuery,
)
from onefunnel.analytics.segment_filter import SegmentFilter
from onefunnel.analytics.table import Table
from onefunnel.domain.attribution import AttributionModel, parse_models
from onefunnel.domain.attribution.shares import journey_shares
from onefunnel.services.errors import InputError

#: Every list: the account, what it adds to the cell, and a few words on why.
COLUMNS = ("account_id", "amount", "detail")

CREDIT_MEASURES = ("conversions", "revenue")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, slots=True)
class CreditRecords:
    """The converted journeys behind one label's credit under one model, with their shares."""

    period: Period
    model: str
    by: str
    group: str
    measure: str = "revenue"
    #: Only the journeys of a segment's accounts, as on a page filtered by it.
    segment: SegmentFilter | None = None

    def __post_init__(self) -> None:
        if self.measure not in CREDIT_MEASURES:
            raise InputError(f"measure: a credit is {' or '.join(CREDIT_MEASURES)}, "
                             f"not {self.measure!r}")  # fmt: skip
        query = AttributionQuery(self.period, self.by, models=self.model)  # checks the model
        _ = query.dimension  # and the grouping
        if len(parse_models(self.model)) != 1:
            raise InputError("model: the records of one credit are under one model")

    def run(self, engine: Engine) -> Table:
        """One row per journey with a share of the label's credit, largest first."""
        query = AttributionQuery(self.period, self.by, models=self.model, segment=self.segment)
        model = AttributionModel(parse_models(self.model)[0])
        journeys = query.journeys(engine, non_converting=query.needs_non_converting)
        grouped = journeys.grouped
        if grouped is None or not journeys.converting or self.group not in grouped.channels:
            return Table.of(COLUMNS, [])
        shares = journey_shares(
            grouped, model, order=query.markov_order, half_life=query.half_life_days,
            direct_channel="direct" if query.dimension == "channel" else NONE_LABEL,
        ).of_channel(grouped.channels.index(self.group))  # fmt: skip
        amounts = shares.conversions if self.measure == "conversions" else shares.value
        assert amounts is not None  # the report's journeys always carry revenue
        rows = [
            (journeys.account_ids[int(p)], float(a),
             f"{float(c):.3f} of a conversion" if self.measure == "revenue" else "")
            for p, a, c in zip(shares.path, amounts, shares.conversions, strict=True)
        ]  # fmt: skip
        rows.sort(key=lambda r: (-r[1], r[0]))
        return Table.of(COLUMNS, rows)


#: Retention measure → (the condition on an account's start ``s`` and end ``e``, what it adds).
_BY_MONTH: dict[str, tuple[str, str]] = {
    "customers_start": ("a.s > 0", "a.s"),
    "churned_customers": ("a.s > 0 AND a.e = 0", "a.s"),
    "starting_mrr": ("a.s > 0", "a.s"),
    "expansion_mrr": ("a.s > 0 AND a.e > a.s", "a.e - a.s"),
    "contraction_mrr": ("a.s > 0 AND a.e > 0 AND a.e < a.s", "a.s - a.e"),
    "churned_mrr": ("a.s > 0 AND a.e = 0", "a.s"),
    "new_mrr": ("a.s = 0 AND a.e > 0", "a.e"),
    "ending_mrr": ("a.s > 0 AND a.e > 0", "a.e"),
}
_BY_COHORT: dict[str, tuple[str, str]] = {
    "customers": ("1 = 1", "a.s"),
    "churned_customers": ("a.e = 0", "a.s"),
    "initial_mrr": ("1 = 1", "a.s"),
    "mrr": ("a.e > 0", "a.e"),
    "expansion_mrr": ("a.e > a.s", "a.e - a.s"),
}
#: Retention columns that count accounts (the others are MRR).
RETENTION_COUNTS = ("customers_start", "churned_customers", "customers")
assert set(_BY_MONTH) <= set(MONTH_COLUMNS)
assert set(_BY_COHORT) <= set(COHORT_COLUMNS)


@dataclass(frozen=True, slots=True)
class RetentionRecords:
    """The accounts behind one retention cell: a month's (or the period's) or a cohort's at a
    month, in one currency. ``s`` is an account's MRR at the start (for a cohort: its first
    month's), ``e`` at the end; the condition and the amount follow the report's formulas."""

    period: Period
    by: str
    label: str
    currency: str
    measure: str
    cohort: str | None = None

    def __post_init__(self) -> None:
        measures = _BY_COHORT if self.by == "cohort" else _BY_MONTH
        if self.by not in ("month", "period", "cohort"):
            raise InputError(f"by: retention records are by month, period or cohort, "
                             f"not {self.by!r}")  # fmt: skip
        if self.measure not in measures:
            raise InputError(f"measure: retention by {self.by} lists {', '.join(measures)}; "
                             f"not {self.measure!r}")  # fmt: skip
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise InputError(f"currency: {self.currency[:10]!r} is not a currency code")
        if self.by == "cohort" and not (self.cohort and _MONTH.match(self.cohort)):
            raise InputError("cohort: a cohort is a month, YYYY-MM")
        self.days()

    def days(self) -> tuple[date, date]:
        """The start and end days measured (the report's snapshot of the label)."""
        by = "month" if self.by == "cohort" else self.by
        for label, start, end in RetentionQuery(self.period, by).snapshots():
            if label == self.label:
                return start, end
        raise InputError(f"group: {self.label[:30]!r} is not a {by} of the period")

    def sql(self) -> str:
        """The list's one query, in portable SQL (see engines.py)."""
        if self.by == "cohort":
            where, amount = _BY_COHORT[self.measure]
            acct = """
firsts AS (
  SELECT t.account_id, MONTH_OF(MIN(t.start_date)) AS cohort FROM terms AS t
  GROUP BY t.account_id
),
initial AS (
  SELECT f.account_id, SUM(t.arr) AS arr0
  FROM firsts AS f
  JOIN terms AS t ON t.account_id = f.account_id AND MONTH_OF(t.start_date) = f.cohort
  WHERE f.cohort = :cohort
  GROUP BY f.account_id
),
acct AS (
  SELECT i.account_id, i.arr0 AS s,
         SUM(CASE WHEN t.start_date <= :e_day AND t.end_date >= :e_day THEN t.arr ELSE 0 END)
           AS e
  FROM initial AS i
  JOIN terms AS t ON t.account_id = i.account_id
  GROUP BY i.account_id, i.arr0
)"""
        else:
            where, amount = _BY_MONTH[self.measure]
            acct = """
acct AS (
  SELECT t.account_id,
         SUM(CASE WHEN t.start_date <= :s_day AND t.end_date >= :s_day THEN t.arr ELSE 0 END)
           AS s,
         SUM(CASE WHEN t.start_date <= :e_day AND t.end_date >= :e_day THEN t.arr ELSE 0 END)
           AS e
  FROM terms AS t
  WHERE t.start_date <= :e_day AND t.end_date >= :s_day
  GROUP BY t.account_id
)"""
        return f"""
WITH terms AS (
  SELECT ct.account_id, ct.start_date, ct.end_date, {_ARR_CENTS} AS arr
  FROM onefunnel_contract AS ct
  WHERE ct.currency = :currency
),{acct}
SELECT a.account_id, {amount} AS cents, a.s, a.e
FROM acct AS a
WHERE {where}
ORDER BY {amount} DESC, a.account_id
"""

    def run(self, engine: Engine) -> Table:
        """One row per account: the MRR it adds to the cell, and its MRR at start and end."""
        start, end = self.days()
        if self.by == "cohort" and (self.cohort or "") > self.label:
            return Table.of(COLUMNS, [])
        params: dict[str, Param] = {"s_day": start, "e_day": end, "currency": self.currency,
                  "cohort": self.cohort or ""}  # fmt: skip
        rows = engine.fetch(self.sql(), params)
        first = "first month" if self.by == "cohort" else "start"
        return Table.of(
            COLUMNS,
            [(int(a), _mrr(cents), f"{first} {_mrr(s):,.2f} → end {_mrr(e):,.2f} MRR")
             for a, cents, s, e in rows],
        )  # fmt: skip


def _mrr(cents: object) -> float:
    """Annual run-rate cents as MRR (the report's ``/ 1200``); PostgreSQL sums bigints as
    numeric (Decimal)."""
    return float(cents) / 1200 if isinstance(cents, (int, float, Decimal)) else 0.0
