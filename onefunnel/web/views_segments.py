"""Segments in marketing's workspace: the list with live counts, a page per segment (its
definition in words, size over time, members, recent entries and exits, a CSV of its members,
"refresh now"), and the form that builds a segment's spec.

The form is plain HTML (it works without JavaScript): each condition is a group of fields named
``c<i>.<field>`` (``c<i>.<j>.<field>`` inside an ``any``), and the buttons post what to do
(``op=add``, ``op=remove:2``, ``op=addin:1``, ``op=save``). The page turns the fields into the
spec's JSON as typed, and the domain's ``parse_spec`` (through the service) decides whether it
holds: its errors come back with their paths (``all[2].within_days``), shown beside the field
they name, and nothing is saved. The advanced view edits the same spec as JSON.

Thin: reads and writes go through ``services.marketing.segments`` as the signed-in user; the rule
book decides (every role reads segments, as in the API; marketing and admins save and refresh:
the others get the 403 page, and never see the form).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from onefunnel.domain.access import AccessDeniedError, Action, Work, may
from onefunnel.domain.csv_safety import neutralised_row
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.segments import (
    ACCOUNT_FIELDS,
    CONTACT_FIELDS,
    SpecError,
    Subject,
    describe_spec,
    parse_spec,
)
from onefunnel.domain.stages import ALL_STATES, StageReason
from onefunnel.domain.touches import Channel, TouchKind
from onefunnel.services.access import actor_for, require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing import segments as service
from onefunnel.web.charts_segments import size_chart
from onefunnel.web.security import allow_eval

PAGE = 50
#: The condition types the form offers, in words.
TYPES = (
    ("stage", "stage"),
    ("score", "score range"),
    ("attribute", "attribute"),
    ("touches", "touches in a window"),
    ("handoff", "handoff outcome"),
    ("contract", "contract renewal"),
)
ANY = ("any", "any of (OR)")
#: The fields each type has (their names in the spec).
FIELDS: dict[str, tuple[str, ...]] = {
    "stage": ("in",),
    "score": ("min", "max"),
    "attribute": ("name", "op", "value"),
    "touches": ("within_days", "at_least", "kind", "channel", "event", "url_contains"),
    "handoff": ("within_days", "status", "reason"),
    "contract": ("renewal_within_days", "product"),
}
_WHOLE = frozenset({"within_days", "at_least", "renewal_within_days"})
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_OP = re.compile(r"^(add|addin:\d{1,2}|remove:\d{1,2}(\.\d{1,2})?|save|json)$")


def _reader(request: HttpRequest) -> None:
    require(actor_for(request.user), Action.READ, Work("segment"))


def _may_edit(request: HttpRequest) -> bool:
    return may(actor_for(request.user), Action.EDIT_MARKETING)


def _denied(request: HttpRequest, exc: AccessDeniedError) -> HttpResponse:
    return render(request, "onefunnel/denied.html", {"reason": str(exc)}, status=403)


def _segment_or_404(segment_id: int) -> service.SegmentView:
    try:
        return service.get_segment(segment_id)
    except NotFoundError as exc:
        raise Http404(str(exc)) from None


def _words(spec: Mapping[str, Any]) -> str:
    try:
        return describe_spec(parse_spec(spec))
    except SpecError:  # a stored spec was checked when saved; never expected
        return json.dumps(spec)


# ------------------------------------------------------------------------------- the list


@login_required
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    """Every segment: subject, live count (linking to its members), last refresh, change."""
    try:
        _reader(request)
    except AccessDeniedError as exc:
        return _denied(request, exc)
    rows = [
        {
            "summary": s,
            "words": _words(s.segment.spec),
            "change": format_change(s.change),
            "refreshed": when(s.segment.refreshed_at),
        }
        for s in service.segment_summaries()
    ]
    return render(
        request, "onefunnel/segments.html", {"rows": rows, "may_edit": _may_edit(request)}
    )


# ------------------------------------------------------------------------ one segment


def _offset(request: HttpRequest) -> int:
    text = request.GET.get("offset", "0")
    return int(text) if text.isdigit() and len(text) < 12 else 0


@allow_eval
@login_required
@require_GET
def segment_detail(request: HttpRequest, segment_id: int) -> HttpResponseBase:
    """One segment: its definition in words, size over time, members (paged), recent entries
    and exits; ``?format=csv`` downloads every member."""
    try:
        _reader(request)
    except AccessDeniedError as exc:
        return _denied(request, exc)
    view = _segment_or_404(segment_id)
    if request.GET.get("format") == "csv":
        return _members_csv(view)
    return _detail_page(request, view)


def _detail_page(
    request: HttpRequest,
    view: service.SegmentView,
    *,
    message: str | None = None,
    status: int = 200,
) -> HttpResponse:
    offset = _offset(request)
    page = service.member_page(view.id, offset=offset, limit=PAGE)
    history = service.segment_history(view.id)
    base = reverse("web:segment", args=[view.id])
    context: dict[str, Any] = {
        "segment": view,
        "words": _words(view.spec),
        "page": page,
        "first": offset + 1 if page.members else 0,
        "last": offset + len(page.members),
        "previous": f"{base}?offset={max(0, offset - PAGE)}#members" if offset else None,
        "next": f"{base}?offset={offset + PAGE}#members" if offset + PAGE < page.total else None,
        "member_url": "web:contact" if view.subject == Subject.CONTACT.value else "web:account",
        "history": history,
        "chart": size_chart(view.name, [(p.at, p.size, p.entered, p.left) for p in history]),
        "changes": service.recent_changes(view.id),
        "csv": f"{base}?format=csv",
        "may_edit": _may_edit(request),
        "message": message,
        "spec_json": json.dumps(view.spec, indent=2),
    }
    return render(request, "onefunnel/segment.html", context, status=status)


def _members_csv(view: service.SegmentView) -> StreamingHttpResponse:
    """Every member now, formula-safe (``domain.csv_safety``), streamed in chunks."""
    header = ["id", "name", "email", "stage", "score", "account"]

    def lines() -> Iterator[str]:
        rows: list[Iterator[list[object]]] = [
            iter([list(header)]),
            _cells(service.all_members(view.id)),
        ]
        for row in itertools.chain.from_iterable(rows):
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(neutralised_row(row))
            yield buffer.getvalue()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", view.name).strip("-") or "segment"
    response["Content-Disposition"] = f'attachment; filename="segment-{view.id}-{name}.csv"'
    return response


def _cells(rows: Iterator[service.MemberRow]) -> Iterator[list[object]]:
    for r in rows:
        yield [r.id, r.name, r.email or "", r.stage or "",
               "" if r.score is None else r.score, r.account or ""]  # fmt: skip


@allow_eval
@login_required
@require_POST
def segment_refresh(request: HttpRequest, segment_id: int) -> HttpResponse:
    """Refresh now: record who entered and who left (marketing), then show the segment."""
    actor = actor_for(request.user)
    try:
        require(actor, Action.EDIT_MARKETING)  # the service checks too; refuse before reading
        done = service.refresh_segment(segment_id, actor=actor)
    except AccessDeniedError as exc:
        return _denied(request, exc)
    except NotFoundError as exc:
        raise Http404(str(exc)) from None
    view = service.get_segment(done.segment_id)
    message = (
        f"Refreshed: {done.size} members; {done.entered} entered and {done.left} left "
        "since the last refresh."
    )
    return _detail_page(request, view, message=message)


# --------------------------------------------------------------------------- the form


def _value(text: str, field: str) -> object:
    """A typed field as the spec's JSON: numbers as numbers when they read as one (else the
    text, for the domain to refuse by name)."""
    clean = text.strip()
    if (field in _WHOLE or field in ("min", "max")) and _NUMBER.match(clean):
        number = float(clean)
        return int(number) if field in _WHOLE and number.is_integer() else number
    return clean


def _condition_from(post: Mapping[str, Any], key: str, getlist: Any) -> dict[str, Any]:
    """One condition's JSON from the fields under ``key`` (``c2`` or ``c1.0``)."""
    kind = str(post.get(f"{key}.type", ""))
    raw: dict[str, Any] = {"type": kind}
    if kind == "stage":
        raw["in"] = [str(v) for v in getlist(f"{key}.in")]
        return raw
    if kind == "attribute":
        op = "contains" if post.get(f"{key}.op") == "contains" else "equals"
        raw["name"] = str(post.get(f"{key}.name", "")).strip()
        raw[op] = str(post.get(f"{key}.value", ""))
        return raw
    for field in FIELDS.get(kind, ()):
        text = str(post.get(f"{key}.{field}", ""))
        if text.strip():
            raw[field] = _value(text, field)
    return raw


