"""HTTP for a rep's sales work beside deals: log activities (calls, emails, meetings, demos,
notes), tasks, and moving a contact by hand (nurture with a reason, requalify). Thin.

Auth and errors as in ``api/deals.py``: the session's user acts (403 when the rules say no);
an API key acts as the system; 404 unknown id, 409 a move the funnel forbids, 422 bad input.
"""

# No ``from __future__ import annotations``: the shared ``inputs`` decorator (api/crm.py) wraps
# each view, and django-ninja would resolve string annotations in crm's namespace, not this one.

from datetime import UTC, date, datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from onefunnel.api.crm import READ, WRITE, inputs
from onefunnel.api.deals import ERRORS, ErrorOut, Id, StageMoveOut, actor_of
from onefunnel.api.root import api
from onefunnel.services.sales import activities, contacts, tasks
from onefunnel.services.stages import StageMove

router = Router(auth=READ)


class ActivityIn(Schema):
    kind: str = Field(description="call, email, meeting, demo or note")
    contact_id: Id | None = None
    account_id: Id | None = None
    deal_id: Id | None = None
    outcome: str | None = None
    duration_minutes: Annotated[int, Field(ge=0, le=1440)] | None = None
    notes: str = Field("", max_length=10_000)
    occurred_at: datetime | None = None


class TaskIn(Schema):
    title: str = Field(max_length=200)
    owner: str | None = Field(None, description="Username (required)")
    due: date | None = Field(None, description="Due date (required)")
    contact_id: Id | None = None
    account_id: Id | None = None
    deal_id: Id | None = None
    notes: str = Field("", max_length=10_000)


class NurtureIn(Schema):
    reason: str = Field(description="A stage reason, e.g. not_now, no_budget, other (+ note)")
    note: str = Field("", max_length=10_000)


class RequalifyIn(Schema):
    stage: str = "consideration"
    note: str = Field("", max_length=10_000)


def _move(move: StageMove) -> dict[str, Any]:
    return {
        "subject": move.subject,
        "subject_id": move.subject_id,
        "from_stage": move.from_stage.value if move.from_stage else None,
        "to_stage": move.to_stage.value,
    }


@router.post(
    "/activities", response={201: activities.ActivityView, **ERRORS}, auth=WRITE,
    tags=["activities"],
)  # fmt: skip
@inputs
def log_activity(request: HttpRequest, payload: ActivityIn) -> Any:
    """Log an activity on a contact, an account or a deal. A call, email, meeting or demo is
    also a touch of the sales team (the first response of a pending handoff)."""
    fields = payload.model_dump()
    if fields["occurred_at"] is not None and fields["occurred_at"].tzinfo is None:
        fields["occurred_at"] = fields["occurred_at"].replace(tzinfo=UTC)  # as the CRM API reads
    return Status(201, activities.log_activity(actor=actor_of(request), **fields))


@router.get(
    "/activities", response={200: list[activities.ActivityView], 422: ErrorOut},
    tags=["activities"],
)  # fmt: skip
@inputs
def list_activities(
    request: HttpRequest,
    contact: Id | None = None,
    account: Id | None = None,
    deal: Id | None = None,
    limit: int = 200,
) -> Any:
    """Activities on a contact, an account (with its contacts' and deals') or a deal, newest
    first."""
    return activities.list_activities(
        contact_id=contact, account_id=account, deal_id=deal, limit=limit
    )


@router.post("/tasks", response={201: tasks.TaskView, **ERRORS}, auth=WRITE, tags=["tasks"])
@inputs
def add_task(request: HttpRequest, payload: TaskIn) -> Any:
    """Add a task with an owner and a due date, optionally on a contact, account or deal."""
    return Status(201, tasks.add_task(actor=actor_of(request), **payload.model_dump()))


@router.get("/tasks", response={200: list[tasks.TaskView], 422: ErrorOut}, tags=["tasks"])
@inputs
def list_tasks(
    request: HttpRequest,
    owner: str | None = None,
    overdue: bool = False,
    include_done: bool = False,
    contact: Id | None = None,
    account: Id | None = None,
    deal: Id | None = None,
    limit: int = 500,
) -> Any:
    """Open tasks by due date: an owner's, only overdue ones, or those on a record."""
    return tasks.list_tasks(
        owner, overdue, include_done=include_done, contact_id=contact, account_id=account,
        deal_id=deal, limit=limit,
    )  # fmt: skip


@router.post(
    "/tasks/{task_id}/done", response={200: tasks.TaskView, **ERRORS}, auth=WRITE, tags=["tasks"]
)
def complete_task(request: HttpRequest, task_id: Id) -> Any:
    """Mark a task done."""
    return tasks.complete_task(task_id, actor=actor_of(request))


@router.post(
    "/contacts/{contact_id}/nurture", response={200: StageMoveOut, **ERRORS}, auth=WRITE,
    tags=["stage history"],
)  # fmt: skip
@inputs
def nurture(request: HttpRequest, contact_id: Id, payload: NurtureIn) -> Any:
    """Send a lead back to marketing with a reason (409 when the funnel forbids it)."""
    move = contacts.send_to_nurture(
        contact_id, reason=payload.reason, note=payload.note, actor=actor_of(request)
    )
    return _move(move)


@router.post(
    "/contacts/{contact_id}/requalify", response={200: StageMoveOut, **ERRORS}, auth=WRITE,
    tags=["stage history"],
)  # fmt: skip
@inputs
def requalify(request: HttpRequest, contact_id: Id, payload: RequalifyIn) -> Any:
    """Bring a disqualified or nurtured contact back at a pre-customer stage."""
    move = contacts.requalify(
        contact_id, stage=payload.stage, note=payload.note, actor=actor_of(request)
    )
    return _move(move)


api.add_router("/", router)
