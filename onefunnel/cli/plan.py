"""The plan from the command line: targets and pace, the forecast and its backtest, the reverse
funnel, saved plans and budgets. Every command parses its options, calls a service and prints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, console, emit_object, emit_rows

if TYPE_CHECKING:
    from onefunnel.domain.access import Actor

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False)
]
AsOption = Annotated[str | None, typer.Option("--as", help="Act as this user (username)")]

targets_app = typer.Typer(help="Monthly targets per rep, team and company; attainment and pace.")
plans_app = typer.Typer(help="Saved reverse-funnel plans (versions).")
budgets_app = typer.Typer(help="Marketing budgets per month and channel, planned beside actual.")
app.add_typer(targets_app, name="targets")
app.add_typer(plans_app, name="plans")
app.add_typer(budgets_app, name="budgets")


def _ready() -> None:
    setup_django()
    migrate()


def _actor(username: str | None) -> Actor:
    from onefunnel.services.access import SYSTEM, actor_by_username

    return actor_by_username(username) if username else SYSTEM


# ---------------------------------------------------------------------------------------------
# targets

TARGET_COLUMNS = (
    "id", "month", "metric", "scope", "subject", "value", "actual", "attainment", "projected",
    "projected_attainment", "worked_days", "working_days", "set_by",
)  # fmt: skip


@targets_app.command("set")
@translate_errors
def targets_set(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    metric: Annotated[
        str,
        typer.Option(
            help="mqls, handoffs_accepted, deals_won, new_revenue, renewal_revenue,"
            " expansion_revenue or spend"
        ),
    ],
    value: Annotated[str, typer.Option(help="The target (a count or an amount)")],
    team: Annotated[str | None, typer.Option(help="A team's target (the team's name)")] = None,
    rep: Annotated[str | None, typer.Option(help="A rep's target (username)")] = None,
    as_user: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Set one month's target for the company (default), a team or a rep."""
    _ready()
    from onefunnel.services.plan.targets import TargetInput, list_targets, set_targets

    scope = "rep" if rep else "team" if team else "company"
    entry = TargetInput(month=month, metric=metric, value=value, scope=scope, team=team, rep=rep)
    (target_id,) = set_targets(_actor(as_user), [entry])
    row = next(r for r in list_targets(month=month) if r.id == target_id)
    emit_object(row.as_dict(), fmt, title=f"target #{target_id}")


