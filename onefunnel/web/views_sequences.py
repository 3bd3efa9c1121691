"""Email sequences in marketing's workspace: the list with each sequence's numbers, a page per
sequence (steps, per-step results, enrollments; enroll a segment, pause, resume), the records
behind every count, a step previewed for a contact, and creating and editing a sequence with
its steps.

Thin: numbers come from ``services.marketing.sequence_numbers`` (the same definitions as the
records behind them); writes go through ``services.marketing.sequences`` as the signed-in user,
so the rule book decides (``Action.EDIT_MARKETING``: marketing and admins). Reading is open to
every signed-in user, as the API's reads are. A template the service refuses (an unknown
variable, a tag that is not allowed) is shown next to its field, and nothing is saved.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from onefunnel.domain.access import AccessDeniedError, Action, may
from onefunnel.domain.handoffs import REJECTION_REASONS
from onefunnel.domain.sequences import ALL_STOP_CONDITIONS, MAX_STEPS
from onefunnel.services.access import actor_for, require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing import sequences as service
from onefunnel.services.marketing.campaigns import all_campaigns
from onefunnel.services.marketing.segments import list_segments
from onefunnel.services.marketing.sequence_numbers import (
    Measure,
    numbers_of,
    records_behind,
    sequence_numbers,
)

#: Enrollments shown on a sequence's page (the records page lists them all).
SHOWN = 200
_STEP_FIELD = re.compile(r"^steps\[(\d+)\](?:\.(\w+))?$")


def _may_edit(request: HttpRequest) -> bool:
    return may(actor_for(request.user), Action.EDIT_MARKETING)


def _denied(request: HttpRequest) -> HttpResponse | None:
    """The rule book's refusal as the 403 page, before any record is read; None if allowed."""
    try:
        require(actor_for(request.user), Action.EDIT_MARKETING)
    except AccessDeniedError as exc:
        return render(request, "onefunnel/denied.html", {"reason": str(exc)}, status=403)
    return None


def _sequence_or_404(sequence_id: int) -> service.SequenceView:
    try:
        return service.get_sequence(sequence_id)
    except NotFoundError as exc:
        raise Http404(str(exc)) from None


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.0f}%"


def _words(value: str) -> str:
    return value.replace("_", " ")


# ---------------------------------------------------------------------------- the list


@login_required
@require_GET
def sequence_list(request: HttpRequest) -> HttpResponse:
    """Every sequence with its campaign, entry rule, enrollments and emails."""
    rows = [{"n": n, "entry": [_words(r) for r in n.entry_reasons]} for n in sequence_numbers()]
    return render(
        request, "onefunnel/sequences.html", {"rows": rows, "may_edit": _may_edit(request)}
    )


# ---------------------------------------------------------------------------- one sequence


@login_required
@require_GET
def sequence(request: HttpRequest, sequence_id: int) -> HttpResponse:
    """One sequence: steps in order with their results, enrollments, and marketing's actions."""
    view = _sequence_or_404(sequence_id)
    numbers = numbers_of(sequence_id)
    steps = [
        {"step": s, "numbers": n, "open_rate": _pct(n.emails.open_rate),
         "click_rate": _pct(n.emails.click_rate)}
        for s, n in zip(view.steps, numbers.steps, strict=True)
    ]  # fmt: skip
    enrollments = records_behind(sequence_id, Measure.ENROLLED.value, limit=SHOWN)
    context: dict[str, Any] = {
        "sequence": view,
        "numbers": numbers,
        "steps": steps,
        "stop_on": [_words(c) for c in view.stop_on],
        "entry": [_words(r) for r in view.entry_reasons],
        "enrollments": enrollments,
        "shown": SHOWN,
        "may_edit": _may_edit(request),
        "segments": [s for s in list_segments() if s.subject == "contact"],
        "stopped_by": [(r, _words(r), n) for r, n in numbers.stopped_by.items()],
        "open_rate": _pct(numbers.emails.open_rate),
        "click_rate": _pct(numbers.emails.click_rate),
    }
    return render(request, "onefunnel/sequence.html", context)


@login_required
@require_POST
def sequence_enroll(request: HttpRequest, sequence_id: int) -> HttpResponse:
    """Enroll a segment's members as they are now (``enroll_segment``)."""
    refused = _denied(request)
    if refused is not None:
        return refused
    _sequence_or_404(sequence_id)
    raw = request.POST.get("segment", "").strip()
    try:
        if not raw.isdigit():
            raise InputError("segment: choose a segment")
        done = service.enroll_segment(sequence_id, int(raw), actor=actor_for(request.user))
    except (InputError, NotFoundError) as exc:
        messages.error(request, str(exc))
    else:
        skipped = ", ".join(
            f"{n} {_words(why)}"
            for why, n in sorted(_tally(done.skipped.values()).items())
        )  # fmt: skip
        messages.success(
            request,
            f"Enrolled {len(done.enrolled)}; {len(done.already)} were in the sequence already"
            + (f"; skipped {skipped}" if skipped else "")
            + ".",
        )
    return HttpResponseRedirect(reverse("web:sequence", args=[sequence_id]))


