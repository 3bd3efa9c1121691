"""A tracking turn scores its contacts together (one read, one batched write): the results are
exactly those of scoring each contact on its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from onefunnel.domain.tracking import parse_batch
from onefunnel.models import Contact, Handoff, StageChange, Touchpoint
from onefunnel.models.scoring import ContactScore
from onefunnel.services.scoring import score_on_touches, score_on_touches_many
from onefunnel.services.tracking import ingest_batches

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
Touches = list[tuple[int, str, datetime]]


class _UndoError(Exception):
    pass


def _setup() -> dict[int, Touches]:
    """Three identified contacts with scored touches; one loses its stored state (scored again
    from its history); each gets new, unscored touches — enough for one to cross the
    threshold."""
    messages: list[dict[str, Any]] = []
    for n, user in enumerate(("u-a", "u-b", "u-c")):
        at = NOW - timedelta(days=3, hours=n)
        messages.append(
            {
                "type": "identify",
                "messageId": f"id-{user}",
                "userId": user,
                "traits": {"email": f"{user}@acme.example"},
                "timestamp": at.isoformat(),
            }
        )
        messages.append(
            {
                "type": "track",
                "messageId": f"first-{user}",
                "userId": user,
                "event": "Pricing Viewed",
                "timestamp": (at + timedelta(minutes=5)).isoformat(),
            }
        )
    ingest_batches([parse_batch({"batch": messages}, received_at=NOW).events], received_at=NOW)
    contacts = {c.email: c.pk for c in Contact.objects.all()}
    ContactScore.objects.filter(contact_id=contacts["u-b@acme.example"]).delete()
    new: dict[int, Touches] = {}
    counts = {"u-a": 2, "u-b": 1, "u-c": 9}
    for user, count in counts.items():
        pk = contacts[f"{user}@acme.example"]
        template = Touchpoint.objects.filter(message_id=f"first-{user}").first()
        assert template is not None
        for i in range(count):
            template.pk = None
            template.message_id = f"new-{user}-{i}"
            template.occurred_at = NOW - timedelta(hours=10 - i)
            template.save()
            new.setdefault(pk, []).append((template.pk, template.kind, template.occurred_at))
    return new


def _snapshot() -> tuple[Any, ...]:
    return (
        sorted(
            ContactScore.objects.values_list(
                "contact_id", "fit", "engagement_value", "as_of", "total", "model_version"
            )
        ),
        sorted(Contact.objects.values_list("id", "stage", "score")),
        list(
            StageChange.objects.order_by("contact_id", "at", "to_stage").values_list(
                "contact_id", "from_stage", "to_stage", "at", "cause"
            )
        ),
        sorted(Handoff.objects.values_list("contact_id", flat=True)),
    )


def _outcome(score: Callable[[list[tuple[Contact, Touches]]], list[Any]]) -> Any:
    new = _setup_once()
    people = list(Contact.objects.select_related("account").filter(pk__in=new).order_by("id"))
    seen: Any = None
    try:
        with transaction.atomic():
            updates = score([(c, new[c.pk]) for c in people])
            plain = [
                (u.contact_id, u.before, u.after, u.crossed, getattr(u.stage_move, "to_stage", 0))
                for u in updates
            ]
            seen = (plain, _snapshot())
            raise _UndoError
    except _UndoError:
        pass
    return seen


_prepared: dict[str, dict[int, Touches]] = {}


def _setup_once() -> dict[int, Touches]:
    if "new" not in _prepared:
        _prepared["new"] = _setup()
    return _prepared["new"]


def test_scoring_a_turn_together_equals_scoring_each_contact_alone() -> None:
    _prepared.clear()
    together = _outcome(score_on_touches_many)
    alone = _outcome(lambda pairs: [score_on_touches(c, t) for c, t in pairs])
    assert together == alone
    plain, (states, _contacts, _changes, handoffs) = together
    assert len(plain) == 3
    assert len(states) == 3
    assert [crossed for *_, crossed, _move in plain].count(True) >= 1
    assert handoffs
