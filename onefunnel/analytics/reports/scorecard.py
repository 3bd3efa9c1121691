"""The handoff scorecard: marketing's lead quality and sales' follow-up, on one table."""

from __future__ import annotations

from dataclasses import dataclass

from onefunnel.analytics.dimensions import (
    FIRST_TOUCH_CTE,
    NONE_LABEL,
    UNASSIGNED,
    choose,
    segment_sql,
)
from onefunnel.analytics.engines import Engine
from onefunnel.analytics.period import Period
from onefunnel.analytics.segment_filter import SegmentFilter, contacts_in, segment_params
from onefunnel.analytics.sql import count_if, percentile_sql, ratio_sql
from onefunnel.analytics.table import Table

# by → (SQL over handoff `h`, owner `u`, contact's account `ac`, first touch `ft`; needs ft)
_DIMENSIONS: dict[str, tuple[str, bool]] = {
    "rep": (f"COALESCE(u.username, '{UNASSIGNED}')", False),
    "channel": (f"COALESCE(ft.channel, '{NONE_LABEL}')", True),
    "campaign": (f"COALESCE(ft.campaign, '{NONE_LABEL}')", True),
    "trigger": ("h.trigger", False),
    "segment": (segment_sql("ac.employee_count"), False),
}
DIMENSIONS = tuple(_DIMENSIONS)
COLUMNS = (
    "handoffs",
    "accepted",
    "rejected",
    "expired",
    "pending",
    "acceptance_rate",
    "rejection_reasons",
    "won_of_accepted",
    "won_rate_of_accepted",
    "sla_met",
    "sla_missed",
    "sla_compliance",
    "median_response_hours",
    "recycled",
    "recycled_then_won",
    "median_hours_to_first_activity",
)
#: Touch kinds a logged sales activity is stored as (domain.activities.ActivityKind.touch_kind).
_ACTIVITY_KINDS = "'call', 'meeting', 'demo', 'sales_email'"


