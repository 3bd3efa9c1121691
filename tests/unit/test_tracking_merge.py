"""Which stage a contact keeps when another is merged into it."""

from __future__ import annotations

import pytest

from onefunnel.domain.stages import Stage
from onefunnel.domain.tracking import stage_after_merge

AW, CO, IN = Stage.AWARENESS, Stage.CONSIDERATION, Stage.INTENT


@pytest.mark.parametrize(
    ("kept", "merged", "expected"),
    [
        (None, None, None),
        (None, AW, AW),
        (None, CO, CO),
        (AW, CO, CO),
        (CO, AW, None),  # never back
        (CO, CO, None),
        (IN, CO, None),
        (Stage.CONVERSION, CO, None),
        (Stage.NURTURE, CO, None),  # a nurtured contact re-enters only on a hand-raise
        (Stage.DISQUALIFIED, CO, None),
        (None, IN, None),  # intent belongs to a handoff of the merged record
        (AW, Stage.DISQUALIFIED, None),  # side states are decisions about the merged record
        (AW, Stage.CONVERSION, None),
    ],
)
def test_the_further_along_stage_wins_within_awareness_and_consideration(
    kept: Stage | None, merged: Stage | None, expected: Stage | None
) -> None:
    assert stage_after_merge(kept, merged) is expected
