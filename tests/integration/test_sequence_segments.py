"""A segment's members enter a sequence: who is in the segment now (its one query) is who
enters; running it again enrolls only those who joined since; marketing only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.stages import Stage
from onefunnel.models import Campaign, Contact, Enrollment
from onefunnel.services.access import SYSTEM
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.segments import create_segment
from onefunnel.services.marketing.sequences import create_sequence, enroll_segment
from onefunnel.services.stages import change_stage
from tests.integration.sales_fixtures import user

pytestmark = pytest.mark.django_db

STEP = {"wait_days": 0, "subject": "Hi {{ contact.first_name }}", "html": "<p>Hi</p>", "text": "Hi"}


@pytest.fixture
def sequence_id(db: None) -> int:
    Campaign.objects.create(name="Nurture", utm_campaign="nurture-seg", channel="email")
    return create_sequence(
        actor=SYSTEM,
        name="Consideration nurture",
        campaign="nurture-seg",
        from_email="news@onefunnel.example",
        steps=[STEP],
    ).id


def _in(make_contact: Callable[..., Contact], email: str, stage: Stage) -> Contact:
    contact = make_contact(email, first_name=email.split("@")[0])
    change_stage(contact, stage)
    return contact


def test_the_members_of_a_segment_enter_and_a_rerun_enrolls_only_newcomers(
    make_contact: Callable[..., Contact], sequence_id: int
) -> None:
    spec = {"all": [{"type": "stage", "in": ["consideration"]}]}
    create_segment(SYSTEM, "considering", spec)
    first = [_in(make_contact, f"c{i}@acme.example", Stage.CONSIDERATION) for i in range(3)]
    _in(make_contact, "aware@acme.example", Stage.AWARENESS)  # not in the segment

    result = enroll_segment(sequence_id, "considering", actor=SYSTEM)
    assert sorted(result.enrolled) == sorted(c.pk for c in first)
    assert result.already == []

    newcomer = _in(make_contact, "late@acme.example", Stage.CONSIDERATION)
    again = enroll_segment(sequence_id, "considering", actor=SYSTEM)
    assert again.enrolled == [newcomer.pk]
    assert sorted(again.already) == sorted(c.pk for c in first)
    assert Enrollment.objects.filter(sequence_id=sequence_id).count() == 4


def test_only_marketing_enrolls_a_segment_and_unknowns_write_nothing(
    make_contact: Callable[..., Contact], sequence_id: int
) -> None:
    create_segment(SYSTEM, "everyone", {"all": [{"type": "stage", "in": ["consideration"]}]})
    _in(make_contact, "c@acme.example", Stage.CONSIDERATION)
    rep = user("rep.one", "sales")
    with pytest.raises(AccessDeniedError):
        enroll_segment(sequence_id, "everyone", actor=rep)
    with pytest.raises((InputError, NotFoundError)):
        enroll_segment(sequence_id, "no such segment", actor=SYSTEM)
    with pytest.raises((InputError, NotFoundError)):
        enroll_segment(sequence_id + 1000, "everyone", actor=SYSTEM)
    assert Enrollment.objects.count() == 0
