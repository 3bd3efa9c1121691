"""``onefunnel backup DIR`` and ``onefunnel restore DIR``: every table, to a directory and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, emit_object, err_console

DirectoryArgument = Annotated[Path, typer.Argument(help="The backup directory", show_default=False)]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table or json", case_sensitive=False)
]


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


def _summary(result: object, fmt: OutputFormat, title: str) -> None:
    from onefunnel.services.ops.backup import BackupResult

    assert isinstance(result, BackupResult)
    payload: dict[str, object] = {
        "directory": str(result.directory),
        "engine": result.engine,
        "tables": len(result.tables),
        "rows": result.rows,
    }
    if fmt is OutputFormat.json:
        payload["per_table"] = {t.model: t.rows for t in result.tables}
    emit_object(payload, fmt, title=title)


@app.command()
@translate_errors
def backup(directory: DirectoryArgument, fmt: FormatOption = OutputFormat.table) -> None:
    """Write every table (rows, users, groups) into DIR (new or empty), with a manifest of row
    counts and checksums; restore it with `onefunnel restore DIR`, on either engine."""
    setup_django()
    from onefunnel.services.ops.backup import backup as run_backup

    with _bar() as bar:
        task = bar.add_task("backup", total=None)

        def progress(table: str, done: int, total: int) -> None:
            bar.update(task, description=table, completed=done, total=total)

        result = run_backup(directory, progress=progress)
    _summary(result, fmt, "backup written")


@app.command()
@translate_errors
def restore(directory: DirectoryArgument, fmt: FormatOption = OutputFormat.table) -> None:
    """Restore a backup from DIR into the configured database, which must hold no records
    (a new SQLite file or a new PostgreSQL database): files checked first, all in one
    transaction."""
    setup_django()
    from onefunnel.services.ops.backup import restore as run_restore

    with _bar() as bar:
        task = bar.add_task("restore", total=None)

        def progress(table: str, done: int, total: int) -> None:
            bar.update(task, description=table, completed=done, total=total)

        result = run_restore(directory, migrate=migrate, progress=progress)
    _summary(result, fmt, "backup restored")
