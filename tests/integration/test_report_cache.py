"""The report cache (``analytics.cache``) on the small demo: a cached result equals a fresh
computation; after a write through each kind of service (and around them: a bulk ``update()``,
raw SQL) the next read reflects it; nothing is cached inside a transaction; the key holds every
field of ``ReportOptions``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.analytics import cache as report_cache
from onefunnel.analytics.cache import cached, data_stamp, key_of, tables_read
from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports import ReportOptions, _compute_report, run_report
from onefunnel.analytics.table import Table
from onefunnel.domain.stages import Stage, StageReason
from onefunnel.domain.touches import Channel, TouchKind
from onefunnel.models import Campaign, Contact, Deal, Handoff
from onefunnel.services.access import SYSTEM
from onefunnel.services.accounts.contracts import add_contract
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.handoffs import reject_handoff
from onefunnel.services.marketing import campaigns
from onefunnel.services.marketing.funnel import attribution_comparison
from onefunnel.services.sales.deals import win_deal
from onefunnel.services.stages import change_stage
from onefunnel.services.touches import TouchInput, record_touch

pytestmark = pytest.mark.django_db(transaction=True)
PERIOD = Period(date(2020, 1, 1), date(2030, 12, 31))
NOW = datetime.now(UTC)
Ask = tuple[str, str | None, ReportOptions]
ASKED: list[Ask] = [
    ("funnel", "channel", ReportOptions()),
    ("funnel", "campaign", ReportOptions()),
    ("funnel", "cohort", ReportOptions()),
    ("spend", "campaign", ReportOptions(model="markov")),
    ("spend", "channel", ReportOptions(model="linear")),
    ("attribution", "channel", ReportOptions(model="first,linear")),
    ("scorecard", "channel", ReportOptions()),
    ("retention", "month", ReportOptions()),
    ("retention", "cohort", ReportOptions()),
]


@pytest.fixture
def demo() -> None:
    generate_demo(seed=3, size=DemoSize.SMALL)
    cache.clear()


DEFAULT = ReportOptions()


def served(name: str, by: str | None, options: ReportOptions = DEFAULT) -> Table:
    return run_report(name, DjangoEngine(), PERIOD, by=by, options=options)


def fresh(name: str, by: str | None, options: ReportOptions = DEFAULT) -> Table:
    return _compute_report(name, DjangoEngine(), PERIOD, by=by, options=options)


def kept(name: str, by: str | None, options: ReportOptions) -> Any:
    return report_cache.kept("report", (name, PERIOD, by, options))


def test_a_cached_report_equals_a_fresh_computation(demo: None) -> None:
    for name, by, options in ASKED:
        assert kept(name, by, options) is None
        first = served(name, by, options)
        assert kept(name, by, options) == first  # the first reader's result is kept …
        assert served(name, by, options) == first == fresh(name, by, options)  # … and right
        assert first.rows, (name, by)


def test_nothing_is_cached_inside_a_transaction(demo: None) -> None:
    with transaction.atomic():
        assert data_stamp() is None
        served("funnel", "channel")
    assert data_stamp() is not None
    assert kept("funnel", "channel", ReportOptions()) is None


def _contact() -> Contact:
    return Contact.objects.filter(account__isnull=False).order_by("pk").first()  # type: ignore[return-value]


def _touch() -> None:
    """A webinar just before a customer's first win: its journey, and so the credit, changes."""
    deal = (
        Deal.objects.filter(status="won", kind="new_business", closed_at__gte=PERIOD.start)
        .order_by("closed_at", "pk")
        .first()
    )
    assert deal is not None
    assert deal.closed_at is not None
    contact = Contact.objects.filter(account_id=deal.account_id).order_by("pk").first()
    assert contact is not None
    record_touch(
        TouchInput(
            message_id="cache-test-touch",
            kind=TouchKind.WEBINAR,
            occurred_at=deal.closed_at - timedelta(hours=2),
            contact_id=contact.pk,
            channel=Channel.EVENTS,
        )
    )


def _stage_change() -> None:
    contact = Contact.objects.exclude(stage__in=["nurture", "churned", "disqualified"]).first()
    assert contact is not None
    change_stage(
        contact, Stage.DISQUALIFIED, reason=StageReason.BAD_FIT, note="cache test",
        at=NOW - timedelta(days=1),
    )  # fmt: skip


def _handoff() -> None:
    pending = Handoff.objects.filter(status="pending").order_by("pk").first()
    assert pending is not None
    reject_handoff(pending.pk, reason="bad_fit", actor=SYSTEM, now=NOW)


