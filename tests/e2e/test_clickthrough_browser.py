"""Click-through on amounts in a real browser, as the demo users: the account manager clicks a
retention figure on /customers, the marketer an attribution credit on /marketing, leadership a
forecast amount on /plan — each lands on the records behind it, whose total is the number
clicked. Screenshots in tests/artifacts/; any console error or failed request fails the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.browser import Server, demo_password, demo_server, need_chromium, watched_page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_chromium()
    with demo_server(tmp_path_factory.mktemp("clickthrough")) as running:
        yield running


@pytest.mark.parametrize(
    ("user", "path", "cell"),
    [
        ("isabel.moreno", "/customers",
         "[data-testid=retention-month-table] td[data-label='starting MRR'] a"),
        ("hannah.lee", "/marketing", "#section-attribution td[data-label='linear'] a"),
        ("morgan.reyes", "/plan", "[data-testid=forecast-table] td[data-label='pipeline'] a"),
    ],
)  # fmt: skip
def test_an_amount_clicked_lists_records_that_add_up_to_it(
    server: Server, user: str, path: str, cell: str
) -> None:
    with watched_page(server.base, f"clickthrough-{user}") as w:
        page = w.page
        page.goto(server.base + "/login")
        page.fill("#id_username", user)
        page.fill("#id_password", demo_password(server.install.home))
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto(server.base + path)
        page.wait_for_selector(cell, timeout=60_000)
        link = page.locator(cell).first
        shown = (link.text_content() or "").strip()
        link.click()
        page.wait_for_selector("[data-testid=records-table]")
        total = page.text_content("[data-testid=records-total] strong")
        assert total == shown, (path, cell)
        rows = page.locator("[data-testid=records-table] tbody tr").count()
        assert rows >= 1
        w.shot(f"records-{user}")
