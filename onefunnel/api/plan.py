"""HTTP for the plan: targets with pace, the forecast and its backtest, forecast categories,
the reverse funnel (preview and save), saved plans and budgets. Thin: parse, call a service,
serialise. Plan beside actual is the report ``/api/reports/plan?plan=ID``.

Authentication is the Django session. Reading is open to every signed-in role; setting
targets and saving plans follows ``Action.SET_TARGETS`` (admins; team leads for their team),
budgets ``EDIT_MARKETING``, a deal's category ``WORK_DEAL``. Errors: 403 not allowed, 404
unknown id or name, 422 bad input with the field named in ``errors``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.security import django_auth
from pydantic import Field

from onefunnel.api.root import api
from onefunnel.services.access import actor_for
from onefunnel.services.errors import InputError
from onefunnel.services.plan import budgets as budget_service
from onefunnel.services.plan import forecast as forecast_service
from onefunnel.services.plan import reverse_funnel as plan_service
from onefunnel.services.plan import targets as target_service

router = Router(auth=django_auth, tags=["plan"])

MAX_INT = 2**31 - 1


class ErrorOut(Schema):
    detail: str
    errors: list[dict[str, Any]]


ERRORS: dict[int, Any] = {403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _unprocessable(exc: InputError) -> Status[dict[str, Any]]:
    field, _, msg = str(exc).partition(": ")
    return Status(422, {"detail": str(exc), "errors": [{"loc": [field], "msg": msg or str(exc)}]})


class TargetIn(Schema):
    month: str = Field(description="YYYY-MM", max_length=16)
    metric: str = Field(max_length=40)
    value: str = Field(description="A count or an amount", max_length=40)
    team: str | None = Field(None, max_length=100)
    rep: str | None = Field(None, description="A rep's username", max_length=150)


class TargetQuery(Schema):
    month: str | None = Field(None, max_length=16)
    metric: str | None = Field(None, max_length=40)


@router.get("/targets", response={200: list[dict[str, Any]], **ERRORS})
def targets(request: HttpRequest, query: Query[TargetQuery]) -> Any:
    """Targets with attainment to date and pace."""
    try:
        return [r.as_dict() for r in target_service.list_targets(month=query.month,
                                                                 metric=query.metric)]  # fmt: skip
    except InputError as exc:
        return _unprocessable(exc)


@router.post("/targets", response={200: dict[str, Any], **ERRORS})
def set_target(request: HttpRequest, payload: TargetIn) -> Any:
    """Set one month's target of the company, a team (``team``) or a rep (``rep``)."""
    scope = "rep" if payload.rep else "team" if payload.team else "company"
    entry = target_service.TargetInput(
        month=payload.month, metric=payload.metric, value=payload.value, scope=scope,
        team=payload.team, rep=payload.rep,
    )  # fmt: skip
    try:
        (target_id,) = target_service.set_targets(actor_for(request.user), [entry])
        rows = target_service.list_targets(month=payload.month)
    except InputError as exc:
        return _unprocessable(exc)
    return next(r.as_dict() for r in rows if r.id == target_id)


class ForecastQuery(Schema):
    period: str | None = Field(None, description="YYYY-MM or YYYY-Qn", max_length=16)
    method: str | None = Field(None, description="stage or history", max_length=16)


@router.get("/forecast", response={200: dict[str, Any], **ERRORS})
def forecast(request: HttpRequest, query: Query[ForecastQuery]) -> Any:
    """The forecast by expected close month (default method: the backtest's pick)."""
    try:
        report = forecast_service.forecast_period(query.period, method=query.method)
    except InputError as exc:
        return _unprocessable(exc)
    return {"period": report.period, "method": report.method.value, "why": report.why,
            "months": report.rows()}  # fmt: skip


@router.get("/forecast/backtest", response={200: dict[str, Any], **ERRORS})
def backtest(request: HttpRequest) -> Any:
    """The walk-forward backtest: MAPE and bias of each forecast and the naive baseline."""
    errors, months = forecast_service.backtest_rows(forecast_service.run_backtest())
    return {"errors": errors, "months": months}


class CategoryIn(Schema):
    category: str = Field(description="commit, best_case, pipeline or omitted", max_length=16)