def _deal() -> None:
    deal = Deal.objects.filter(status="open", kind="new_business").order_by("pk").first()
    assert deal is not None
    win_deal(deal.pk, actor=SYSTEM, at=NOW - timedelta(days=1))


def _spend() -> None:
    campaign = Campaign.objects.order_by("pk").first()
    assert campaign is not None
    month = (NOW - timedelta(days=40)).strftime("%Y-%m")
    total = campaigns.month_total(campaign.pk, month)
    if campaign.start_date and campaign.start_date > NOW.date() - timedelta(days=40):
        campaigns.update_campaign(SYSTEM, campaign.pk, {"start_date": None})
    campaigns.set_month_spend(SYSTEM, campaign.pk, month, str(total + Decimal("1234.50")))


def _contract() -> None:
    account_id = _contact().account_id
    assert account_id is not None
    start = NOW.date() - timedelta(days=200)
    add_contract(
        SYSTEM, account_id=account_id, product="cache-test", amount="12000", start=start,
        end=start + timedelta(days=364), billing_period="yearly",
    )  # fmt: skip


def _campaign() -> None:
    campaign = Campaign.objects.order_by("pk").first()
    assert campaign is not None
    other = next(c for c in Channel if c.value != campaign.channel)
    campaigns.update_campaign(SYSTEM, campaign.pk, {"channel": other.value})


def _bulk_update() -> None:
    """Around the services, as a script or the admin might: one ``update()`` statement."""
    Handoff.objects.filter(status="pending").update(status="expired")


def _raw_delete() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM onefunnel_spend WHERE id = (SELECT MIN(id) FROM onefunnel_spend)"
        )


WRITES: dict[str, tuple[Callable[[], None], Ask]] = {
    "touchpoint": (_touch, ("attribution", "channel", ReportOptions(model="linear"))),
    "stage change": (_stage_change, ("funnel", "cohort", ReportOptions())),
    "handoff": (_handoff, ("scorecard", "channel", ReportOptions())),
    "deal": (_deal, ("spend", "channel", ReportOptions(model="linear"))),
    "deal (attribution)": (_deal, ("attribution", "channel", ReportOptions(model="linear"))),
    "spend": (_spend, ("spend", "campaign", ReportOptions(model="linear"))),
    "contract": (_contract, ("retention", "month", ReportOptions())),
    "campaign": (_campaign, ("spend", "channel", ReportOptions(model="linear"))),
    "bulk update": (_bulk_update, ("scorecard", "channel", ReportOptions())),
    "raw SQL": (_raw_delete, ("spend", "campaign", ReportOptions(model="linear"))),
}


@pytest.mark.parametrize("kind", list(WRITES))
def test_a_write_is_seen_by_the_next_read(demo: None, kind: str) -> None:
    write, (name, by, options) = WRITES[kind]
    before = served(name, by, options)
    assert served(name, by, options) == before  # kept
    stamp = data_stamp()
    write()
    assert data_stamp() != stamp
    after = served(name, by, options)
    assert after == fresh(name, by, options)
    assert after != before  # the write changed the report, and the read shows it


def test_the_attribution_comparison_follows_a_won_deal(demo: None) -> None:
    before = attribution_comparison(PERIOD)
    assert attribution_comparison(PERIOD) == before
    _deal()
    after = attribution_comparison(PERIOD)
    cache.clear()
    assert after == attribution_comparison(PERIOD) != before


def test_every_option_is_part_of_the_key() -> None:
    """Each field of ReportOptions, today's and any added later, changes the key."""
    base = ReportOptions()
    keys = {key_of("report", ("spend", PERIOD, "campaign", base), stamp="1.0")}
    for f in dataclasses.fields(ReportOptions):
        value = getattr(base, f.name)
        changed: object
        if isinstance(value, bool):
            changed = not value
        elif isinstance(value, (int, float)):
            changed = value + 1
        elif isinstance(value, tuple):
            changed = (("leads", "all", "2026-01", 1.0),)
        elif f.name == "today" or isinstance(value, date):
            changed = date(2026, 1, 1)
        else:
            changed = "x"
        change: dict[str, Any] = {f.name: changed}
        other = dataclasses.replace(base, **change)
        keys.add(key_of("report", ("spend", PERIOD, "campaign", other), stamp="1.0"))
    assert len(keys) == 1 + len(dataclasses.fields(ReportOptions))


options = st.builds(
    ReportOptions,
    model=st.sampled_from([None, "linear", "markov", "first,linear"]),
    lookback_days=st.integers(1, 400),
    half_life_days=st.floats(0.5, 60, allow_nan=False),
    markov_order=st.integers(1, 4),
    today=st.none() | st.dates(),
)


