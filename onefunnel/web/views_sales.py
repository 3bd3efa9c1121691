"""The sales workspace: a rep's queue of handoffs, decided in one click each.

Thin: every action calls the same service as the API and the CLI (``services.handoffs``), as the
signed-in user (``services.access.actor_for``), so the rules are the same everywhere. Actions
answer htmx with fragments: the row (gone once decided), the queue's count and a message, the
last two swapped in out of band. Errors keep their HTTP status (403, 404, 409, 422); the page
tells htmx to swap them too (``htmx-config`` in base.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from onefunnel.domain.access import AccessDeniedError, Actor, Role
from onefunnel.domain.handoffs import REJECTION_REASONS, HandoffError
from onefunnel.models import RepProfile
from onefunnel.services.access import actor_for
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.handoffs import (
    HandoffView,
    accept_handoff,
    reassign_handoff,
    reject_handoff,
)
from onefunnel.services.intent.queue import (
    PreviousHandoff,
    QueueItem,
    QueuePage,
    my_queue,
    queue_count,
    queue_item,
)

PAGE = 25


def _day(when: datetime) -> str:
    local = timezone.localtime(when)
    return f"{local:%b} {local.day}"


@dataclass(frozen=True, slots=True)
class ShownItem:
    """A queue item as the page shows it: its repeated parts (the score lines, the last
    touches, the links) rendered once in Python. Through template filters they cost more than
    everything else on a page of a long queue."""

    handoff: HandoffView
    contact_name: str
    account_name: str | None
    negligible_lines: int
    previous: PreviousHandoff | None
    score_html: SafeString
    touches_html: SafeString
    contact_url: str
    account_url: str
    accept_url: str
    reject_url: str
    reassign_url: str
    due_iso: str
    due_text: str


def shown(item: QueueItem, prefix: str) -> ShownItem:
    """``item`` with its lines rendered (``prefix``: the site's root path, for links)."""
    h = item.handoff
    # Plain string building with the standard library's escape: Django's format_html escapes
    # through several wrappers per argument, which on ~35 lines a row dominated the page.
    # Points and dates are made here; reasons, kinds and campaign names come from data and are
    # escaped.
    score = (
        "".join(
            f'<li><span class="pts">{"+" if line.points >= 0 else ""}{line.points:.1f}</span> '
            f"{escape(line.reason)}"
            + (f' <span class="muted">{_day(line.when)}</span>' if line.when else "")
            + "</li>"
            for line in item.score_lines
        )
        or '<li class="muted">no explanation stored</li>'
    )
    touches = (
        "".join(
            f'<li>{escape(t.kind)} <span class="muted">{escape(t.channel)}'
            + (f" · {escape(t.campaign)}" if t.campaign else "")
            + f" · {_day(t.at)} {timezone.localtime(t.at):%H:%M}</span></li>"
            for t in item.touches
        )
        or '<li class="muted">no touches</li>'
    )
    return ShownItem(
        handoff=h,
        contact_name=item.contact_name,
        account_name=item.account_name,
        negligible_lines=item.negligible_lines,
        previous=item.previous,
        score_html=mark_safe(score),
        touches_html=mark_safe(touches),
        contact_url=f"{prefix}contacts/{h.contact_id}",
        account_url=f"{prefix}accounts/{h.account_id}" if h.account_id else "",
        accept_url=f"{prefix}queue/{h.id}/accept",
        reject_url=f"{prefix}queue/{h.id}/reject",
        reassign_url=f"{prefix}queue/{h.id}/reassign",
        due_iso=timezone.localtime(h.sla_due_at).isoformat(),
        due_text=f"{timezone.localtime(h.sla_due_at):%Y-%m-%d %H:%M}",
    )


def _prefix() -> str:
    # One reverse per page, not six per row; checked against the URL map below.
    prefix = reverse("web:queue").removesuffix("queue")
    assert reverse("web:queue-accept", args=[7]) == f"{prefix}queue/7/accept"
    return prefix


def _context(actor: Actor, page: QueuePage) -> dict[str, Any]:
    team_reps: list[str] = []
    if actor.has(Role.TEAM_LEAD) and actor.team is not None:
        team_reps = list(
            RepProfile.objects.filter(team=actor.team)
            .order_by("user__username")
            .values_list("user__username", flat=True)
        )
    prefix = _prefix()
    return {
        "page": page,
        "items": [shown(item, prefix) for item in page.items],
        "actor": actor,
        "reasons": [r.value for r in REJECTION_REASONS],
        "may_decide": bool(
            actor.roles & {Role.SALES_REP, Role.TEAM_LEAD, Role.ACCOUNT_MANAGER, Role.ADMIN}
        ),
        "may_reassign": actor.has(Role.TEAM_LEAD),
        "team_reps": team_reps,
        "team": actor.team,
    }


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """My queue: the open handoffs I may decide, oldest SLA due first."""
    actor = actor_for(request.user)
    page = my_queue(actor, limit=PAGE)
    return render(request, "onefunnel/queue.html", _context(actor, page))


@login_required
@require_GET
def queue_rows(request: HttpRequest) -> HttpResponse:
    """The next rows of the queue (loaded as the last row scrolls into view)."""
    actor = actor_for(request.user)
    try:
        offset = int(request.GET.get("offset", "0"))
    except ValueError:
        offset = 0
    page = my_queue(actor, offset=min(max(offset, 0), 10**9), limit=PAGE)
    return render(request, "onefunnel/_queue_rows.html", _context(actor, page))


def _outcome(
    request: HttpRequest,
    handoff_id: int,
    message: str,
    *,
    status: int = 200,
    keep: bool = False,
    deal_id: int | None = None,
) -> HttpResponse:
    """The answer to an action: the row removed (or kept, for an error the rep can fix), the
    count and the message swapped in out of band."""
    actor = actor_for(request.user)
    context = {
        "handoff_id": handoff_id,
        "message": message,
        "failed": status >= 400,
        "keep": keep,
        "count": queue_count(actor),
        "deal_id": deal_id,
    }
    response = render(request, "onefunnel/_queue_outcome.html", context, status=status)
    if keep:
        response["HX-Reswap"] = "none"  # the row stays; only the out-of-band parts change
    return response


def _failure(request: HttpRequest, handoff_id: int, exc: Exception) -> HttpResponse:
    if isinstance(exc, AccessDeniedError):
        return _outcome(request, handoff_id, f"Not allowed: {exc}", status=403, keep=True)
    if isinstance(exc, NotFoundError):
        return _outcome(request, handoff_id, f"Handoff #{handoff_id} no longer exists.", status=404)
    if isinstance(exc, HandoffError):
        # Someone else decided it (or its SLA moved it on) a moment ago: it leaves the queue.
        return _outcome(
            request,
            handoff_id,
            f"Handoff #{handoff_id} was decided by someone else a moment ago ({exc}); "
            "it has left your queue.",
            status=409,
        )
    return _outcome(request, handoff_id, str(exc), status=422, keep=True)


@login_required
@require_POST
def accept(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Accept a handoff: it leaves the queue and its deal is opened or linked."""
    try:
        decided = accept_handoff(handoff_id, actor=actor_for(request.user))
    except (AccessDeniedError, NotFoundError, HandoffError) as exc:
        return _failure(request, handoff_id, exc)
    deal = decided.deal_id
    what = (
        f"deal #{deal} opened"
        if decided.deal_created
        else (f"linked to deal #{deal}" if deal else "no account, so no deal")
    )
    who = decided.handoff.contact_email or f"contact #{decided.handoff.contact_id}"
    return _outcome(
        request, handoff_id, f"Accepted handoff #{handoff_id} ({who}): {what}.", deal_id=deal
    )


@login_required
@require_POST
def reject(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Reject a handoff with a reason code (and a note where the reason needs one)."""
    try:
        decided = reject_handoff(
            handoff_id,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
            actor=actor_for(request.user),
        )
    except (AccessDeniedError, NotFoundError, HandoffError, InputError) as exc:
        return _failure(request, handoff_id, exc)
    move = decided.stage_move
    where = f"the lead went to {move.to_stage.value}" if move else "the lead's stage is unchanged"
    return _outcome(
        request,
        handoff_id,
        f"Rejected handoff #{handoff_id} ({decided.handoff.reason}): {where}.",
    )


@login_required
@require_POST
def reassign(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Give a handoff to another rep of the team, or the team's queue (team leads)."""
    target = request.POST.get("owner", "").strip()
    owner, team = (None, target[len("team:") :]) if target.startswith("team:") else (target, None)
    try:
        view = reassign_handoff(
            handoff_id, owner=owner or None, team=team, actor=actor_for(request.user)
        )
    except (AccessDeniedError, NotFoundError, HandoffError, InputError) as exc:
        return _failure(request, handoff_id, exc)
    to = view.owner or f"the {view.team} queue"
    actor = actor_for(request.user)
    item = queue_item(actor, handoff_id)
    context = _context(actor, QueuePage((), 0, 0, None, timezone.now())) | {
        "item": shown(item, _prefix()) if item is not None else None,
        "handoff_id": handoff_id,
        "message": f"Reassigned handoff #{handoff_id} to {to}.",
        "failed": False,
        "keep": False,
        "count": queue_count(actor),
    }
    # The row comes back with its new owner (or goes, if it left the lead's view).
    return render(request, "onefunnel/_queue_reassigned.html", context)
