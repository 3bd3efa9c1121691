"""Migration 0013_sales on an installation with deals: the default pipeline gets every stage,
the 0002 stages take the default probabilities, and every deal gets the history it would have
had (so replaying it gives the deal)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("onefunnel", "0012_numbers")]
AFTER = [("onefunnel", "0013_sales")]
SEEDED_0002 = [
    ("Qualification", 10, 10),
    ("Discovery", 20, 20),
    ("Demo", 30, 40),
    ("Proposal", 40, 60),
    ("Negotiation", 50, 80),
]


@pytest.fixture(autouse=True)
def _latest_schema_after() -> Iterator[None]:
    """Leave the database at the newest migration: later tests need every table (stopping at
    0013 would drop those of the migrations after it)."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_deals_and_stages_move_into_the_default_pipeline() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    accounts = old.get_model("onefunnel", "Account").objects
    deals = old.get_model("onefunnel", "Deal").objects
    old_stages = old.get_model("onefunnel", "PipelineStage").objects
    # The stages as 0002 seeded them (the test database was migrated past it once already).
    old_stages.all().delete()
    for name, sequence, probability in SEEDED_0002:
        old_stages.create(name=name, sequence=sequence, probability=probability)
    when = datetime(2026, 1, 5, tzinfo=UTC)
    account = accounts.create(name="Acme", domain="acme.example", created_at=when)
    qualification = old_stages.get(name="Qualification")
    deal = deals.create(
        name="Acme", account=account, pipeline_stage=qualification, amount=Decimal("1200.00"),
        expected_close=date(2026, 3, 1), created_at=when, status="open", kind="new_business",
        currency="EUR",
    )  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    default = new.get_model("onefunnel", "Pipeline").objects.get(is_default=True)
    new_stages = new.get_model("onefunnel", "PipelineStage").objects
    history_rows = new.get_model("onefunnel", "DealHistory").objects
    stages = {s.name: (s.probability, s.is_won, s.is_lost) for s in new_stages.all()}
    assert set(new_stages.values_list("pipeline_id", flat=True)) == {default.pk}
    # Qualification is kept: a deal is in it.
    assert stages == {
        "Qualification": (10, False, False), "Discovery": (10, False, False),
        "Demo": (25, False, False), "Proposal": (50, False, False),
        "Negotiation": (75, False, False), "Won": (100, True, False), "Lost": (0, False, True),
    }  # fmt: skip
    history = dict(history_rows.filter(deal_id=deal.pk).values_list("field", "to_value"))
    assert history == {
        "pipeline_stage": str(qualification.pk),
        "amount": "1200.00",
        "expected_close": "2026-03-01",
    }
