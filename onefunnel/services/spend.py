"""Campaign spend: what each campaign cost per day, entered one by one or imported from a CSV.

A spend entry is keyed by (campaign, day, currency): entering the same key again replaces the
amount (an upsert), so re-sending or re-importing is safe. A campaign is named by its UTM key or
its name; an unknown one is created as *unplanned* with the entry's channel, so spend is never
lost for want of a plan. A campaign runs on one channel: an entry naming another is refused.

The CSV import (columns ``date, campaign, channel, amount, currency``) writes every good row
and reports every bad one — row number, column, reason — in the report and a rejects CSV,
in transactions of ``CHUNK_ROWS`` rows. Negative amounts, more than two decimals, unknown
channels and unreadable dates are row errors. A later row repeating an earlier row's key is
rejected as a duplicate (the first wins, which keeps re-imports idempotent).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction

from onefunnel.domain.crm_mapping import MappingError, parse_crm_date
from onefunnel.domain.touches import Channel
from onefunnel.models import Campaign, Spend
from onefunnel.services.errors import InputError
from onefunnel.services.imports.columns import Columns, check_shape
from onefunnel.services.imports.csvfile import CsvRows, Progress, Rejects, parsed_in_chunks
from onefunnel.services.imports.records import RowError
from onefunnel.services.imports.runs import import_run
from onefunnel.services.imports.seen import SeenKeys
from onefunnel.services.marketing.campaign_rules import check_spend_day

CHUNK_ROWS = 1000
_MAX_INTEGER_DIGITS = 14  # the stored amount has 16 digits, 2 of them decimals
_AMOUNT = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_ALIASES = {
    "date": ("date", "day"),
    "campaign": ("campaign", "utm_campaign"),
    "channel": ("channel",),
    "amount": ("amount", "cost", "spend"),
    "currency": ("currency",),
}


@dataclass(frozen=True, slots=True)
class SpendInput:
    """One day of a campaign's spend. ``campaign`` is its UTM key or name; an empty currency
    means the installation's; ``channel`` is needed only when the campaign is new."""

    campaign: str
    day: date
    amount: Decimal
    currency: str = ""
    channel: Channel | None = None


