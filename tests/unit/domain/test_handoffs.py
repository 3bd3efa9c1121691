"""Deciding a handoff: reasons, notes, and where rejected leads go."""

from __future__ import annotations

import pytest

from onefunnel.domain.handoffs import (
    REJECTION_REASONS,
    HandoffError,
    HandoffStatus,
    check_decision,
    parse_rejection_reason,
    stage_after_rejection,
)
from onefunnel.domain.stages import Stage, StageReason


def test_parse_rejection_reason() -> None:
    assert parse_rejection_reason("no_budget") is StageReason.NO_BUDGET
    with pytest.raises(HandoffError, match="reason: unknown rejection reason 'nope'"):
        parse_rejection_reason("nope")
    with pytest.raises(HandoffError, match="unknown rejection reason 'deal_lost'"):
        parse_rejection_reason("deal_lost")


@pytest.mark.parametrize("reason", REJECTION_REASONS)
def test_rejected_leads_go_back_to_marketing_unless_bad_data(reason: StageReason) -> None:
    expected = (
        Stage.DISQUALIFIED
        if reason in (StageReason.BAD_DATA, StageReason.DUPLICATE)
        else Stage.NURTURE
    )
    assert stage_after_rejection(reason) is expected


def test_decision_rules() -> None:
    check_decision(HandoffStatus.PENDING, reason=None, note="")
    check_decision(HandoffStatus.PENDING, reason=StageReason.BAD_FIT, note="")
    with pytest.raises(HandoffError, match="status: handoff is already accepted"):
        check_decision(HandoffStatus.ACCEPTED, reason=None, note="")
    with pytest.raises(HandoffError, match="note: a rejection for 'other' needs a note"):
        check_decision(HandoffStatus.PENDING, reason=StageReason.OTHER, note="  ")
    with pytest.raises(HandoffError, match="not a rejection reason"):
        check_decision(HandoffStatus.PENDING, reason=StageReason.WENT_COLD, note="")
