"""Plan beside actual: a saved plan's numbers, month by month, against what happened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from onefunnel.analytics.engines import Engine, Param
from onefunnel.analytics.period import Period
from onefunnel.analytics.sql import ratio_sql
from onefunnel.analytics.table import Table
from onefunnel.services.errors import InputError

COLUMNS = (
    "off_plan_rank",
    "step",
    "channel",
    "month",
    "planned",
    "actual",
    "attainment",
    "cumulative_planned",
    "cumulative_actual",
    "cumulative_attainment",
)
STEPS = ("leads", "mqls", "handoffs_accepted", "deals_won", "revenue", "spend")

# Each step's actuals by month (and channel, for spend), in portable SQL.
_ACTUALS = """
SELECT 'leads' AS step, 'all' AS channel, MONTH_OF(ct.created_at) AS month,
       CAST(COUNT(*) AS DOUBLE PRECISION) AS actual
FROM onefunnel_contact AS ct
WHERE ct.created_at >= :period_start AND ct.created_at < :period_end
GROUP BY MONTH_OF(ct.created_at)
UNION ALL
SELECT 'mqls', 'all', MONTH_OF(h.created_at), CAST(COUNT(*) AS DOUBLE PRECISION)
FROM onefunnel_handoff AS h
WHERE h.created_at >= :period_start AND h.created_at < :period_end
GROUP BY MONTH_OF(h.created_at)
UNION ALL
SELECT 'handoffs_accepted', 'all', MONTH_OF(a.at), CAST(COUNT(*) AS DOUBLE PRECISION)
FROM (
  SELECT COALESCE(h.decided_at, h.first_response_at, h.created_at) AS at
  FROM onefunnel_handoff AS h
  WHERE h.status = 'accepted'
) AS a
WHERE a.at >= :period_start AND a.at < :period_end
GROUP BY MONTH_OF(a.at)
UNION ALL
SELECT 'deals_won', 'all', MONTH_OF(d.closed_at), CAST(COUNT(*) AS DOUBLE PRECISION)
FROM onefunnel_deal AS d
WHERE d.kind = 'new_business' AND d.status = 'won'
  AND d.closed_at >= :period_start AND d.closed_at < :period_end
GROUP BY MONTH_OF(d.closed_at)
UNION ALL
SELECT 'revenue', 'all', MONTH_OF(d.closed_at), SUM(CAST(d.amount AS DOUBLE PRECISION))
FROM onefunnel_deal AS d
WHERE d.kind = 'new_business' AND d.status = 'won'
  AND d.closed_at >= :period_start AND d.closed_at < :period_end
GROUP BY MONTH_OF(d.closed_at)
UNION ALL
SELECT 'spend', 'all', SUBSTRING(CAST(s.day AS TEXT), 1, 7),
       SUM(CAST(s.amount AS DOUBLE PRECISION))
FROM onefunnel_spend AS s
WHERE s.day >= :first_day AND s.day < :end_day
GROUP BY SUBSTRING(CAST(s.day AS TEXT), 1, 7)
UNION ALL
SELECT 'spend', c.channel, SUBSTRING(CAST(s.day AS TEXT), 1, 7),
       SUM(CAST(s.amount AS DOUBLE PRECISION))
