"""Account management through the API: contracts, renewals, health, churn risk, expansion,
with 4xx JSON (never a 500) for bad or absurd input and for someone else's account."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from onefunnel.domain.access import Role
from onefunnel.models import Account, Contract, Touchpoint
from onefunnel.services.deals import close_deal, open_deal

pytestmark = pytest.mark.django_db


def client_for(name: str, role: Role) -> tuple[Client, User]:
    user = User.objects.create(username=name)
    user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    client = Client()
    client.force_login(user)
    return client, user


def call(client: Client, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    send = getattr(client, method)
    if body is None:
        response = send(f"/api{path}")
    else:
        response = send(f"/api{path}", json.dumps(body), content_type="application/json")
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.status_code, response.json()


@pytest.fixture
def world() -> dict[str, Any]:
    ann_client, ann = client_for("ann", Role.ACCOUNT_MANAGER)
    bob_client, _bob = client_for("bob", Role.ACCOUNT_MANAGER)
    lee_client, _lee = client_for("lee", Role.LEADERSHIP)
    now = timezone.now()
    account = Account.objects.create(name="Acme", domain="acme.example", created_at=now, owner=ann)
    deal = open_deal(account_id=account.pk, name="First", amount=Decimal("12000"))
    close_deal(deal, won=True, at=now - timedelta(days=300))
    return {"ann": ann_client, "bob": bob_client, "lee": lee_client, "account": account,
            "deal": deal}  # fmt: skip


def test_contract_lifecycle_through_the_api(world: dict[str, Any]) -> None:
    ann, account = world["ann"], world["account"]
    start = (timezone.now() - timedelta(days=300)).date()
    status, body = call(
        ann, "post", f"/contracts/from-deal/{world['deal']}",
        {"product": "Core", "plan_usage": 5, "start": start.isoformat()},
    )  # fmt: skip
    assert status == 201, body
    assert body["annual_value"] == "12000.00"
    contract_id = body["id"]
    # a renewal is due within 90 days: reading the renewals opens its deal, once
    status, rows = call(ann, "get", "/renewals")
    assert status == 200
    assert [r["contract_id"] for r in rows] == [contract_id]
    assert rows[0]["deal_id"] is not None
    _, again = call(ann, "get", "/renewals")
    assert again[0]["deal_id"] == rows[0]["deal_id"]
    # bob sees none of ann's renewals; leadership sees all
    assert call(world["bob"], "get", "/renewals") == (200, [])
    assert len(call(world["lee"], "get", "/renewals")[1]) == 1
    # usage over the plan → an upsell suggestion with its evidence
    for n in range(7):
        Touchpoint.objects.create(
            message_id=f"use-{n}", account=account, kind="custom", team="marketing",
            channel="direct", properties={"event": "Feature Used"},
            occurred_at=timezone.now() - timedelta(days=1), received_at=timezone.now(),
        )  # fmt: skip
    status, suggestions = call(ann, "get", f"/expansion?account_id={account.pk}")
    assert status == 200
    assert suggestions[0]["signal"] == "usage_above_plan"
    assert "7 usage events in 30 days" in suggestions[0]["evidence"]
    status, health = call(ann, "get", f"/accounts/{account.pk}/health")
    assert status == 200
    assert sum(line["points"] for line in health["lines"]) == pytest.approx(float(health["score"]))
    status, risk = call(world["lee"], "get", "/churn-risk")
    assert status == 200
    assert risk[0]["account_id"] == account.pk
    assert Decimal(risk[0]["value_at_risk"]) <= Decimal("12000")
    # someone else's account: 403 in the error format
    status, body = call(world["bob"], "post", f"/contracts/{contract_id}/payment",
                        {"payment_status": "late"})  # fmt: skip
    assert status == 403
    assert body["errors"][0]["loc"] == ["owner"]
    status, body = call(
        ann, "post", f"/contracts/{contract_id}/end", {"on": date.today().isoformat()}
    )
    assert status == 200, body
    assert body["stage"] == "churned"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": "2025-12-31"}, "end"),
        ({"start": "9999-12-31", "end": "9999-12-31"}, "start"),
        ({"amount": "1e400"}, "amount"),
        ({"plan_usage": 10**30}, "plan_usage"),
        ({"billing_period": "weekly"}, "billing_period"),
        ({"account_id": 10**30}, "account_id"),
    ],
)
def test_bad_contracts_answer_422_naming_the_field_and_write_nothing(
    world: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    body = {"account_id": world["account"].pk, "product": "Core", "amount": "100",
            "start": "2026-01-01", "end": "2026-12-31"}  # fmt: skip
    body.update(change)
    status, answer = call(world["ann"], "post", "/contracts", body)
    assert status == 422, answer
    assert answer["errors"][0]["loc"][-1] == field
    assert Contract.objects.count() == 0


def test_retention_report_through_the_api(world: dict[str, Any]) -> None:
    status, body = call(world["lee"], "get", "/reports/retention?by=cohort&from=2026-01-01")
    assert status == 200
    assert body["columns"][:3] == ["cohort", "month", "currency"]
    status, body = call(world["lee"], "get", "/reports/retention?from=9999-12-01&to=9999-12-31")
    assert status == 422
    assert body["errors"][0]["loc"] == ["query", "to"]


def test_unknown_ids_answer_404(world: dict[str, Any]) -> None:
    assert call(world["ann"], "get", "/contracts/999999")[0] == 404
    assert call(world["ann"], "get", "/accounts/999999/health")[0] == 404
    assert call(world["ann"], "get", f"/expansion?account_id={2**62}")[0] == 404


def test_health_config_is_versioned_and_for_admins(world: dict[str, Any]) -> None:
    assert call(world["ann"], "get", "/health/config")[1]["version"] == 1
    status, _ = call(world["ann"], "put", "/health/config", {"usage_events": ["Seat Added"]})
    assert status == 403
    admin = User.objects.create(username="root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    status, body = call(client, "put", "/health/config", {"usage_scale": 0})
    assert status == 422
    assert body["errors"][0]["loc"] == ["usage_scale"]
    status, body = call(client, "put", "/health/config", {"usage_events": ["Seat Added"]})
    assert (status, body["version"], body["config"]["usage_events"]) == (200, 2, ["Seat Added"])


def test_spend_report_ltv_options_through_the_api(world: dict[str, Any]) -> None:
    status, body = call(world["lee"], "get", "/reports/spend?ltv_years=0")
    assert status == 422, body
    status, body = call(world["lee"], "get", "/reports/spend?ltv_years=2&ltv_discount=0.2")
    assert status == 200, body
    assert "ltv_method" in body["columns"]
