"""``onefunnel keys create|list|revoke``: write keys for tracking and other scoped API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, console, emit_object, emit_rows, err_console

if TYPE_CHECKING:
    from onefunnel.services.keys import KeyInfo

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act as this user (username), named in the audit log"),
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False)
]


@keys_app.command("create")
@translate_errors
def create(
    scope: Annotated[str, typer.Option(help="What the key may do, e.g. tracking:write")],
    name: Annotated[str, typer.Option(help="A label to recognise the key by")] = "",
    origin: Annotated[
        list[str] | None,
        typer.Option(
            help="A web origin whose pages may send with this key, e.g. "
            "https://www.example.com (repeatable): makes it a browser key, tracking:write only"
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    as_user: AsOption = None,
) -> None:
    """Create a key and print it once: only its hash is stored."""
    setup_django()
    migrate()
    from onefunnel.services.keys import create_key

    created = create_key(scope, name, origin or (), actor=_actor(as_user))
    if fmt is OutputFormat.table:
        console.print(created.secret, highlight=False, soft_wrap=True)
        err_console.print(
            f"key #{created.info.id} {created.info.name!r} ({created.info.scope}): "
            "store it now, it cannot be shown again"
        )
        return
    emit_object({"key": created.secret, **_row(created.info, fmt)}, fmt)


@keys_app.command("list")
@translate_errors
def list_(
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The keys (never their secrets): id, name, scope, prefix, origins, when created and last
    used, and the requests refused for their origin (how many, the last origin, when)."""
    setup_django()
    migrate()
    from onefunnel.services.keys import list_keys

    rows = [_row(k, fmt) for k in list_keys(include_revoked=revoked)]
    emit_rows(rows, fmt, title="API keys", columns=list(_COLUMNS))


@keys_app.command("revoke")
@translate_errors
def revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `onefunnel keys list`)")],
    fmt: FormatOption = OutputFormat.table,
    as_user: AsOption = None,
) -> None:
    """Revoke a key: requests with it are refused from now on."""
    setup_django()
    migrate()
    from onefunnel.services.keys import revoke_key

    emit_object(_row(revoke_key(key_id, actor=_actor(as_user)), fmt), fmt, title="revoked")


_COLUMNS = (
    "id",
    "name",
    "scope",
    "prefix",
    "origins",
    "created_at",
    "last_used_at",
    "revoked_at",
    "refused_count",
    "last_refused_origin",
    "last_refused_at",
)


def _row(info: KeyInfo, fmt: OutputFormat = OutputFormat.json) -> dict[str, object]:
    row = {column: getattr(info, column) for column in _COLUMNS}
    origins = info.origins
    # JSON keeps the list; a table or CSV cell shows it space-separated.
    row["origins"] = list(origins) if fmt is OutputFormat.json else " ".join(origins)
    return row


def _actor(username: str | None) -> Any:
    """``--as`` a user (their roles apply), or the operator (the system, an admin)."""
    from onefunnel.services.access import SYSTEM, actor_by_username

    return actor_by_username(username) if username else SYSTEM
