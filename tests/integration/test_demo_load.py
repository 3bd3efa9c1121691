"""Loading the demo company into the database (SQLite, and PostgreSQL via DATABASE_URL)."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from onefunnel.domain.stages import Team
from onefunnel.models import (
    Account,
    Campaign,
    Contact,
    Deal,
    Handoff,
    Spend,
    StageChange,
    Touchpoint,
)
from onefunnel.services.demo import DemoSize, DemoSummary, generate_demo
from onefunnel.services.errors import InputError

pytestmark = pytest.mark.django_db(transaction=True)

#: The end of the demo's history (its nurture is dated before it).
from onefunnel.services.demo.company import ANCHOR as ANCHOR_END  # noqa: E402


def _counts() -> dict[str, int]:
    return {
        "accounts": Account.objects.count(),
        "contacts": Contact.objects.count(),
        "campaigns": Campaign.objects.count(),
        "spend_rows": Spend.objects.count(),
        "touchpoints": Touchpoint.objects.count(),
        "stage_changes": StageChange.objects.count(),
        "handoffs": Handoff.objects.count(),
        "deals": Deal.objects.count(),
    }


def _summary_counts(summary: DemoSummary) -> dict[str, int]:
    return {name: getattr(summary, name) for name in _counts()}


def test_small_demo_loads_consistently() -> None:
    phases: set[str] = set()
    summary = generate_demo(
        seed=3, size=DemoSize.SMALL, progress=lambda phase, done, total: phases.add(phase)
    )

    assert not summary.already_loaded
    assert _counts() == _summary_counts(summary)
    assert summary.contacts == 1_000
    assert summary.touchpoints > 25_000
    assert {"simulate", "touchpoints", "stage changes"} <= phases

    last: dict[tuple[str, int], str] = {}
    for contact, account, to_stage in StageChange.objects.order_by("id").values_list(
        "contact_id", "account_id", "to_stage"
    ):
        last[("contact", contact) if contact else ("account", account)] = to_stage
    for pk, stage in Contact.objects.values_list("pk", "stage"):
        assert last[("contact", pk)] == stage
    for pk, stage in Account.objects.values_list("pk", "stage"):
        assert last.get(("account", pk)) == stage

    assert Touchpoint.objects.values("message_id").distinct().count() == summary.touchpoints
    # Every touch is the demo's: simulated (demo-3-…), or written through the services by the
    # demo's forms (submission ids demo-3-…) and by the opens and clicks of its nurture emails.
    others = Touchpoint.objects.exclude(message_id__startswith="demo-3-")
    others = others.exclude(message_id__regex=r"^form:[0-9]+:demo-3-")
    others = others.exclude(message_id__startswith="email-open:")
    assert not others.exclude(message_id__startswith="email-click:").exists()
    assert Touchpoint.objects.filter(contact__isnull=True).count() == 0
    duplicated = Touchpoint.objects.values("message_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not duplicated.exists()
    # Every handoff is priced by the product's own method, as live ones are.
    from onefunnel.services.handoff_values import lead_cost

    assert set(Handoff.objects.values_list("cost_method", flat=True)) <= {"position", "even_split"}
    # (The simulated history's own handoffs, up to its end: today's live hand-raises were
    # priced by open_handoff itself, before the window held them.)
    from onefunnel.services.demo.company import ANCHOR

    simulated = Handoff.objects.filter(created_at__lte=ANCHOR)
    for h in simulated.order_by("-created_at")[:3]:
        priced = lead_cost(h.contact_id, h.created_at)
        assert (h.cost, h.cost_method) == (priced.amount, priced.method)
    # Customers move only by the product's rules: retain only through a won renewal deal,
    # churned through a lost renewal or a contract term ending unrenewed.
    retained = StageChange.objects.filter(to_stage="retain")
    assert retained.exists()
    assert set(retained.values_list("cause", flat=True)) == {"deal"}
    churned_by_rule = StageChange.objects.filter(to_stage="churned", cause="rule")
    assert all(
        c.startswith("contract:") for c in churned_by_rule.values_list("cause_id", flat=True)
    )
    # Contracts: one term per product at a time, each renewal starting the day after.
    from onefunnel.models import Contract

    assert summary.contracts == Contract.objects.count() > 0
    for c in Contract.objects.exclude(previous=None).select_related("previous"):
        assert c.start_date == c.previous.end_date + timedelta(days=1)
        assert c.previous.status == "renewed"
    terms: dict[tuple[int, str], list[tuple[date, date]]] = {}
    for account, product, start, end in Contract.objects.values_list(
        "account_id", "product", "start_date", "end_date"
    ):
        terms.setdefault((account, product), []).append((start, end))
    for spans in terms.values():
        spans.sort()
        assert all(a[1] < b[0] for a, b in pairwise(spans))

    _check_sales_records()
    _check_nurture()

    users = get_user_model().objects.filter(groups__name__in=[t.value for t in Team]).distinct()
    assert users.count() == summary.users
    assert not any(user.has_usable_password() for user in users)
    assert {g for u in users for g in u.groups.values_list("name", flat=True)} == {
        t.value for t in Team
    }


def _check_sales_records() -> None:
    """Activities, tasks, self-serve orders and handoff explanations, as the product writes."""
    from onefunnel.domain.activities import ActivityKind
    from onefunnel.models import Activity, Task
    from onefunnel.models.routing import HandoffRouting

    # Every sales touch a rep made is a logged activity, stored as the activity service does:
    # the touch holds who/when/whom, the activity its outcome, duration and notes.
    sales_touches = Touchpoint.objects.filter(
        team="sales", kind__in=[k.touch_kind.value for k in ActivityKind if k.touch_kind]
    )
    activities = Activity.objects.select_related("touchpoint")
    assert activities.count() == sales_touches.count() > 0
    assert not activities.filter(touchpoint=None).exists()
    assert not activities.filter(outcome=None).exists()
    for a in activities.order_by("pk")[:50]:
        assert ActivityKind(a.kind).touch_kind.value == a.touchpoint.kind  # type: ignore[union-attr]
        assert (a.contact_id, a.account_id, a.actor_id, a.occurred_at) == (None, None, None, None)
    assert activities.exclude(duration_minutes=None).exists()
    assert activities.exclude(notes="").exists()
    linked = activities.exclude(deal=None).select_related("deal")[:50]
    assert linked
    for a in linked:
        assert a.deal.account_id == a.touchpoint.account_id  # type: ignore[union-attr]
        assert a.deal.created_at <= a.touchpoint.occurred_at  # type: ignore[union-attr]
    # Tasks: an owner, a due day, some done and some open, on deals of their owner.
    tasks = Task.objects.select_related("deal")
    assert tasks.filter(done_at=None).exists()
    assert tasks.exclude(done_at=None).exists()
    assert all(t.owner_id == t.deal.owner_id for t in tasks if t.deal is not None)
    # Self-serve orders at a few accounts: won deals with the shop's order id.
    orders = Deal.objects.filter(source="self_serve")
    assert orders.exists()
    assert not orders.exclude(status="won").exists()
    assert not orders.filter(order_id=None).exists()
    assert 1 <= orders.values("account_id").distinct().count() <= 4
    for order in orders.select_related("account"):
        assert order.name == f"{order.account.name}: order {order.order_id}"
        assert order.created_at == order.closed_at
    # Every handoff carries its score explanation and a routing record, like a live one.
    handoffs = Handoff.objects.count()
    assert HandoffRouting.objects.count() == handoffs > 0
    assert not HandoffRouting.objects.filter(team="").exists()
    assert not HandoffRouting.objects.filter(rule="").exists()
    assert all(r.explanation for r in HandoffRouting.objects.all())
    for h in Handoff.objects.order_by("pk")[:20]:
        assert h.score_explanation, h.pk
        assert {"points", "reason"} <= set(h.score_explanation[0])

    # Today's demo requests wait in the reps' queues, opened by the product's own rules.
    from onefunnel.services.demo import TODAYS_HAND_RAISES

    pending = Handoff.objects.filter(status="pending")
    assert pending.count() == TODAYS_HAND_RAISES[DemoSize.SMALL]
    assert all(h.trigger == "hand_raise" and h.score_explanation for h in pending)
    assert pending.filter(owner__isnull=False).exists()


def _check_nurture() -> None:
    """Forms, segments and the nurture sequence with its history, and marketing's pages."""
    from django.test import Client

    from onefunnel.models import EmailSend, FormSubmission, Segment
    from onefunnel.services.marketing.sequence_numbers import sequence_numbers

    demo = FormSubmission.objects.filter(form__slug="request-a-demo")
    newsletter = FormSubmission.objects.filter(form__slug="monthly-newsletter")
    # Today's demo requests came in through the form, each with its consent.
    from onefunnel.services.demo import TODAYS_HAND_RAISES

    assert demo.count() == TODAYS_HAND_RAISES[DemoSize.SMALL]
    assert newsletter.count() > 0
    assert not FormSubmission.objects.filter(consent_given=False).exists()
    assert set(Segment.objects.values_list("name", flat=True)) == {
        "Visited pricing twice in 90 days", "Rejected not-now in 90 days",
        "Renewal within 60 days",
    }  # fmt: skip
    (nurture,) = sequence_numbers()
    assert nurture.entry_reasons == ("not_now", "no_budget")
    assert len(nurture.steps) == 3
    assert nurture.sources["on_rejection"] > 0  # sales' not-now and no-budget rejections
    assert nurture.sources["by_hand"] > 0
    assert sum(nurture.sources.values()) == nurture.enrolled
    emails = nurture.emails
    assert emails.sent > emails.opened > emails.clicked > 0
    assert emails.unsubscribed == 1
    assert emails.bounced == 1
    assert nurture.stopped_by.get("unsubscribed") == 1
    assert nurture.stopped_by.get("bounced") == 1
    assert EmailSend.objects.filter(sent_at__gte=ANCHOR_END).count() == 0  # dated in the past

    hannah = get_user_model().objects.filter(groups__name="marketing").order_by("pk")[0]
    client = Client()
    client.force_login(hannah)
    forms = client.get("/forms").content.decode()
    assert "Request a demo" in forms
    assert "Newsletter" in forms
    assert "No forms yet" not in forms
    page = client.get("/sequences").content.decode()
    assert "Nurture: not now / no budget" in page
    assert f'data-testid="sent">{emails.sent}<' in page
    assert "on rejection: not now, no budget" in page


