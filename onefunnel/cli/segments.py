"""Segments and going cold from the command line: ``onefunnel segments create|list|show|update|
delete|count|members|refresh|history`` and ``onefunnel nurture sweep``.

Every command calls ``services.marketing``. ``--as USERNAME`` acts as that user (saving,
changing and refreshing segments and sweeping are marketing's; exit 3 otherwise); without it the
command acts as the system. A bad spec exits 1 naming every bad field, on one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, console, emit_object, emit_rows, fail

if TYPE_CHECKING:
    from onefunnel.domain.access import Actor

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False)
]
AsOption = Annotated[
    str | None, typer.Option("--as", help="Act as this user (username); the system if omitted")
]
SpecOption = Annotated[
    str | None, typer.Option("--spec", help="The spec as JSON, e.g. '{\"all\": [...]}'")
]
SpecFileOption = Annotated[
    Path | None, typer.Option("--spec-file", help="A file holding the spec as JSON")
]

segments_app = typer.Typer(help="Segments: saved filters over contacts or accounts.")
nurture_app = typer.Typer(help="Nurture: send leads that went cold back to marketing.")
app.add_typer(segments_app, name="segments")
app.add_typer(nurture_app, name="nurture")

LIST_COLUMNS = ("id", "name", "subject", "size_at_refresh", "refreshed_at", "created_by",
                "description")  # fmt: skip
MEMBER_COLUMNS = ("id", "name", "email", "stage", "score", "account")
MAX_SPEC_BYTES = 1_000_000


def _ready() -> None:
    setup_django()
    migrate()


def _actor(username: str | None) -> Actor:
    from onefunnel.services.access import SYSTEM, actor_by_username

    return actor_by_username(username) if username else SYSTEM


def _spec(text: str | None, path: Path | None, *, required: bool) -> Any:
    if text is not None and path is not None:
        fail("spec: give --spec or --spec-file, not both")
    if path is not None:
        try:
            if path.stat().st_size > MAX_SPEC_BYTES:
                fail(f"spec-file: larger than {MAX_SPEC_BYTES} bytes")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"spec-file: cannot read {path}: {exc}")
    if text is None:
        if required:
            fail("spec: give --spec or --spec-file")
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        fail(f"spec: not valid JSON ({exc})")


@segments_app.command("create")
@translate_errors
def create(
    name: Annotated[str, typer.Argument(help="The segment's name")],
    spec: SpecOption = None,
    spec_file: SpecFileOption = None,
    description: Annotated[str, typer.Option(help="What the segment is for")] = "",
    as_user: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Save a segment (the spec is checked first; nothing is saved if any field is bad)."""
    raw = _spec(spec, spec_file, required=True)
    _ready()
    from onefunnel.services.marketing.segments import create_segment

    view = create_segment(_actor(as_user), name, raw, description=description)
    emit_object(view.as_dict(), fmt, title=f"segment #{view.id}")


