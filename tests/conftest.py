"""Shared test fixtures: what runs against the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest
from hypothesis import settings

# The demo's history ends on a fixed day in tests (by default it ends on the day it is
# loaded): the same seed then gives the same company whatever day the suite runs. Subprocess
# CLIs and servers inherit it.
os.environ.setdefault("ONEFUNNEL_DEMO_ANCHOR", "2026-10-31")

# Property tests check invariants, not speed: a loaded CI machine must not fail them on time.
settings.register_profile("onefunnel", deadline=None)
settings.load_profile("onefunnel")

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _inbox_processor_stopped(request: pytest.FixtureRequest) -> None:
    """A test that commits (``transaction=True``) has the database to itself: the tracking
    inbox processor an earlier test started would otherwise poll it meanwhile (on SQLite's
    shared in-memory test database: "database table is locked" in the test's own writes)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        from onefunnel.services.tracking_writer import processor

        processor.stop()


@pytest.fixture
def make_contact(db: None) -> Callable[..., object]:
    """Create contacts (and their account) with sensible defaults."""
    from onefunnel.models import Account, Contact

    numbers = count(1)

    def make(
        email: str | None = None, *, account: object | None = None, **fields: object
    ) -> Contact:
        n = next(numbers)
        if account is None:
            account = Account.objects.create(
                name=f"Acme {n}", domain=f"acme{n}.example", created_at=T0
            )
        return Contact.objects.create(
            email=email if email is not None else f"person{n}@acme.example",
            account=account,
            created_at=T0,
            **fields,
        )

    return make


@pytest.fixture(autouse=True)
def _isolated_home(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Files a service writes under ONEFUNNEL_HOME (saved models, admin login) go to a temp dir,
    never into the checkout the tests run from."""
    settings.HOME = tmp_path_factory.mktemp("home")
