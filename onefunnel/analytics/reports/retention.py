"""Revenue retention: gross and net revenue retention, logo churn and expansion, per month,
per customer cohort, or over the whole period — the usual SaaS definitions, from contracts.

Recurring revenue is read from the contract terms: a term running on a day (``start_date <=
day <= end_date``) contributes its monthly recurring revenue, ``amount`` a month, or
``amount / 12`` for a yearly term. Sums are taken in whole cents of *annual* run-rate (an
integer on every engine: ``amount × 100`` for a yearly term, ``× 1200`` for a monthly one) and
divided by 1,200 only at the end, so all three engines agree to the last digit.

**By month** (default; each calendar month the period touches) and **over the period**
(``by=period``: one row from the first day to the day after the last), for each account,
``s`` = its MRR at the start (the first day) and ``e`` = its MRR at the end (the first day of
the next month — a term ending on the 31st is gone then, a renewal starting on the 1st is
there). Only accounts with ``s > 0`` (customers at the start) count; new customers are
reported apart (``new_mrr``) and never inflate retention:

* ``churned_mrr`` = Σ s over accounts with e = 0; ``churned_customers`` = their count;
* ``contraction_mrr`` = Σ (s − e) over accounts with 0 < e < s;
* ``expansion_mrr`` = Σ (e − s) over accounts with e > s;
* **GRR** = (starting − churned − contraction) / starting = Σ min(s, e) / Σ s  (≤ 1);
* **NRR** = (starting + expansion − contraction − churned) / starting = Σ e / Σ s;
* **logo churn** = churned customers / customers at the start.

**By cohort** (``by=cohort``): accounts grouped by the month of their first contract's start;
an account's initial MRR is that of its terms starting in its cohort month; then for each month
of the period from the cohort on, ``mrr`` = the cohort's MRR at the month's end, NRR = mrr /
initial, GRR = Σ min(mrr_a, initial_a) / initial, expansion = Σ max(mrr_a − initial_a, 0),
logo churn = the share of the cohort's accounts with no MRR left.

Amounts in different currencies are never added: every row is per currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from onefunnel.analytics.engines import Engine
from onefunnel.analytics.period import Period
from onefunnel.analytics.segment_filter import SegmentFilter, accounts_in, segment_params
from onefunnel.analytics.sql import count_if, ratio_sql
from onefunnel.analytics.table import Table
from onefunnel.services.errors import InputError

DIMENSIONS = ("month", "cohort", "period")
MAX_MONTHS = 240
MONTH_COLUMNS = (
    "customers_start",
    "churned_customers",
    "logo_churn",
    "starting_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "new_mrr",
    "ending_mrr",
    "grr",
    "nrr",
)
COHORT_COLUMNS = (
    "customers",
    "churned_customers",
    "logo_churn",
    "initial_mrr",
    "mrr",
    "expansion_mrr",
    "grr",
    "nrr",
)

# A term's annual run-rate in whole cents: exact integers on every engine.
_ARR_CENTS = (
    "CAST(ROUND(ct.amount * 100) AS BIGINT)"
    " * CASE WHEN ct.billing_period = 'monthly' THEN 12 ELSE 1 END"
)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class RetentionQuery:
    """GRR, NRR, logo churn and expansion by month, cohort or the whole period (see the
    module docstring for the formulas)."""

    period: Period
    by: str | None = None
    segment: SegmentFilter | None = None

    def _by(self) -> str:
        by = self.by or "month"
        if by not in DIMENSIONS:
            raise InputError(f"by: retention is by {', '.join(DIMENSIONS)}, not {by!r}")
        return by

    def snapshots(self) -> list[tuple[str, date, date]]:
        """(label, start day, end day) of each row's measurement."""
        if self.period.last >= date(9999, 12, 1):
            raise InputError("to: retention is measured up to 9999-11-30")
        if self._by() == "period":
            label = f"{self.period.first.isoformat()}..{self.period.last.isoformat()}"
            return [(label, self.period.first, self.period.last + timedelta(days=1))]
        out = []
        month = date(self.period.first.year, self.period.first.month, 1)
        while month <= self.period.last:
            out.append((month.strftime("%Y-%m"), month, _next_month(month)))
            month = _next_month(month)
            if len(out) > MAX_MONTHS:
                raise InputError(f"from: retention covers at most {MAX_MONTHS} months")
        return out

    def params(self) -> dict[str, str | date | int]:
        """The bound parameters: each snapshot's label and days (and the segment's id)."""
        params: dict[str, str | date | int] = dict(segment_params(self.segment))
        for i, (label, start, end) in enumerate(self.snapshots()):
            params[f"label_{i}"] = label
            params[f"s_{i}"] = start
            params[f"e_{i}"] = end
        return params

    def _snaps_sql(self) -> str:
        rows = [
            f"SELECT :label_{i} AS label, :s_{i} AS s_day, :e_{i} AS e_day"
            for i in range(len(self.snapshots()))
        ]
        return " UNION ALL ".join(rows)

    def sql(self) -> str:
        """The report's one query, in portable SQL (see engines.py)."""
        if self._by() == "cohort":
            return self._cohort_sql()
        return f"""
WITH snaps AS ({self._snaps_sql()}),
terms AS (
  SELECT ct.account_id, ct.currency, ct.start_date, ct.end_date, {_ARR_CENTS} AS arr
  FROM onefunnel_contract AS ct
  WHERE 1 = 1{accounts_in(self.segment, "ct.account_id")}
),
acct AS (
  SELECT sn.label, t.account_id, t.currency,
         SUM(CASE WHEN t.start_date <= sn.s_day AND t.end_date >= sn.s_day
                  THEN t.arr ELSE 0 END) AS s,
         SUM(CASE WHEN t.start_date <= sn.e_day AND t.end_date >= sn.e_day
                  THEN t.arr ELSE 0 END) AS e
  FROM snaps AS sn
  JOIN terms AS t ON t.start_date <= sn.e_day AND t.end_date >= sn.s_day
  GROUP BY sn.label, t.account_id, t.currency
),
totals AS (
  SELECT a.label, a.currency,
         {count_if("a.s > 0")} AS customers_start,
         {count_if("a.s > 0 AND a.e = 0")} AS churned_customers,
         SUM(CASE WHEN a.s > 0 THEN a.s ELSE 0 END) AS starting,
         SUM(CASE WHEN a.s > 0 AND a.e > a.s THEN a.e - a.s ELSE 0 END) AS expansion,
         SUM(CASE WHEN a.s > 0 AND a.e > 0 AND a.e < a.s THEN a.s - a.e ELSE 0 END)
           AS contraction,
         SUM(CASE WHEN a.s > 0 AND a.e = 0 THEN a.s ELSE 0 END) AS churned,
         SUM(CASE WHEN a.s = 0 THEN a.e ELSE 0 END) AS new_arr,
         SUM(CASE WHEN a.s > 0 THEN a.e ELSE 0 END) AS ending,
         SUM(CASE WHEN a.s > 0 AND a.e < a.s THEN a.e WHEN a.s > 0 THEN a.s ELSE 0 END)
           AS kept
  FROM acct AS a
  GROUP BY a.label, a.currency
)
SELECT t.label, t.currency, t.customers_start, t.churned_customers,
       {ratio_sql("t.churned_customers", "t.customers_start")} AS logo_churn,
       CAST(t.starting AS DOUBLE PRECISION) / 1200 AS starting_mrr,
       CAST(t.expansion AS DOUBLE PRECISION) / 1200 AS expansion_mrr,
       CAST(t.contraction AS DOUBLE PRECISION) / 1200 AS contraction_mrr,
       CAST(t.churned AS DOUBLE PRECISION) / 1200 AS churned_mrr,
       CAST(t.new_arr AS DOUBLE PRECISION) / 1200 AS new_mrr,
       CAST(t.ending AS DOUBLE PRECISION) / 1200 AS ending_mrr,
       {ratio_sql("t.kept", "t.starting")} AS grr,
       {ratio_sql("t.ending", "t.starting")} AS nrr
FROM totals AS t
ORDER BY t.label, t.currency
"""

    def _cohort_sql(self) -> str:
        return f"""
WITH snaps AS ({self._snaps_sql()}),
terms AS (
  SELECT ct.account_id, ct.currency, ct.start_date, ct.end_date, {_ARR_CENTS} AS arr
  FROM onefunnel_contract AS ct
  WHERE 1 = 1{accounts_in(self.segment, "ct.account_id")}
),
firsts AS (
  SELECT t.account_id, t.currency, MONTH_OF(MIN(t.start_date)) AS cohort
  FROM terms AS t
  GROUP BY t.account_id, t.currency
),
initial AS (
  SELECT f.account_id, f.currency, f.cohort, SUM(t.arr) AS arr0
  FROM firsts AS f
  JOIN terms AS t ON t.account_id = f.account_id AND t.currency = f.currency
                 AND MONTH_OF(t.start_date) = f.cohort
  GROUP BY f.account_id, f.currency, f.cohort
),
acct AS (
  SELECT sn.label, i.cohort, i.account_id, i.currency, i.arr0,
         SUM(CASE WHEN t.start_date <= sn.e_day AND t.end_date >= sn.e_day
                  THEN t.arr ELSE 0 END) AS e
  FROM initial AS i
  JOIN snaps AS sn ON sn.label >= i.cohort
  JOIN terms AS t ON t.account_id = i.account_id AND t.currency = i.currency
  GROUP BY sn.label, i.cohort, i.account_id, i.currency, i.arr0
),
totals AS (
  SELECT a.cohort, a.label, a.currency,
         COUNT(*) AS customers,
         {count_if("a.e = 0")} AS churned_customers,
         SUM(a.arr0) AS initial_arr,
         SUM(a.e) AS arr,
         SUM(CASE WHEN a.e > a.arr0 THEN a.e - a.arr0 ELSE 0 END) AS expansion,
         SUM(CASE WHEN a.e < a.arr0 THEN a.e ELSE a.arr0 END) AS kept
  FROM acct AS a
  GROUP BY a.cohort, a.label, a.currency
)
SELECT t.cohort, t.label, t.currency, t.customers, t.churned_customers,
       {ratio_sql("t.churned_customers", "t.customers")} AS logo_churn,
       CAST(t.initial_arr AS DOUBLE PRECISION) / 1200 AS initial_mrr,
       CAST(t.arr AS DOUBLE PRECISION) / 1200 AS mrr,
       CAST(t.expansion AS DOUBLE PRECISION) / 1200 AS expansion_mrr,
       {ratio_sql("t.kept", "t.initial_arr")} AS grr,
       {ratio_sql("t.arr", "t.initial_arr")} AS nrr
FROM totals AS t
ORDER BY t.cohort, t.label, t.currency
"""

    def run(self, engine: Engine) -> Table:
        """Run on an engine: rows per (month | period, currency), or (cohort, month,
        currency)."""
        by = self._by()
        result = engine.run(self.sql(), self.params())
        if by == "cohort":
            return Table(("cohort", "month", "currency", *COHORT_COLUMNS), result.rows)
        return Table((by, "currency", *MONTH_COLUMNS), result.rows)
