"""Marketing's funnel filtered by a segment, in a real browser, as the demo marketer (hannah.lee):
pick the segment in the selector, read which segment and when its membership was refreshed,
see fewer entries than for everyone, and click a count through to as many records.
Screenshots in tests/artifacts/; any console error or failed request fails the test."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.e2e.browser import Server, demo_server, need_chromium, watched_page
from tests.e2e.test_marketing_browser import _sign_in

pytestmark = pytest.mark.slow
WARM = '{"all": [{"type": "stage", "in": ["intent", "conversion", "nurture"]}]}'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_chromium()
    with demo_server(tmp_path_factory.mktemp("segment-reports")) as running:
        yield running


def _entries(page: object) -> int:
    cells = page.locator(  # type: ignore[attr-defined]
        "[data-testid=funnel-channel-table] tbody tr td:nth-child(3)"
    ).all_text_contents()
    return sum(int(c.replace(",", "").strip()) for c in cells)


def _wait_funnel(page: object) -> None:
    page.wait_for_selector(  # type: ignore[attr-defined]
        "#section-funnel-channel table, #section-funnel-channel [data-testid=empty]",
        timeout=60_000,
        state="attached",
    )


def test_the_marketer_filters_the_funnel_by_a_segment(server: Server) -> None:
    created = server.install.run("segments", "create", "Warm leads", "--spec", WARM, "-f", "json")
    segment_id = json.loads(created.stdout)["id"]
    with watched_page(server.base, "segment-reports") as w:
        page = w.page
        _sign_in(page, server, "/login")  # as hannah.lee, the demo's marketer
        page.wait_for_url(server.base + "/marketing")
        _wait_funnel(page)
        everyone = _entries(page)
        assert page.locator("[data-testid=segment-filter]").count() == 0

        page.select_option("[data-testid=segment-select]", label="Warm leads")
        page.click("#period-form button[type=submit]")
        page.wait_for_url(re.compile(rf".*segment={segment_id}.*"))
        _wait_funnel(page)
        notice = page.text_content("[data-testid=segment-filter]") or ""
        assert "Filtered by segment 'Warm leads'" in notice
        assert re.search(r"as of its last refresh, \d{4}-\d\d-\d\d \d\d:\d\d UTC", notice)
        assert "Only the members of segment" in (page.text_content("#section-funnel-channel") or "")
        filtered = _entries(page)
        assert 0 < filtered < everyone
        w.shot("filtered")

        page.click("#section-funnel-channel details summary")  # the numbers under the chart
        link = page.locator("[data-testid=funnel-channel-table] tbody a").first
        count = int((link.text_content() or "0").replace(",", ""))
        assert f"segment={segment_id}" in (link.get_attribute("href") or "")
        link.click()
        page.wait_for_selector("[data-testid=records-table]")
        assert page.locator("[data-testid=records-table] tbody tr").count() == min(count, 500)
        assert "only the members of segment 'Warm leads'" in (page.text_content("main") or "")
        w.shot("records")
