"""``onefunnel import contacts|spend FILE``: file imports with a progress bar and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, console, emit_object, emit_rows, err_console, fail

import_app = typer.Typer(help="Import CRM exports and campaign spend from CSV files.")
app.add_typer(import_app, name="import")

FileArgument = Annotated[Path, typer.Argument(help="The CSV file", show_default=False)]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Report what would happen; write nothing")]
RejectsOption = Annotated[
    Path | None,
    typer.Option("--rejects", help="Where rejected rows go (default: FILE.rejects.csv)"),
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table or json", case_sensitive=False)
]


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


def _print(report: dict[str, Any], fmt: OutputFormat, title: str) -> None:
    if fmt is OutputFormat.json:
        emit_object(report, fmt)
        return
    counts = {k: v for k, v in report.items() if k not in ("rejects", "rejects_path")}
    emit_object(counts, OutputFormat.table, title=title)
    if report["rejects"]:
        shown = report["rejects"]
        emit_rows(shown, OutputFormat.table, title=f"rejected rows (first {len(shown)})")
    if report["rejects_path"]:
        console.print(f"rejected rows written to {report['rejects_path']}")


def _run_with_bar(fmt: OutputFormat, file: Path, work: Any) -> Any:
    with _bar() as bar:
        task = bar.add_task(f"importing {file.name}", total=None, rows=0)

        def progress(rows: int, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, rows=rows)

        return work(progress)


@import_app.command("contacts")
@translate_errors
def contacts(
    file: FileArgument,
    source: Annotated[
        str, typer.Option("--from", help="hubspot, salesforce or generic", show_default=False)
    ],
    dry_run: DryRun = False,
    rejects: RejectsOption = None,
    tz: Annotated[
        str, typer.Option("--timezone", help="Time zone of times written without an offset")
    ] = "UTC",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Import contacts (and their accounts and stage history) from a CRM export.

    Every good row is written and every bad one reported; importing the same file again
    changes nothing.
    """
    setup_django()
    from onefunnel.services.imports import ContactSource, import_contacts

    try:
        kind = ContactSource(source.lower())
    except ValueError:
        fail(f"from: unknown source {source!r} (hubspot, salesforce or generic)")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"timezone: unknown time zone {tz!r}")
    migrate()
    report = _run_with_bar(
        fmt,
        file,
        lambda progress: import_contacts(
            file, kind, dry_run=dry_run, rejects_path=rejects, progress=progress, tz=zone
        ),
    )
    title = f"{kind.value} contacts{' (dry run: nothing written)' if dry_run else ''}"
    _print(report.as_dict(), fmt, title)


@import_app.command("spend")
@translate_errors
def spend(
    file: FileArgument,
    dry_run: DryRun = False,
    rejects: RejectsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Import daily campaign spend: date, campaign, channel, amount, currency.

    Entries are upserted on (campaign, day, currency); unknown campaigns are created as
    unplanned with the row's channel.
    """
    setup_django()
    migrate()
    from onefunnel.services.spend import import_spend

    report = _run_with_bar(
        fmt,
        file,
        lambda progress: import_spend(
            file, dry_run=dry_run, rejects_path=rejects, progress=progress
        ),
    )
    title = f"spend{' (dry run: nothing written)' if dry_run else ''}"
    _print(report.as_dict(), fmt, title)
