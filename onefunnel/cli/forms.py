"""Capture forms from the command line: create, list and show them, and export a form's consent
records. Every command parses its options, calls ``services/marketing/forms.py`` and prints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, emit_object, emit_rows

if TYPE_CHECKING:
    from onefunnel.domain.access import Actor

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False)
]
AsOption = Annotated[str | None, typer.Option("--as", help="Act as this user (username)")]

forms_app = typer.Typer(help="Capture forms: hosted page /f/<slug>, embed snippet, JSON endpoint.")
consent_app = typer.Typer(help="The consent each submitter agreed to.")
app.add_typer(forms_app, name="forms")
forms_app.add_typer(consent_app, name="consent")

LIST_COLUMNS = ("id", "slug", "name", "hand_raise", "campaign", "active", "submissions")


def _ready() -> None:
    setup_django()
    migrate()


def _actor(username: str | None) -> Actor:
    from onefunnel.services.access import SYSTEM, actor_by_username

    return actor_by_username(username) if username else SYSTEM


def parse_field(spec: str) -> dict[str, Any]:
    """``name[:label[:type[:required]]]`` → a field (``email:Work email:email:required``)."""
    parts = spec.split(":")
    if len(parts) > 4 or not parts[0]:
        raise ValueError(f"field: {spec!r} is not name[:label[:type[:required]]]")
    flag = parts[3].strip().lower() if len(parts) > 3 else ""
    if flag not in ("", "required", "optional"):
        raise ValueError(f"field: {spec!r}: the fourth part is 'required' or 'optional'")
    field: dict[str, Any] = {"name": parts[0].strip(), "required": flag == "required"}
    if len(parts) > 1 and parts[1].strip():
        field["label"] = parts[1].strip()
    if len(parts) > 2 and parts[2].strip():
        field["type"] = parts[2].strip()
    return field


def _emit(view: Any, fmt: OutputFormat) -> None:
    """A form: JSON as the API gives it; a table or CSV with its fields in one line."""
    data = view.as_dict() if fmt is OutputFormat.json else _shown(view)
    emit_object(data, fmt, title=f"form {view.slug}")


def _shown(view: Any) -> dict[str, Any]:
    data: dict[str, Any] = view.as_dict()
    data["fields"] = ", ".join(
        f"{f.name} ({f.type.value}{', required' if f.required else ''})" for f in view.fields
    )
    data["allowed_origins"] = ", ".join(view.allowed_origins)
    return data


@forms_app.command("create")
@translate_errors
def forms_create(
    name: Annotated[str, typer.Option(help="The form's title")],
    slug: Annotated[str, typer.Option(help="Its address: /f/<slug>")],
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            help="name[:label[:type[:required]]], repeatable; type text, email, tel, textarea or"
            " checkbox. 'email' is added (required) when not given.",
        ),
    ] = None,
    consent_text: Annotated[str, typer.Option(help="Consent shown beside a required box")] = "",
    hand_raise: Annotated[
        bool, typer.Option("--hand-raise", help="A submission moves the contact to intent")
    ] = False,
    campaign: Annotated[str | None, typer.Option(help="A campaign's UTM key")] = None,
    thank_you: Annotated[str | None, typer.Option(help="Shown after submitting")] = None,
    redirect_url: Annotated[str, typer.Option(help="Or send the visitor here")] = "",
    origin: Annotated[
        list[str] | None,
        typer.Option("--origin", help="A site that may embed the form (CORS), repeatable"),
    ] = None,
    as_user: AsOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a form (marketing's: acts as --as, or as the system)."""
    _ready()
    from onefunnel.services.marketing.forms import create_form

    fields = [parse_field(spec) for spec in field or []]
    if not any(f["name"] == "email" for f in fields):
        fields.insert(0, {"name": "email", "label": "Email", "type": "email", "required": True})
    values: dict[str, Any] = {
        "name": name, "slug": slug, "fields": fields, "consent_text": consent_text,
        "hand_raise": hand_raise, "campaign": campaign, "thank_you": thank_you,
        "redirect_url": redirect_url, "allowed_origins": list(origin or []),
    }  # fmt: skip
    _emit(create_form(_actor(as_user), values), fmt)


@forms_app.command("list")
@translate_errors
def forms_list(fmt: FormatOption = OutputFormat.table) -> None:
    """Every form with its number of submissions."""
    _ready()
    from onefunnel.services.marketing.forms import list_forms

    rows = [v.as_dict() for v in list_forms()]
    emit_rows(rows, fmt, title="forms", columns=LIST_COLUMNS)


@forms_app.command("show")
@translate_errors
def forms_show(
    slug: Annotated[str, typer.Argument(help="The form's slug")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """One form: its fields, consent text and version, hand-raise flag, campaign, origins."""
    _ready()
    from onefunnel.services.marketing.forms import get_form

    _emit(get_form(slug), fmt)


@consent_app.command("export")
@translate_errors
def consent_export(
    slug: Annotated[str, typer.Argument(help="The form's slug")],
    as_user: AsOption = None,
    fmt: FormatOption = OutputFormat.csv,
) -> None:
    """The form's consent records, oldest first: text agreed and its version, when, IP,
    browser, page (CSV by default, formula-safe)."""
    _ready()
    from onefunnel.services.marketing.forms import CONSENT_COLUMNS, consent_records

    rows = [r.as_dict() for r in consent_records(_actor(as_user), slug)]
    if fmt is OutputFormat.csv:
        for row in rows:
            row["submitted_at"] = row["submitted_at"].isoformat()
    emit_rows(rows, fmt, title=f"consent: {slug}", columns=CONSENT_COLUMNS)
