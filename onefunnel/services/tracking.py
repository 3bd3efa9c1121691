"""Ingest a batch of Segment messages in one transaction: every new ``track``, ``page`` or
``screen`` becomes one touchpoint; ``identify``, ``group`` and ``alias`` update the profile,
identity and account only (not touches: no touchpoint, no stage move), their ids kept so that a
resend is applied once. Each touch is attributed to its session's source (domain/sessions.py).

The write path is set-based, because a tracking endpoint receives thousands of messages a
second: one query finds the message ids already stored, one resolves the user ids, one the
anonymous ids, one the campaigns, one multi-row ``INSERT … ON CONFLICT (message_id) DO NOTHING``
stores the touchpoints (so a concurrent resend of the same batch still stores each message once),
and only contacts that received touches are locked and moved along the funnel by the domain's
touch rules, replayed in time order. The moves are written set-based (one multi-row insert of
stage changes, one update per resulting stage), with exactly the rows ``apply_stage_change``
would write; a contact moving into intent goes through ``apply_stage_change`` itself, because
entering intent opens a handoff there.

Several requests' batches can share one transaction (:func:`ingest_batches`, used by the
group-commit writer in :mod:`onefunnel.services.tracking_writer`): they are then processed as
one batch in arrival order, and each gets its own counts and errors.

Identity messages (identify, alias, group) are applied first, in the order sent, so that a
``page`` before an ``identify`` in the same batch already lands on the identified contact.

Bad input: each message is judged on its own. Invalid ones are returned in ``rejected`` (with
the field at fault) and nothing of them is written; every valid one is written. The caller
acknowledges only after this function returns, i.e. after the commit.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from onefunnel.domain.intent import handoff_trigger
from onefunnel.domain.sessions import DEFAULT_SESSION_GAP, LastEvent, Source, sessionise
from onefunnel.domain.stages import Cause, Stage, check_transition
from onefunnel.domain.touches import Channel, TouchKind, default_team
from onefunnel.domain.tracking import (
    EventError,
    EventType,
    PlannedMove,
    TouchRules,
    TrackingEvent,
    account_fields,
    channel_for_event,
    contact_fields,
    plan_stage_moves,
    rules_from_config,
    touch_kind,
)
from onefunnel.models import Campaign, Contact, ProfileMessage, StageChange, Touchpoint
from onefunnel.services import identity
from onefunnel.services.contacts import normalise_domain, normalise_email
from onefunnel.services.errors import InputError
from onefunnel.services.handoff_values import shared_statistics
from onefunnel.services.sales.orders import ORDER_EVENTS, order_event
from onefunnel.services.scoring import score_on_touches_many
from onefunnel.services.stages import apply_stage_change

_COLUMNS = (
    "message_id", "contact", "anonymous_id", "account", "kind", "team", "channel", "campaign",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "properties",
    "occurred_at", "received_at",
)  # fmt: skip
_INSERT_CHUNK = 1000
#: Messages that update the profile, identity and account: never touches (README, Tracking).
PROFILE_TYPES = frozenset({EventType.IDENTIFY, EventType.GROUP, EventType.ALIAS})
_LOOKUP_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What a batch did: touchpoints stored, messages already stored, messages refused."""

    accepted: int
    duplicates: int
    rejected: tuple[EventError, ...]
    stage_moves: int


@dataclass(frozen=True, slots=True)
class _Identity:
    email: str | None
    fields: dict[str, Any]
    domain: str | None = None


def _setting(name: str) -> Any:
    value = getattr(settings, name, None)
    if value is None and (raw := os.environ.get(name)):
        try:
            value = json.loads(raw)
        except ValueError:
            raise InputError(f"{name}: not valid JSON") from None
    return value


_rules_cache: dict[str, TouchRules] = {}


def current_rules() -> TouchRules:
    """The installation's touch rules: ``ONEFUNNEL_EVENT_KINDS`` (event name → touch kind),
    ``ONEFUNNEL_UTM_CHANNELS`` (medium, ``source/medium`` or ``source/`` → channel) and
    ``ONEFUNNEL_HIGH_INTENT_PATHS``, each from Django settings or a JSON environment variable,
    over the defaults."""
    config = (
        _setting("ONEFUNNEL_EVENT_KINDS"),
        _setting("ONEFUNNEL_UTM_CHANNELS"),
        _setting("ONEFUNNEL_HIGH_INTENT_PATHS"),
    )
    key = json.dumps(config, sort_keys=True, default=str)
    rules = _rules_cache.get(key)
    if rules is None:
        rules = rules_from_config(*config)
        _rules_cache.clear()
        _rules_cache[key] = rules
    return rules


