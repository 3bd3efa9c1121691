"""``services.handoffs.readable`` (the queue's filter, one query) lists exactly the handoffs
``domain.access`` lets each actor read, for every role and every kind of handoff."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User

from onefunnel.domain.access import Action, may
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Contact, Handoff, HandoffRouting, RepProfile
from onefunnel.services.access import actor_for, handoff_work
from onefunnel.services.handoffs import readable, reassign_handoff
from onefunnel.services.routing_config import set_rep
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0

pytestmark = pytest.mark.django_db


def _user(name: str, group: str, team: str | None) -> User:
    user = User.objects.create_user(username=name)
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    if team is not None:
        RepProfile.objects.create(user=user, team=team, available=False)
    return user


def test_readable_agrees_with_the_rule_book(make_contact: Callable[..., Contact]) -> None:
    set_rep("ana", team="sales", create_user=True)
    set_rep("ben", team="emea", create_user=True)
    handoffs = []
    for n in range(6):
        contact = make_contact()
        record_touch(
            TouchInput(
                message_id=f"hr-{n}",
                kind=TouchKind.HAND_RAISE,
                occurred_at=T0 + timedelta(minutes=n),
                contact_id=contact.pk,
            )
        )
        handoffs.append(Handoff.objects.get(contact=contact))
    reassign_handoff(handoffs[0].pk, team="sales")  # waits in the sales queue
    reassign_handoff(handoffs[1].pk, team="emea")
    HandoffRouting.objects.filter(handoff=handoffs[1]).update(team="emea")
    users = [
        User.objects.get(username="ana"),
        User.objects.get(username="ben"),
        _user("tess", "team_lead", "sales"),
        _user("otto", "team_lead", "emea"),
        _user("cam", "sales", None),
        _user("mia", "marketing", None),
        _user("lee", "leadership", None),
        _user("amy", "account_management", "sales"),
        User.objects.create_user(username="nobody"),
    ]
    rows = Handoff.objects.select_related("routing")
    for user in users:
        actor = actor_for(user)
        expected = {h.pk for h in rows if may(actor, Action.READ, handoff_work(h))}
        got = set(readable(Handoff.objects.all(), actor).values_list("pk", flat=True))
        assert got == expected, user.username
