"""How touches move contacts, and how UTM values map to channels."""

from __future__ import annotations

import pytest

from onefunnel.domain.stages import Stage, Team
from onefunnel.domain.touches import (
    Channel,
    TouchKind,
    advance_for_touch,
    channel_for_utm,
    default_team,
    stage_implied_by,
)


@pytest.mark.parametrize(
    ("kind", "known", "stage"),
    [
        (TouchKind.PAGE_VIEW, False, Stage.AWARENESS),
        (TouchKind.PAGE_VIEW, True, Stage.AWARENESS),
        (TouchKind.CONTENT_DOWNLOAD, False, Stage.AWARENESS),
        (TouchKind.CONTENT_DOWNLOAD, True, Stage.CONSIDERATION),
        (TouchKind.EMAIL_CLICK, True, Stage.CONSIDERATION),
        (TouchKind.EMAIL_OPEN, True, Stage.AWARENESS),
        (TouchKind.WEBINAR, True, Stage.CONSIDERATION),
        (TouchKind.HAND_RAISE, False, Stage.INTENT),
        (TouchKind.HAND_RAISE, True, Stage.INTENT),
    ],
)
def test_stage_implied_by_a_touch(kind: TouchKind, known: bool, stage: Stage) -> None:
    assert stage_implied_by(kind, known=known) is stage


@pytest.mark.parametrize(
    ("current", "implied", "expected"),
    [
        (None, Stage.AWARENESS, Stage.AWARENESS),
        (None, Stage.INTENT, Stage.INTENT),
        (Stage.AWARENESS, Stage.CONSIDERATION, Stage.CONSIDERATION),
        (Stage.AWARENESS, Stage.AWARENESS, None),
        (Stage.CONSIDERATION, Stage.AWARENESS, None),
        (Stage.CONSIDERATION, Stage.INTENT, Stage.INTENT),
        (Stage.INTENT, Stage.CONSIDERATION, None),
        (Stage.NURTURE, Stage.CONSIDERATION, None),
        (Stage.NURTURE, Stage.INTENT, Stage.INTENT),
        (Stage.DISQUALIFIED, Stage.INTENT, None),
        (Stage.CONVERSION, Stage.INTENT, None),
        (Stage.CHURNED, Stage.INTENT, None),
        (Stage.AWARENESS, Stage.CONVERSION, None),
    ],
)
def test_advance_for_touch(current: Stage | None, implied: Stage, expected: Stage | None) -> None:
    assert advance_for_touch(current, implied) is expected


@pytest.mark.parametrize(
    ("source", "medium", "channel"),
    [
        ("google", "cpc", Channel.PAID_SEARCH),
        ("bing", "PPC", Channel.PAID_SEARCH),
        ("linkedin", "cpc", Channel.PAID_SOCIAL),
        ("facebook", "paid_social", Channel.PAID_SOCIAL),
        ("linkedin", "", Channel.SOCIAL),
        ("newsletter", "email", Channel.EMAIL),
        ("google", "organic", Channel.ORGANIC_SEARCH),
        ("partner.com", "referral", Channel.REFERRAL),
        ("", "", Channel.DIRECT),
        ("somewhere", "weird", Channel.OTHER),
    ],
)
def test_channel_for_utm(source: str, medium: str, channel: Channel) -> None:
    assert channel_for_utm(source, medium) is channel


def test_default_team() -> None:
    assert default_team(TouchKind.CALL) is Team.SALES
    assert default_team(TouchKind.PAGE_VIEW) is Team.MARKETING