def test_same_demo_twice_is_already_loaded_and_other_data_needs_reset() -> None:
    first = generate_demo(seed=5, size=DemoSize.SMALL)
    again = generate_demo(seed=5, size=DemoSize.SMALL)
    assert again.already_loaded
    assert _summary_counts(again) == _summary_counts(first)
    assert again.users == first.users

    before = _counts()
    with pytest.raises(InputError, match="reset"):
        generate_demo(seed=6, size=DemoSize.SMALL)
    assert _counts() == before

    replaced = generate_demo(seed=6, size=DemoSize.SMALL, reset=True)
    assert not replaced.already_loaded
    assert _counts() == _summary_counts(replaced)
    assert not Touchpoint.objects.filter(message_id__startswith="demo-5-").exists()
    # New rows continue after the reset: creating one through the ORM gets a fresh key.
    campaign = Campaign.objects.create(name="Later", utm_campaign="later", channel="email")
    assert campaign.pk > Campaign.objects.exclude(pk=campaign.pk).order_by("-pk")[0].pk


def test_contacts_that_are_not_a_demo_are_protected() -> None:
    Contact.objects.create(email="someone@example.com", created_at="2026-01-01T00:00:00Z")
    with pytest.raises(InputError, match="already has data"):
        generate_demo(seed=42, size=DemoSize.SMALL)
    assert Contact.objects.count() == 1


def test_demo_sales_reps_can_receive_handoffs() -> None:
    from onefunnel.models.routing import RepProfile

    generate_demo(seed=3, size=DemoSize.SMALL)
    sales = get_user_model().objects.filter(groups__name=Team.SALES.value)
    assert sales.exists()
    profiles = RepProfile.objects.filter(user__in=sales, team=Team.SALES.value, available=True)
    assert profiles.count() == sales.count()
    assert not RepProfile.objects.exclude(user__in=sales).exists()
