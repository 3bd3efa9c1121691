"""The scorecard's follow-up figure after acceptance: hours from accepting a handoff to the first
sales activity on the contact, on every engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from onefunnel.analytics.reports import ScorecardQuery
from tests.analytics.conftest import ENGINES, Written, at, engine_for
from tests.analytics.test_reports import CAMPAIGNS, JOURNEYS, Q1, SPEND, check


@pytest.fixture(params=ENGINES)
def engine(
    request: pytest.FixtureRequest, journeys_for: Callable[..., Written], tmp_path: Path
) -> Any:
    from onefunnel.models import Handoff, Touchpoint

    written = journeys_for(JOURNEYS, campaigns=CAMPAIGNS, spend=SPEND)
    # rita accepted ann's handoff at 11:00 and bob's second at 10:00.
    Handoff.objects.filter(pk=written.handoffs["h-ann"]).update(decided_at=at("2026-01-05 11:00"))
    Handoff.objects.filter(pk=written.handoffs["h-bob-2"]).update(decided_at=at("2026-02-01 10:00"))

    def touch(name: str, kind: str, when: str) -> None:
        Touchpoint.objects.create(
            message_id=f"{name}-{kind}-{when}", contact_id=written.contacts[name], kind=kind,
            team="sales", channel="sales_outreach", occurred_at=at(when), received_at=at(when),
        )  # fmt: skip

    touch("ann", "call", "2026-01-05 10:30")  # before acceptance: not a follow-up
    touch("ann", "page_view", "2026-01-05 12:00")  # not a sales activity
    touch("ann", "meeting", "2026-01-05 14:00")  # 3 h after acceptance: the first
    touch("ann", "call", "2026-01-06 09:00")
    touch("bob", "sales_email", "2026-02-01 11:00")  # 1 h after acceptance
    return engine_for(request.param, request, tmp_path)


def test_median_hours_from_acceptance_to_the_first_activity(engine: Any) -> None:
    table = check(
        engine,
        ScorecardQuery(Q1, by="rep"),
        [
            ("rita", 2, 2, 0, 0, 0, 1.0, "", 2, 1.0, 2, 0, 1.0, 1.5, 1, 1, 2.0),  # (3 + 1) / 2
            ("sam", 2, 0, 1, 1, 0, 0.0, "not_now=1", 0, None, 0, 2, 0.0, 24.0, 0, 0, None),
        ],
    )
    assert table.columns[-1] == "median_hours_to_first_activity"
