"""Who may do what through the API: the rule book of ``domain/access.py`` holds for handoffs
(a rep acts on their own; a team lead reassigns within the team; marketing never decides;
being staff grants nothing) and ``/api/status`` needs a sign-in or a key."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Contact, Handoff, RepProfile
from onefunnel.services.keys import create_key
from onefunnel.services.routing_config import set_rep
from onefunnel.services.touches import TouchInput, record_touch

pytestmark = pytest.mark.django_db


def _user(name: str, *groups: str, team: str | None = None, staff: bool = False) -> User:
    user = User.objects.create_user(username=name, password="pw-12345678", is_staff=staff)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    if team is not None:
        RepProfile.objects.create(user=user, team=team, available=False)
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def handoff(db: None, make_contact: Callable[..., Contact]) -> Handoff:
    """A pending handoff routed to ana (the only available rep, team sales)."""
    set_rep("ana", team="sales", create_user=True)
    contact = make_contact()
    record_touch(
        TouchInput(
            message_id=f"hr-{contact.pk}",
            kind=TouchKind.HAND_RAISE,
            occurred_at=timezone.now(),
            contact_id=contact.pk,
        )
    )
    h = Handoff.objects.get(contact=contact)
    assert h.owner is not None
    assert h.owner.username == "ana"
    return h


def _reject(client: Client, h: Handoff) -> int:
    body = {"reason": "not_now"}
    return client.post(
        f"/api/handoffs/{h.pk}/reject", body, content_type="application/json"
    ).status_code


def test_a_rep_neither_sees_nor_acts_on_another_reps_handoff(handoff: Handoff) -> None:
    ben = _client(_user("ben", "sales", team="sales", staff=True))  # staff grants nothing
    assert ben.get(f"/api/handoffs/{handoff.pk}").status_code == 403
    assert ben.get("/api/handoffs").json() == []
    assert ben.post(f"/api/handoffs/{handoff.pk}/accept").status_code == 403
    assert _reject(ben, handoff) == 403
    responded = ben.post(f"/api/handoffs/{handoff.pk}/respond")
    assert responded.status_code == 403
    assert responded.json()["errors"][0]["loc"] == ["owner"]
    # Reassigning it to oneself is a team lead's right, not a rep's.
    moved = ben.post(
        f"/api/handoffs/{handoff.pk}/reassign", {"owner": "ben"}, content_type="application/json"
    )
    assert moved.status_code == 403
    handoff.refresh_from_db()
    assert (handoff.status, handoff.owner_id, handoff.first_response_at) == (
        HandoffStatus.PENDING,
        User.objects.get(username="ana").pk,
        None,
    )


def test_marketing_reads_but_never_decides(handoff: Handoff) -> None:
    mia = _client(_user("mia", "marketing"))
    assert [h["id"] for h in mia.get("/api/handoffs").json()] == [handoff.pk]
    assert _reject(mia, handoff) == 403
    assert mia.post(f"/api/handoffs/{handoff.pk}/accept").status_code == 403
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.PENDING


def test_a_team_lead_reassigns_within_the_team_only(handoff: Handoff) -> None:
    _user("ben", "sales", team="sales")
    _user("eve", "sales", team="emea")
    lead = _client(_user("tess", "team_lead", team="sales"))
    outside = lead.post(
        f"/api/handoffs/{handoff.pk}/reassign", {"owner": "eve"}, content_type="application/json"
    )
    assert outside.status_code == 403
    inside = lead.post(
        f"/api/handoffs/{handoff.pk}/reassign", {"owner": "ben"}, content_type="application/json"
    )
    assert inside.status_code == 200
    assert inside.json()["owner"] == "ben"
    # A lead of another team may not touch it.
    other_lead = _client(_user("otto", "team_lead", team="emea"))
    assert other_lead.post(f"/api/handoffs/{handoff.pk}/accept").status_code == 403


def test_a_user_without_roles_writes_nothing_even_as_staff(handoff: Handoff) -> None:
    ex = _user("ex", staff=True)
    assert _reject(_client(ex), handoff) == 403
    ana = User.objects.get(username="ana")
    ana.groups.clear()  # removed from sales: her next request has no role
    assert _reject(_client(ana), handoff) == 403


def test_status_needs_a_sign_in_or_a_key(db: None) -> None:
    assert Client().get("/api/status").status_code == 401
    key = create_key("reports:read").secret
    keyed = Client().get("/api/status", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert keyed.status_code == 200
    tracking = create_key("tracking:write").secret
    assert Client().get("/api/status", HTTP_AUTHORIZATION=f"Bearer {tracking}").status_code == 401
    assert _client(_user("lee", "leadership")).get("/api/status").status_code == 200
