"""A report narrowed to a segment: who counts when a report is filtered by a saved segment.

Reports read a segment's *stored current membership* — the ``onefunnel_segmentmember`` rows the
last refresh wrote (``services.marketing.segments.refresh_segment``), the very members the
segment's page and ``segments history`` show — rather than evaluating the spec inline: one
indexed lookup per report instead of the spec's touches and handoffs subqueries, and the numbers
do not move under the reader between two page loads. The price is freshness: a filtered report
says when the membership was last refreshed (``SegmentFilter.refreshed_at``), and a segment that
was never refreshed is refreshed before its first report (``services.marketing.segment_reports``).

Who counts, by the report's level:

* **contacts** (funnel, scorecard): a contact segment's members; for an account segment, the
  contacts of its member accounts;
* **accounts** (attribution's journeys, retention's contracts): an account segment's members;
  for a contact segment, the accounts of its member contacts.

The SQL below is fixed text; the segment's id is a bound parameter (``:segment_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

SEGMENT_PARAM = "segment_id"
#: Reports that count money per campaign and day, not people: a segment cannot narrow them.
REFUSED = {
    "spend": (
        "the spend report counts money, not contacts: spend is recorded per campaign and day,"
        " not per contact, so it cannot be narrowed to a segment's members (filter the funnel,"
        " scorecard, attribution or retention report instead)"
    ),
    "plan": (
        "the plan report compares the company's actuals, spend included, with the company's"
        " plan; a segment's part of them has no plan to be compared with"
    ),
}


@dataclass(frozen=True, slots=True)
class SegmentFilter:
    """The segment a report is narrowed to, as of its last refresh.

    Frozen and hashable: a cache keyed by the report's options is keyed by the membership's
    version too (``refreshed_at``), so a refresh never serves numbers of the old members.
    """

    segment_id: int
    name: str
    subject: str  # "contact" or "account" (domain.segments.Subject)
    refreshed_at: datetime
    members: int  # members (of the segment's subject) at that refresh

    def contact_ids_sql(self) -> str:
        """A SELECT of the ids of the contacts that count (one column)."""
        if self.subject == "account":
            return (
                "SELECT sgc.id FROM onefunnel_contact AS sgc"
                " JOIN onefunnel_segmentmember AS sgm ON sgm.member_id = sgc.account_id"
                f" WHERE sgm.segment_id = :{SEGMENT_PARAM}"
            )
        return (
            "SELECT sgm.member_id FROM onefunnel_segmentmember AS sgm"
            f" WHERE sgm.segment_id = :{SEGMENT_PARAM}"
        )

    def account_ids_sql(self) -> str:
        """A SELECT of the ids of the accounts that count (one column)."""
        if self.subject == "account":
            return (
                "SELECT sgm.member_id FROM onefunnel_segmentmember AS sgm"
                f" WHERE sgm.segment_id = :{SEGMENT_PARAM}"
            )
        return (
            "SELECT sgc.account_id FROM onefunnel_contact AS sgc"
            " JOIN onefunnel_segmentmember AS sgm ON sgm.member_id = sgc.id"
            f" WHERE sgm.segment_id = :{SEGMENT_PARAM} AND sgc.account_id IS NOT NULL"
        )

    def params(self) -> dict[str, int]:
        """The bound parameter the SQL reads."""
        return {SEGMENT_PARAM: self.segment_id}

    def describe(self) -> str:
        """One line for a page, a CLI title or an API answer."""
        noun = "account" if self.subject == "account" else "contact"
        plural = "" if self.members == 1 else "s"
        return (
            f"segment {self.name!r}: {self.members} {noun}{plural} as of its last refresh,"
            f" {self.refreshed_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        )

    def as_dict(self) -> dict[str, object]:
        """Plain values for JSON."""
        return {
            "id": self.segment_id,
            "name": self.name,
            "subject": self.subject,
            "members": self.members,
            "refreshed_at": self.refreshed_at,
        }


def contacts_in(segment: SegmentFilter | None, column: str) -> str:
    """``AND column IN (the segment's contacts)``, or nothing without a segment."""
    return f" AND {column} IN ({segment.contact_ids_sql()})" if segment else ""


def accounts_in(segment: SegmentFilter | None, column: str) -> str:
    """``AND column IN (the segment's accounts)``, or nothing without a segment."""
    return f" AND {column} IN ({segment.account_ids_sql()})" if segment else ""


def segment_params(segment: SegmentFilter | None) -> dict[str, int]:
    """The segment's bound parameter, or none."""
    return segment.params() if segment else {}
