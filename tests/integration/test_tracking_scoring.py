"""Tracked touches update lead scores, so a tracked visitor can cross the MQL threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onefunnel.domain.stages import Cause, Stage
from onefunnel.domain.tracking import parse_batch
from onefunnel.models import Contact, Handoff, StageChange
from onefunnel.models.scoring import ContactScore
from onefunnel.services.tracking import ingest_batches

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _pricing_view(n: int, user: str) -> dict[str, Any]:
    at = (NOW - timedelta(minutes=60 - n)).isoformat()
    return {
        "type": "track",
        "messageId": f"pricing-{n}",
        "userId": user,
        "event": "Pricing Viewed",
        "timestamp": at,
    }


def test_tracked_high_intent_visits_cross_the_threshold_and_open_a_handoff() -> None:
    identify = {
        "type": "identify",
        "messageId": "id-1",
        "userId": "u-1",
        "traits": {"email": "lee@acme.example"},
        "timestamp": (NOW - timedelta(hours=2)).isoformat(),
    }
    first = parse_batch({"batch": [identify, _pricing_view(1, "u-1")]}, received_at=NOW).events
    ingest_batches([first], received_at=NOW)
    contact = Contact.objects.get(email="lee@acme.example")
    one_visit = ContactScore.objects.get(contact=contact).total
    assert one_visit > 0
    assert contact.stage != Stage.INTENT

    more = [_pricing_view(n, "u-1") for n in range(2, 10)]
    ingest_batches([parse_batch({"batch": more}, received_at=NOW).events], received_at=NOW)
    contact.refresh_from_db()
    assert contact.score is not None
    assert contact.score > float(one_visit)
    assert contact.stage == Stage.INTENT
    crossing = StageChange.objects.filter(contact=contact, to_stage=Stage.INTENT).get()
    assert crossing.cause == Cause.RULE
    assert Handoff.objects.filter(contact=contact).count() == 1
