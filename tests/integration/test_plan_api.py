"""The plan's API over HTTP (Django test client, session auth): JSON in, JSON out, 4xx JSON for
bad input, never a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from onefunnel.models import Plan, Target
from tests.integration.test_plan import small_company

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create(username="root", is_superuser=True))
    return client


def test_targets_forecast_and_plans_over_http(admin_client: Client) -> None:
    small_company(touches=True)
    got = admin_client.post(
        "/api/targets",
        {"month": "2026-07", "metric": "mqls", "value": "20"},
        content_type="application/json",
    )
    assert got.status_code == 200, got.content
    assert got.json()["actual"] == 10
    assert admin_client.get("/api/targets?month=2026-07").json()[0]["attainment"] == 0.5
    forecast = admin_client.get("/api/forecast?period=2027-Q1&method=history")
    assert forecast.status_code == 200
    assert forecast.json()["method"] == "history"
    backtest = admin_client.get("/api/forecast/backtest").json()
    assert [e["forecast"] for e in backtest["errors"]] == ["stage", "history", "naive"]
    body = {"revenue": "100000", "period": "2099-Q1", "by": "channel", "budgets": True}
    preview = admin_client.post("/api/plans/preview", body, content_type="application/json")
    assert preview.status_code == 200
    assert Plan.objects.count() == 0
    saved = admin_client.post("/api/plans", body, content_type="application/json")
    assert saved.status_code == 201, saved.content
    plan_id = saved.json()["saved"]["id"]
    assert admin_client.get(f"/api/plans/{plan_id}").json()["saved"]["version"] == 1
    report = admin_client.get(f"/api/reports/plan?plan={plan_id}").json()
    assert report["columns"][:3] == ["off_plan_rank", "step", "channel"]
    assert {row[1] for row in report["rows"]} >= {"leads", "mqls", "revenue", "spend"}
    budgets = admin_client.get(f"/api/budgets?plan={plan_id}").json()
    assert budgets
    assert all(b["plan_id"] == plan_id for b in budgets)


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "loc"),
    [
        ("post", "/api/targets", {"month": "2026-13", "metric": "mqls", "value": "1"}, 422,
         "month"),
        ("post", "/api/targets", {"month": "2026-07", "metric": "mqls", "value": "1",
                                  "rep": "ghost"}, 404, None),
        ("post", "/api/targets", {"month": "9999-12", "metric": "mqls", "value": "1"}, 422,
         "month"),
        ("post", "/api/targets", {"month": "2026-07", "metric": "new_revenue",
                                  "value": "1e400"}, 422, "value"),
        ("post", "/api/plans", {"revenue": "0", "period": "2099-Q1"}, 422, "revenue"),
        ("post", "/api/plans", {"revenue": "10", "period": "2001-Q1"}, 422, "period"),
        ("post", "/api/plans/preview", {"revenue": "10", "period": "2099-Q1", "by": "rep"}, 422,
         "by"),
        ("get", "/api/plans/99999999999999999999", None, 404, None),
        ("get", "/api/plans/424242", None, 404, None),
        ("get", "/api/reports/plan?plan=424242", None, 404, None),
        ("get", "/api/reports/plan", None, 422, None),
        ("get", "/api/forecast?period=2026-Q7", None, 422, "period"),
        ("get", "/api/forecast?method=magic", None, 422, "method"),
        ("put", "/api/deals/424242/forecast", {"category": "commit"}, 404, None),
        ("post", "/api/budgets", {"month": "2026-07", "amount": "5"}, 422, "campaign"),
    ],
)  # fmt: skip
def test_bad_input_is_4xx_json(
    admin_client: Client, method: str, url: str, body: object, status: int, loc: str | None
) -> None:
    response = getattr(admin_client, method)(url, body, content_type="application/json")
    assert response.status_code == status, response.content
    payload = response.json()
    assert "detail" in payload
    if loc:
        assert payload["errors"][0]["loc"] == [loc]
    assert Target.objects.count() == 0
    assert Plan.objects.count() == 0


def test_leadership_reads_but_does_not_set_targets(db: None) -> None:
    client = Client()
    boss = User.objects.create(username="liz")
    boss.groups.add(Group.objects.get_or_create(name="leadership")[0])
    client.force_login(boss)
    denied = client.post(
        "/api/targets",
        {"month": "2026-07", "metric": "mqls", "value": "20"},
        content_type="application/json",
    )
    assert denied.status_code == 403
    assert client.get("/api/targets").status_code == 200
    assert Client().get("/api/targets").status_code == 401


def test_a_team_lead_saves_their_teams_plan_over_http(db: None) -> None:
    from tests.integration.test_plan import user

    small_company()
    user("olga", "sales", team="enterprise")
    client = Client()
    client.force_login(user("lena", "team_lead"))  # leads team "sales"
    body = {"revenue": "1000", "period": "2099-Q1"}
    saved = client.post("/api/plans", {**body, "team": "sales"}, content_type="application/json")
    assert saved.status_code == 201, saved.content
    assert saved.json()["saved"]["team"] == "sales"
    assert saved.json()["saved"]["name"] == "sales 2099-Q1"
    for other, status in (({}, 403), ({"team": "enterprise"}, 403), ({"team": "x"}, 404)):
        refused = client.post("/api/plans", {**body, **other}, content_type="application/json")
        assert refused.status_code == status, refused.content
        assert "detail" in refused.json()
    assert Plan.objects.count() == 1
    listed = client.get("/api/plans").json()
    assert [p["team"] for p in listed] == ["sales"]
