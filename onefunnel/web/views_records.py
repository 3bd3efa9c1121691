"""The records of the sales workspace: a contact's and an account's timeline, a deal's page and
the deal board, with the actions the rules allow on each.

Thin: every read and write calls a service (``services.sales``) as the signed-in user, so the
rules are those of the API and the CLI. Actions are ordinary forms (they work without
JavaScript); with htmx the page's record is swapped in place. A success redirects back to the
page with a message; a failure shows the page again with the message and its status — 403 not
yours, 404 gone, 409 decided or closed meanwhile, 422 a field to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from html import escape
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from onefunnel.domain.access import AccessDeniedError, Action, Actor, Role, may
from onefunnel.domain.activities import ActivityKind, ActivityOutcome
from onefunnel.domain.deals import DealError, LostReason
from onefunnel.domain.handoffs import REJECTION_REASONS, HandoffError
from onefunnel.domain.stages import PRE_CUSTOMER_STAGES, IllegalTransitionError
from onefunnel.services.access import actor_for
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.profiles import field_sources
from onefunnel.services.sales.activities import list_activities, log_activity
from onefunnel.services.sales.board import deal_board, pipeline_stages
from onefunnel.services.sales.contacts import requalify, send_to_nurture
from onefunnel.services.sales.deals import deal_history, get_deal, lose_deal, move_deal, win_deal
from onefunnel.services.sales.tasks import add_task, list_tasks
from onefunnel.services.sales.timeline import (
    account_record,
    account_timeline,
    contact_record,
    contact_timeline,
    may_work_deal,
    parse_before,
    pending_handoff,
)

BOARD_PAGE = 20
_FAILURES: tuple[type[Exception], ...] = (
    AccessDeniedError,
    NotFoundError,
    HandoffError,
    DealError,
    IllegalTransitionError,
    InputError,
)


def _status(exc: Exception) -> int:
    if isinstance(exc, AccessDeniedError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, HandoffError | DealError | IllegalTransitionError):
        return 409  # decided, closed or moved by someone else meanwhile
    return 422


def _act(
    request: HttpRequest,
    work: Callable[[Actor], str],
    back: str,
    page: Callable[[HttpRequest, int, str], HttpResponse],
) -> HttpResponse:
    """Run an action as the signed-in user: on success back to ``back`` with its message; on
    failure the page again (``page(request, status, message)``) with the status it deserves."""
    try:
        done = work(actor_for(request.user))
    except _FAILURES as exc:
        return page(request, _status(exc), str(exc))
    messages.success(request, done)
    return HttpResponseRedirect(back, status=303)


def _form_context() -> dict[str, Any]:
    return {
        "activity_kinds": [k.value for k in ActivityKind],
        "outcomes": [o.value for o in ActivityOutcome],
        "nurture_reasons": [r.value for r in REJECTION_REASONS],
        "requalify_stages": [s.value for s in PRE_CUSTOMER_STAGES],
        "lost_reasons": [r.value for r in LostReason],
    }


def _due(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InputError("due: a date, YYYY-MM-DD") from None


def _deal_id(value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 12:
        raise InputError("deal_id: a deal's number")
    return int(value)


def _minutes(value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 6:
        raise InputError("duration_minutes: a whole number of minutes")
    return int(value)


def _logged(kind: str, answered: bool) -> str:
    text = f"{kind.capitalize()} logged."
    return text + (" It is the first response to the pending handoff." if answered else "")


# ---------------------------------------------------------------------------------------------
# Contacts


def _record_page(
    request: HttpRequest,
    load: Callable[[int, Actor], object],
    record_id: int,
    template: str,
    status: int = 200,
    error: str = "",
    extra: Callable[[int], dict[str, Any]] | None = None,
) -> HttpResponse:
    """A contact's or an account's page, as ``actor`` may see it (404 for an unknown id)."""
    actor = actor_for(request.user)
    try:
        record = load(record_id, actor)
    except NotFoundError as exc:
        raise Http404(str(exc)) from None
    context = {"record": record, "error": error, "actor": actor, **_form_context()}
    if extra is not None:
        context.update(extra(record_id))
    return render(request, template, context, status=status)


def _contact_page(
    request: HttpRequest, contact_id: int, status: int = 200, error: str = ""
) -> HttpResponse:
    return _record_page(
        request, contact_record, contact_id, "onefunnel/contact.html", status, error,
        extra=lambda pk: {"origins": field_sources(pk)},
    )  # fmt: skip


@login_required
@require_GET
def contact(request: HttpRequest, contact_id: int) -> HttpResponse:
    """A contact's timeline: every touch, stage change, handoff, deal and activity, newest
    first, with the score explained and the actions the rules allow."""
    return _contact_page(request, contact_id)


@login_required
@require_GET
def contact_entries(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The next (earlier) page of a contact's timeline."""
    return _entries(request, lambda actor, before: contact_timeline(contact_id, actor, before=before),
                    reverse("web:contact-entries", args=[contact_id]))  # fmt: skip


