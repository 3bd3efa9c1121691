"""Campaign spend: entered one by one, in batches, and imported from CSV."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from onefunnel.domain.touches import Channel
from onefunnel.models import Campaign, Spend
from onefunnel.services.errors import InputError
from onefunnel.services.spend import (
    SpendInput,
    import_spend,
    parse_amount,
    record_spend,
    record_spend_batch,
)

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "spend.csv"

REJECTS = [
    (6, "amount", "must not be negative (got -10.00)"),
    (7, "channel", "unknown channel 'carrier_pigeon'"),
    (8, "date", "duplicate of row 3 (same campaign, day and currency)"),
    (9, "date", "not a date: 'not a date'"),
    (10, "channel", "campaign 'spring-search' runs on paid_search, not email"),
    (11, "campaign", "required (a UTM key or a campaign name)"),
    (12, "amount", "at most two decimals (got 1.234)"),
]


def _spend() -> list[tuple[str, date, Decimal, str]]:
    return [
        (utm, day, Decimal(str(amount)), currency)
        for utm, day, amount, currency in Spend.objects.order_by(
            "campaign__utm_campaign", "day", "currency"
        ).values_list("campaign__utm_campaign", "day", "amount", "currency")
    ]


def test_spend_csv_report_rows_and_rejects(tmp_path: Path) -> None:
    report = import_spend(FIXTURE, rejects_path=tmp_path / "rejects.csv")
    assert (report.read, report.created, report.updated, report.skipped) == (13, 6, 0, 7)
    assert report.campaigns_created == 3
    assert [(r.row, r.column, r.message.split(" (one of")[0]) for r in report.rejects] == REJECTS
    with (tmp_path / "rejects.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted((int(r["row"]), r["column"]) for r in rows) == [(r[0], r[1]) for r in REJECTS]
    assert next(r for r in rows if r["row"] == "6")["amount"] == "-10.00"
    assert _spend() == [
        ("Webinar Q1", date(2024, 3, 1), Decimal("1500.00"), "EUR"),
        ("autumn-display", date(2024, 3, 5), Decimal("1250.00"), "USD"),
        ("spring-search", date(2024, 3, 1), Decimal("5.00"), "EUR"),
        ("spring-search", date(2024, 3, 1), Decimal("120.50"), "USD"),
        ("spring-search", date(2024, 3, 2), Decimal("98.00"), "USD"),
        ("spring-search", date(2024, 3, 4), Decimal("2.00"), "USD"),
    ]
    created = Campaign.objects.get(utm_campaign="autumn-display")
    assert (created.channel, created.planned, created.name) == ("display", False, "autumn-display")


def test_spend_import_is_idempotent_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    dry = import_spend(FIXTURE, dry_run=True, rejects_path=tmp_path / "r.csv")
    assert (Spend.objects.count(), Campaign.objects.count()) == (0, 0)
    real = import_spend(FIXTURE, rejects_path=tmp_path / "r.csv")
    assert {**dry.as_dict(), "dry_run": False} == real.as_dict()
    before = _spend()
    again = import_spend(FIXTURE, rejects_path=tmp_path / "r.csv")
    assert (again.created, again.updated, again.unchanged, again.campaigns_created) == (0, 0, 6, 0)
    assert _spend() == before


def test_a_new_amount_for_the_same_day_replaces_the_old(tmp_path: Path) -> None:
    import_spend(FIXTURE, rejects_path=tmp_path / "r.csv")
    fix = tmp_path / "fix.csv"
    fix.write_text("date,campaign,channel,amount,currency\n2024-03-02,spring-search,,97.25,USD\n")
    report = import_spend(fix)
    assert (report.created, report.updated) == (0, 1)
    assert Spend.objects.get(
        campaign__utm_campaign="spring-search", day=date(2024, 3, 2)
    ).amount == Decimal("97.25")


def test_campaign_matched_by_name_and_by_utm_key() -> None:
    Campaign.objects.create(name="Spring Search", utm_campaign="spring-2024", channel="paid_search")
    by_name = record_spend(SpendInput("Spring Search", date(2024, 3, 1), Decimal("10")))
    by_key = record_spend(SpendInput("spring-2024", date(2024, 3, 2), Decimal("11")))
    assert by_name.entry.campaign_id == by_key.entry.campaign_id
    assert (by_name.outcome, by_name.campaign_created) == ("created", False)
    assert Campaign.objects.count() == 1


def test_single_entries_refuse_bad_input() -> None:
    with pytest.raises(InputError, match="channel: required to create the unknown campaign"):
        record_spend(SpendInput("brand-new", date(2024, 3, 1), Decimal("10")))
    with pytest.raises(InputError, match="amount: must not be negative"):
        record_spend(SpendInput("x", date(2024, 3, 1), Decimal("-1"), channel=Channel.EMAIL))
    with pytest.raises(InputError, match="currency"):
        record_spend(SpendInput("x", date(2024, 3, 1), Decimal("1"), "EURO", Channel.EMAIL))
    assert (Campaign.objects.count(), Spend.objects.count()) == (0, 0)
    assert parse_amount("1,250.00") == Decimal("1250.00")
    with pytest.raises(InputError):
        parse_amount("1.250,00")


def test_batches_are_all_or_nothing() -> None:
    good = SpendInput("news", date(2024, 3, 1), Decimal("10"), channel=Channel.EMAIL)
    bad = SpendInput("news", date(2024, 3, 2), Decimal("-5"), channel=Channel.EMAIL)
    with pytest.raises(InputError, match=r"^\[1\] amount: must not be negative"):
        record_spend_batch([good, bad])
    assert (Campaign.objects.count(), Spend.objects.count()) == (0, 0)
    results = record_spend_batch([good, good])
    assert [r.outcome for r in results] == ["created", "unchanged"]
