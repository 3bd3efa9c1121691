"""The sales workspace in a real browser, as a demo sales rep (not an admin): sign in on the
app's own page, land on the queue, accept one handoff and reject another with a reason, each
in one click without a reload; then search, the API docs and a phone-width queue. Every page
is screenshot (tests/artifacts/) and any console error or failed request fails the test."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser import Server, demo_password, demo_server, need_chromium, watched_page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_chromium()
    with demo_server(tmp_path_factory.mktemp("web")) as running:
        yield running


def _rep(server: Server) -> str:
    payload = json.loads(server.install.run("demo", "--format", "json").stdout)
    match = re.search(r"([\w.]+) \(sales rep\)", payload["demo_logins"])
    assert match, payload["demo_logins"]
    return match.group(1)


def _handoff_for(server: Server, rep: str, n: int) -> int:
    """Hand a contact over by hand and give it to the rep (the CLI acts as the system)."""
    email = server.install.query(
        "SELECT email FROM onefunnel_contact WHERE stage IN ('awareness', 'consideration') "
        f"AND email IS NOT NULL AND account_id IS NOT NULL ORDER BY id LIMIT 1 OFFSET {n}"
    )[0][0]
    opened = json.loads(server.install.run("handoffs", "open", email, "-f", "json").stdout)
    server.install.run("handoffs", "reassign", str(opened["id"]), "--owner", rep)
    return int(opened["id"])


def _status(server: Server, handoff_id: int) -> str:
    rows = server.install.query(f"SELECT status FROM onefunnel_handoff WHERE id = {handoff_id}")
    return str(rows[0][0])


def test_a_rep_signs_in_and_decides_handoffs_from_the_queue(server: Server) -> None:
    rep = _rep(server)
    first, second = _handoff_for(server, rep, 0), _handoff_for(server, rep, 1)
    with watched_page(server.base, "queue") as w:
        page = w.page
        page.goto(server.base + "/queue")
        assert "/login?next=/queue" in page.url
        w.shot("login")
        page.fill("#id_username", rep)
        page.fill("#id_password", demo_password(server.install.home))
        page.click("button[type=submit]")
        page.wait_for_url(server.base + "/queue")
        page.wait_for_selector(f"#handoff-{first}")
        before = int(page.text_content("#queue-count") or "0")
        assert before >= 2
        page.wait_for_function("document.querySelector('time.sla').textContent.includes('due')")
        w.shot("loaded")
        marker = page.evaluate("window.__no_reload = 1")
        del marker
        page.click(f"#handoff-{first} [data-testid=accept]")
        page.wait_for_selector(f"#handoff-{first}", state="detached")
        message = page.text_content("[data-testid=queue-message]") or ""
        assert f"Accepted handoff #{first}" in message
        assert int(page.text_content("#queue-count") or "0") == before - 1
        w.shot("accepted")
        page.select_option(f"#reason-{second}", "not_now")
        page.click(f"#handoff-{second} [data-testid=reject]")
        page.wait_for_selector(f"#handoff-{second}", state="detached")
        message = page.text_content("[data-testid=queue-message]") or ""
        assert f"Rejected handoff #{second}" in message
        assert "nurture" in message
        assert int(page.text_content("#queue-count") or "0") == before - 2
        assert page.evaluate("window.__no_reload") == 1  # the page never reloaded
        w.shot("rejected")
    assert _status(server, first) == "accepted"
    assert _status(server, second) == "rejected"


def test_search_docs_and_a_phone_width_queue(server: Server) -> None:
    rep = _rep(server)
    waiting = _handoff_for(server, rep, 2)
    with watched_page(server.base, "pages", width=390, height=844) as w:
        page = w.page
        page.goto(server.base + "/login")
        page.fill("#id_username", rep)
        page.fill("#id_password", demo_password(server.install.home))
        page.click("button[type=submit]")
        page.wait_for_url(server.base + "/queue")
        page.wait_for_selector(f"#handoff-{waiting}")
        w.shot("queue-390")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the queue scrolls sideways at 390 px ({width})"
        page.fill("#search-q", "a")
        page.press("#search-q", "Enter")
        page.wait_for_selector("[data-testid=search-count]")
        assert page.locator("ul.hits a[href^='/contacts/']").count() > 0
        w.shot("search-390")
    with watched_page(server.base, "docs") as w:
        page = w.page
        page.goto(server.base + "/login?next=/api/docs")
        page.fill("#id_username", rep)
        page.fill("#id_password", demo_password(server.install.home))
        page.click("button[type=submit]")
        page.wait_for_url(server.base + "/api/docs")
        page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
        assert page.locator(".swagger-ui .opblock").count() > 10
        w.shot("api-docs")
        assert page.request.get(server.base + "/favicon.ico").status == 200
        page.goto(server.base + "/")
        page.wait_for_selector("#funnel-chart svg", timeout=15_000)
        w.shot("dashboard-as-rep")


def test_artifacts_are_kept() -> None:
    from tests.e2e.browser import ARTIFACTS

    if not Path(ARTIFACTS).exists():
        pytest.skip("no browser test ran")
    assert list(Path(ARTIFACTS).glob("queue-*.png"))
