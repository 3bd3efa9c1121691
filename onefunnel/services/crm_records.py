"""The CRM's records as the API serves them: list (cursor pages, filters), get, create, update,
upsert by natural key, and batch create — contacts, accounts, campaigns, touchpoints, stage
history. Every function returns frozen dataclasses (or pages of them), never ORM objects.

Writes validate with the models' own field rules (lengths, email format, choices) and raise
InputError naming the field; each call is one transaction. Batches are **all or nothing**: the
first bad item raises InputError prefixed with its index (``[3] email: …``) and nothing is
written, so a client can fix the item and send the same batch again.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from onefunnel.domain.provenance import API, stamped
from onefunnel.domain.touches import describe_touch
from onefunnel.models import Account, Campaign, Contact, Spend, StageChange, Touchpoint
from onefunnel.services.contacts import normalise_domain, normalise_email
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.campaign_rules import check_campaign

MAX_LIMIT = 500
MAX_BATCH = 100
T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=Model)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and the cursor of the next (None on the last page)."""

    items: list[T]
    next: str | None


#: The largest id a database row can have (a signed 64-bit integer on every engine).
MAX_ID = 2**63 - 1


def check_id(value: int, field: str) -> int:
    """An id filter, or InputError naming the field when no row can have it (beyond 64 bits):
    the same answer on every engine, not an overflow on one and nothing found on another."""
    if not -MAX_ID <= value <= MAX_ID:
        raise InputError(f"{field}: out of range (at most {MAX_ID})")
    return value


def encode_cursor(last_id: int) -> str:
    """An opaque cursor for "after this id"."""
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands for; InputError if it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "id" or not value.isdigit() or int(value) > MAX_ID:
            raise ValueError(text)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InputError(f"after: not a cursor from this API: {cursor!r}") from None