@router.put("/deals/{deal_id}/forecast", response={200: dict[str, Any], **ERRORS})
def set_category(request: HttpRequest, deal_id: int, payload: CategoryIn) -> Any:
    """Set a deal's forecast category (its rep, their team lead, or an admin)."""
    if not 1 <= deal_id <= 2**62:
        return Status(404, {"detail": f"deal_id: no deal #{deal_id}", "errors": []})
    try:
        value = forecast_service.set_forecast_category(
            actor_for(request.user), deal_id, payload.category
        )
    except InputError as exc:
        return _unprocessable(exc)
    return {"deal_id": deal_id, "category": value.value}


class PlanIn(Schema):
    revenue: str = Field(description="The revenue target", max_length=40)
    period: str = Field(description="YYYY-MM or YYYY-Qn", max_length=16)
    by: str | None = Field(None, description="channel", max_length=16)
    window: int = Field(6, ge=1, le=36, description="Trailing months of rates")
    model: str = Field("linear", max_length=40, description="Attribution model of the mix")
    name: str | None = Field(None, max_length=120)
    budgets: bool = Field(False, description="Save the channel spend as the plan's budget")
    team: str | None = Field(
        None, max_length=100, description="Save as this team's plan (admins; its team lead)"
    )


def _make(payload: PlanIn) -> plan_service.PlanResult:
    return plan_service.make_plan(
        payload.revenue, payload.period, by=payload.by, window_months=payload.window,
        model=payload.model,
    )  # fmt: skip


@router.post("/plans/preview", response={200: dict[str, Any], **ERRORS})
def preview_plan(request: HttpRequest, payload: PlanIn) -> Any:
    """Work backwards from a revenue target (nothing saved)."""
    try:
        return _make(payload).as_dict()
    except InputError as exc:
        return _unprocessable(exc)


@router.post("/plans", response={201: dict[str, Any], **ERRORS})
def save_plan(request: HttpRequest, payload: PlanIn) -> Any:
    """Make and save a plan as the next version of its name (all or nothing)."""
    try:
        saved = plan_service.save_plan(
            actor_for(request.user),
            _make(payload),
            name=payload.name,
            budgets=payload.budgets,
            team=payload.team,
        )
    except InputError as exc:
        return _unprocessable(exc)
    return Status(201, {**saved.body, "saved": saved.summary()})


@router.get("/plans", response=list[dict[str, Any]])
def plans(request: HttpRequest) -> Any:
    """Saved plans, newest first."""
    return [p.summary() for p in plan_service.list_plans()]


@router.get("/plans/{plan_id}", response={200: dict[str, Any], **ERRORS})
def plan_detail(request: HttpRequest, plan_id: int) -> Any:
    """One saved plan."""
    if not 1 <= plan_id <= 2**62:
        return Status(404, {"detail": f"plan: no plan #{plan_id}", "errors": []})
    saved = plan_service.get_plan(plan_id)
    return {**saved.body, "saved": saved.summary()}


class BudgetIn(Schema):
    month: str = Field(max_length=16)
    amount: str = Field(max_length=40)
    campaign: str | None = Field(None, max_length=200)
    channel: str | None = Field(None, max_length=40)
    plan: int | None = Field(None, ge=1, le=2**62)
    goal_leads: int | None = Field(None, ge=0, le=MAX_INT)
    goal_mqls: int | None = Field(None, ge=0, le=MAX_INT)
    goal_pipeline: str | None = Field(None, max_length=40)


class BudgetQuery(Schema):
    month: str | None = Field(None, max_length=16)
    plan: int | None = Field(None, ge=1, le=2**62)


@router.get("/budgets", response={200: list[dict[str, Any]], **ERRORS})
def budgets(request: HttpRequest, query: Query[BudgetQuery]) -> Any:
    """Budget lines with actual spend beside them."""
    try:
        return budget_service.list_budgets(month=query.month, plan_id=query.plan)
    except InputError as exc:
        return _unprocessable(exc)


@router.post("/budgets", response={200: dict[str, Any], **ERRORS})
def set_budget(request: HttpRequest, payload: BudgetIn) -> Any:
    """Set a campaign's budget for a month, or a plan's channel line (marketing)."""
    entry = budget_service.BudgetInput(
        month=payload.month, amount=payload.amount, campaign=payload.campaign,
        channel=payload.channel, plan_id=payload.plan, goal_leads=payload.goal_leads,
        goal_mqls=payload.goal_mqls, goal_pipeline=payload.goal_pipeline,
    )  # fmt: skip
    try:
        return budget_service.set_budget(actor_for(request.user), entry)
    except InputError as exc:
        return _unprocessable(exc)


api.add_router("/", router)