@given(options, options, st.sampled_from(["1.0", "2.0"]), st.sampled_from(["1.0", "2.0"]))
def test_keys_differ_when_the_question_or_the_data_does(
    a: ReportOptions, b: ReportOptions, stamp_a: str, stamp_b: str
) -> None:
    key_a = key_of("report", ("spend", PERIOD, "campaign", a), stamp=stamp_a)
    key_b = key_of("report", ("spend", PERIOD, "campaign", b), stamp=stamp_b)
    if a != b or stamp_a != stamp_b:
        assert key_a != key_b
    elif repr(a) == repr(b):
        assert key_a == key_b


def test_the_forecast_from_a_kept_backtest_equals_a_fresh_one(demo: None) -> None:
    from onefunnel.services.plan.forecast import forecast_by_owner

    first = forecast_by_owner(today=NOW)
    assert report_cache.kept("forecast_backtest", (NOW.date(),)) is not None
    assert forecast_by_owner(today=NOW) == first
    cache.clear()
    assert forecast_by_owner(today=NOW) == first


# ----------------------------------------------------- the workspaces: forecast, health, expansion


def _leader() -> Any:
    from onefunnel.domain.access import Actor, Role

    return Actor(user_id=None, username="leader", roles=frozenset({Role.LEADERSHIP}))


def _forecast_read(moment: datetime) -> Any:
    from onefunnel.services.plan.forecast import forecast_by_owner

    return forecast_by_owner(today=moment)


def _forecast_write(moment: datetime) -> None:
    deal = Deal.objects.filter(status="open", kind="new_business").order_by("pk").first()
    assert deal is not None
    win_deal(deal.pk, actor=SYSTEM, at=moment - timedelta(seconds=30))


def _health_read(moment: datetime) -> Any:
    from onefunnel.services.accounts.health import churn_risk

    return churn_risk(_leader(), limit=10_000, now=moment)


def _health_write(moment: datetime) -> None:
    first = _health_read(moment)[0]
    start = moment.date() - timedelta(days=200)
    add_contract(
        SYSTEM, account_id=first.account_id, product="cache-test", amount="12000", start=start,
        end=start + timedelta(days=364), billing_period="yearly",
    )  # fmt: skip


def _expansion_read(moment: datetime) -> Any:
    from onefunnel.services.accounts.expansion import suggestions

    return suggestions(_leader(), now=moment)


def _expansion_write(moment: datetime) -> None:
    """Intent on a product the customer has no contract for: a cross-sell suggestion."""
    account_id = _health_read(moment)[0].account_id
    contact = Contact.objects.filter(account_id=account_id).order_by("pk").first()
    assert contact is not None
    record_touch(
        TouchInput(
            message_id="cache-test-intent",
            kind=TouchKind.HIGH_INTENT_PAGE,
            occurred_at=moment - timedelta(hours=1),
            contact_id=contact.pk,
            channel=Channel.ORGANIC_SEARCH,
            properties={"product": "cache-test-product"},
        )
    )


WORKSPACE: dict[str, tuple[Callable[[datetime], Any], Callable[[datetime], None]]] = {
    "forecast per owner": (_forecast_read, _forecast_write),
    "customers' health": (_health_read, _health_write),
    "expansion": (_expansion_read, _expansion_write),
}


@pytest.mark.parametrize("kind", list(WORKSPACE))
def test_the_workspace_results_are_kept_and_follow_a_write(demo: None, kind: str) -> None:
    """Kept for every reader (the same answer twice, and in the cache), then after a write
    the next read equals a fresh computation and shows the change."""
    from onefunnel.analytics.cache import this_minute

    read, write = WORKSPACE[kind]
    moment = this_minute()
    before = read(moment)
    assert read(moment) == before
    write(moment)
    after = read(moment)
    cache.clear()
    assert after == read(moment) != before


def test_the_present_is_the_end_of_the_minute() -> None:
    from onefunnel.analytics.cache import this_minute

    at = datetime(2026, 12, 5, 10, 15, 7, 123, tzinfo=UTC)
    assert this_minute(at) == datetime(2026, 12, 5, 10, 16, tzinfo=UTC)
    assert this_minute(datetime(2026, 12, 5, 10, 15, tzinfo=UTC)) == datetime(
        2026, 12, 5, 10, 15, tzinfo=UTC
    )
    # The last minute of a day (or a month, a quarter) stays in it.
    late = this_minute(datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC))
    assert late.date() == date(2026, 12, 31)
    assert late > datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)


