"""The spend report: what each campaign or channel cost, what it brought, and what it returned."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from onefunnel.analytics.dimensions import FIRST_TOUCH_CTE, NONE_LABEL, choose
from onefunnel.analytics.engines import Engine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports.attribution import DEFAULT_LOOKBACK_DAYS, AttributionQuery
from onefunnel.analytics.sql import count_if, days_between, ratio_sql
from onefunnel.analytics.table import Table, Value
from onefunnel.domain.attribution import AttributionInputError, parse_models
from onefunnel.services.errors import InputError

# Average month length in days (365.25 / 12), for tenure in months.
DAYS_PER_MONTH = 30.4375
# The fitted lifetime value: the expected purchases of the next 3 years, discounted 10 % a year.
DEFAULT_LTV_HORIZON_YEARS = 3.0
DEFAULT_LTV_DISCOUNT_RATE = 0.10
# BG/NBD learns the repeat rate from repeat buyers: below this many, the report does not fit
# and says so (ltv_method revenue_to_date) rather than extrapolate from a handful.
MIN_REPEAT_BUYERS = 10
WEEKS_PER_YEAR = 365.25 / 7
# by → (the group of a spend row's campaign `c`, the group of a contact's first touch `ft`)
_DIMENSIONS: dict[str, tuple[str, str]] = {
    "campaign": ("c.utm_campaign", f"COALESCE(ft.campaign, '{NONE_LABEL}')"),
    "channel": ("c.channel", f"COALESCE(ft.channel, '{NONE_LABEL}')"),
}
DIMENSIONS = tuple(_DIMENSIONS)
SQL_COLUMNS = (
    "spend",
    "leads",
    "mqls",
    "accepted",
    "deals",
    "customers",
    "revenue",
    "cost_per_lead",
    "cost_per_mql",
    "cost_per_accepted",
    "cac",
    "ltv",
    "ltv_to_cac",
    "payback_months",
)
COLUMNS = (*SQL_COLUMNS, "ltv_method", "attributed_revenue", "roas", "roi")
LTV_AT = SQL_COLUMNS.index("ltv") + 1  # + 1: the group comes first


@dataclass(frozen=True, slots=True)
class SpendQuery:
    """Spend against results, per campaign (default) or channel.

    The intuition: put what was paid beside what it bought, stage by stage. A lead, an MQL, an
    accepted lead and a customer belong to the campaign (or channel) of the contact's *first*
    touch — the one that brought them in — so each unit of result is counted once:

    * **spend**: spend entries dated in the period;
    * **leads**: contacts created in the period;
    * **mqls / accepted**: distinct contacts handed off in the period / whose handoff was
      accepted;
    * **deals**: new-business deals created in the period;
    * **customers / revenue**: accounts whose *first* won new-business deal closed in the
      period, credited through the deal's contact, and that deal's amount;
    * **cost_per_lead / _mql / _accepted**, **cac** (cost per customer): spend ÷ each;
    * **ltv**: the fitted lifetime value of the group's new customers — BG/NBD + Gamma-Gamma
      fitted on every won deal (account = customer) up to the period's end, each customer's
      expected purchases over ``ltv_horizon_years`` discounted at ``ltv_discount_rate`` a year
      (services/ltv), averaged over the group's customers. When the data cannot support a fit
      (fewer than MIN_REPEAT_BUYERS accounts with a repeat purchase, or no convergence), ltv is
      revenue to date (every won deal up to the period's end, renewals and expansions
      included) per customer. **ltv_method** says which: ``bgnbd`` or ``revenue_to_date``
      (empty when the group has no customers). **ltv_to_cac** = ltv / cac;
      **payback_months**: months of revenue to date it takes to earn the cac back (cac ÷
      revenue per customer-month since conversion), an observed measure whatever the ltv;
      empty when there are no customers;
    * **attributed_revenue** (from the attribution report under the chosen model, same
      period and grouping), **roas** = attributed_revenue / spend, **roi** = (attributed_revenue
      − spend) / spend — empty when nothing was spent.

    Money is summed as double on every engine.
    """

    period: Period
    by: str | None = "campaign"
    model: str = "linear"
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    ltv_horizon_years: float = DEFAULT_LTV_HORIZON_YEARS
    ltv_discount_rate: float = DEFAULT_LTV_DISCOUNT_RATE

    def __post_init__(self) -> None:
        if not math.isfinite(self.ltv_horizon_years) or not 0 < self.ltv_horizon_years <= 100:
            raise InputError("ltv_horizon_years: must be more than 0 and at most 100")
        if not math.isfinite(self.ltv_discount_rate) or not 0 <= self.ltv_discount_rate <= 10:
            raise InputError("ltv_discount_rate: must be a yearly rate between 0 and 10")
        try:
            models = parse_models(self.model)
        except AttributionInputError as exc:
            raise InputError(f"model: {exc}") from None
        if len(models) != 1:
            raise InputError("model: the spend report uses one attribution model")

    @property
    def dimension(self) -> str:
        """The grouping: campaign (default) or channel."""
        return choose(self.by, _DIMENSIONS, "spend") or "campaign"

    def sql(self) -> str:
        """The report's one query, in portable SQL (see engines.py)."""
        spend_dim, source_dim = _DIMENSIONS[self.dimension]
        in_period = ">= :period_start AND {0} < :period_end"

        def within(column: str) -> str:
            return f"{column} {in_period.format(column)}"

        # Every unit of result is a row of its contact ("facts"); the contact's source is spread
        # over those rows with a window rather than joined: SQLite would scan the derived
        # first_touch table once per joined row (4.3 s on the large demo, against 0.5 s).
        return f"""
WITH {FIRST_TOUCH_CTE},
spent AS (
  SELECT {spend_dim} AS dim, SUM(CAST(sp.amount AS DOUBLE PRECISION)) AS spend
  FROM onefunnel_spend AS sp
  JOIN onefunnel_campaign AS c ON c.id = sp.campaign_id
  WHERE sp.day >= :first_day AND sp.day < :end_day
  GROUP BY {spend_dim}
),
wins AS (
  SELECT d.account_id, d.contact_id, d.closed_at, CAST(d.amount AS DOUBLE PRECISION) AS amount,
         ROW_NUMBER() OVER (PARTITION BY d.account_id ORDER BY d.closed_at, d.id) AS rn
  FROM onefunnel_deal AS d
  WHERE d.kind = 'new_business' AND d.status = 'won' AND d.closed_at IS NOT NULL
),
lifetime AS (
  SELECT d.account_id, SUM(CAST(d.amount AS DOUBLE PRECISION)) AS revenue
  FROM onefunnel_deal AS d
  WHERE d.status = 'won' AND d.closed_at < :period_end
  GROUP BY d.account_id
),
facts AS (
  SELECT ct.id AS contact_id, 'lead' AS fact, 0 AS accepted,
         CAST(NULL AS DOUBLE PRECISION) AS amount, CAST(NULL AS DOUBLE PRECISION) AS lifetime,
         CAST(NULL AS DOUBLE PRECISION) AS tenure_months, CAST(NULL AS TEXT) AS dim
  FROM onefunnel_contact AS ct
  WHERE {within("ct.created_at")}
  UNION ALL
  SELECT h.contact_id, 'handoff' AS fact,
         CASE WHEN h.status = 'accepted' THEN 1 ELSE 0 END AS accepted,
         NULL AS amount, NULL AS lifetime, NULL AS tenure_months, NULL AS dim
  FROM onefunnel_handoff AS h
  WHERE {within("h.created_at")}
  UNION ALL
  SELECT d.contact_id, 'deal' AS fact, 0 AS accepted,
         NULL AS amount, NULL AS lifetime, NULL AS tenure_months, NULL AS dim
  FROM onefunnel_deal AS d
  WHERE d.kind = 'new_business' AND {within("d.created_at")}
  UNION ALL
  SELECT w.contact_id, 'win' AS fact, 0 AS accepted, w.amount, lt.revenue AS lifetime,
         {days_between("w.closed_at", ":period_end")} / {DAYS_PER_MONTH} AS tenure_months,
         NULL AS dim
  FROM wins AS w
  LEFT JOIN lifetime AS lt ON lt.account_id = w.account_id
  WHERE w.rn = 1 AND {within("w.closed_at")}
  UNION ALL
  SELECT ft.contact_id, 'source' AS fact, 0 AS accepted,
         NULL AS amount, NULL AS lifetime, NULL AS tenure_months, {source_dim} AS dim
  FROM first_touch AS ft
),
sourced AS (
  SELECT f.contact_id, f.fact, f.accepted, f.amount, f.lifetime, f.tenure_months,
         COALESCE(MAX(f.dim) OVER (PARTITION BY f.contact_id), '{NONE_LABEL}') AS dim
  FROM facts AS f
),
results AS (
  SELECT s.dim,
         {count_if("s.fact = 'lead'")} AS leads,
         COUNT(DISTINCT CASE WHEN s.fact = 'handoff' THEN s.contact_id END) AS mqls,
         COUNT(DISTINCT CASE WHEN s.fact = 'handoff' AND s.accepted = 1 THEN s.contact_id END)
           AS accepted,
         {count_if("s.fact = 'deal'")} AS deals,
         {count_if("s.fact = 'win'")} AS customers,
         SUM(CASE WHEN s.fact = 'win' THEN s.amount END) AS revenue,
         SUM(s.lifetime) AS lifetime_revenue,
         SUM(s.tenure_months) AS tenure_months
  FROM sourced AS s
  WHERE s.fact <> 'source'
  GROUP BY s.dim
),
groups AS (
  SELECT dim FROM spent UNION SELECT dim FROM results
),
totals AS (
  SELECT g.dim, COALESCE(s.spend, 0) AS spend, COALESCE(r.leads, 0) AS leads,
         COALESCE(r.mqls, 0) AS mqls, COALESCE(r.accepted, 0) AS accepted,
         COALESCE(r.deals, 0) AS deals, COALESCE(r.customers, 0) AS customers,
         COALESCE(r.revenue, 0) AS revenue, r.lifetime_revenue, r.tenure_months
  FROM groups AS g
  LEFT JOIN spent AS s ON s.dim = g.dim
  LEFT JOIN results AS r ON r.dim = g.dim
)
SELECT t.dim, t.spend, t.leads, t.mqls, t.accepted, t.deals, t.customers, t.revenue,
       {ratio_sql("t.spend", "t.leads")} AS cost_per_lead,
       {ratio_sql("t.spend", "t.mqls")} AS cost_per_mql,
       {ratio_sql("t.spend", "t.accepted")} AS cost_per_accepted,
       {ratio_sql("t.spend", "t.customers")} AS cac,
       {ratio_sql("t.lifetime_revenue", "t.customers")} AS ltv,
       {ratio_sql("t.lifetime_revenue", "t.spend")} AS ltv_to_cac,
       {ratio_sql(ratio_sql("t.spend", "t.customers"), ratio_sql("t.lifetime_revenue", "t.tenure_months"))}
         AS payback_months
FROM totals AS t
ORDER BY t.dim
"""

    def customers_sql(self) -> str:
        """The new customers of the period (group, account), credited as in `sql`."""
        _, source_dim = _DIMENSIONS[self.dimension]
        return f"""
WITH {FIRST_TOUCH_CTE},
wins AS (
  SELECT d.account_id, d.contact_id, d.closed_at,
         ROW_NUMBER() OVER (PARTITION BY d.account_id ORDER BY d.closed_at, d.id) AS rn
  FROM onefunnel_deal AS d
  WHERE d.kind = 'new_business' AND d.status = 'won' AND d.closed_at IS NOT NULL
),
facts AS (
  SELECT w.contact_id, w.account_id, CAST(NULL AS TEXT) AS dim
  FROM wins AS w
  WHERE w.rn = 1 AND w.closed_at >= :period_start AND w.closed_at < :period_end
  UNION ALL
  SELECT ft.contact_id, CAST(NULL AS BIGINT) AS account_id, {source_dim} AS dim
  FROM first_touch AS ft
),
sourced AS (
  SELECT f.account_id,
         COALESCE(MAX(f.dim) OVER (PARTITION BY f.contact_id), '{NONE_LABEL}') AS dim
  FROM facts AS f
)
SELECT s.dim, s.account_id FROM sourced AS s WHERE s.account_id IS NOT NULL
ORDER BY s.dim, s.account_id
"""

    @staticmethod
    def orders_sql() -> str:
        """Every won deal up to the period's end as an order: account, close (epoch s), amount."""
        return """
SELECT d.account_id, EPOCH_SECONDS(d.closed_at) AS closed_s,
       CAST(d.amount AS DOUBLE PRECISION) AS amount
FROM onefunnel_deal AS d
WHERE d.status = 'won' AND d.closed_at IS NOT NULL AND d.closed_at < :period_end
ORDER BY d.closed_at, d.id
"""

    def clv_by_account(self, engine: Engine) -> dict[str, float] | None:
        """Each customer's fitted CLV from the won deals up to the period's end, or None when
        they cannot support a BG/NBD fit. It reads only the deals: on the database it is kept
        (``analytics.cache``) while a touch recomputes the rest of the report."""
        from onefunnel.analytics.cache import cached
        from onefunnel.analytics.engines import DjangoEngine

        if not isinstance(engine, DjangoEngine):
            return self._clv_by_account(engine)
        args = (self.period, self.ltv_horizon_years, self.ltv_discount_rate)
        # In a tuple: a kept None (no fit) is told from nothing kept.
        (clv,) = cached("clv_by_account", args, lambda: (self._clv_by_account(engine),),
                        using=engine.alias)  # fmt: skip
        return clv

    def _clv_by_account(self, engine: Engine) -> dict[str, float] | None:
        from onefunnel.services.ltv import Orders, predict_orders

        params = self.period.params()
        orders = engine.run(self.orders_sql(), params).rows
        if not orders:
            return None
        accounts = np.array([int(_number(r[0])) for r in orders], dtype=np.int64)
        days = np.array([int(_number(r[1])) // 86_400 for r in orders], dtype=np.int64)
        amounts = np.array([_number(r[2]) for r in orders], dtype=np.float64)
        ids, codes = np.unique(accounts, return_inverse=True)
        codes = codes.astype(np.int64).ravel()
        # Same-day orders are one purchase: a repeat buyer has orders on two days or more.
        first = np.full(ids.size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, codes, days)
        last = np.full(ids.size, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last, codes, days)
        if int(np.count_nonzero(last > first)) < MIN_REPEAT_BUYERS:
            return None
        data_end = (self.period.last - date(1970, 1, 1)).days
        try:
            prediction = predict_orders(
                Orders(
                    customer_ids=tuple(str(i) for i in ids.tolist()),
                    customers=codes,
                    days=days,
                    amounts=amounts,
                    data_end=max(data_end, int(days.max())),
                ),
                horizon_weeks=self.ltv_horizon_years * WEEKS_PER_YEAR,
                discount_rate=self.ltv_discount_rate,
            )
        except InputError:
            return None
        clv = {c.customer_id: c.clv for c in prediction.customers}
        if not all(math.isfinite(v) for v in clv.values()):
            return None
        return clv

    def fitted_ltv(self, engine: Engine) -> dict[str, float] | None:
        """The average fitted CLV of each group's new customers, or None when the won deals
        cannot support a BG/NBD fit (then the report keeps revenue to date, and says so)."""
        clv = self.clv_by_account(engine)
        if clv is None:
            return None
        params = self.period.params()
        by_group: dict[str, list[float]] = {}
        for group, account in engine.run(self.customers_sql(), params).rows:
            by_group.setdefault(str(group), []).append(clv.get(str(int(_number(account))), 0.0))
        return {group: sum(values) / len(values) for group, values in by_group.items()}

    def run(self, engine: Engine) -> Table:
        """Run the spend query and the attribution query, and join them on the group; then
        put the fitted lifetime value in place of revenue to date where the data allows."""
        (model,) = parse_models(self.model)
        attribution = AttributionQuery(
            self.period, by=self.dimension, models=model.value, lookback_days=self.lookback_days
        )
        # The two queries are independent: the engine may run them at once.
        result, credits = engine.in_parallel(
            lambda e: e.run(self.sql(), self.period.params()),
            lambda e: attribution.credits(e, credited_only=True)[model.value],
        )
        # numpy, in Python after the SQL: the fit is the same on every engine.
        fitted = self.fitted_ltv(engine)
        method = "revenue_to_date" if fitted is None else "bgnbd"
        rows: list[tuple[Value, ...]] = []
        spend_at = 1
        for row in result.rows:
            value = row[spend_at]
            spend = float(value) if isinstance(value, (int, float)) else 0.0
            if fitted is not None and str(row[0]) in fitted:
                ltv = fitted[str(row[0])]
                cac = row[LTV_AT - 1]
                ratio = ltv / float(cac) if isinstance(cac, (int, float)) and cac else None
                row = (*row[:LTV_AT], ltv, ratio, *row[LTV_AT + 2 :])
            shown_method = method if row[LTV_AT] is not None else None
            attributed = credits.get(str(row[0]), (0.0, 0.0))[1]
            roas = attributed / spend if spend else None
            roi = (attributed - spend) / spend if spend else None
            rows.append((*row, shown_method, attributed, roas, roi))
        # A group credited by the model without spend or results of its own in the period
        # (e.g. sales_outreach, which has no campaigns) still has a row, so the attributed
        # revenue column sums to the attribution total.
        shown = {str(row[0]) for row in result.rows}
        counts = ("leads", "mqls", "accepted", "deals", "customers")
        zero: tuple[Value, ...] = tuple(
            0 if name in counts else 0.0 if name in ("spend", "revenue") else None
            for name in SQL_COLUMNS
        )
        for group, (_, attributed) in credits.items():
            if group not in shown:
                rows.append((group, *zero, None, attributed, None, None))
        rows.sort(key=lambda row: str(row[0]))
        return Table.of((self.dimension, *COLUMNS), rows)


def _number(value: Value) -> float:
    """A numeric cell as float (engines return int, float or Decimal)."""
    if isinstance(value, (int, float)):
        return float(value)
    return float(str(value))
