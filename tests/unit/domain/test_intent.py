"""The small rules that join scoring, routing and handoffs at the point of intent."""

from __future__ import annotations

import pytest

from onefunnel.domain.handoffs import HandoffTrigger
from onefunnel.domain.intent import (
    employee_band,
    handoff_trigger,
    is_first_response,
    stage_after_threshold,
)
from onefunnel.domain.stages import Cause, Stage
from onefunnel.domain.touches import TouchKind


@pytest.mark.parametrize(
    ("to_stage", "cause", "trigger"),
    [
        (Stage.INTENT, Cause.TOUCH, HandoffTrigger.HAND_RAISE),
        (Stage.INTENT, Cause.RULE, HandoffTrigger.MQL_THRESHOLD),
        (Stage.INTENT, Cause.USER, HandoffTrigger.MANUAL),
        (Stage.INTENT, Cause.HANDOFF, None),
        (Stage.INTENT, Cause.IMPORT, None),
        (Stage.CONSIDERATION, Cause.TOUCH, None),
        (Stage.CONVERSION, Cause.DEAL, None),
    ],
)
def test_which_moves_open_a_handoff(
    to_stage: Stage, cause: Cause, trigger: HandoffTrigger | None
) -> None:
    assert handoff_trigger(to_stage, cause) is trigger


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        (None, Stage.INTENT),
        (Stage.AWARENESS, Stage.INTENT),
        (Stage.CONSIDERATION, Stage.INTENT),
        (Stage.NURTURE, Stage.INTENT),
        (Stage.INTENT, None),
        (Stage.DISQUALIFIED, None),
        (Stage.CONVERSION, None),
        (Stage.CHURNED, None),
    ],
)
def test_threshold_crossing_moves_to_intent_only_before_it(
    current: Stage | None, expected: Stage | None
) -> None:
    assert stage_after_threshold(current) is expected


def test_first_response_is_a_one_to_one_touch_by_the_owner() -> None:
    assert is_first_response(TouchKind.CALL, actor_id=7, owner_id=7)
    assert not is_first_response(TouchKind.CALL, actor_id=8, owner_id=7)
    assert is_first_response(TouchKind.MEETING, actor_id=8, owner_id=None)
    assert not is_first_response(TouchKind.PAGE_VIEW, actor_id=7, owner_id=7)
    assert not is_first_response(TouchKind.CALL, actor_id=None, owner_id=7)


@pytest.mark.parametrize(
    ("employees", "band"),
    [
        (None, "unknown"),
        (5, "1-10"),
        (10, "1-10"),
        (11, "11-50"),
        (1000, "201-1000"),
        (9000, "5001+"),
    ],
)
def test_employee_band(employees: int | None, band: str) -> None:
    assert employee_band(employees) == band
