"""CRM resources over HTTP: contacts, accounts, campaigns, spend, touchpoints, stage history.

Lists are pages in id order: ``limit`` (1–500, default 100) and ``after`` (the opaque ``next``
cursor of the previous page). Batch creates take at most 100 items and are **all or nothing**:
one bad item answers 422 with its index in ``loc`` and nothing is written.

Auth: a logged-in session (the dashboard; CSRF applies to writes), or an API key in
``Authorization: Bearer <key>`` with scope ``crm:read`` (reads) or ``crm:write`` (reads and
writes).

Responses are the services' own frozen records (``crm_records.ContactRecord``…, pydantic reads
dataclasses), so a field is declared once for the service, the JSON and the OpenAPI schema.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import ValidationError
from ninja.security import django_auth
from pydantic import Field

from onefunnel.api.auth import ApiKeyAuth, SessionRole
from onefunnel.api.root import api
from onefunnel.domain.access import Action, Actor
from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import Channel, TouchKind, Utm
from onefunnel.services import crm_records as crm
from onefunnel.services.access import SYSTEM, actor_for
from onefunnel.services.errors import InputError
from onefunnel.services.keys import CRM_READ, CRM_WRITE
from onefunnel.services.marketing import campaigns
from onefunnel.services.spend import SpendInput, SpendRecorded, record_spend, record_spend_batch
from onefunnel.services.touches import TouchInput, record_touch

P = ParamSpec("P")
R = TypeVar("R")


READ = [ApiKeyAuth(CRM_READ, CRM_WRITE), django_auth]
WRITE = [ApiKeyAuth(CRM_WRITE), django_auth]  # deals, activities: their services check per record
#: Contacts, accounts, touchpoints: the crm:write key, or a role that works the shared record.
WRITE_RECORD = [ApiKeyAuth(CRM_WRITE), SessionRole(Action.EDIT_RECORD)]
#: Campaigns and spend: the crm:write key, or marketing.
WRITE_MARKETING = [ApiKeyAuth(CRM_WRITE), SessionRole(Action.EDIT_MARKETING)]
router = Router(auth=READ)

_BATCH_ITEM = re.compile(r"^\[(\d+)\] (.*)$", re.S)


def _invalid(exc: InputError) -> ValidationError:
    """An InputError ("field: message", batch items prefixed "[i] ") as a 422 in the API format."""
    text = str(exc)
    loc: list[str | int] = []
    match = _BATCH_ITEM.match(text)
    if match:
        loc, text = ["items", int(match.group(1))], match.group(2)
    field, _, msg = text.partition(": ")
    if msg and " " not in field:
        return ValidationError([{"loc": [*loc, field], "msg": msg}])
    return ValidationError([{"loc": loc, "msg": text}])


def inputs(func: Callable[P, R]) -> Callable[P, R]:
    """Let a service's InputError answer 422 in the API's error format."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            raise _invalid(exc) from None

    return wrapper


def _utc(value: datetime | None) -> datetime | None:
    # Stored in UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts (+18:52).
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _fields(payload: Schema, *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in payload.model_dump(exclude_unset=True).items() if k not in drop}


# ------------------------------------------------------------------------------- contacts


class ContactFields(Schema):
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    phone: str | None = None
    country: str | None = None
    account_id: int | None = None
    properties: dict[str, Any] | None = None


class ContactIn(ContactFields):
    email: str


class ContactBatch(Schema):
    items: list[ContactIn] = Field(max_length=crm.MAX_BATCH)


