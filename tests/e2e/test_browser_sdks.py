"""The real browser SDKs against a live ``onefunnel serve``, from a web site on a second origin.

Segment's analytics.js (``@segment/analytics-next``) and RudderStack's JS SDK v3
(``@rudderstack/analytics-js``) are vendored from npm in ``tests/fixtures/sdk/`` (see its
README). A small web site — a landing page per SDK and the SDKs' files — is served by a local
HTTP server on another loopback port, so every request to onefunnel is cross-origin, with the
SDKs' own CORS preflights. Headless Chromium opens the landing page with UTM parameters (the
visit), clicks a button (a track) and signs up (an identify); the touches must arrive in
onefunnel attributed to the campaign. The same page served from an origin that is not on the
key's list (``localhost`` instead of ``127.0.0.1``: another origin) is refused.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.browser import ARGS, CHROMIUM, LOOPBACK_ONLY, need_chromium, watched_page
from tests.e2e.conftest import ONEFUNNEL, Install
from tests.e2e.servers import WebSite, free_port, wait_for

pytestmark = pytest.mark.slow

SDK = Path(__file__).parents[1] / "fixtures" / "sdk"
CAMPAIGN = "spring-launch"
UTM = f"utm_source=google&utm_medium=cpc&utm_campaign={CAMPAIGN}&utm_content=hero"

#: The landing page: the SDK's file, two buttons, and the SDK's set-up and calls.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Acme: spring launch</title>
<script src="{src}"></script></head>
<body><h1>Acme</h1>
<button id="pricing">See pricing</button> <button id="signup">Sign up</button>
<script>
const cfg = {config};
window.delivered = [];
{script}
</script></body></html>
"""

SEGMENT = """
const note = (what) => (ctx) => window.delivered.push([what, ctx.failedDelivery() ? 'failed' : 'ok']);
// What a site sends with: the write key, and onefunnel as the API host (its /v1/m metrics too).
const segment = {apiKey: cfg.key, apiHost: cfg.api, protocol: 'http'};
const analytics = AnalyticsNext.AnalyticsBrowser.load(
  {writeKey: cfg.key, cdnURL: cfg.site, cdnSettings: {integrations: {'Segment.io': segment}}},
  {integrations: {'Segment.io': {apiHost: cfg.api, protocol: 'http'}}},
);
analytics.page('Landing').then(note('page'));
document.getElementById('pricing').onclick = () =>
  analytics.track('Pricing Clicked', {plan: 'team'}).then(note('track'));
document.getElementById('signup').onclick = () =>
  analytics.identify(cfg.user, {email: cfg.email, firstName: 'Ada'}).then(note('identify'));
"""

RUDDER = """
const rudder = new rudderanalytics.RudderAnalytics();
const queued = (what) => () => window.delivered.push([what, 'queued']);
// No control plane: the source configuration is given here (no destinations, plain delivery).
const source = {id: 'onefunnel', name: 'website', workspaceId: 'onefunnel', enabled: true,
                config: {}, destinations: []};
rudder.load(cfg.key, cfg.dataPlane, {
  getSourceConfig: () => ({source}),
  polyfillIfRequired: false,
  useBeacon: cfg.beacon,
  beaconQueueOptions: {flushQueueInterval: 200},
});
rudder.page('Landing', {}, queued('page'));
document.getElementById('pricing').onclick = () =>
  rudder.track('Pricing Clicked', {plan: 'team'}, queued('track'));
document.getElementById('signup').onclick = () =>
  rudder.identify(cfg.user, {email: cfg.email, firstName: 'Ada'}, queued('identify'));
"""


class _Site(WebSite):
    """The web site: the landing pages (made per request from the query's ``sdk``) and the
    vendored SDK files."""

    config: dict[str, Any] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server calls it so)
        path = self.path.split("?", 1)[0]
        if path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        if path in ("/segment.html", "/rudderstack.html", "/rudderstack-beacon.html"):
            host = self.headers.get("Host", "")
            config = {**self.config, "site": f"http://{host}"}
            config["beacon"] = path == "/rudderstack-beacon.html"
            segment = path == "/segment.html"
            page = PAGE.format(
                src="/analytics-next/bundles/index.js" if segment else "/rudderstack/rsa.js",
                config=json.dumps(config),
                script=SEGMENT if segment else RUDDER,
            )
            self.send_page(page.encode())
            return
        self.send_script(SDK if path.startswith("/rudderstack/") else SDK / "segment", path)


