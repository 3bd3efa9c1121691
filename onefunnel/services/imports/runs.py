"""What every file import does around its own reading and writing: rejects file and dry run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from django.db import transaction

from onefunnel.services.imports.csvfile import Rejects, default_rejects_path


@contextmanager
def import_run(
    file: Path, header: Sequence[str], *, dry_run: bool, rejects_path: str | Path | None
) -> Iterator[Rejects]:
    """The rejects file of an import of ``file`` (``rejects_path``, default ``NAME.rejects.csv``
    beside it), open while the import runs.

    With ``dry_run`` the import's writes happen in a transaction rolled back at the end: the
    very same code runs, so its report is what the real import would say.
    """
    target = Path(rejects_path) if rejects_path else default_rejects_path(file)
    with Rejects(target, header) as rejects:
        if not dry_run:
            yield rejects
            return
        with transaction.atomic():
            yield rejects
            transaction.set_rollback(True)
