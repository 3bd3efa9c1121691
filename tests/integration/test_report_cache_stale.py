"""Results served before their update (``ONEFUNNEL_REPORT_STALE_SECONDS``, analytics.cache) on
the small demo: a page after a write gets the earlier result at once, says how old it is, and
the next one gets the update computed in the background; never outside a web request, never
older than the bound. Off by default: every other test reads every write at once."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import Client

from onefunnel.analytics.cache import cached, data_as_of, serving_request, wait_for_updates
from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports import _compute_report, run_report
from onefunnel.analytics.table import Table
from onefunnel.models import Handoff
from onefunnel.services.demo import DemoSize, generate_demo

pytestmark = pytest.mark.django_db(transaction=True)
PERIOD = Period(date(2020, 1, 1), date(2030, 12, 31))
SCORECARD = ("scorecard", "channel")


@pytest.fixture
def demo() -> None:
    generate_demo(seed=3, size=DemoSize.SMALL)
    cache.clear()


def served() -> Table:
    return run_report(SCORECARD[0], DjangoEngine(), PERIOD, by=SCORECARD[1])


def fresh() -> Table:
    return _compute_report(SCORECARD[0], DjangoEngine(), PERIOD, by=SCORECARD[1])


def _write() -> None:
    """Around the services, as a script might: the scorecard's handoff counts change."""
    assert Handoff.objects.filter(status="pending").update(status="expired") > 0


def test_off_by_default_a_page_reads_every_write(demo: None) -> None:
    with serving_request():
        before = served()
    _write()
    with serving_request():
        after = served()
        assert data_as_of() is None
    assert after == fresh() != before


def test_a_page_gets_the_earlier_result_while_the_update_is_computed(
    demo: None, settings: Any
) -> None:
    settings.ONEFUNNEL_REPORT_STALE_SECONDS = 60
    with serving_request():
        before = served()
        assert data_as_of() is None
    _write()
    with serving_request():
        assert served() == before  # at once, the earlier numbers …
        as_of = data_as_of()
        assert as_of is not None  # … saying how old they are
    assert wait_for_updates(60)
    with serving_request():
        after = served()
        assert data_as_of() is None  # the update, computed in the background
    assert after == fresh() != before


def test_outside_a_web_request_every_read_sees_every_write(demo: None, settings: Any) -> None:
    settings.ONEFUNNEL_REPORT_STALE_SECONDS = 60
    with serving_request():
        before = served()
    _write()
    after = served()  # the CLI, the worker
    assert after == fresh() != before


def test_a_result_older_than_the_bound_is_computed_again(demo: None, settings: Any) -> None:
    settings.ONEFUNNEL_REPORT_STALE_SECONDS = 1
    with serving_request():
        before = served()
    _write()
    time.sleep(1.2)
    with serving_request():
        after = served()
        assert data_as_of() is None
    assert after == fresh() != before


def test_the_page_says_when_its_figures_are_as_of(demo: None, settings: Any) -> None:
    settings.ONEFUNNEL_REPORT_STALE_SECONDS = 60
    user = User.objects.create_user(username="marketer", password="x" * 12)
    user.groups.add(Group.objects.get_or_create(name="marketing")[0])
    client = Client()
    client.force_login(user)
    query = {"from": "2020-01-01", "to": "2030-12-31", "model": "linear"}
    first = client.get("/campaigns", query)
    assert first.status_code == 200
    assert "X-Onefunnel-Data-As-Of" not in first.headers
    assert "Figures as of" not in first.content.decode()
    _write()
    later = client.get("/campaigns", query)
    assert later.status_code == 200
    as_of = later.headers.get("X-Onefunnel-Data-As-Of")
    assert as_of is not None, "the campaigns' spend report reads handoffs: served early"
    assert "Figures as of" in later.content.decode()
    assert wait_for_updates(60)
    assert "X-Onefunnel-Data-As-Of" not in client.get("/campaigns", query).headers


def test_an_answer_as_of_now_may_be_the_previous_minutes(settings: Any) -> None:
    """The forecast, health and expansion are asked as of the current minute: a new question
    each minute, whose earlier minute's answer a page may get while the new one is computed —
    but only when asked for the present, never for a moment named by the caller."""
    settings.ONEFUNNEL_REPORT_STALE_SECONDS = 60
    computed: list[int] = []

    def ask(minute: int, *, present: bool = True) -> int:
        def compute() -> int:
            computed.append(minute)
            return minute

        return cached("test now", (minute,), compute, present=() if present else None)

    with serving_request():
        assert ask(1) == 1
        assert ask(2) == 1  # the previous minute's answer, at once
        assert data_as_of() is not None
    assert wait_for_updates(60)
    assert computed == [1, 2]
    with serving_request():
        assert ask(2) == 2
        assert data_as_of() is None
        assert ask(3, present=False) == 3  # a moment named: its own answer
        assert data_as_of() is None
    assert computed == [1, 2, 3]
