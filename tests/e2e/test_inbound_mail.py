"""The mail that comes back, end to end with real parts: a sequence's email goes out over SMTP
(aiosmtpd on loopback), the contact's reply — built with that email's Message-ID in
``In-Reply-To`` — is piped into ``onefunnel email receive`` as an MTA would, and the enrollment
stops as ``replied``. Bad input on the pipe exits 1 with one line; mailboxes and an IMAP folder
(a real Dovecot) print a summary."""

from __future__ import annotations

import json
import mailbox
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests import inbound_messages as mails
from tests.e2e.conftest import ONEFUNNEL, Install
from tests.e2e.servers import free_port, wait_for
from tests.imap_server import imap_server
from tests.mail_server import smtp_server

SEQUENCE = {
    "name": "Not now, later",
    "campaign": "nurture-2026",
    "from_email": "news@onefunnel.example",
    "steps": [
        {"wait_days": 0, "subject": "A guide", "html": "<p>Hi</p>", "text": "Hi"},
        {"wait_days": 0, "subject": "Second", "html": "<p>2</p>", "text": "2"},
    ],
}


def _pipe(install: Install, raw: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``onefunnel email receive`` with the message on stdin, as Postfix's pipe does."""
    return subprocess.run(
        [ONEFUNNEL, "email", "receive", *args],
        input=raw,
        cwd=install.home,
        env=install.env,
        capture_output=True,
        timeout=300,
        check=False,
    )


def _json(install: Install, *args: str) -> Any:
    return json.loads(install.run(*args, "--format", "json").stdout)


def test_a_reply_piped_from_the_mta_stops_the_sequence(install: Install, tmp_path: Path) -> None:
    http_port = free_port()
    base = f"http://127.0.0.1:{http_port}"
    with smtp_server() as (inbox, smtp_port):
        install.env["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp_port}"
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
            contact = api.post(
                "/contacts", json={"email": "peter@initech.example", "first_name": "Peter"}
            ).json()
            definition = tmp_path / "sequence.json"
            definition.write_text(json.dumps(SEQUENCE))
            sequence_id = str(_json(install, "sequences", "create", str(definition))["id"])
            _json(install, "sequences", "enroll", sequence_id, "--contact", str(contact["id"]))
            assert _json(install, "sequences", "send-due")["sent"] == 1
            assert len(inbox.received) == 1
            ours = inbox.received[0].message["Message-ID"]
            assert ours

            # An out-of-office answer first: ignored, the sequence goes on.
            away = _pipe(install, mails.exchange_out_of_office("peter@initech.example", ours)
                         .as_bytes(), "--format", "json")  # fmt: skip
            assert away.returncode == 0, away.stderr
            assert json.loads(away.stdout)["outcome"] == "auto_reply"

            # Garbage and an empty message: exit 1, one line on stderr, nothing recorded.
            for bad in (b"\x00\x9f\xff not mail at all", b""):
                refused = _pipe(install, bad)
                assert refused.returncode == 1
                assert refused.stderr.decode().count("\n") == 1
                assert refused.stderr.decode().startswith("error: message: ")

            # Peter answers; the MTA pipes the raw message in.
            answer = mails.reply("peter@initech.example", ours).as_bytes()
            piped = _pipe(install, answer, "--format", "json")
            assert piped.returncode == 0, piped.stderr
            result = json.loads(piped.stdout)
            assert result["outcome"] == "reply"
            assert result["send_message_id"] == ours
            assert result["stopped"] == 1
            again = _pipe(install, answer, "--format", "json")
            assert json.loads(again.stdout)["outcome"] == "duplicate"

            enrollments = api.get(f"/sequences/{sequence_id}/enrollments").json()
            assert [(e["state"], e["stop_reason"]) for e in enrollments] == [("stopped", "replied")]
            assert _json(install, "sequences", "send-due")["sent"] == 0
            assert len(inbox.received) == 1

            # 20 MB on the pipe: read by its headers, no crash, no broken pipe.
            huge = mails.reply("peter@initech.example", ours).as_bytes() + b"x" * (20 << 20)
            big = _pipe(install, huge, "--format", "json")
            assert big.returncode == 0, big.stderr
            assert json.loads(big.stdout)["outcome"] == "reply"

            # A mailbox: a summary table and the errors by message.
            box = mailbox.mbox(str(tmp_path / "bounces.mbox"))
            box.add(mails.postfix_bounce("peter@initech.example", ours).as_bytes())
            box.add(b"Subject: x\n\nno sender")
            box.close()
            table = install.run("email", "receive", "--mbox", str(tmp_path / "bounces.mbox"))
            assert "bounce" in table.stdout
            assert "errors by message" in table.stdout
            assert "no From and no Message-ID" in table.stdout
            suppressed = install.query("SELECT email, reason FROM onefunnel_emailsuppression")
            assert suppressed == [("peter@initech.example", "bounced")]

            # A monitored IMAP folder on a real Dovecot.
            with imap_server() as imap:
                imap.deliver(mails.arf_complaint("peter@initech.example", ours).as_bytes())
                polled = _json(install, "email", "receive", "--imap", imap.url())
                assert (polled["messages"], polled["complaint"]) == (1, 1)
                assert imap.unseen() == 0
                wrong = install.run("email", "receive", "--imap", imap.url(password="no"),
                                    check=False)  # fmt: skip
                assert wrong.returncode == 1
                assert wrong.stderr.startswith("error: imap: ")
        finally:
            server.terminate()
            server.wait(timeout=30)
