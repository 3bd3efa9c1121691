"""Segments in a real browser, as the demo marketer (hannah.lee, not an admin): the list (in
the navigation), build a segment in the form (a stage condition and an "any of" group
added with the buttons), save it, read its definition in words and its members, refresh it and
see its size over time drawn; the list's live count equals the members shown. Screenshots in
tests/artifacts/; any console error or failed request fails the test."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.browser import Server, demo_password, demo_server, need_chromium, watched_page

pytestmark = pytest.mark.slow
MARKETER = "hannah.lee"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_chromium()
    with demo_server(tmp_path_factory.mktemp("segments")) as running:
        yield running


def test_the_marketer_builds_a_segment_and_sees_its_members_and_chart(server: Server) -> None:
    with watched_page(server.base, "segments") as w:
        page = w.page
        # Straight to the segments (marketing's funnel page, its home, loads many sections).
        page.goto(server.base + "/segments")
        page.fill("#id_username", MARKETER)
        page.fill("#id_password", demo_password(server.install.home))
        page.click("button[type=submit]")
        page.wait_for_url(server.base + "/segments")
        assert page.get_attribute("nav >> text=Segments", "aria-current") == "page"
        page.click("[data-testid=new-segment]")
        page.wait_for_selector("[data-testid=conditions]")
        page.fill("[data-testid=segment-name-input]", "Warm or hot")
        page.check("input[name='c0.in'][value=consideration]")
        page.check("input[name='c0.in'][value=intent]")
        page.select_option("[data-testid=new-type]", "any")
        page.click("[data-testid=add-condition]")
        page.wait_for_selector("input[name='c1.1.min']")  # a group starts as stage | score
        # What was ticked before the redraw is kept.
        assert page.is_checked("input[name='c0.in'][value=intent]")
        assert page.input_value("[data-testid=segment-name-input]") == "Warm or hot"
        page.check("input[name='c1.0.in'][value=intent]")
        page.fill("input[name='c1.1.min']", "40")
        w.shot("form")
        page.click("[data-testid=save]")
        page.wait_for_selector("[data-testid=definition]")
        assert page.text_content("[data-testid=definition]") == (
            "stage is consideration or intent · any of (stage is intent | score ≥ 40)"
        )
        total_text = page.text_content("[data-testid=member-total]") or ""
        total = int(re.match(r"\d+", total_text.replace(",", "")).group())  # type: ignore[union-attr]
        assert total > 0, total_text
        rows = page.locator("[data-testid=members-table] tbody tr")
        assert rows.count() == min(total, 50)
        assert page.is_visible("[data-testid=no-history]")

        page.click("[data-testid=refresh]")
        page.wait_for_selector("[data-testid=message]")
        assert f"Refreshed: {total} members; {total} entered" in (
            page.text_content("[data-testid=message]") or ""
        )
        page.click("[data-testid=refresh]")  # a second point on the chart
        page.wait_for_selector("#size-chart svg", timeout=15_000)
        assert page.locator("#size-chart svg path").count() > 0
        assert page.locator("[data-testid=changes] li").count() == min(total, 20)
        w.shot("segment")

        first = rows.first.locator("a")
        name = first.text_content() or ""
        first.click()
        page.wait_for_url(re.compile(r".*/contacts/\d+$"))
        assert name.strip() in (page.text_content("h1") or "")
        page.goto(server.base + "/segments")
        count = page.locator("[data-testid=segments-table] tbody tr td:nth-child(4) a")
        assert count.first.text_content() == str(total)
        w.shot("list")