@dataclass(frozen=True, slots=True)
class ScorecardQuery:
    """Handoffs created in the period, per source (channel, campaign, trigger, segment) or rep.

    The intuition: the blame game ("marketing sends junk" / "sales never calls back") ends when
    both halves are measured on the same handoffs. Marketing's side is *quality* — of the
    handoffs sales decided, how many it accepted, why it rejected the rest, and how many
    accepted ones became won deals. Sales' side is *follow-up* — whether the first response
    came by the SLA due time, and how fast it came.

    * **acceptance_rate** = accepted / (accepted + rejected): pending and expired handoffs were
      not judged on quality, so they are not in the denominator;
    * **rejection_reasons**: ``reason=count`` pairs, most frequent first;
    * **won_rate_of_accepted** = accepted handoffs whose deal was won / accepted;
    * **sla_met**: answered at or before the due time; **sla_missed**: answered late, or not
      answered and already due before the period's end; **sla_compliance** = met / (met + missed)
      (handoffs not yet due are not counted either way);
    * **median_response_hours**: from creation to first response, answered handoffs only;
    * **recycled**: handoffs of a lead handed off before (``previous`` set: rejected or expired,
      recycled to marketing, and handed off again); **recycled_then_won**: of those, won;
    * **median_hours_to_first_activity**: from acceptance to the first sales activity (a call,
      meeting, demo or email logged on the contact — each is a one-to-one touch) at or after
      it; accepted handoffs with an activity only.
    """

    period: Period
    by: str | None = None
    segment: SegmentFilter | None = None

    def sql(self) -> str:
        """The report's one query, in portable SQL (see engines.py)."""
        by = choose(self.by, _DIMENSIONS, "scorecard")
        dim, needs_first_touch = _DIMENSIONS[by] if by else ("'all'", False)
        first_touch = f"{FIRST_TOUCH_CTE}," if needs_first_touch else ""
        first_touch_join = (
            "LEFT JOIN first_touch AS ft ON ft.contact_id = ct.id" if needs_first_touch else ""
        )
        answered_late = "h.first_response_at IS NOT NULL AND h.first_response_at > h.sla_due_at"
        unanswered_due = "h.first_response_at IS NULL AND h.sla_due_at < :period_end"
        in_segment = contacts_in(self.segment, "h.contact_id")
        return f"""
WITH {first_touch}
first_activity AS (
  SELECT fh.id AS handoff_id, MIN(tp.occurred_at) AS at
  FROM onefunnel_handoff AS fh
  JOIN onefunnel_touchpoint AS tp ON tp.contact_id = fh.contact_id
  WHERE fh.status = 'accepted' AND fh.decided_at IS NOT NULL
    AND fh.created_at >= :period_start AND fh.created_at < :period_end{contacts_in(self.segment, "fh.contact_id")}
    AND tp.kind IN ({_ACTIVITY_KINDS}) AND tp.occurred_at >= fh.decided_at
  GROUP BY fh.id
),
hs AS (
  SELECT {dim} AS dim, h.status, h.reason, h.previous_id,
         CASE WHEN d.status = 'won' THEN 1 ELSE 0 END AS won,
         CASE WHEN h.first_response_at IS NOT NULL AND h.first_response_at <= h.sla_due_at
              THEN 1 ELSE 0 END AS sla_met,
         CASE WHEN ({answered_late}) OR ({unanswered_due}) THEN 1 ELSE 0 END AS sla_missed,
         CAST(EPOCH_SECONDS(h.first_response_at) - EPOCH_SECONDS(h.created_at)
              AS DOUBLE PRECISION) / 3600 AS response_hours,
         CAST(EPOCH_SECONDS(fa.at) - EPOCH_SECONDS(h.decided_at)
              AS DOUBLE PRECISION) / 3600 AS activity_hours
  FROM onefunnel_handoff AS h
  LEFT JOIN first_activity AS fa ON fa.handoff_id = h.id
  LEFT JOIN onefunnel_deal AS d ON d.id = h.deal_id
  LEFT JOIN auth_user AS u ON u.id = h.owner_id
  LEFT JOIN onefunnel_contact AS ct ON ct.id = h.contact_id
  LEFT JOIN onefunnel_account AS ac ON ac.id = ct.account_id
  {first_touch_join}
  WHERE h.created_at >= :period_start AND h.created_at < :period_end{in_segment}
),
ranked AS (
  SELECT hs.dim, hs.status, hs.previous_id, hs.won, hs.sla_met, hs.sla_missed,
         hs.response_hours, hs.activity_hours,
         ROW_NUMBER() OVER (
           PARTITION BY hs.dim
           ORDER BY CASE WHEN hs.response_hours IS NULL THEN 1 ELSE 0 END, hs.response_hours
         ) AS rn,
         COUNT(hs.response_hours) OVER (PARTITION BY hs.dim) AS n_answered,
         ROW_NUMBER() OVER (
           PARTITION BY hs.dim
           ORDER BY CASE WHEN hs.activity_hours IS NULL THEN 1 ELSE 0 END, hs.activity_hours
         ) AS rn_activity,
         COUNT(hs.activity_hours) OVER (PARTITION BY hs.dim) AS n_activity
  FROM hs
),
reasons AS (
  SELECT hs.dim, hs.reason, COUNT(*) AS n
  FROM hs
  WHERE hs.status = 'rejected' AND hs.reason IS NOT NULL
  GROUP BY hs.dim, hs.reason
),
reason_lists AS (
  SELECT rs.dim,
         PATH_AGG(rs.reason || '=' || CAST(rs.n AS TEXT), ', ') OVER (
           PARTITION BY rs.dim ORDER BY rs.n DESC, rs.reason
           ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
         ) AS rejection_reasons,
         ROW_NUMBER() OVER (PARTITION BY rs.dim ORDER BY rs.n DESC, rs.reason) AS rn
  FROM reasons AS rs
),
totals AS (
  SELECT r.dim,
         COUNT(*) AS handoffs,
         {count_if("r.status = 'accepted'")} AS accepted,
         {count_if("r.status = 'rejected'")} AS rejected,
         {count_if("r.status = 'expired'")} AS expired,
         {count_if("r.status = 'pending'")} AS pending,
         {count_if("r.status = 'accepted' AND r.won = 1")} AS won_of_accepted,
         SUM(r.sla_met) AS sla_met,
         SUM(r.sla_missed) AS sla_missed,
         {percentile_sql(0.5, "r.response_hours", "r.rn", "r.n_answered")}
           AS median_response_hours,
         {count_if("r.previous_id IS NOT NULL")} AS recycled,
         {count_if("r.previous_id IS NOT NULL AND r.won = 1")} AS recycled_then_won,
         {percentile_sql(0.5, "r.activity_hours", "r.rn_activity", "r.n_activity")}
           AS median_hours_to_first_activity
  FROM ranked AS r
  GROUP BY r.dim
)
SELECT t.dim, t.handoffs, t.accepted, t.rejected, t.expired, t.pending,
       {ratio_sql("t.accepted", "t.accepted + t.rejected")} AS acceptance_rate,
       COALESCE(rl.rejection_reasons, '') AS rejection_reasons,
       t.won_of_accepted,
       {ratio_sql("t.won_of_accepted", "t.accepted")} AS won_rate_of_accepted,
       t.sla_met, t.sla_missed,
       {ratio_sql("t.sla_met", "t.sla_met + t.sla_missed")} AS sla_compliance,
       t.median_response_hours, t.recycled, t.recycled_then_won,
       t.median_hours_to_first_activity
FROM totals AS t
LEFT JOIN reason_lists AS rl ON rl.dim = t.dim AND rl.rn = 1
ORDER BY t.dim
"""

    def run(self, engine: Engine) -> Table:
        """Run on an engine; the first column is the group (named after ``by``) when grouped."""
        params = {**self.period.params(), **segment_params(self.segment)}
        result = engine.run(self.sql(), params)
        by = choose(self.by, _DIMENSIONS, "scorecard")
        if by:
            return Table((by, *COLUMNS), result.rows)
        return Table(COLUMNS, tuple(row[1:] for row in result.rows))
