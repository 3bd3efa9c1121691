"""The dashboard in a real headless browser: log in, see the funnel, its chart and the report
panels drawn, switch the attribution model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ONEFUNNEL, Install
from tests.e2e.servers import free_port, wait_for

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def server(install: Install) -> Iterator[str]:
    install.run("init", "--admin-username", "rev", "--admin-password", "ops-team-2026")
    install.run("demo", "--size", "small")
    port = free_port()
    proc = subprocess.Popen(
        [ONEFUNNEL, "serve", "--port", str(port)],
        cwd=install.home,
        env=install.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/api/health", timeout=2).status_code == 200, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_login_and_see_the_funnel_chart(server: str, install: Install, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (scripts/system-deps.sh installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server + "/")
        assert "/admin/login/" in page.url
        page.fill("#id_username", "rev")
        page.fill("#id_password", "ops-team-2026")
        page.click("input[type=submit]")
        page.wait_for_url(server + "/")
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
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        browser.close()
