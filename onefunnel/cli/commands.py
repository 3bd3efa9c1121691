"""The commands of the core: init, demo, serve, status, contact."""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, console, emit_object, emit_rows, err_console, fail

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False)
]


@app.command()
@translate_errors
def init(
    admin_username: Annotated[
        str | None, typer.Option(envvar="ONEFUNNEL_ADMIN_USERNAME", help="Create this superuser")
    ] = None,
    admin_email: Annotated[str, typer.Option(envvar="ONEFUNNEL_ADMIN_EMAIL")] = "",
    admin_password: Annotated[
        str | None,
        typer.Option(envvar="ONEFUNNEL_ADMIN_PASSWORD", help="Password (prefer the env variable)"),
    ] = None,
) -> None:
    """Create or upgrade the database schema; optionally create an admin user."""
    setup_django()
    migrate()
    from onefunnel.services.users import ensure_admin

    if admin_username:
        if not admin_password:
            fail("admin_password: required with --admin-username (or ONEFUNNEL_ADMIN_PASSWORD)")
        created = ensure_admin(admin_username, admin_email, admin_password)
        console.print(f"admin user {admin_username!r} {'created' if created else 'updated'}")
    from django.db import connection

    console.print(f"database ready: {connection.vendor} {connection.settings_dict['NAME']}")


@app.command()
@translate_errors
def demo(
    seed: Annotated[int, typer.Option(help="Same seed, same company")] = 42,
    size: Annotated[str, typer.Option(help="small, medium or large")] = "small",
    reset: Annotated[bool, typer.Option(help="Empty the database first")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Generate a realistic demo company (the 12 months up to today of campaigns, touches,
    handoffs, deals; ONEFUNNEL_DEMO_ANCHOR=YYYY-MM-DD ends them on another day)."""
    setup_django()
    migrate()
    try:
        from onefunnel.services.demo import DemoSize, generate_demo
    except ValueError as error:  # a bad ONEFUNNEL_DEMO_ANCHOR, named by the message
        fail(str(error))
    from onefunnel.services.users import ensure_demo_admin, ensure_demo_logins

    try:
        demo_size = DemoSize(size.lower())
    except ValueError:
        fail(f"size: unknown size {size!r} (small, medium or large)")
    with Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=fmt is not OutputFormat.table,
        disable=not err_console.is_terminal and fmt is not OutputFormat.table,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        summary = generate_demo(seed=seed, size=demo_size, reset=reset, progress=progress)
    login = ensure_demo_admin()
    logins = ensure_demo_logins()
    payload = dataclasses.asdict(summary) | {"admin_login": login}
    if logins is not None:
        payload["demo_logins"] = logins.line()
    if fmt is OutputFormat.table and summary.already_loaded:
        console.print("demo data already loaded (use --reset to generate it again)")
    emit_object(payload, fmt, title="demo company")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    processor: Annotated[
        bool,
        typer.Option(
            help="Expand the tracking inbox in one process of its own beside the web workers "
            "(restarted if it dies, stopped with the server). --no-processor when "
            "`onefunnel worker --tracking` runs elsewhere; either way the web workers do not "
            "expand the inbox themselves"
        ),
    ] = True,
) -> None:
    """Serve the dashboard, admin, API and tracking endpoints with uvicorn."""
    setup_django()
    migrate()
    import uvicorn
    from django.conf import settings
    from django.db import connections

    from onefunnel.cli.inbox_process import ProcessorSupervisor
    from onefunnel.services.users import has_admin

    shown = f"[{host}]" if ":" in host else host
    console.print(f"onefunnel at http://{shown}:{port}/login   admin: http://{shown}:{port}/admin/")
    # Passwords are shown once where they are made (`onefunnel demo`, `init`), never in a log.
    if not has_admin():
        console.print(
            "no admin yet: `onefunnel init --admin-username NAME --admin-password ...`"
            " or `onefunnel demo` creates one"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onefunnel.settings")
    # One place expands the inbox: the web workers (spawned, they read the environment; a single
    # worker runs in this process, whose settings are loaded already) leave it to the processor.
    os.environ["ONEFUNNEL_TRACKING_PROCESSOR"] = "0"
    settings.ONEFUNNEL_TRACKING_PROCESSOR = False
    connections.close_all()
    supervisor = ProcessorSupervisor() if processor else None
    if supervisor is not None:
        supervisor.start()
    try:
        uvicorn.run(
            "onefunnel.asgi:application", host=host, port=port, workers=workers, log_level="info"
        )
    finally:
        if supervisor is not None:
            supervisor.stop()


@app.command()
@translate_errors
def status(fmt: FormatOption = OutputFormat.table) -> None:
    """Counts of the shared record and of contacts per stage."""
    setup_django()
    migrate()
    from onefunnel.analytics.status import funnel_status

    result = funnel_status()
    if fmt is OutputFormat.json:
        emit_object(result.as_dict(), fmt)
        return
    totals = {k: v for k, v in result.as_dict().items() if k != "stages"}
    emit_rows(
        [{"stage": s, "contacts": n} for s, n in result.stages.items()],
        fmt,
        title="contacts per stage",
    )
    if fmt is OutputFormat.table:
        console.print(", ".join(f"{k}: {v:,}" for k, v in totals.items()))


@app.command()
@translate_errors
def contact(
    email: Annotated[str, typer.Argument(help="The contact's email address")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """One person: profile, stage, score, touches and stage history in time order."""
    setup_django()
    migrate()
    from onefunnel.services.profiles import contact_profile

    profile = contact_profile(email)
    if fmt is OutputFormat.json:
        emit_object(profile.as_dict(), fmt)
        return
    emit_object(profile.summary(), fmt, title=f"contact {profile.email}")
    emit_rows([h.as_dict() for h in profile.stage_history], fmt, title="stage history")
    emit_rows(
        [t.as_dict() for t in profile.touches], fmt, title=f"touches ({len(profile.touches)})"
    )
