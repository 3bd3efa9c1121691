"""The set-based contacts import against the per-row rules it stands in for.

New contacts get their stage paths as one bulk insert, replayed in the reading process; existing
contacts move through ``apply_stage_change`` one move at a time. Both must record the very same
history, and the outcome must not depend on chunk size or on whether the file is read in a
second process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from onefunnel.models import Account, Contact, StageChange
from onefunnel.services.imports import ContactSource, import_contacts, pipeline
from onefunnel.services.imports.bulk import (
    SQLITE_CACHE_KIB,
    SQLITE_CHECKPOINT_PAGES,
    datetime_adapter,
    tuned_for_bulk,
)
from tests.conftest import T0

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CASES = [
    ("hubspot_contacts.csv", ContactSource.HUBSPOT),
    ("hubspot_contacts_api.csv", ContactSource.HUBSPOT),
    ("salesforce_leads.csv", ContactSource.SALESFORCE),
    ("generic_contacts.csv", ContactSource.GENERIC),
]


def _histories() -> dict[str | None, list[tuple[Any, ...]]]:
    out: dict[str | None, list[tuple[Any, ...]]] = {}
    changes = StageChange.objects.order_by("id").values_list(
        "contact__email", "from_stage", "to_stage", "at", "cause", "cause_id", "reason", "note"
    )
    for email, *change in changes:
        out.setdefault(email, []).append(tuple(change))
    return out


def _contacts() -> list[tuple[Any, ...]]:
    return list(
        Contact.objects.order_by("email").values_list(
            "email", "first_name", "last_name", "title", "phone", "country", "stage",
            "properties", "account__name", "account__domain",
        )
    )  # fmt: skip


def _wipe() -> None:
    StageChange.objects.all().delete()
    Contact.objects.all().delete()
    Account.objects.all().delete()


def _import(tmp_path: Path, name: str, source: ContactSource, **kw: Any) -> dict[str, Any]:
    report = import_contacts(FIXTURES / name, source, rejects_path=tmp_path / "r.csv", **kw)
    return {k: v for k, v in report.as_dict().items() if k != "rejects_path"}


@pytest.mark.parametrize(("name", "source"), CASES)
def test_bulk_new_contacts_get_the_history_apply_stage_change_records(
    tmp_path: Path, name: str, source: ContactSource
) -> None:
    _import(tmp_path, name, source)
    bulk = _histories()
    emails = list(Contact.objects.values_list("email", flat=True))
    assert bulk, "the fixture writes stage changes"
    _wipe()
    # The same people, known but without a stage: now every move goes through the per-row path.
    for email in emails:
        Contact.objects.create(email=email, created_at=T0)
    report = import_contacts(
        FIXTURES / name, source, rejects_path=tmp_path / "r.csv", chunk_rows=1, parallel=False
    )
    assert report.created == 0
    assert _histories() == bulk


@pytest.mark.parametrize(("name", "source"), CASES)
def test_outcome_does_not_depend_on_chunks_or_the_reading_process(
    tmp_path: Path, name: str, source: ContactSource
) -> None:
    outcomes = []
    for kw in ({}, {"chunk_rows": 1, "parallel": False}, {"chunk_rows": 3, "parallel": True}):
        report = _import(tmp_path, name, source, **kw)
        outcomes.append((report, _contacts(), _histories(), (tmp_path / "r.csv").read_bytes()))
        _wipe()
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_sqlite_datetimes_are_written_as_django_writes_them() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's text form of datetimes")
    ours = datetime_adapter()
    plus_two = timezone(timedelta(hours=2))
    for value in (
        datetime(2024, 3, 15, 14, 30, tzinfo=UTC),
        datetime(2024, 3, 15, 14, 30, 5, 120, tzinfo=UTC),
        datetime(2024, 3, 15, 1, 0, tzinfo=plus_two),
        None,
    ):
        assert ours(value) == connection.ops.adapt_datetimefield_value(value)


def _dies(*args: Any) -> None:
    os._exit(3)


def _fails(*args: Any) -> Iterator[Any]:
    raise ValueError("disk on fire")
    yield


def test_a_reading_process_that_dies_or_fails_is_an_error_not_a_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, started = FIXTURES / "generic_contacts.csv", datetime.now(UTC)
    monkeypatch.setattr(pipeline, "_produce", _dies)
    with pytest.raises(RuntimeError, match=r"exited \(3\)"):
        list(pipeline.parsed_chunks(path, ContactSource.GENERIC, UTC, 10, started))
    monkeypatch.undo()
    monkeypatch.setattr(pipeline, "parse_chunks", _fails)
    with pytest.raises(RuntimeError, match="ValueError: disk on fire"):
        list(pipeline.parsed_chunks(path, ContactSource.GENERIC, UTC, 10, started))


def test_sqlite_tuning_lasts_for_the_import_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's page cache and WAL checkpoints")

    def pragmas() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size")
            (cache,) = cursor.fetchone()
            cursor.execute("PRAGMA wal_autocheckpoint")
            (checkpoint,) = cursor.fetchone()
        return cache, checkpoint

    before = pragmas()
    with tuned_for_bulk():
        assert pragmas() == (-SQLITE_CACHE_KIB, SQLITE_CHECKPOINT_PAGES)
    assert pragmas() == before != (-SQLITE_CACHE_KIB, SQLITE_CHECKPOINT_PAGES)
