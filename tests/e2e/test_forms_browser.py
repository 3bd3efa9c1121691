"""Forms end to end, on the demo company served by `onefunnel serve`, in headless Chromium.

* A visitor browses another site (a second origin on loopback) anonymously — analytics.js's
  ``ajs_anonymous_id`` cookie holds their id and two page views reach onefunnel through the
  tracking API — then fills the embedded hand-raise form (the vendored snippet). The contact is
  created, their earlier anonymous touches join them, the ``hand_raise`` touch carries the page's
  campaign, and a handoff waits in a rep's queue: the rep signs in and sees it there.
* A plain HTML form posted from the hosted page (/f/<slug>), as a browser sends it.
* The CLI: forms create, list, show, and the consent export (formula-safe CSV).

Every page is screenshot (tests/artifacts/); any console error or failed request fails."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.e2e.browser import Server, demo_password, demo_server, need_chromium, watched_page
from tests.e2e.servers import free_port

pytestmark = pytest.mark.slow

ANONYMOUS_ID = "anon-forms-e2e-1"
CAMPAIGN = "forms-e2e-spring"


class _Shop(BaseHTTPRequestHandler):
    """Another company's site: every path is a page that embeds onefunnel's form."""

    onefunnel = ""

    def do_GET(self) -> None:
        page = f"""<!doctype html><html><head><meta charset="utf-8">
<link rel="icon" href="data:,"><title>Shop · pricing</title></head>
<body><h1>Pricing</h1><p>Talk to us:</p>
<div data-onefunnel-form="demo-request"></div>
<script src="{self.onefunnel}/static/onefunnel/forms-embed.js" async></script>
</body></html>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    need_chromium()
    with demo_server(tmp_path_factory.mktemp("forms")) as running:
        yield running


@pytest.fixture(scope="module")
def shop(server: Server) -> Iterator[str]:
    """The other site, on its own loopback port (a different origin)."""
    handler = type("Shop", (_Shop,), {"onefunnel": server.base})
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _one(server: Server, sql: str) -> Any:
    rows = server.install.query(sql)
    return rows[0][0] if rows else None


