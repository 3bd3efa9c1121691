"""The role workspaces through Django's test client: the customers workspace (account
management), the plan and leadership's page — who sees what, and that each page prints the
numbers the API answers for the same period."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from onefunnel.analytics.table import Table
from onefunnel.domain.plan.periods import add_months, month_label
from onefunnel.models import Account
from onefunnel.services.access import SYSTEM
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.plan import forecast as forecast_service
from onefunnel.services.plan import reverse_funnel, targets
from onefunnel.web import workspace
from onefunnel.web.panels import Column, Format, Panel, format_value

pytestmark = pytest.mark.django_db(transaction=True)


def _user(name: str, *groups: str) -> User:
    user = User.objects.create_user(name, password="x" * 12)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _cells(html: str, slug: str) -> list[list[str]]:
    body = html.split(f'data-testid="{slug}-table"')[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in body.split("</tr>") if "<td" in row]
    return [[re.sub(r"<[^>]+>", "", c).replace("&#x27;", "'").replace("&amp;", "&") for c in r]
            for r in rows]  # fmt: skip


def _api(client: Client, path: str, **params: str) -> Table:
    body = client.get(path, params).json()
    return Table(tuple(body["columns"]), tuple(tuple(r) for r in body["rows"]))


def _printed(table: Table, columns: tuple[Column, ...]) -> list[list[str]]:
    index = {name: i for i, name in enumerate(table.columns)}
    return [[format_value(row[index[c.name]], c.format) for c in columns] for row in table.rows]


def _panel(client: Client, slug: str, **params: str) -> str:
    response = client.get(f"/panels/workspace/{slug}", params)
    assert response.status_code == 200, slug
    html = response.content.decode()
    assert 'role="alert"' not in html, html
    return html


@pytest.fixture
def demo() -> None:
    generate_demo(seed=3, size=DemoSize.SMALL)


def _manager_with_accounts() -> User:
    users = User.objects.filter(groups__name="account_management").order_by("pk")
    for user in users:
        if Account.objects.filter(owner=user, contracts__status="active").exists():
            return user
    raise AssertionError("the demo has no account manager with a running contract")


# ------------------------------------------------------------------------------ homes


def test_each_role_lands_on_its_workspace() -> None:
    cases = {
        ("account_management",): "/customers",
        ("leadership",): "/leadership",
        ("sales",): "/queue",
        ("marketing",): "/marketing",
    }
    for i, (groups, home) in enumerate(cases.items()):
        response = _client(_user(f"u{i}", *groups)).get("/home")
        assert response.status_code == 302
        assert response["Location"] == home, groups


def test_pages_need_a_sign_in_and_show_loading_panels_marked_busy() -> None:
    for path in ("/customers", "/plan", "/leadership"):
        assert Client().get(path).status_code == 302
    client = _client(_user("lee", "leadership"))
    for path, slugs in (
        ("/customers", ("customers", "renewals", "retention-month", "retention-cohort")),
        ("/plan", ("plan-steps", "targets", "forecast", "plan-actual")),
        ("/leadership", ("leaks", "quality", "follow-up", "spend", "plan-steps")),
        ("/", ("leaks", "spend")),
    ):
        html = client.get(path).content.decode()
        for slug in slugs:
            section = html.split(f'id="panel-{slug}"')[1].split("</section>")[0]
            assert 'aria-busy="true"' in section, (path, slug)
            assert 'role="status"' in section, (path, slug)
            assert "Loading" in section, (path, slug)
        assert "/static/onefunnel/panels.js" in html
    nav = client.get("/leadership").content.decode()
    assert 'href="/customers"' in nav
    assert 'href="/plan"' in nav
    assert 'href="/leadership" aria-current="page"' in nav


# ------------------------------------------------------------------------ customers


def test_an_account_manager_sees_their_accounts_and_leadership_sees_all(demo: None) -> None:
    manager = _manager_with_accounts()
    mine = set(Account.objects.filter(owner=manager).values_list("name", flat=True))
    html = _panel(_client(manager), "customers")
    names = {row[0] for row in _cells(html, "customers")}
    assert names
    assert names <= mine
    assert "Your customers" in html
    assert 'href="/accounts/' in html

    everyone = _panel(_client(_user("lee", "leadership")), "customers")
    all_names = {row[0] for row in _cells(everyone, "customers")}
    assert names < all_names
    assert "All customers" in everyone

    # A sales rep owns no customer account: the workspace shows none, and says why.
    rep = _panel(_client(_user("rio", "sales")), "customers")
    assert 'data-testid="empty"' in rep
    assert "account managers see the accounts they own" in rep

    for slug in ("renewals", "account-deals", "expansion"):
        html = _panel(_client(manager), slug)
        if 'data-testid="empty"' in html:
            continue
        accounts = {row[2] if slug == "account-deals" else row[0] for row in _cells(html, slug)}
        assert accounts <= mine, slug


def test_customers_panel_equals_the_churn_risk_api(demo: None) -> None:
    manager = _client(_manager_with_accounts())
    api = manager.get("/api/churn-risk", {"limit": "500"}).json()
    printed = _cells(_panel(manager, "customers"), "customers")
    assert [row[0] for row in printed] == [a["account"] for a in api]
    at_risk = [row[8] for row in printed]
    assert at_risk == [format_value(float(a["value_at_risk"]), Format.money) for a in api]
    assert [row[5] for row in printed] == [format_value(float(a["score"]), Format.number)
                                           for a in api]  # fmt: skip


def test_retention_panels_equal_the_retention_report(demo: None) -> None:
    client = _client(_user("lee", "leadership"))
    period = {"from": "2025-01-01", "to": "2026-06-30"}
    by_month = _api(client, "/api/reports/retention", **period)
    assert by_month.rows
    panel = workspace.SOURCES["retention-month"].panel
    assert _cells(_panel(client, "retention-month", **period), "retention-month") == _printed(
        by_month, panel.columns
    )
    cohorts = _api(client, "/api/reports/retention", by="cohort", **period)
    last = Table(cohorts.columns, tuple(r for r in cohorts.rows if r[1] == "2026-06"))
    panel = workspace.SOURCES["retention-cohort"].panel
    html = _panel(client, "retention-cohort", **period)
    assert _cells(html, "retention-cohort") == _printed(last, panel.columns)


# ------------------------------------------------------------------------------- plan


def _save_plan() -> int:
    today = datetime.now(UTC).date()
    period = month_label(today.replace(day=1))
    result = reverse_funnel.make_plan("200000", period, by="channel", window_months=24)
    return reverse_funnel.save_plan(SYSTEM, result, name="test plan").id


def test_plan_page_equals_the_plan_report(demo: None) -> None:
    client = _client(_user("ria", "sales"))
    html = _panel(client, "plan-steps")
    assert "No plan is saved yet" in html
    plan_id = _save_plan()
    report = _api(client, "/api/reports/plan", plan=str(plan_id))
    assert report.rows
    panel = workspace.SOURCES["plan-actual"].panel
    html = _panel(client, "plan-actual", plan=str(plan_id))
    assert _cells(html, "plan-actual") == _printed(report, panel.columns)
    steps = _cells(_panel(client, "plan-steps"), "plan-steps")
    ranks = [int(r[0]) for r in steps]
    assert ranks == sorted(ranks)
    assert ranks[0] == 1
    # The most off-plan step first: the report's rank 1 is the panel's first row.
    first = next(r for r in report.to_records() if r["off_plan_rank"] == 1)
    assert steps[0][2] == str(first["channel"]).replace("_", " ")


def test_targets_show_attainment_and_pace_per_company_team_and_rep(demo: None) -> None:
    rep = User.objects.filter(groups__name="sales").order_by("pk").first()
    assert rep is not None
    month = month_label(datetime.now(UTC).date().replace(day=1))
    targets.set_targets(SYSTEM, [
        targets.TargetInput(month, "deals_won", "10"),
        targets.TargetInput(month, "deals_won", "2", scope="rep", rep=rep.username),
    ])  # fmt: skip
    client = _client(_user("lee", "leadership"))
    rows = _cells(_panel(client, "targets"), "targets")
    assert [r[0] for r in rows] == ["company", rep.username]
    expected = {r.subject: r for r in targets.list_targets(month=month)}
    assert rows[0][3] == format_value(expected["company"].actual, Format.number)
    assert rows[0][4] == format_value(expected["company"].attainment, Format.rate)
    company = _cells(_panel(client, "company-targets"), "company-targets")
    assert len(company) == 1
    later = month_label(add_months(datetime.now(UTC).date().replace(day=1), 2))
    assert 'data-testid="empty"' in _panel(client, "targets", month=later)


def test_forecast_per_team_and_rep_adds_up_to_the_company_forecast(demo: None) -> None:
    client = _client(_user("lia", "leadership"))
    rows = forecast_service.forecast_by_owner()[1]
    panel = workspace.SOURCES["forecast-owners"].panel
    table = Table.of(
        tuple(c.name for c in panel.columns),
        [(r.scope, r.subject, r.won, r.weighted, r.run_rate, r.forecast, r.deals) for r in rows],
    )
    assert _cells(_panel(client, "forecast-owners"), "forecast-owners") == _printed(
        table, panel.columns
    )
    company = next(r for r in rows if r.scope == "company")
    report, _ = forecast_service.forecast_by_owner()
    assert company.forecast == pytest.approx(sum(x.forecast for x in report.lines), abs=0.05)
    for scope in ("team", "rep"):
        part = [r for r in rows if r.scope == scope]
        assert len(part) >= 2
        assert sum(r.forecast for r in part) == pytest.approx(
            company.forecast, abs=0.05 * len(part)
        )
        assert sum(r.deals for r in part) == company.deals


# ------------------------------------------------------------------------- leadership


def test_leadership_page_equals_the_reports(demo: None) -> None:
    client = _client(_user("lee", "leadership"))
    period = {"from": "2025-07-01", "to": "2026-06-30"}
    page = client.get("/leadership", period).content.decode()
    for slug in ("leaks", "quality", "follow-up", "spend"):
        assert f"/panels/report/{slug}?from=2025-07-01&amp;to=2026-06-30" in page
    assert "side state" in page
    retention = _api(client, "/api/reports/retention", by="period", **period)
    panel = workspace.SOURCES["retention-period"].panel
    html = _panel(client, "retention-period", **period)
    assert _cells(html, "retention-period") == _printed(retention, panel.columns)
    funnel = _api(client, "/api/reports/funnel", **period)
    leaks = client.get("/panels/report/leaks", period).content.decode()
    from onefunnel.web.panels import PANELS

    assert _cells(leaks, "leaks") == _printed(funnel, PANELS["leaks"].columns)


# ------------------------------------------------------------------------------ errors


def test_a_failing_panel_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ask: workspace.Ask) -> Table:
        raise RuntimeError("boom")

    source = workspace.Source(Panel("broken", "Broken", "never works", "none", None, ()), broken)
    monkeypatch.setitem(workspace.SOURCES, "broken", source)
    html = _panel_any(_client(_user("lee", "leadership")), "broken")
    assert "could not be computed" in html
    assert 'role="alert"' in html
    bad = _client(_user("mo", "leadership")).get("/panels/workspace/plan-steps", {"plan": "x"})
    assert bad.status_code == 200
    assert "is not a plan" in bad.content.decode()
    assert _client(_user("al", "leadership")).get("/panels/workspace/nope").status_code == 404


def _panel_any(client: Client, slug: str) -> str:
    response = client.get(f"/panels/workspace/{slug}")
    assert response.status_code == 200
    return response.content.decode()
