"""The dashboard in a real headless browser: sign in, see the funnel, its chart and the report
panels drawn, switch the attribution model. Any console error or failed request fails it
(``tests/e2e/browser.py``); screenshots are kept in tests/artifacts/."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.browser import Server, demo_server, need_chromium, watched_page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_chromium()
    with demo_server(tmp_path_factory.mktemp("dashboard")) as running:
        yield running


def test_login_and_see_the_funnel_chart(server: Server) -> None:
    install = server.install
    with watched_page(server.base, "dashboard") as w:
        page = w.page
        page.goto(server.base + "/")
        assert "/login" in page.url
        page.fill("#id_username", "rev")
        page.fill("#id_password", "ops-team-2026")
        page.click("button[type=submit]")
        page.wait_for_url(server.base + "/")
        contacts = page.text_content("[data-testid=contacts]")
        expected = install.query("SELECT COUNT(*) FROM onefunnel_contact")[0][0]
        assert contacts is not None
        assert int(contacts) == expected
        page.wait_for_selector("#funnel-chart svg", timeout=15_000)
        bars = page.locator("#funnel-chart svg path[aria-roledescription='bar']")
        assert bars.count() == 9
        rows = page.locator("#stage-table tbody tr")
        assert rows.count() >= 9
        # The report panels load on their own requests once the page is up.
        for slug in ("leaks", "spend", "quality", "follow-up"):
            page.wait_for_selector(f"[data-testid={slug}-table] tbody tr", timeout=30_000)
        by_rep = json.loads(
            install.run("report", "scorecard", "--by", "rep", "--format", "json").stdout
        )
        assert page.locator("[data-testid=follow-up-table] tbody tr").count() == len(by_rep) > 0
        page.wait_for_selector("#spend-spec-chart svg", timeout=15_000)
        assert page.locator("#spend-spec-chart svg path[aria-roledescription='bar']").count() > 0
        # Another model re-renders the panels for it.
        page.select_option("select[name=model]", "markov")
        page.click("#period-form button[type=submit]")
        page.wait_for_url("**model=markov**")
        page.wait_for_selector("[data-testid=spend-table] tbody tr", timeout=30_000)
        w.shot("markov")
