"""The ``onefunnel`` command. Thin: each command parses its options, calls a service and prints.

Django is set up lazily, so commands that need no database (``attribution``) start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from onefunnel.cli.output import ExitCode, fail

app = typer.Typer(
    name="onefunnel",
    help="One funnel for marketing and sales: the shared record, its numbers, and its server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

P = ParamSpec("P")
R = TypeVar("R")


def setup_django() -> None:
    """Load settings and apps once (idempotent); every database command calls this first."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onefunnel.settings")
    django.setup()


def migrate(*, verbosity: int = 0) -> None:
    """Bring the configured database's schema up to date (safe to repeat)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


def translate_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can cause into one line on stderr and a non-zero exit."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from django.db import DatabaseError

        from onefunnel.domain.access import AccessDeniedError
        from onefunnel.domain.deals import DealError
        from onefunnel.domain.handoffs import HandoffError
        from onefunnel.domain.stages import IllegalTransitionError
        from onefunnel.services.errors import InputError, NotFoundError

        try:
            return func(*args, **kwargs)
        except AccessDeniedError as exc:
            fail(str(exc), code=ExitCode.ACCESS_DENIED)
        except (DealError, HandoffError, IllegalTransitionError) as exc:
            # The rules refuse the change in the record's present state (closed, decided …).
            fail(str(exc), code=ExitCode.CONFLICT)
        except NotFoundError as exc:
            fail(str(exc), code=ExitCode.NOT_FOUND)
        except (InputError, ValueError, OverflowError) as exc:
            fail(str(exc), code=ExitCode.BAD_INPUT)
        except DatabaseError as exc:
            fail(f"database: {exc}".splitlines()[0], code=ExitCode.DATABASE)

    return wrapper


def main() -> None:
    """Console-script entry point."""
    # Importing a command module registers its commands on `app`.
    from onefunnel.cli import (  # noqa: F401
        accounts,
        attribution,
        audit,
        backup,
        commands,
        forms,
        imports,
        intent,
        keys,
        ltv,
        plan,
        reports,
        sales,
        segments,
        sequences,
    )

    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
