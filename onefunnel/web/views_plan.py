"""The plan (``/plan``): monthly targets with attainment and pace per rep, team and company;
the revenue forecast; the saved reverse-funnel plan beside the actual, step by step, the step
most off plan first.

Thin: each panel asks ``services.plan`` or the plan report (``/api/reports/plan?plan=ID``, the
same numbers). Reading is open to every role, as in the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.reports import ReportOptions, run_report
from onefunnel.analytics.table import Table, Value
from onefunnel.domain.plan.periods import month_end, month_label, parse_month
from onefunnel.services.errors import InputError
from onefunnel.services.plan import forecast as forecast_service
from onefunnel.services.plan import reverse_funnel as plan_service
from onefunnel.services.plan import targets as target_service
from onefunnel.web.charts import LEGEND, SERIES_COLOURS, bar_chart
from onefunnel.web.panels import Column, Format, Panel
from onefunnel.web.security import allow_eval
from onefunnel.web.workspace import Ask, Source, ask_of, register, slot

_SCOPES = {"company": 0, "team": 1, "rep": 2}
STEP_WORDS = {
    "leads": "leads (contacts created)",
    "mqls": "MQLs (handoffs created)",
    "handoffs_accepted": "handoffs accepted",
    "deals_won": "deals won",
    "revenue": "revenue won",
    "spend": "spend",
}


def _month(ask: Ask) -> str:
    text = ask.query.get("month") or month_label(ask.today.replace(day=1))
    return text.strip()


def _subject(subject: str) -> str:
    kind, _, name = subject.partition(":")
    return {"team": f"team {name}", "rep": name}.get(kind, subject)


def _targets(ask: Ask) -> Table:
    rows = target_service.list_targets(month=_month(ask), today=ask.today)
    rows.sort(key=lambda r: (_SCOPES.get(r.scope, 3), r.subject, r.metric))
    return Table.of(
        ("subject", "scope", "metric", "value", "actual", "attainment", "projected",
         "projected_attainment", "days", "id"),
        [(_subject(r.subject), r.scope, r.metric, r.value, r.actual, r.attainment, r.projected,
          r.projected_attainment, f"{r.worked_days} of {r.working_days}", r.id) for r in rows],
    )  # fmt: skip


def _forecast(ask: Ask) -> Table:
    report = forecast_service.forecast_period(ask.query.get("quarter") or None)
    columns = ("month", "won", "commit", "best_case", "pipeline", "weighted", "run_rate",
               "forecast", "deals")  # fmt: skip
    # The period, method and why ride along on every row for the note (not shown as columns).
    about = (report.period, report.method.value, report.why)
    return Table.of(
        (*columns, "period", "method", "why"), [[*(r[c] for c in columns), *about]
                                                for r in report.rows()]
    )  # fmt: skip


def _forecast_owners(ask: Ask) -> Table:
    _, rows = forecast_service.forecast_by_owner(ask.query.get("quarter") or None)
    return Table.of(
        ("scope", "subject", "won", "weighted", "run_rate", "forecast", "deals"),
        [(r.scope, r.subject, r.won, r.weighted, r.run_rate, r.forecast, r.deals) for r in rows],
    )


def _forecast_note(ask: Ask, table: Table) -> str:
    if not table.rows:
        return ""
    record = table.to_records()[0]
    return f"{record['period']}, method {record['method']} ({record['why']})."


def chosen_plan(ask: Ask) -> plan_service.SavedPlan | None:
    """The plan the page asks for (``?plan=ID``), else the newest saved; None if none is."""
    text = ask.query.get("plan") or ""
    if text:
        if not text.isdigit() or not 1 <= int(text) <= 2**62:
            raise InputError(f"plan: {text[:20]!r} is not a plan's id")
        return plan_service.get_plan(int(text))
    plans = plan_service.list_plans()
    return plans[0] if plans else None


def plan_beside_actual(ask: Ask) -> Table:
    """The plan report of the chosen plan: one row per step, channel and month, the most
    off-plan step first (``/api/reports/plan?plan=ID``)."""
    saved = chosen_plan(ask)
    if saved is None:
        return Table(("off_plan_rank",), ())
    rows = tuple(plan_service.planned_by_month(saved.id))
    options = ReportOptions(plan_rows=rows, today=ask.today)
    return run_report("plan", DjangoEngine(), ask.period, options=options)


def _number(value: Value) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def steps_to_date(table: Table, current_month: str) -> Table:
    """One row per step and channel, in the report's off-plan order: planned and actual summed
    over the months begun (to date), and over the whole plan; then the step's code and its
    first and last month to date (where its actual's records are)."""
    out: dict[tuple[Value, Value], list[Any]] = {}
    for r in table.to_records():
        key = (r["step"], r["channel"])
        row = out.setdefault(key, [r["off_plan_rank"], r["step"], r["channel"], 0.0, 0.0, 0.0,
                                   None, None])  # fmt: skip
        month = str(r["month"])
        if month <= current_month:
            row[3] += _number(r["planned"])
            row[4] += _number(r["actual"])
            row[6] = min(row[6] or month, month)
            row[7] = max(row[7] or month, month)
        row[5] += _number(r["planned"])
    rows = []
    for rank, step, channel, planned, actual, whole, first, last in out.values():
        attainment = actual / planned if planned else None
        rows.append((rank, STEP_WORDS.get(str(step), step), channel, planned, actual,
                     attainment, whole, step, first, last))  # fmt: skip
    return Table.of(
        ("off_plan_rank", "step", "channel", "planned_to_date", "actual_to_date",
         "attainment_to_date", "planned_whole_plan", "step_key", "first_month", "last_month"),
        rows,
    )  # fmt: skip


def _steps(ask: Ask) -> Table:
    table = plan_beside_actual(ask)
    if not table.rows:
        return Table(("off_plan_rank",), ())
    return steps_to_date(table, ask.today.strftime("%Y-%m"))


def _plan_note(ask: Ask, table: Table) -> str:
    saved = chosen_plan(ask)
    if saved is None:
        return ""
    head = (
        f"Plan {saved.name!r} version {saved.version} (#{saved.id}), {saved.period}: revenue "
        f"{saved.revenue:,.0f} {saved.currency}."
    )
    records = table.to_records()
    if records and "attainment_to_date" in table.columns:
        first = records[0]
        share = first["attainment_to_date"]
        if isinstance(share, float):
            head += f" Most off plan to date: {first['step']} ({first['channel']}) at {share:.0%}."
    return head


def _month_days(first: str, last: str) -> dict[str, str]:
    """``from``/``to`` covering the months ``first`` to ``last`` (YYYY-MM)."""
    end = month_end(parse_month(last, "month"))
    return {"from": f"{first}-01", "to": end.isoformat()}


def _target_records(ask: Ask, row: dict[str, Value], measure: str) -> dict[str, str] | None:
    """A target's actual: the records it counts (or sums)."""
    return {"report": "targets", "target": str(row["id"])}


def _forecast_records(ask: Ask, row: dict[str, Value], measure: str) -> dict[str, str] | None:
    """A forecast cell: the deals behind it (a month's, or the period's ``total``)."""
    params = {"report": "forecast", "measure": measure,
              "quarter": str(row.get("period") or ask.query.get("quarter") or ""),
              "month": str(row.get("month") or "total")}  # fmt: skip
    if "scope" in row:
        params.update(scope=str(row["scope"]), subject=str(row["subject"]))
    return params


def _step_records(ask: Ask, row: dict[str, Value], measure: str) -> dict[str, str] | None:
    """A step's actual: what it counts, in its months to date (or in the row's month)."""
    step = str(row.get("step_key") or row["step"])
    if "month" in row:
        first = last = str(row["month"])
    elif row.get("first_month"):
        first, last = str(row["first_month"]), str(row["last_month"])
    else:
        return None
    return {"report": "plan", "measure": step, "channel": str(row["channel"]),
            **_month_days(first, last)}  # fmt: skip


def _steps_chart(table: Table) -> dict[str, Any]:
    values = [
        {
            "step": r["step"] if r["channel"] == "all" else f"{r['step']} · {r['channel']}",
            "measure": measure,
            "amount": r[column] or 0,
        }
        for r in table.to_records()
        if r["step"] not in ("revenue won", "spend")
        for measure, column in (
            ("planned to date", "planned_to_date"),
            ("actual to date", "actual_to_date"),
        )
    ]
    return bar_chart(
        "Planned and actual to date per step (counts)",
        values,
        {
            "y": {"field": "step", "type": "nominal", "title": None, "sort": None},
            "yOffset": {"field": "measure"},
            "x": {"field": "amount", "type": "quantitative", "title": "to date"},
            "color": {
                "field": "measure",
                "type": "nominal",
                "scale": {
                    "domain": ["planned to date", "actual to date"],
                    "range": [SERIES_COLOURS[5], SERIES_COLOURS[0]],
                },
                "legend": {**LEGEND, "title": None},
            },
        },
        height=200,
    )


NO_PLAN = (
    "No plan is saved yet. Make one from a revenue target: onefunnel plan --revenue 500000 "
    "--period 2027-Q1 --save (or POST /api/plans)."
)
TARGETS = Source(
    Panel(
        slug="targets",
        title="Targets: attainment and pace",
        explain="This month's targets of the company, each team and each rep: actual to date, "
        "attainment, and the pace projection (actual per working day so far × working days "
        "in the month) with its attainment.",
        report="targets",
        by=None,
        columns=(
            Column("subject", "for", Format.text),
            Column("metric", "metric", Format.text),
            Column("value", "target"),
            Column("actual", "actual", records="actual"),
            Column("attainment", "attainment", Format.rate),
            Column("projected", "on pace for"),
            Column("projected_attainment", "pace attainment", Format.rate),
            Column("days", "working days", Format.text),
        ),
    ),
    _targets,
    records=_target_records,
    empty="No targets for this month. Set them with onefunnel targets set (or POST "
    "/api/targets): admins for everyone, team leads for their team.",
)
FORECAST = Source(
    Panel(
        slug="forecast",
        title="Revenue forecast",
        explain="The company's forecast by expected close month: won so far, open deals by "
        "forecast category, and the forecast of the method the backtest picked.",
        report="forecast",
        by=None,
        columns=(
            Column("month", "month", Format.text),
            Column("won", "won", Format.money, "won"),
            Column("commit", "commit", Format.money, "commit"),
            Column("best_case", "best case", Format.money, "best_case"),
            Column("pipeline", "pipeline", Format.money, "pipeline"),
            Column("weighted", "weighted", Format.money, "weighted"),
            Column("run_rate", "run rate", Format.money),
            Column("forecast", "forecast", Format.money),
            Column("deals", "open deals", records="deals"),
        ),
    ),
    _forecast,
    note=_forecast_note,
    records=_forecast_records,
)
FORECAST_OWNERS = Source(
    Panel(
        slug="forecast-owners",
        title="Forecast per team and rep",
        explain="The same forecast over the deals each team and rep owns (the method and win "
        "rates of the company's forecast): the reps' rows, and the teams', add up to the "
        "company's; deals without an owner or a team have a row of their own.",
        report="forecast",
        by=None,
        columns=(
            Column("scope", "scope", Format.text),
            Column("subject", "for", Format.text),
            Column("won", "won", Format.money, "won"),
            Column("weighted", "weighted open", Format.money, "weighted"),
            Column("run_rate", "run rate", Format.money),
            Column("forecast", "forecast", Format.money),
            Column("deals", "open deals", records="deals"),
        ),
    ),
    _forecast_owners,
    records=_forecast_records,
    empty="No deals in this period.",
)
STEPS = Source(
    Panel(
        slug="plan-steps",
        title="The plan beside the actual, step by step",
        explain="The saved reverse-funnel plan against what happened in the months begun so "
        "far, the step most off plan first.",
        report="plan",
        by=None,
        chart=_steps_chart,
        columns=(
            Column("off_plan_rank", "rank"),
            Column("step", "step", Format.text),
            Column("channel", "channel", Format.text),
            Column("planned_to_date", "planned to date"),
            Column("actual_to_date", "actual to date", records="actual"),
            Column("attainment_to_date", "attainment", Format.rate),
            Column("planned_whole_plan", "whole plan"),
        ),
    ),
    _steps,
    note=_plan_note,
    records=_step_records,
    empty=NO_PLAN,
)
PLAN_MONTHS = Source(
    Panel(
        slug="plan-actual",
        title="Plan beside actual by month",
        explain="Each step's planned and actual numbers month by month, with running totals "
        "(the plan report).",
        report="plan",
        by=None,
        columns=(
            Column("off_plan_rank", "rank"),
            Column("step", "step", Format.text),
            Column("channel", "channel", Format.text),
            Column("month", "month", Format.text),
            Column("planned", "planned"),
            Column("actual", "actual", records="actual"),
            Column("attainment", "attainment", Format.rate),
            Column("cumulative_planned", "planned so far"),
            Column("cumulative_actual", "actual so far"),
            Column("cumulative_attainment", "attainment so far", Format.rate),
        ),
    ),
    plan_beside_actual,
    empty=NO_PLAN,
    records=_step_records,
)
register(TARGETS, FORECAST, FORECAST_OWNERS, STEPS, PLAN_MONTHS)


@allow_eval
@login_required
@require_GET
def plan(request: HttpRequest) -> HttpResponse:
    """Targets, forecast and the saved plan beside the actual."""
    ask, error = ask_of(request)
    plans = plan_service.list_plans()
    choice = {k: ask.query[k] for k in ("month", "quarter", "plan") if ask.query.get(k)}
    query = urlencode(choice)
    return render(
        request,
        "onefunnel/workspace.html",
        {
            "title": "The plan",
            "intro": "Targets and pace for the company, each team and each rep; the forecast; "
            "and the saved plan beside what happened.",
            "page": "plan",
            "error": error,
            "choices": {
                "month": _month(ask),
                "quarter": ask.query.get("quarter", ""),
                "plan": ask.query.get("plan", ""),
                "plans": [p.summary() for p in plans],
            },
            "slots": [
                slot(s, query)
                for s in ("plan-steps", "targets", "forecast", "forecast-owners", "plan-actual")
            ],
        },
    )
