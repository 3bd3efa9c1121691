"""Planner statistics after a bulk load: PostgreSQL's ANALYZE, nothing elsewhere."""

from __future__ import annotations

import pytest
from django.db import connection

from onefunnel.models import Campaign
from onefunnel.services.planner import refresh_statistics

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's statistics (SQLite has none to refresh)"
)
def test_the_loaded_tables_row_counts_reach_the_planner_at_once() -> None:
    Campaign.objects.bulk_create(
        [Campaign(name=f"c{n}", utm_campaign=f"c{n}", channel="email") for n in range(3)]
    )
    refresh_statistics(Campaign)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE relname = %s", [Campaign._meta.db_table]
        )
        assert cursor.fetchone()[0] == 3