def _identity_input(event: TrackingEvent) -> _Identity:
    """Validate an identify/group message's traits before anything is written."""
    where = f"{event.loc}.traits"
    try:
        if event.type is EventType.GROUP:
            domain, fields = account_fields(event.traits, where)
            return _Identity(None, fields, normalise_domain(domain) if domain else None)
        email, fields = contact_fields(event.traits, where)
        return _Identity(normalise_email(email) if email else None, fields)
    except InputError as exc:
        field, _, msg = str(exc).partition(": ")
        raise EventError(f"{where}.{'website' if field == 'domain' else field}", msg) from None


def _fresh(
    events: Sequence[tuple[int, TrackingEvent]],
) -> tuple[list[TrackingEvent], dict[str, int]]:
    """The messages not stored yet (the first copy wins), and the batch each came from."""
    unique: dict[str, tuple[int, TrackingEvent]] = {}
    for index, event in events:
        unique.setdefault(event.message_id, (index, event))
    ids = list(unique)
    stored: set[str] = set()
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        stored.update(
            Touchpoint.objects.filter(
                message_id__in=ids[start : start + _LOOKUP_CHUNK]
            ).values_list("message_id", flat=True)
        )
    profile_ids = [mid for mid, (_, event) in unique.items() if event.type in PROFILE_TYPES]
    for start in range(0, len(profile_ids), _LOOKUP_CHUNK):
        stored.update(
            ProfileMessage.objects.filter(
                message_id__in=profile_ids[start : start + _LOOKUP_CHUNK]
            ).values_list("message_id", flat=True)
        )
    fresh = [event for mid, (_, event) in unique.items() if mid not in stored]
    origin = {mid: index for mid, (index, _) in unique.items() if mid not in stored}
    return fresh, origin


def _campaigns(
    events: Sequence[TrackingEvent], rules: TouchRules
) -> dict[str, tuple[int, Channel]]:
    """Campaign id and channel per utm_campaign; unknown keys become *unplanned* campaigns."""
    first: dict[str, TrackingEvent] = {}
    for event in events:
        if event.utm.campaign:
            first.setdefault(event.utm.campaign, event)
    if not first:
        return {}

    def lookup(keys: Sequence[str]) -> dict[str, tuple[int, Channel]]:
        rows = Campaign.objects.filter(utm_campaign__in=keys).values_list(
            "utm_campaign", "id", "channel"
        )
        return {key: (pk, Channel(channel)) for key, pk, channel in rows}

    found = lookup(list(first))
    missing = [k for k in first if k not in found]
    if missing:
        Campaign.objects.bulk_create(
            [
                Campaign(
                    name=key,
                    utm_campaign=key,
                    channel=channel_for_event(first[key], rules).value,
                    planned=False,
                )
                for key in missing
            ],
            ignore_conflicts=True,
        )
        found.update(lookup(missing))
    return found


