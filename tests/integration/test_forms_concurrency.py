"""Submissions arriving at the same moment (PostgreSQL, where writers really run side by side;
SQLite serialises every writer already): the same new person submitting from several tabs is one
contact, and a client's retry racing its first try is recorded once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections

from onefunnel.models import Contact, FormSubmission, Touchpoint
from onefunnel.services.access import SYSTEM
from onefunnel.services.marketing.forms import Visit, create_form, submit_form

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TABS = 6
FIELDS = [{"name": "email", "label": "Email", "type": "email", "required": True}]


def _race(submit: Callable[[int], None]) -> list[str]:
    barrier = threading.Barrier(TABS)
    outcomes: list[str] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            submit(n)
            outcomes.append("ok")
        except Exception as exc:  # reported by the assertions, not lost in the thread
            outcomes.append(f"error:{exc!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(TABS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_parallel_submissions_of_one_new_email_make_one_contact() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    create_form(SYSTEM, {"name": "Contact", "slug": "contact", "fields": FIELDS})
    outcomes = _race(
        lambda n: submit_form(
            "contact", {"email": "Ada@Example.com", "submission_id": f"tab-{n}"}, Visit()
        ),
    )
    assert outcomes == ["ok"] * TABS
    assert Contact.objects.filter(email="ada@example.com").count() == 1
    assert FormSubmission.objects.count() == TABS
    assert Touchpoint.objects.filter(kind="form_submit").count() == TABS


def test_a_retry_racing_its_first_try_is_recorded_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    create_form(SYSTEM, {"name": "Contact", "slug": "contact", "fields": FIELDS})
    outcomes = _race(
        lambda n: submit_form(
            "contact", {"email": "bob@example.com", "submission_id": "same"}, Visit()
        ),
    )
    assert outcomes == ["ok"] * TABS
    assert FormSubmission.objects.count() == 1
    assert Touchpoint.objects.filter(kind="form_submit").count() == 1
