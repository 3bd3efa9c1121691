"""Reports narrowed to a segment, on the demo: a filtered report's numbers are the unfiltered
report's numbers over a database holding only the members (the others deleted, then rolled
back), for contact and account segments; filtering never increases a count (property); a
segment of everyone changes nothing; the records behind a filtered count are as many as the
count; spend and plan refuse a segment, naming the field."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period, period_of
from onefunnel.analytics.records import MEASURES, RecordsQuery
from onefunnel.analytics.reports import ReportOptions, SegmentFilter, run_report
from onefunnel.analytics.table import Table
from onefunnel.domain.stages import ALL_STATES
from onefunnel.models import Account, Contact, Segment
from onefunnel.services.access import SYSTEM
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.segment_reports import (
    export_segment_contacts,
    segment_contact_ids,
    segment_filter,
)
from onefunnel.services.marketing.segments import create_segment

pytestmark = pytest.mark.django_db(transaction=True)

#: report → the groupings checked (None: ungrouped) and its per-person counts.
CONTACT_REPORTS: dict[str, tuple[tuple[str | None, ...], tuple[str, ...]]] = {
    "funnel": (
        (None, "channel", "cohort", "owner"),
        ("entries", "exits_forward", "to_nurture", "to_disqualified", "to_churned", "still_in"),
    ),
    "scorecard": (
        (None, "rep", "campaign", "segment"),
        ("handoffs", "accepted", "rejected", "expired", "pending", "won_of_accepted",
         "sla_met", "sla_missed", "recycled", "recycled_then_won"),
    ),
}  # fmt: skip
ACCOUNT_REPORTS: dict[str, tuple[tuple[str | None, ...], tuple[str, ...]]] = {
    "attribution": (("channel", "campaign"), ("conversions", "revenue")),
    "retention": (("month", "period"), ("customers_start", "churned_customers")),
}
ATTRIBUTION = ReportOptions(model="first,last,linear,position,markov")
_names = count(1)


def _period() -> Period:
    return period_of("2025-01-01", "2026-12-31", today=datetime.now(UTC).date())


def _run(report: str, by: str | None, segment: SegmentFilter | None = None) -> Table:
    options = ATTRIBUTION if report == "attribution" else ReportOptions()
    if segment is not None:
        options = ReportOptions(model=options.model, segment=segment)
    return run_report(report, DjangoEngine(), _period(), by=by, options=options)


def _same(a: Table, b: Table) -> None:
    """Equal tables (floats to 6 places: sums of the same terms, maybe in another order)."""
    assert a.columns == b.columns
    assert [_rounded(r) for r in a.rows] == [_rounded(r) for r in b.rows]


def _rounded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(round(v, 6) if isinstance(v, float) else v for v in row)


@pytest.fixture
def demo(db: None) -> None:
    generate_demo(seed=5, size=DemoSize.SMALL)


def _segment(spec: dict[str, Any]) -> SegmentFilter:
    name = f"seg-{next(_names)}"
    create_segment(SYSTEM, name, spec)
    found = segment_filter(name)
    assert found is not None
    return found


def _busiest_industry() -> str:
    industries = list(Account.objects.exclude(industry="").values_list("industry", flat=True))
    return max(sorted(set(industries)), key=industries.count)


def _keep_only(keep_contacts: set[int] | None, keep_accounts: set[int] | None) -> None:
    """Delete everyone else (inside the caller's transaction, which is rolled back)."""
    if keep_contacts is not None:
        Contact.objects.exclude(pk__in=keep_contacts).delete()
    if keep_accounts is not None:
        Account.objects.exclude(pk__in=keep_accounts).delete()


def _check_against_members_only(segment: SegmentFilter) -> int:
    contacts = set(
        Contact.objects.filter(pk__in=segment_contact_ids(segment)).values_list("pk", flat=True)
    )
    accounts = (
        set(Contact.objects.filter(pk__in=contacts).values_list("account_id", flat=True)) - {None}
        if segment.subject == "contact"
        else set(Account.objects.filter(segments_member_ids(segment)).values_list("pk", flat=True))
    )
    assert contacts, "the segment must not be empty for the check to mean anything"
    checked = 0
    for reports, keep in ((CONTACT_REPORTS, (contacts, None)), (ACCOUNT_REPORTS, (None, accounts))):
        filtered = {
            (report, by): _run(report, by, segment)
            for report, (dims, _counts) in reports.items()
            for by in dims
        }
        with transaction.atomic():
            _keep_only(*keep)
            for (report, by), table in filtered.items():
                _same(table, _run(report, by))
                checked += len(table)
            transaction.set_rollback(True)
    return checked


def segments_member_ids(segment: SegmentFilter) -> Any:
    from django.db.models import Q

    from onefunnel.models import SegmentMember

    return Q(pk__in=SegmentMember.objects.filter(segment_id=segment.segment_id).values("member_id"))


def test_a_filtered_report_counts_what_the_members_alone_would(demo: None) -> None:
    considering = _segment({"all": [{"type": "stage", "in": ["intent", "conversion", "retain",
                                                              "nurture", "grow"]}]})  # fmt: skip
    industry = _busiest_industry()
    accounts = _segment(
        {
            "subject": "account",
            "all": [{"type": "attribute", "name": "industry", "equals": industry}],
        }
    )
    assert 0 < considering.members < Contact.objects.count()
    assert 0 < accounts.members < Account.objects.count()
    checked = _check_against_members_only(considering) + _check_against_members_only(accounts)
    assert checked > 50


def test_filtering_never_adds_and_everyone_changes_nothing(demo: None) -> None:
    everyone = _segment({"all": []})
    every_account = _segment({"subject": "account", "all": []})
    for report, (dims, _counts) in CONTACT_REPORTS.items():
        for by in dims:
            _same(_run(report, by, everyone), _run(report, by))
    for report, (dims, _counts) in ACCOUNT_REPORTS.items():
        for by in dims:
            _same(_run(report, by, every_account), _run(report, by))
    unfiltered = {
        (report, by): _run(report, by)
        for reports in (CONTACT_REPORTS, ACCOUNT_REPORTS)
        for report, (dims, _c) in reports.items()
        for by in dims[:1]
    }

    @hsettings(max_examples=12, suppress_health_check=list(HealthCheck))
    @given(
        stages=st.sets(st.sampled_from([s.value for s in ALL_STATES]), min_size=1),
        subject=st.sampled_from(["contact", "account"]),
    )
    def never_more(stages: set[str], subject: str) -> None:
        segment = _segment({"subject": subject, "all": [{"type": "stage", "in": sorted(stages)}]})
        for (report, by), whole in unfiltered.items():
            counts = {**CONTACT_REPORTS, **ACCOUNT_REPORTS}[report][1]
            key_columns = [c for c in whole.columns if c not in counts and by is not None
                           and c in (by, "model", "stage", "currency", "label")]  # fmt: skip
            if by is None:
                key_columns = ["stage"] if report == "funnel" else []
            rows = {tuple(r[c] for c in key_columns): r for r in whole.to_records()}
            for row in _run(report, by, segment).to_records():
                if row.get("model") == "markov":
                    # Markov credit is a share of the removal effects, which a smaller set of
                    # journeys may split otherwise: each journey's own credit is additive only
                    # under the rule-based models.
                    continue
                key = tuple(row[c] for c in key_columns)
                assert key in rows, (report, by, key)
                for c in counts:
                    assert float(row[c] or 0) <= float(rows[key][c] or 0) + 1e-6, (report, c, row)

    never_more()


def test_the_records_behind_a_filtered_count_are_as_many(demo: None) -> None:
    segment = _segment({"all": [{"type": "stage", "in": ["nurture", "intent", "conversion"]}]})
    period = _period()
    engine = DjangoEngine()
    checked = 0
    for report, by in (("funnel", "channel"), ("scorecard", "rep"), ("scorecard", None)):
        table = _run(report, by, segment)
        for row in table.to_records():
            for measure in MEASURES[report]:
                records = RecordsQuery(
                    report, measure, period, by=by,
                    group=str(row[by]) if by else None,
                    stage=str(row["stage"]) if report == "funnel" else None,
                    segment=segment,
                ).run(engine)  # fmt: skip
                assert len(records) == row[measure], (report, by, row, measure)
                members = set(segment_contact_ids(segment).values_list("pk", flat=True))
                assert {r["contact_id"] for r in records.to_records()} <= members
                checked += 1
    assert checked > 20


def test_spend_and_plan_refuse_a_segment_and_unknown_segments_are_named(db: None) -> None:
    create_segment(SYSTEM, "anyone", {"all": []})
    segment = segment_filter("anyone")
    assert segment is not None
    assert segment.members == 0
    # Never refreshed before: resolving it refreshed it, and says when.
    assert Segment.objects.get(name="anyone").refreshed_at == segment.refreshed_at
    with pytest.raises(InputError, match=r"^segment: the spend report counts money, not contacts"):
        _run("spend", "campaign", segment)
    with pytest.raises(InputError, match=r"^segment: "):
        run_report("plan", DjangoEngine(), _period(),
                   options=ReportOptions(plan_rows=(("leads", "all", "2026-01", 1.0),),
                                         segment=segment))  # fmt: skip
    with pytest.raises(InputError, match=r"^segment: "):
        RecordsQuery("spend", "leads", _period(), by="channel", group="x", segment=segment)
    for bad in ("x" * 201, "nul\x00byte", "line\nbreak"):
        with pytest.raises(InputError, match=r"^segment: not a segment's id or name"):
            segment_filter(bad)
    for ref in ("no such segment", "999999", 424242, "9" * 30, "-1"):
        with pytest.raises(NotFoundError, match=r"^segment: "):
            segment_filter(ref)
    assert segment_filter("") is None
    assert segment_filter(None) is None
    # By id as well as by name, as `sequences enroll --segment` resolves it.
    by_id = segment_filter(str(segment.segment_id))
    assert by_id is not None
    assert by_id.name == "anyone"


def test_a_segments_contacts_export_as_the_reports_count_them(
    make_contact: Callable[..., Contact],
) -> None:
    big = Account.objects.create(name="Big", domain="big.example", industry="Software",
                                 created_at=datetime(2026, 1, 5, tzinfo=UTC))  # fmt: skip
    inside = [make_contact(f"p{i}@big.example", account=big, first_name=f"P{i}") for i in range(3)]
    inside.append(make_contact("formula@big.example", account=big, first_name="=HYPERLINK(1)"))
    make_contact("other@small.example")  # its own account, another industry
    create_segment(SYSTEM, "software", {"subject": "account", "all": [
        {"type": "attribute", "name": "industry", "equals": "software"}]})  # fmt: skip
    out = io.StringIO()
    done = export_segment_contacts("software", out)
    assert done.contacts == 4
    assert done.segment.subject == "account"
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [int(r["id"]) for r in rows] == sorted(c.pk for c in inside)
    assert {r["account"] for r in rows} == {"Big"}
    assert "'=HYPERLINK(1)" in {r["first_name"] for r in rows}
    with pytest.raises(NotFoundError, match=r"^segment: "):
        export_segment_contacts("nobody", io.StringIO())
