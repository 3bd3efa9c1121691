"""``onefunnel audit``: who changed what and when (stage changes, handoff decisions, deal and
contract edits, configuration versions, API keys), newest first."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, emit_rows, err_console, fail


@app.command("audit")
@translate_errors
def audit(
    since: Annotated[
        str | None,
        typer.Option(help="Changes at or after this date or time (ISO 8601; a date is 00:00 UTC)"),
    ] = None,
    actor: Annotated[
        str | None, typer.Option(help="Changes by this user (username; 'system' for rules)")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="stage, handoff, deal, config, key or contract"),
    ] = None,
    record: Annotated[
        str | None,
        typer.Option(help="One record: contact#12, account#3, deal#5, handoff#7, key#2, …"),
    ] = None,
    limit: Annotated[int, typer.Option(help="Changes per page (1-500)")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many of the newest")] = 0,
    as_user: Annotated[
        str | None, typer.Option("--as", help="Read as this user (leadership or admin)")
    ] = None,
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False),
    ] = OutputFormat.table,
) -> None:
    """The audit log, newest first: leadership and admins read it."""
    start = _since(since)
    setup_django()
    migrate()
    from onefunnel.services.access import SYSTEM, actor_by_username
    from onefunnel.services.ops.audit import AuditFilter, read_audit

    reader = actor_by_username(as_user) if as_user else SYSTEM
    page = read_audit(
        reader,
        AuditFilter(since=start, actor=actor, kind=kind, record=record),
        limit=limit,
        offset=offset,
    )
    rows = [item.as_dict() for item in page.items]
    columns = ["at", "actor", "kind", "action", "record", "summary"]
    emit_rows(rows, fmt, title=f"audit log ({page.total} changes)", columns=columns)
    if fmt is OutputFormat.table and page.offset + len(page.items) < page.total:
        err_console.print(
            f"{len(page.items)} of {page.total}; the next page: --offset {page.offset + page.limit}",
            highlight=False,
            markup=False,
        )


def _since(text: str | None) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"since: not an ISO 8601 date or time: {text[:40]!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        fail(f"since: out of range: {text[:40]!r}")
