"""The funnel report: how many entered each stage, where they went next, and how long they stayed."""

from __future__ import annotations

from dataclasses import dataclass

from onefunnel.analytics.dimensions import (
    FIRST_TOUCH_CTE,
    NONE_LABEL,
    UNASSIGNED,
    choose,
    segment_sql,
    stage_rank_sql,
    state_order_sql,
)
from onefunnel.analytics.engines import Engine
from onefunnel.analytics.period import Period
from onefunnel.analytics.segment_filter import SegmentFilter, contacts_in, segment_params
from onefunnel.analytics.sql import count_if, days_between, percentile_sql, ratio_sql
from onefunnel.analytics.table import Table

# by → (the dimension's SQL over stage change `sc`, contact `ct`, account `ac`, user `u`,
# first touch `ft`; whether it needs the first-touch CTE)
_DIMENSIONS: dict[str, tuple[str, bool]] = {
    "channel": ("ft.channel", True),
    "campaign": ("ft.campaign", True),
    "segment": (segment_sql("ac.employee_count"), False),
    "owner": (f"COALESCE(u.username, '{UNASSIGNED}')", False),
    "cohort": ("'cohort'", False),  # computed from the first change, in `scoped`
}
DIMENSIONS = tuple(_DIMENSIONS)
COLUMNS = (
    "stage",
    "entries",
    "exits_forward",
    "to_nurture",
    "to_disqualified",
    "to_churned",
    "still_in",
    "conversion_rate",
    "median_days",
    "p90_days",
)


