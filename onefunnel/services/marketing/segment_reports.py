"""Reports, record lists and exports narrowed to a segment: resolve the segment a caller names
(by id or name, as ``sequences enroll --segment`` does) into the `SegmentFilter` the reports
read (``analytics.segment_filter``: the stored current membership).

A segment that was never refreshed has no stored members yet; it is refreshed first (as the
system, like the worker's first pass would), so its first report counts its members rather than
nobody. Later refreshes are the worker's (``ONEFUNNEL_SEGMENT_REFRESH_MINUTES``) or marketing's
(``segments refresh``); every filtered report says when its membership was refreshed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from django.db.models import QuerySet

from onefunnel.analytics.segment_filter import SegmentFilter
from onefunnel.domain.csv_safety import neutralised_row
from onefunnel.models import Contact, Segment, SegmentMember
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.segments import get_segment, refresh_segment


def segment_filter(ref: int | str | None, *, now: datetime | None = None) -> SegmentFilter | None:
    """The filter for a segment named by id or name; None when none is named (empty text
    included). NotFoundError ``segment: no segment …`` for an unknown one."""
    if ref is None or (isinstance(ref, str) and not ref.strip()):
        return None
    if isinstance(ref, str) and (len(ref) > 200 or not ref.isprintable()):
        # Names are at most 100 printable characters; PostgreSQL refuses NUL in a parameter.
        raise InputError("segment: not a segment's id or name (at most 100 printable characters)")
    view = get_segment(ref)
    if view.refreshed_at is None:
        # The first report of a segment evaluates it (the membership it then reads is stored
        # and shown on the segment's page, like any refresh).
        refresh_segment(view.id, now=now)
        view = get_segment(view.id)
    if view.refreshed_at is None:  # pragma: no cover - refreshed just above
        raise NotFoundError(f"segment: {view.name!r} could not be refreshed")
    return SegmentFilter(
        segment_id=view.id,
        name=view.name,
        subject=view.subject,
        refreshed_at=view.refreshed_at,
        members=view.size_at_refresh or 0,
    )


def segment_choices() -> list[tuple[int, str]]:
    """Every segment as (id, name), by name: a page's segment selector."""
    return list(Segment.objects.order_by("name").values_list("pk", "name"))


def segment_contact_ids(segment: SegmentFilter) -> QuerySet[Any]:
    """The ids of the contacts that count under a segment filter, as a subquery (the ORM
    twin of ``SegmentFilter.contact_ids_sql``: the stored membership)."""
    members = SegmentMember.objects.filter(segment_id=segment.segment_id).values("member_id")
    if segment.subject == "account":
        return Contact.objects.filter(account_id__in=members).values("pk")
    return Contact.objects.filter(pk__in=members).values("pk")


#: The columns of a segment's contacts CSV.
EXPORT_COLUMNS = (
    "id", "email", "first_name", "last_name", "title", "phone", "country", "stage", "score",
    "owner", "account_id", "account", "created_at",
)  # fmt: skip
_EXPORT_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class SegmentExport:
    """What an export of a segment's contacts wrote."""

    segment: SegmentFilter
    contacts: int


def export_segment_contacts(ref: int | str, out: TextIO) -> SegmentExport:
    """Write the contacts of a segment (for an account segment, its accounts' contacts) as CSV
    to ``out``, ordered by id: the stored membership the reports read, so an export and a
    filtered report count the same people (refreshed first if never refreshed). Streams in
    chunks by id (constant memory); text a spreadsheet would run is neutralised."""
    segment = segment_filter(ref)
    if segment is None:
        raise InputError("segment: name the segment to export (its id or name)")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    rows = (
        Contact.objects.filter(pk__in=segment_contact_ids(segment))
        .order_by("pk")
        .values_list(
            "pk", "email", "first_name", "last_name", "title", "phone", "country", "stage",
            "score", "owner__username", "account_id", "account__name", "created_at",
        )
    )  # fmt: skip
    written, after = 0, 0
    while True:
        chunk = list(rows.filter(pk__gt=after)[:_EXPORT_CHUNK])
        if not chunk:
            break
        for row in chunk:
            writer.writerow(neutralised_row("" if v is None else v for v in row))
        written += len(chunk)
        after = chunk[-1][0]
    return SegmentExport(segment, written)