# ------------------------------------------------ kept per table: the versions of what was read


def test_a_result_is_kept_through_a_write_to_a_table_it_does_not_read(demo: None) -> None:
    """A call logged on a deal (a touchpoint and an activity) leaves the forecast kept — it
    reads deals and their stages — and discards the attribution, which reads touchpoints."""
    from onefunnel.analytics.cache import this_minute
    from onefunnel.services.plan.forecast import forecast_by_owner
    from onefunnel.services.sales.activities import log_activity

    moment = this_minute()
    forecast = forecast_by_owner(today=moment)
    attribution = ("attribution", "channel", ReportOptions(model="linear"))
    credit = served(*attribution)
    args = (forecast[0].period, None, moment)
    reads = tables_read("forecast_by_owner", args)
    assert {"onefunnel_deal", "onefunnel_dealhistory"} <= set(reads), reads
    assert "onefunnel_touchpoint" not in reads
    assert "onefunnel_touchpoint" in tables_read(
        "report", (attribution[0], PERIOD, *attribution[1:])
    )

    deal = Deal.objects.filter(status="open").order_by("pk").first()
    assert deal is not None
    log_activity(actor=SYSTEM, kind="call", deal_id=deal.pk, outcome="connected")

    assert report_cache.kept("forecast_by_owner", args) == forecast  # still kept …
    assert kept(*attribution) is None  # … this one is not
    cache.clear()
    assert forecast_by_owner(today=moment) == forecast  # and the kept one was right
    assert served(*attribution) == credit  # (a call on an account moves no credit)


def test_an_outer_result_carries_the_tables_of_an_inner_one_served_from_the_cache(
    demo: None,
) -> None:
    computed: list[str] = []

    def inner() -> int:
        def count() -> int:
            computed.append("inner")
            return Deal.objects.filter(status="won").count()

        return cached("test inner", (), count)

    def outer() -> int:
        def compute() -> int:
            computed.append("outer")
            return inner() + 1

        return cached("test outer", (), compute)

    won = inner()  # kept: the outer one will find it
    assert outer() == won + 1
    assert computed == ["inner", "outer"]
    assert "onefunnel_deal" in tables_read("test outer", ())
    assert outer() == won + 1
    assert computed == ["inner", "outer"]  # both kept

    _deal()  # a deal won: the inner result is stale, and so the outer one
    assert outer() == won + 2
    assert computed == ["inner", "outer", "outer", "inner"]


def test_both_parts_of_a_report_run_at_once_are_noted(demo: None) -> None:
    """The spend report runs the attribution on a second connection in a thread: the tables
    that part reads are noted too."""
    ask = ("spend", "campaign", ReportOptions(model="linear"))
    served(*ask)
    reads = set(tables_read("report", (ask[0], PERIOD, *ask[1:])))
    assert {"onefunnel_spend", "onefunnel_campaign", "onefunnel_touchpoint"} <= reads, reads
    assert "onefunnel_tableversion" not in reads  # the stamp's own reads are not the result's


def test_a_stamp_names_the_versions_of_the_tables_asked() -> None:
    from onefunnel.models.dataversion import Stamp

    stamp = Stamp(3, {"onefunnel_deal": "4.120", "onefunnel_touchpoint": "0.9"})
    assert stamp.of(["onefunnel_touchpoint", "onefunnel_deal"]) == stamp.of(
        ("onefunnel_deal", "onefunnel_touchpoint", "onefunnel_deal")
    )
    # A table without a change in this generation is version 0; the generation always counts.
    assert stamp.of(["onefunnel_spend"]) == "3:onefunnel_spend=0"
    assert Stamp(4, stamp.tables).of(["onefunnel_spend"]) != stamp.of(["onefunnel_spend"])


def test_the_spend_report_keeps_the_lifetime_values_through_a_touch(demo: None) -> None:
    """The customers' fitted lifetime values read only the deals: a touch recomputes the spend
    report (its credit reads touchpoints) around the values kept, and it equals a fresh one."""
    options = ReportOptions(model="linear")
    before = served("spend", "campaign", options)
    ltv = (PERIOD, options.ltv_horizon_years, options.ltv_discount_rate)
    assert "onefunnel_touchpoint" not in tables_read("clv_by_account", ltv)
    kept_values = report_cache.kept("clv_by_account", ltv)
    assert kept_values is not None
    _touch()
    assert report_cache.kept("clv_by_account", ltv) == kept_values
    assert kept("spend", "campaign", options) is None
    after = served("spend", "campaign", options)
    assert after == fresh("spend", "campaign", options)
    assert after != before