def _insert(rows: list[tuple[Any, ...]]) -> list[tuple[int, str]]:
    """Insert touchpoint rows, skipping stored message ids; (id, message_id) of the new ones.

    On PostgreSQL the rows go as one array per column (``INSERT … SELECT FROM unnest(…)``):
    a multi-row ``VALUES`` of 1,000 rows has 16,000 placeholders, and psycopg rewrites such a
    statement in Python on every call (it caches only short ones) — about a fifth of the
    tracking processor's time. Elsewhere, multi-row ``VALUES``.
    """
    meta = Touchpoint._meta
    quote = connection.ops.quote_name
    field_of = {f.name: f for f in meta.concrete_fields}
    columns = ", ".join(quote(field_of[name].column) for name in _COLUMNS)
    conflict = quote(field_of["message_id"].column)
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) "
    tail = f" ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote('id')}, {conflict}"
    if not rows:
        return []
    inserted: list[tuple[int, str]] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # JSON travels as text; the cast makes it jsonb on the server.
            arrays = ", ".join(
                "%s::text[]::jsonb[]" if db_type == "jsonb" else f"%s::{db_type}[]"
                for db_type in (field_of[name].db_type(connection) for name in _COLUMNS)
            )
            cursor.execute(
                f"{head}SELECT * FROM unnest({arrays}){tail}",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return [(int(pk), str(mid)) for pk, mid in cursor.fetchall()]
        one = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
        for start in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[start : start + _INSERT_CHUNK]
            sql = f"{head}VALUES {', '.join([one] * len(chunk))}{tail}"
            cursor.execute(sql, [value for row in chunk for value in row])
            inserted.extend((int(pk), str(mid)) for pk, mid in cursor.fetchall())
    return inserted


def ingest(events: Sequence[TrackingEvent], *, received_at: datetime | None = None) -> IngestResult:
    """Store a batch of messages as touchpoints in one transaction (see the module docstring).

    Resending a batch stores nothing twice: message ids already stored are counted as
    duplicates and change nothing.
    """
    return ingest_batches([events], received_at=received_at)[0]


def ingest_batches(
    batches: Sequence[Sequence[TrackingEvent]],
    *,
    received_at: datetime | None = None,
    received_each: Sequence[datetime] | None = None,
) -> list[IngestResult]:
    """Store several batches in one transaction, as one batch in the order given; a result each.

    A message id sent twice (in one batch or in two) is stored once, from its first copy; the
    other copies count as duplicates of their own batch. All or nothing at the database level:
    when the transaction fails, no batch of the group is stored. ``received_each`` gives each
    batch its own time of receipt (batches acknowledged earlier, expanded now).
    """
    received = received_at or (max(received_each) if received_each else timezone.now())
    arrival = list(received_each) if received_each else [received] * len(batches)
    rules = current_rules()
    rejected: list[list[EventError]] = [[] for _ in batches]
    valid_counts = [0] * len(batches)
    identities: dict[str, _Identity] = {}
    valid: list[tuple[int, TrackingEvent]] = []
    for index, events in enumerate(batches):
        for event in events:
            if event.type in (EventType.IDENTIFY, EventType.GROUP):
                try:
                    given = _identity_input(event)
                except EventError as exc:
                    rejected[index].append(exc)
                    continue
                identities.setdefault(event.message_id, given)
            valid.append((index, event))
            valid_counts[index] += 1
    accepted = [0] * len(batches)
    fresh_counts = [0] * len(batches)
    moves = [0] * len(batches)
    # One turn may open many handoffs: their expected values share one set of statistics.
    with transaction.atomic(), shared_statistics():
        fresh, origin = _fresh(valid)
        if fresh:
            received_of = {e.message_id: arrival[origin[e.message_id]] for e in fresh}
            inserted, applied, move_causes, merged_by = _store(
                fresh, identities, rules, received, received_of
            )
            batch_of_touch = {str(pk): origin[mid] for pk, mid in inserted}
            batch_of_touch.update({cause: origin[mid] for cause, mid in merged_by.items()})
            for mid in [*(mid for _, mid in inserted), *applied]:
                accepted[origin[mid]] += 1
            for cause in move_causes:
                moves[batch_of_touch[cause]] += 1
    for index in origin.values():
        fresh_counts[index] += 1
    return [
        IngestResult(accepted[i], valid_counts[i] - fresh_counts[i], tuple(rejected[i]), moves[i])
        for i in range(len(batches))
    ]


def _store(
    events: Sequence[TrackingEvent],
    identities: Mapping[str, _Identity],
    rules: TouchRules,
    received: datetime,
    received_of: Mapping[str, datetime],
) -> tuple[list[tuple[int, str]], list[str], list[str], dict[str, str]]:
    """Write fresh messages; (touchpoints inserted as (id, message id), the profile messages
    applied, the cause of each stage move, and the message that merged each earlier touch into
    a contact). Profile messages change the contact, identity and account only."""
    users = identity.resolve_users({e.user_id for e in events if e.user_id}, at=received)
    merged: dict[int, list[identity.MergedTouch]] = defaultdict(list)
    merged_by: dict[str, str] = {}
    group_accounts: dict[str, int] = {}
    for event in events:
        if event.type is EventType.IDENTIFY:
            given = identities[event.message_id]
            done = identity.identify(
                user_contact_id=users.get(event.user_id) if event.user_id else None,
                user_id=event.user_id,
                anonymous_id=event.anonymous_id,
                email=given.email,
                fields=given.fields,
                at=event.timestamp,
                message_id=event.message_id,
            )
            if event.user_id:
                users[event.user_id] = done.contact_id
        elif event.type is EventType.ALIAS and event.user_id and event.previous_id:
            done = identity.alias(
                previous_id=event.previous_id, user_contact_id=users[event.user_id], at=received
            )
        else:
            continue
        merged[done.contact_id].extend(done.merged)
        merged_by.update((touch[2], event.message_id) for touch in done.merged)
    anonymous = identity.resolve_anonymous(
        {e.anonymous_id for e in events if e.anonymous_id and not e.user_id}
    )

    def contact_of(event: TrackingEvent) -> int | None:
        if event.user_id:
            return users[event.user_id]
        return anonymous.get(event.anonymous_id) if event.anonymous_id else None

    for event in events:
        if event.type is EventType.GROUP and event.group_id:
            given = identities[event.message_id]
            group_accounts[event.message_id] = identity.group(
                group_id=event.group_id,
                domain=given.domain,
                fields=given.fields,
                contact_id=contact_of(event),
                at=event.timestamp,
            )

    applied = _record_profiles(events, contact_of, group_accounts, received_of)
    events = [e for e in events if e.type not in PROFILE_TYPES]
    contact_ids = {c for e in events if (c := contact_of(e)) is not None} | set(merged)
    # Locked in id order, so concurrent batches touching the same people cannot deadlock.
    contacts = {
        pk: _Subject(pk, Stage(stage) if stage else None, bool(email), account_id)
        for pk, stage, email, account_id in Contact.objects.select_for_update(no_key=True)
        .filter(pk__in=contact_ids)
        .order_by("id")
        .values_list("id", "stage", "email", "account_id")
    }
    campaigns = _campaigns(events, rules)
    sources = _session_sources(events, rules, campaigns)
    rows, kinds = _rows(events, rules, sources, campaigns, contacts, contact_of, received_of)
    inserted = _insert(rows)
    new_touches: dict[int, list[identity.MergedTouch]] = defaultdict(list)
    for pk, message_id in inserted:
        kind, at, contact_id = kinds[message_id]
        if contact_id is not None:
            new_touches[contact_id].append((kind, at, str(pk)))
    for contact_id, touches in merged.items():
        if touches:
            new_touches[contact_id].extend(touches)
    plans = {
        contact_id: plan_stage_moves(
            contacts[contact_id].stage, touches, known=contacts[contact_id].known
        )
        for contact_id, touches in sorted(new_touches.items())
    }
    causes = move_contacts({c: (contacts[c].stage, moves) for c, moves in plans.items() if moves})
    _score(new_touches)
    _orders(events, {mid for _, mid in inserted}, contact_of)
    return inserted, applied, causes, merged_by


def _record_profiles(
    events: Sequence[TrackingEvent],
    contact_of: Any,
    group_accounts: Mapping[str, int],
    received_of: Mapping[str, datetime],
) -> list[str]:
    """Keep the ids of the profile messages applied (so a resend is applied once); their ids."""
    profiles = [e for e in events if e.type in PROFILE_TYPES]
    ProfileMessage.objects.bulk_create(
        [
            ProfileMessage(
                message_id=e.message_id,
                type=e.type.value,
                contact_id=contact_of(e),
                account_id=group_accounts.get(e.message_id),
                occurred_at=e.timestamp,
                received_at=received_of[e.message_id],
            )
            for e in profiles
        ],
        ignore_conflicts=True,
        batch_size=_INSERT_CHUNK,
    )
    return [e.message_id for e in profiles]


def _orders(events: Sequence[TrackingEvent], stored: set[str], contact_of: Any) -> None:
    """Self-serve purchases: each newly stored ``Order Completed`` / ``Order Refunded`` track
    event of a known contact goes to ``services/sales/orders.py`` (a won deal, or a refund)."""
    for event in events:
        if (
            event.type is EventType.TRACK
            and event.name in ORDER_EVENTS
            and event.message_id in stored
        ):
            order_event(
                event.name,
                contact_id=contact_of(event),
                properties=event.properties,
                at=event.timestamp,
            )


def _score(new_touches: Mapping[int, list[identity.MergedTouch]]) -> None:
    """Update each known contact's score once for all its new touches (merged anonymous history
    included), after the stage moves; a threshold crossing moves the contact to intent and
    opens a handoff, exactly as for a touch recorded one by one."""
    if not new_touches:
        return
    people = Contact.objects.select_related("account").filter(pk__in=new_touches).order_by("id")
    score_on_touches_many(
        [
            (contact, [(int(pk), str(kind), at) for kind, at, pk in new_touches[contact.pk]])
            for contact in people
        ]
    )


@dataclass(frozen=True, slots=True)
class _Subject:
    """What the write path needs of a locked contact."""

    id: int
    stage: Stage | None
    known: bool
    account_id: int | None


def move_contacts(
    plans: Mapping[int, tuple[Stage | None, Sequence[PlannedMove]]], *, now: datetime | None = None
) -> list[str]:
    """Record planned touch moves of contacts locked by the caller; the cause of each move made.

    ``plans`` maps a contact id to its current stage and its moves in time order. The rows are
    those ``apply_stage_change`` would write, one move after another: each move is checked by
    the funnel's rules (IllegalTransitionError otherwise, and the caller's transaction rolls
    back), takes effect at its touch's time but never before the contact's previous change, and
    the contact's cached stage ends at the last move. Contacts whose plan enters intent go
    through ``apply_stage_change`` itself, which opens their handoff.
    """
    by_hook = sorted(
        c
        for c, (_, moves) in plans.items()
        if any(handoff_trigger(m.to_stage, Cause.TOUCH) is not None for m in moves)
    )
    causes: list[str] = []
    if by_hook:
        for locked in Contact.objects.filter(pk__in=by_hook).order_by("id"):
            for move in plans[locked.pk][1]:
                apply_stage_change(
                    locked, move.to_stage, cause=Cause.TOUCH, cause_id=move.cause, at=move.at
                )
                causes.append(move.cause)
    hooked = set(by_hook)
    plain = sorted(c for c in plans if c not in hooked)
    if not plain:
        return causes
    recorded = now or timezone.now()
    latest = StageChange.objects.filter(contact_id__in=plain).values("contact_id")
    last_at = dict(
        StageChange.objects.filter(
            id__in=latest.annotate(last=Max("id")).values("last")
        ).values_list("contact_id", "at")
    )
    changes: list[StageChange] = []
    final: dict[Stage, list[int]] = defaultdict(list)
    for contact_id in plain:
        current, moves = plans[contact_id]
        last = last_at.get(contact_id)
        for move in moves:
            check_transition(current, move.to_stage, cause=Cause.TOUCH)
            effective = move.at if last is None or move.at >= last else last
            changes.append(
                StageChange(
                    contact_id=contact_id,
                    from_stage=current.value if current else None,
                    to_stage=move.to_stage.value,
                    at=effective,
                    recorded_at=recorded,
                    cause=Cause.TOUCH.value,
                    cause_id=move.cause,
                    note="",
                )
            )
            causes.append(move.cause)
            current, last = move.to_stage, effective
        if current is not None:
            final[current].append(contact_id)
    StageChange.objects.bulk_create(changes)
    for stage, ids in final.items():
        Contact.objects.filter(pk__in=ids).update(stage=stage.value, updated_at=recorded)
    return causes


def _json(value: dict[str, Any]) -> str:
    # orjson for speed; the standard library for what it refuses (integers beyond 64 bits).
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=str)