FROM onefunnel_spend AS s
JOIN onefunnel_campaign AS c ON c.id = s.campaign_id
WHERE s.day >= :first_day AND s.day < :end_day
GROUP BY c.channel, SUBSTRING(CAST(s.day AS TEXT), 1, 7)
"""


@dataclass(frozen=True, slots=True)
class PlanQuery:
    """A saved plan's numbers per step, channel and month beside the actuals.

    The intuition: a plan is only useful if both teams look at the same number when it goes
    off course. The plan's planned values come in as bound parameters (one row each, joined as
    a derived table), the actuals are one query over the shared record, and the report ranks
    the steps by how far behind plan they are *to date* — cumulative actual over cumulative
    planned for the months that have begun — so the first row is the step that is off plan
    first. The steps:

    * **leads** — contacts created; **mqls** — handoffs created;
    * **handoffs_accepted** — accepted handoffs by their decision month (the first response,
      else creation, where no decision time was recorded);
    * **deals_won** / **revenue** — new-business deals won (count / amount) by close month;
    * **spend** — campaign spend by day, for the company (``all``) and per channel when the
      plan was made by channel.

    ``attainment`` = actual / planned (NULL where nothing was planned).
    """

    planned: Sequence[tuple[str, str, str, float]]  # (step, channel, YYYY-MM, planned)
    today: date

    def __post_init__(self) -> None:
        if not self.planned:
            raise InputError("plan: the plan has no planned numbers")
        for step, _channel, _month, _value in self.planned:
            if step not in STEPS:
                raise InputError(f"plan: unknown step {step!r}")

    @property
    def period(self) -> Period:
        """The months the plan covers."""
        months = sorted({m for _s, _c, m, _v in self.planned})
        first = date.fromisoformat(months[0] + "-01")
        last_month = date.fromisoformat(months[-1] + "-01")
        nxt = date(last_month.year + last_month.month // 12, last_month.month % 12 + 1, 1)
        return Period(first, date.fromordinal(nxt.toordinal() - 1))

    def sql(self) -> str:
        """The report's one query, in portable SQL (see engines.py)."""
        planned = "\nUNION ALL\n".join(
            f"SELECT CAST(:s{i} AS TEXT) AS step, CAST(:c{i} AS TEXT) AS channel,"
            f" CAST(:m{i} AS TEXT) AS month, CAST(:v{i} AS DOUBLE PRECISION) AS planned"
            for i in range(len(self.planned))
        )
        return f"""
WITH planned AS (
{planned}
),
actuals AS (
{_ACTUALS}
),
joined AS (
  SELECT p.step, p.channel, p.month, p.planned, COALESCE(a.actual, 0) AS actual
  FROM planned AS p
  LEFT JOIN actuals AS a ON a.step = p.step AND a.channel = p.channel AND a.month = p.month
),
running AS (
  SELECT j.step, j.channel, j.month, j.planned, j.actual,
         SUM(j.planned) OVER (PARTITION BY j.step, j.channel ORDER BY j.month
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_planned,
         SUM(j.actual) OVER (PARTITION BY j.step, j.channel ORDER BY j.month
                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_actual
  FROM joined AS j
),
to_date AS (
  SELECT j.step, j.channel,
         {
            ratio_sql(
                "SUM(CASE WHEN j.month <= :current_month THEN j.actual ELSE 0 END)",
                "SUM(CASE WHEN j.month <= :current_month THEN j.planned ELSE 0 END)",
            )
        }
           AS score
  FROM joined AS j
  GROUP BY j.step, j.channel
),
ranked AS (
  SELECT t.step, t.channel,
         ROW_NUMBER() OVER (ORDER BY COALESCE(t.score, 1000000000.0), t.step, t.channel)
           AS off_plan_rank
  FROM to_date AS t
)
SELECT rk.off_plan_rank, r.step, r.channel, r.month, r.planned, r.actual,
       {ratio_sql("r.actual", "r.planned")} AS attainment,
       r.cum_planned, r.cum_actual,
       {ratio_sql("r.cum_actual", "r.cum_planned")} AS cumulative_attainment
FROM running AS r
JOIN ranked AS rk ON rk.step = r.step AND rk.channel = r.channel
ORDER BY rk.off_plan_rank, r.month
"""

    def params(self) -> dict[str, Param]:
        """The period's bounds, the current month, and each planned value."""
        params: dict[str, Param] = dict(self.period.params())
        params["current_month"] = f"{self.today.year:04d}-{self.today.month:02d}"
        for i, (step, channel, month, value) in enumerate(self.planned):
            params[f"s{i}"], params[f"c{i}"], params[f"m{i}"] = step, channel, month
            params[f"v{i}"] = float(value)
        return params

    def run(self, engine: Engine) -> Table:
        """Run on an engine: one row per step, channel and month, the most off-plan first."""
        result = engine.run(self.sql(), self.params())
        return Table(COLUMNS, result.rows)


def today_utc() -> date:
    """Today's UTC date (the month that counts as begun)."""
    return datetime.now(UTC).date()