def _entries(request: HttpRequest, read: Callable[..., Any], more_url: str) -> HttpResponse:
    try:
        timeline = read(actor_for(request.user), parse_before(request.GET.get("before")))
    except NotFoundError:
        raise Http404("no such record") from None
    except InputError as exc:
        return HttpResponse(str(exc), status=422, content_type="text/plain")
    return render(
        request, "onefunnel/_timeline_entries.html", {"timeline": timeline, "more_url": more_url}
    )


def _contact_action(
    request: HttpRequest, contact_id: int, work: Callable[[Actor], str]
) -> HttpResponse:
    return _act(
        request,
        work,
        reverse("web:contact", args=[contact_id]),
        lambda r, status, error: _contact_page(r, contact_id, status, error),
    )


@login_required
@require_POST
def contact_activity(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Log a call, meeting, email, demo or note on a contact (it answers a pending handoff)."""
    post = request.POST

    def work(actor: Actor) -> str:
        pending = pending_handoff(contact_id, actor)
        logged = log_activity(
            actor=actor,
            kind=post.get("kind", ""),
            contact_id=contact_id,
            deal_id=_deal_id(post.get("deal_id", "")),
            outcome=post.get("outcome") or None,
            duration_minutes=_minutes(post.get("duration_minutes", "")),
            notes=post.get("notes", ""),
        )
        answered = pending is not None and not pending.responded
        return _logged(logged.kind.value, answered)

    return _contact_action(request, contact_id, work)


@login_required
@require_POST
def contact_task(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Add a task on a contact (for the signed-in user)."""
    post = request.POST

    def work(actor: Actor) -> str:
        task = add_task(
            actor=actor,
            title=post.get("title", ""),
            owner=actor.username,
            due=_due(post.get("due", "")),
            contact_id=contact_id,
            notes=post.get("notes", ""),
        )
        return f"Task {task.title!r} added, due {task.due:%Y-%m-%d}."

    return _contact_action(request, contact_id, work)


@login_required
@require_POST
def contact_nurture(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Send a lead to nurture with a reason."""
    post = request.POST

    def work(actor: Actor) -> str:
        move = send_to_nurture(
            contact_id, reason=post.get("reason", ""), note=post.get("note", ""), actor=actor
        )
        return f"Sent to nurture ({move.to_stage.value})."

    return _contact_action(request, contact_id, work)


@login_required
@require_POST
def contact_requalify(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Bring a nurtured or disqualified contact back into the funnel."""
    post = request.POST

    def work(actor: Actor) -> str:
        move = requalify(
            contact_id,
            stage=post.get("stage") or "consideration",
            note=post.get("note", ""),
            actor=actor,
        )
        return f"Requalified into {move.to_stage.value}."

    return _contact_action(request, contact_id, work)


# ---------------------------------------------------------------------------------------------
# Accounts


def _account_page(
    request: HttpRequest, account_id: int, status: int = 200, error: str = ""
) -> HttpResponse:
    return _record_page(
        request, account_record, account_id, "onefunnel/account.html", status, error
    )


@login_required
@require_GET
def account(request: HttpRequest, account_id: int) -> HttpResponse:
    """An account's timeline, its people, deals, contracts and open tasks."""
    return _account_page(request, account_id)


@login_required
@require_GET
def account_entries(request: HttpRequest, account_id: int) -> HttpResponse:
    """The next (earlier) page of an account's timeline."""
    return _entries(request, lambda actor, before: account_timeline(account_id, actor, before=before),
                    reverse("web:account-entries", args=[account_id]))  # fmt: skip


@login_required
@require_POST
def account_activity(request: HttpRequest, account_id: int) -> HttpResponse:
    """Log an activity on an account (nobody in particular)."""
    post = request.POST

    def work(actor: Actor) -> str:
        logged = log_activity(
            actor=actor,
            kind=post.get("kind", ""),
            account_id=account_id,
            deal_id=_deal_id(post.get("deal_id", "")),
            outcome=post.get("outcome") or None,
            duration_minutes=_minutes(post.get("duration_minutes", "")),
            notes=post.get("notes", ""),
        )
        return _logged(logged.kind.value, False)

    return _act(
        request,
        work,
        reverse("web:account", args=[account_id]),
        lambda r, status, error: _account_page(r, account_id, status, error),
    )


# ---------------------------------------------------------------------------------------------
# Deals


def _deal_page(
    request: HttpRequest, deal_id: int, status: int = 200, error: str = ""
) -> HttpResponse:
    actor = actor_for(request.user)
    try:
        deal = get_deal(deal_id, actor=actor)
    except NotFoundError:
        raise Http404(f"no deal #{deal_id}") from None
    except AccessDeniedError as exc:
        return render(request, "onefunnel/denied.html", {"reason": str(exc)}, status=403)
    context = {
        "deal": deal,
        "history": deal_history(deal_id, actor=actor),
        "activities": list_activities(deal_id=deal_id, limit=100),
        "tasks": list_tasks(deal_id=deal_id, include_done=True, limit=100),
        "stages": pipeline_stages(deal.pipeline),
        "may_work": may_work_deal(deal_id, actor),
        "may_log": may(actor, Action.LOG_ACTIVITY),
        "error": error,
        **_form_context(),
    }
    return render(request, "onefunnel/deal.html", context, status=status)


@login_required
@require_GET
def deal(request: HttpRequest, deal_id: int) -> HttpResponse:
    """A deal: its facts, history, activities and tasks; move, win or lose it."""
    return _deal_page(request, deal_id)


def _back(request: HttpRequest, deal_id: int) -> str:
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}):
        return wanted
    return reverse("web:deal", args=[deal_id])