def _properties(event: TrackingEvent) -> dict[str, Any]:
    stored: dict[str, Any] = {"type": event.type.value}
    if event.name:
        stored["event"] = event.name
    if event.properties:
        stored["properties"] = event.properties
    if event.traits and event.type in (EventType.IDENTIFY, EventType.GROUP):
        stored["traits"] = event.traits
    if event.user_id:
        stored["user_id"] = event.user_id
    if event.group_id:
        stored["group_id"] = event.group_id
    if event.previous_id:
        stored["previous_id"] = event.previous_id
    if page := event.page.as_dict():
        stored["page"] = page
    return stored


def session_gap() -> timedelta:
    """How long a visitor may pause before the next event starts a new session:
    ``ONEFUNNEL_SESSION_MINUTES`` (30 by default)."""
    value = _setting("ONEFUNNEL_SESSION_MINUTES")
    if value is None:
        return DEFAULT_SESSION_GAP
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 24 * 60:
        raise InputError("ONEFUNNEL_SESSION_MINUTES: a number of minutes from 0 to 1440")
    return timedelta(minutes=value)


def _own_source(
    event: TrackingEvent, rules: TouchRules, campaigns: Mapping[str, tuple[int, Channel]]
) -> Source:
    campaign = campaigns.get(event.utm.campaign) if event.utm.campaign else None
    if campaign is not None:
        return Source(campaign[1], campaign[0])
    return Source(channel_for_event(event, rules))


