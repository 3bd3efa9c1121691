"""Read the mail that comes back: replies, bounces and complaints, from one raw message (an MTA
pipe, ``POST /api/email/inbound``), a whole mailbox (mbox, Maildir), or a monitored IMAP folder
(its unseen messages, marked seen once read).

Each message is classified by ``domain.inbound_mail`` and matched to one of our sends by the
Message-IDs it names (a reply's ``In-Reply-To``/``References``; a report's copy of the original
headers); a bounce or complaint without the original headers is matched by the failed
recipient, when we have emailed that address. What matches is recorded through
``email_events.record_event`` — a reply stops the contact's enrollments (``replied``), a bounce
or complaint suppresses the address — and the inbound Message-ID is kept (``InboundEmail``), so
the same message read twice records once. Automatic answers, delays and other notices are
ignored with their reason; a message naming none of our sends is unmatched. Neither writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import logging
import mailbox
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from onefunnel.domain.access import Action, Actor
from onefunnel.domain.inbound_mail import (
    MAX_MESSAGE_BYTES,
    Inbound,
    InboundKind,
    UnreadableMessageError,
    read_message,
)
from onefunnel.models import EmailSend, InboundEmail
from onefunnel.services.access import SYSTEM, require
from onefunnel.services.errors import InputError
from onefunnel.services.marketing.email_events import EventRecorded, record_event


class Outcome(StrEnum):
    """What reading one inbound message did."""

    REPLY = "reply"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    AUTO_REPLY = "auto_reply"
    TRANSIENT = "transient"
    NOTICE = "notice"
    UNMATCHED = "unmatched"
    DUPLICATE = "duplicate"
    ERROR = "error"


_RECORDS = {
    InboundKind.REPLY: Outcome.REPLY,
    InboundKind.BOUNCE: Outcome.BOUNCE,
    InboundKind.COMPLAINT: Outcome.COMPLAINT,
}
_IGNORED = {
    InboundKind.AUTO_REPLY: Outcome.AUTO_REPLY,
    InboundKind.TRANSIENT: Outcome.TRANSIENT,
    InboundKind.NOTICE: Outcome.NOTICE,
}


@dataclass(frozen=True, slots=True)
class InboundResult:
    """One message's outcome: what it was, why, the address it was about, the send it
    answered, how many enrollments stopped and whether the address is now suppressed."""

    outcome: str
    reason: str
    message_id: str
    email: str = ""
    send_message_id: str = ""
    stopped: int = 0
    suppressed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "message_id": self.message_id,
            "email": self.email,
            "send_message_id": self.send_message_id,
            "stopped": self.stopped,
            "suppressed": self.suppressed,
        }


@dataclass(frozen=True, slots=True)
class MailboxSummary:
    """A mailbox read: how many messages had each outcome, and each error by message."""

    messages: int
    counts: dict[str, int]
    errors: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {
            "messages": self.messages,
            **{o.value: self.counts.get(o.value, 0) for o in Outcome},
            "errors_by_message": [{"message": k, "error": e} for k, e in self.errors],
        }


def max_message_bytes() -> int:
    """The largest message read whole (``ONEFUNNEL_INBOUND_MAX_BYTES``, default 10 MiB)."""
    return int(getattr(settings, "ONEFUNNEL_INBOUND_MAX_BYTES", MAX_MESSAGE_BYTES))


def _send_for(inbound: Inbound) -> EmailSend | None:
    if not inbound.refers_to:
        return None
    found = {s.message_id: s for s in EmailSend.objects.filter(message_id__in=inbound.refers_to)}
    # The most specific reference first: In-Reply-To, then References from the newest.
    return next((found[r] for r in inbound.refers_to if r in found), None)


def _sent_to(addresses: tuple[str, ...]) -> list[str]:
    return [a for a in addresses if EmailSend.objects.filter(to_email__iexact=a).exists()]


def _record(inbound: Inbound, key: str, actor: Actor, at: datetime) -> InboundResult:
    outcome = _RECORDS[inbound.kind]
    send = _send_for(inbound)
    events: list[EventRecorded] = []
    if send is not None:
        events.append(record_event(outcome.value, actor=actor, message_id=send.message_id, now=at))
    elif inbound.kind is not InboundKind.REPLY:
        # A report without the original's headers: the failed recipients we have emailed.
        events.extend(
            record_event(outcome.value, actor=actor, email=address, now=at)
            for address in _sent_to(inbound.recipients)
        )
    if not events:
        return InboundResult(
            Outcome.UNMATCHED.value,
            f"{inbound.reason}; it names none of our emails",
            inbound.message_id,
        )
    InboundEmail.objects.create(
        message_id=key,
        kind=inbound.kind.value,
        email=events[0].email,
        send=send,
        sender=inbound.sender[:254],
        reason=inbound.reason[:200],
        received_at=at,
    )
    return InboundResult(
        outcome.value,
        inbound.reason,
        inbound.message_id,
        email=", ".join(e.email for e in events)[:254],
        send_message_id=send.message_id if send is not None else "",
        stopped=sum(e.stopped for e in events),
        suppressed=any(e.suppressed for e in events),
    )


def receive_message(
    raw: bytes, *, actor: Actor, now: datetime | None = None, max_bytes: int | None = None
) -> InboundResult:
    """Read one raw RFC 5322 message and record what it reports (module docstring).
    InputError for bytes that are no message; nothing is written then."""
    require(actor, Action.EDIT_MARKETING)
    try:
        inbound = read_message(raw, max_bytes=max_bytes or max_message_bytes())
    except UnreadableMessageError as exc:
        raise InputError(str(exc)) from None
    ignored = _IGNORED.get(inbound.kind)
    if ignored is not None:
        return InboundResult(ignored.value, inbound.reason, inbound.message_id)
    key = inbound.message_id or f"sha256:{hashlib.sha256(raw).hexdigest()}"
    moment = now or timezone.now()
    try:
        with transaction.atomic():
            if InboundEmail.objects.filter(message_id=key).exists():
                return InboundResult(
                    Outcome.DUPLICATE.value, "read before: recorded once", inbound.message_id
                )
            return _record(inbound, key, actor, moment)
    except IntegrityError:
        # Read at the same moment by another process, which recorded it.
        return InboundResult(
            Outcome.DUPLICATE.value, "read before: recorded once", inbound.message_id
        )


def _open(path: Path, kind: str) -> mailbox.Mailbox[Any]:
    try:
        if kind == "maildir":
            if not path.is_dir():
                raise InputError(f"maildir: {path} is not a directory")
            return mailbox.Maildir(str(path), factory=None, create=False)
        if not path.is_file():
            raise InputError(f"mbox: {path} is not a file")
        return mailbox.mbox(str(path), factory=None, create=False)
    except (mailbox.NoSuchMailboxError, OSError) as exc:
        raise InputError(f"{kind}: cannot open {path} ({exc})") from None


def receive_mailbox(
    path: Path,
    *,
    kind: str,
    actor: Actor,
    progress: Callable[[int, int], None] | None = None,
) -> MailboxSummary:
    """Read every message of an mbox file or a Maildir (each in its own transaction): the
    count per outcome and the errors by message. The mailbox is not changed."""
    require(actor, Action.EDIT_MARKETING)
    if kind not in ("mbox", "maildir"):
        raise InputError("kind: mbox or maildir")
    box = _open(path, kind)
    counts: Counter[str] = Counter()
    errors: list[tuple[str, str]] = []
    try:
        keys = list(box.keys())
        for done, key in enumerate(keys, start=1):
            try:
                raw = box.get_bytes(key)
                result = receive_message(raw, actor=actor)
                counts[result.outcome] += 1
            except (InputError, OSError, KeyError) as exc:
                counts[Outcome.ERROR.value] += 1
                errors.append((str(key), " ".join(str(exc).split())[:200]))
            if progress is not None:
                progress(done, len(keys))
    finally:
        box.close()
    return MailboxSummary(len(keys), dict(counts), errors)


log = logging.getLogger("onefunnel.email")
IMAP_TIMEOUT_SECONDS = 30


@dataclass(frozen=True, slots=True)
class ImapAccount:
    """Where to read: ``imaps://user:password@host:993/INBOX`` (``imap://`` without TLS; the
    folder defaults to INBOX; user and password percent-encoded)."""

    host: str
    port: int
    user: str
    password: str
    folder: str
    tls: bool

    @classmethod
    def from_url(cls, url: str) -> ImapAccount:
        """Parse an ``imap://`` or ``imaps://`` URL (InputError naming what is wrong)."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("imap", "imaps"):
            raise InputError("imap: a URL imaps://user:password@host:993/INBOX (or imap://)")
        try:
            port = parts.port
        except ValueError:
            raise InputError("imap: the port is not a number from 1 to 65535") from None
        if not parts.hostname or not parts.username or parts.password is None:
            raise InputError("imap: the URL needs a user, a password and a host")
        tls = parts.scheme == "imaps"
        return cls(
            host=parts.hostname,
            port=port or (993 if tls else 143),
            user=unquote(parts.username),
            password=unquote(parts.password),
            folder=unquote(parts.path.strip("/")) or "INBOX",
            tls=tls,
        )