@dataclass(frozen=True)
class Live:
    """onefunnel serving on one loopback port, the web site on another."""

    install: Install
    api: str
    site: str
    server: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A live onefunnel (SQLite) with a browser key for the site's origin, and the site."""
    need_chromium()
    home = tmp_path_factory.mktemp("browser-sdks")
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    install = Install(home, env | {"ONEFUNNEL_HOME": str(home)}, "sqlite")
    install.run("init")
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    site_origin = f"http://127.0.0.1:{site.server_address[1]}"
    created = install.run(
        "keys", "create", "--scope", "tracking:write", "--name", "website",
        "--origin", site_origin, "--origin", "https://www.example.com", "--format", "json",
    )  # fmt: skip
    key = json.loads(created.stdout)["key"]
    port = free_port()
    log = home / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [ONEFUNNEL, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=install.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    api = f"127.0.0.1:{port}"
    _Site.config = {
        "key": key,
        "api": f"{api}/v1",
        "dataPlane": f"http://{api}",
        "user": "user-42",
        "email": "ada@acme.io",
    }
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        wait_for(lambda: httpx.get(f"http://{api}/api/health").status_code == 200, proc)
        yield Live(install, f"http://{api}", site_origin, proc, log)
    finally:
        site.shutdown()
        proc.terminate()
        proc.wait(timeout=30)


def _touches(install: Install, email: str) -> list[tuple[Any, ...]]:
    return install.query(
        "SELECT t.kind, t.utm_campaign, t.utm_source, c.utm_campaign, t.channel "
        "FROM onefunnel_touchpoint t "
        "JOIN onefunnel_contact p ON p.id = t.contact_id "
        "LEFT JOIN onefunnel_campaign c ON c.id = t.campaign_id "
        f"WHERE p.email = '{email}' ORDER BY t.occurred_at, t.id"
    )


def _wait(check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def _visit_click_identify(live: Live, page_name: str, email: str) -> None:
    _Site.config["email"] = email
    _Site.config["user"] = "user-" + email.split("@")[0]
    with watched_page(live.site, f"sdk-{page_name}", also=[live.api + "/"]) as watched:
        page = watched.page
        page.goto(f"{live.site}/{page_name}.html?{UTM}")
        page.wait_for_function("window.delivered.length >= 1", timeout=20_000)
        page.click("#pricing")
        page.wait_for_function("window.delivered.length >= 2", timeout=20_000)
        page.click("#signup")
        page.wait_for_function("window.delivered.length >= 3", timeout=20_000)
        delivered = page.evaluate("window.delivered")
        assert [d[0] for d in delivered] == ["page", "track", "identify"]
        assert all(d[1] in ("ok", "queued") for d in delivered), delivered
        # Stay on the page until onefunnel has the touches (RudderStack sends from a queue).
        touches = _wait(lambda: len(_touches(live.install, email)) >= 2)
        assert touches, f"no touches arrived for {email}"
        watched.shot("done")


@pytest.mark.parametrize("sdk", ["segment", "rudderstack", "rudderstack-beacon"])
def test_a_visit_a_click_and_an_identify_arrive_attributed_to_the_campaign(
    live: Live, sdk: str
) -> None:
    email = f"{sdk.replace('-', '.')}@acme.io"
    _visit_click_identify(live, sdk, email)
    touches = _touches(live.install, email)
    kinds = [t[0] for t in touches]
    assert "page_view" in kinds
    assert len(touches) == 2  # the visit and the click; the identify is no touch
    for _kind, utm_campaign, utm_source, campaign, channel in touches:
        assert (utm_campaign, utm_source, campaign) == (CAMPAIGN, "google", CAMPAIGN)
        assert channel == "paid_search"
    ((first_name,),) = live.install.query(
        f"SELECT first_name FROM onefunnel_contact WHERE email = '{email}'"
    )
    assert first_name == "Ada"
    if sdk != "rudderstack-beacon":  # a beacon is never preflighted
        # The SDK's preflights reached onefunnel and were answered (not faked by the browser).
        assert '"OPTIONS /v1/' in live.log.read_text()
        assert " 204 " in live.log.read_text()


def test_a_page_on_an_origin_not_on_the_key_is_refused(live: Live) -> None:
    """``localhost`` is another origin than ``127.0.0.1``: the preflight is refused, nothing
    arrives, and the server says so in its log."""
    from playwright.sync_api import sync_playwright

    other = live.site.replace("127.0.0.1", "localhost")
    email = "refused@acme.io"
    _Site.config["email"] = email
    problems: list[str] = []
    with sync_playwright() as pw:
        args = [*ARGS, LOOPBACK_ONLY]
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
        # Watched, not intercepted: with a route set, Playwright would answer the preflight.
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith((other + "/", live.api + "/"))
                else problems.append(f"request to another host: {r.url}")
            ),
        )
        page.goto(f"{other}/segment.html?{UTM}")
        page.click("#pricing")
        page.click("#signup")
        _wait(lambda: any("CORS" in p or "failed" in p for p in problems), timeout=20)
        browser.close()
    assert not any("another host" in p for p in problems), problems
    assert any(live.api in p for p in problems), problems  # the requests to onefunnel failed
    assert _wait(lambda: f"refused CORS preflight from origin {other}" in live.log.read_text()), (
        live.log.read_text()
    )
    time.sleep(1)
    assert (
        live.install.query(f"SELECT COUNT(*) FROM onefunnel_contact WHERE email = '{email}'")[0][0]
        == 0
    )
    assert _touches(live.install, email) == []