def _wait(check: Any, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _browse_anonymously(server: Server) -> None:
    """Two page views of the anonymous visitor, sent as analytics.js would (a write key)."""
    created = server.install.run("keys", "create", "--scope", "tracking:write", "-f", "json")
    key = json.loads(created.stdout)["key"]
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    batch = {
        "batch": [
            {
                "type": "page",
                "anonymousId": ANONYMOUS_ID,
                "messageId": f"forms-e2e-pv-{i}",
                "name": name,
                "properties": {"path": f"/{name}"},
                "context": {
                    "campaign": {"source": "linkedin", "medium": "paid_social", "name": CAMPAIGN}
                },
            }
            for i, name in enumerate(("features", "pricing"))
        ]
    }
    answer = httpx.post(f"{server.base}/v1/batch", json=batch, headers={"Authorization": auth})
    assert answer.status_code == 200, answer.text
    _wait(
        lambda: (
            _one(
                server,
                f"SELECT COUNT(*) FROM onefunnel_touchpoint WHERE anonymous_id = '{ANONYMOUS_ID}'",
            )
            == 2
        ),
        "the anonymous page views",
    )


def test_an_anonymous_visitor_raises_their_hand_through_the_embedded_form(
    server: Server, shop: str
) -> None:
    server.install.run(
        "forms", "create", "--name", "Request a demo", "--slug", "demo-request",
        "--field", "email:Work email:email:required", "--field", "first_name:First name::required",
        "--field", "company:Company", "--hand-raise", "--origin", shop,
        "--consent-text", "Acme may contact me about my demo request.",
    )  # fmt: skip
    _browse_anonymously(server)
    contact_before = _one(
        server,
        f"SELECT contact_id FROM onefunnel_touchpoint WHERE anonymous_id = '{ANONYMOUS_ID}' LIMIT 1",
    )
    assert contact_before is None  # nobody knows who they are yet
    with watched_page(server.base, "forms-embed") as w:
        page = w.page
        page.route(f"{shop}/**", lambda r: r.continue_())  # the other site is allowed too
        page.context.add_cookies(
            [{"name": "ajs_anonymous_id", "value": f"%22{ANONYMOUS_ID}%22", "url": shop}]
        )
        page.goto(
            f"{shop}/pricing?utm_source=linkedin&utm_medium=paid_social&utm_campaign={CAMPAIGN}"
        )
        page.wait_for_selector("form.of-form")
        w.shot("drawn")
        page.fill("input[name=email]", "Grace.Hopper@Navy.example")
        page.fill("input[name=first_name]", "Grace")
        page.fill("input[name=company]", "US Navy")
        page.check("input[name=consent]")
        page.click("form.of-form button[type=submit]")
        page.wait_for_selector(".of-thanks")
        w.shot("thanks")
    contact = _one(
        server, "SELECT id FROM onefunnel_contact WHERE email = 'grace.hopper@navy.example'"
    )
    assert contact is not None
    # The anonymous page views now belong to the contact.
    owners = server.install.query(
        f"SELECT DISTINCT contact_id FROM onefunnel_touchpoint WHERE anonymous_id = '{ANONYMOUS_ID}'"
    )
    assert owners == [(contact,)]
    kind, campaign = server.install.query(
        "SELECT t.kind, c.utm_campaign FROM onefunnel_touchpoint t JOIN onefunnel_campaign c"
        f" ON c.id = t.campaign_id WHERE t.contact_id = {contact} AND t.kind = 'hand_raise'"
    )[0]
    assert (kind, campaign) == ("hand_raise", CAMPAIGN)
    assert _one(server, f"SELECT stage FROM onefunnel_contact WHERE id = {contact}") == "intent"
    handoff, owner = server.install.query(
        "SELECT h.id, u.username FROM onefunnel_handoff h LEFT JOIN auth_user u ON u.id = h.owner_id"
        f" WHERE h.contact_id = {contact} AND h.status = 'pending'"
    )[0]
    consent = _one(
        server, f"SELECT consent_version FROM onefunnel_formsubmission WHERE contact_id = {contact}"
    )
    assert consent
    assert len(consent) == 64
    # The rep it was routed to finds it in their queue.
    rep = owner or _any_rep(server)
    with watched_page(server.base, "forms-queue") as w:
        page = w.page
        page.goto(server.base + "/login?next=/queue")
        page.fill("#id_username", rep)
        page.fill("#id_password", demo_password(server.install.home))
        page.click("button[type=submit]")
        page.wait_for_url(server.base + "/queue")
        page.wait_for_selector(f"#handoff-{handoff}")
        assert "grace" in (page.text_content(f"#handoff-{handoff}") or "").lower()
        w.shot("queue")


def _login(server: Server, role: str) -> str:
    """A demo user of the role (from `onefunnel demo`'s list of logins)."""
    payload = json.loads(server.install.run("demo", "--format", "json").stdout)
    match = re.search(rf"([\w.]+) \({role}\)", payload["demo_logins"])
    assert match, payload["demo_logins"]
    return match.group(1)


def _any_rep(server: Server) -> str:
    return _login(server, "sales rep")


def test_marketing_finds_its_forms_with_the_hosted_page_and_the_snippet(server: Server) -> None:
    server.install.run("forms", "create", "--name", "Webinar sign-up", "--slug", "webinar")
    with watched_page(server.base, "forms-list") as w:
        page = w.page
        page.goto(server.base + "/login")
        page.fill("#id_username", _login(server, "marketing"))
        page.fill("#id_password", demo_password(server.install.home))
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")  # the funnel's panels load first
        page.click("nav >> text=Forms")
        page.wait_for_url(server.base + "/forms")
        row = page.locator("tr", has_text="Webinar sign-up")
        assert row.locator(f"a[href='{server.base}/f/webinar']").count() == 1
        snippet = row.locator("textarea").input_value()
        assert 'data-onefunnel-form="webinar"' in snippet
        assert f"{server.base}/static/onefunnel/forms-embed.js" in snippet
        w.shot("list")
        row.locator(f"a[href='{server.base}/f/webinar']").click()
        page.wait_for_url(server.base + "/f/webinar")
        assert page.locator("input[name=email]").count() == 1
        w.shot("hosted")


def test_a_plain_html_post_to_the_hosted_page(server: Server) -> None:
    server.install.run(
        "forms", "create", "--name", "Newsletter", "--slug", "newsletter",
        "--field", "first_name:First name", "--consent-text", "Send me the monthly newsletter.",
    )  # fmt: skip
    with watched_page(server.base, "forms-hosted") as w:
        page = w.page
        page.goto(f"{server.base}/f/newsletter?utm_source=google&utm_medium=cpc&utm_campaign=news")
        w.shot("form")
        page.fill("input[name=email]", "ada@lovelace.example")
        page.fill("input[name=first_name]", "Ada")
        page.check("input[name=consent]")
        with page.expect_request(lambda r: r.method == "POST") as sent:
            page.click("button[type=submit]")
        assert sent.value.headers["content-type"] == "application/x-www-form-urlencoded"
        page.wait_for_selector("p[role=status]")
        assert "Thank you" in (page.text_content("p[role=status]") or "")
        w.shot("thanks")
    contact = _one(server, "SELECT id FROM onefunnel_contact WHERE email = 'ada@lovelace.example'")
    row = server.install.query(
        "SELECT kind, utm_campaign FROM onefunnel_touchpoint"
        f" WHERE contact_id = {contact} AND kind = 'form_submit'"
    )
    assert row == [("form_submit", "news")]
    # A robot filling the honeypot is thanked and nothing is written.
    robot = httpx.post(
        f"{server.base}/f/newsletter",
        data={"email": "bot@spam.example", "consent": "on", "homepage": "http://spam.example"},
    )
    assert robot.status_code == 200
    assert (
        _one(server, "SELECT COUNT(*) FROM onefunnel_contact WHERE email = 'bot@spam.example'") == 0
    )


def test_the_cli_lists_shows_and_exports_consent(server: Server) -> None:
    server.install.run(
        "forms", "create", "--name", "Whitepaper", "--slug", "whitepaper",
        "--consent-text", "=1+1 you may email me",
    )  # fmt: skip
    httpx.post(
        f"{server.base}/f/whitepaper/submit",
        json={"email": "alan@turing.example", "consent": True},
        headers={"User-Agent": "@SUM(A1:A9)"},
    ).raise_for_status()
    listed = json.loads(server.install.run("forms", "list", "-f", "json").stdout)
    assert "whitepaper" in {f["slug"] for f in listed}
    shown = json.loads(server.install.run("forms", "show", "whitepaper", "-f", "json").stdout)
    assert shown["fields"][0]["name"] == "email"
    assert shown["submissions"] == 1
    exported = server.install.run("forms", "consent", "export", "whitepaper", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert rows[0]["email"] == "alan@turing.example"
    assert rows[0]["consent_text"] == "'=1+1 you may email me"  # formula-safe
    assert rows[0]["user_agent"] == "'@SUM(A1:A9)"
    assert rows[0]["ip"] == "127.0.0.1"
    missing = server.install.run("forms", "show", "nope", check=False)
    assert missing.returncode == 4
    assert "Traceback" not in missing.stderr
    bad = server.install.run("forms", "create", "--name", "x", "--slug", "Bad Slug", check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: slug:")
