"""The records behind a report's count: which contacts, handoffs or deals a number counts.

Every count a page shows links here (``/records?report=…``): "64 to nurture from intent" lists
those 64 stage changes, "12 rejected" those 12 handoffs. Each list is one query that applies the
report's own definition — the same period bounds, the same first-touch source, the same
conditions — so its length is the count (tests/integration/test_records.py checks this for
every linked cell of every report). Only the reports' SQL macros and fixed fragments reach the
query text; the group, stage and reason are bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from onefunnel.analytics.dimensions import (
    FIRST_TOUCH_CTE,
    NONE_LABEL,
    UNASSIGNED,
    first_touch_cte,
    segment_sql,
    stage_rank_sql,
)
from onefunnel.analytics.engines import Engine
from onefunnel.analytics.period import Period
from onefunnel.analytics.segment_filter import (
    REFUSED,
    SegmentFilter,
    contacts_in,
    segment_params,
)
from onefunnel.analytics.table import Table
from onefunnel.services.errors import InputError

#: The columns of every record list: what the row is, and the ids of what it concerns.
COLUMNS = ("kind", "contact_id", "account_id", "handoff_id", "deal_id", "at", "detail")

_SOURCE = {
    "channel": f"COALESCE(ft.channel, '{NONE_LABEL}')",
    "campaign": f"COALESCE(ft.campaign, '{NONE_LABEL}')",
}
_SCORECARD_DIMS = {
    **_SOURCE,
    "rep": f"COALESCE(u.username, '{UNASSIGNED}')",
    "trigger": "h.trigger",
    "segment": segment_sql("ac.employee_count"),
}
_FUNNEL_DIMS = {
    **_SOURCE,
    "segment": segment_sql("ac.employee_count"),
    "owner": f"COALESCE(u.username, '{UNASSIGNED}')",
    "cohort": "MONTH_OF(s.first_at)",
}
#: report → measure → (what a row is, the condition). Conditions read the query's aliases.
MEASURES: dict[str, dict[str, str]] = {
    "spend": {
        "leads": "contact",
        "mqls": "contact",
        "accepted": "contact",
        "deals": "deal",
        "customers": "deal",
    },
    "scorecard": {
        "handoffs": "TRUE",
        "accepted": "h.status = 'accepted'",
        "rejected": "h.status = 'rejected'",
        "expired": "h.status = 'expired'",
        "pending": "h.status = 'pending'",
        "won_of_accepted": "h.status = 'accepted' AND d.status = 'won'",
        "recycled": "h.previous_id IS NOT NULL",
        "recycled_then_won": "h.previous_id IS NOT NULL AND d.status = 'won'",
    },
    "funnel": {
        "entries": "TRUE",
        "exits_forward": (
            f"{stage_rank_sql('s.next_stage')} > COALESCE({stage_rank_sql('s.stage')}, 0)"
        ),
        "to_nurture": "s.next_stage = 'nurture'",
        "to_disqualified": "s.next_stage = 'disqualified'",
        "to_churned": "s.next_stage = 'churned'",
        "still_in": "s.next_stage IS NULL",
    },
}
DIMENSIONS = {"spend": tuple(_SOURCE), "scorecard": tuple(_SCORECARD_DIMS),
              "funnel": tuple(_FUNNEL_DIMS)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RecordsQuery:
    """The records one count of a report counts.

    ``report``/``by``/``measure`` name the report, its grouping and the column; ``group`` the
    row's group value (with ``by``); ``stage`` the funnel row's stage; ``reason`` narrows
    rejected handoffs to one reason code; ``segment`` keeps the members of the segment the
    report was filtered by (the report's own filter, so the list is as long as the count).
    """

    report: str
    measure: str
    period: Period
    by: str | None = None
    group: str | None = None
    stage: str | None = None
    reason: str | None = None
    segment: SegmentFilter | None = None

    def __post_init__(self) -> None:
        measures = MEASURES.get(self.report)
        if measures is None:
            raise InputError(f"report: no records behind {self.report!r} (one of: "
                             f"{', '.join(MEASURES)})")  # fmt: skip
        if self.measure not in measures:
            raise InputError(f"measure: {self.report} lists {', '.join(measures)}; "
                             f"not {self.measure!r}")  # fmt: skip
        if self.by and self.by not in DIMENSIONS[self.report]:
            raise InputError(f"by: {self.report} records are grouped by "
                             f"{', '.join(DIMENSIONS[self.report])}; not {self.by!r}")  # fmt: skip
        if self.by and self.group is None:
            raise InputError("group: required with by")
        if self.report == "funnel" and not self.stage:
            raise InputError("stage: required for the funnel's records")
        if self.reason and self.measure != "rejected":
            raise InputError("reason: only rejected handoffs have a reason")
        if self.segment is not None and self.report in REFUSED:
            raise InputError(f"segment: {REFUSED[self.report]}")

    def _group_filter(self, dim: str) -> str:
        return f"AND {dim} = :grp" if self.by else ""

    def sql(self) -> str:
        """The list's one query, in portable SQL (see engines.py)."""
        if self.report == "spend":
            return self._spend_sql()
        if self.report == "scorecard":
            return self._scorecard_sql()
        return self._funnel_sql()

    def _spend_sql(self) -> str:
        dim = _SOURCE[self.by] if self.by else "'all'"
        within = ">= :period_start AND {0} < :period_end"
        match self.measure:
            case "leads":
                body = f"""
  SELECT 'contact' AS kind, ct.id AS contact_id, ct.account_id, CAST(NULL AS BIGINT) AS handoff_id,
         CAST(NULL AS BIGINT) AS deal_id, ct.created_at AS at, CAST(NULL AS TEXT) AS detail
  FROM onefunnel_contact AS ct
  WHERE ct.created_at {within.format("ct.created_at")}"""
            case "mqls" | "accepted":
                accepted = "AND h.status = 'accepted'" if self.measure == "accepted" else ""
                body = f"""
  SELECT 'contact' AS kind, h.contact_id, MIN(h.account_id) AS account_id,
         MIN(h.id) AS handoff_id, CAST(NULL AS BIGINT) AS deal_id, MIN(h.created_at) AS at,
         CAST(NULL AS TEXT) AS detail
  FROM onefunnel_handoff AS h
  WHERE h.created_at {within.format("h.created_at")} {accepted}
  GROUP BY h.contact_id"""
                return self._sourced(body, dim)
            case "deals":
                body = f"""
  SELECT 'deal' AS kind, d.contact_id, d.account_id, CAST(NULL AS BIGINT) AS handoff_id,
         d.id AS deal_id, d.created_at AS at, d.name AS detail
  FROM onefunnel_deal AS d
  WHERE d.kind = 'new_business' AND d.created_at {within.format("d.created_at")}"""
            case _:  # customers: each account's first won new-business deal, closed in the period
                return self._sourced(
                    f"""
  SELECT 'deal' AS kind, w.contact_id, w.account_id, CAST(NULL AS BIGINT) AS handoff_id,
         w.id AS deal_id, w.closed_at AS at, w.name AS detail
  FROM (
    SELECT d.id, d.account_id, d.contact_id, d.closed_at, d.name,
           ROW_NUMBER() OVER (PARTITION BY d.account_id ORDER BY d.closed_at, d.id) AS rn
    FROM onefunnel_deal AS d
    WHERE d.kind = 'new_business' AND d.status = 'won' AND d.closed_at IS NOT NULL
  ) AS w
  WHERE w.rn = 1 AND w.closed_at {within.format("w.closed_at")}""",
                    dim,
                )
        return self._sourced(body, dim)

    def _sourced(self, body: str, dim: str) -> str:
        """Rows of ``body`` whose contact's first-touch source is the group (the spend
        report's source: a row without a contact, or a contact without a touch, is (none))."""
        return f"""
WITH {FIRST_TOUCH_CTE},
rows_ AS ({body}
)
SELECT r.kind, r.contact_id, r.account_id, r.handoff_id, r.deal_id, r.at, r.detail
FROM rows_ AS r
LEFT JOIN first_touch AS ft ON ft.contact_id = r.contact_id
WHERE 1 = 1 {self._group_filter(dim)}
ORDER BY r.at, r.contact_id
"""

    def _scorecard_sql(self) -> str:
        dim = _SCORECARD_DIMS[self.by] if self.by else "'all'"
        # The first touches of the period's handoffs' contacts only (those the rows join).
        handed_off = (
            "SELECT h0.contact_id FROM onefunnel_handoff AS h0"
            " WHERE h0.created_at >= :period_start AND h0.created_at < :period_end"
        )
        first_touch = f"WITH {first_touch_cte(handed_off)}" if self.by in _SOURCE else ""
        join_ft = (
            "LEFT JOIN first_touch AS ft ON ft.contact_id = ct.id" if self.by in _SOURCE else ""
        )
        reason = "AND h.reason = :reason" if self.reason else ""
        return f"""
{first_touch}
SELECT 'handoff' AS kind, h.contact_id, h.account_id, h.id AS handoff_id, h.deal_id,
       h.created_at AS at, h.status AS detail
FROM onefunnel_handoff AS h
LEFT JOIN onefunnel_deal AS d ON d.id = h.deal_id
LEFT JOIN auth_user AS u ON u.id = h.owner_id
LEFT JOIN onefunnel_contact AS ct ON ct.id = h.contact_id
LEFT JOIN onefunnel_account AS ac ON ac.id = ct.account_id
{join_ft}
WHERE h.created_at >= :period_start AND h.created_at < :period_end
  AND ({MEASURES["scorecard"][self.measure]}) {reason} {self._group_filter(dim)}
  {contacts_in(self.segment, "h.contact_id")}
ORDER BY h.created_at, h.id
"""

    def _funnel_sql(self) -> str:
        dim = _FUNNEL_DIMS[self.by] if self.by else "'all'"
        # The first touches of the contacts that entered the stage in the period only.
        entered = (
            "SELECT sc0.contact_id FROM onefunnel_stagechange AS sc0 WHERE sc0.to_stage = :stage"
            " AND sc0.at >= :period_start AND sc0.at < :period_end"
        )
        first_touch = f"{first_touch_cte(entered)}," if self.by in _SOURCE else ""
        joins = "\n".join(
            [
                "LEFT JOIN first_touch AS ft ON ft.contact_id = s.contact_id"
                if self.by in _SOURCE
                else "",
                "LEFT JOIN onefunnel_contact AS ct ON ct.id = s.contact_id",
                "LEFT JOIN onefunnel_account AS ac ON ac.id = ct.account_id",
                "LEFT JOIN auth_user AS u ON u.id = ct.owner_id",
            ]
        )
        return f"""
WITH {first_touch}
spells AS (
  SELECT sc.contact_id, sc.id, sc.to_stage AS stage, sc.at AS entered_at,
         LEAD(sc.to_stage) OVER (PARTITION BY sc.contact_id ORDER BY sc.id) AS next_stage,
         LEAD(sc.at) OVER (PARTITION BY sc.contact_id ORDER BY sc.id) AS left_at,
         MIN(sc.at) OVER (PARTITION BY sc.contact_id) AS first_at
  FROM onefunnel_stagechange AS sc
  WHERE sc.contact_id IS NOT NULL{contacts_in(self.segment, "sc.contact_id")}
)
SELECT 'stage_change' AS kind, s.contact_id, ct.account_id, CAST(NULL AS BIGINT) AS handoff_id,
       CAST(NULL AS BIGINT) AS deal_id, s.entered_at AS at,
       COALESCE(s.next_stage, '') AS detail
FROM spells AS s
{joins}
WHERE s.entered_at >= :period_start AND s.entered_at < :period_end AND s.stage = :stage
  AND ({MEASURES["funnel"][self.measure]}) {self._group_filter(dim)}
ORDER BY s.entered_at, s.id
"""

    def run(self, engine: Engine) -> Table:
        """The records, oldest first (one row per counted record)."""
        params: dict[str, object] = {**self.period.params(), **segment_params(self.segment)}
        if self.by:
            params["grp"] = self.group or ""
        if self.stage:
            params["stage"] = self.stage
        if self.reason:
            params["reason"] = self.reason
        result = engine.run(self.sql(), params)  # type: ignore[arg-type]
        return Table.of(COLUMNS, result.rows)
