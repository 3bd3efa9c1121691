"""Sales from the command line: deals (list, create, update, move, win, lose, history, board,
pipelines), activities, tasks, and moving a contact by hand (nurture, requalify).

Every command calls one service of ``services/sales``. ``--as USERNAME`` acts as that user,
under the rule book (a rep works their own deals; exit 3 otherwise); without it the command
acts as the system, as the operator of the installation. A move the rules forbid (winning a won
deal, a stage of another pipeline) exits 2; bad input exits 1 — one line on stderr each.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, emit_object, emit_rows

if TYPE_CHECKING:
    from onefunnel.domain.access import Actor

P = ParamSpec("P")
R = TypeVar("R")

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False)
]
AsOption = Annotated[
    str | None, typer.Option("--as", help="Act as this user (username); the system if omitted")
]

deals_app = typer.Typer(help="Deals: list, create, update, move, win, lose, history, board.")
activities_app = typer.Typer(help="Sales activities: log a call, email, meeting, demo or note.")
tasks_app = typer.Typer(help="Tasks: add, list (overdue per owner), done.")
contacts_app = typer.Typer(help="Move a contact by hand: nurture (with a reason), requalify.")
app.add_typer(deals_app, name="deals")
app.add_typer(activities_app, name="activities")
app.add_typer(tasks_app, name="tasks")
app.add_typer(contacts_app, name="contacts")

DEAL_COLUMNS = (
    "id", "name", "kind", "status", "pipeline", "pipeline_stage", "probability", "amount",
    "currency", "expected_close", "owner", "account_id", "account", "lost_reason", "source",
)  # fmt: skip
ACTIVITY_COLUMNS = (
    "id", "kind", "occurred_at", "actor", "contact_id", "account_id", "deal_id", "outcome",
    "duration_minutes", "notes",
)  # fmt: skip
TASK_COLUMNS = ("id", "title", "owner", "due", "overdue", "done", "contact_id", "account_id",
                "deal_id")  # fmt: skip


def _ready() -> None:
    setup_django()
    migrate()


def _actor(username: str | None) -> Actor:
    from onefunnel.services.access import SYSTEM, actor_by_username

    return actor_by_username(username) if username else SYSTEM


def _closed(closed: Any, fmt: OutputFormat) -> None:
    from onefunnel.services.access import SYSTEM
    from onefunnel.services.sales.deals import get_deal

    payload = get_deal(closed.deal_id, actor=SYSTEM).as_dict() | {
        "moves": [f"{m.subject} #{m.subject_id} → {m.to_stage.value}" for m in closed.moves]
    }
    emit_object(payload, fmt, title=f"deal #{closed.deal_id}")


# ---------------------------------------------------------------------------------------------
# deals


@deals_app.command("list")
@translate_errors
def deals_list(
    status: Annotated[str | None, typer.Option(help="open, won or lost")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's (username)")] = None,
    account: Annotated[int | None, typer.Option(help="Only this account's (id)")] = None,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline's (name)")] = None,
    kind: Annotated[str | None, typer.Option(help="new_business, renewal, upsell…")] = None,
    after: Annotated[int | None, typer.Option(help="Ids after this one (next page)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 200,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Deals by id (only those the --as user may read)."""
    _ready()
    from onefunnel.services.sales.deals import list_deals

    rows = list_deals(
        actor=_actor(actor), status=status, owner=owner, account_id=account,
        pipeline=pipeline, kind=kind, after=after, limit=limit,
    )  # fmt: skip
    emit_rows([d.as_dict() for d in rows], fmt, title="deals", columns=DEAL_COLUMNS)


@deals_app.command("create")
@translate_errors
def deals_create(
    account: Annotated[int, typer.Option(help="The account's id")],
    name: Annotated[str, typer.Option(help="The deal's name")],
    amount: Annotated[str, typer.Option(help="Amount, e.g. 12000.00")],
    kind: Annotated[str, typer.Option(help="new_business, renewal, upsell, cross_sell")] = (
        "new_business"
    ),
    contact: Annotated[int | None, typer.Option(help="The main contact's id")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner (username); --as user if none")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO 4217 code")] = None,
    expected_close: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD")
    ] = None,
    pipeline: Annotated[str | None, typer.Option(help="Pipeline (default if none)")] = None,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Open a deal in the first stage of its pipeline."""
    _ready()
    from onefunnel.services.sales.deals import create_deal

    deal = create_deal(
        actor=_actor(actor), account_id=account, name=name, amount=amount, kind=kind,
        contact_id=contact, owner=owner, currency=currency,
        expected_close=expected_close.date() if expected_close else None, pipeline=pipeline,
    )  # fmt: skip
    emit_object(deal.as_dict(), fmt, title=f"deal #{deal.id}")


@deals_app.command("update")
@translate_errors
def deals_update(
    deal_id: Annotated[int, typer.Argument(help="The deal's id")],
    name: Annotated[str | None, typer.Option(help="New name")] = None,
    amount: Annotated[str | None, typer.Option(help="New amount")] = None,
    expected_close: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="New owner (username)")] = None,
    probability: Annotated[int | None, typer.Option(help="Manual probability, percent")] = None,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Edit an open deal (only the options given); changes go to its history."""
    _ready()
    from onefunnel.services.sales.deals import update_deal

    changes: dict[str, Any] = {}
    if amount is not None:
        changes["amount"] = amount
    if expected_close is not None:
        changes["expected_close"] = expected_close.date()
    if owner is not None:
        changes["owner"] = owner
    if probability is not None:
        changes["probability"] = probability
    deal = update_deal(deal_id, actor=_actor(actor), name=name, **changes)
    emit_object(deal.as_dict(), fmt, title=f"deal #{deal.id}")


