"""The segments API over HTTP (Django test client, session auth): marketing saves, everyone
reads; bad specs are 422 JSON naming every field, never a 500, and save nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from onefunnel.domain.access import Role
from onefunnel.models import Contact, Segment

pytestmark = pytest.mark.django_db


def client_as(name: str, role: Role) -> Client:
    user = User.objects.create(username=name)
    user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, body, content_type="application/json")


def test_crud_count_members_history(make_contact: Any) -> None:
    marketer, rep = client_as("mia", Role.MARKETING), client_as("rex", Role.SALES_REP)
    for _ in range(3):
        make_contact(stage="consideration")
    make_contact(stage="awareness")
    spec = {"all": [{"type": "stage", "in": ["consideration"]}]}
    made = post(marketer, "/api/segments", {"name": "considering", "spec": spec})
    assert made.status_code == 201, made.content
    sid = made.json()["id"]
    assert made.json()["created_by"] == "mia"
    denied = post(rep, "/api/segments", {"name": "x", "spec": spec})
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["loc"] == ["role"]
    assert rep.get(f"/api/segments/{sid}/count").json()["size"] == 3
    page = rep.get(f"/api/segments/{sid}/members?offset=1&limit=1").json()
    assert (page["total"], len(page["members"])) == (3, 1)
    assert rep.post(f"/api/segments/{sid}/refresh").status_code == 403
    refreshed = marketer.post(f"/api/segments/{sid}/refresh").json()
    assert (refreshed["size"], refreshed["entered"]) == (3, 3)
    Contact.objects.filter(stage="awareness").update(stage="consideration")
    marketer.post(f"/api/segments/{sid}/refresh")
    history = rep.get(f"/api/segments/{sid}/history").json()
    assert [(h["size"], h["entered"], h["left"]) for h in history] == [(3, 3, 0), (4, 1, 0)]
    assert [s["name"] for s in rep.get("/api/segments").json()] == ["considering"]
    changed = marketer.patch(
        f"/api/segments/{sid}", {"name": "warm"}, content_type="application/json"
    )
    assert changed.json()["name"] == "warm"
    preview = post(rep, "/api/segments/preview", {"spec": {"all": [{"type": "score", "min": 1}]}})
    assert preview.json()["size"] == 0
    assert marketer.delete(f"/api/segments/{sid}").status_code == 204
    assert rep.get(f"/api/segments/{sid}").status_code == 404


@pytest.mark.parametrize(
    ("spec", "loc"),
    [
        ({"all": [{"type": "touches", "within_days": 10**30}]}, ["spec", "all[0]", "within_days"]),
        ({"all": [{"type": "score", "min": "NaN"}]}, ["spec", "all[0]", "min"]),
        ({"all": [{"type": "contract", "renewal_within_days": 99999999}]},
         ["spec", "all[0]", "renewal_within_days"]),
        ({"all": "everyone"}, ["spec", "all"]),
        ({"subject": "account", "all": [{"type": "score", "min": 1}]}, ["spec", "all[0]"]),
        ({"all": [{"type": "attribute", "name": "properties.a;drop", "equals": "x"}]},
         ["spec", "all[0]", "name"]),
        ({"all": [{"type": "handoff", "within_days": 5, "status": "pending",
                   "reason": "not_now"}]}, ["spec", "all[0]", "reason"]),
    ],
)  # fmt: skip
def test_bad_specs_are_422_naming_the_field(spec: Any, loc: list[str]) -> None:
    marketer = client_as("mia", Role.MARKETING)
    got = post(marketer, "/api/segments", {"name": "bad", "spec": spec})
    assert got.status_code == 422, got.content
    assert loc in [e["loc"] for e in got.json()["errors"]]
    assert post(marketer, "/api/segments/preview", {"spec": spec}).status_code == 422
    assert not Segment.objects.exists()


def test_unknown_and_absurd_ids_are_404_or_422(db: None) -> None:
    reader = client_as("lee", Role.LEADERSHIP)
    assert reader.get("/api/segments/5/count").status_code == 404
    assert reader.get(f"/api/segments/{2**70}/count").status_code == 422
    assert reader.get("/api/segments/abc/history").status_code == 422
    made = post(client_as("mia", Role.MARKETING), "/api/segments", {"name": "a", "spec": {}})
    sid = made.json()["id"]
    assert reader.get(f"/api/segments/{sid}/members?limit=0").status_code == 422
    assert reader.get(f"/api/segments/{sid}/members?offset=-1").status_code == 422


def test_api_keys_read_and_the_write_key_saves(make_contact: Any) -> None:
    from onefunnel.services.keys import CRM_READ, CRM_WRITE, create_key

    make_contact(stage="intent")
    reader = Client(HTTP_AUTHORIZATION=f"Bearer {create_key(CRM_READ).secret}")
    writer = Client(HTTP_AUTHORIZATION=f"Bearer {create_key(CRM_WRITE).secret}")
    spec = {"all": [{"type": "stage", "in": ["intent"]}]}
    assert post(reader, "/api/segments", {"name": "x", "spec": spec}).status_code in (401, 403)
    made = post(writer, "/api/segments", {"name": "intent", "spec": spec})
    assert made.status_code == 201, made.content
    assert made.json()["created_by"] is None  # the system
    assert reader.get(f"/api/segments/{made.json()['id']}/count").json()["size"] == 1