def _page(rows: QuerySet[M], after: str | None, limit: int, view: Callable[[M], T]) -> Page[T]:
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit: between 1 and {MAX_LIMIT}")
    if after:
        rows = rows.filter(pk__gt=decode_cursor(after))
    found = list(rows.order_by("pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return Page([view(r) for r in found], encode_cursor(found[-1].pk) if more else None)


def _between(rows: QuerySet[M], field: str, since: Any, until: Any) -> QuerySet[M]:
    """Half-open time filter: since ≤ field < until."""
    if since is not None:
        rows = rows.filter(**{f"{field}__gte": since})
    if until is not None:
        rows = rows.filter(**{f"{field}__lt": until})
    return rows


def _check(obj: Model, exclude: Sequence[str] = ()) -> None:
    """Validate with the model's field rules; InputError names the first bad field."""
    try:
        obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InputError(f"{field}: {' '.join(messages)}") from None


def _get(model: type[M], pk: int, name: str) -> M:
    if not 0 < pk <= MAX_ID:
        raise NotFoundError(f"id: no {name} #{pk}")
    obj: M | None = model._default_manager.filter(pk=pk).first()
    if obj is None:
        raise NotFoundError(f"id: no {name} #{pk}")
    return obj


def run_batch(items: Sequence[T], create: Callable[[T], R]) -> list[R]:
    """Run ``create`` over at most MAX_BATCH items in one transaction, all or nothing; the first
    failure raises InputError prefixed with the item's index."""
    if len(items) > MAX_BATCH:
        raise InputError(f"items: at most {MAX_BATCH} per batch (got {len(items)})")
    results = []
    with transaction.atomic():
        for i, item in enumerate(items):
            try:
                results.append(create(item))
            except (InputError, NotFoundError) as exc:
                raise InputError(f"[{i}] {exc}") from None
    return results


# --------------------------------------------------------------------------------- contacts

CONTACT_WRITABLE = ("first_name", "last_name", "title", "phone", "country", "account_id",
                    "properties")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A contact as the API shows it."""

    id: int
    email: str | None
    first_name: str
    last_name: str
    title: str
    phone: str
    country: str
    account_id: int | None
    stage: str | None
    score: float | None
    properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Contact) -> ContactRecord:
        """The frozen view of a stored contact."""
        return cls(
            c.pk, c.email, c.first_name, c.last_name, c.title, c.phone, c.country,
            c.account_id, c.stage, c.score, dict(c.properties), c.created_at, c.updated_at,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return asdict(self)


def list_contacts(
    *,
    stage: str | None = None,
    account_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page[ContactRecord]:
    """Contacts in id order, filtered by stage, account and creation time [since, until)."""
    rows = Contact.objects.all()
    if stage:
        rows = rows.filter(stage=stage)
    if account_id is not None:
        rows = rows.filter(account_id=check_id(account_id, "account"))
    return _page(_between(rows, "created_at", since, until), after, limit, ContactRecord.of)


def get_contact(contact_id: int) -> ContactRecord:
    """One contact; NotFoundError if there is none."""
    return ContactRecord.of(_get(Contact, contact_id, "contact"))


def _set_contact(contact: Contact, fields: Mapping[str, Any], *, keep_known: bool) -> bool:
    unknown = set(fields) - set(CONTACT_WRITABLE)
    if unknown:
        raise InputError(f"{sorted(unknown)[0]}: not a writable field")
    changed = False
    set_here: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "properties":
            value = {**contact.properties, **(value or {})}
        elif name == "account_id" and value is not None:
            _get(Account, value, "account")
        elif keep_known and value in (None, ""):
            continue
        if name == "country" and isinstance(value, str):
            value = value.upper()
        if getattr(contact, name) != value:
            setattr(contact, name, "" if value is None and name != "account_id" else value)
            changed = True
            if name != "properties":
                set_here[name] = getattr(contact, name)
    if set_here:
        # Provenance: a value set through the API is never overwritten by tracking traits.
        contact.properties = stamped(contact.properties, set_here, API, timezone.now())
    _check(contact, exclude=["owner", "account", "created_at", "updated_at"])
    return changed


def create_contact(email: str, fields: Mapping[str, Any]) -> ContactRecord:
    """Create a contact; InputError if the email is taken (use the upsert to update)."""
    key = normalise_email(email)
    with transaction.atomic():
        if Contact.objects.filter(email=key).exists():
            raise InputError(
                f"email: a contact with {key} exists (PUT /contacts/by-email/ updates)"
            )
        contact = Contact(email=key, created_at=timezone.now())
        _set_contact(contact, fields, keep_known=False)
        contact.save()
    return ContactRecord.of(contact)


def update_contact(contact_id: int, fields: Mapping[str, Any]) -> ContactRecord:
    """Set the given fields of a contact (an empty string clears a text field)."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
        if contact is None:
            raise NotFoundError(f"id: no contact #{contact_id}")
        if _set_contact(contact, fields, keep_known=False):
            contact.save()
    return ContactRecord.of(contact)


def upsert_contact_by_email(email: str, fields: Mapping[str, Any]) -> tuple[ContactRecord, bool]:
    """The contact with this email, created or updated; empty values never erase what is
    known. Returns (contact, created)."""
    key = normalise_email(email)
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(email=key).first()
        created = contact is None
        if contact is None:
            contact = Contact(email=key, created_at=timezone.now())
        if _set_contact(contact, fields, keep_known=True) or created:
            contact.save()
    return ContactRecord.of(contact), created


def create_contacts(items: Sequence[tuple[str, Mapping[str, Any]]]) -> list[ContactRecord]:
    """Batch create, all or nothing (see the module docstring)."""
    return run_batch(items, lambda item: create_contact(item[0], item[1]))


# --------------------------------------------------------------------------------- accounts

ACCOUNT_WRITABLE = ("name", "industry", "employee_count", "country", "region", "properties")


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """An account as the API shows it."""

    id: int
    name: str
    domain: str | None
    industry: str
    employee_count: int | None
    country: str
    region: str
    stage: str | None
    properties: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, a: Account) -> AccountRecord:
        """The frozen view of a stored account."""
        return cls(
            a.pk, a.name, a.domain, a.industry, a.employee_count, a.country, a.region, a.stage,
            dict(a.properties), a.created_at, a.updated_at,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return asdict(self)


def list_accounts(
    *,
    stage: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page[AccountRecord]:
    """Accounts in id order, filtered by stage and creation time [since, until)."""
    rows = Account.objects.all()
    if stage:
        rows = rows.filter(stage=stage)
    return _page(_between(rows, "created_at", since, until), after, limit, AccountRecord.of)


def get_account(account_id: int) -> AccountRecord:
    """One account; NotFoundError if there is none."""
    return AccountRecord.of(_get(Account, account_id, "account"))


def _set_account(account: Account, fields: Mapping[str, Any], *, keep_known: bool) -> bool:
    unknown = set(fields) - set(ACCOUNT_WRITABLE)
    if unknown:
        raise InputError(f"{sorted(unknown)[0]}: not a writable field")
    changed = False
    for name, value in fields.items():
        if name == "properties":
            value = {**account.properties, **(value or {})}
        elif keep_known and value in (None, ""):
            continue
        if name == "country" and isinstance(value, str):
            value = value.upper()
        if getattr(account, name) != value:
            setattr(account, name, "" if value is None and name != "employee_count" else value)
            changed = True
    if not account.name:
        raise InputError("name: required")
    _check(account, exclude=["owner", "created_at", "updated_at"])
    return changed


def create_account(domain: str | None, fields: Mapping[str, Any]) -> AccountRecord:
    """Create an account (domain optional but unique); InputError if the domain is taken."""
    key = normalise_domain(domain) if domain else None
    with transaction.atomic():
        if key and Account.objects.filter(domain=key).exists():
            raise InputError(
                f"domain: an account with {key} exists (PUT /accounts/by-domain/ updates)"
            )
        account = Account(
            domain=key, name=fields.get("name") or key or "", created_at=timezone.now()
        )
        _set_account(account, fields, keep_known=False)
        account.save()
    return AccountRecord.of(account)


def update_account(account_id: int, fields: Mapping[str, Any]) -> AccountRecord:
    """Set the given fields of an account."""
    with transaction.atomic():
        account = Account.objects.select_for_update().filter(pk=account_id).first()
        if account is None:
            raise NotFoundError(f"id: no account #{account_id}")
        if _set_account(account, fields, keep_known=False):
            account.save()
    return AccountRecord.of(account)


def upsert_account_by_domain(domain: str, fields: Mapping[str, Any]) -> tuple[AccountRecord, bool]:
    """The account with this domain, created or updated; empty values never erase what is known."""
    key = normalise_domain(domain)
    with transaction.atomic():
        account = Account.objects.select_for_update().filter(domain=key).first()
        created = account is None
        if account is None:
            account = Account(domain=key, name=fields.get("name") or key, created_at=timezone.now())
        if _set_account(account, fields, keep_known=True) or created:
            account.save()
    return AccountRecord.of(account), created


def create_accounts(items: Sequence[tuple[str | None, Mapping[str, Any]]]) -> list[AccountRecord]:
    """Batch create, all or nothing (see the module docstring)."""
    return run_batch(items, lambda item: create_account(item[0], item[1]))


# -------------------------------------------------------------------------------- campaigns

CAMPAIGN_WRITABLE = ("name", "channel", "start_date", "end_date", "budget", "currency", "planned")


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """A campaign as the API shows it."""

    id: int
    name: str
    utm_campaign: str
    channel: str
    start_date: date | None
    end_date: date | None
    budget: Decimal | None
    currency: str
    planned: bool

    @classmethod
    def of(cls, c: Campaign) -> CampaignRecord:
        """The frozen view of a stored campaign."""
        budget = Decimal(str(c.budget)) if c.budget is not None else None
        return cls(
            c.pk, c.name, c.utm_campaign, c.channel, c.start_date, c.end_date, budget,
            c.currency, c.planned,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return asdict(self)


def list_campaigns(
    *,
    channel: str | None = None,
    planned: bool | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page[CampaignRecord]:
    """Campaigns in id order, filtered by channel and planned/unplanned."""
    rows = Campaign.objects.all()
    if channel:
        rows = rows.filter(channel=channel)
    if planned is not None:
        rows = rows.filter(planned=planned)
    return _page(rows, after, limit, CampaignRecord.of)


def get_campaign(campaign_id: int) -> CampaignRecord:
    """One campaign; NotFoundError if there is none."""
    return CampaignRecord.of(_get(Campaign, campaign_id, "campaign"))


def _set_campaign(campaign: Campaign, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(CAMPAIGN_WRITABLE)
    if unknown:
        raise InputError(f"{sorted(unknown)[0]}: not a writable field")
    for name, value in fields.items():
        if name == "budget" and value is not None and Decimal(value) < 0:
            raise InputError("budget: must not be negative")
        if name == "currency" and isinstance(value, str):
            value = value.upper()
        setattr(campaign, name, value)
    check_campaign(campaign)
    _check(campaign, exclude=["created_at"])


def create_campaign(utm_campaign: str, fields: Mapping[str, Any]) -> CampaignRecord:
    """Create a planned campaign with its UTM key; InputError if the key is taken."""
    key = utm_campaign.strip()
    if not key:
        raise InputError("utm_campaign: required")
    with transaction.atomic():
        if Campaign.objects.filter(utm_campaign=key).exists():
            raise InputError(f"utm_campaign: a campaign with key {key!r} exists")
        campaign = Campaign(utm_campaign=key, name=fields.get("name") or key, planned=True)
        _set_campaign(campaign, fields)
        campaign.save()
    return CampaignRecord.of(campaign)


def update_campaign(campaign_id: int, fields: Mapping[str, Any]) -> CampaignRecord:
    """Set the given fields (e.g. plan an unplanned campaign: budget, dates, planned=true)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise NotFoundError(f"id: no campaign #{campaign_id}")
        _set_campaign(campaign, fields)
        campaign.save()
    return CampaignRecord.of(campaign)


def create_campaigns(items: Sequence[tuple[str, Mapping[str, Any]]]) -> list[CampaignRecord]:
    """Batch create, all or nothing (see the module docstring)."""
    return run_batch(items, lambda item: create_campaign(item[0], item[1]))


# ------------------------------------------------------------------------------------ spend


@dataclass(frozen=True, slots=True)
class SpendRecord:
    """A spend entry as the API shows it."""

    id: int
    campaign_id: int
    day: date
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, s: Spend) -> SpendRecord:
        """The frozen view of a stored entry."""
        return cls(s.pk, s.campaign_id, s.day, Decimal(str(s.amount)), s.currency)


def list_spend(
    *,
    campaign_id: int | None = None,
    channel: str | None = None,
    since: date | None = None,
    until: date | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page[SpendRecord]:
    """Spend entries in id order, filtered by campaign, channel and day [since, until)."""
    rows = Spend.objects.all()
    if campaign_id is not None:
        rows = rows.filter(campaign_id=check_id(campaign_id, "campaign"))
    if channel:
        rows = rows.filter(campaign__channel=channel)
    return _page(_between(rows, "day", since, until), after, limit, SpendRecord.of)


# ------------------------------------------------------------------- touchpoints and history


@dataclass(frozen=True, slots=True)
class TouchpointRecord:
    """A touchpoint as the API shows it."""

    id: int
    message_id: str
    contact_id: int | None
    anonymous_id: str
    account_id: int | None
    kind: str
    team: str
    channel: str
    campaign_id: int | None
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    properties: dict[str, Any]
    occurred_at: datetime
    received_at: datetime
    description: str

    @classmethod
    def of(cls, t: Touchpoint) -> TouchpointRecord:
        """The frozen view of a stored touchpoint, with what happened in words."""
        return cls(
            t.pk, t.message_id, t.contact_id, t.anonymous_id, t.account_id, t.kind, t.team,
            t.channel, t.campaign_id, t.utm_source, t.utm_medium, t.utm_campaign, t.utm_term,
            t.utm_content, dict(t.properties), t.occurred_at, t.received_at,
            describe_touch(t.kind, t.properties),
        )  # fmt: skip


def list_touchpoints(
    *,
    contact_id: int | None = None,
    account_id: int | None = None,
    campaign_id: int | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page[TouchpointRecord]:
    """Touchpoints in id order, filtered by contact, account, campaign, channel and time."""
    rows = Touchpoint.objects.all()
    for name, value in (("contact_id", contact_id), ("account_id", account_id),
                        ("campaign_id", campaign_id), ("channel", channel)):  # fmt: skip
        if isinstance(value, int):
            check_id(value, name.removesuffix("_id"))
        if value is not None and value != "":
            rows = rows.filter(**{name: value})
    return _page(_between(rows, "occurred_at", since, until), after, limit, TouchpointRecord.of)


def get_touchpoint(touchpoint_id: int) -> TouchpointRecord:
    """One touchpoint; NotFoundError if there is none."""
    return TouchpointRecord.of(_get(Touchpoint, touchpoint_id, "touchpoint"))


@dataclass(frozen=True, slots=True)
class StageChangeRecord:
    """A stage change as the API shows it."""

    id: int
    contact_id: int | None
    account_id: int | None
    from_stage: str | None
    to_stage: str
    at: datetime
    recorded_at: datetime
    cause: str
    cause_id: str
    reason: str | None
    note: str

    @classmethod
    def of(cls, s: StageChange) -> StageChangeRecord:
        """The frozen view of a stored change."""
        return cls(
            s.pk, s.contact_id, s.account_id, s.from_stage, s.to_stage, s.at, s.recorded_at,
            s.cause, s.cause_id, s.reason, s.note,
        )  # fmt: skip


def list_stage_changes(
    *,
    contact_id: int | None = None,
    account_id: int | None = None,
    stage: str | None = None,
    cause: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Page[StageChangeRecord]:
    """Stage changes in recorded order, filtered by subject, target stage, cause and time."""
    rows = StageChange.objects.all()
    for name, value in (("contact_id", contact_id), ("account_id", account_id),
                        ("to_stage", stage), ("cause", cause)):  # fmt: skip
        if isinstance(value, int):
            check_id(value, name.removesuffix("_id"))
        if value is not None and value != "":
            rows = rows.filter(**{name: value})
    return _page(_between(rows, "at", since, until), after, limit, StageChangeRecord.of)


def get_stage_change(change_id: int) -> StageChangeRecord:
    """One stage change; NotFoundError if there is none."""
    return StageChangeRecord.of(_get(StageChange, change_id, "stage change"))
