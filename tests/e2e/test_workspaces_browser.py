"""The customers workspace, the plan and leadership's page in a real browser, as the demo's
account manager (isabel.moreno) and its leadership user (morgan.reyes): each lands on their
workspace, the panels load and show their numbers, rows open the account page; every page is
screenshot at desktop width and at 390 px, where nothing may scroll sideways; a panel whose
request fails says so instead of loading for ever. Any console error or failed request fails the
test (``tests/e2e/browser.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.browser import Server, demo_password, demo_server, need_chromium, watched_page

pytestmark = pytest.mark.slow

MANAGER = "isabel.moreno"
LEADER = "morgan.reyes"
PHONE = 390


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_chromium()
    with demo_server(tmp_path_factory.mktemp("workspaces")) as running:
        month = datetime.now(UTC).strftime("%Y-%m")
        running.install.run("targets", "set", "--month", month, "--metric", "deals_won",
                            "--value", "8")  # fmt: skip
        running.install.run("plan", "--revenue", "300000", "--period", month, "--save")
        yield running


def _sign_in(page: Any, server: Server, user: str, landing: str) -> None:
    page.goto(server.base + "/login")
    page.fill("#id_username", user)
    page.fill("#id_password", demo_password(server.install.home))
    page.click("button[type=submit]")
    page.wait_for_url(server.base + landing)


def _loaded(page: Any, *slugs: str) -> None:
    """Wait until every panel has answered (a table or its empty message), none still busy."""
    for slug in slugs:
        page.wait_for_selector(
            f"#panel-{slug}[aria-busy=false] :is([data-testid={slug}-table], [data-testid=empty])",
            timeout=60_000,
        )
    assert page.locator("[aria-busy=true]").count() == 0


def _fits(page: Any) -> None:
    """Nothing on the page scrolls sideways."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.evaluate("document.documentElement.clientWidth"), width


def test_the_account_manager_works_their_customers(server: Server) -> None:
    slugs = ("customers", "renewals", "account-deals", "expansion", "retention-month",
             "retention-cohort")  # fmt: skip
    with watched_page(server.base, "customers-am") as w:
        page = w.page
        _sign_in(page, server, MANAGER, "/customers")
        _loaded(page, *slugs)
        rows = page.locator("[data-testid=customers-table] tbody tr")
        assert rows.count() > 0
        managers = page.locator("[data-testid=customers-table] tbody tr td:last-child")
        assert set(managers.all_text_contents()) == {MANAGER}
        api = json.loads(page.evaluate("fetch('/api/churn-risk?limit=500').then(r => r.text())"))
        assert rows.count() == len(api)
        assert "Your customers" in page.text_content("[data-testid=customers-note]")
        page.wait_for_selector("#retention-month-spec-chart svg", timeout=15_000)
        w.shot("desktop")
        first = page.locator("[data-testid=customers-table] tbody tr td a").first
        name = first.text_content()
        first.click()
        page.wait_for_selector("[data-testid=account]")
        assert page.text_content("h1") == name
        page.set_viewport_size({"width": PHONE, "height": 844})
        page.goto(server.base + "/customers")
        _loaded(page, *slugs)
        _fits(page)
        w.shot("phone")


def test_leadership_reads_the_whole_funnel_and_the_plan(server: Server) -> None:
    slugs = ("leaks", "quality", "follow-up", "spend", "plan-steps", "company-targets",
             "retention-period")  # fmt: skip
    with watched_page(server.base, "leadership") as w:
        page = w.page
        _sign_in(page, server, LEADER, "/leadership")
        _loaded(page, *slugs)
        page.wait_for_selector("#funnel-chart svg", timeout=15_000)
        assert "nurture (handed back to marketing" in page.text_content("[data-testid=side-states]")
        legend = page.text_content("#funnel-chart svg")
        assert "account management" in legend
        assert "account_management" not in legend
        assert page.locator("[data-testid=plan-steps-table] tbody tr").count() > 0
        assert "Most off plan" in page.text_content("[data-testid=plan-steps-note]")
        w.shot("desktop")
        page.goto(server.base + "/plan")
        _loaded(page, "plan-steps", "targets", "forecast", "plan-actual")
        assert page.locator("[data-testid=targets-table] tbody tr").count() == 1
        w.shot("plan-desktop")
        page.set_viewport_size({"width": PHONE, "height": 844})
        for path, label, panels in (
            ("/leadership", "phone", slugs),
            ("/plan", "plan-phone", ("plan-steps", "targets", "forecast", "plan-actual")),
            ("/", "dashboard-phone", ("leaks", "spend", "quality", "follow-up")),
            ("/customers", "customers-phone", ("customers", "renewals")),
        ):
            page.goto(server.base + path)
            _loaded(page, *panels)
            _fits(page)
            w.shot(label)


def test_a_panel_that_cannot_load_says_so(server: Server) -> None:
    with watched_page(server.base, "panel-failure") as w:
        page = w.page
        _sign_in(page, server, MANAGER, "/customers")
        _loaded(page, "customers", "renewals", "account-deals", "expansion", "retention-month",
                "retention-cohort")  # fmt: skip
        page.route(
            "**/panels/workspace/renewals*",
            lambda route: route.fulfill(status=500, body="server error"),
        )
        page.reload()
        failed = page.wait_for_selector("#panel-renewals [data-testid=panel-failed]")
        assert "could not load" in failed.text_content()
        assert page.get_attribute("#panel-renewals", "aria-busy") == "false"
        _loaded(page, "customers")
        assert page.locator("#panel-renewals .loading").count() == 0
        w.shot("failed-panel")
        # The 500 we made up, and htmx's report of it, are the point here: anything else fails.
        made_up = ("renewals", "Response Status Error", "status of 500")
        expected = [p for p in w.problems if any(m in p for m in made_up)]
        assert expected
        w.problems[:] = [p for p in w.problems if p not in expected]
