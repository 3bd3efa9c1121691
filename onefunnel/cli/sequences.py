"""Email sequences from the command line: create (from a JSON file), list, show, enroll,
send-due; and ``email event`` to record a bounce, complaint, unsubscribe or reply reported by a
mail server or read in a mailbox.

Every command calls one service of ``services/marketing``. ``--as USERNAME`` acts as that user
under the rule book (marketing edits sequences; exit 3 otherwise); without it the command acts
as the system. Bad input (a template with an unknown variable, an unreadable file) exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, emit_object, emit_rows

if TYPE_CHECKING:
    from onefunnel.domain.access import Actor

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False)
]
AsOption = Annotated[
    str | None, typer.Option("--as", help="Act as this user (username); the system if omitted")
]

sequences_app = typer.Typer(help="Email sequences: create, list, show, enroll, send-due.")
email_app = typer.Typer(
    help="Email: record bounces, complaints, unsubscribes and replies; read the mail that comes back."
)
app.add_typer(sequences_app, name="sequences")
app.add_typer(email_app, name="email")

SEQUENCE_COLUMNS = ("id", "name", "campaign", "from_email", "active", "steps", "active_enrolled",
                    "completed", "stopped", "sent")  # fmt: skip


def _ready() -> None:
    setup_django()
    migrate()


def _actor(username: str | None) -> Actor:
    from onefunnel.services.access import SYSTEM, actor_by_username

    return actor_by_username(username) if username else SYSTEM


def _row(view: Any) -> dict[str, Any]:
    data = view.as_dict()
    return {
        "id": data["id"],
        "name": data["name"],
        "campaign": data["campaign"],
        "from_email": data["from_email"],
        "active": data["active"],
        "steps": len(data["steps"]),
        "active_enrolled": data["enrollments"].get("active", 0),
        "completed": data["enrollments"].get("completed", 0),
        "stopped": data["enrollments"].get("stopped", 0),
        "sent": data["sent"],
    }


def _definition(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"file: cannot read {path} ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"file: {path} is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError("file: a JSON object with name, campaign, from_email and steps")
    allowed = {"name", "campaign", "from_email", "from_name", "steps", "stop_on",
               "entry_reasons", "active"}  # fmt: skip
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(
            f"file: unknown field {unknown[0]!r} (fields: {', '.join(sorted(allowed))})"
        )
    for needed in ("name", "campaign", "from_email", "steps"):
        if needed not in data:
            raise ValueError(f"{needed}: required in the file")
    if not isinstance(data["steps"], list):
        raise ValueError("steps: a list of {wait_days, subject, html, text}")
    return data


@sequences_app.command("create")
@translate_errors
def sequences_create(
    file: Annotated[Path, typer.Argument(help="JSON: name, campaign, from_email, steps, …")],
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a sequence from a JSON file; templates are checked now (unknown variables exit 1).

    Steps are objects with wait_days, subject, html and text (Django templates using
    contact.first_name, contact.last_name, contact.email, contact.title, contact.country,
    account.name, account.domain, account.industry, account.country, unsubscribe_url)."""
    data = _definition(file)
    _ready()
    from onefunnel.services.marketing.sequences import create_sequence

    view = create_sequence(actor=_actor(actor), **data)
    emit_object(_row(view), fmt, title=f"sequence #{view.id}")


@sequences_app.command("list")
@translate_errors
def sequences_list(fmt: FormatOption = OutputFormat.table) -> None:
    """Every sequence, with how many contacts are enrolled, done, stopped, and emails sent."""
    _ready()
    from onefunnel.services.marketing.sequences import list_sequences

    emit_rows([_row(v) for v in list_sequences()], fmt, title="sequences",
              columns=SEQUENCE_COLUMNS)  # fmt: skip


@sequences_app.command("show")
@translate_errors
def sequences_show(
    sequence_id: Annotated[int, typer.Argument(help="The sequence's id")],
    fmt: FormatOption = OutputFormat.json,
) -> None:
    """One sequence with its steps (JSON by default: templates are long)."""
    _ready()
    from onefunnel.services.marketing.sequences import get_sequence

    view = get_sequence(sequence_id)
    payload = view.as_dict() if fmt is OutputFormat.json else _row(view)
    emit_object(payload, fmt, title=f"sequence #{view.id}")


