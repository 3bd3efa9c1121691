"""Expected-value statistics shared within a block (a tracking processor's turn)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onefunnel.domain.stages import Cause, Stage
from onefunnel.models import Contact, Handoff, StageChange
from onefunnel.services.handoff_values import historical_rate, shared_statistics
from tests.conftest import T0

pytestmark = pytest.mark.django_db

MakeContact = Callable[..., Contact]


def _handed_off(contact: Contact, score: float, minute: int, *, converted: bool) -> None:
    at = T0 + timedelta(minutes=minute)
    Handoff.objects.create(
        contact=contact, trigger="manual", score=score, created_at=at, sla_due_at=at
    )
    if converted:
        StageChange.objects.create(
            contact=contact, from_stage=Stage.INTENT, to_stage=Stage.CONVERSION, at=at,
            recorded_at=at, cause=Cause.DEAL,
        )  # fmt: skip


def _queries(call: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as seen:
        call()
    return len(seen.captured_queries)


def test_within_a_turn_each_bands_rate_is_read_once(make_contact: MakeContact) -> None:
    _handed_off(make_contact(), 45, 0, converted=True)
    _handed_off(make_contact(), 47, 1, converted=False)
    _handed_off(make_contact(), 81, 2, converted=True)
    at = T0 + timedelta(hours=1)
    alone = historical_rate(44, at)
    assert _queries(lambda: historical_rate(44, at)) > 0  # outside a turn: read every time
    with shared_statistics():
        assert historical_rate(44, at) == alone
        # the same band and day: the figure read first, without a query
        assert _queries(lambda: historical_rate(49, at + timedelta(minutes=5))) == 0
        assert historical_rate(49, at) == alone
        # another band, or another day, is read
        assert _queries(lambda: historical_rate(85, at)) > 0
        assert _queries(lambda: historical_rate(44, at + timedelta(days=1))) > 0
    assert _queries(lambda: historical_rate(44, at)) > 0  # the block's figures end with it
