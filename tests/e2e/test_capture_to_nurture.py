"""Marketing's whole loop on the demo company, with every real part: a web site on a second
origin with Segment's analytics.js (vendored from npm) and onefunnel's embedded form, headless
Chromium, ``onefunnel serve``, and a real SMTP server (aiosmtpd on loopback).

A visitor lands from an ad (UTM parameters; the SDK sends the visit), asks for a demo through the
embedded form, and is handed to a rep. The rep rejects the lead ``not_now``; the rejection enrolls
it in the nurture sequence, whose email arrives on the SMTP server. The lead clicks the email's
link (an email click is recorded on the sequence's campaign), lands on the site again, asks for a
demo once more, and is back in a rep's queue, linked to the handoff that was rejected.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browser import Server, demo_password, demo_server, need_chromium, watched_page
from tests.e2e.servers import WebSite, free_port
from tests.mail_server import Inbox, smtp_server

pytestmark = pytest.mark.slow

SEGMENT = Path(__file__).parents[1] / "fixtures" / "sdk" / "segment"
AD = "utm_source=linkedin&utm_medium=paid_social&utm_campaign=loop-spring-ad"
EMAIL = "ada.loop@lovelace.example"
SEQUENCE = {
    "name": "Not now: the guide, then a check-in",
    "from_email": "marketing@onefunnel.example",
    "from_name": "Acme marketing",
    "entry_reasons": ["not_now"],
    "steps": [
        {
            "wait_days": 0,
            "subject": "The guide you asked about, {{ contact.first_name }}",
            "html": '<p>Hi {{ contact.first_name }},</p><p><a href="{landing}">See what is new'
            "</a></p>",
            "text": "Hi {{ contact.first_name }}, see what is new: {landing}",
        },
        {"wait_days": 7, "subject": "Still curious?", "html": "<p>Ask us.</p>", "text": "Ask us."},
    ],
}

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Acme: what is new</title>
<script src="/analytics-next/bundles/index.js"></script></head>
<body><h1>Acme</h1>
<div data-onefunnel-form="loop-demo"></div>
<script>
const cfg = {config};
window.delivered = [];
const segment = {{apiKey: cfg.key, apiHost: cfg.api, protocol: 'http'}};
const analytics = AnalyticsNext.AnalyticsBrowser.load(
  {{writeKey: cfg.key, cdnURL: cfg.site, cdnSettings: {{integrations: {{'Segment.io': segment}}}}}},
  {{integrations: {{'Segment.io': {{apiHost: cfg.api, protocol: 'http'}}}}}},
);
analytics.page().then((ctx) => window.delivered.push(ctx.failedDelivery() ? 'failed' : 'ok'));
</script>
<script src="{onefunnel}/static/onefunnel/forms-embed.js" async></script>
</body></html>
"""


class _Site(WebSite):
    """The company's web site: the landing page and analytics.js's files."""

    config: dict[str, Any] = {}
    onefunnel = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server calls it so)
        path = self.path.split("?", 1)[0]
        if path == "/whats-new":
            config = {**self.config, "site": f"http://{self.headers.get('Host', '')}"}
            self.send_page(
                PAGE.format(config=json.dumps(config), onefunnel=self.onefunnel).encode()
            )
            return
        self.send_script(SEGMENT, path)


@dataclass(frozen=True)
class World:
    """The demo served by onefunnel, the company's site, and the SMTP server's inbox."""

    server: Server
    site: str
    inbox: Inbox


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    need_chromium()
    with smtp_server() as (inbox, smtp_port):
        home = tmp_path_factory.mktemp("capture-to-nurture")
        env = {"EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}"}
        with demo_server(home, env=env) as server:
            handler = type("Site", (_Site,), {"onefunnel": server.base})
            site = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
            origin = f"http://127.0.0.1:{site.server_address[1]}"
            key = server.install.run(
                "keys", "create", "--scope", "tracking:write", "--name", "website",
                "--origin", origin,
            ).stdout.strip()  # fmt: skip
            handler.config = {"key": key, "api": server.base.removeprefix("http://") + "/v1"}
            server.install.run(
                "forms", "create", "--name", "Request a demo", "--slug", "loop-demo",
                "--field", "first_name:First name::required", "--field", "company:Company",
                "--hand-raise", "--origin", origin,
                "--consent-text", "Acme may contact me about my demo request.",
            )  # fmt: skip
            # The sequence runs under one of the demo's email campaigns.
            ((campaign,),) = server.install.query(
                "SELECT utm_campaign FROM onefunnel_campaign WHERE channel = 'email' "
                "ORDER BY id LIMIT 1"
            )
            steps = json.dumps({**SEQUENCE, "campaign": campaign})
            steps = steps.replace("{landing}", f"{origin}/whats-new")
            sequence = home / "sequence.json"
            sequence.write_text(steps)
            server.install.run("sequences", "create", str(sequence))
            thread = threading.Thread(target=site.serve_forever, daemon=True)
            thread.start()
            try:
                yield World(server, origin, inbox)
            finally:
                site.shutdown()
                site.server_close()


