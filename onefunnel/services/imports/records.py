"""What an import reads and reports: normalised contact records, row errors, the final report."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from onefunnel.domain.crm_mapping import StageStep


class RowError(Exception):
    """A row that cannot be imported: its number (the header is row 1), the column, and why."""

    def __init__(self, row: int, column: str, message: str) -> None:
        self.row = row
        self.column = column
        self.message = message
        super().__init__(f"row {row}: {column}: {message}")

    def as_dict(self) -> dict[str, Any]:
        """Plain form for reports."""
        return {"row": self.row, "column": self.column, "error": self.message}


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """One contact row, normalised: matched on ``email``; empty values are left out of ``fields``.

    ``company``/``domain`` name the account (``domain`` wins when both are known); ``path`` is
    the stage path the source system vouches for, replayed through the funnel's rules.
    ``account_fields`` (industry, size) are used only when the import creates the account.
    """

    row: int
    email: str
    fields: dict[str, str]
    company: str = ""
    domain: str | None = None
    account_fields: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    path: tuple[StageStep, ...] = ()
    properties: dict[str, Any] = field(default_factory=dict)
    source_id: str = ""


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
