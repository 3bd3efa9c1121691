"""Real-browser tests' shared parts: one onefunnel server per test module (a small demo
company, on SQLite), and a Chromium page that fails the test on any console error, page error,
failed request, error response or request to another host, and keeps a screenshot of each
page it is told to (under ``$ONEFUNNEL_ARTIFACTS``, default ``tests/artifacts/``, ignored by
git)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ONEFUNNEL, Install
from tests.e2e.servers import free_port, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("ONEFUNNEL_ARTIFACTS") or Path(__file__).parents[1] / "artifacts")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: Chromium resolves no host name but loopback's (for pages whose requests are not intercepted).
LOOPBACK_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"


def need_chromium() -> None:
    """Skip (fail on CI) when Debian's Chromium is not installed."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (scripts/system-deps.sh installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")


@dataclass
class Server:
    """A running onefunnel: its address and its installation."""

    base: str
    install: Install


@contextmanager
def demo_server(
    home: Path, *, size: str = "small", env: Mapping[str, str] | None = None
) -> Iterator[Server]:
    """Init, load the demo company and serve it on a free loopback port, until the block ends.
    ``env`` adds settings; ``ONEFUNNEL_PUBLIC_URL`` is the server's own address."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environ = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
        },
        "ONEFUNNEL_PUBLIC_URL": base,
        **(env or {}),
    }
    environ["ONEFUNNEL_HOME"] = str(home)
    environ["ONEFUNNEL_DEMO_PASSWORD"] = DEMO_PASSWORD
    install = Install(home, environ, "sqlite")
    install.run("init", "--admin-username", "rev", "--admin-password", "ops-team-2026")
    install.run("demo", "--size", size)
    proc = subprocess.Popen(
        [ONEFUNNEL, "serve", "--port", str(port)],
        cwd=home,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: httpx.get(f"{base}/api/health", timeout=2).status_code == 200, proc)
        yield Server(base, install)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


#: The demo staff's shared password, chosen through ONEFUNNEL_DEMO_PASSWORD (never kept).
DEMO_PASSWORD = "demo-staff-2026"


def demo_password(home: Path) -> str:
    """The demo staff's shared password (the server's environment chose it)."""
    return DEMO_PASSWORD


@dataclass
class Watched:
    """A browser page and everything that went wrong on it."""

    page: Any
    name: str
    base: str
    problems: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    def shot(self, label: str) -> Path:
        """Save a full-page screenshot as an artifact."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path


@contextmanager
def watched_page(
    base: str, name: str, *, width: int = 1200, height: int = 900, also: Sequence[str] = ()
) -> Iterator[Watched]:
    """A Chromium page on ``base``; the test fails at the end of the block if the page logged a
    console error, threw, had a request fail or answered >= 400, or asked another host than
    ``base`` and the origins in ``also`` (e.g. a second loopback origin serving a web site).

    With ``also``, requests are watched, not intercepted: while any route is set, Playwright
    answers CORS preflights itself, and a cross-origin test must see the server's answers. The
    browser then resolves no host name but loopback's, so nothing can leave the machine.
    """
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        args = [*ARGS, LOOPBACK_ONLY] if also else ARGS
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        page = browser.new_page(viewport={"width": width, "height": height})
        watched = Watched(page, name, base)
        problems = watched.problems
        allowed = (base, "data:", *also)

        def route(r: Any) -> None:
            if r.request.url.startswith(allowed):
                r.continue_()
            else:
                problems.append(f"request to another host: {r.request.url}")
                r.abort()

        def watch(r: Any) -> None:
            if not r.url.startswith(allowed):
                problems.append(f"request to another host: {r.url}")

        if also:
            page.on("request", watch)
        else:
            page.route("**/*", route)
        page.on(
            "console",
            lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

        def failed(r: Any) -> None:
            # Chromium asks for the favicon after the page has loaded and cancels the request
            # (net::ERR_ABORTED) when the test navigates on at once: not a failure of the page.
            if r.failure == "net::ERR_ABORTED" and r.url.endswith("/favicon.svg"):
                return
            problems.append(f"request failed: {r.url} {r.failure}")

        page.on("requestfailed", failed)
        page.on(
            "response",
            lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        try:
            yield watched
        finally:
            browser.close()
        assert not problems, "\n".join(problems)