@dataclass(frozen=True, slots=True)
class FunnelQuery:
    """Per stage (and per group): entries, where those entries went next, and time in stage.

    The intuition: a contact's stage history is a line of *spells* — each stage change opens a
    spell in its target stage, and the contact's next change closes it. Pair every change with
    the next one of the same contact (``LEAD`` over the contact's changes in time order) and
    each spell knows its stage, where it went next, and how long it lasted. The report then
    counts spells, not contacts:

    * **entries**: spells that *began* within the period (a contact who entered intent twice,
      after a spell in nurture, counts twice), followed to today;
    * **exits_forward**: the next stage is further down the funnel (skips count: awareness →
      intent is forward). From a side state, forward means back into the funnel;
    * **to_nurture / to_disqualified / to_churned**: the next state is that side state;
    * **still_in**: no next change yet;

    Changes are taken in recorded order (their ids), the order the stage history is replayed in;
    the stage service never records a change before the previous one, so times follow suit.
    * **conversion_rate** = exits_forward / entries;
    * **median_days / p90_days**: time in stage over the *finished* spells only (a spell still
      open has no length yet), as exact percentiles with linear interpolation.

    Groups (``by``): the contact's source channel or campaign (first touch), account segment,
    owner, or cohort — the month of the contact's first stage change. Only contacts' histories
    count; accounts have their own (customer-side) history.
    """

    period: Period
    by: str | None = None
    segment: SegmentFilter | None = None

    def sql(self) -> str:
        """The report's one query, in portable SQL (see engines.py)."""
        by = choose(self.by, _DIMENSIONS, "funnel")
        dim, needs_first_touch = _DIMENSIONS[by] if by else ("'all'", False)
        rank_next, rank_here = stage_rank_sql("r.next_stage"), stage_rank_sql("r.stage")
        forward = f"{rank_next} > COALESCE({rank_here}, 0)"
        first_touch = f"{FIRST_TOUCH_CTE}," if needs_first_touch else ""
        joins = "\n".join(
            [
                "LEFT JOIN onefunnel_contact AS ct ON ct.id = sc.contact_id" if by else "",
                "LEFT JOIN onefunnel_account AS ac ON ac.id = ct.account_id"
                if by == "segment"
                else "",
                "LEFT JOIN auth_user AS u ON u.id = ct.owner_id" if by == "owner" else "",
            ]
        )
        scoped_dim = "MONTH_OF(s.first_at)" if by == "cohort" else "s.dim"
        # The window is only computed when the cohort needs it.
        first_at = (
            ",\n         MIN(sc.at) OVER (PARTITION BY sc.contact_id) AS first_at"
            if by == "cohort"
            else ""
        )
        if needs_first_touch:
            # The source is spread over a contact's changes with a window rather than joined:
            # SQLite would scan the derived first_touch table once per change.
            changes = f"""{first_touch}
marked AS (
  SELECT sc.contact_id, sc.id, sc.to_stage, sc.at, NULL AS dim
  FROM onefunnel_stagechange AS sc
  WHERE sc.contact_id IS NOT NULL
  UNION ALL
  SELECT ft.contact_id, NULL AS id, NULL AS to_stage, NULL AS at, {dim} AS dim
  FROM first_touch AS ft
),
changes AS (
  SELECT m.contact_id, m.id, m.to_stage, m.at,
         COALESCE(MAX(m.dim) OVER (PARTITION BY m.contact_id), '{NONE_LABEL}') AS dim
  FROM marked AS m
),"""
        else:
            changes = f"""
changes AS (
  SELECT sc.contact_id, sc.id, sc.to_stage, sc.at, {dim} AS dim
  FROM onefunnel_stagechange AS sc
  {joins}
),"""
        return f"""
WITH {changes}
spells AS (
  SELECT sc.contact_id, sc.dim, sc.to_stage AS stage, sc.at AS entered_at,
         LEAD(sc.to_stage) OVER (PARTITION BY sc.contact_id ORDER BY sc.id) AS next_stage,
         LEAD(sc.at) OVER (PARTITION BY sc.contact_id ORDER BY sc.id) AS left_at{first_at}
  FROM changes AS sc
  WHERE sc.contact_id IS NOT NULL AND sc.id IS NOT NULL{contacts_in(self.segment, "sc.contact_id")}
),
scoped AS (
  SELECT {scoped_dim} AS dim, s.stage, s.next_stage,
         {days_between("s.entered_at", "s.left_at")} AS days
  FROM spells AS s
  WHERE s.entered_at >= :period_start AND s.entered_at < :period_end
),
ranked AS (
  SELECT sp.dim, sp.stage, sp.next_stage, sp.days,
         ROW_NUMBER() OVER (
           PARTITION BY sp.dim, sp.stage
           ORDER BY CASE WHEN sp.days IS NULL THEN 1 ELSE 0 END, sp.days
         ) AS rn,
         COUNT(sp.days) OVER (PARTITION BY sp.dim, sp.stage) AS n_done
  FROM scoped AS sp
)
SELECT r.dim AS dim, r.stage AS stage,
       COUNT(*) AS entries,
       {count_if(forward)} AS exits_forward,
       {count_if("r.next_stage = 'nurture'")} AS to_nurture,
       {count_if("r.next_stage = 'disqualified'")} AS to_disqualified,
       {count_if("r.next_stage = 'churned'")} AS to_churned,
       {count_if("r.next_stage IS NULL")} AS still_in,
       {ratio_sql(count_if(forward), "COUNT(*)")} AS conversion_rate,
       {percentile_sql(0.5, "r.days", "r.rn", "r.n_done")} AS median_days,
       {percentile_sql(0.9, "r.days", "r.rn", "r.n_done")} AS p90_days
FROM ranked AS r
GROUP BY r.dim, r.stage
ORDER BY r.dim, {state_order_sql("r.stage")}
"""

    def run(self, engine: Engine) -> Table:
        """Run on an engine; the first column is the group (named after ``by``) when grouped."""
        params = {**self.period.params(), **segment_params(self.segment)}
        result = engine.run(self.sql(), params)
        by = choose(self.by, _DIMENSIONS, "funnel")
        if by:
            return Table((by, *COLUMNS), result.rows)
        return Table(COLUMNS, tuple(row[1:] for row in result.rows))