@sequences_app.command("enroll")
@translate_errors
def sequences_enroll(
    sequence_id: Annotated[int, typer.Argument(help="The sequence's id")],
    contact: Annotated[
        list[int] | None, typer.Option("--contact", help="A contact id (repeatable)")
    ] = None,
    segment: Annotated[
        str, typer.Option(help="Or a segment (id or name): its members as they are now")
    ] = "",
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Enroll contacts, or a segment's members; says who entered, who was in already and who was skipped (no address
    or a suppressed one)."""
    _ready()
    from onefunnel.services.errors import InputError
    from onefunnel.services.marketing.sequences import enroll, enroll_segment

    if bool(contact) == bool(segment):
        raise InputError("contact: give --contact ID (repeatable) or --segment, not both")
    if segment:
        ref: int | str = int(segment) if segment.isdigit() else segment
        result = enroll_segment(sequence_id, ref, actor=_actor(actor))
    else:
        result = enroll(sequence_id, contact or [], actor=_actor(actor))
    data = result.as_dict()
    emit_object(
        {
            "sequence_id": data["sequence_id"],
            "enrolled": len(data["enrolled"]),
            "already": len(data["already"]),
            "skipped": ", ".join(f"#{k} ({v})" for k, v in data["skipped"].items()) or "none",
        },
        fmt,
        title="enrolled",
    )


@sequences_app.command("send-due")
@translate_errors
def sequences_send_due(fmt: FormatOption = OutputFormat.table) -> None:
    """Send every due step now over the configured mail server (EMAIL_URL); the worker does
    this on every pass."""
    _ready()
    from onefunnel.services.marketing.sequence_sending import send_due

    emit_object(send_due().as_dict(), fmt, title="send pass")


@email_app.command("event")
@translate_errors
def email_event(
    kind: Annotated[str, typer.Argument(help="bounce, complaint, unsubscribe or reply")],
    email: Annotated[str, typer.Option(help="The address")] = "",
    message_id: Annotated[str, typer.Option(help="Or the Message-ID of the send")] = "",
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Record what a mail server or a recipient reported: the address is suppressed (except
    for a reply) and its enrollments stop; an unsubscribe also sends the lead to nurture."""
    _ready()
    from onefunnel.services.marketing.email_events import record_event

    result = record_event(kind, actor=_actor(actor), email=email, message_id=message_id)
    emit_object(result.as_dict(), fmt, title="email event")


def _stdin_message(limit: int) -> bytes:
    import sys

    stream = sys.stdin.buffer
    raw = stream.read(limit + 1)
    # Read the rest of an oversized message too (and drop it), so the MTA writing into this
    # pipe never sees a broken pipe; the parser reads such a message by its headers alone.
    while len(raw) > limit and stream.read(1 << 20):
        pass
    return raw


def _mailbox(
    mbox: Path | None, maildir: Path | None, imap: str, actor: Actor, fmt: OutputFormat
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from onefunnel.cli.output import err_console
    from onefunnel.services.marketing.inbound_mail import ImapAccount, receive_imap, receive_mailbox

    with Progress(
        TextColumn("reading messages"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("read", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if imap:
            account = ImapAccount.from_url(imap)
            title = f"imap {account.host} {account.folder}"
            summary = receive_imap(imap, actor=actor, progress=progress)
        else:
            kind, path = ("mbox", mbox) if mbox is not None else ("maildir", maildir)
            assert path is not None
            title = f"{kind} {path.name}"
            summary = receive_mailbox(path, kind=kind, actor=actor, progress=progress)
    data = summary.as_dict()
    if fmt is OutputFormat.json:
        emit_object(data, fmt)
        return
    counts = {k: v for k, v in data.items() if k != "errors_by_message"}
    emit_object(counts, fmt, title=title)
    if summary.errors:
        emit_rows(data["errors_by_message"], fmt, title="errors by message",
                  columns=("message", "error"))  # fmt: skip


@email_app.command("receive")
@translate_errors
def email_receive(
    mbox: Annotated[Path | None, typer.Option("--mbox", help="Read an mbox file")] = None,
    maildir: Annotated[Path | None, typer.Option("--maildir", help="Read a Maildir")] = None,
    imap: Annotated[
        str,
        typer.Option(
            "--imap",
            help="Read the unseen messages of an IMAP folder: imaps://user:pass@host:993/INBOX",
        ),
    ] = "",
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Read mail that came back — replies, bounces (DSN), complaints (ARF): one raw message
    on stdin (for an MTA pipe), or a whole mailbox. A reply to one of our emails stops the
    contact's enrollments; a bounce or complaint suppresses the address; automatic answers
    and delays are ignored; a message naming none of our emails is unmatched. Exit 0 for all
    of these, 1 for input that is no email message, 75 (EX_TEMPFAIL: the MTA retries) when
    the database cannot be reached."""
    if sum(1 for given in (mbox, maildir, imap or None) if given is not None) > 1:
        raise ValueError("mbox: give one of --mbox, --maildir or --imap")
    from django.db import DatabaseError

    from onefunnel.cli.output import fail

    try:
        _ready()
        if mbox is not None or maildir is not None or imap:
            _mailbox(mbox, maildir, imap, _actor(actor), fmt)
            return
        from onefunnel.services.marketing.inbound_mail import max_message_bytes, receive_message

        raw = _stdin_message(max_message_bytes())
        result = receive_message(raw, actor=_actor(actor))
    except DatabaseError as exc:
        fail(f"database: {exc}".splitlines()[0], code=75)
    emit_object(result.as_dict(), fmt, title="inbound email")