def _session_sources(
    events: Sequence[TrackingEvent],
    rules: TouchRules,
    campaigns: Mapping[str, tuple[int, Channel]],
) -> dict[str, Source]:
    """The source each touch is attributed to: its session's first (domain/sessions.py).

    A visitor is a browser (``anonymousId``); a message without one (a server library's, by
    user id only) is labelled by its own source. A session may have begun in an earlier batch:
    each visitor's last stored touch within the gap before this batch continues it.
    """
    gap = session_gap()
    by_visitor: dict[str, list[TrackingEvent]] = defaultdict(list)
    sources: dict[str, Source] = {}
    for event in events:
        own = _own_source(event, rules, campaigns)
        sources[event.message_id] = own
        if event.anonymous_id:
            by_visitor[event.anonymous_id].append(event)
    if not by_visitor:
        return sources
    since = min(e.timestamp for e in events) - gap
    visitors = list(by_visitor)
    first_new = {v: min(e.timestamp for e in mine) for v, mine in by_visitor.items()}
    last: dict[str, LastEvent] = {}
    for start in range(0, len(visitors), _LOOKUP_CHUNK):
        stored = (
            Touchpoint.objects.filter(
                anonymous_id__in=visitors[start : start + _LOOKUP_CHUNK], occurred_at__gte=since
            )
            .order_by("occurred_at", "id")
            .values_list("anonymous_id", "occurred_at", "channel", "campaign_id")
        )
        for visitor, at, channel, campaign_id in stored:
            if at <= first_new[visitor]:
                last[visitor] = LastEvent(at, Source(Channel(channel), campaign_id))
    for visitor, mine in by_visitor.items():
        mine.sort(key=lambda e: e.timestamp)
        labelled = sessionise(
            [(e.timestamp, sources[e.message_id]) for e in mine],
            previous=last.get(visitor),
            gap=gap,
        )
        for event, session in zip(mine, labelled, strict=True):
            sources[event.message_id] = session.source
    return sources


