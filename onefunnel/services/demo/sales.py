"""The demo's sales records, written after the company like live ones are: each sales touch
logged as an activity (outcome, duration, notes), follow-up tasks on open deals, a few
self-serve orders, and every handoff's score explanation and routing record.

Run inside the loader's transaction, after the handoffs are priced. Rows are bulk-inserted in
the shape the services write (services/sales/activities.py, tasks.py, orders.py,
services/handoffs.py); the choices come from a generator seeded by the demo's seed, so the same
seed gives the same records.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from onefunnel.domain.activities import ActivityKind, ActivityOutcome
from onefunnel.domain.deals import DealKind, DealStatus
from onefunnel.domain.routing import RuleKind
from onefunnel.models import Activity, Deal, Handoff, Task, Touchpoint
from onefunnel.models.deals import DealSource
from onefunnel.models.routing import HandoffRouting
from onefunnel.services.demo.deal_history import write_deal_history
from onefunnel.services.scoring import score_snapshot

# A sales touch's kind → the activity a rep logged (the inverse of ActivityKind.touch_kind).
_ACTIVITY_OF_TOUCH = {kind.touch_kind.value: kind for kind in ActivityKind if kind.touch_kind}
_OUTCOMES = {
    ActivityKind.CALL: (ActivityOutcome.CONNECTED, ActivityOutcome.NO_ANSWER,
                        ActivityOutcome.LEFT_MESSAGE),
    ActivityKind.EMAIL: (ActivityOutcome.SENT, ActivityOutcome.REPLIED),
    ActivityKind.MEETING: (ActivityOutcome.HELD, ActivityOutcome.NO_SHOW,
                           ActivityOutcome.RESCHEDULED),
    ActivityKind.DEMO: (ActivityOutcome.HELD, ActivityOutcome.RESCHEDULED),
}  # fmt: skip
_MINUTES = {ActivityKind.CALL: 15, ActivityKind.EMAIL: 0, ActivityKind.MEETING: 45,
            ActivityKind.DEMO: 60}  # fmt: skip
_NOTES = ("went through pricing", "asked for a security review", "wants a trial for the team",
          "follow up next week", "champion is keen, budget owner not yet involved", "")  # fmt: skip
_TASKS = ("Send the proposal", "Book a demo with the team", "Follow up on pricing",
          "Check in with the champion")  # fmt: skip
# How many customers bought their upsells online (self-serve orders).
SELF_SERVE_ORDERS = 4


def write_sales_records(seed: int, now: datetime) -> None:
    """Activities, tasks, self-serve orders, the deals' history, and handoff explanations
    and routing (see above)."""
    rng = np.random.default_rng(seed + 1_212)
    _activities(rng)
    _tasks(rng, now)
    _orders(seed)
    # After the orders: they reshape their deals (opened and won at once).
    write_deal_history(now)
    _handoffs()


def _activities(rng: np.random.Generator) -> None:
    touches = list(
        Touchpoint.objects.filter(team="sales", kind__in=list(_ACTIVITY_OF_TOUCH))
        .order_by("pk")
        .values_list("pk", "kind", "received_at", "account_id", "occurred_at")
    )
    # The deal a touch was about: its account's latest deal open at the time, if any.
    deals: dict[int, list[tuple[datetime, datetime | None, int]]] = {}
    for pk, account, created, closed in Deal.objects.order_by("created_at", "pk").values_list(
        "pk", "account_id", "created_at", "closed_at"
    ):
        deals.setdefault(account, []).append((created, closed, pk))
    rows = []
    picks = rng.random((len(touches), 2))
    for (pk, kind, received, account, at), (a, b) in zip(touches, picks.tolist(), strict=True):
        about = [d for c, e, d in deals.get(account, ()) if c <= at and (e is None or at <= e)]
        activity = _ACTIVITY_OF_TOUCH[kind]
        outcomes = _OUTCOMES[activity]
        minutes = _MINUTES[activity]
        rows.append(
            Activity(
                kind=activity.value,
                touchpoint_id=pk,
                deal_id=about[-1] if about else None,
                outcome=outcomes[int(a * len(outcomes))].value,
                duration_minutes=int(minutes * (0.5 + b)) if minutes else None,
                notes=_NOTES[int(b * len(_NOTES))],
                recorded_at=received,
            )
        )
    Activity.objects.bulk_create(rows, batch_size=2_000)


def _tasks(rng: np.random.Generator, now: datetime) -> None:
    deals = list(
        Deal.objects.filter(owner__isnull=False)
        .exclude(status=DealStatus.LOST.value)
        .order_by("pk")
        .values_list("pk", "owner_id", "contact_id", "account_id", "created_at", "closed_at")
    )
    rows = []
    for pk, owner, contact, account, created, closed in deals:
        # A task per deal: done by the close (or in the past), open and due soon otherwise.
        done = closed or (now if rng.random() < 0.5 else None)
        due = (closed or now) + timedelta(days=int(rng.integers(-10, 14)))
        rows.append(
            Task(
                title=_TASKS[int(rng.integers(len(_TASKS)))],
                owner_id=owner,
                due=max(due, created).date(),
                done_at=done,
                contact_id=contact,
                account_id=account,
                deal_id=pk,
                created_at=created,
                created_by_id=owner,
            )
        )
    Task.objects.bulk_create(rows, batch_size=2_000)


def _orders(seed: int) -> None:
    # Upsells of a few customers were bought online: self-serve deals as orders.py records
    # them — named after the order, owned by the account's owner, opened and won at once.
    upsells = (
        Deal.objects.filter(kind=DealKind.UPSELL.value, status=DealStatus.WON.value)
        .order_by("account_id", "pk")
        .values_list("pk", "account_id", "account__name", "account__owner_id", "closed_at")
    )
    accounts: list[int] = []
    for pk, account, name, owner, closed in upsells:
        if account not in accounts:
            if len(accounts) == SELF_SERVE_ORDERS:
                break
            accounts.append(account)
        order_id = f"demo-{seed}-order-{pk}"
        Deal.objects.filter(pk=pk).update(
            source=DealSource.SELF_SERVE.value,
            order_id=order_id,
            name=f"{name}: order {order_id}",
            owner_id=owner,
            created_at=closed,
        )


def _handoffs() -> None:
    handoffs = Handoff.objects.select_related("contact", "owner", "contact__account").order_by("pk")
    routing = []
    for h in handoffs:
        _, lines = score_snapshot(h.contact, h.created_at)
        Handoff.objects.filter(pk=h.pk).update(score_explanation=lines)
        account = h.contact.account
        named = (
            account is not None and account.owner_id is not None and account.owner_id == h.owner_id
        )
        kind = RuleKind.NAMED_ACCOUNT if named else RuleKind.DEFAULT
        who = h.owner.username if h.owner is not None else "the sales queue"
        rule = "account owner" if named else "round robin"
        routing.append(
            HandoffRouting(
                handoff_id=h.pk,
                team="sales",
                rule=rule,
                rule_kind=kind.value,
                explanation=[
                    f"{rule}: {who}",
                    f"expected value {h.expected_value}",
                    f"cost {h.cost} ({h.cost_method})",
                ],
                reassignments=0,
                breached_at=h.sla_due_at if _breached(h) else None,
            )
        )
    HandoffRouting.objects.bulk_create(routing, batch_size=2_000)


def _breached(h: Handoff) -> bool:
    """Whether the handoff's first response came after its SLA (or never came)."""
    return h.first_response_at is None or h.first_response_at > h.sla_due_at
