"""Import contacts from a CRM export: stream the file, write it in chunks, report every row.

Choice of failure model: **every good row is written, every bad row is reported** (with its
row number, column and reason, in the report and in a rejects CSV that holds the row as it was).
A file of 100,000 contacts with three typos should not be refused whole; fixing the three rows
and importing the rejects file (or the whole file again) finishes the job.

How, in constant memory and set-based, per chunk of ``chunk_rows`` rows in one transaction:
a second process reads and normalises each row (a ContactRecord or a RowError) and stages it
for the writer as plain values, with its form as a new contact, path replayed by the funnel's
rules (``pipeline``); this process looks the chunk's emails and domains up in one query per
thousand keys, bulk-creates new accounts and contacts, bulk-updates changed contacts, and
writes new contacts' stage paths as one bulk insert of stage changes. Contacts already stored move through
``apply_stage_change``, so its clamping and locking apply (tests check that both ways record
the same history). Should the database still refuse a chunk, the chunk is retried one row per
transaction, so the one bad row is rejected and the others are written; such rows are read
again from the file at the end for the rejects CSV.

Idempotent: a contact is matched on its email; empty cells never erase what is known; accounts
are only created, never renamed by a contact row; stage paths only move contacts forward under
the funnel's rules. Importing the same file again therefore creates nothing and updates
nothing. A later row with an email met earlier in the file is rejected as a duplicate.

``dry_run`` runs the very same code inside a transaction that is rolled back, so its report
(counts and rejects) is what the real import would say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from onefunnel.domain.crm_mapping import PlannedMove, StageStep, replay
from onefunnel.domain.stages import Cause, Stage, StageReason
from onefunnel.models import Account, Contact, StageChange
from onefunnel.services.imports.bulk import (
    adapted_datetime,
    datetime_adapter,
    insert_rows,
    json_adapter,
    json_text_adapter,
    json_value,
    select_in,
    tuned_for_bulk,
)
from onefunnel.services.imports.csvfile import CsvRows, Progress, Rejects, rows_numbered
from onefunnel.services.imports.pipeline import parsed_chunks, worth_a_process
from onefunnel.services.imports.records import ImportReport, RowError, StagedContact
from onefunnel.services.imports.runs import import_run
from onefunnel.services.imports.seen import SeenKeys
from onefunnel.services.imports.sources import ContactSource, reader_for
from onefunnel.services.planner import refresh_statistics
from onefunnel.services.stages import apply_stage_change

# Rows a transaction: each commit rewrites every index page the chunk dirtied (the email and
# time indexes take rows at random places), so bigger chunks write each page for more rows.
# 25,000 rows took the writer of a 1,000,000-row file from 97 s of CPU to 72 s (10,000); memory
# is bounded by the chunk, not the file.
CHUNK_ROWS = 25000
_UPDATED_FIELDS = ["first_name", "last_name", "title", "phone", "country", "account",
                   "properties", "updated_at"]  # fmt: skip


@dataclass(slots=True)
class _Tally:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    accounts_created: int = 0
    stage_changes: int = 0
    rejected: list[RowError] = field(default_factory=list)

    def add(self, other: _Tally) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.accounts_created += other.accounts_created
        self.stage_changes += other.stage_changes
        self.rejected.extend(other.rejected)


def import_contacts(
    path: str | Path,
    source: ContactSource,
    *,
    dry_run: bool = False,
    rejects_path: str | Path | None = None,
    progress: Progress | None = None,
    tz: tzinfo = UTC,
    chunk_rows: int = CHUNK_ROWS,
    parallel: bool | None = None,
) -> ImportReport:
    """Import a contacts CSV exported from ``source``; see the module docstring for the rules.

    ``tz`` is the time zone of times written without an offset (HubSpot writes the portal's).
    Rejected rows go to ``rejects_path`` (default: ``NAME.rejects.csv`` beside the file).
    Raises InputError, before writing anything, when the file cannot be read or its header lacks
    a required column. ``parallel`` reads the file in a second process (see ``pipeline``);
    ``None`` decides by the CPUs this process may use. The outcome is the same either way.
    """
    file = Path(path)
    with CsvRows(file) as rows:
        # Checked here, before anything is written: a header without its required columns.
        email_column = reader_for(source, rows.header, tz).columns.label("email")
        header, total_bytes = rows.header, rows.total_bytes
    tally = _Tally()
    with import_run(file, header, dry_run=dry_run, rejects_path=rejects_path) as rejects:
        _run(
            file, source, tz, rejects, tally, email_column, progress, chunk_rows, total_bytes,
            parallel,
        )  # fmt: skip
    if not dry_run:
        # On PostgreSQL: plans for the next reports from the tables as they now are.
        refresh_statistics(Contact, Account, StageChange)
    return ImportReport(
        source=source.value,
        dry_run=dry_run,
        read=tally.read,
        created=tally.created,
        updated=tally.updated,
        unchanged=tally.unchanged,
        skipped=rejects.count,
        accounts_created=tally.accounts_created,
        stage_changes=tally.stage_changes,
        rejects=rejects.first(),
        rejects_path=rejects.written_to,
    )


def _run(
    file: Path,
    source: ContactSource,
    tz: tzinfo,
    rejects: Rejects,
    tally: _Tally,
    email_column: str,
    progress: Progress | None,
    chunk_rows: int,
    total_bytes: int,
    parallel: bool | None,
) -> None:
    refused: dict[int, RowError] = {}
    with SeenKeys("emails") as seen, tuned_for_bulk():
        started = timezone.now()
        in_process = not (worth_a_process() if parallel is None else parallel)
        chunks = parsed_chunks(file, source, tz, chunk_rows, started, in_process=in_process)
        for chunk in chunks:
            tally.read += chunk.rows_read
            for error, values in chunk.rejected:
                rejects.add(error, values)
            outcome = _write_safely(chunk.parsed, seen, email_column)
            tally.add(outcome)
            # The writer never holds the rows' raw values (they stay in the producer); the few
            # rows the database refused are read again from the file once it is done.
            refused.update((error.row, error) for error in outcome.rejected)
            tally.rejected.clear()
            if progress is not None:
                progress(tally.read, chunk.bytes_read, total_bytes)
    if refused:
        for row, values in rows_numbered(file, refused):
            rejects.add(refused.pop(row), values)
        for error in refused.values():
            rejects.add(error, [])


def _write_safely(records: list[StagedContact], seen: SeenKeys, email_column: str) -> _Tally:
    """Write a chunk in one transaction; if the database refuses it, one row at a time."""
    if not records:
        return _Tally()
    try:
        with transaction.atomic():
            return _write_chunk(records, seen, email_column)
    except DatabaseError:
        pass
    outcome = _Tally()
    for record in records:
        try:
            with transaction.atomic():
                outcome.add(_write_chunk([record], seen, email_column))
        except DatabaseError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            outcome.rejected.append(RowError(record.row, "(row)", f"not stored: {reason}"))
    return outcome


def _unique(
    records: list[StagedContact], seen: SeenKeys, email_column: str
) -> tuple[list[StagedContact], list[RowError]]:
    """The chunk's first row per email, and the later ones as duplicates (first row wins)."""
    first: dict[str, int] = {}
    errors: list[RowError] = []
    earlier = seen.first_rows({r.email for r in records})
    kept: list[StagedContact] = []
    for record in records:
        row = earlier.get(record.email) or first.get(record.email)
        if row is not None:
            errors.append(
                RowError(record.row, email_column, f"duplicate of row {row} ({record.email})")
            )
            continue
        first[record.email] = record.row
        kept.append(record)
    seen.add(first)
    return kept, errors


def _write_chunk(records: list[StagedContact], seen: SeenKeys, email_column: str) -> _Tally:
    now = timezone.now()
    outcome = _Tally()
    records, outcome.rejected = _unique(records, seen, email_column)
    accounts, outcome.accounts_created = _resolve_accounts(records, now)
    emails = [r.email for r in records]
    found_rows = select_in(Contact, ("id", "email", *_COMPARED), "email", emails, for_update=True)
    existing = {row[1]: row for row in found_rows}
    new: list[tuple[StagedContact, int | None]] = []
    changed: list[Contact] = []
    moving: list[tuple[int, StagedContact, list[PlannedMove]]] = []
    for record in records:
        key = _account_key(record)
        account_id = accounts.get(key) if key else None
        found = existing.get(record.email)
        if found is None:
            new.append((record, account_id))
            continue
        stage = found[-2]
        current = Stage(stage) if stage else None
        default_at = adapted_datetime(record.created)
        moves = replay(current, _path(record), last_at=None, default_at=default_at)
        update = _changes(found, record, account_id)
        if update is not None:
            changed.append(Contact(id=found[0], updated_at=now, **update))
        if moves:
            moving.append((found[0], record, moves))
        if update is not None or moves:
            outcome.updated += 1
        else:
            outcome.unchanged += 1
    outcome.created = len(new)
    outcome.stage_changes = _insert_new(new, now)
    if changed:
        Contact.objects.bulk_update(changed, _UPDATED_FIELDS)
    for contact_id, record, moves in moving:
        contact = Contact.objects.select_for_update().get(pk=contact_id)
        for move in moves:
            apply_stage_change(
                contact,
                move.to_stage,
                cause=Cause.IMPORT,
                cause_id=record.source_id,
                at=move.at,
                reason=move.reason,
            )
            outcome.stage_changes += 1
    return outcome


_PERSON = ("first_name", "last_name", "title", "phone", "country")
_COMPARED = ("first_name", "last_name", "title", "phone", "country", "account_id", "stage",
             "properties")  # fmt: skip
_NEW_CONTACT = ("email", "first_name", "last_name", "title", "phone", "country", "account",
                "stage", "properties", "created_at", "updated_at")  # fmt: skip
_NEW_CHANGE = ("contact", "from_stage", "to_stage", "at", "recorded_at", "cause", "cause_id",
               "reason", "note")  # fmt: skip


def _path(record: StagedContact) -> list[StageStep]:
    """The row's stage path as the funnel's rules read it (a stored contact replays it)."""
    return [
        StageStep(Stage(stage), adapted_datetime(at) if at is not None else None,
                  StageReason(reason) if reason else None)
        for stage, at, reason in record.path
    ]  # fmt: skip


def _insert_new(new: list[tuple[StagedContact, int | None]], now: datetime) -> int:
    """Insert new contacts and their replayed stage paths (staged by the reader, see
    ``pipeline.staged``); returns the stage changes written."""
    if not new:
        return 0
    now_db = datetime_adapter()(now)
    properties = json_text_adapter(Contact, "properties")
    rows = [
        (r.email, r.first_name, r.last_name, r.title, r.phone, r.country, account_id, r.stage,
         properties(r.properties), r.created, now_db)
        for r, account_id in new
    ]  # fmt: skip
    insert_rows(Contact, _NEW_CONTACT, rows)
    ids = dict(select_in(Contact, ("email", "id"), "email", [r.email for r, _ in new]))
    cause = Cause.IMPORT.value
    changes = [
        (ids[record.email], from_stage, to_stage, at, now_db, cause, record.source_id, reason,
         "")
        for record, _ in new
        for from_stage, to_stage, at, reason in record.changes
    ]  # fmt: skip
    insert_rows(StageChange, _NEW_CHANGE, changes)
    return len(changes)


def _account_key(record: StagedContact) -> str | None:
    if record.domain:
        return f"d:{record.domain}"
    if record.company:
        return f"n:{record.company}"
    return None


def _resolve_accounts(
    records: Sequence[StagedContact], now: datetime
) -> tuple[dict[str, int], int]:
    """Account ids by key (domain, else company name among accounts without a domain); the
    missing ones are created from the first row naming them."""
    domains = sorted({r.domain for r in records if r.domain})
    names = sorted({r.company for r in records if not r.domain and r.company})
    ids: dict[str, int] = {}
    _find_accounts(domains, names, ids)
    planned: dict[str, StagedContact] = {}
    for record in records:
        key = _account_key(record)
        if key is not None and key not in ids and key not in planned:
            planned[key] = record
    if planned:
        stamp, props = datetime_adapter(), json_adapter(Account, "properties")
        at, no_properties = stamp(now), props({})
        insert_rows(
            Account,
            ("name", "domain", "industry", "employee_count", "country", "region", "properties",
             "created_at", "updated_at"),
            [
                (r.company or r.domain, r.domain, r.industry, r.employee_count, "", "",
                 no_properties, at, at)
                for r in planned.values()
            ],
        )  # fmt: skip
        _find_accounts(
            [k[2:] for k in planned if k.startswith("d:")],
            [k[2:] for k in planned if k.startswith("n:")],
            ids,
        )
    return ids, len(planned)


def _find_accounts(domains: list[str], names: list[str], ids: dict[str, int]) -> None:
    """Add the ids of the accounts with these domains (``d:`` keys) and of the oldest account
    without a domain bearing each name (``n:`` keys)."""
    for domain, pk in select_in(Account, ("domain", "id"), "domain", domains):
        ids[f"d:{domain}"] = pk
    named = select_in(Account, ("name", "id"), "name", names, where="domain IS NULL")
    for name, pk in sorted(named, key=lambda row: row[1]):
        ids.setdefault(f"n:{name}", pk)


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Properties after a row: per-source sections merged, the first source channel kept."""
    merged = dict(old)
    for key, value in new.items():
        if key == "source_channel":
            merged.setdefault(key, value)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _changes(
    found: tuple[Any, ...], record: StagedContact, account_id: int | None
) -> dict[str, Any] | None:
    """The updated field values of a stored contact (id, email, *_COMPARED, properties as read),
    or None when the row changes nothing. Empty cells never erase what is known.

    When the stored properties are the row's own JSON text, merging changes nothing, and a
    re-import skips decoding a million JSON documents.
    """
    _, _, first_name, last_name, title, phone, country, old_account, _, raw = found
    stored = {"first_name": first_name, "last_name": last_name, "title": title, "phone": phone,
              "country": country}  # fmt: skip
    values: dict[str, Any] = {**stored, "account_id": old_account}
    changed = False
    for name in _PERSON:
        value = getattr(record, name)
        if value and stored[name] != value:
            values[name] = value
            changed = True
    if account_id is not None and old_account != account_id:
        values["account_id"] = account_id
        changed = True
    if isinstance(raw, str) and raw == record.properties:
        # The stored text is the row's own: merging it changes nothing.
        if not changed:
            return None
        values["properties"] = json_value(raw)
        return values
    properties = values["properties"] = json_value(raw)
    merged = _merge(properties, json_value(record.properties))
    if merged != properties:
        values["properties"] = merged
        changed = True
    return values if changed else None
