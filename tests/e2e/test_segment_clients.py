"""The real Segment and RudderStack Python SDKs against a live ``onefunnel serve``.

Each SDK lives in its own virtualenv (``analytics-python`` lineages pin clashing ``backoff``
versions), created once under ``~/.cache/onefunnel-test-venvs/`` and reused. A small script runs
in that venv as a subprocess: the SDK only learns the server's address, as a user would
configure it.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import sqlite3
import subprocess
import threading
import uuid
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ONEFUNNEL, Install
from tests.e2e.servers import free_port, wait_for

pytestmark = pytest.mark.slow

SDKS = {
    "segment": ("segment-analytics-python==2.4.0", "from segment import analytics as sdk"),
    "rudder": ("rudder-sdk-python==2.1.9", "from rudderstack import analytics as sdk"),
}
CACHE = Path(os.environ.get("ONEFUNNEL_TEST_VENVS", Path.home() / ".cache/onefunnel-test-venvs"))


def _sdk_python(name: str) -> Path:
    spec, _ = SDKS[name]
    home = CACHE / f"{name}-{spec.split('==')[1]}"
    python = home / "bin" / "python"
    if python.exists():
        return python
    venv.create(home, with_pip=True, clear=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", spec],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        python.unlink(missing_ok=True)
        pytest.skip(f"cannot install {spec} (no access to PyPI?): {done.stderr[-300:]}")
    return python


@pytest.fixture(scope="session")
def sdk_pythons() -> dict[str, Path]:
    """The interpreter of each SDK's virtualenv."""
    return {name: _sdk_python(name) for name in SDKS}


SCRIPT = """
import json, sys, uuid
{import_line}
host, key, tag, mode = sys.argv[1:5]
sdk.write_key = key
sdk.host = host
sdk.gzip = mode == "gzip"
sdk.max_retries = 5
errors = []
sdk.on_error = lambda e, batch: errors.append(str(e))
anon = "anon-" + tag
campaign = {{"name": "launch-" + tag, "source": "google", "medium": "cpc"}}
sdk.page(anonymous_id=anon, name="Home", properties={{"path": "/"}},
         context={{"campaign": campaign, "page": {{"path": "/", "url": "https://acme.io/"}}}})
sdk.page(anonymous_id=anon, name="Pricing", properties={{"path": "/pricing"}},
         context={{"page": {{"path": "/pricing"}}}})
sdk.identify(user_id="user-" + tag, anonymous_id=anon,
             traits={{"email": tag + "@acme.io", "firstName": "Ada", "title": "CTO"}})
sdk.track(user_id="user-" + tag, anonymous_id=anon, event="Demo Requested",
          properties={{"seats": 12}}, context={{"page": {{"path": "/demo"}}}})
sdk.group(user_id="user-" + tag, group_id="org-" + tag,
          traits={{"name": "Acme " + tag, "website": "https://" + tag + ".acme.io", "employees": 120}})
sdk.flush()
print(json.dumps({{"errors": errors}}))
"""


def _drive(python: Path, sdk: str, host: str, key: str, tag: str, mode: str = "plain") -> list[str]:
    script = SCRIPT.format(import_line=SDKS[sdk][1])
    done = subprocess.run(
        [str(python), "-c", script, host, key, tag, mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    errors: list[str] = json.loads(done.stdout.strip().splitlines()[-1])["errors"]
    return errors


@dataclass(frozen=True)
class Live:
    """One installation with its server running: shared by the tests of this module, which
    keep apart by using their own ids (starting a server costs more than the tests)."""

    install: Install
    base: str
    key: str
    server: subprocess.Popen[bytes]

    def expanded(self) -> None:
        """Wait until the server's inbox processor has turned every acknowledged batch into
        touchpoints (acknowledgement comes first, the touchpoints moments later)."""
        wait_for(lambda: _inbox_size(self.install) == 0, self.server)


def _inbox_size(install: Install) -> int:
    """Batches in the tracking inbox: a table on PostgreSQL, a file beside a SQLite database."""
    if install.engine != "sqlite":
        return int(install.query("SELECT COUNT(*) FROM onefunnel_inboundbatch")[0][0])
    path = install.home / "onefunnel.sqlite3-inbox.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM inbound_batch").fetchone()[0])


def _engines() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("DATABASE_URL") else ["sqlite"]


