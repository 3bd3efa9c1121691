"""What an import reads and reports: normalised contact records, row errors, the final report."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from onefunnel.domain.crm_mapping import StageStep


class RowError(Exception):
    """A row that cannot be imported: its number (the header is row 1), the column, and why."""

    def __init__(self, row: int, column: str, message: str) -> None:
        self.row = row
        self.column = column
        self.message = message
        super().__init__(f"row {row}: {column}: {message}")

    def __reduce__(self) -> tuple[type[RowError], tuple[int, str, str]]:
        # Rows are parsed in another process: errors cross it by pickling.
        return (RowError, (self.row, self.column, self.message))

    def as_dict(self) -> dict[str, Any]:
        """Plain form for reports."""
        return {"row": self.row, "column": self.column, "error": self.message}


class ContactRecord(NamedTuple):
    """One contact row, normalised: matched on ``email``; empty values are left out of ``fields``.

    ``company``/``domain`` name the account (``domain`` wins when both are known); ``path`` is
    the stage path the source system vouches for, replayed through the funnel's rules.
    ``account_fields`` (industry, size) are used only when the import creates the account.

    A named tuple rather than a frozen dataclass: a tuple is cheaper to build, and nothing
    mutates one after it is made.
    """

    row: int
    email: str
    fields: dict[str, str]
    account_fields: dict[str, Any]
    properties: dict[str, Any]
    company: str = ""
    domain: str | None = None
    created_at: datetime | None = None
    path: tuple[StageStep, ...] = ()
    source_id: str = ""


class StagedContact(NamedTuple):
    """A good row made ready for the writer: plain values only (text, numbers, the database's
    form of times), so that it crosses from the reading process to the writing one cheaply.

    Person fields are '' when the row leaves them empty (an empty cell never erases).
    ``stage``, ``created`` and ``changes`` are the contact as new: its cached stage, creation
    time and stage path replayed from no stage. A contact already stored replays ``path``
    ((stage, time or None, reason)) from its own stage instead, with ``created`` as the time of
    steps that carry none. Times are in database form (``bulk.datetime_adapter``);
    ``properties`` is JSON text.
    """

    row: int
    email: str
    first_name: str
    last_name: str
    title: str
    phone: str
    country: str
    company: str
    domain: str | None
    industry: str
    employee_count: int | None
    stage: str | None
    properties: str
    created: Any
    changes: tuple[tuple[str | None, str, Any, str | None], ...]
    source_id: str
    path: tuple[tuple[str, Any, str | None], ...]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of an import. ``read`` = created + updated + unchanged + skipped.

    ``rejects`` holds the first rejected rows (all of them are in the rejects file);
    ``rejects_path`` is None when nothing was rejected.
    """

    source: str
    dry_run: bool
    read: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    accounts_created: int
    stage_changes: int
    rejects: tuple[RowError, ...]
    rejects_path: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output (rejects as row/column/error records)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["rejects"] = [r.as_dict() for r in self.rejects]
        return data
