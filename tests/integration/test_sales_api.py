"""The deals, activities and tasks API over HTTP (Django test client): session users act
under the rule book; bad input is 4xx JSON naming the field, and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from onefunnel.models import Activity, Deal, DealHistory, Task
from onefunnel.services.keys import create_key
from tests.integration.sales_fixtures import buyer, user

pytestmark = pytest.mark.django_db


def _client(name: str, *roles: str) -> Client:
    user(name, *roles, team="sales")
    client = Client()
    client.force_login(User.objects.get(username=name))
    return client


def _post(client: Client, path: str, body: Any = None, **headers: str) -> Any:
    return client.post(path, json.dumps(body or {}), content_type="application/json", **headers)


def _error(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"]
    assert field in json.dumps(body), body


def test_a_rep_works_a_deal_through_the_api() -> None:
    rita = _client("rita", "sales_rep")
    contact = buyer()
    created = _post(rita, "/api/deals", {"account_id": contact.account_id, "name": "Acme",
                                         "amount": "1500", "contact_id": contact.pk})  # fmt: skip
    assert created.status_code == 201, created.content
    deal = created.json()
    assert (deal["owner"], deal["pipeline_stage"], deal["amount"], deal["status"]) == (
        "rita", "Discovery", "1500.00", "open",
    )  # fmt: skip
    moved = _post(rita, f"/api/deals/{deal['id']}/move", {"stage": "Proposal"})
    assert moved.json()["pipeline_stage"] == "Proposal"
    patched = rita.patch(f"/api/deals/{deal['id']}", json.dumps({"amount": "2000.5"}),
                         content_type="application/json")  # fmt: skip
    assert patched.json()["amount"] == "2000.50"
    won = _post(rita, f"/api/deals/{deal['id']}/win")
    assert won.status_code == 200
    assert won.json()["deal"]["status"] == "won"
    assert {m["to_stage"] for m in won.json()["moves"]} == {"conversion"}
    _error(_post(rita, f"/api/deals/{deal['id']}/win"), 409, "status")
    history = rita.get(f"/api/deals/{deal['id']}/history").json()
    assert [(h["field"], h["to_label"]) for h in history][-2:] == [
        ("amount", "2000.50"), ("pipeline_stage", "Won"),
    ]  # fmt: skip
    assert [d["id"] for d in rita.get("/api/deals").json()] == [deal["id"]]
    pipelines = rita.get("/api/pipelines").json()
    assert pipelines[0]["is_default"]
    proposal = next(s for s in pipelines[0]["stages"] if s["stage"] == "Proposal")
    assert (proposal["probability"], proposal["win_rate"]) == (50, 1.0)
    board = rita.get("/api/deal-board", {"owner_scope": "mine"}).json()
    assert next(c for c in board["columns"] if c["stage"] == "Won")["count"] == 1


@pytest.mark.parametrize(
    ("amount", "status"),
    [(-1, 422), ("1e30", 422), ("lots", 422), (10**40, 422), ("NaN", 422), (None, 422)],
)
def test_bad_amounts_are_422_and_write_nothing(amount: object, status: int) -> None:
    rita = _client("rita", "sales_rep")
    account_id = buyer().account_id
    response = _post(rita, "/api/deals", {"account_id": account_id, "name": "A", "amount": amount})
    _error(response, status, "amount")
    assert not Deal.objects.exists()


def test_lose_needs_a_reason_and_other_a_note() -> None:
    rita = _client("rita", "sales_rep")
    deal = _post(rita, "/api/deals", {"account_id": buyer().account_id, "name": "A", "amount": 1})
    deal_id = deal.json()["id"]
    _error(_post(rita, f"/api/deals/{deal_id}/lose", {}), 422, "reason")
    _error(_post(rita, f"/api/deals/{deal_id}/lose", {"reason": ""}), 422, "reason")
    _error(_post(rita, f"/api/deals/{deal_id}/lose", {"reason": "other"}), 422, "note")
    assert Deal.objects.get(pk=deal_id).status == "open"
    lost = _post(rita, f"/api/deals/{deal_id}/lose", {"reason": "price"})
    assert lost.json()["deal"]["lost_reason"] == "price"


def test_unknown_ids_are_404_and_absurd_ids_are_4xx() -> None:
    rita = _client("rita", "sales_rep")
    _error(rita.get("/api/deals/999999"), 404, "deal_id")
    _error(_post(rita, "/api/deals/999999/win"), 404, "deal_id")
    _error(
        _post(rita, "/api/deals", {"account_id": 999999, "name": "A", "amount": 1}),
        404,
        "account_id",
    )
    assert rita.get(f"/api/deals/{2**70}").status_code == 422
    _error(
        _post(rita, "/api/deals", {"account_id": 2**70, "name": "A", "amount": 1}),
        422,
        "account_id",
    )
    _error(_post(rita, "/api/tasks/999999/done"), 404, "task_id")
    _error(_post(rita, "/api/contacts/999999/nurture", {"reason": "not_now"}), 404, "contact_id")
    response = _post(rita, "/api/deals", {"account_id": buyer().account_id, "name": "A",
                                          "amount": 1, "expected_close": "9999-12-31"})  # fmt: skip
    assert response.status_code == 201


def test_a_rep_acting_on_another_reps_deal_is_403() -> None:
    rita = _client("rita", "sales_rep")
    sam = _client("sam", "sales_rep")
    deal_id = _post(rita, "/api/deals", {"account_id": buyer().account_id, "name": "A",
                                         "amount": 1}).json()["id"]  # fmt: skip
    entries = DealHistory.objects.count()
    _error(_post(sam, f"/api/deals/{deal_id}/move", {"stage": "Demo"}), 403, "owner")
    _error(_post(sam, f"/api/deals/{deal_id}/win"), 403, "owner")
    _error(_post(sam, f"/api/deals/{deal_id}/lose", {"reason": "price"}), 403, "owner")
    _error(sam.get(f"/api/deals/{deal_id}"), 403, "owner")
    assert sam.get("/api/deals").json() == []
    assert DealHistory.objects.count() == entries
    marketer = _client("mo", "marketing")
    assert [d["id"] for d in marketer.get("/api/deals").json()] == [deal_id]
    _error(_post(marketer, f"/api/deals/{deal_id}/win"), 403, "role")


def test_a_move_to_another_pipelines_stage_is_409() -> None:
    from onefunnel.models import Pipeline, PipelineStage

    rita = _client("rita", "sales_rep")
    other = PipelineStage.objects.create(
        pipeline=Pipeline.objects.create(name="Renewals"), name="Notice", sequence=1, probability=5
    )
    deal_id = _post(rita, "/api/deals", {"account_id": buyer().account_id, "name": "A",
                                         "amount": 1}).json()["id"]  # fmt: skip
    _error(_post(rita, f"/api/deals/{deal_id}/move", {"stage": other.pk}), 409, "pipeline_stage")


def test_activities_tasks_and_manual_moves_over_http() -> None:
    rita = _client("rita", "sales_rep")
    here, there = buyer(1), buyer(2)
    deal_id = _post(rita, "/api/deals", {"account_id": there.account_id, "name": "There",
                                         "amount": 1}).json()["id"]  # fmt: skip
    _error(_post(rita, "/api/activities", {"kind": "call", "contact_id": here.pk,
                                           "deal_id": deal_id}), 422, "deal_id")  # fmt: skip
    _error(_post(rita, "/api/activities", {"kind": "call", "contact_id": here.pk,
                                           "duration_minutes": 10**12}), 422, "duration_minutes")  # fmt: skip
    assert not Activity.objects.exists()
    call = _post(rita, "/api/activities", {"kind": "call", "contact_id": here.pk,
                                           "outcome": "connected", "duration_minutes": 5})  # fmt: skip
    assert call.status_code == 201, call.content
    assert call.json()["actor"] == "rita"
    assert [a["id"] for a in rita.get("/api/activities", {"account": here.account_id}).json()] == [
        call.json()["id"]
    ]
    naive = _post(rita, "/api/activities", {"kind": "meeting", "contact_id": here.pk,
                                            "occurred_at": "2026-03-01T10:00:00"})  # fmt: skip
    assert naive.json()["occurred_at"].startswith("2026-03-01T10:00:00"), naive.content
    assert naive.json()["occurred_at"].endswith(("Z", "+00:00"))
    _error(_post(rita, "/api/tasks", {"title": "Call back", "due": "2026-03-01"}), 422, "owner")
    assert not Task.objects.exists()
    task = _post(rita, "/api/tasks", {"title": "Call back", "owner": "rita", "due": "2026-03-01"})
    assert task.status_code == 201
    assert [t["id"] for t in rita.get("/api/tasks", {"owner": "rita", "overdue": True}).json()] == [
        task.json()["id"]
    ]
    assert _post(rita, f"/api/tasks/{task.json()['id']}/done").json()["done"] is True
    nurtured = _post(rita, f"/api/contacts/{here.pk}/nurture", {"reason": "not_now"})
    assert nurtured.json()["to_stage"] == "nurture", nurtured.content
    _error(_post(rita, f"/api/contacts/{here.pk}/nurture", {"reason": "not_now"}), 409, "nurture")


def test_an_api_key_with_crm_write_acts_as_the_system() -> None:
    key = create_key("crm:write", "integration").secret
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    created = _post(client, "/api/deals", {"account_id": buyer().account_id, "name": "A",
                                           "amount": 1}, **headers)  # fmt: skip
    assert created.status_code == 201, created.content
    assert created.json()["owner"] is None
    reader = create_key("crm:read", "analyst").secret
    read_only = {"HTTP_AUTHORIZATION": f"Bearer {reader}"}
    assert Client().get("/api/deals", **read_only).status_code == 200
    assert _post(Client(), f"/api/deals/{created.json()['id']}/win", **read_only).status_code == 401


def test_the_openapi_schema_documents_the_sales_endpoints() -> None:
    schema = Client().get("/api/openapi.json").json()
    for path in ("/api/deals", "/api/deals/{deal_id}/lose", "/api/deal-board", "/api/activities",
                 "/api/tasks", "/api/contacts/{contact_id}/nurture"):  # fmt: skip
        assert path in schema["paths"], path
    lose = schema["paths"]["/api/deals/{deal_id}/lose"]["post"]["responses"]
    assert {"200", "403", "404", "409", "422"} <= set(lose)