@deals_app.command("move")
@translate_errors
def deals_move(
    deal_id: Annotated[int, typer.Argument(help="The deal's id")],
    stage: Annotated[str, typer.Argument(help="A stage of its pipeline (name or id)")],
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Move an open deal to another stage of its pipeline."""
    _ready()
    from onefunnel.services.sales.deals import move_deal

    deal = move_deal(deal_id, stage, actor=_actor(actor))
    emit_object(deal.as_dict(), fmt, title=f"deal #{deal.id}")


@deals_app.command("win")
@translate_errors
def deals_win(
    deal_id: Annotated[int, typer.Argument(help="The deal's id")],
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Win an open deal: its account and contacts move along the funnel."""
    _ready()
    from onefunnel.services.sales.deals import win_deal

    _closed(win_deal(deal_id, actor=_actor(actor)), fmt)


@deals_app.command("lose")
@translate_errors
def deals_lose(
    deal_id: Annotated[int, typer.Argument(help="The deal's id")],
    reason: Annotated[
        str | None, typer.Option(help="price, timing, competitor, no_decision, other")
    ] = None,
    note: Annotated[str, typer.Option(help="Why (required with 'other')")] = "",
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Lose an open deal with a reason."""
    _ready()
    from onefunnel.services.sales.deals import lose_deal

    _closed(lose_deal(deal_id, reason=reason, note=note, actor=_actor(actor)), fmt)


@deals_app.command("history")
@translate_errors
def deals_history(
    deal_id: Annotated[int, typer.Argument(help="The deal's id")],
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Every change of a deal's stage, amount, expected close and owner."""
    _ready()
    from onefunnel.services.sales.deals import deal_history

    rows = [h.as_dict() for h in deal_history(deal_id, actor=_actor(actor))]
    emit_rows(rows, fmt, title=f"deal #{deal_id} history",
              columns=("at", "field", "from_label", "to_label", "actor"))  # fmt: skip


@deals_app.command("pipelines")
@translate_errors
def deals_pipelines(fmt: FormatOption = OutputFormat.table) -> None:
    """Pipelines and their stages: default probability beside the historical win rate."""
    _ready()
    from onefunnel.services.sales.deals import list_pipelines

    rows = [
        {
            "pipeline": p.name,
            "default": p.is_default,
            "stage": s.stage,
            "probability": s.probability,
            "reached": s.reached,
            "won": s.won,
            "win_rate": s.win_rate,
        }
        for p in list_pipelines()
        for s in p.stages
    ]
    emit_rows(rows, fmt, title="pipelines")


@deals_app.command("board")
@translate_errors
def deals_board(
    pipeline: Annotated[str | None, typer.Option(help="Pipeline (default if none)")] = None,
    scope: Annotated[str, typer.Option(help="mine, team, all or user:USERNAME")] = "all",
    page: Annotated[int, typer.Option(help="Page of cards per column")] = 1,
    page_size: Annotated[int, typer.Option(help="Cards per column")] = 50,
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The deal board's columns: count, amount and weighted amount per stage."""
    _ready()
    from onefunnel.services.sales.board import deal_board

    board = deal_board(pipeline, _actor(actor), scope, page, page_size=page_size)
    rows = [
        {"stage": c.stage, "probability": c.probability, "count": c.count, "amount": c.amount,
         "weighted_amount": c.weighted_amount, "deals": ", ".join(f"#{d.id}" for d in c.cards)}
        for c in board.columns
    ]  # fmt: skip
    emit_rows(rows, fmt, title=f"{board.pipeline} board ({board.currency})")


# ---------------------------------------------------------------------------------------------
# activities and tasks


@activities_app.command("log")
@translate_errors
def activities_log(
    kind: Annotated[str, typer.Argument(help="call, email, meeting, demo or note")],
    contact: Annotated[int | None, typer.Option(help="On this contact (id)")] = None,
    account: Annotated[int | None, typer.Option(help="On this account (id)")] = None,
    deal: Annotated[int | None, typer.Option(help="On this deal (id)")] = None,
    outcome: Annotated[str | None, typer.Option(help="connected, no_answer, held…")] = None,
    duration: Annotated[int | None, typer.Option(help="Minutes")] = None,
    notes: Annotated[str, typer.Option(help="What happened")] = "",
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Log an activity; a call, email, meeting or demo is also a touch of the sales team."""
    _ready()
    from onefunnel.services.sales.activities import log_activity

    logged = log_activity(
        actor=_actor(actor), kind=kind, contact_id=contact, account_id=account, deal_id=deal,
        outcome=outcome, duration_minutes=duration, notes=notes,
    )  # fmt: skip
    emit_object(logged.as_dict(), fmt, title=f"activity #{logged.id}")


@activities_app.command("list")
@translate_errors
def activities_list(
    contact: Annotated[int | None, typer.Option(help="On this contact (id)")] = None,
    account: Annotated[int | None, typer.Option(help="On this account (id)")] = None,
    deal: Annotated[int | None, typer.Option(help="On this deal (id)")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 200,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Activities on a contact, an account or a deal, newest first."""
    _ready()
    from onefunnel.services.sales.activities import list_activities

    rows = list_activities(contact_id=contact, account_id=account, deal_id=deal, limit=limit)
    emit_rows([a.as_dict() for a in rows], fmt, title="activities", columns=ACTIVITY_COLUMNS)


@tasks_app.command("add")
@translate_errors
def tasks_add(
    title: Annotated[str, typer.Argument(help="What to do")],
    owner: Annotated[str | None, typer.Option(help="Who does it (username; required)")] = None,
    due: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Due date YYYY-MM-DD (required)")
    ] = None,
    contact: Annotated[int | None, typer.Option(help="On this contact (id)")] = None,
    account: Annotated[int | None, typer.Option(help="On this account (id)")] = None,
    deal: Annotated[int | None, typer.Option(help="On this deal (id)")] = None,
    notes: Annotated[str, typer.Option(help="Details")] = "",
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Add a task with an owner and a due date."""
    _ready()
    from onefunnel.services.sales.tasks import add_task

    task = add_task(
        actor=_actor(actor), title=title, owner=owner, due=due.date() if due else None,
        contact_id=contact, account_id=account, deal_id=deal, notes=notes,
    )  # fmt: skip
    emit_object(task.as_dict(), fmt, title=f"task #{task.id}")


@tasks_app.command("list")
@translate_errors
def tasks_list(
    owner: Annotated[str | None, typer.Option(help="Only this owner's (username)")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue tasks")] = False,
    done: Annotated[bool, typer.Option("--all", help="Done tasks too")] = False,
    contact: Annotated[int | None, typer.Option(help="On this contact (id)")] = None,
    account: Annotated[int | None, typer.Option(help="On this account (id)")] = None,
    deal: Annotated[int | None, typer.Option(help="On this deal (id)")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Open tasks by due date (overdue ones per owner with --overdue)."""
    _ready()
    from onefunnel.services.sales.tasks import list_tasks

    rows = list_tasks(owner, overdue, include_done=done, contact_id=contact, account_id=account,
                      deal_id=deal)  # fmt: skip
    emit_rows([t.as_dict() for t in rows], fmt, title="tasks", columns=TASK_COLUMNS)


@tasks_app.command("done")
@translate_errors
def tasks_done(
    task_id: Annotated[int, typer.Argument(help="The task's id")],
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Mark a task done."""
    _ready()
    from onefunnel.services.sales.tasks import complete_task

    task = complete_task(task_id, actor=_actor(actor))
    emit_object(task.as_dict(), fmt, title=f"task #{task.id}")


# ---------------------------------------------------------------------------------------------
# contacts


def _moved(move: Any, fmt: OutputFormat) -> None:
    emit_object(
        {
            "contact_id": move.subject_id,
            "from_stage": move.from_stage.value if move.from_stage else None,
            "to_stage": move.to_stage.value,
            "reason": move.reason.value if move.reason else None,
            "at": move.at,
        },
        fmt,
        title=f"contact #{move.subject_id}",
    )


@contacts_app.command("nurture")
@translate_errors
def contacts_nurture(
    contact_id: Annotated[int, typer.Argument(help="The contact's id")],
    reason: Annotated[str, typer.Option(help="not_now, no_budget, bad_fit, other (+ note)…")],
    note: Annotated[str, typer.Option(help="Why (required with 'other')")] = "",
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Send a lead back to marketing (nurture) with a reason."""
    _ready()
    from onefunnel.services.sales.contacts import send_to_nurture

    _moved(send_to_nurture(contact_id, reason=reason, note=note, actor=_actor(actor)), fmt)


@contacts_app.command("requalify")
@translate_errors
def contacts_requalify(
    contact_id: Annotated[int, typer.Argument(help="The contact's id")],
    stage: Annotated[str, typer.Option(help="awareness, consideration or intent")] = (
        "consideration"
    ),
    note: Annotated[str, typer.Option(help="Why")] = "",
    actor: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Bring a disqualified or nurtured contact back into the funnel."""
    _ready()
    from onefunnel.services.sales.contacts import requalify

    _moved(requalify(contact_id, stage=stage, note=note, actor=_actor(actor)), fmt)
