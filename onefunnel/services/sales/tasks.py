"""Tasks: something a rep has to do by a date (a due date, an owner, a done state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from onefunnel.domain.access import Action, Actor, Work
from onefunnel.domain.activities import ActivityError, check_task, is_overdue
from onefunnel.models import Contact, Deal, Task
from onefunnel.services.access import require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.sales.activities import resolve_subjects


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task as services return it."""

    id: int
    title: str
    owner: str
    due: date
    done: bool
    done_at: datetime | None
    overdue: bool
    contact_id: int | None
    account_id: int | None
    deal_id: int | None
    notes: str

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return {
            "id": self.id,
            "title": self.title,
            "owner": self.owner,
            "due": self.due,
            "done": self.done,
            "done_at": self.done_at,
            "overdue": self.overdue,
            "contact_id": self.contact_id,
            "account_id": self.account_id,
            "deal_id": self.deal_id,
            "notes": self.notes,
        }


def _view(task: Task, today: date) -> TaskView:
    done = task.done_at is not None
    return TaskView(
        id=task.pk,
        title=task.title,
        owner=task.owner.get_username(),
        due=task.due,
        done=done,
        done_at=task.done_at,
        overdue=is_overdue(task.due, done=done, today=today),
        contact_id=task.contact_id,
        account_id=task.account_id,
        deal_id=task.deal_id,
        notes=task.notes,
    )


def add_task(
    *,
    actor: Actor,
    title: str,
    owner: str | None,
    due: date | None,
    contact_id: int | None = None,
    account_id: int | None = None,
    deal_id: int | None = None,
    notes: str = "",
) -> TaskView:
    """Add a task for ``owner`` (username), optionally on a contact, an account or a deal.
    A task without an owner, title or due date is InputError naming the field."""
    try:
        check_task(title=title, owner_given=bool(owner and owner.strip()), due=due)
    except ActivityError as exc:
        raise InputError(str(exc)) from None
    assert owner is not None
    assert due is not None
    user = get_user_model().objects.filter(username=owner.strip()).first()
    if user is None:
        raise NotFoundError(f"owner: no user {owner!r}")
    with transaction.atomic():
        subjects = resolve_subjects(contact_id, account_id, deal_id)
        require(actor, Action.LOG_ACTIVITY, Work("task", owner_id=user.pk))
        task = Task.objects.create(
            title=title.strip(),
            owner=user,
            due=due,
            contact=subjects.contact,
            account=subjects.account,
            deal=subjects.deal,
            notes=notes.strip(),
            created_at=timezone.now(),
            created_by_id=actor.user_id,
        )
    return _view(task, timezone.localdate())


def complete_task(task_id: int, *, actor: Actor, at: datetime | None = None) -> TaskView:
    """Mark a task done (doing it twice keeps the first time)."""
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("owner").filter(pk=task_id).first()
        if task is None:
            raise NotFoundError(f"task_id: no task #{task_id}")
        require(actor, Action.LOG_ACTIVITY, Work("task", task.pk, owner_id=task.owner_id))
        if task.done_at is None:
            task.done_at = at or timezone.now()
            task.save(update_fields=["done_at"])
    return _view(task, timezone.localdate())


def list_tasks(
    owner: str | None = None,
    overdue: bool = False,
    *,
    include_done: bool = False,
    contact_id: int | None = None,
    account_id: int | None = None,
    deal_id: int | None = None,
    today: date | None = None,
    limit: int = 500,
) -> list[TaskView]:
    """Tasks by due date: an owner's (username), only overdue ones, or those on a contact,
    an account (its contacts' and deals' too) or a deal. Open tasks unless ``include_done``."""
    if not 1 <= limit <= 5000:
        raise InputError("limit: between 1 and 5000")
    day = today or timezone.localdate()
    rows = Task.objects.select_related("owner")
    if owner is not None:
        rows = rows.filter(owner__username=owner)
    if overdue:
        rows = rows.filter(done_at__isnull=True, due__lt=day)
    elif not include_done:
        rows = rows.filter(done_at__isnull=True)
    if contact_id is not None:
        rows = rows.filter(contact_id=contact_id)
    if account_id is not None:
        # Ids from subqueries, not joins: an OR across joined tables scans every task.
        contacts = Contact.objects.filter(account_id=account_id).values("pk")
        deals = Deal.objects.filter(account_id=account_id).values("pk")
        rows = rows.filter(
            Q(account_id=account_id) | Q(contact_id__in=contacts) | Q(deal_id__in=deals)
        )
    if deal_id is not None:
        rows = rows.filter(deal_id=deal_id)
    return [_view(t, day) for t in rows.order_by("due", "id")[:limit]]
