"""The point of intent from the command line: handoffs, scoring, reps and routing, webhooks,
and the worker. Every command parses its options, calls one service and prints."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import ExitCode, OutputFormat, console, emit_object, emit_rows, fail

if TYPE_CHECKING:
    from onefunnel.domain.access import Actor
    from onefunnel.services.config_versions import ConfigVersion

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False)
]
AsOption = Annotated[str | None, typer.Option("--as", help="Act as this user (username)")]

handoffs_app = typer.Typer(help="Handoffs: the queue, accept, reject, reassign.")
scoring_app = typer.Typer(help="Lead scores: rescore, explain, configure, predictive models.")
reps_app = typer.Typer(help="Sales reps who receive handoffs.")
routing_app = typer.Typer(help="Routing rules and team calendars (SLA).")
webhooks_app = typer.Typer(help="Outbound webhooks (Standard Webhooks).")
app.add_typer(handoffs_app, name="handoffs")
app.add_typer(scoring_app, name="scoring")
app.add_typer(reps_app, name="reps")
app.add_typer(routing_app, name="routing")
app.add_typer(webhooks_app, name="webhooks")

QUEUE_COLUMNS = (
    "id", "contact_email", "trigger", "status", "owner", "team", "score", "sla_due_at", "sla",
    "cost", "expected_value", "previous_id", "deal_id",
)  # fmt: skip


def _ready() -> None:
    setup_django()
    migrate()


def _actor(username: str | None) -> Actor:
    """The user a command acts as (``--as``, with that user's roles), or without ``--as`` the
    system itself, an admin: whoever runs the CLI on the server already holds the database."""
    from onefunnel.services.access import SYSTEM, actor_by_username

    return actor_by_username(username) if username else SYSTEM


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"file: no such file {str(path)!r}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"file: {path.name} is not JSON: {exc}")


# ---------------------------------------------------------------------------------------------
# handoffs


@handoffs_app.command("list")
@translate_errors
def handoffs_list(
    owner: Annotated[str | None, typer.Option(help="Only this rep's (username)")] = None,
    status: Annotated[str | None, typer.Option(help="pending, accepted, rejected, expired")] = None,
    team: Annotated[str | None, typer.Option(help="Only this routing team's")] = None,
    queued: Annotated[bool, typer.Option("--queued", help="Only those in a team queue")] = False,
    limit: Annotated[int, typer.Option(help="At most this many")] = 200,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """A queue of handoffs, oldest SLA due first (overdue ones are escalated first); with
    ``--as``, only those that user may see."""
    _ready()
    from onefunnel.services.handoffs import list_handoffs

    rows = list_handoffs(
        owner=owner,
        status=status,
        team=team,
        queued=True if queued else None,
        limit=limit,
        actor=_actor(actor),
    )
    emit_rows([h.as_dict() for h in rows], fmt, title="handoffs", columns=QUEUE_COLUMNS)


def _decision(decided: Any, fmt: OutputFormat) -> None:
    payload = decided.handoff.as_dict() | {
        "deal_created": decided.deal_created,
        "stage": decided.stage_move.to_stage.value if decided.stage_move else None,
    }
    emit_object(payload, fmt, title=f"handoff #{decided.handoff.id}")


@handoffs_app.command("accept")
@translate_errors
def handoffs_accept(
    handoff_id: Annotated[int, typer.Argument(help="The handoff's id")],
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Accept a pending handoff: creates or links the account's new-business deal."""
    _ready()
    from onefunnel.domain.handoffs import HandoffError
    from onefunnel.services.handoffs import accept_handoff

    try:
        decided = accept_handoff(handoff_id, actor=_actor(actor))
    except HandoffError as exc:
        fail(str(exc), code=ExitCode.CONFLICT)
    _decision(decided, fmt)


@handoffs_app.command("reject")
@translate_errors
def handoffs_reject(
    handoff_id: Annotated[int, typer.Argument(help="The handoff's id")],
    reason: Annotated[
        str,
        typer.Option(
            help="bad_fit, no_budget, no_authority, not_now, duplicate, bad_data, competitor, other"
        ),
    ],
    note: Annotated[str, typer.Option(help="Why (required with 'other')")] = "",
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Reject a pending handoff with a reason: back to nurture (bad data/duplicate: disqualified)."""
    _ready()
    from onefunnel.domain.handoffs import HandoffError
    from onefunnel.services.handoffs import reject_handoff

    try:
        decided = reject_handoff(handoff_id, reason=reason, note=note, actor=_actor(actor))
    except HandoffError as exc:
        fail(str(exc), code=ExitCode.CONFLICT)
    _decision(decided, fmt)


@handoffs_app.command("reassign")
@translate_errors
def handoffs_reassign(
    handoff_id: Annotated[int, typer.Argument(help="The handoff's id")],
    owner: Annotated[str | None, typer.Option(help="Give it to this rep (username)")] = None,
    team: Annotated[str | None, typer.Option(help="Or put it in this team's queue")] = None,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Give a pending handoff to another rep or a team queue."""
    _ready()
    from onefunnel.domain.handoffs import HandoffError
    from onefunnel.services.handoffs import reassign_handoff

    try:
        view = reassign_handoff(handoff_id, owner=owner, team=team, actor=_actor(actor))
    except HandoffError as exc:
        fail(str(exc), code=ExitCode.CONFLICT)
    emit_object(view.as_dict(), fmt, title=f"handoff #{view.id}")


@handoffs_app.command("open")
@translate_errors
def handoffs_open(
    email: Annotated[str, typer.Argument(help="The contact's email")],
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Hand a contact over by hand (moves it to intent; the handoff is routed as usual)."""
    _ready()
    from onefunnel.services.handoffs import open_manual_handoff

    view = open_manual_handoff(email, actor=_actor(actor))
    emit_object(view.as_dict(), fmt, title=f"handoff #{view.id}")


# ---------------------------------------------------------------------------------------------
# scoring


@scoring_app.command("rescore")
@translate_errors
def scoring_rescore(
    promote: Annotated[
        bool, typer.Option(help="Move contacts now at/above the threshold to intent")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Rescore every contact from all its touches with the scoring model in force."""
    _ready()
    from onefunnel.services.scoring import rescore_all

    started = time.perf_counter()
    summary = rescore_all(promote=promote)
    payload = summary.as_dict() | {"seconds": round(time.perf_counter() - started, 3)}
    emit_object(payload, fmt, title="rescore")


@scoring_app.command("explain")
@translate_errors
def scoring_explain(
    email: Annotated[str, typer.Argument(help="The contact's email")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """A contact's score now, line by line (lines sum to the total)."""
    _ready()
    from onefunnel.services.scoring import explain_score

    explained = explain_score(email=email)
    if fmt is OutputFormat.json:
        emit_object(explained.as_dict(), fmt)
        return
    summary = {k: v for k, v in explained.as_dict().items() if k not in ("lines", "top_features")}
    emit_object(summary, fmt, title=f"score of {explained.email}")
    emit_rows(
        [
            {"points": line.points, "reason": line.reason, "when": line.when}
            for line in explained.lines
        ],
        fmt,
        title="explanation",
        columns=["points", "reason", "when"],
    )
    if explained.top_features:
        emit_rows(
            [{"feature": f, "value": v, "log_odds": e} for f, v, e in explained.top_features],
            fmt,
            title="predictive model: top features",
        )


SetFileOption = Annotated[
    Path | None, typer.Option("--set", help="Store this JSON file as the new version")
]
NoteOption = Annotated[str, typer.Option(help="Why it changed")]


def _show_or_store(
    current: Callable[[], ConfigVersion],
    store: Callable[..., ConfigVersion],
    set_file: Path | None,
    note: str,
) -> None:
    """Print the configuration in force, or store the file as its next version and print it."""
    from onefunnel.cli.output import to_json

    version = store(_read_json(set_file), note=note) if set_file else current()
    typer.echo(
        to_json({"version": version.version, "note": version.note, "config": version.config})
    )


@scoring_app.command("config")
@translate_errors
def scoring_config_command(set_file: SetFileOption = None, note: NoteOption = "") -> None:
    """Print the scoring model in force as JSON, or store a new version from a file."""
    _ready()
    from onefunnel.services.scoring import save_scoring_config, scoring_config

    _show_or_store(scoring_config, save_scoring_config, set_file, note)


@scoring_app.command("train")
@translate_errors
def scoring_train(
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Train on this table instead of the contacts")
    ] = None,
    target: Annotated[str | None, typer.Option(help="The 0/1 outcome column (with --csv)")] = None,
    drop: Annotated[list[str] | None, typer.Option(help="Columns to ignore (with --csv)")] = None,
    algorithm: Annotated[
        str,
        typer.Option(
            "--model",
            "--algorithm",
            help="best (fit both on the same folds, keep the higher k-fold AUC), "
            "logistic_regression or gradient_boosting",
        ),
    ] = "best",
    folds: Annotated[int, typer.Option(help="Cross-validation folds")] = 5,
    activate: Annotated[bool, typer.Option(help="Switch the model on as the score")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Fit a conversion model and report its ROC AUC (and, on contacts, the rule score's AUC
    on the same holdout, and calibration)."""
    from onefunnel.domain.predictive import Algorithm

    try:
        chosen = None if algorithm == "best" else Algorithm(algorithm)
    except ValueError:
        fail(f"model: unknown model {algorithm!r} (best, logistic_regression, gradient_boosting)")
    _ready()
    from onefunnel.services import predictive_scoring as predictive

    if csv_file is not None:
        if not target:
            fail("target: --target COLUMN is required with --csv")
        csv_report = predictive.train_csv(
            csv_file,
            target,
            algorithm=chosen,
            folds=folds,
            drop=drop or (),
        )
        payload: dict[str, Any] = {
            "auc_mean": csv_report.auc_mean,
            "auc_std": csv_report.auc_std,
            "folds": csv_report.folds,
            "model": csv_report.model,
            "rows": csv_report.rows,
            "positives": csv_report.positives,
            "holdout_auc": csv_report.holdout_auc,
            "brier_score": csv_report.brier_score,
        }
        if fmt is OutputFormat.json:
            payload["candidates"] = list(csv_report.candidates)
        else:
            payload |= {"saved_as": csv_report.path, "run_id": csv_report.run_id}
        emit_object(payload, fmt, title="stratified k-fold ROC AUC (kept model)")
        if fmt is OutputFormat.table:
            emit_rows(list(csv_report.candidates), fmt,
                      title="models fitted on the same folds (kept first)")  # fmt: skip
        return
    if target:
        fail("target: --target only applies with --csv (on contacts the outcome is conversion)")
    report = predictive.train_from_database(algorithm=chosen, activate=activate, folds=folds)
    data = report.as_dict()
    calibration = data.pop("calibration")
    candidates = data.pop("candidates") if fmt is OutputFormat.table else data["candidates"]
    emit_object(data, fmt, title="predictive model vs rule score (same holdout)")
    if fmt is OutputFormat.table:
        emit_rows(list(candidates), fmt, title="models fitted on the same folds (kept first)")
        emit_rows(
            [dict(zip(("from", "to", "leads", "predicted", "observed"), b, strict=True))
             for b in calibration],
            fmt,
            title="calibration (holdout)",
        )  # fmt: skip


@scoring_app.command("predict")
@translate_errors
def scoring_predict(
    csv_file: Annotated[Path, typer.Option("--csv", help="The rows to score")],
    model: Annotated[
        int | None, typer.Option(help="Trained model id (default: newest CSV one)")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write CSV here instead of stdout")] = None,
    fmt: FormatOption = OutputFormat.csv,
) -> None:
    """Score another file with a saved model: its columns plus ``probability``."""
    _ready()
    import csv
    import sys

    from onefunnel.domain.csv_safety import neutralised_row
    from onefunnel.services.predictive_scoring import predict_csv

    columns, rows = predict_csv(csv_file, run_id=model)
    if output is None:
        emit_rows(rows, fmt, columns=columns)
        return
    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(neutralised_row(columns))
        writer.writerows(neutralised_row(row.get(c) for c in columns) for row in rows)
    print(f"{len(rows)} rows scored into {output}", file=sys.stderr)


@scoring_app.command("activate")
@translate_errors
def scoring_activate(
    model: Annotated[
        int | None, typer.Argument(help="Trained model id; omit to switch off")
    ] = None,
) -> None:
    """Switch a model trained on the contacts on as the score (or predictive scoring off)."""
    _ready()
    from onefunnel.services.predictive_scoring import set_active

    set_active(model)
    console.print(f"predictive scoring: {'model #' + str(model) if model else 'off'}")


# ---------------------------------------------------------------------------------------------
# reps and routing


@reps_app.command("set")
@translate_errors
def reps_set(
    username: Annotated[str, typer.Argument(help="The rep's username")],
    team: Annotated[str | None, typer.Option(help="Routing team")] = None,
    weight: Annotated[int | None, typer.Option(help="Round-robin weight")] = None,
    capacity: Annotated[int | None, typer.Option(help="Most pending handoffs")] = None,
    available: Annotated[bool | None, typer.Option("--available/--away")] = None,
    territory: Annotated[list[str] | None, typer.Option(help="Country or region (repeat)")] = None,
    create: Annotated[bool, typer.Option(help="Create the user if missing")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Make a user a rep, or change their team, weight, capacity, availability, territories."""
    _ready()
    from onefunnel.services.routing_config import set_rep

    rep = set_rep(
        username, team=team, weight=weight, capacity=capacity, available=available,
        territories=territory, create_user=create,
    )  # fmt: skip
    emit_object(_fields(rep), fmt, title="rep")


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


@reps_app.command("list")
@translate_errors
def reps_list(fmt: FormatOption = OutputFormat.table) -> None:
    """Every rep with their pending handoffs."""
    _ready()
    from onefunnel.services.routing_config import list_reps

    emit_rows([_fields(r) for r in list_reps()], fmt, title="reps")


@routing_app.command("config")
@translate_errors
def routing_config_command(set_file: SetFileOption = None, note: NoteOption = "") -> None:
    """Print the routing rules in force as JSON, or store a new version from a file."""
    _ready()
    from onefunnel.services.routing_config import routing_config, save_routing_config

    _show_or_store(routing_config, save_routing_config, set_file, note)


def _clock(value: str, name: str) -> Any:
    try:
        return datetime.strptime(value, "%H:%M").time()
    except ValueError:
        fail(f"{name}: expected HH:MM, got {value!r}")


@routing_app.command("calendar")
@translate_errors
def routing_calendar(
    team: Annotated[str, typer.Argument(help="The routing team")],
    tz: Annotated[str, typer.Option(help="IANA time zone")] = "UTC",
    weekdays: Annotated[str, typer.Option(help="Working days, 0=Monday")] = "0,1,2,3,4",
    start: Annotated[str, typer.Option(help="Opening time HH:MM")] = "09:00",
    end: Annotated[str, typer.Option(help="Closing time HH:MM")] = "17:00",
    holiday: Annotated[list[str] | None, typer.Option(help="YYYY-MM-DD (repeat)")] = None,
    sla_hours: Annotated[float, typer.Option(help="First response due, working hours")] = 8.0,
    reassign: Annotated[bool, typer.Option(help="Reassign on a breached SLA")] = True,
    max_reassignments: Annotated[int, typer.Option(help="At most this many times")] = 2,
) -> None:
    """Set a team's working hours and first-response SLA."""
    try:
        days = [int(d) for d in weekdays.split(",") if d.strip()]
        holidays = [date.fromisoformat(h) for h in holiday or ()]
    except ValueError as exc:
        fail(f"weekdays/holiday: {exc}")
    _ready()
    from onefunnel.services.routing_config import set_team_calendar

    set_team_calendar(
        team, tz=tz, weekdays=days, start=_clock(start, "start"), end=_clock(end, "end"),
        holidays=holidays, first_response_hours=sla_hours, reassign_on_breach=reassign,
        max_reassignments=max_reassignments,
    )  # fmt: skip
    console.print(f"calendar of team {team!r} saved")


# ---------------------------------------------------------------------------------------------
# webhooks and the worker


@webhooks_app.command("add")
@translate_errors
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST events")],
    event: Annotated[
        list[str] | None, typer.Option(help="Event type (repeat); default all")
    ] = None,
    secret: Annotated[str | None, typer.Option(help="whsec_… (default: a new one)")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Subscribe a URL; prints its signing secret (shown once)."""
    _ready()
    from onefunnel.services.webhooks import add_endpoint

    endpoint = add_endpoint(url, events=event or (), secret=secret)
    emit_object(_fields(endpoint), fmt, title="webhook endpoint")


@webhooks_app.command("log")
@translate_errors
def webhooks_log(
    limit: Annotated[int, typer.Option(help="Newest first, at most this many")] = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The delivery log: every message, its attempts and outcome."""
    _ready()
    from onefunnel.services.webhooks import delivery_log

    emit_rows([_fields(d) for d in delivery_log(limit=limit)], fmt, title="webhook deliveries")


@app.command()
@translate_errors
def worker(
    once: Annotated[bool, typer.Option(help="One pass, then exit (for cron)")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes")] = 30.0,
    tracking: Annotated[
        bool,
        typer.Option(
            help="Also expand the tracking inbox into touchpoints, continuously between passes "
            "(with --once: until it is empty). For servers started with `serve --no-processor` "
            "or a plain uvicorn with ONEFUNNEL_TRACKING_PROCESSOR=0; processors take turns, so "
            "several may run"
        ),
    ] = False,
) -> None:
    """Escalate breached SLAs, run the renewal check and deliver due webhooks, every
    --interval seconds."""
    if interval <= 0:
        fail("interval: must be more than 0 seconds")
    _ready()
    import threading

    from onefunnel.services.tracking_inbound import drain
    from onefunnel.services.tracking_writer import serve_inbox
    from onefunnel.services.worker import run_once

    while True:
        result = run_once()
        console.print(
            f"{result.at:%Y-%m-%d %H:%M:%S} breaches {result.breaches} "
            f"(reassigned {result.reassigned}), webhooks delivered {result.delivered}, "
            f"retrying {result.retrying}, failed {result.failed}; renewal deals opened "
            f"{result.renewals_opened}, contracts renewed {result.contracts_renewed}, "
            f"ended {result.contracts_ended}; went cold {result.went_cold}, segments "
            f"refreshed {result.segments_refreshed}; emails sent {result.emails_sent}, "
            f"bounced {result.emails_bounced}, inbound read {result.inbound_read}",
            highlight=False,
        )
        if once:
            if tracking:
                console.print(f"tracking batches expanded {drain()}", highlight=False)
            return
        if not tracking:
            time.sleep(interval)
            continue
        # Expanding until the next pass: a timer sets the stop signal at the pass's time.
        until = threading.Event()
        timer = threading.Timer(interval, until.set)
        timer.start()
        try:
            serve_inbox(until)
        finally:
            timer.cancel()
