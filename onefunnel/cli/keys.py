"""``onefunnel keys create|list|revoke``: write keys for tracking and other scoped API keys."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, console, emit_object, emit_rows, err_console

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
    fmt: FormatOption = OutputFormat.table,
    as_user: AsOption = None,
) -> None:
    """Create a key and print it once: only its hash is stored."""
    setup_django()
    migrate()
    from onefunnel.services.keys import create_key

    created = create_key(scope, name, actor=_actor(as_user))
    if fmt is OutputFormat.table:
        console.print(created.secret, highlight=False, soft_wrap=True)
        err_console.print(
            f"key #{created.info.id} {created.info.name!r} ({created.info.scope}): "
            "store it now, it cannot be shown again"
        )
        return
    emit_object({"key": created.secret, **_row(created.info)}, fmt)


@keys_app.command("list")
@translate_errors
def list_(
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The keys (never their secrets): id, name, scope, prefix, when created and last used."""
    setup_django()
    migrate()
    from onefunnel.services.keys import list_keys

    rows = [_row(k) for k in list_keys(include_revoked=revoked)]
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

    emit_object(_row(revoke_key(key_id, actor=_actor(as_user))), fmt, title="revoked")


_COLUMNS = ("id", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")


def _row(info: object) -> dict[str, object]:
    return {column: getattr(info, column) for column in _COLUMNS}


def _actor(username: str | None) -> Any:
    """``--as`` a user (their roles apply), or the operator (the system, an admin)."""
    from onefunnel.services.access import SYSTEM, actor_by_username

    return actor_by_username(username) if username else SYSTEM
