"""HTTP for the point of intent: handoff queues and decisions, score explanations, and the
scoring and routing configurations. Thin: parse, call a service, serialise.

Authentication is the Django session (the app's sign-in page). Who may do what is
``domain/access.py``'s rule book, asked through ``services.access``: a rep decides (and logs the
first response to) their own handoffs or claims one queued for their team; a team lead
reassigns within the team; marketing and leadership read; being staff grants nothing.
Changing a configuration needs the ``add`` permission on it.
Errors: 403 not allowed (the reason in ``detail``), 404 unknown id, 409 a decision the handoff's
state forbids (e.g. already accepted), 422 bad input with the field named in ``errors``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Body, Router, Schema, Status
from ninja.security import django_auth

from onefunnel.api.root import api
from onefunnel.domain.access import Action, may
from onefunnel.services.access import Actor, actor_for
from onefunnel.services.config_versions import ConfigVersion, InvalidConfigError
from onefunnel.services.errors import InputError
from onefunnel.services.handoffs import (
    HandoffDecided,
    HandoffView,
    accept_handoff,
    get_handoff,
    list_handoffs,
    reassign_handoff,
    record_response,
    reject_handoff,
)
from onefunnel.services.routing_config import routing_config, save_routing_config
from onefunnel.services.scoring import explain_score, save_scoring_config, scoring_config

router = Router(auth=django_auth)


class ErrorItem(Schema):
    loc: list[str | int]
    msg: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem]


class HandoffOut(Schema):
    id: int
    contact_id: int
    contact_email: str | None
    account_id: int | None
    trigger: str
    status: str
    owner: str | None
    team: str
    queued: bool
    score: float | None
    created_at: datetime
    sla_due_at: datetime
    first_response_at: datetime | None
    sla: str
    decided_at: datetime | None
    reason: str | None
    note: str
    cost: str
    cost_method: str
    expected_value: str
    currency: str
    previous_id: int | None
    deal_id: int | None
    reassignments: int
    rule: str
    routing: list[str]


class DecisionOut(Schema):
    handoff: HandoffOut
    deal_id: int | None
    deal_created: bool
    stage: str | None


class RejectIn(Schema):
    reason: str
    note: str = ""


class ReassignIn(Schema):
    owner: str | None = None
    team: str | None = None


class ScoreLineOut(Schema):
    points: float
    reason: str
    when: datetime | None


class FeatureOut(Schema):
    feature: str
    value: str
    log_odds: float


class ScoreOut(Schema):
    contact_id: int
    email: str | None
    fit: float
    engagement: float
    total: float
    mql_threshold: float
    model_version: int
    lines: list[ScoreLineOut]
    probability: float | None
    top_features: list[FeatureOut]


class ConfigOut(Schema):
    version: int
    config: dict[str, Any]
    note: str
    created_at: datetime | None


def _handoff(view: HandoffView) -> dict[str, Any]:
    data = view.as_dict()
    data["cost"] = str(view.cost)
    data["expected_value"] = str(view.expected_value)
    data["routing"] = list(view.routing)
    return data


def _decision(decided: HandoffDecided) -> dict[str, Any]:
    move = decided.stage_move
    return {
        "handoff": _handoff(decided.handoff),
        "deal_id": decided.deal_id,
        "deal_created": decided.deal_created,
        "stage": move.to_stage.value if move else None,
    }


def _unprocessable(exc: InputError) -> Status[dict[str, Any]]:
    if isinstance(exc, InvalidConfigError):
        errors = [{"loc": [loc], "msg": msg} for loc, msg in exc.errors]
    else:
        field, _, msg = str(exc).partition(": ")
        errors = [{"loc": [field], "msg": msg}] if msg else []
    return Status(422, {"detail": str(exc), "errors": errors})


def _actor(request: HttpRequest) -> Actor:
    return actor_for(request.user)


def _user_id(request: HttpRequest) -> int | None:
    user = request.user
    return int(user.pk) if user.is_authenticated else None


@router.get(
    "/handoffs", response={200: list[HandoffOut], 403: ErrorOut, 422: ErrorOut}, tags=["handoffs"]
)
def handoff_queue(
    request: HttpRequest,
    owner: str | None = None,
    status: str | None = None,
    team: str | None = None,
    queued: bool | None = None,
) -> Any:
    """A queue: handoffs by owner (username), status, team, or team queue only; oldest SLA due
    first, only those the user may read. Overdue handoffs in it are escalated first."""
    try:
        rows = list_handoffs(
            owner=owner, status=status, team=team, queued=queued, actor=_actor(request)
        )
    except InputError as exc:
        return _unprocessable(exc)
    return Status(200, [_handoff(h) for h in rows])


@router.get(
    "/handoffs/{handoff_id}",
    response={200: HandoffOut, 403: ErrorOut, 404: ErrorOut},
    tags=["handoffs"],
)
def handoff_detail(request: HttpRequest, handoff_id: int) -> Any:
    """One handoff with its routing explanation and SLA state (403 if it is not yours to see)."""
    return Status(200, _handoff(get_handoff(handoff_id, actor=_actor(request))))


@router.post(
    "/handoffs/{handoff_id}/accept",
    response={200: DecisionOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    tags=["handoffs"],
)
def accept(request: HttpRequest, handoff_id: int) -> Any:
    """Accept a pending handoff (409 if it was decided already): links or creates a deal."""
    return Status(200, _decision(accept_handoff(handoff_id, actor=_actor(request))))


@router.post(
    "/handoffs/{handoff_id}/reject",
    response={200: DecisionOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    tags=["handoffs"],
)
def reject(request: HttpRequest, handoff_id: int, payload: RejectIn) -> Any:
    """Reject with a reason code (bad_fit, no_budget, no_authority, not_now, duplicate,
    bad_data, competitor, other + note)."""
    try:
        decided = reject_handoff(
            handoff_id, reason=payload.reason, note=payload.note, actor=_actor(request)
        )
    except InputError as exc:
        return _unprocessable(exc)
    return Status(200, _decision(decided))


@router.post(
    "/handoffs/{handoff_id}/reassign",
    response={200: HandoffOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    tags=["handoffs"],
)
def reassign(request: HttpRequest, handoff_id: int, payload: ReassignIn) -> Any:
    """Give a pending handoff to another rep (``owner``) or a team's queue (``team``)."""
    try:
        view = reassign_handoff(
            handoff_id, owner=payload.owner, team=payload.team, actor=_actor(request)
        )
    except InputError as exc:
        return _unprocessable(exc)
    return Status(200, _handoff(view))


