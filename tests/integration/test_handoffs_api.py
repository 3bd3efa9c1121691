"""The handoff and scoring API over HTTP (Django test client, session auth)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from onefunnel.domain.touches import TouchKind
from onefunnel.models import Contact, Handoff, RoutingConfig, ScoringConfig
from onefunnel.services.routing_config import set_rep
from onefunnel.services.touches import TouchInput, record_touch
from tests.conftest import T0

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep_client(db: None) -> tuple[Client, User]:
    set_rep("ana", team="sales", create_user=True)
    user = User.objects.get(username="ana")
    client = Client()
    client.force_login(user)
    return client, user


def _hand_raise(contact: Contact) -> Handoff:
    record_touch(
        TouchInput(
            message_id=f"hr-{contact.pk}",
            kind=TouchKind.HAND_RAISE,
            # The API runs on the real clock; a handoff opened now is never overdue yet.
            occurred_at=timezone.now(),
            contact_id=contact.pk,
        )
    )
    return Handoff.objects.get(contact=contact)


def test_requests_without_a_session_are_refused(db: None) -> None:
    assert Client().get("/api/handoffs").status_code == 401


def test_queue_accept_and_the_losing_second_accept(
    rep_client: tuple[Client, User], make_contact: Callable[..., Contact]
) -> None:
    client, _user = rep_client
    handoff = _hand_raise(make_contact())
    queue = client.get("/api/handoffs", {"owner": "ana", "status": "pending"})
    assert queue.status_code == 200
    assert [h["id"] for h in queue.json()] == [handoff.pk]
    assert queue.json()[0]["sla"] in ("pending", "breached")
    # No campaign touched the lead: it cost nothing, by the fallback even split.
    assert (queue.json()[0]["cost"], queue.json()[0]["cost_method"]) == ("0.00", "even_split")
    accepted = client.post(f"/api/handoffs/{handoff.pk}/accept")
    assert accepted.status_code == 200
    body = accepted.json()
    assert body["handoff"]["status"] == "accepted"
    assert body["deal_created"] is True
    again = client.post(f"/api/handoffs/{handoff.pk}/accept")
    assert again.status_code == 409
    assert again.json()["errors"] == [{"loc": ["status"], "msg": "handoff is already accepted"}]
    assert client.post("/api/handoffs/999999/accept").status_code == 404


def test_reject_names_the_bad_field(
    rep_client: tuple[Client, User], make_contact: Callable[..., Contact]
) -> None:
    client, _ = rep_client
    handoff = _hand_raise(make_contact())
    bad = client.post(
        f"/api/handoffs/{handoff.pk}/reject", {"reason": "meh"}, content_type="application/json"
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["reason"]
    missing = client.post(f"/api/handoffs/{handoff.pk}/reject", {}, content_type="application/json")
    assert missing.status_code == 422
    handoff.refresh_from_db()
    assert handoff.status == "pending"
    ok = client.post(
        f"/api/handoffs/{handoff.pk}/reject",
        {"reason": "other", "note": "student project"},
        content_type="application/json",
    )
    assert ok.status_code == 200
    assert ok.json()["stage"] == "nurture"
    assert ok.json()["handoff"]["note"] == "student project"


def test_reassign_and_respond(
    rep_client: tuple[Client, User], make_contact: Callable[..., Contact]
) -> None:
    client, user = rep_client
    user.groups.add(Group.objects.get_or_create(name="team_lead")[0])  # reassigns in "sales"
    set_rep("ben", team="sales", create_user=True)
    handoff = _hand_raise(make_contact())
    moved = client.post(
        f"/api/handoffs/{handoff.pk}/reassign", {"owner": "ben"}, content_type="application/json"
    )
    assert moved.status_code == 200
    assert moved.json()["owner"] == "ben"
    neither = client.post(
        f"/api/handoffs/{handoff.pk}/reassign", {}, content_type="application/json"
    )
    assert neither.status_code == 422
    responded = client.post(f"/api/handoffs/{handoff.pk}/respond")
    assert responded.json()["first_response_at"] is not None


def test_score_explanation_sums_to_the_total(
    rep_client: tuple[Client, User], make_contact: Callable[..., Contact]
) -> None:
    client, _ = rep_client
    contact = make_contact(title="VP Sales", country="US")
    for n in range(3):
        record_touch(
            TouchInput(
                message_id=f"pv-{n}",
                kind=TouchKind.HIGH_INTENT_PAGE,
                occurred_at=T0 - timedelta(days=n),
                contact_id=contact.pk,
            )
        )
    body = client.get(f"/api/contacts/{contact.pk}/score").json()
    assert round(sum(line["points"] for line in body["lines"]), 1) == body["total"]
    assert any(line["reason"] == "Country we sell in" for line in body["lines"])
    assert body["mql_threshold"] == 60.0
    assert client.get("/api/contacts/999999/score").status_code == 404


def test_config_updates_need_permission_and_are_validated(
    rep_client: tuple[Client, User],
) -> None:
    client, _ = rep_client
    current = client.get("/api/scoring/config").json()
    assert current["version"] == 1
    assert client.put("/api/scoring/config", {}, content_type="application/json").status_code == 403
    admin = User.objects.create_superuser("root", "", "pw-123456789")
    client.force_login(admin)
    config = current["config"]
    config["fit_rules"][0]["operator"] = "gtx"
    bad = client.put("/api/scoring/config", config, content_type="application/json")
    assert bad.status_code == 422
    assert ["fit_rules[0].operator"] in [e["loc"] for e in bad.json()["errors"]]
    assert ScoringConfig.objects.count() == 0
    config["fit_rules"][0]["operator"] = "in"
    config["mql_threshold"] = 70
    good = client.put("/api/scoring/config", config, content_type="application/json")
    assert good.status_code == 200
    assert good.json()["version"] == 2
    assert client.get("/api/scoring/config").json()["config"]["mql_threshold"] == 70.0

    bad_routing = client.put(
        "/api/routing/config",
        {"default_team": "sales", "rules": [{"name": "x", "kind": "teritory", "team": "a"}]},
        content_type="application/json",
    )
    assert bad_routing.status_code == 422
    assert ["rules[0].kind"] in [e["loc"] for e in bad_routing.json()["errors"]]
    assert RoutingConfig.objects.count() == 0
    ok = client.put(
        "/api/routing/config", {"default_team": "sales"}, content_type="application/json"
    )
    assert ok.status_code == 200