@router.get("/contacts", response=crm.Page[crm.ContactRecord], tags=["contacts"])
@inputs
def list_contacts(
    request: HttpRequest,
    stage: Stage | None = None,
    account: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Any:
    """Contacts by id, filtered by stage, account and creation time [since, until)."""
    return crm.list_contacts(
        stage=stage, account_id=account, since=_utc(since), until=_utc(until), after=after,
        limit=limit,
    )  # fmt: skip


@router.get("/contacts/{int:contact_id}", response=crm.ContactRecord, tags=["contacts"])
def get_contact(request: HttpRequest, contact_id: int) -> Any:
    """One contact."""
    return crm.get_contact(contact_id)


@router.post("/contacts", response={201: crm.ContactRecord}, auth=WRITE_RECORD, tags=["contacts"])
@inputs
def create_contact(request: HttpRequest, payload: ContactIn) -> Any:
    """Create a contact; 422 if the email is taken (PUT /contacts/by-email/{email} upserts)."""
    return Status(201, crm.create_contact(payload.email, _fields(payload, drop=("email",))))


@router.patch(
    "/contacts/{int:contact_id}", response=crm.ContactRecord, auth=WRITE_RECORD, tags=["contacts"]
)
@inputs
def update_contact(request: HttpRequest, contact_id: int, payload: ContactFields) -> Any:
    """Set the fields given (an empty string clears a text field)."""
    return crm.update_contact(contact_id, _fields(payload))


@router.put(
    "/contacts/by-email/{email}", response={200: crm.ContactRecord, 201: crm.ContactRecord}, auth=WRITE_RECORD,
    tags=["contacts"],
)  # fmt: skip
@inputs
def upsert_contact(request: HttpRequest, email: str, payload: ContactFields) -> Any:
    """Create or update the contact with this email (201 when created); empty values never
    erase what is known."""
    contact, created = crm.upsert_contact_by_email(email, _fields(payload))
    return Status(201 if created else 200, contact)


@router.post(
    "/contacts/batch", response={201: list[crm.ContactRecord]}, auth=WRITE_RECORD, tags=["contacts"]
)
@inputs
def create_contacts(request: HttpRequest, payload: ContactBatch) -> Any:
    """Create up to 100 contacts, all or nothing."""
    items = [(item.email, _fields(item, drop=("email",))) for item in payload.items]
    return Status(201, crm.create_contacts(items))


# ------------------------------------------------------------------------------- accounts


class AccountFields(Schema):
    name: str | None = None
    industry: str | None = None
    employee_count: int | None = Field(default=None, ge=0)
    country: str | None = None
    region: str | None = None
    properties: dict[str, Any] | None = None


class AccountIn(AccountFields):
    domain: str | None = None


class AccountBatch(Schema):
    items: list[AccountIn] = Field(max_length=crm.MAX_BATCH)


@router.get("/accounts", response=crm.Page[crm.AccountRecord], tags=["accounts"])
@inputs
def list_accounts(
    request: HttpRequest,
    stage: Stage | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Any:
    """Accounts by id, filtered by stage and creation time [since, until)."""
    return crm.list_accounts(
        stage=stage, since=_utc(since), until=_utc(until), after=after, limit=limit
    )


@router.get("/accounts/{int:account_id}", response=crm.AccountRecord, tags=["accounts"])
def get_account(request: HttpRequest, account_id: int) -> Any:
    """One account."""
    return crm.get_account(account_id)


@router.post("/accounts", response={201: crm.AccountRecord}, auth=WRITE_RECORD, tags=["accounts"])
@inputs
def create_account(request: HttpRequest, payload: AccountIn) -> Any:
    """Create an account; 422 if the domain is taken (PUT /accounts/by-domain/{domain} upserts)."""
    return Status(201, crm.create_account(payload.domain, _fields(payload, drop=("domain",))))


@router.patch(
    "/accounts/{int:account_id}", response=crm.AccountRecord, auth=WRITE_RECORD, tags=["accounts"]
)
@inputs
def update_account(request: HttpRequest, account_id: int, payload: AccountFields) -> Any:
    """Set the fields given."""
    return crm.update_account(account_id, _fields(payload))


@router.put(
    "/accounts/by-domain/{domain}", response={200: crm.AccountRecord, 201: crm.AccountRecord}, auth=WRITE_RECORD,
    tags=["accounts"],
)  # fmt: skip
@inputs
def upsert_account(request: HttpRequest, domain: str, payload: AccountFields) -> Any:
    """Create or update the account with this domain (201 when created)."""
    account, created = crm.upsert_account_by_domain(domain, _fields(payload))
    return Status(201 if created else 200, account)


@router.post(
    "/accounts/batch", response={201: list[crm.AccountRecord]}, auth=WRITE_RECORD, tags=["accounts"]
)
@inputs
def create_accounts(request: HttpRequest, payload: AccountBatch) -> Any:
    """Create up to 100 accounts, all or nothing."""
    items = [(item.domain, _fields(item, drop=("domain",))) for item in payload.items]
    return Status(201, crm.create_accounts(items))


# ------------------------------------------------------------------------------ campaigns


class CampaignFields(Schema):
    name: str | None = None
    channel: Channel | None = None
    start_date: date | None = None
    end_date: date | None = None
    budget: Decimal | None = None
    currency: str | None = None
    planned: bool | None = None


class CampaignIn(CampaignFields):
    utm_campaign: str
    channel: Channel


class CampaignBatch(Schema):
    items: list[CampaignIn] = Field(max_length=crm.MAX_BATCH)


def _marketer(request: HttpRequest) -> Actor:
    """Who edits campaigns: the signed-in user, or — for a crm:write key, whose scope opened
    the door — the system (``services.marketing.campaigns`` asks the rule book either way)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return actor_for(user)
    return SYSTEM


def _campaign_fields(payload: Schema, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    fields = _fields(payload, drop=drop)
    if isinstance(fields.get("channel"), Channel):
        fields["channel"] = fields["channel"].value
    return fields


@router.get("/campaigns", response=crm.Page[crm.CampaignRecord], tags=["campaigns"])
@inputs
def list_campaigns(
    request: HttpRequest,
    channel: Channel | None = None,
    planned: bool | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Any:
    """Campaigns by id, filtered by channel and planned (false: created from unknown UTM keys)."""
    return crm.list_campaigns(channel=channel, planned=planned, after=after, limit=limit)


@router.get("/campaigns/{int:campaign_id}", response=crm.CampaignRecord, tags=["campaigns"])
def get_campaign(request: HttpRequest, campaign_id: int) -> Any:
    """One campaign."""
    return crm.get_campaign(campaign_id)


@router.post(
    "/campaigns", response={201: crm.CampaignRecord}, auth=WRITE_MARKETING, tags=["campaigns"]
)
@inputs
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Any:
    """Create a planned campaign with its UTM key, channel, dates and budget."""
    fields = _campaign_fields(payload, drop=("utm_campaign",))
    return Status(201, campaigns.create_campaign(_marketer(request), payload.utm_campaign, fields))


@router.patch(
    "/campaigns/{int:campaign_id}",
    response=crm.CampaignRecord,
    auth=WRITE_MARKETING,
    tags=["campaigns"],
)
@inputs
def update_campaign(request: HttpRequest, campaign_id: int, payload: CampaignFields) -> Any:
    """Set the fields given (e.g. plan an unplanned campaign)."""
    return campaigns.update_campaign(_marketer(request), campaign_id, _campaign_fields(payload))


@router.post(
    "/campaigns/batch",
    response={201: list[crm.CampaignRecord]},
    auth=WRITE_MARKETING,
    tags=["campaigns"],
)
@inputs
def create_campaigns(request: HttpRequest, payload: CampaignBatch) -> Any:
    """Create up to 100 campaigns, all or nothing."""
    items = [
        (item.utm_campaign, _campaign_fields(item, drop=("utm_campaign",)))
        for item in payload.items
    ]
    actor = _marketer(request)
    return Status(201, crm.run_batch(items, lambda i: campaigns.create_campaign(actor, i[0], i[1])))


# ---------------------------------------------------------------------------------- spend


class SpendIn(Schema):
    campaign: str = Field(description="UTM key or name; unknown ones are created (unplanned)")
    day: date
    amount: Decimal
    currency: str = ""
    channel: Channel | None = None


class SpendBatch(Schema):
    items: list[SpendIn] = Field(max_length=crm.MAX_BATCH)


def _spend_input(item: SpendIn) -> SpendInput:
    return SpendInput(item.campaign, item.day, item.amount, item.currency, item.channel)


@router.get("/spend", response=crm.Page[crm.SpendRecord], tags=["spend"])
@inputs
def list_spend(
    request: HttpRequest,
    campaign: int | None = None,
    channel: Channel | None = None,
    since: date | None = None,
    until: date | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Any:
    """Spend entries by id, filtered by campaign, channel and day [since, until)."""
    return crm.list_spend(
        campaign_id=campaign, channel=channel, since=since, until=until, after=after, limit=limit
    )


@router.post("/spend", response=SpendRecorded, auth=WRITE_MARKETING, tags=["spend"])
@inputs
def put_spend(request: HttpRequest, payload: SpendIn) -> Any:
    """Create or replace one day of a campaign's spend (upsert on campaign, day, currency)."""
    return record_spend(_spend_input(payload))


@router.post("/spend/batch", response=list[SpendRecorded], auth=WRITE_MARKETING, tags=["spend"])
@inputs
def put_spend_batch(request: HttpRequest, payload: SpendBatch) -> Any:
    """Up to 100 spend entries, all or nothing."""
    return record_spend_batch([_spend_input(item) for item in payload.items])


# ---------------------------------------------------------------- touchpoints and history


class UtmIn(Schema):
    source: str = ""
    medium: str = ""
    campaign: str = ""
    term: str = ""
    content: str = ""


class TouchpointIn(Schema):
    message_id: str = Field(description="The source's id: sending it twice records it once")
    kind: TouchKind
    occurred_at: datetime
    contact_id: int | None = None
    anonymous_id: str = ""
    channel: Channel | None = None
    utm: UtmIn = UtmIn()
    properties: dict[str, Any] = {}


class TouchpointBatch(Schema):
    items: list[TouchpointIn] = Field(max_length=crm.MAX_BATCH)


def _record(item: TouchpointIn, actor_id: int | None) -> crm.TouchpointRecord:
    recorded = record_touch(
        TouchInput(
            message_id=item.message_id, kind=item.kind, occurred_at=item.occurred_at,
            contact_id=item.contact_id, anonymous_id=item.anonymous_id, channel=item.channel,
            utm=Utm(**item.utm.model_dump()), properties=item.properties, actor_id=actor_id,
        )
    )  # fmt: skip
    return crm.get_touchpoint(recorded.touchpoint_id)


def _actor(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    return int(user.pk) if user is not None and user.is_authenticated else None


@router.get("/touchpoints", response=crm.Page[crm.TouchpointRecord], tags=["touchpoints"])
@inputs
def list_touchpoints(
    request: HttpRequest,
    contact: int | None = None,
    account: int | None = None,
    campaign: int | None = None,
    channel: Channel | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Any:
    """Touchpoints by id, filtered by contact, account, campaign, channel and time."""
    return crm.list_touchpoints(
        contact_id=contact, account_id=account, campaign_id=campaign, channel=channel,
        since=_utc(since), until=_utc(until), after=after, limit=limit,
    )  # fmt: skip


@router.get("/touchpoints/{int:touchpoint_id}", response=crm.TouchpointRecord, tags=["touchpoints"])
def get_touchpoint(request: HttpRequest, touchpoint_id: int) -> Any:
    """One touchpoint."""
    return crm.get_touchpoint(touchpoint_id)


@router.post(
    "/touchpoints", response={201: crm.TouchpointRecord}, auth=WRITE_RECORD, tags=["touchpoints"]
)
@inputs
def create_touchpoint(request: HttpRequest, payload: TouchpointIn) -> Any:
    """Record a touch (idempotent on message_id) and the stage move it implies."""
    return Status(201, _record(payload, _actor(request)))


@router.post(
    "/touchpoints/batch",
    response={201: list[crm.TouchpointRecord]},
    auth=WRITE_RECORD,
    tags=["touchpoints"],
)
@inputs
def create_touchpoints(request: HttpRequest, payload: TouchpointBatch) -> Any:
    """Record up to 100 touches, all or nothing."""
    actor = _actor(request)
    return Status(201, crm.run_batch(payload.items, lambda item: _record(item, actor)))


@router.get("/stage-changes", response=crm.Page[crm.StageChangeRecord], tags=["stage history"])
@inputs
def list_stage_changes(
    request: HttpRequest,
    contact: int | None = None,
    account: int | None = None,
    stage: Stage | None = None,
    cause: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: str | None = None,
    limit: int = 100,
) -> Any:
    """The append-only stage history, filtered by subject, target stage, cause and time."""
    return crm.list_stage_changes(
        contact_id=contact, account_id=account, stage=stage, cause=cause, since=_utc(since),
        until=_utc(until), after=after, limit=limit,
    )  # fmt: skip


@router.get(
    "/stage-changes/{int:change_id}", response=crm.StageChangeRecord, tags=["stage history"]
)
def get_stage_change(request: HttpRequest, change_id: int) -> Any:
    """One stage change."""
    return crm.get_stage_change(change_id)


api.add_router("/", router)