@router.post(
    "/handoffs/{handoff_id}/respond",
    response={200: HandoffOut, 403: ErrorOut, 404: ErrorOut},
    tags=["handoffs"],
)
def respond(request: HttpRequest, handoff_id: int) -> Any:
    """Log the first response (a call or email made outside onefunnel); only who may decide
    the handoff logs it."""
    return Status(200, _handoff(record_response(handoff_id, actor=_actor(request))))


@router.get("/contacts/{contact_id}/score", response=ScoreOut, tags=["scoring"])
def contact_score(request: HttpRequest, contact_id: int) -> dict[str, Any]:
    """A contact's score now, line by line, with the predictive probability when it is on."""
    explained = explain_score(contact_id=contact_id)
    data = explained.as_dict()
    data["top_features"] = [
        {"feature": f, "value": v, "log_odds": e} for f, v, e in explained.top_features
    ]
    return data


def _config(version: ConfigVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "config": version.config,
        "note": version.note,
        "created_at": version.created_at,
    }


#: Who changes each configuration, by the rule book: scoring is marketing's, routing admins'.
_CONFIG_ACTIONS = {"scoringconfig": Action.EDIT_MARKETING, "routingconfig": Action.CONFIGURE}


def _may_configure(request: HttpRequest, model: str) -> Status[dict[str, Any]] | None:
    """None if the rule book lets the user change ``model``; a 403 answer if not."""
    if may(actor_for(request.user), _CONFIG_ACTIONS[model]):
        return None
    return Status(403, {"detail": f"you may not change the {model}", "errors": []})


@router.get("/scoring/config", response=ConfigOut, tags=["scoring"])
def get_scoring_config(request: HttpRequest) -> dict[str, Any]:
    """The scoring model in force: fit rules, engagement points, half-life, MQL threshold."""
    return _config(scoring_config())


@router.put(
    "/scoring/config", response={200: ConfigOut, 403: ErrorOut, 422: ErrorOut}, tags=["scoring"]
)
def put_scoring_config(request: HttpRequest, payload: Body[dict[str, Any]]) -> Any:
    """Store a new version of the scoring model; 422 names every bad field, nothing stored."""
    if (denied := _may_configure(request, "scoringconfig")) is not None:
        return denied
    try:
        return Status(200, _config(save_scoring_config(payload, actor_id=_user_id(request))))
    except InputError as exc:
        return _unprocessable(exc)


@router.get("/routing/config", response=ConfigOut, tags=["handoffs"])
def get_routing_config(request: HttpRequest) -> dict[str, Any]:
    """The routing rules in force."""
    return _config(routing_config())


@router.put(
    "/routing/config", response={200: ConfigOut, 403: ErrorOut, 422: ErrorOut}, tags=["handoffs"]
)
def put_routing_config(request: HttpRequest, payload: Body[dict[str, Any]]) -> Any:
    """Store a new version of the routing rules; 422 names every bad field, nothing stored."""
    if (denied := _may_configure(request, "routingconfig")) is not None:
        return denied
    try:
        return Status(200, _config(save_routing_config(payload, actor_id=_user_id(request))))
    except InputError as exc:
        return _unprocessable(exc)


api.add_router("/", router)