@contextmanager
def _database(engine: str, env: dict[str, str]) -> Iterator[dict[str, str]]:
    if engine == "sqlite":
        yield env
        return
    import psycopg
    from psycopg import sql

    admin = os.environ["DATABASE_URL"]
    name = f"onefunnel_sdk_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield env | {"DATABASE_URL": admin.rsplit("/", 1)[0] + "/" + name}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module", params=_engines())
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """A live server on a loopback port, its installation and a tracking write key."""
    home = tmp_path_factory.mktemp(f"sdk-{request.param}")
    base_env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    with _database(request.param, base_env | {"ONEFUNNEL_HOME": str(home)}) as env:
        install = Install(home, env, request.param)
        install.run("init")
        key = json.loads(
            install.run("keys", "create", "--scope", "tracking:write", "--format", "json").stdout
        )["key"]
        port = free_port()
        proc = subprocess.Popen(
            [ONEFUNNEL, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: httpx.get(f"{base}/api/health").status_code == 200, proc)
            yield Live(install, base, key, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _check_journey(install: Install, tag: str) -> None:
    email = f"{tag}@acme.io"
    ((contact_id, stage, first_name, account_id),) = install.query(
        f"SELECT id, stage, first_name, account_id FROM onefunnel_contact WHERE email = '{email}'"
    )
    assert (stage, first_name) == ("intent", "Ada")
    touches = install.query(
        "SELECT t.kind, t.channel, c.utm_campaign, c.planned, t.account_id, t.anonymous_id "
        f"FROM onefunnel_touchpoint t LEFT JOIN onefunnel_campaign c ON c.id = t.campaign_id "
        f"WHERE t.contact_id = {contact_id} ORDER BY t.occurred_at, t.id"
    )
    kinds = [t[0] for t in touches]
    # the two anonymous page views were merged into the contact on identify; identify and
    # group updated the profile and account and are not touches
    assert kinds == ["page_view", "high_intent_page", "hand_raise"]
    assert touches[0][5] == f"anon-{tag}"
    # one session: only the landing page carried UTM tags, every touch has its source
    assert {t[1:4] for t in touches} == {("paid_search", f"launch-{tag}", False)}
    raw = install.query(
        f"SELECT utm_campaign FROM onefunnel_touchpoint WHERE contact_id = {contact_id} "
        "ORDER BY occurred_at, id"
    )
    assert [r[0] for r in raw][:3] == [f"launch-{tag}", "", ""]
    profile = install.query(
        f"SELECT type FROM onefunnel_profilemessage WHERE contact_id = {contact_id} ORDER BY id"
    )
    assert [p[0] for p in profile][:2] == ["identify", "group"]
    ((domain, name, employees),) = install.query(
        f"SELECT domain, name, employee_count FROM onefunnel_account WHERE id = {account_id}"
    )
    assert (domain, name, employees) == (f"{tag}.acme.io", f"Acme {tag}", 120)
    assert {t[4] for t in touches} == {account_id}
    assert install.query(
        f"SELECT COUNT(*) FROM onefunnel_touchpoint WHERE anonymous_id = 'anon-{tag}' "
        "AND contact_id IS NULL"
    ) == [(0,)]


@pytest.mark.parametrize(("sdk", "mode"), [("segment", "plain"), ("rudder", "gzip")])
def test_sdk_sends_a_journey(live: Live, sdk_pythons: dict[str, Path], sdk: str, mode: str) -> None:
    install, base, key = live.install, live.base, live.key
    assert _drive(sdk_pythons[sdk], sdk, base, key, sdk, mode) == []
    live.expanded()
    _check_journey(install, sdk)
    # the same journey again (new message ids): new touches, still one contact
    mine = (
        "SELECT COUNT(*) FROM onefunnel_touchpoint WHERE contact_id = "
        f"(SELECT id FROM onefunnel_contact WHERE email = '{sdk}@acme.io')"
    )
    before = install.query(mine)
    assert _drive(sdk_pythons[sdk], sdk, base, key, sdk, mode) == []
    live.expanded()
    assert install.query(mine)[0][0] == before[0][0] + 3
    assert install.query(
        f"SELECT COUNT(*) FROM onefunnel_contact WHERE email = '{sdk}@acme.io'"
    ) == [(1,)]


class _FlakyProxy(http.server.ThreadingHTTPServer):
    """Forwards to the server, but answers 500 to the first request *after* it was stored:
    the acknowledgement is lost, so the client resends a batch the server already has."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.failures_left = 1
        self.requests = 0
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: _FlakyProxy

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
        }
        upstream = httpx.post(self.server.target + self.path, content=body, headers=headers)
        self.server.requests += 1
        status, payload = upstream.status_code, upstream.content
        if self.server.failures_left > 0:
            self.server.failures_left -= 1
            status, payload = 500, b'{"code": "internal", "message": "proxy lost the answer"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return


@pytest.mark.parametrize("sdk", ["segment", "rudder"])
def test_a_lost_acknowledgement_and_retry_store_one_copy(
    live: Live, sdk_pythons: dict[str, Path], sdk: str
) -> None:
    install, base, key = live.install, live.base, live.key
    proxy = _FlakyProxy(base)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"http://127.0.0.1:{proxy.server_address[1]}"
        assert _drive(sdk_pythons[sdk], sdk, host, key, f"{sdk}-retry") == []
    finally:
        proxy.shutdown()
    assert proxy.requests >= 2  # the client did resend
    live.expanded()
    _check_journey(install, f"{sdk}-retry")  # exactly three touches: one copy of each call


def test_hostile_bodies_get_4xx_write_nothing_and_the_server_lives(live: Live) -> None:
    install, base, key = live.install, live.base, live.key
    page = {"type": "page", "anonymousId": "hostile", "messageId": "hostile-1"}
    good = json.dumps({"batch": [page]}).encode()
    count = "SELECT COUNT(*) FROM onefunnel_touchpoint WHERE anonymous_id = 'hostile'"
    cases = [
        (b"\x00\xffgarbage", {}, key, 400),
        (good, {}, "of_not-a-key", 401),
        (gzip.compress(good)[:-10], {"Content-Encoding": "gzip"}, key, 400),
        (b"[" * 10_000 + b"]" * 10_000, {}, key, 400),
        (b'{"batch": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", {}, key, 400),
        (b"x" * 600_000, {}, key, 413),
    ]
    with httpx.Client(base_url=base, timeout=30) as client:
        for body, headers, secret, status in cases:
            response = client.post("/v1/batch", content=body, headers=headers, auth=(secret, ""))
            assert response.status_code == status, response.text
            assert set(response.json()) >= {"code", "message"}
        assert client.get("/api/health").status_code == 200
        assert install.query(count) == [(0,)]
        assert _inbox_size(install) == 0
        ok = client.post("/v1/batch", content=good, auth=(key, ""))
        assert ok.status_code == 200
    live.expanded()
    assert install.query(count) == [(1,)]


ABSURD_SCRIPT = """
import datetime, json, sys
{import_line}
host, key, tag = sys.argv[1:4]
sdk.write_key = key
sdk.host = host
sdk.max_retries = 2
errors = []
sdk.on_error = lambda e, batch: errors.append(str(e))
minus5 = datetime.timezone(datetime.timedelta(hours=-5))
sdk.track(anonymous_id="absurd-" + tag, event="Good Before")
sdk.track(anonymous_id="absurd-" + tag, event="Far Future",
          timestamp=datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=minus5))
sdk.track(anonymous_id="absurd-" + tag, event="Year One",
          timestamp=datetime.datetime(1, 1, 1, 0, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=5))))
sdk.track(anonymous_id="absurd-" + tag, event="Good After")
sdk.flush()
print(json.dumps({{"errors": errors}}))
"""


@pytest.mark.parametrize("sdk", ["segment", "rudder"])
def test_an_absurd_timestamp_costs_only_its_own_message(
    live: Live, sdk_pythons: dict[str, Path], sdk: str
) -> None:
    script = ABSURD_SCRIPT.format(import_line=SDKS[sdk][1])
    done = subprocess.run(
        [str(sdk_pythons[sdk]), "-c", script, live.base, live.key, sdk],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # the batch was answered 200 (the bad messages listed as rejected): nothing to retry
    assert json.loads(done.stdout.strip().splitlines()[-1])["errors"] == []
    live.expanded()
    stored = live.install.query(
        "SELECT properties FROM onefunnel_touchpoint "
        f"WHERE anonymous_id = 'absurd-{sdk}' ORDER BY occurred_at, id"
    )
    events = sorted((json.loads(p) if isinstance(p, str) else p)["event"] for (p,) in stored)
    assert events == ["Good After", "Good Before"]
