"""Hostile input on ``/api/``: schemathesis (4.x) generates requests from ``/api/openapi.json``
against a live ``onefunnel serve``, signed in as an admin (who may call every operation), with
a bounded number of examples per operation. No answer may be a 5xx, and every answer must be
one the operation documents: its status, its content type and its schema.

A few records are created first (ids 1) so that generated ids reach real records, not only 404s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ONEFUNNEL, Install
from tests.e2e.servers import free_port, wait_for

pytestmark = pytest.mark.slow

ADMIN, PASSWORD = "fuzz-admin", "fuzz-password-7f3a1c"
#: Examples per operation and phase: 82 operations x (coverage + fuzzing) stays near two
#: minutes on a busy 2-core machine. ONEFUNNEL_FUZZ_EXAMPLES raises it for a longer hunt.
EXAMPLES = int(os.environ.get("ONEFUNNEL_FUZZ_EXAMPLES", "8"))
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


@pytest.fixture
def live(install: Install) -> Iterator[tuple[str, httpx.Client, Path]]:
    """A live server on the install's database and a client signed in as an admin."""
    if install.engine == "sqlite" and os.environ.get("DATABASE_URL"):
        pytest.skip("with DATABASE_URL this run fuzzes PostgreSQL; the SQLite run covers SQLite")
    env = install.env | {"ONEFUNNEL_ADMIN_USERNAME": ADMIN, "ONEFUNNEL_ADMIN_PASSWORD": PASSWORD}
    Install(install.home, env, install.engine).run("init")
    port = free_port()
    log = (install.home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [ONEFUNNEL, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=install.home,
        env=install.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/api/health").status_code == 200, proc, timeout=180)
        with httpx.Client(base_url=base, timeout=60) as client:
            client.get("/login")
            signed_in = client.post(
                "/login",
                data={
                    "username": ADMIN,
                    "password": PASSWORD,
                    "csrfmiddlewaretoken": client.cookies["csrftoken"],
                },
                headers={"Referer": f"{base}/login"},
            )
            assert signed_in.status_code == 302, signed_in.text[:300]
            client.headers.update({"X-CSRFToken": client.cookies["csrftoken"], "Referer": base})
            yield base, client, install.home / "serve.log"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _seed(client: httpx.Client) -> None:
    """One account, contact, campaign and deal, each id 1 on a fresh database."""
    created = [
        client.post("/api/accounts", json={"name": "Acme", "domain": "acme.example"}),
        client.post("/api/contacts", json={"email": "ada@acme.example", "account_id": 1}),
        client.post("/api/campaigns", json={"channel": "paid_search", "utm_campaign": "spring"}),
        client.post("/api/deals", json={"account_id": 1, "name": "Acme", "amount": "1200"}),
    ]
    assert [r.status_code for r in created] == [201] * 4, [r.text[:200] for r in created]


def test_no_generated_request_gets_a_5xx_or_an_undocumented_answer(
    live: tuple[str, httpx.Client, Path],
) -> None:
    base, client, log = live
    _seed(client)
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    command = [
        SCHEMATHESIS,
        "run",
        f"{base}/api/openapi.json",
        "--header",
        f"Cookie: {cookie}",
        "--header",
        f"X-CSRFToken: {client.cookies['csrftoken']}",
        "--header",
        f"Referer: {base}/",
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--checks",
        CHECKS,
        # One worker: with two threads, Hypothesis's lambda-source cache (``AST_LAMBDAS_CACHE``,
        # not thread-safe) raced and schemathesis reported a "Runtime Error" while generating
        # (a KeyError inside Hypothesis), failing the run with every request passing.
        "--workers",
        "1",
        "--seed",
        os.environ.get("ONEFUNNEL_FUZZ_SEED", "20261204"),
        "--no-shrink",
        "--request-timeout",
        "60",
    ]
    # run in the temporary home: schemathesis keeps a cache directory where it runs
    result = subprocess.run(
        command, cwd=log.parent, capture_output=True, text=True, timeout=1500, check=False
    )
    print(result.stdout[-1500:])  # the run's summary, with -s
    if result.returncode != 0:
        # What failed (schemathesis's report from its first failure on) and the server's own
        # tracebacks, in the assertion message: the temporary home is gone after the run.
        text = result.stdout
        starts = [i for i in (text.find("FAILURES"), text.find("ERRORS")) if i >= 0]
        report = text[min(starts) :][:20_000] if starts else text[-6000:]
        server = log.read_text(errors="replace")
        tracebacks = "\n".join(
            chunk[:3000] for chunk in server.split("Traceback (most recent call last):")[1:][:5]
        )
        pytest.fail(
            f"schemathesis found failures:\n{report}\n--- server tracebacks ---\n{tracebacks}"
        )
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert tested is not None, result.stdout[-3000:]
    assert int(tested.group(1)) >= 50, result.stdout[-3000:]  # the whole API, not a part