@dataclass(frozen=True, slots=True)
class SpendEntry:
    """A stored spend entry."""

    id: int
    campaign_id: int
    campaign: str
    channel: str
    day: date
    amount: Decimal
    currency: str

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return {
            "id": self.id,
            "campaign_id": self.campaign_id,
            "campaign": self.campaign,
            "channel": self.channel,
            "day": self.day,
            "amount": self.amount,
            "currency": self.currency,
        }

    @classmethod
    def of(cls, spend: Spend, campaign: Campaign) -> SpendEntry:
        """The frozen view of a stored row."""
        return cls(
            spend.pk, campaign.pk, campaign.utm_campaign, campaign.channel, spend.day,
            Decimal(str(spend.amount)), spend.currency,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SpendRecorded:
    """The entry and what happened: ``created``, ``updated`` or ``unchanged``."""

    entry: SpendEntry
    outcome: str
    campaign_created: bool


@dataclass(frozen=True, slots=True)
class SpendImportReport:
    """The outcome of a spend import. ``read`` = created + updated + unchanged + skipped."""

    dry_run: bool
    read: int
    created: int
    updated: int
    unchanged: int
    skipped: int
    campaigns_created: int
    rejects: tuple[RowError, ...]
    rejects_path: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return {
            "dry_run": self.dry_run,
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "campaigns_created": self.campaigns_created,
            "rejects": [r.as_dict() for r in self.rejects],
            "rejects_path": self.rejects_path,
        }


def parse_channel(text: str) -> Channel:
    """A channel by its name (``paid_search``, "Paid Search", ``paid-search``); InputError if
    there is no such channel."""
    value = re.sub(r"[\s\-]+", "_", text.strip().lower())
    try:
        return Channel(value)
    except ValueError:
        known = ", ".join(c.value for c in Channel)
        raise InputError(f"channel: unknown channel {text!r} (one of {known})") from None


def parse_amount(text: str) -> Decimal:
    """A non-negative amount with at most two decimals ("1,250.00" reads as 1250.00)."""
    raw = text.strip()
    cleaned = raw.replace(",", "") if _AMOUNT.match(raw.lstrip("-")) else raw
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise InputError(f"amount: not a number: {text!r}") from None
    if not amount.is_finite():
        raise InputError(f"amount: not a number: {text!r}")
    return check_amount(amount)


def check_amount(amount: Decimal) -> Decimal:
    """The amount if it can be stored as spend; InputError naming the problem otherwise."""
    if amount < 0:
        raise InputError(f"amount: must not be negative (got {amount})")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise InputError(f"amount: at most two decimals (got {amount})")
    if amount >= Decimal(10) ** _MAX_INTEGER_DIGITS:
        raise InputError(f"amount: too large (got {amount})")
    return amount.quantize(Decimal("0.01"))


def parse_currency(text: str) -> str:
    """An ISO 4217 code (any case); empty means the installation's currency."""
    value = text.strip().upper()
    if not value:
        return str(settings.ONEFUNNEL_CURRENCY)
    if len(value) != 3 or not value.isalpha():
        raise InputError(f"currency: not a 3-letter ISO code: {text!r}")
    return value


def find_campaign(key: str) -> Campaign | None:
    """The campaign whose UTM key, else whose name, is ``key`` (exactly, then ignoring case)."""
    text = key.strip()
    return (
        Campaign.objects.filter(utm_campaign=text).first()
        or Campaign.objects.filter(name=text).order_by("id").first()
        or Campaign.objects.filter(utm_campaign__iexact=text).order_by("id").first()
    )


def _campaign_for(entry: SpendInput) -> tuple[Campaign, bool]:
    key = entry.campaign.strip()
    if not key:
        raise InputError("campaign: required (a UTM key or a campaign name)")
    if len(key) > 200:
        raise InputError("campaign: at most 200 characters")
    campaign = find_campaign(key)
    if campaign is not None:
        if entry.channel is not None and entry.channel.value != campaign.channel:
            raise InputError(
                f"channel: campaign {key!r} runs on {campaign.channel}, not {entry.channel.value}"
            )
        return campaign, False
    if entry.channel is None:
        raise InputError(f"channel: required to create the unknown campaign {key!r}")
    campaign = Campaign.objects.create(
        name=key, utm_campaign=key, channel=entry.channel.value, planned=False
    )
    return campaign, True


def _upsert(entry: SpendInput) -> SpendRecorded:
    amount = check_amount(entry.amount)
    currency = parse_currency(entry.currency)
    campaign, campaign_created = _campaign_for(entry)
    check_spend_day(campaign, entry.day)
    spend = (
        Spend.objects.select_for_update()
        .filter(campaign=campaign, day=entry.day, currency=currency)
        .first()
    )
    if spend is None:
        spend = Spend.objects.create(
            campaign=campaign, day=entry.day, amount=amount, currency=currency
        )
        outcome = "created"
    elif Decimal(str(spend.amount)) != amount:
        spend.amount = amount
        spend.save(update_fields=["amount"])
        outcome = "updated"
    else:
        outcome = "unchanged"
    return SpendRecorded(SpendEntry.of(spend, campaign), outcome, campaign_created)


def record_spend(entry: SpendInput) -> SpendRecorded:
    """Create or replace one day of spend, in one transaction. InputError names the bad field."""
    with transaction.atomic():
        return _upsert(entry)


def record_spend_batch(entries: Sequence[SpendInput]) -> list[SpendRecorded]:
    """Record several entries all or nothing: the first bad one raises InputError prefixed
    with its index (``[3] amount: …``) and nothing is written."""
    results: list[SpendRecorded] = []
    with transaction.atomic():
        for i, entry in enumerate(entries):
            try:
                results.append(_upsert(entry))
            except InputError as exc:
                raise InputError(f"[{i}] {exc}") from None
    return results


def _parse_row(row: int, values: Sequence[str], cols: Columns) -> SpendInput:
    check_shape(row, values, cols)
    try:
        day = parse_crm_date(cols.get(values, "date"))
    except MappingError as exc:
        raise RowError(row, cols.label("date"), str(exc)) from None
    if day is None:
        raise RowError(row, cols.label("date"), "required")
    try:
        channel_text = cols.get(values, "channel")
        return SpendInput(
            campaign=cols.get(values, "campaign"),
            day=day,
            amount=parse_amount(cols.get(values, "amount")),
            currency=parse_currency(cols.get(values, "currency")),
            channel=parse_channel(channel_text) if channel_text else None,
        )
    except InputError as exc:
        raise _row_error(row, cols, exc) from None


def _row_error(row: int, cols: Columns, exc: InputError) -> RowError:
    field, _, message = str(exc).partition(": ")
    label = cols.label(field) if field in _ALIASES else field
    return RowError(row, label, message or str(exc))


@dataclass(slots=True)
class _Tally:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    campaigns_created: int = 0


def import_spend(
    path: str | Path,
    *,
    dry_run: bool = False,
    rejects_path: str | Path | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> SpendImportReport:
    """Import a spend CSV (see the module docstring). InputError, before anything is written,
    when the file cannot be read or lacks a date, campaign or amount column."""
    file = Path(path)
    tally = _Tally()
    with CsvRows(file) as rows:
        cols = Columns(rows.header, _ALIASES, required=("date", "campaign", "amount"))
        with import_run(file, rows.header, dry_run=dry_run, rejects_path=rejects_path) as rejects:
            _run_spend(rows, cols, rejects, tally, progress, chunk_rows)
    return SpendImportReport(
        dry_run=dry_run,
        read=tally.read,
        created=tally.created,
        updated=tally.updated,
        unchanged=tally.unchanged,
        skipped=rejects.count,
        campaigns_created=tally.campaigns_created,
        rejects=rejects.first(),
        rejects_path=rejects.written_to,
    )


def _run_spend(
    rows: CsvRows,
    cols: Columns,
    rejects: Rejects,
    tally: _Tally,
    progress: Progress | None,
    chunk_rows: int,
) -> None:
    def parse(row: int, values: list[str]) -> tuple[int, SpendInput, list[str]]:
        return row, _parse_row(row, values, cols), values

    with SeenKeys("spend") as seen:
        for chunk in parsed_in_chunks(rows, parse, chunk_rows):
            tally.read += chunk.rows_read
            for error, values in chunk.rejected:
                rejects.add(error, values)
            for error, values in _write_chunk(chunk.parsed, cols, seen, tally):
                rejects.add(error, values)
            if progress is not None:
                progress(tally.read, chunk.bytes_read, rows.total_bytes)


def _write_chunk(
    chunk: list[tuple[int, SpendInput, list[str]]], cols: Columns, seen: SeenKeys, tally: _Tally
) -> list[tuple[RowError, list[str]]]:
    """Write a chunk in one transaction; each row in a savepoint so a row the database
    refuses is rejected alone."""
    errors: list[tuple[RowError, list[str]]] = []
    with transaction.atomic():
        for row, entry, values in chunk:
            try:
                with transaction.atomic():
                    campaign, created = _campaign_for(entry)
                    key = f"{campaign.pk}|{entry.day.isoformat()}|{entry.currency}"
                    first = seen.first_rows([key]).get(key)
                    if first is not None:
                        raise InputError(
                            f"date: duplicate of row {first} (same campaign, day and currency)"
                        )
                    seen.add({key: row})
                    recorded = _upsert(entry)
            except InputError as exc:
                errors.append((_row_error(row, cols, exc), values))
                continue
            except DatabaseError as exc:
                errors.append((RowError(row, "(row)", f"not stored: {exc}"), values))
                continue
            tally.campaigns_created += int(created)
            setattr(tally, recorded.outcome, getattr(tally, recorded.outcome) + 1)
    return errors
