"""HTTP for segments: list, read, create, change, delete; live count, a page of members, the
size over time, a refresh, and a count preview of an unsaved spec. Thin: parse, call
``services.marketing.segments``, serialise.

Auth: the Django session (reading is open to every role; saving, changing, deleting and
refreshing is marketing's, ``Action.EDIT_MARKETING``, else 403), or an API key (``crm:read``
to read, ``crm:write`` to write) acting as the system. Errors: 404 unknown segment, 422 a bad
spec or field with every bad field named in ``errors`` (``loc`` e.g. ``["spec", "all[1]",
"within_days"]``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from pydantic import Field

from onefunnel.api.crm import READ, WRITE_MARKETING
from onefunnel.api.root import api
from onefunnel.domain.access import Actor
from onefunnel.services.access import SYSTEM, actor_for
from onefunnel.services.errors import InputError
from onefunnel.services.marketing import segments

router = Router(auth=READ, tags=["segments"])

Id = Annotated[int, Field(ge=1, le=2**62)]


class ErrorOut(Schema):
    detail: str
    errors: list[dict[str, Any]]


ERRORS: dict[int, Any] = {403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class SegmentIn(Schema):
    name: str = Field(max_length=200)
    description: str = Field("", max_length=2000)
    spec: dict[str, Any] = Field(description="subject and all (a list of conditions); README")


class SegmentPatch(Schema):
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)
    spec: dict[str, Any] | None = None


class SpecIn(Schema):
    spec: dict[str, Any]


class PreviewOut(Schema):
    subject: str
    size: int
    at: datetime


class PageQuery(Schema):
    offset: int = Field(0, ge=0, le=2**62)
    limit: int = Field(50, ge=1, le=segments.MAX_PAGE)


class HistoryQuery(Schema):
    limit: int = Field(500, ge=1, le=100_000)


def _actor(request: HttpRequest) -> Actor:
    if isinstance(request.auth, AbstractBaseUser):  # type: ignore[attr-defined]
        return actor_for(request.auth)  # type: ignore[attr-defined]
    return SYSTEM


def _unprocessable(exc: InputError) -> Status[dict[str, Any]]:
    if isinstance(exc, segments.SpecInputError):
        errors = [{"loc": _loc(loc), "msg": msg} for loc, msg in exc.errors]
    else:
        field, _, msg = str(exc).partition(": ")
        errors = [{"loc": _loc(field), "msg": msg or str(exc)}]
    return Status(422, {"detail": str(exc), "errors": errors})


def _loc(path: str) -> list[str | int]:
    # "spec.all[1].within_days" → ["spec", "all[1]", "within_days"]
    return list(path.split("."))


@router.get("/segments", response={200: list[segments.SegmentView], **ERRORS})
def list_segments(request: HttpRequest) -> Any:
    """Every segment, with its size at the last refresh."""
    return segments.list_segments()


@router.post("/segments", response={201: segments.SegmentView, **ERRORS}, auth=WRITE_MARKETING)
def create_segment(request: HttpRequest, payload: SegmentIn) -> Any:
    """Save a segment (marketing). A bad spec is 422 with every bad field named."""
    try:
        view = segments.create_segment(
            _actor(request), payload.name, payload.spec, description=payload.description
        )
    except InputError as exc:
        return _unprocessable(exc)
    return Status(201, view)


@router.post("/segments/preview", response={200: PreviewOut, **ERRORS})
def preview(request: HttpRequest, payload: SpecIn) -> Any:
    """The live count of an unsaved spec (while editing one)."""
    try:
        size = segments.count_spec(payload.spec)
    except InputError as exc:
        return _unprocessable(exc)
    subject = str(payload.spec.get("subject", "contact"))
    return {"subject": subject, "size": size, "at": timezone.now()}


@router.get("/segments/{segment_id}", response={200: segments.SegmentView, **ERRORS})
def get_segment(request: HttpRequest, segment_id: Id) -> Any:
    """One segment."""
    return segments.get_segment(segment_id)


@router.patch(
    "/segments/{segment_id}", response={200: segments.SegmentView, **ERRORS}, auth=WRITE_MARKETING
)
def update_segment(request: HttpRequest, segment_id: Id, payload: SegmentPatch) -> Any:
    """Change a segment's name, description or spec (marketing)."""
    try:
        view = segments.update_segment(
            _actor(request), segment_id, name=payload.name, spec=payload.spec,
            description=payload.description,
        )  # fmt: skip
    except InputError as exc:
        return _unprocessable(exc)
    return view


@router.delete("/segments/{segment_id}", response={204: None, **ERRORS}, auth=WRITE_MARKETING)
def delete_segment(request: HttpRequest, segment_id: Id) -> Any:
    """Delete a segment with its history (marketing)."""
    segments.delete_segment(_actor(request), segment_id)
    return Status(204, None)


@router.get("/segments/{segment_id}/count", response={200: segments.SegmentCount, **ERRORS})
def count(request: HttpRequest, segment_id: Id) -> Any:
    """The live number of members (one query)."""
    return segments.count_segment(segment_id)


@router.get("/segments/{segment_id}/members", response={200: segments.MemberPage, **ERRORS})
def members(request: HttpRequest, segment_id: Id, query: Query[PageQuery]) -> Any:
    """A page of the members now, ordered by id, with the total."""
    try:
        page = segments.member_page(segment_id, offset=query.offset, limit=query.limit)
    except InputError as exc:
        return _unprocessable(exc)
    return page


@router.get("/segments/{segment_id}/history", response={200: list[segments.HistoryPoint], **ERRORS})
def history(request: HttpRequest, segment_id: Id, query: Query[HistoryQuery]) -> Any:
    """The size after each refresh, with how many entered and left (oldest first)."""
    return segments.segment_history(segment_id, limit=query.limit)


@router.post(
    "/segments/{segment_id}/refresh",
    response={200: segments.RefreshResult, **ERRORS},
    auth=WRITE_MARKETING,
)
def refresh(request: HttpRequest, segment_id: Id) -> Any:
    """Record who entered and left now (marketing; the worker does it on its own)."""
    return segments.refresh_segment(segment_id, actor=_actor(request))


api.add_router("/", router)
