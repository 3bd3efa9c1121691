"""API keys: create (the secret is shown once), list, revoke, and verify on every request.

Only a key's SHA-256 is stored. Keys are 256-bit random tokens, so a fast unsalted hash is safe
(there is nothing to brute-force) and a request is checked with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from onefunnel.domain.access import Action, Actor
from onefunnel.domain.origins import OriginError, normalise_origins
from onefunnel.models import ApiKey
from onefunnel.services.access import SYSTEM, require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.ops.audit import record_change

TRACKING_WRITE = "tracking:write"
CRM_READ = "crm:read"
CRM_WRITE = "crm:write"  # also allows reads
REPORTS_READ = "reports:read"  # the reports API; no access to CRM records themselves
SCOPES = frozenset({TRACKING_WRITE, CRM_READ, CRM_WRITE, REPORTS_READ})
KEY_PREFIX = "of_"
_TOUCH_INTERVAL = timedelta(minutes=1)
MAX_ORIGINS = 50
log = logging.getLogger("onefunnel.tracking")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as shown to people: never its secret."""

    id: int
    name: str
    scope: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    origins: tuple[str, ...] = ()
    refused_count: int = 0
    last_refused_origin: str = ""
    last_refused_at: datetime | None = None

    @classmethod
    def of(cls, key: ApiKey) -> KeyInfo:
        """The frozen view of a stored key."""
        return cls(
            key.pk,
            key.name,
            key.scope,
            key.prefix,
            key.created_at,
            key.last_used_at,
            key.revoked_at,
            tuple(key.origins or ()),
            key.refused_count,
            key.last_refused_origin,
            key.last_refused_at,
        )

    @property
    def is_browser_key(self) -> bool:
        """A key for web pages: it has origins, and may only write tracking."""
        return bool(self.origins)


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key with its secret: the only time the secret exists outside the caller."""

    info: KeyInfo
    secret: str


def hash_key(secret: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    scope: str, name: str = "", origins: Iterable[str] = (), *, actor: Actor = SYSTEM
) -> CreatedKey:
    """Create a key with one scope; the returned secret is never stored and cannot be shown again.

    ``origins`` make it a browser key: only pages of those web origins may send with it, and
    only tracking (a key in a web page is public, so it may do nothing else). The creation is
    in the audit log, by ``actor`` (the operator by default).
    """
    require(actor, Action.CONFIGURE)
    if scope not in SCOPES:
        raise InputError(f"scope: unknown scope {scope!r} (known: {', '.join(sorted(SCOPES))})")
    name = name.strip() or scope
    if len(name) > 100:
        raise InputError("name: at most 100 characters")
    try:
        allowed = normalise_origins(origins)
    except OriginError as exc:
        raise InputError(f"origin: {exc}") from None
    if allowed and scope != TRACKING_WRITE:
        raise InputError(
            f"origin: only a {TRACKING_WRITE} key may have origins (a key in a web page is "
            "public, so it may write tracking and nothing else)"
        )
    if len(allowed) > MAX_ORIGINS:
        raise InputError(f"origin: at most {MAX_ORIGINS} origins per key")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name,
            scope=scope,
            prefix=secret[:10],
            key_hash=hash_key(secret),
            origins=list(allowed),
        )
        origins_said = f", origins {' '.join(allowed)}" if allowed else ""
        record_change(
            actor,
            kind="key",
            action="created",
            record=f"key#{key.pk}",
            summary=f"key {name!r} ({scope}, {key.prefix}…{origins_said}) created",
            at=key.created_at,
        )
    return CreatedKey(KeyInfo.of(key), secret)


def list_keys(*, include_revoked: bool = False) -> list[KeyInfo]:
    """Every key, oldest first (revoked ones only when asked)."""
    keys = ApiKey.objects.order_by("id")
    if not include_revoked:
        keys = keys.filter(revoked_at__isnull=True)
    return [KeyInfo.of(k) for k in keys]


def revoke_key(key_id: int, *, actor: Actor = SYSTEM) -> KeyInfo:
    """Revoke a key from now on (idempotent: revoking twice keeps the first time); the
    revocation is in the audit log, by ``actor``."""
    require(actor, Action.CONFIGURE)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().filter(pk=key_id).first()
        if key is None:
            raise NotFoundError(f"id: no key #{key_id}")
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            record_change(
                actor,
                kind="key",
                action="revoked",
                record=f"key#{key.pk}",
                summary=f"key {key.name!r} ({key.scope}, {key.prefix}…) revoked",
                at=key.revoked_at,
            )
    return KeyInfo.of(key)


def verify_key(secret: str, scope: str) -> KeyInfo | None:
    """The live key with this secret and scope, or None.

    Marks the key used, at most once a minute, so that busy ingestion does not write a row on
    every request.
    """
    if not secret:
        return None
    key = ApiKey.objects.filter(
        key_hash=hash_key(secret), scope=scope, revoked_at__isnull=True
    ).first()
    if key is None or (key.origins and scope != TRACKING_WRITE):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= _TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return KeyInfo.of(key)


def browser_origins() -> frozenset[str]:
    """Every origin allowed on a live browser write key: the origins a CORS preflight may be
    answered for (a preflight carries no key; the request that follows is checked against
    its own key's list)."""
    allowed: set[str] = set()
    live = ApiKey.objects.filter(scope=TRACKING_WRITE, revoked_at__isnull=True)
    for origins in live.values_list("origins", flat=True):
        allowed.update(origins or ())
    return frozenset(allowed)


def record_refused_origins(refused: Mapping[int, tuple[str | None, int]]) -> None:
    """Count requests refused for their origin on their keys (key id → last origin, how many),
    shown by ``onefunnel keys list``, and log each key's refusals once."""
    now = timezone.now()
    for key_id, (origin, count) in refused.items():
        shown = origin if origin is not None else "(no Origin header)"
        ApiKey.objects.filter(pk=key_id).update(
            refused_count=F("refused_count") + count,
            last_refused_origin=shown[:200],
            last_refused_at=now,
        )
        log.warning(
            "tracking: refused %d request(s) with key #%d from origin %s (not on its list)",
            count,
            key_id,
            shown,
        )
