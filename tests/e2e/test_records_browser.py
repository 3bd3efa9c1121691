"""Timelines and the deal board in a real browser, as a demo sales rep (not an admin): accept a
handoff from the queue and find its deal on the board; reject another with a reason and find
the contact in nurture on its timeline; log a call; drag a deal to won and see the account
become a customer; the pages at phone width. Every page is screenshot (tests/artifacts/) and
any console error or failed request fails the test."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import Server, demo_password, demo_server, need_chromium, watched_page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_chromium()
    with demo_server(tmp_path_factory.mktemp("records")) as running:
        yield running


def _rep(server: Server) -> str:
    payload = json.loads(server.install.run("demo", "--format", "json").stdout)
    match = re.search(r"([\w.]+) \(sales rep\)", payload["demo_logins"])
    assert match, payload["demo_logins"]
    return match.group(1)


def _handoff_for(server: Server, rep: str, n: int) -> tuple[int, int]:
    """Hand a contact over (as the system) and give it to the rep: (handoff id, contact id)."""
    email, contact_id = server.install.query(
        "SELECT email, id FROM onefunnel_contact WHERE stage IN ('awareness', 'consideration') "
        f"AND email IS NOT NULL AND account_id IS NOT NULL ORDER BY id DESC LIMIT 1 OFFSET {n}"
    )[0]
    opened = json.loads(server.install.run("handoffs", "open", email, "-f", "json").stdout)
    server.install.run("handoffs", "reassign", str(opened["id"]), "--owner", rep)
    return int(opened["id"]), int(contact_id)


def _one(server: Server, sql: str) -> str:
    return str(server.install.query(sql)[0][0])


def _sign_in(page: Any, server: Server, rep: str, landing: str = "/queue") -> None:
    page.goto(server.base + "/login")
    page.fill("#id_username", rep)
    page.fill("#id_password", demo_password(server.install.home))
    page.click("button[type=submit]")
    page.wait_for_url(server.base + landing)


def _drag(page: Any, source: str, target: str) -> None:
    """Drag with the mouse as a person does: press on the card (on its text, not its select
    or links), move a little to start the drag, then over the column and let go."""
    start = page.locator(source).bounding_box()
    page.mouse.move(start["x"] + 5, start["y"] + 5)
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + 30, steps=5)
    end = page.locator(target).bounding_box()
    page.mouse.move(end["x"] + 20, end["y"] + 20, steps=10)
    page.mouse.up()


def test_a_rep_works_the_queue_the_timeline_and_the_board(server: Server) -> None:
    rep = _rep(server)
    (accepted, _), (rejected, rejected_contact) = (
        _handoff_for(server, rep, 0),
        _handoff_for(server, rep, 1),
    )
    with watched_page(server.base, "records") as w:
        page = w.page
        _sign_in(page, server, rep)
        page.wait_for_selector(f"#handoff-{accepted}")
        # Accept from the queue; the message links the deal; it is on the board.
        page.click(f"#handoff-{accepted} [data-testid=accept]")
        page.wait_for_selector(f"#handoff-{accepted}", state="detached")
        deal = int(_one(server, f"SELECT deal_id FROM onefunnel_handoff WHERE id = {accepted}"))
        assert page.locator(f"[data-testid=deal-link][href='/deals/{deal}']").count() == 1
        w.shot("queue-accepted")
        page.click("nav >> text=Board")
        page.wait_for_url(re.compile(r".*/board$"))
        card = page.locator(f"#deal-{deal}")
        card.wait_for()
        w.shot("board")
        # Reject the other with a reason; the contact's timeline shows it went to nurture.
        page.goto(server.base + "/queue")
        page.select_option(f"#reason-{rejected}", "not_now")
        page.click(f"#handoff-{rejected} [data-testid=reject]")
        page.wait_for_selector(f"#handoff-{rejected}", state="detached")
        page.goto(server.base + f"/contacts/{rejected_contact}")
        assert page.text_content("[data-testid=stage]") == "nurture"
        timeline = page.text_content("[data-testid=timeline]") or ""
        assert f"handoff #{rejected} rejected by {rep}" in timeline
        assert "→ nurture" in timeline
        assert "reason: not now" in timeline
        w.shot("timeline-nurture")
        # Log a call on it (in place, with htmx): it shows on the timeline.
        page.select_option("#kind-c", "call")
        page.select_option("#outcome-c", "connected")
        page.fill("#notes-c", "Asked to hear back in spring")
        page.click("[data-testid=log-activity] [data-testid=log]")
        page.wait_for_selector("[data-testid=message] >> text=Call logged")
        first = page.locator("[data-testid=entry]").first
        assert "call logged by" in (first.text_content() or "")
        assert "Asked to hear back in spring" in (first.text_content() or "")
        w.shot("timeline-call")
        # Drag the accepted deal to won: the account becomes a customer.
        page.goto(server.base + "/board")
        _drag(page, f"#deal-{deal} p.muted", "section.column.won header")
        page.wait_for_selector("[data-testid=message] >> text=Won deal")
        page.wait_for_selector(f"section.column.won #deal-{deal}")
        w.shot("board-won")
        page.click(f"#deal-{deal} a.account")
        page.wait_for_url(re.compile(r".*/accounts/\d+$"))
        assert page.text_content("[data-testid=stage]") == "conversion"
        assert "because deal #" in (page.text_content("[data-testid=timeline]") or "")
        w.shot("account-customer")
        page.goto(server.base + f"/deals/{deal}")
        assert page.text_content("[data-testid=deal-status]") == "won"
        w.shot("deal-won")


def test_the_keyboard_alternative_and_phone_width(server: Server) -> None:
    rep = _rep(server)
    handoff, contact = _handoff_for(server, rep, 2)
    server.install.run("handoffs", "accept", str(handoff), "--as", rep)
    deal = int(_one(server, f"SELECT deal_id FROM onefunnel_handoff WHERE id = {handoff}"))
    with watched_page(server.base, "records-390", width=390, height=844) as w:
        page = w.page
        _sign_in(page, server, rep)
        page.goto(server.base + "/board")
        options = page.locator(f"#move-{deal} option")
        target = options.nth(1).get_attribute("value")
        page.select_option(f"#move-{deal}", target)
        page.click(f"#deal-{deal} [data-testid=move]")  # a plain form: no JavaScript needed
        page.wait_for_selector("[data-testid=message] >> text=Moved deal")
        w.shot("board")
        for path, label in ((f"/contacts/{contact}", "contact"), (f"/deals/{deal}", "deal")):
            page.goto(server.base + path)
            w.shot(label)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} scrolls sideways at 390 px ({width})"