def _count(post: Mapping[str, Any], key: str, limit: int = 50) -> int:
    text = str(post.get(key, "0"))
    return min(int(text), limit) if text.isdigit() and len(text) < 4 else 0


def spec_from_form(post: Any) -> dict[str, Any]:
    """The spec the form's fields describe (not checked: ``parse_spec`` does that)."""
    conditions: list[dict[str, Any]] = []
    for i in range(_count(post, "n")):
        key = f"c{i}"
        if post.get(f"{key}.type") == "any":
            of = [_condition_from(post, f"{key}.{j}", post.getlist) for j in range(
                _count(post, f"{key}.n"))]  # fmt: skip
            conditions.append({"type": "any", "of": of})
        elif f"{key}.type" in post:
            conditions.append(_condition_from(post, key, post.getlist))
    subject = str(post.get("subject", Subject.CONTACT.value))
    return {"subject": subject, "all": conditions}


def _blank(kind: str) -> dict[str, Any]:
    if kind == "any":
        return {"type": "any", "of": [_blank("stage"), _blank("score")]}
    return {"type": kind if kind in FIELDS else "stage"}


def _apply(op: str, spec: dict[str, Any], post: Any) -> None:
    """Add or remove a condition (the form's buttons other than save)."""
    items: list[dict[str, Any]] = spec["all"]
    if op == "add":
        kind = str(post.get("new_type", "stage"))
        items.append(_blank(kind if kind == "any" or kind in FIELDS else "stage"))
    elif op.startswith("addin:"):
        i = int(op.partition(":")[2])
        if i < len(items) and items[i].get("type") == "any":
            kind = str(post.get(f"c{i}.new_type", "stage"))
            items[i]["of"].append(_blank(kind if kind in FIELDS else "stage"))
    elif op.startswith("remove:"):
        where = [int(p) for p in op.partition(":")[2].split(".")]
        if len(where) == 1 and where[0] < len(items):
            items.pop(where[0])
        elif len(where) == 2 and where[0] < len(items) and items[where[0]].get("type") == "any":
            of = items[where[0]]["of"]
            if where[1] < len(of):
                of.pop(where[1])


