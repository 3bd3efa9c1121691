"""A real SMTP server for tests: aiosmtpd on a loopback port, keeping what arrives and
refusing (550) the recipients it is told to."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One message as the server got it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, content_type: str) -> str:
        """The decoded body of the part with this content type (text/plain, text/html)."""
        found = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert found is not None, f"no {content_type} part"
        return str(found.get_content())


@dataclass
class Inbox:
    """The aiosmtpd handler: what arrived, and which recipients to refuse with a 5xx."""

    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: recipient address rejected: no such user"
        if address.lower() in self.defer:
            return f"450 4.2.1 <{address}>: mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(
    refuse: set[str] | None = None, defer: set[str] | None = None
) -> Iterator[tuple[Inbox, int]]:
    """Run a real SMTP server on 127.0.0.1 for the block (``refuse``: 550 for these
    recipients, ``defer``: 450); yields its inbox and port."""
    inbox = Inbox(
        refuse={r.lower() for r in refuse or set()}, defer={d.lower() for d in defer or set()}
    )
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
