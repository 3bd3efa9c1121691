"""Segments on the database: each kind of condition selects the right contacts in one query,
bad specs are refused whole, refreshes record who entered and left (append-only), and who may
edit them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from onefunnel.domain.access import AccessDeniedError, Actor, Role
from onefunnel.domain.segments import MembershipKind, replay_membership
from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import Channel, TouchKind
from onefunnel.models import (
    Account,
    AppendOnlyError,
    Contact,
    Handoff,
    Segment,
    SegmentChange,
    SegmentMember,
)
from onefunnel.services.access import SYSTEM, actor_for
from onefunnel.services.accounts.contracts import add_contract
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.handoffs import reject_handoff
from onefunnel.services.marketing import segments as seg
from onefunnel.services.routing_config import set_rep
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0

pytestmark = pytest.mark.django_db
MakeContact = Callable[..., Contact]
NOW = T0 + timedelta(days=100)


def role(name: str, r: Role) -> Actor:
    user = User.objects.create(username=name)
    user.groups.add(Group.objects.get_or_create(name=r.value)[0])
    return actor_for(user)


def touch(contact: Contact, n: int, kind: TouchKind, at: Any, **props: Any) -> None:
    record_touch(
        TouchInput(
            message_id=f"seg-{contact.pk}-{n}",
            kind=kind,
            occurred_at=at,
            contact_id=contact.pk,
            channel=props.pop("channel", None),
            properties=props,
        )
    )


def ids(segment_ref: str) -> set[int]:
    return set(
        seg.members(Segment.objects.get(name=segment_ref), now=NOW).values_list("pk", flat=True)
    )


def test_stage_score_and_attribute_conditions(make_contact: MakeContact) -> None:
    a = make_contact(stage="consideration", score=55.0, title="Chief Technology Officer")
    b = make_contact(stage="intent", score=20.0, title="CTO")
    c = make_contact(stage="awareness", score=70.0, title="cto", properties={"plan": "Pro"})
    Account.objects.filter(pk=a.account_id).update(industry="Software")
    seg.create_segment(
        SYSTEM,
        "warm",
        {
            "all": [
                {"type": "stage", "in": ["consideration", "intent"]},
                {"type": "score", "min": 40},
            ]
        },
    )
    seg.create_segment(
        SYSTEM, "ctos", {"all": [{"type": "attribute", "name": "title", "equals": "cto"}]}
    )
    seg.create_segment(
        SYSTEM,
        "software",
        {"all": [{"type": "attribute", "name": "account.industry", "contains": "soft"}]},
    )
    seg.create_segment(
        SYSTEM, "pro", {"all": [{"type": "attribute", "name": "properties.plan", "equals": "pro"}]}
    )
    seg.create_segment(SYSTEM, "everyone", {"all": []})
    assert ids("warm") == {a.pk}
    assert ids("ctos") == {b.pk, c.pk}
    assert ids("software") == {a.pk}
    assert ids("pro") == {c.pk}
    assert ids("everyone") == {a.pk, b.pk, c.pk}


def test_visited_pricing_twice_in_14_days(make_contact: MakeContact) -> None:
    twice, once, old, other = (make_contact() for _ in range(4))
    pricing = {"page": {"url": "https://x.example/pricing?a=1", "path": "/pricing"}}
    for n, days in enumerate((2, 10)):
        touch(twice, n, TouchKind.PAGE_VIEW, NOW - timedelta(days=days), **pricing)
    touch(once, 0, TouchKind.PAGE_VIEW, NOW - timedelta(days=3), **pricing)
    touch(old, 0, TouchKind.PAGE_VIEW, NOW - timedelta(days=20), **pricing)
    touch(old, 1, TouchKind.PAGE_VIEW, NOW - timedelta(days=1), **pricing)
    touch(other, 0, TouchKind.PAGE_VIEW, NOW - timedelta(days=1), page={"path": "/blog"})
    touch(other, 1, TouchKind.PAGE_VIEW, NOW - timedelta(days=2), page={"path": "/blog"})
    seg.create_segment(
        SYSTEM,
        "pricing twice",
        {
            "all": [
                {"type": "touches", "url_contains": "/pricing", "at_least": 2, "within_days": 14}
            ]
        },
    )
    seg.create_segment(
        SYSTEM,
        "any pricing",
        {"all": [{"type": "touches", "url_contains": "PRICING", "within_days": 14}]},
    )
    seg.create_segment(
        SYSTEM, "webinar", {"all": [{"type": "touches", "kind": "webinar", "within_days": 14}]}
    )
    assert ids("pricing twice") == {twice.pk}
    assert ids("any pricing") == {twice.pk, once.pk, old.pk}
    assert ids("webinar") == set()
    # With another condition, the touches run as a probe per contact: the same members.
    every_stage = [s.value for s in Stage]
    seg.create_segment(SYSTEM, "any pricing, any stage", {"all": [
        {"type": "stage", "in": every_stage},
        {"type": "touches", "url_contains": "PRICING", "within_days": 14}]})  # fmt: skip
    assert ids("any pricing, any stage") == ids("any pricing")


def test_events_and_channels(make_contact: MakeContact) -> None:
    a, b = make_contact(), make_contact()
    touch(a, 0, TouchKind.CUSTOM, NOW - timedelta(days=1), event="Trial Started",
          channel=Channel.EMAIL)  # fmt: skip
    touch(b, 0, TouchKind.CUSTOM, NOW - timedelta(days=1), event="Trial Started")
    seg.create_segment(
        SYSTEM,
        "trials by email",
        {
            "all": [
                {"type": "touches", "event": "trial started", "channel": "email", "within_days": 7}
            ]
        },
    )
    assert ids("trials by email") == {a.pk}


def test_rejected_not_now_in_90_days_and_renewal_within_60(make_contact: MakeContact) -> None:
    set_rep("ana", team="sales", create_user=True)
    rejected, accepted_lead, customer = make_contact(), make_contact(), make_contact()
    for n, c in enumerate((rejected, accepted_lead)):
        touch(c, 0, TouchKind.HAND_RAISE, NOW - timedelta(days=30 + n))
    handoff = Handoff.objects.get(contact=rejected)
    reject_handoff(handoff.pk, reason="not_now", actor_id=handoff.owner_id,
                   now=NOW - timedelta(days=29))  # fmt: skip
    add_contract(SYSTEM, account_id=customer.account_id, product="Core", amount="1000",
                 start=date(2026, 1, 1), end=NOW.date() + timedelta(days=30))  # fmt: skip
    seg.create_segment(
        SYSTEM,
        "not now",
        {
            "all": [
                {"type": "handoff", "status": "rejected", "reason": "not_now", "within_days": 90}
            ]
        },
    )
    seg.create_segment(
        SYSTEM,
        "not now lately",
        {"all": [{"type": "handoff", "status": "rejected", "reason": "not_now", "within_days": 7}]},
    )
    seg.create_segment(
        SYSTEM, "renewing", {"all": [{"type": "contract", "renewal_within_days": 60}]}
    )
    seg.create_segment(
        SYSTEM,
        "renewing accounts",
        {
            "subject": "account",
            "all": [{"type": "contract", "renewal_within_days": 60, "product": "core"}],
        },
    )
    assert ids("not now") == {rejected.pk}
    assert ids("not now lately") == set()
    assert ids("renewing") == {customer.pk}
    accounts = Segment.objects.get(name="renewing accounts")
    assert set(seg.subjects(accounts, now=NOW).values_list("pk", flat=True)) == {
        customer.account_id
    }
    assert ids("renewing accounts") == {customer.pk}  # members: the accounts' contacts


def test_a_segment_is_one_query(make_contact: MakeContact) -> None:
    for _ in range(5):
        make_contact(stage="consideration")
    seg.create_segment(SYSTEM, "all kinds", {"all": [
        {"type": "stage", "in": ["consideration"]}, {"type": "score", "max": 90},
        {"type": "touches", "url_contains": "/pricing", "at_least": 2, "within_days": 14},
        {"type": "handoff", "status": "rejected", "within_days": 90},
        {"type": "contract", "renewal_within_days": 60}]})  # fmt: skip
    segment = Segment.objects.get(name="all kinds")
    with CaptureQueriesContext(connection) as queries:
        seg.members(segment, now=NOW).count()
    assert len(queries) == 1


def test_bad_specs_are_refused_whole_with_field_names() -> None:
    bad = {"subject": "lead", "all": [
        {"type": "stage", "in": ["warm"]},
        {"type": "touches", "within_days": 0, "kind": "telepathy"},
        {"type": "score", "min": 50, "max": 10},
        {"type": "attribute", "name": "password", "equals": "x"},
        {"type": "nope"}]}  # fmt: skip
    with pytest.raises(seg.SpecInputError) as caught:
        seg.create_segment(SYSTEM, "bad", bad)
    locs = [loc for loc, _ in caught.value.errors]
    assert locs == ["spec.subject", "spec.all[0].in[0]", "spec.all[1].within_days",
                    "spec.all[1].kind", "spec.all[2].max", "spec.all[3].name",
                    "spec.all[4].type"]  # fmt: skip
    assert not Segment.objects.exists()
    with pytest.raises(InputError, match="name: a segment needs a name"):
        seg.create_segment(SYSTEM, "  ", {"all": []})
    seg.create_segment(SYSTEM, "ok", {"all": []})
    with pytest.raises(InputError, match="exists already"):
        seg.create_segment(SYSTEM, "ok", {"all": []})
    with pytest.raises(InputError, match=r"spec\.subject"):
        seg.update_segment(SYSTEM, "ok", spec={"subject": "account", "all": []})
    with pytest.raises(NotFoundError):
        seg.count_segment("missing")
    assert Segment.objects.count() == 1


def test_marketing_edits_everyone_reads(make_contact: MakeContact) -> None:
    marketer, rep = role("mia", Role.MARKETING), role("rex", Role.SALES_REP)
    view = seg.create_segment(marketer, "m", {"all": []})
    assert view.created_by == "mia"
    with pytest.raises(AccessDeniedError):
        seg.create_segment(rep, "r", {"all": []})
    with pytest.raises(AccessDeniedError):
        seg.update_segment(rep, "m", name="x")
    with pytest.raises(AccessDeniedError):
        seg.delete_segment(rep, "m")
    make_contact()
    assert seg.count_segment("m").size == 1
    seg.delete_segment(marketer, "m")
    assert not Segment.objects.exists()


def test_refresh_records_entered_and_left_and_the_size_over_time(
    make_contact: MakeContact,
) -> None:
    a, b = make_contact(stage="consideration"), make_contact(stage="awareness")
    seg.create_segment(SYSTEM, "considering", {"all": [{"type": "stage", "in": ["consideration"]}]})
    first = seg.refresh_segment("considering", now=NOW)
    assert (first.size, first.entered, first.left) == (1, 1, 0)
    Contact.objects.filter(pk=b.pk).update(stage="consideration")
    Contact.objects.filter(pk=a.pk).update(stage="intent")
    second = seg.refresh_segment("considering", now=NOW + timedelta(days=1))
    assert (second.size, second.entered, second.left) == (1, 1, 1)
    third = seg.refresh_segment("considering", now=NOW + timedelta(days=2))
    assert (third.size, third.entered, third.left) == (1, 0, 0)
    history = seg.segment_history("considering")
    assert [(p.size, p.entered, p.left) for p in history] == [(1, 1, 0), (1, 1, 1), (1, 0, 0)]
    assert [k for _, k in seg.member_changes("considering", a.pk)] == [
        MembershipKind.ENTERED,
        MembershipKind.LEFT,
    ]
    row = SegmentChange.objects.first()
    assert row is not None
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    assert seg.get_segment("considering").size_at_refresh == 1


@hsettings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sets(st.integers(0, 5)), min_size=1, max_size=6))
def test_history_is_never_rewritten_and_alternates(
    make_contact: MakeContact, rounds: list[set[int]]
) -> None:
    Segment.objects.all().delete()
    contacts = list(Contact.objects.order_by("pk")[:6])
    while len(contacts) < 6:
        contacts.append(make_contact())
    seg.create_segment(SYSTEM, "prop", {"all": [{"type": "stage", "in": ["consideration"]}]})
    before: list[tuple[int, int, str]] = []
    for i, chosen in enumerate(rounds):
        Contact.objects.update(stage="awareness")
        Contact.objects.filter(pk__in=[contacts[j].pk for j in chosen]).update(
            stage="consideration"
        )
        seg.refresh_segment("prop", now=NOW + timedelta(hours=i))
        rows = list(
            SegmentChange.objects.filter(segment__name="prop")
            .order_by("pk")
            .values_list("pk", "member_id", "kind")
        )
        assert rows[: len(before)] == before  # earlier history unchanged
        before = rows
        replayed = replay_membership([(m, MembershipKind(k)) for _, m, k in rows])
        assert replayed == {contacts[j].pk for j in chosen}
        stored = set(SegmentMember.objects.filter(segment__name="prop").values_list(
            "member_id", flat=True))  # fmt: skip
        assert stored == replayed
    assert [p.size for p in seg.segment_history("prop")] == [len(r) for r in rounds]


def test_member_pages(make_contact: MakeContact) -> None:
    made = [make_contact(stage="consideration") for _ in range(5)]
    seg.create_segment(SYSTEM, "c", {"all": [{"type": "stage", "in": ["consideration"]}]})
    page = seg.member_page("c", offset=2, limit=2)
    assert page.total == 5
    assert [m.id for m in page.members] == [made[2].pk, made[3].pk]
    with pytest.raises(InputError, match="limit"):
        seg.member_page("c", limit=0)


def test_the_worker_refreshes_only_segments_that_are_due(make_contact: MakeContact) -> None:
    make_contact(stage="consideration")
    seg.create_segment(SYSTEM, "a", {"all": []})
    seg.create_segment(SYSTEM, "b", {"all": [{"type": "stage", "in": ["intent"]}]})
    assert [r.name for r in seg.refresh_due(now=NOW)] == ["a", "b"]  # never refreshed: due
    assert seg.refresh_due(now=NOW + timedelta(minutes=59)) == []
    later = seg.refresh_due(now=NOW + timedelta(minutes=60))
    assert [(r.name, r.size) for r in later] == [("a", 1), ("b", 0)]
    assert [p.size for p in seg.segment_history("a")] == [1, 1]


def test_a_rep_may_not_refresh(make_contact: MakeContact) -> None:
    seg.create_segment(SYSTEM, "a", {"all": []})
    with pytest.raises(AccessDeniedError):
        seg.refresh_segment("a", actor=role("rex", Role.SALES_REP))
    assert seg.segment_history("a") == []
