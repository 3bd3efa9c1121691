"""Planner statistics after a bulk load: PostgreSQL's ANALYZE, nothing elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from onefunnel.models import Campaign, Contact
from onefunnel.services.imports import ContactSource, import_contacts
from onefunnel.services.planner import refresh_statistics

pytestmark = pytest.mark.django_db


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's statistics (SQLite has none to refresh)"
)


def _planned_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        return float(cursor.fetchone()[0])


@needs_postgresql
def test_the_loaded_tables_row_counts_reach_the_planner_at_once() -> None:
    Campaign.objects.bulk_create(
        [Campaign(name=f"c{n}", utm_campaign=f"c{n}", channel="email") for n in range(3)]
    )
    refresh_statistics(Campaign)
    assert _planned_rows(Campaign._meta.db_table) == 3


@needs_postgresql
def test_a_contacts_import_refreshes_them_when_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("email,first_name\n" + "".join(f"p{n}@x.example,P\n" for n in range(5)))
    import_contacts(path, ContactSource.GENERIC)
    assert _planned_rows(Contact._meta.db_table) == 5