def _rows(
    events: Sequence[TrackingEvent],
    rules: TouchRules,
    sources: Mapping[str, Source],
    campaigns: Mapping[str, tuple[int, Channel]],
    contacts: Mapping[int, _Subject],
    contact_of: Any,
    received_of: Mapping[str, datetime],
) -> tuple[list[tuple[Any, ...]], dict[str, tuple[TouchKind, datetime, int | None]]]:
    adapt_time = connection.ops.adapt_datetimefield_value
    received_values = {at: adapt_time(at) for at in set(received_of.values())}
    rows: list[tuple[Any, ...]] = []
    kinds: dict[str, tuple[TouchKind, datetime, int | None]] = {}
    for event in events:
        kind = touch_kind(event, rules)
        contact_id = contact_of(event)
        contact = contacts.get(contact_id) if contact_id is not None else None
        # The session's source for attribution; the UTM fields stay as the message sent them.
        source = sources[event.message_id]
        account_id = contact.account_id if contact is not None else None
        rows.append(
            (
                event.message_id,
                contact_id,
                event.anonymous_id or "",
                account_id,
                kind.value,
                default_team(kind).value,
                source.channel.value,
                source.campaign,
                event.utm.source,
                event.utm.medium,
                event.utm.campaign,
                event.utm.term,
                event.utm.content,
                _json(_properties(event)),
                adapt_time(event.timestamp),
                received_values[received_of[event.message_id]],
            )
        )
        kinds[event.message_id] = (kind, event.timestamp, contact_id)
    return rows, kinds
