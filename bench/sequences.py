"""Email sequences benchmark: enrolling a segment-sized list, and sending a pass of due steps
over real SMTP (an aiosmtpd server on loopback, in this process's thread).

    /work/main/.venv/bin/python bench/sequences.py                 # 20,000 contacts, 2,000 sent
    /work/main/.venv/bin/python bench/sequences.py --contacts 100000 --send 5000

Runs on a fresh SQLite file in a temporary home (or DATABASE_URL's database, when set, which it
fills). Prints one table: enroll (contacts/s), one send pass (emails/s end to end: facts,
throttle, claim, render, SMTP, record).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _setup(home: Path) -> None:
    os.environ["ONEFUNNEL_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onefunnel.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        return "250 OK"


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--send", type=int, default=2_000, help="Emails in the send pass")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="onefunnel-bench-sequences-"))
    _setup(home)
    import socket
    from datetime import UTC, datetime

    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.core.mail import get_connection

    from onefunnel.models import Campaign, Contact
    from onefunnel.services.access import SYSTEM
    from onefunnel.services.marketing.sequence_sending import send_due
    from onefunnel.services.marketing.sequences import create_sequence, enroll

    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    Contact.objects.bulk_create(
        [
            Contact(email=f"p{i}@d{i % 50}.example", first_name=f"P{i}", created_at=now)
            for i in range(args.contacts)
        ],
        batch_size=5000,
    )
    ids = list(Contact.objects.values_list("pk", flat=True))
    campaign = Campaign.objects.create(name="Bench", utm_campaign="bench", channel="email")
    sequence = create_sequence(
        actor=SYSTEM,
        name="Bench",
        campaign=campaign.pk,
        from_email="news@onefunnel.example",
        steps=[
            {
                "wait_days": 0,
                "subject": "Hi {{ contact.first_name }}",
                "html": '<p>Hi {{ contact.first_name }}</p><a href="https://example.com/a">a</a>',
                "text": "Hi {{ contact.first_name }} https://example.com/a",
            }
        ],
    )
    started = time.perf_counter()
    enroll(sequence.id, ids, actor=SYSTEM, now=now)
    enroll_s = time.perf_counter() - started

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        connection = get_connection(
            "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=port
        )
        started = time.perf_counter()
        result = send_due(now=now, connection=connection, limit=args.send, per_minute=10**6)
        send_s = time.perf_counter() - started
    finally:
        controller.stop()
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"{'step':<28}{'count':>10}{'seconds':>10}{'per second':>12}   ({engine})")
    print(f"{'enroll':<28}{len(ids):>10}{enroll_s:>10.2f}{len(ids) / enroll_s:>12.0f}")
    print(f"{'send pass (SMTP, loopback)':<28}{result.sent:>10}{send_s:>10.2f}"
          f"{result.sent / send_s:>12.0f}")  # fmt: skip
    assert sink.count == result.sent, (sink.count, result.sent)


if __name__ == "__main__":
    main()