def _field_key(loc: str) -> str:
    """A spec error's path as the form's field name: ``spec.all[1].of[0].min`` → ``c1.0.min``."""
    path = loc.removeprefix("spec.")
    path = re.sub(r"^all\[(\d+)\]", r"c\1", path)
    path = re.sub(r"\.of\[(\d+)\]", r".\1", path)
    path = re.sub(r"\.in\[\d+\]$", ".in", path)
    return path.replace(".equals", ".value").replace(".contains", ".value")


def _shown(value: object) -> object:
    # 40.0 as the spec stores a score reads 40 in its field.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _form_conditions(spec: Mapping[str, Any], errors: Mapping[str, str]) -> list[dict[str, Any]]:
    """The conditions as the template draws them: key, type, values and their errors."""

    def one(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
        kind = str(raw.get("type", ""))
        values: dict[str, Any] = {f: _shown(raw.get(f, "")) for f in FIELDS.get(kind, ())}
        if kind == "stage":
            chosen = raw.get("in")
            values["in"] = [str(v) for v in chosen] if isinstance(chosen, list) else []
        if kind == "attribute":
            values["op"] = "contains" if "contains" in raw else "equals"
            values["value"] = raw.get(values["op"], "")
        mine = {k.removeprefix(key + "."): v for k, v in errors.items()
                if k == key or k.startswith(key + ".")}  # fmt: skip
        found: dict[str, Any] = {
            "key": key,
            "type": kind,
            "values": values,
            "errors": mine,
            "here": mine.get(key) or mine.get("type") or mine.get("of"),
        }
        if kind == "any":
            of = raw.get("of")
            found["of"] = [one(c, f"{key}.{j}") for j, c in enumerate(of)
                           if isinstance(c, Mapping)] if isinstance(of, list) else []  # fmt: skip
        return found

    items = spec.get("all")
    if not isinstance(items, list):
        return []
    return [one(c, f"c{i}") for i, c in enumerate(items) if isinstance(c, Mapping)]


def _form_page(
    request: HttpRequest,
    *,
    segment: service.SegmentView | None,
    name: str,
    description: str,
    spec: dict[str, Any],
    errors: list[tuple[str, str]] | None = None,
    spec_json: str | None = None,
    status: int = 200,
) -> HttpResponse:
    errors = errors or []
    by_field = {_field_key(loc): msg for loc, msg in errors}
    subject = str(spec.get("subject", Subject.CONTACT.value))
    fields = sorted(ACCOUNT_FIELDS if subject == Subject.ACCOUNT.value else CONTACT_FIELDS)
    if subject == Subject.CONTACT.value:
        fields += [f"account.{f}" for f in sorted(ACCOUNT_FIELDS)]
    context: dict[str, Any] = {
        "segment": segment,
        "name": name,
        "description": description,
        "subject": subject,
        "subjects": [s.value for s in Subject],
        "conditions": _form_conditions(spec, by_field),
        "errors": errors,
        "name_error": by_field.get("name"),
        "subject_error": by_field.get("subject"),
        "types": TYPES,
        "all_types": (*TYPES, ANY),
        "stages": [s.value for s in ALL_STATES],
        "kinds": [k.value for k in TouchKind],
        "channels": [c.value for c in Channel],
        "statuses": [s.value for s in HandoffStatus],
        "reasons": [r.value for r in StageReason],
        "attribute_names": fields,
        "spec_json": spec_json if spec_json is not None else json.dumps(spec, indent=2),
        "action": (
            reverse("web:segment-edit", args=[segment.id])
            if segment
            else reverse("web:segment-create")
        ),
    }
    return render(request, "onefunnel/segment_form.html", context, status=status)


def _errors_of(exc: InputError) -> list[tuple[str, str]]:
    if isinstance(exc, service.SpecInputError):
        return list(exc.errors)
    field, _, msg = str(exc).partition(": ")
    return [(field, msg or str(exc))]


def _spec_from_json(text: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"spec: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(raw, dict):
        raise InputError("spec: expected an object with subject and all")
    return raw


def _form(request: HttpRequest, segment_id: int | None) -> HttpResponse:
    """The form (GET) or what its buttons ask (POST): edit the conditions, or save."""
    actor = actor_for(request.user)
    try:
        require(actor, Action.EDIT_MARKETING)  # before anything is read: others never see it
    except AccessDeniedError as exc:
        return _denied(request, exc)
    segment = _segment_or_404(segment_id) if segment_id is not None else None
    if request.method == "GET":
        if segment is None:
            spec: dict[str, Any] = {"subject": "contact", "all": [_blank("stage")]}
            return _form_page(request, segment=None, name="", description="", spec=spec)
        return _form_page(request, segment=segment, name=segment.name,
                          description=segment.description, spec=dict(segment.spec))  # fmt: skip
    post = request.POST
    op = str(post.get("op", "save"))
    op = op if _OP.match(op) else "save"
    name, description = str(post.get("name", "")), str(post.get("description", ""))
    json_text = str(post.get("spec_json", ""))
    try:
        spec = _spec_from_json(json_text) if op == "json" else spec_from_form(post)
    except InputError as exc:
        spec = spec_from_form(post)
        return _form_page(request, segment=segment, name=name, description=description,
                          spec=spec, errors=_errors_of(exc), spec_json=json_text,
                          status=422)  # fmt: skip
    if op not in ("save", "json"):
        _apply(op, spec, post)
        return _form_page(request, segment=segment, name=name, description=description,
                          spec=spec)  # fmt: skip
    try:
        if segment is None:
            saved = service.create_segment(actor, name, spec, description=description)
        else:
            saved = service.update_segment(
                actor, segment.id, name=name, spec=spec, description=description
            )
    except AccessDeniedError as exc:
        return _denied(request, exc)
    except InputError as exc:
        shown = spec if isinstance(spec.get("all"), list) else spec_from_form(post)
        return _form_page(request, segment=segment, name=name, description=description,
                          spec=shown, errors=_errors_of(exc),
                          spec_json=json_text if op == "json" else None, status=422)  # fmt: skip
    return HttpResponseRedirect(reverse("web:segment", args=[saved.id]))


@login_required
@require_http_methods(["GET", "POST"])
def segment_create(request: HttpRequest) -> HttpResponse:
    """A new segment (marketing): the form, and saving it."""
    return _form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, segment_id: int) -> HttpResponse:
    """Change a segment (marketing): the form filled with its spec, and saving it."""
    return _form(request, segment_id)


def format_change(change: int | None) -> str:
    """A size change as the list shows it (``+3``, ``−2``, ``0``; ``—`` never refreshed)."""
    if change is None:
        return "—"
    return f"+{change}" if change > 0 else ("0" if change == 0 else f"−{-change}")


def when(moment: datetime | None) -> str:
    """A refresh time as pages print it."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"