@targets_app.command("list")
@translate_errors
def targets_list(
    month: Annotated[str | None, typer.Option(help="Only this month, YYYY-MM")] = None,
    metric: Annotated[str | None, typer.Option(help="Only this metric")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Targets with attainment to date and pace (where the month lands at the current rate)."""
    _ready()
    from onefunnel.services.plan.targets import list_targets

    rows = [r.as_dict() for r in list_targets(month=month, metric=metric)]
    emit_rows(rows, fmt, title="targets", columns=TARGET_COLUMNS)


@targets_app.command("import")
@translate_errors
def targets_import(
    file: Annotated[Path, typer.Argument(help="CSV: month,metric,value[,scope,team,rep]")],
    as_user: AsOption = None,
) -> None:
    """Set every target of a CSV file, all or none (an error names the row)."""
    _ready()
    from onefunnel.services.plan.targets import import_targets

    ids = import_targets(_actor(as_user), file)
    console.print(f"{len(ids)} target(s) set")


# ---------------------------------------------------------------------------------------------
# forecast


@app.command()
@translate_errors
def forecast(
    period: Annotated[
        str | None, typer.Option(help="YYYY-MM or YYYY-Qn (default: this quarter)")
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(help="stage or history (default: the one the backtest picks)"),
    ] = None,
    backtest: Annotated[
        bool, typer.Option("--backtest", help="Print the walk-forward backtest instead")
    ] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The revenue forecast by expected close month, with forecast categories."""
    _ready()
    from onefunnel.services.plan import forecast as service

    if backtest:
        result = service.run_backtest()
        errors, months = service.backtest_rows(result)
        if fmt is OutputFormat.json:
            emit_object({"errors": errors, "months": months}, fmt)
            return
        emit_rows(months, fmt, title="backtest: forecast on each month's first day")
        emit_rows(errors, fmt, title="backtest errors (MAPE, bias) — the default is marked")
        return
    report = service.forecast_period(period, method=method)
    if fmt is OutputFormat.json:
        emit_object(
            {"period": report.period, "method": report.method.value, "why": report.why,
             "months": report.rows()},
            fmt,
        )  # fmt: skip
        return
    emit_rows(report.rows(), fmt, title=f"forecast {report.period} ({report.method.value})")
    if fmt is OutputFormat.table:
        console.print(report.why)


@app.command("forecast-category")
@translate_errors
def forecast_category(
    deal_id: Annotated[int, typer.Argument(help="The deal's id")],
    category: Annotated[str, typer.Argument(help="commit, best_case, pipeline or omitted")],
    as_user: AsOption = None,
) -> None:
    """Set a deal's forecast category (its rep, their team lead, or an admin)."""
    _ready()
    from onefunnel.services.plan.forecast import set_forecast_category

    value = set_forecast_category(_actor(as_user), deal_id, category)
    console.print(f"deal #{deal_id}: {value.value}")


# ---------------------------------------------------------------------------------------------
# plan


def _print_plan(body: dict[str, Any], fmt: OutputFormat, title: str) -> None:
    if fmt is OutputFormat.json:
        emit_object(body, fmt)
        return
    steps = [
        {k: s[k] for k in ("step", "value", "low", "high", "rate", "from", "to")}
        for s in body["steps"]
    ]
    emit_rows(steps, fmt, title=title)
    if fmt is not OutputFormat.table:
        return
    rates = [
        {"rate": name, **{k: v for k, v in r.items() if k != "spend"}}
        for name, r in body["rates"].items()
        if name != "cycle_days"
    ]
    emit_rows(rates, fmt, title="measured rates (n, 90 % interval)",
              columns=["rate", "value", "low", "high", "n"])  # fmt: skip
    cycle = body["rates"]["cycle_days"]
    console.print(
        f"cycle (median days): lead → MQL {cycle['lead_to_mql']}, MQL → decision"
        f" {cycle['mql_to_decision']}, decision → close {cycle['decision_to_close']}"
    )
    if body["channels"]:
        rows = [
            {
                "channel": c["channel"],
                "mql_share": c["mql_share"],
                "mqls": c["mqls"]["value"],
                "leads": c["leads"]["value"],
                "cost_per_lead": c["cost_per_lead"],
                "spend": c["spend"]["value"],
                "spend_low": c["spend"]["low"],
                "spend_high": c["spend"]["high"],
                "notes": "; ".join(c["notes"]),
            }
            for c in body["channels"]
        ]
        emit_rows(rows, fmt, title="by channel")
    spend = next(s for s in body["steps"] if s["step"] == "spend")
    if spend["value"] is not None:
        console.print(f"spend between {spend['low']:,.2f} and {spend['high']:,.2f}"
                      f" {body['currency']} (plan {spend['value']:,.2f})")  # fmt: skip
    for limit in body["limits"]:
        console.print(f"[yellow]limit:[/] {limit}")


@app.command("plan")
@translate_errors
def plan_command(
    revenue: Annotated[str, typer.Option(help="The revenue target of the period")],
    period: Annotated[str, typer.Option(help="YYYY-MM or YYYY-Qn")],
    by: Annotated[str | None, typer.Option(help="channel: split spend by channel")] = None,
    window: Annotated[int, typer.Option(help="Trailing months the rates are measured over")] = 6,
    model: Annotated[str, typer.Option(help="Attribution model of the channel mix")] = "linear",
    save: Annotated[bool, typer.Option("--save", help="Save as the next version")] = False,
    name: Annotated[str | None, typer.Option(help="Saved plan's name (default: period)")] = None,
    budgets: Annotated[
        bool, typer.Option("--budgets", help="With --save --by channel: write the budgets")
    ] = False,
    team: Annotated[
        str | None, typer.Option(help="With --save: the team's plan (admins; its team lead)")
    ] = None,
    as_user: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Work backwards from a revenue target: deals, handoffs, MQLs, leads and spend."""
    _ready()
    from onefunnel.services.plan.reverse_funnel import make_plan, save_plan

    result = make_plan(revenue, period, by=by, window_months=window, model=model)
    body = result.as_dict()
    title = f"plan {result.period}: {result.plan.revenue:,.2f} {result.currency}"
    if save:
        saved = save_plan(_actor(as_user), result, name=name, budgets=budgets, team=team)
        body["saved"] = saved.summary()
        title += f" — saved as plan #{saved.id} ({saved.name} v{saved.version})"
    _print_plan(body, fmt, title)


@plans_app.command("list")
@translate_errors
def plans_list(fmt: FormatOption = OutputFormat.table) -> None:
    """Saved plans, newest first."""
    _ready()
    from onefunnel.services.plan.reverse_funnel import list_plans

    emit_rows([p.summary() for p in list_plans()], fmt, title="plans")


@plans_app.command("show")
@translate_errors
def plans_show(
    plan_id: Annotated[int, typer.Argument(help="The plan's id")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """One saved plan: its steps, rates, channels and limits."""
    _ready()
    from onefunnel.services.plan.reverse_funnel import get_plan

    saved = get_plan(plan_id)
    title = f"plan #{saved.id} {saved.name} v{saved.version} by {saved.created_by or 'system'}"
    _print_plan({**saved.body, "saved": saved.summary()}, fmt, title)


# ---------------------------------------------------------------------------------------------
# budgets


@budgets_app.command("set")
@translate_errors
def budgets_set(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    amount: Annotated[str, typer.Option(help="Planned spend")],
    campaign: Annotated[str | None, typer.Option(help="The campaign's UTM key")] = None,
    channel: Annotated[str | None, typer.Option(help="Channel (a plan's budget line)")] = None,
    plan: Annotated[int | None, typer.Option(help="The plan whose line this is")] = None,
    goal_leads: Annotated[int | None, typer.Option(help="Goal: leads")] = None,
    goal_mqls: Annotated[int | None, typer.Option(help="Goal: MQLs")] = None,
    goal_pipeline: Annotated[str | None, typer.Option(help="Goal: pipeline amount")] = None,
    as_user: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Set a campaign's budget for a month (or a plan's channel line), with its goals."""
    _ready()
    from onefunnel.services.plan.budgets import BudgetInput, set_budget

    row = set_budget(
        _actor(as_user),
        BudgetInput(
            month=month, amount=amount, campaign=campaign, channel=channel, plan_id=plan,
            goal_leads=goal_leads, goal_mqls=goal_mqls, goal_pipeline=goal_pipeline,
        ),
    )  # fmt: skip
    emit_object(row, fmt, title="budget")


@budgets_app.command("list")
@translate_errors
def budgets_list(
    month: Annotated[str | None, typer.Option(help="Only this month, YYYY-MM")] = None,
    plan: Annotated[int | None, typer.Option(help="Only this plan's budget")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Budgets with the actual spend of the same campaign (or channel) and month beside them."""
    _ready()
    from onefunnel.services.plan.budgets import list_budgets

    emit_rows(list_budgets(month=month, plan_id=plan), fmt, title="budgets")