def _rows(world: World, sql: str) -> list[tuple[Any, ...]]:
    return world.server.install.query(sql)


def _wait(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)
    return result


def _ask_for_a_demo(page: Any) -> None:
    page.wait_for_function("window.delivered.length >= 1", timeout=20_000)
    assert page.evaluate("window.delivered") == ["ok"]  # the SDK delivered the visit
    page.wait_for_selector("form.of-form")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=first_name]", "Ada")
    page.fill("input[name=company]", "Analytical Engines")
    page.check("input[name=consent]")
    page.click("form.of-form button[type=submit]")
    page.wait_for_selector(".of-thanks")


def _pending(world: World, contact: int) -> list[tuple[Any, ...]]:
    return _rows(
        world,
        "SELECT h.id, u.username, h.previous_id FROM onefunnel_handoff h "
        f"LEFT JOIN auth_user u ON u.id = h.owner_id WHERE h.contact_id = {contact} "
        "AND h.status = 'pending' ORDER BY h.id",
    )


def test_from_an_ad_to_a_rep_to_nurture_by_email_and_back_to_a_rep(world: World) -> None:
    server, install = world.server, world.server.install
    with watched_page(server.base, "loop", also=[world.site + "/"]) as watched:
        page = watched.page
        # 1. The visit from the ad, then the demo request through the embedded form.
        page.goto(f"{world.site}/whats-new?{AD}")
        _ask_for_a_demo(page)
        watched.shot("asked-for-a-demo")
        ((contact,),) = _rows(world, f"SELECT id FROM onefunnel_contact WHERE email = '{EMAIL}'")
        visit = _wait(
            lambda: _rows(
                world,
                "SELECT t.channel, c.utm_campaign FROM onefunnel_touchpoint t JOIN "
                "onefunnel_campaign c ON c.id = t.campaign_id WHERE t.kind = 'page_view' "
                f"AND t.contact_id = {contact}",
            ),
            "the SDK's page view joined to the contact",
        )
        assert visit[0] == ("paid_social", "loop-spring-ad")
        ((first, rep, previous),) = _pending(world, contact)
        assert previous is None
        assert rep, "the demo request was routed to a rep"

        # 2. The rep rejects it: not now. The rejection enrolls the lead in the sequence.
        install.run("handoffs", "reject", str(first), "--reason", "not_now", "--as", rep)
        assert _rows(world, f"SELECT stage FROM onefunnel_contact WHERE id = {contact}") == [
            ("nurture",)
        ]
        sent = json.loads(install.run("sequences", "send-due", "--format", "json").stdout)
        assert sent["sent"] >= 1, sent
        # The demo's own nurture sequence takes not-now rejections too: one email from each.
        to_lead = [m for m in world.inbox.received if EMAIL in m.rcpt_tos]
        assert len(to_lead) == 2
        mail = [m for m in to_lead if SEQUENCE["from_email"] in m.message["From"]]
        assert len(mail) == 1
        message = mail[0].message
        assert message["Subject"] == "The guide you asked about, Ada"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        html = mail[0].part("text/html")
        (tracked,) = re.findall(r'href="([^"]*/email/click/[^"]+)"', html)
        assert tracked.startswith(server.base)

        # 3. The lead clicks through the email to the site, and asks for a demo again.
        page.goto(tracked.replace("&amp;", "&"))
        page.wait_for_url(f"{world.site}/whats-new**")
        _ask_for_a_demo(page)
        watched.shot("asked-again")
    clicks = _rows(
        world,
        "SELECT t.channel, c.utm_campaign FROM onefunnel_touchpoint t JOIN onefunnel_campaign c "
        f"ON c.id = t.campaign_id WHERE t.kind = 'email_click' AND t.contact_id = {contact}",
    )
    ((campaign,),) = _rows(
        world,
        "SELECT c.utm_campaign FROM onefunnel_sequence s JOIN onefunnel_campaign c "
        f"ON c.id = s.campaign_id WHERE s.name = '{SEQUENCE['name']}'",
    )
    assert clicks == [("email", campaign)]

    # 4. Back with sales: a new handoff, linked to the rejected one, in its rep's queue.
    ((second, owner, previous),) = _pending(world, contact)
    assert second != first
    assert previous == first
    with watched_page(server.base, "loop-queue") as watched:
        page = watched.page
        page.goto(server.base + "/login?next=/queue")
        page.fill("#id_username", owner)
        page.fill("#id_password", demo_password(install.home))
        page.click("button[type=submit]")
        page.wait_for_url(server.base + "/queue")
        item = page.text_content(f"#handoff-{second}") or ""
        assert f"Recycled: handoff #{first} was rejected (not_now" in item, item
        watched.shot("back-in-the-queue")