def _deal_action(request: HttpRequest, deal_id: int, work: Callable[[Actor], str]) -> HttpResponse:
    back = _back(request, deal_id)

    def page(r: HttpRequest, status: int, error: str) -> HttpResponse:
        if back.startswith(reverse("web:board")):
            return _board_page(r, status, error, query=back.partition("?")[2])
        return _deal_page(r, deal_id, status, error)

    return _act(request, work, back, page)


@login_required
@require_POST
def deal_move(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Move a deal to a stage; the won stage wins it, the lost stage loses it (with a reason)."""
    post = request.POST

    def work(actor: Actor) -> str:
        target = post.get("stage", "").strip()
        if not target:
            raise InputError("stage: choose a stage")
        current = get_deal(deal_id, actor=actor)
        stage = next((s for s in pipeline_stages(current.pipeline) if str(s.id) == target), None)
        if stage is not None and stage.is_won:
            win_deal(deal_id, actor=actor)
            return f"Won deal #{deal_id} {current.name!r}: {current.account} is a customer."
        if stage is not None and stage.is_lost:
            lose_deal(deal_id, reason=post.get("reason") or None, note=post.get("note", ""),
                      actor=actor)  # fmt: skip
            return f"Lost deal #{deal_id} {current.name!r}."
        moved = move_deal(deal_id, target, actor=actor)
        return f"Moved deal #{deal_id} {moved.name!r} to {moved.pipeline_stage}."

    return _deal_action(request, deal_id, work)


@login_required
@require_POST
def deal_win(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Win a deal: its account and buying contacts move through the funnel."""

    def work(actor: Actor) -> str:
        closed = win_deal(deal_id, actor=actor)
        moved = ", ".join(sorted({m.to_stage.value for m in closed.moves})) or "no stage change"
        return f"Won deal #{deal_id}; the account and its contacts moved ({moved})."

    return _deal_action(request, deal_id, work)


@login_required
@require_POST
def deal_lose(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Lose a deal with a reason (``other`` needs a note)."""
    post = request.POST

    def work(actor: Actor) -> str:
        lose_deal(deal_id, reason=post.get("reason") or None, note=post.get("note", ""),
                  actor=actor)  # fmt: skip
        return f"Lost deal #{deal_id} ({post.get('reason')})."

    return _deal_action(request, deal_id, work)


@login_required
@require_POST
def deal_activity(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Log an activity on a deal."""
    post = request.POST

    def work(actor: Actor) -> str:
        logged = log_activity(
            actor=actor,
            kind=post.get("kind", ""),
            deal_id=deal_id,
            outcome=post.get("outcome") or None,
            duration_minutes=_minutes(post.get("duration_minutes", "")),
            notes=post.get("notes", ""),
        )
        return _logged(logged.kind.value, False)

    return _deal_action(request, deal_id, work)


# ---------------------------------------------------------------------------------------------
# The board


def _scope(actor: Actor, wanted: str) -> str:
    if wanted in ("mine", "team", "all"):
        if wanted == "team" and actor.team is None:
            return "mine"
        return wanted
    if actor.roles & {Role.MARKETING, Role.LEADERSHIP, Role.ADMIN}:
        return "all"
    return "team" if actor.has(Role.TEAM_LEAD) and actor.team else "mine"


def _board_page(
    request: HttpRequest, status: int = 200, error: str = "", *, query: str = ""
) -> HttpResponse:
    from django.http import QueryDict

    params = QueryDict(query) if query else request.GET
    actor = actor_for(request.user)
    scope = _scope(actor, params.get("scope", ""))
    pipeline = params.get("pipeline") or None
    try:
        page = int(params.get("page", "1"))
    except ValueError:
        page = 1
    try:
        board = deal_board(pipeline, actor, scope, max(1, min(page, 100_000)),
                           page_size=BOARD_PAGE)  # fmt: skip
    except NotFoundError:
        raise Http404(f"no pipeline {pipeline!r}") from None
    here = reverse("web:board") + (f"?{params.urlencode()}" if params else "")
    open_stages = [c for c in board.columns if not c.is_lost]

    def options(selected: int) -> str:
        # Rendered once per column, not once per card: a board shows up to 20 cards a column.
        return "".join(
            format_html(
                '<option value="{}"{}>{}{}</option>',
                s.stage_id,
                mark_safe(" selected") if s.stage_id == selected else "",
                s.stage,
                " (win)" if s.is_won else "",
            )
            for s in open_stages
        )

    deal_prefix = reverse("web:deal", args=[0]).removesuffix("0")
    account_prefix = reverse("web:account", args=[0]).removesuffix("0")
    may_work = bool(
        actor.roles & {Role.SALES_REP, Role.TEAM_LEAD, Role.ACCOUNT_MANAGER, Role.ADMIN}
    )
    token = escape(get_token(request))
    nxt = escape(here)

    def cards(column: Any, stage_options: str) -> str:
        # A board shows up to 20 cards a column: built here with the standard library's
        # escape, as the template's per-card lookups and filters cost most of the page.
        movable = may_work and not column.is_won and not column.is_lost
        drag = ' draggable="true"' if movable else ""
        out = []
        for card in column.cards:
            url, name = f"{deal_prefix}{card.id}", escape(card.name)
            close = (
                f"{card.expected_close:%b} {card.expected_close.day}"
                if card.expected_close
                else "—"
            )
            owner = f" · {escape(card.owner)}" if card.owner and scope != "mine" else ""
            out.append(
                f'<li class="deal-card" id="deal-{card.id}" data-deal="{card.id}"'
                f' data-testid="deal-card"{drag}>'
                f'\n        <a href="{url}" class="name">{name}</a>'
                f'\n        <a href="{account_prefix}{card.account_id}" class="muted account">'
                f"{escape(card.account)}</a>"
                f'\n        <p class="muted">{card.amount:,.0f} {escape(card.currency)} · close {close}'
                f" · {card.age_days} d old{owner}</p>"
            )
            if movable:
                out.append(
                    f'\n        <form method="post" action="{url}/move" class="move">'
                    f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
                    f'\n          <input type="hidden" name="next" value="{nxt}">'
                    f'\n          <label for="move-{card.id}" class="visually-hidden">Move {name}'
                    " to</label>"
                    f'\n          <select id="move-{card.id}" name="stage">{stage_options}</select>'
                    '\n          <button type="submit" data-testid="move">Move</button>'
                    f'\n          <a href="{url}#lose">Lose…</a>\n        </form>'
                )
            out.append("\n      </li>")
        return "".join(out) or '<li class="muted empty-col">no deals</li>'

    columns = []
    for c in board.columns:
        stage_options = options(c.stage_id)
        columns.append((c, mark_safe(stage_options), mark_safe(cards(c, stage_options))))
    context = {
        "board": board,
        "columns": columns,
        "deal_prefix": deal_prefix,
        "scope": scope,
        "scopes": [s for s in ("mine", "team", "all") if s != "team" or actor.team],
        "here": here,
        "has_more": any(c.has_more for c in board.columns),
        "may_work": may_work,
        "error": error,
        "pipeline_param": pipeline or "",
    }
    return render(request, "onefunnel/board.html", context, status=status)


@login_required
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    """The deal board: a pipeline's deals by stage (mine, my team's, or all I may read)."""
    return _board_page(request)
