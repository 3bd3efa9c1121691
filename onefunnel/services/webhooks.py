"""Outbound webhooks, as the Standard Webhooks specification describes them.

Sending is split in two so that nothing is lost and nothing is sent for a change that rolled
back (the outbox pattern):

1. ``enqueue_event`` writes one delivery row per subscribed endpoint *in the caller's
   transaction*, next to the change it announces.
2. ``deliver_due`` (run by ``onefunnel worker``) claims due rows, POSTs them outside any
   transaction, and records the outcome: delivered on a 2xx, otherwise retried with exponential
   backoff (30 s, 2 min, 8 min, … capped at 6 h) until ``MAX_ATTEMPTS``, then failed.

Each message carries ``webhook-id`` (the same on every retry, so receivers can deduplicate),
``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with the base64-decoded secret
that follows the ``whsec_`` prefix.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.utils import timezone

from onefunnel.models import WebhookDelivery, WebhookEndpoint
from onefunnel.services.errors import InputError, NotFoundError

EVENT_TYPES = frozenset(
    {"handoff.created", "handoff.accepted", "handoff.rejected", "handoff.sla_breached"}
)
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=6)
#: A claimed delivery is not picked up by another worker for this long.
LEASE = timedelta(minutes=2)
TIMEOUT_SECONDS = 10.0
SECRET_PREFIX = "whsec_"


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: ×4 each time, capped."""
    if attempts < 1:
        raise ValueError(f"attempts: expected 1 or more, got {attempts}")
    factor: int = 4 ** (attempts - 1)
    return min(FIRST_RETRY * factor, MAX_RETRY)


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise InputError("secret: expected a whsec_… secret")
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError:
        raise InputError("secret: the part after whsec_ is not base64") from None


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one message."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# ---------------------------------------------------------------------------------------------
# Endpoints


@dataclass(frozen=True, slots=True)
class EndpointView:
    """A subscribed endpoint (its secret shown only when it is created)."""

    id: int
    url: str
    events: tuple[str, ...]
    active: bool
    secret: str | None = None


def add_endpoint(
    url: str, *, events: Iterable[str] = (), secret: str | None = None, description: str = ""
) -> EndpointView:
    """Subscribe a URL to events (all of them when none are named); returns its secret."""
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise InputError(f"url: not an http(s) URL: {url!r}") from None
    chosen = tuple(sorted(set(events)))
    unknown = [e for e in chosen if e not in EVENT_TYPES]
    if unknown:
        raise InputError(
            f"events: unknown event {unknown[0]!r} (one of: {', '.join(sorted(EVENT_TYPES))})"
        )
    key = secret or new_secret()
    _key(key)
    endpoint = WebhookEndpoint.objects.create(
        url=url, secret=key, events=list(chosen), description=description[:200]
    )
    return EndpointView(endpoint.pk, endpoint.url, chosen, endpoint.active, key)


def list_endpoints() -> list[EndpointView]:
    """Every endpoint, oldest first (without secrets)."""
    return [
        EndpointView(e.pk, e.url, tuple(e.events), e.active)
        for e in WebhookEndpoint.objects.order_by("pk")
    ]


# ---------------------------------------------------------------------------------------------
# The outbox


def enqueue_event(event_type: str, data: Mapping[str, Any], *, now: datetime) -> int:
    """Queue an event for every active endpoint subscribed to it, in the caller's transaction;
    returns how many deliveries were queued."""
    if event_type not in EVENT_TYPES:
        raise InputError(f"event_type: unknown event {event_type!r}")
    endpoints = [
        e.pk
        for e in WebhookEndpoint.objects.filter(active=True).only("pk", "events")
        if not e.events or event_type in e.events
    ]
    if not endpoints:
        return 0
    message_id = f"msg_{uuid.uuid4().hex}"
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": dict(data)}
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint_id=pk,
            message_id=message_id,
            event_type=event_type,
            payload=orjson.loads(orjson.dumps(payload, default=str)),
            created_at=now,
            next_attempt_at=now,
        )
        for pk in endpoints
    )
    return len(endpoints)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """One attempt: which delivery, its status after the attempt, and the HTTP status code."""

    delivery_id: int
    status: str
    status_code: int | None
    error: str


def _claim(now: datetime, limit: int) -> list[int]:
    """Take up to ``limit`` due deliveries by pushing their next attempt one lease ahead, so a
    second worker skips them; a worker that dies mid-send leaves them due again after it."""
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(
            status=WebhookDelivery.PENDING, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now + LEASE)
    return ids


def _attempt(delivery: WebhookDelivery, client: httpx.Client, now: datetime) -> DeliveryResult:
    body = orjson.dumps(delivery.payload)
    timestamp = int(now.timestamp())
    endpoint = delivery.endpoint
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(endpoint.secret, delivery.message_id, timestamp, body),
    }
    code: int | None = None
    error = ""
    try:
        response = client.post(endpoint.url, content=body, headers=headers)
        code = response.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "status_code": code,
        "last_error": error,
    }
    if not error:
        fields |= {
            "status": WebhookDelivery.DELIVERED,
            "delivered_at": now,
            "next_attempt_at": None,
        }
    elif attempts >= MAX_ATTEMPTS:
        fields |= {"status": WebhookDelivery.FAILED, "next_attempt_at": None}
    else:
        fields["next_attempt_at"] = now + retry_delay(attempts)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    return DeliveryResult(delivery.pk, fields.get("status", WebhookDelivery.PENDING), code, error)


def deliver_due(
    *, now: datetime | None = None, client: httpx.Client | None = None, limit: int = 100
) -> list[DeliveryResult]:
    """Send every delivery that is due (up to ``limit``) and record each attempt."""
    moment = now or timezone.now()
    ids = _claim(moment, limit)
    if not ids:
        return []
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
    try:
        deliveries = WebhookDelivery.objects.select_related("endpoint").filter(pk__in=ids)
        return [_attempt(d, http, moment) for d in deliveries.order_by("pk")]
    finally:
        if own:
            http.close()


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """A row of the delivery log."""

    id: int
    endpoint_url: str
    message_id: str
    event_type: str
    status: str
    attempts: int
    status_code: int | None
    last_error: str
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def delivery_log(*, limit: int = 50) -> list[DeliveryView]:
    """The newest deliveries first."""
    rows = WebhookDelivery.objects.select_related("endpoint").order_by("-pk")[:limit]
    return [
        DeliveryView(
            d.pk,
            d.endpoint.url,
            d.message_id,
            d.event_type,
            d.status,
            d.attempts,
            d.status_code,
            d.last_error,
            d.next_attempt_at,
            d.delivered_at,
        )
        for d in rows
    ]


def get_endpoint(endpoint_id: int) -> EndpointView:
    """One endpoint (without its secret)."""
    e = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if e is None:
        raise NotFoundError(f"id: no webhook endpoint #{endpoint_id}")
    return EndpointView(e.pk, e.url, tuple(e.events), e.active)
