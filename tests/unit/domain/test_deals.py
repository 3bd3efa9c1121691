"""Closing deals, and where a closed deal moves its account and contacts."""

from __future__ import annotations

import pytest

from onefunnel.domain.deals import (
    DealError,
    DealKind,
    DealStatus,
    LostReason,
    check_close,
    stage_after_deal,
)
from onefunnel.domain.stages import Stage, StageReason, is_legal

NB, RN, UP, XS = DealKind.NEW_BUSINESS, DealKind.RENEWAL, DealKind.UPSELL, DealKind.CROSS_SELL


@pytest.mark.parametrize(
    ("kind", "won", "current", "expected"),
    [
        (NB, True, Stage.INTENT, (Stage.CONVERSION, None)),
        (NB, True, None, (Stage.CONVERSION, None)),
        (NB, True, Stage.NURTURE, (Stage.CONVERSION, None)),
        (NB, True, Stage.CHURNED, (Stage.CONVERSION, None)),
        (NB, True, Stage.RETAIN, None),
        (RN, True, Stage.CONVERSION, (Stage.RETAIN, None)),
        (RN, True, Stage.GROW, None),
        (UP, True, Stage.RETAIN, (Stage.GROW, None)),
        (XS, True, Stage.CONVERSION, (Stage.GROW, None)),
        (NB, False, Stage.INTENT, (Stage.NURTURE, StageReason.DEAL_LOST)),
        (NB, False, Stage.AWARENESS, None),
        (NB, False, Stage.CONVERSION, None),
        (RN, False, Stage.RETAIN, (Stage.CHURNED, None)),
        (RN, False, Stage.INTENT, None),
        (UP, False, Stage.GROW, None),
        (NB, True, Stage.DISQUALIFIED, None),
        (RN, False, Stage.DISQUALIFIED, None),
    ],
)
def test_stage_after_deal(
    kind: DealKind,
    won: bool,
    current: Stage | None,
    expected: tuple[Stage, StageReason | None] | None,
) -> None:
    outcome = stage_after_deal(kind, won=won, current=current)
    assert outcome == expected
    if outcome is not None:
        assert is_legal(current, outcome[0], reason=outcome[1])


def test_closing_rules() -> None:
    check_close(DealStatus.OPEN, won=True, lost_reason=None)
    check_close(DealStatus.OPEN, won=False, lost_reason=LostReason.PRICE)
    with pytest.raises(DealError, match="already won"):
        check_close(DealStatus.WON, won=False, lost_reason=LostReason.PRICE)
    with pytest.raises(DealError, match="lost_reason: a lost deal needs a reason"):
        check_close(DealStatus.OPEN, won=False, lost_reason=None)
    with pytest.raises(DealError, match="lost_reason"):
        check_close(DealStatus.OPEN, won=True, lost_reason=LostReason.PRICE)
