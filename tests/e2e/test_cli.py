"""The CLI as a user runs it: init, demo, status, contact, serve — and its errors."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from tests.e2e.conftest import ONEFUNNEL, Install
from tests.e2e.servers import free_port, wait_for

pytestmark = pytest.mark.slow

NINE_STATES = [
    "awareness", "consideration", "intent", "conversion", "retain", "grow",
    "nurture", "disqualified", "churned",
]  # fmt: skip


def test_init_demo_status_match_the_database(install: Install) -> None:
    install.run("init", "--admin-username", "ada", "--admin-password", "correct-horse-9")
    assert install.query("SELECT is_superuser FROM auth_user WHERE username = 'ada'") == [(True,)]
    install.run("demo", "--size", "small", "--seed", "7")
    status = json.loads(install.run("status", "--format", "json").stdout)

    assert status["contacts"] == install.query("SELECT COUNT(*) FROM onefunnel_contact")[0][0]
    assert status["accounts"] == install.query("SELECT COUNT(*) FROM onefunnel_account")[0][0]
    assert status["touchpoints"] == install.query("SELECT COUNT(*) FROM onefunnel_touchpoint")[0][0]
    assert status["deals"] == install.query("SELECT COUNT(*) FROM onefunnel_deal")[0][0]
    per_stage = dict(install.query("SELECT stage, COUNT(*) FROM onefunnel_contact GROUP BY stage"))
    assert list(status["stages"])[:9] == NINE_STATES
    for state in NINE_STATES:
        assert status["stages"][state] == per_stage.get(state, 0)
    assert sum(status["stages"].values()) == status["contacts"]
    assert status["contacts"] > 500
    assert status["touchpoints"] > 10_000

    table = install.run("status").stdout
    assert "intent" in table
    assert f"{status['contacts']:,}" in table


def test_contact_profile_lists_history_in_time_order(install: Install) -> None:
    install.run("demo", "--size", "small")
    (email,) = install.query(
        "SELECT c.email FROM onefunnel_contact c WHERE c.stage = 'conversion' AND c.email IS NOT NULL "
        "ORDER BY c.id LIMIT 1"
    )[0]
    profile = json.loads(install.run("contact", email, "--format", "json").stdout)
    assert profile["email"] == email
    assert profile["stage"] == "conversion"
    history = profile["stage_history"]
    assert history[-1]["to_stage"] == "conversion"
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    touches = [t["occurred_at"] for t in profile["touches"]]
    assert touches == sorted(touches)
    assert touches
    assert all(t["description"] for t in profile["touches"])


def test_bad_input_gives_one_line_and_a_non_zero_exit(install: Install) -> None:
    missing = install.run("contact", "nobody@nowhere.example", check=False)
    assert missing.returncode == 4  # not found (README: exit codes)
    assert "no contact with email 'nobody@nowhere.example'" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_size = install.run("demo", "--size", "huge", check=False)
    assert bad_size.returncode != 0
    assert "size" in bad_size.stderr
    assert "Traceback" not in bad_size.stderr
    absurd = install.run("report", "funnel", "--to", "9999-12-31", check=False)
    assert (absurd.returncode, absurd.stderr.count("\n")) == (1, 1)
    assert "to: 9999-12-31 is out of range" in absurd.stderr
    no_password = install.run("init", "--admin-username", "ada", check=False)
    assert no_password.returncode == 1
    assert "admin_password" in no_password.stderr


def test_contact_data_is_printed_as_text_never_as_markup(install: Install) -> None:
    install.run("init")
    people = install.home / "people.csv"
    people.write_text(
        "email,first_name,last_name,title\n"
        "mark@acme.io,[/bold],[link=https://evil.example]x[/link],[red]CTO\n"
    )
    install.run("import", "contacts", str(people), "--from", "generic")
    shown = install.run("contact", "mark@acme.io")
    assert "[/bold] [link=https://evil.example]x[/link]" in shown.stdout
    assert "[red]CTO" in shown.stdout
    assert "\x1b]8;" not in shown.stdout  # no terminal hyperlink
    as_json = json.loads(install.run("contact", "mark@acme.io", "--format", "json").stdout)
    assert as_json["title"] == "[red]CTO"
    # an error message quoting such data is one line of text too
    bad = install.run("contact", "[/bold]@x.io", check=False)
    assert (bad.returncode, bad.stderr.count("\n")) == (4, 1)
    assert "[/bold]@x.io" in bad.stderr


def test_serve_says_where_to_sign_in_and_prints_no_password(install: Install) -> None:
    port = free_port()
    server = subprocess.Popen(
        [ONEFUNNEL, "serve", "--port", str(port)],
        cwd=install.home,
        env=install.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/api/health", timeout=2).status_code == 200, server)
        response = httpx.get(f"{base}/admin/login/")
        assert response.status_code == 200
        assert "csrfmiddlewaretoken" in response.text
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert f"{base}/" in output
    assert "admin login" not in output
    assert "password " not in output.replace("--admin-password", "")