@segments_app.command("update")
@translate_errors
def update(
    segment: Annotated[str, typer.Argument(help="Segment name or id")],
    spec: SpecOption = None,
    spec_file: SpecFileOption = None,
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    description: Annotated[str | None, typer.Option(help="A new description")] = None,
    as_user: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Change a segment's spec, name or description."""
    raw = _spec(spec, spec_file, required=False)
    _ready()
    from onefunnel.services.marketing.segments import update_segment

    view = update_segment(_actor(as_user), segment, name=name, spec=raw, description=description)
    emit_object(view.as_dict(), fmt, title=f"segment #{view.id}")


@segments_app.command("delete")
@translate_errors
def delete(
    segment: Annotated[str, typer.Argument(help="Segment name or id")],
    as_user: AsOption = None,
) -> None:
    """Delete a segment with its membership history."""
    _ready()
    from onefunnel.services.marketing.segments import delete_segment

    delete_segment(_actor(as_user), segment)
    console.print(f"deleted segment {segment}", highlight=False)


@segments_app.command("list")
@translate_errors
def list_(fmt: FormatOption = OutputFormat.table) -> None:
    """Every segment with its size at the last refresh."""
    _ready()
    from onefunnel.services.marketing.segments import list_segments

    rows = [s.as_dict() for s in list_segments()]
    emit_rows(rows, fmt, title="segments", columns=LIST_COLUMNS)


@segments_app.command("show")
@translate_errors
def show(
    segment: Annotated[str, typer.Argument(help="Segment name or id")],
    fmt: FormatOption = OutputFormat.json,
) -> None:
    """One segment with its spec."""
    _ready()
    from onefunnel.services.marketing.segments import get_segment

    view = get_segment(segment)
    emit_object(view.as_dict(), fmt, title=f"segment #{view.id}")


@segments_app.command("count")
@translate_errors
def count(
    segment: Annotated[str | None, typer.Argument(help="Segment name or id")] = None,
    spec: SpecOption = None,
    spec_file: SpecFileOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The live number of members of a segment, or of an unsaved --spec (a preview)."""
    raw = _spec(spec, spec_file, required=False)
    if (segment is None) == (raw is None):
        fail("segment: give a segment, or --spec / --spec-file for a preview")
    _ready()
    from onefunnel.services.marketing.segments import count_segment, count_spec

    if raw is not None:
        emit_object({"segment": None, "size": count_spec(raw)}, fmt, title="preview")
        return
    assert segment is not None
    c = count_segment(segment)
    emit_object({"segment": c.name, "subject": c.subject, "size": c.size, "at": c.at}, fmt,
                title=f"segment #{c.segment_id}")  # fmt: skip


@segments_app.command("members")
@translate_errors
def members(
    segment: Annotated[str, typer.Argument(help="Segment name or id")],
    offset: Annotated[int, typer.Option(help="Skip this many members")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many (1-1000)")] = 50,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """A page of the segment's members now (by id)."""
    _ready()
    from onefunnel.services.marketing.segments import member_page

    page = member_page(segment, offset=offset, limit=limit)
    rows = [{c: getattr(m, c) for c in MEMBER_COLUMNS} for m in page.members]
    end = page.offset + len(rows)
    emit_rows(rows, fmt, title=f"members {page.offset + 1}–{end} of {page.total}",
              columns=MEMBER_COLUMNS)  # fmt: skip


@segments_app.command("refresh")
@translate_errors
def refresh(
    segment: Annotated[
        str | None, typer.Argument(help="Segment name or id (all if omitted)")
    ] = None,
    as_user: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Record who entered and who left since the last refresh (the worker does it hourly)."""
    _ready()
    from onefunnel.models import Segment
    from onefunnel.services.marketing.segments import refresh_segment

    actor = _actor(as_user)
    refs: list[int | str] = (
        [segment] if segment is not None
        else list(Segment.objects.order_by("pk").values_list("pk", flat=True))
    )  # fmt: skip
    results = [refresh_segment(ref, actor=actor) for ref in refs]
    rows = [{"segment": r.name, "at": r.at, "size": r.size, "entered": r.entered, "left": r.left}
            for r in results]  # fmt: skip
    emit_rows(rows, fmt, title="refreshed", columns=["segment", "at", "size", "entered", "left"])


@segments_app.command("history")
@translate_errors
def history(
    segment: Annotated[str, typer.Argument(help="Segment name or id")],
    limit: Annotated[int, typer.Option(help="The latest this many refreshes")] = 500,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The segment's size after each refresh, with how many entered and left."""
    _ready()
    from onefunnel.services.marketing.segments import segment_history

    rows = [{"at": p.at, "size": p.size, "entered": p.entered, "left": p.left}
            for p in segment_history(segment, limit=limit)]  # fmt: skip
    emit_rows(rows, fmt, title=f"segment {segment}", columns=["at", "size", "entered", "left"])


@nurture_app.command("sweep")
@translate_errors
def sweep(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count who would go")] = False,
    as_user: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Send leads with no engagement for N days (ONEFUNNEL_COLD_AFTER_DAYS) to nurture, reason
    went_cold (the worker does this every pass)."""
    _ready()
    from onefunnel.services.marketing.going_cold import sweep as run_sweep

    result = run_sweep(actor=_actor(as_user), dry_run=dry_run)
    verb = "would go cold" if result.dry_run else "went cold"
    rows = [{"stage": stage, "after_days": days, verb.replace(" ", "_"):
             len(result.moved.get(stage, ()))} for stage, days in result.days.items()]  # fmt: skip
    emit_rows(rows, fmt, title=f"{result.total} {verb}")