def _connect(account: ImapAccount) -> imaplib.IMAP4:
    if account.tls:
        return imaplib.IMAP4_SSL(account.host, account.port, timeout=IMAP_TIMEOUT_SECONDS)
    return imaplib.IMAP4(account.host, account.port, timeout=IMAP_TIMEOUT_SECONDS)


def _fetched(data: list[Any]) -> bytes | None:
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def receive_imap(
    url: str,
    *,
    actor: Actor,
    limit: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> MailboxSummary:
    """Read the unseen messages of an IMAP folder (at most ``limit`` a call, oldest first),
    each as ``receive_message`` does, and mark each one seen once read (an unreadable one
    too: it is listed among the errors, not read again). A database error leaves the message
    unseen for the next call. InputError for a bad URL, a refused login or a missing folder."""
    require(actor, Action.EDIT_MARKETING)
    account = ImapAccount.from_url(url)
    counts: Counter[str] = Counter()
    errors: list[tuple[str, str]] = []
    try:
        imap = _connect(account)
    except OSError as exc:
        raise InputError(f"imap: cannot reach {account.host}:{account.port} ({exc})") from None
    try:
        try:
            imap.login(account.user, account.password)
            status, _ = imap.select(f'"{account.folder}"')
        except imaplib.IMAP4.error as exc:
            raise InputError(f"imap: {exc}") from None
        if status != "OK":
            raise InputError(f"imap: no folder {account.folder!r}")
        uids = _read_unseen(imap, actor, limit, counts, errors, progress)
    except (imaplib.IMAP4.error, OSError) as exc:
        # The connection dropped or the server refused a command: what was read is recorded
        # (and marked seen); the rest stays unseen for the next time.
        raise InputError(f"imap: {' '.join(str(exc).split())[:200]}") from None
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            imap.logout()
    return MailboxSummary(len(uids), dict(counts), errors)


def _read_unseen(
    imap: imaplib.IMAP4,
    actor: Actor,
    limit: int,
    counts: Counter[str],
    errors: list[tuple[str, str]],
    progress: Callable[[int, int], None] | None,
) -> list[bytes]:
    """Read, record and mark seen the folder's unseen messages; their UIDs."""
    _, found = imap.uid("SEARCH", "UNSEEN")
    uids = (found[0] or b"").split()[:limit] if found else []
    for done, uid in enumerate(uids, start=1):
        name = f"uid {uid.decode()}"
        _, data = imap.uid("FETCH", uid, "(BODY.PEEK[])")
        raw = _fetched(data or [])
        if raw is None:
            counts[Outcome.ERROR.value] += 1
            errors.append((name, "imap: the server sent no message"))
        else:
            try:
                counts[receive_message(raw, actor=actor).outcome] += 1
            except InputError as exc:
                counts[Outcome.ERROR.value] += 1
                errors.append((name, " ".join(str(exc).split())[:200]))
            except DatabaseError:
                log.warning("email: database error on IMAP %s, left unseen", name)
                raise
        imap.uid("STORE", uid, "+FLAGS", "(\\Seen)")
        if progress is not None:
            progress(done, len(uids))
    return uids


def read_monitored_inbox() -> int:
    """The worker's pass over ``ONEFUNNEL_INBOUND_IMAP_URL`` (when set), as the system: how
    many messages were read. A server that cannot be reached or refuses the login is logged
    and tried again on the next pass."""
    url = str(getattr(settings, "ONEFUNNEL_INBOUND_IMAP_URL", "") or "")
    if not url:
        return 0
    try:
        return receive_imap(url, actor=SYSTEM).messages
    except InputError as exc:
        log.warning("email: monitored inbox not read: %s", exc)
        return 0
