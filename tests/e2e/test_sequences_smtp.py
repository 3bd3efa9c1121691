"""Email sequences end to end, with real parts: the `onefunnel` command, its HTTP server, and a
real SMTP server (aiosmtpd on loopback). A sequence made from a JSON file sends its first step;
what arrives has both parts and the unsubscribe headers; its tracked link, followed through the
server, records an email click on the sequence's campaign; one-click unsubscribe (RFC 8058)
sends the lead to nurture and no further mail arrives."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import ONEFUNNEL, Install
from tests.e2e.servers import free_port, wait_for
from tests.mail_server import smtp_server

SEQUENCE = {
    "name": "Not now, later",
    "campaign": "nurture-2026",
    "from_email": "news@onefunnel.example",
    "from_name": "onefunnel news",
    "entry_reasons": ["not_now"],
    "steps": [
        {
            "wait_days": 0,
            "subject": "A guide for {{ account.name }}",
            "html": '<p>Hi {{ contact.first_name }},</p><p><a href="https://example.com/guide">'
            "The guide</a></p>",
            "text": "Hi {{ contact.first_name }}, the guide: https://example.com/guide",
        },
        {"wait_days": 0, "subject": "Second", "html": "<p>2</p>", "text": "2"},
    ],
}


def _json(install: Install, *args: str) -> Any:
    return json.loads(install.run(*args, "--format", "json").stdout)


def test_a_sequence_over_real_smtp_with_click_and_one_click_unsubscribe(
    install: Install, tmp_path: Path
) -> None:
    http_port = free_port()
    base = f"http://127.0.0.1:{http_port}"
    with smtp_server() as (inbox, smtp_port):
        install.env["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp_port}"
        install.env["ONEFUNNEL_PUBLIC_URL"] = base
        key = install.run("keys", "create", "--scope", "crm:write").stdout.strip()
        server = subprocess.Popen(
            [ONEFUNNEL, "serve", "--port", str(http_port), "--no-processor"],
            cwd=install.home,
            env=install.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: httpx.get(f"{base}/api/health", timeout=2).status_code == 200, server)
            api = httpx.Client(base_url=f"{base}/api", headers={"Authorization": f"Bearer {key}"})
            assert api.post("/campaigns", json={"name": "Nurture", "utm_campaign": "nurture-2026",
                                                "channel": "email"}).status_code == 201  # fmt: skip
            account = api.post("/accounts", json={"name": "Initech", "domain": "initech.example"})
            contact = api.post(
                "/contacts",
                json={"email": "peter@initech.example", "first_name": "Peter",
                      "account_id": account.json()["id"]},
            ).json()  # fmt: skip

            # A template naming an unknown variable is refused when saved (exit 1, one line).
            bad = tmp_path / "bad.json"
            broken = dict(SEQUENCE, steps=[dict(SEQUENCE["steps"][0], text="{{ contact.ssn }}")])  # type: ignore[call-overload]
            bad.write_text(json.dumps(broken))
            refused = install.run("sequences", "create", str(bad), check=False)
            assert refused.returncode == 1
            assert "unknown variable contact.ssn" in refused.stderr
            assert refused.stderr.count("\n") == 1

            good = tmp_path / "sequence.json"
            good.write_text(json.dumps(SEQUENCE))
            created = _json(install, "sequences", "create", str(good))
            sequence_id = str(created["id"])
            enrolled = _json(install, "sequences", "enroll", sequence_id, "--contact",
                             str(contact["id"]))  # fmt: skip
            assert enrolled["enrolled"] == 1
            sent = _json(install, "sequences", "send-due")
            assert sent["sent"] == 1

            assert len(inbox.received) == 1
            got = inbox.received[0]
            assert got.rcpt_tos == ["peter@initech.example"]
            assert got.message["Subject"] == "A guide for Initech"
            assert got.message["From"] == "onefunnel news <news@onefunnel.example>"
            text, html = got.part("text/plain"), got.part("text/html")
            assert text.startswith("Hi Peter, the guide: ")
            assert "<p>Hi Peter,</p>" in html
            assert f"{base}/email/open/" in html
            unsubscribe = got.message["List-Unsubscribe"]
            assert unsubscribe.startswith("<mailto:news@onefunnel.example?subject=unsubscribe>")
            assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            one_click = re.search(r"<(https?://[^>]+)>", unsubscribe)
            assert one_click is not None
            assert one_click.group(1).startswith(f"{base}/email/unsubscribe/")

            link = re.search(r'href="([^"]+/email/click/[^"]+)"', html)
            assert link is not None
            followed = httpx.get(link.group(1).replace("&amp;", "&"))
            assert followed.status_code == 302
            assert followed.headers["location"] == "https://example.com/guide"
            tampered = httpx.get(link.group(1)[:-3] + "abc")
            assert tampered.status_code == 400
            assert "location" not in tampered.headers
            touches = api.get("/touchpoints", params={"limit": 10}).json()["items"]
            clicks = [t for t in touches if t["kind"] == "email_click"]
            assert len(clicks) == 1
            assert clicks[0]["channel"] == "email"
            assert clicks[0]["contact_id"] == contact["id"]
            assert clicks[0]["utm_campaign"] == "nurture-2026"

            confirm = httpx.get(one_click.group(1))
            assert confirm.status_code == 200
            assert "peter@initech.example" in confirm.text
            done = httpx.post(
                one_click.group(1),
                content="List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert done.status_code == 200

            again = _json(install, "sequences", "send-due")
            assert again["sent"] == 0
            assert len(inbox.received) == 1  # the second step never went out
            stage = install.query(
                f"SELECT stage FROM onefunnel_contact WHERE id = {int(contact['id'])}"
            )
            assert stage == [("nurture",)]
            reason = install.query(
                "SELECT reason FROM onefunnel_stagechange WHERE contact_id ="
                f" {int(contact['id'])} ORDER BY id DESC LIMIT 1"
            )
            assert reason == [("unsubscribed",)]
            shown = _json(install, "sequences", "show", sequence_id)
            assert shown["enrollments"] == {"active": 0, "completed": 0, "stopped": 1}
            bounce = install.run("email", "event", "explode", "--email", "x@y.example", check=False)
            assert bounce.returncode == 1
            assert "kind: unknown event" in bounce.stderr
        finally:
            server.terminate()
            server.wait(timeout=20)