def _tally(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


@login_required
@require_POST
def sequence_active(request: HttpRequest, sequence_id: int) -> HttpResponse:
    """Pause (no more sends, no new enrollments) or resume a sequence."""
    refused = _denied(request)
    if refused is not None:
        return refused
    _sequence_or_404(sequence_id)
    active = request.POST.get("active") == "1"
    service.update_sequence(sequence_id, actor=actor_for(request.user), active=active)
    messages.success(request, "Sequence resumed." if active else "Sequence paused.")
    return HttpResponseRedirect(reverse("web:sequence", args=[sequence_id]))


@login_required
@require_GET
def sequence_records(request: HttpRequest, sequence_id: int) -> HttpResponse:
    """The contacts or emails behind one count of a sequence's pages."""
    view = _sequence_or_404(sequence_id)
    get = request.GET
    step_raw = get.get("step", "")
    context: dict[str, Any] = {"sequence": view, "rows": None}
    try:
        step = int(step_raw) if step_raw else None
        rows = records_behind(
            sequence_id, get.get("measure", ""), step=step, reason=get.get("reason") or None
        )
    except ValueError:
        context["error"] = "step: a step's position"
        return render(request, "onefunnel/sequence_records.html", context, status=422)
    except InputError as exc:
        context["error"] = str(exc)
        return render(request, "onefunnel/sequence_records.html", context, status=422)
    measure = Measure(get["measure"])
    title = measure.label
    if step is not None:
        title += f", step {step + 1}"
    if get.get("reason") and measure is Measure.STOPPED:
        title += f": {_words(get['reason'])}"
    context.update(rows=rows, title=title[:1].upper() + title[1:], of_sends=measure.of_sends)
    return render(request, "onefunnel/sequence_records.html", context)


@login_required
@require_GET
def sequence_preview(request: HttpRequest, sequence_id: int) -> HttpResponse:
    """A step rendered for a contact (by id or email), as the email would read."""
    view = _sequence_or_404(sequence_id)
    raw_step, raw_contact = request.GET.get("step", "0"), request.GET.get("contact", "").strip()
    context: dict[str, Any] = {"sequence": view, "contact": raw_contact}
    try:
        position = int(raw_step)
        if not raw_contact:
            raise InputError("contact: give a contact's email address or id")
        who: int | str = int(raw_contact) if raw_contact.isdigit() else raw_contact
        context["preview"] = service.preview_step(sequence_id, position, who)
    except ValueError:
        context["error"] = "step: a step's position"
    except (InputError, NotFoundError) as exc:
        context["error"] = str(exc)
    status = 422 if "error" in context else 200
    return render(request, "onefunnel/sequence_preview.html", context, status=status)


# ---------------------------------------------------------------------------- create, edit


def _field_key(loc: str) -> str:
    """A service's field path (``steps[1].html``) as the form's field name (``steps-1-html``)."""
    match = _STEP_FIELD.match(loc)
    if match is None:
        return loc
    index, part = match.groups()
    return f"steps-{index}-{part}" if part else f"steps-{index}"


def _shown_steps(request: HttpRequest) -> list[dict[str, Any]]:
    """Every step block posted, as the form shows it again."""
    post = request.POST
    try:
        count = min(int(post.get("step_count", "0")), MAX_STEPS + 1)
    except ValueError:
        count = 0
    parts = ("wait_days", "subject", "html", "text")
    return [
        {"index": i, **{k: post.get(f"steps-{i}-{k}", "") for k in parts}}
        for i in range(max(count, 0))
    ]


def _posted_steps(request: HttpRequest) -> list[dict[str, Any]]:
    """The steps as the service takes them, blank blocks left out (each keeps its block's
    ``index``); InputError for a wait that is not a whole number."""
    given: list[dict[str, Any]] = []
    for block in _shown_steps(request):
        if not any(str(block[k]).strip() for k in ("subject", "html", "text")):
            continue
        wait_text = str(block["wait_days"]).strip() or "0"
        if not wait_text.isdigit():
            raise InputError(f"steps[{block['index']}].wait_days: a whole number of days")
        given.append({**block, "wait_days": int(wait_text)})
    return given


def _fields(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {
        "name": post.get("name", ""),
        "campaign": post.get("campaign", ""),
        "from_email": post.get("from_email", ""),
        "from_name": post.get("from_name", ""),
        "stop_on": post.getlist("stop_on"),
        "entry_reasons": post.getlist("entry_reasons"),
    }


def _form_context(
    values: dict[str, Any], steps: list[dict[str, Any]], errors: dict[str, str]
) -> dict[str, Any]:
    blank = {"wait_days": "", "subject": "", "html": "", "text": ""}
    shown = [*steps, {"index": len(steps), **blank}] if len(steps) < MAX_STEPS else steps
    for s in shown:
        s["errors"] = {
            part: errors[f"steps-{s['index']}-{part}"]
            for part in ("wait_days", "subject", "html", "text")
            if f"steps-{s['index']}-{part}" in errors
        }
        s["error"] = errors.get(f"steps-{s['index']}")
    return {
        "values": values,
        "steps": shown,
        "step_count": len(shown),
        "errors": errors,
        "campaigns": [(c.utm_campaign, c.name) for c in all_campaigns()],
        "conditions": [(c.value, _words(c.value)) for c in ALL_STOP_CONDITIONS],
        "reasons": [(r.value, _words(r.value)) for r in REJECTION_REASONS],
        "variables": "contact.first_name, contact.last_name, contact.email, contact.title,"
        " contact.country, account.name, account.domain, account.industry, account.country,"
        " unsubscribe_url",
    }


def _save(request: HttpRequest, sequence_id: int | None) -> service.SequenceView:
    """Create or update from the posted form (InputError naming the field, nothing saved)."""
    actor = actor_for(request.user)
    fields = _fields(request)
    given = _posted_steps(request)
    origin = [g.pop("index") for g in given]
    try:
        if sequence_id is None:
            return service.create_sequence(actor=actor, steps=given, **fields)
        return service.update_sequence(sequence_id, actor=actor, steps=given, **fields)
    except InputError as exc:
        loc, _, msg = str(exc).partition(": ")
        match = _STEP_FIELD.match(loc)
        if match is not None and int(match.group(1)) < len(origin):
            # The service counts the steps it was given; the form numbers every block shown.
            part = f".{match.group(2)}" if match.group(2) else ""
            raise InputError(f"steps[{origin[int(match.group(1))]}]{part}: {msg}") from None
        raise


def _form_page(
    request: HttpRequest,
    *,
    sequence: service.SequenceView | None,
    status: int = 200,
    error: InputError | None = None,
) -> HttpResponse:
    if request.method == "POST":
        values = _fields(request)
        steps = _shown_steps(request)
    elif sequence is not None:
        values = {
            "name": sequence.name, "campaign": sequence.campaign,
            "from_email": sequence.from_email, "from_name": sequence.from_name,
            "stop_on": sequence.stop_on, "entry_reasons": sequence.entry_reasons,
        }  # fmt: skip
        steps = [
            {"index": s.position, "wait_days": s.wait_days, "subject": s.subject,
             "html": s.html, "text": s.text}
            for s in sequence.steps
        ]  # fmt: skip
    else:
        values = {"stop_on": [c.value for c in ALL_STOP_CONDITIONS], "entry_reasons": []}
        steps = []
    errors: dict[str, str] = {}
    if error is not None:
        loc, _, msg = str(error).partition(": ")
        errors[_field_key(loc)] = msg or str(error)
    context = _form_context(values, steps, errors)
    context.update(sequence=sequence, error=str(error) if error else None)
    return render(request, "onefunnel/sequence_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def sequence_create(request: HttpRequest) -> HttpResponse:
    """The form for a new sequence; a POST creates it (or shows the form with the field to
    fix, and nothing saved)."""
    refused = _denied(request)
    if refused is not None:
        return refused
    if request.method == "GET":
        return _form_page(request, sequence=None)
    try:
        made = _save(request, None)
    except InputError as exc:
        return _form_page(request, sequence=None, status=422, error=exc)
    messages.success(request, f"Sequence {made.name!r} created.")
    return HttpResponseRedirect(reverse("web:sequence", args=[made.id]))


@login_required
@require_http_methods(["GET", "POST"])
def sequence_edit(request: HttpRequest, sequence_id: int) -> HttpResponse:
    """Edit a sequence and its steps; a refused field is shown and nothing is saved."""
    refused = _denied(request)
    if refused is not None:
        return refused
    current = _sequence_or_404(sequence_id)
    if request.method == "GET":
        return _form_page(request, sequence=current)
    try:
        _save(request, sequence_id)
    except NotFoundError as exc:
        raise Http404(str(exc)) from None
    except InputError as exc:
        return _form_page(request, sequence=current, status=422, error=exc)
    messages.success(request, "Sequence saved.")
    return HttpResponseRedirect(reverse("web:sequence", args=[sequence_id]))
