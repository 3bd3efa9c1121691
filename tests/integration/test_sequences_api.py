"""Email sequences over HTTP: marketing creates and enrolls, other roles read; bad input is 4xx
JSON naming the field (never a 500), and nothing half-applies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from onefunnel.models import Campaign, Contact, Enrollment, Sequence
from tests.conftest import T0

pytestmark = pytest.mark.django_db

BODY: dict[str, Any] = {
    "name": "Later",
    "campaign": "later",
    "from_email": "news@onefunnel.example",
    "steps": [
        {
            "wait_days": 0,
            "subject": "Hi {{ contact.first_name }}",
            "html": "<p>x</p>",
            "text": "x {{ unsubscribe_url }}",
        },
    ],
    "entry_reasons": ["not_now"],
}


def _client(name: str, role: str) -> Client:
    person = User.objects.create(username=name)
    person.groups.add(Group.objects.get_or_create(name=role)[0])
    client = Client()
    client.force_login(person)
    return client


def _call(client: Client, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    send = getattr(client, method)
    response = (
        send(f"/api{path}")
        if body is None
        else send(f"/api{path}", json.dumps(body), content_type="application/json")
    )
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    return response.status_code, response.json()


@pytest.fixture
def marketing() -> Client:
    Campaign.objects.create(name="Later", utm_campaign="later", channel="email")
    return _client("mo", "marketing")


def test_marketing_creates_enrolls_and_everyone_reads(marketing: Client) -> None:
    status, created = _call(marketing, "post", "/sequences", BODY)
    assert status == 201, created
    assert created["campaign"] == "later"
    assert created["stop_on"] == ["replied", "booked_demo", "handed_off", "unsubscribed"]
    contact = Contact.objects.create(email="a@b.example", created_at=T0)
    status, enrolled = _call(
        marketing, "post", f"/sequences/{created['id']}/enroll", {"contact_ids": [contact.pk]}
    )
    assert status == 200
    assert enrolled["enrolled"] == [contact.pk]
    rep = _client("rita", "sales_rep")
    status, listed = _call(rep, "get", "/sequences")
    assert status == 200
    assert listed[0]["enrollments"]["active"] == 1
    status, rows = _call(rep, "get", f"/sequences/{created['id']}/enrollments")
    assert status == 200
    assert rows[0]["email"] == "a@b.example"
    status, patched = _call(marketing, "patch", f"/sequences/{created['id']}", {"active": False})
    assert status == 200
    assert patched["active"] is False


def test_other_roles_may_not_write(marketing: Client) -> None:
    rep = _client("rita", "sales_rep")
    status, body = _call(rep, "post", "/sequences", BODY)
    assert status == 403
    assert body["detail"]
    status, _ = _call(rep, "post", "/email/events", {"kind": "bounce", "email": "a@b.example"})
    assert status == 403
    assert not Sequence.objects.exists()


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"steps": [dict(BODY["steps"][0], html="{{ contact.password }}")]}, ["steps[0].html"]),
        ({"steps": [dict(BODY["steps"][0], wait_days=10**20)]}, ["steps", 0, "wait_days"]),
        ({"steps": []}, ["steps"]),
        ({"from_email": "x@y.example\nBcc: z@w.example"}, ["from_email"]),
        ({"campaign": "nope"}, ["campaign"]),
        ({"entry_reasons": ["because"]}, ["entry_reasons"]),
        ({"campaign": 2**70}, ["campaign"]),
        ({"name": "x" * 10_000}, ["name"]),
    ],
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    marketing: Client, change: dict[str, Any], loc: list[Any]
) -> None:
    status, body = _call(marketing, "post", "/sequences", {**BODY, **change})
    assert status == 422, body
    assert any(
        e["loc"][: len(loc)] == loc or e["loc"][-len(loc) :] == loc for e in body["errors"]
    ), body
    assert not Sequence.objects.exists()


def test_unknown_ids_are_404_and_bad_enrolls_write_nothing(marketing: Client) -> None:
    assert _call(marketing, "get", "/sequences/987654")[0] == 404
    assert _call(marketing, "patch", "/sequences/987654", {"active": True})[0] == 404
    status, created = _call(marketing, "post", "/sequences", BODY)
    contact = Contact.objects.create(email="a@b.example", created_at=T0)
    status, body = _call(
        marketing, "post", f"/sequences/{created['id']}/enroll",
        {"contact_ids": [contact.pk, 987654]},
    )  # fmt: skip
    assert status == 422
    assert body["errors"][0]["loc"] == ["contact_ids"]
    status, _ = _call(marketing, "post", f"/sequences/{created['id']}/enroll", {"contact_ids": [0]})
    assert status == 422
    assert not Enrollment.objects.exists()
    status, body = _call(
        marketing, "post", "/email/events", {"kind": "bounce", "message_id": "<nope@x>"}
    )
    assert status == 404


def test_email_events_suppress(marketing: Client) -> None:
    status, body = _call(
        marketing, "post", "/email/events", {"kind": "complaint", "email": "A@B.example"}
    )
    assert status == 200
    assert body == {
        "kind": "complaint",
        "email": "a@b.example",
        "suppressed": True,
        "stopped": 0,
        "moved_to": None,
    }
    status, body = _call(marketing, "post", "/email/events", {"kind": "bounce"})
    assert status == 422
    assert body["errors"][0]["loc"] == ["email"]
