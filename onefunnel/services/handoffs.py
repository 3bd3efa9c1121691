"""Handoffs: open one at the point of intent, route it, time it, and decide it.

Every use case runs in one transaction and returns frozen views, never ORM rows:

* ``open_handoff`` — called by ``apply_stage_change`` whenever a contact enters intent (a
  hand-raise touch, a threshold crossing, a user's move, an import), in the same transaction:
  routes the lead (named account, rules, weighted round-robin; the team queue when nobody is
  eligible), sets the SLA due time in the team's working hours, snapshots the score with its
  explanation, stores cost and expected value, links the contact's previous handoff
  (re-engagement), and queues ``handoff.created``.
* ``accept_handoff`` / ``reject_handoff`` lock the handoff row, so of two reps deciding at once
  exactly one wins and the other gets ``HandoffError`` (409 in the API). Accepting creates or
  links an open new-business deal; rejecting sends the contact to nurture with the reason (bad
  data and duplicates to disqualified).
* ``evaluate_breaches`` expires handoffs whose first response is overdue and reassigns them to
  the next eligible rep (or the team queue) as a new handoff linked to the expired one, as the
  team's SLA policy says. The worker runs it, and so does every read of a queue, so nothing
  depends on a process staying up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from onefunnel.domain.access import AccessDeniedError, Action, Actor, Role, Work
from onefunnel.domain.deals import DealKind, DealStatus
from onefunnel.domain.handoffs import (
    HandoffError,
    HandoffStatus,
    HandoffTrigger,
    check_decision,
    parse_rejection_reason,
    stage_after_rejection,
)
from onefunnel.domain.intent import is_first_response
from onefunnel.domain.routing import (
    Lead,
    RotationState,
    RoutingDecision,
    next_owner_after_breach,
    route,
)
from onefunnel.domain.sla import SlaState, sla_state
from onefunnel.domain.stages import Cause, Stage, Team, is_legal
from onefunnel.domain.touches import ONE_TO_ONE_KINDS, TouchKind
from onefunnel.models import (
    Contact,
    Deal,
    Handoff,
    HandoffEvent,
    HandoffRouting,
    RoutingRotation,
    Touchpoint,
)
from onefunnel.services.access import SYSTEM, actor_for, handoff_work, require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.handoff_values import average_deal, lead_cost, lead_value
from onefunnel.services.routing_config import (
    DEFAULT_TEAM,
    reps_for_routing,
    routing_rules,
    team_of_user,
    team_sla,
)
from onefunnel.services.sales.deals import open_deal
from onefunnel.services.scoring import score_on_touch, score_snapshot
from onefunnel.services.stages import StageMove, apply_stage_change, lock
from onefunnel.services.webhooks import enqueue_event


@dataclass(frozen=True, slots=True)
class HandoffView:
    """A handoff as services return it."""

    id: int
    contact_id: int
    contact_email: str | None
    account_id: int | None
    trigger: HandoffTrigger
    status: HandoffStatus
    owner: str | None
    team: str
    queued: bool
    score: float | None
    created_at: datetime
    sla_due_at: datetime
    first_response_at: datetime | None
    sla: SlaState
    decided_at: datetime | None
    reason: str | None
    note: str
    cost: Decimal
    cost_method: str
    expected_value: Decimal
    currency: str
    previous_id: int | None
    deal_id: int | None
    reassignments: int
    rule: str
    routing: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output (enums as their values)."""
        data = dataclasses.asdict(self)
        for key in ("trigger", "status", "sla"):
            data[key] = data[key].value
        return data


@dataclass(frozen=True, slots=True)
class HandoffDecided:
    """The outcome of a decision: the handoff, the deal it created or linked, the stage move."""

    handoff: HandoffView
    deal_id: int | None
    deal_created: bool
    stage_move: StageMove | None


def _view(h: Handoff, now: datetime) -> HandoffView:
    routing: HandoffRouting | None = getattr(h, "routing", None)
    if routing is not None:
        team = routing.team
    elif h.owner is not None and "rep_profile" in h.owner._state.fields_cache:
        # The owner's profile was selected with the row (a queue): no query per handoff.
        profile = h.owner._state.fields_cache["rep_profile"]
        team = (profile.team if profile is not None else None) or DEFAULT_TEAM
    else:
        team = team_of_user(h.owner_id) or DEFAULT_TEAM
    return HandoffView(
        id=h.pk,
        contact_id=h.contact_id,
        contact_email=h.contact.email,
        account_id=h.account_id,
        trigger=HandoffTrigger(h.trigger),
        status=HandoffStatus(h.status),
        owner=h.owner.get_username() if h.owner else None,
        team=team,
        queued=h.owner_id is None,
        score=h.score,
        created_at=h.created_at,
        sla_due_at=h.sla_due_at,
        first_response_at=h.first_response_at,
        sla=sla_state(h.created_at, h.sla_due_at, h.first_response_at, now),
        decided_at=h.decided_at,
        reason=h.reason,
        note=h.note,
        cost=Decimal(str(h.cost)),
        cost_method=h.cost_method,
        expected_value=Decimal(str(h.expected_value)),
        currency=h.currency,
        previous_id=h.previous_id,
        deal_id=h.deal_id,
        reassignments=routing.reassignments if routing else 0,
        rule=routing.rule if routing else "",
        routing=tuple(routing.explanation) if routing else (),
    )


def _rows() -> QuerySet[Handoff]:
    return Handoff.objects.select_related("contact", "owner", "routing")


def get_handoff(
    handoff_id: int, *, actor: Actor | None = None, now: datetime | None = None
) -> HandoffView:
    """One handoff (its SLA evaluated first); AccessDeniedError if the actor may not read it
    (a rep reads their own, their queue's, and as team lead their team's)."""
    moment = now or timezone.now()
    evaluate_breaches(now=moment, handoff_ids=[handoff_id])
    h = _rows().filter(pk=handoff_id).first()
    if h is None:
        raise NotFoundError(f"handoff_id: no handoff #{handoff_id}")
    require(actor or SYSTEM, Action.READ, _work(h))
    return _view(h, moment)


# ---------------------------------------------------------------------------------------------
# Opening and routing


def _lead(contact: Contact) -> Lead:
    account = contact.account
    return Lead(
        contact_id=str(contact.pk),
        account_id=str(account.pk) if account else None,
        country=contact.country or (account.country if account else None) or None,
        region=(account.region if account else None) or None,
        industry=(account.industry if account else None) or None,
        employees=account.employee_count if account else None,
    )


def _rules_for(contact: Contact) -> Any:
    """The routing rules, with the account's owner as its named-account owner unless the rules
    name one (by account id or domain)."""
    rules = routing_rules()
    account = contact.account
    if account is None:
        return rules
    named = dict(rules.named_accounts)
    if str(account.pk) in named:
        return rules
    if account.domain and account.domain in named:
        named[str(account.pk)] = named[account.domain]
    elif account.owner_id is not None:
        owner = get_user_model().objects.filter(pk=account.owner_id).first()
        if owner is not None:
            named[str(account.pk)] = owner.get_username()
    return dataclasses.replace(rules, named_accounts=named)


def _routed(
    contact: Contact, at: datetime, *, current_owner: str | None, previous: list[str]
) -> tuple[RoutingDecision, dict[str, int]]:
    rotation_row, _ = RoutingRotation.objects.get_or_create(pk=1)
    # Lock the rotation so that concurrent handoffs take turns in the round-robin.
    rotation_row = RoutingRotation.objects.select_for_update().get(pk=rotation_row.pk)
    reps, ids = reps_for_routing(at)
    lead, rules = _lead(contact), _rules_for(contact)
    state = RotationState.from_dict(rotation_row.counters or {})
    if current_owner is None and not previous:
        decision = route(lead, rules, reps, state)
    else:
        decision = next_owner_after_breach(lead, rules, reps, state, current_owner or "", previous)
    rotation_row.counters = decision.rotation.to_dict()
    rotation_row.save(update_fields=["counters", "updated_at"])
    return decision, ids


def _create(
    contact: Contact,
    trigger: HandoffTrigger,
    at: datetime,
    *,
    previous: Handoff | None,
    reassignments: int = 0,
    current_owner: str | None = None,
    previous_owners: list[str] | None = None,
) -> Handoff:
    decision, ids = _routed(
        contact, at, current_owner=current_owner, previous=previous_owners or []
    )
    owner_id = ids.get(decision.owner_id) if decision.owner_id else None
    team = decision.team_queue or team_of_user(owner_id) or DEFAULT_TEAM
    calendar, policy = team_sla(team)
    score, lines = score_snapshot(contact, at)
    value = lead_value(contact, score, at)
    cost = lead_cost(contact.pk, at)
    handoff = Handoff.objects.create(
        contact=contact,
        account_id=contact.account_id,
        trigger=trigger.value,
        score=float(score),
        score_explanation=lines,
        owner_id=owner_id,
        team_queue=Team.SALES.value if owner_id is None else None,
        created_at=at,
        sla_due_at=policy.due_at(at, calendar),
        status=HandoffStatus.PENDING.value,
        cost=cost.amount,
        cost_method=cost.method,
        expected_value=value.expected_value,
        previous=previous,
    )
    explanation = [
        *decision.explanation,
        f"expected value {value.expected_value} = {value.probability:.3f} ({value.source}) "
        f"× {value.average_deal} (average won deal, segment {value.band})",
        f"cost {cost.amount}: {cost.note}",
    ]
    HandoffRouting.objects.create(
        handoff=handoff,
        team=team,
        rule=decision.rule,
        rule_kind=decision.kind.value,
        explanation=explanation,
        reassignments=reassignments,
    )
    HandoffEvent.objects.create(
        handoff=handoff,
        at=at,
        kind="created" if owner_id else "queued",
        to_owner_id=owner_id,
        note="; ".join(decision.explanation),
    )
    _announce("handoff.created", handoff, at)
    return handoff


def _announce(event: str, handoff: Handoff, at: datetime) -> None:
    fresh = _rows().get(pk=handoff.pk)
    enqueue_event(event, _view(fresh, at).as_dict(), now=at)


def open_handoff(
    contact: Contact, trigger: HandoffTrigger, *, at: datetime | None = None
) -> HandoffView:
    """Open a handoff for a contact that has just entered intent, in the caller's transaction
    (the contact row is locked by the caller).

    The contact's previous handoff, if any, is linked (so recycled-then-won can be counted);
    a handoff of the contact still pending is closed as expired, since the new one replaces it.
    Never fails for want of a rep: with nobody eligible the handoff waits in the team queue,
    with the reason in its routing explanation.
    """
    moment = at or timezone.now()
    previous = Handoff.objects.filter(contact_id=contact.pk).order_by("-created_at", "-pk").first()
    stale = Handoff.objects.filter(contact_id=contact.pk, status=HandoffStatus.PENDING)
    for old in stale.select_for_update():
        old.status, old.decided_at = HandoffStatus.EXPIRED.value, moment
        old.save(update_fields=["status", "decided_at"])
        HandoffEvent.objects.create(handoff=old, at=moment, kind="superseded")
    handoff = _create(contact, trigger, moment, previous=previous)
    return _view(_rows().get(pk=handoff.pk), moment)


def open_manual_handoff(
    email: str,
    *,
    actor: Actor | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> HandoffView:
    """Hand a contact over by hand: move it to intent (cause: user), which opens the handoff.
    The actor must be allowed to move the contact (``Action.MOVE_CONTACT``)."""
    moment = now or timezone.now()
    who = acting(actor, actor_id)
    with transaction.atomic():
        found = Contact.objects.filter(email__iexact=email.strip()).values_list("pk", flat=True)
        pk = found.first()
        if pk is None:
            raise NotFoundError(f"email: no contact with email {email!r}")
        contact = lock(Contact, pk)
        require(who, Action.MOVE_CONTACT, Work("contact", pk, owner_id=contact.owner_id))
        user = get_user_model().objects.filter(pk=who.user_id).first() if who.user_id else None
        apply_stage_change(contact, Stage.INTENT, cause=Cause.USER, at=moment, actor=user)
        handoff = Handoff.objects.filter(contact_id=pk).order_by("-pk").first()
        assert handoff is not None  # apply_stage_change opened it
        return _view(_rows().get(pk=handoff.pk), moment)


# ---------------------------------------------------------------------------------------------
# Deciding


def _locked(handoff_id: int) -> Handoff:
    h = Handoff.objects.select_for_update(no_key=True).filter(pk=handoff_id).first()
    if h is None:
        raise NotFoundError(f"handoff_id: no handoff #{handoff_id}")
    return h


def acting(actor: Actor | None = None, actor_id: int | None = None) -> Actor:
    """Who acts: the given actor, else the user ``actor_id`` (as their roles say), else the
    system (an admin: the worker, imports, the CLI without ``--as``)."""
    if actor is not None:
        return actor
    if actor_id is not None:
        user = get_user_model().objects.filter(pk=actor_id).first()
        if user is None:
            raise NotFoundError(f"actor: no user #{actor_id}")
        return actor_for(user)
    return SYSTEM


def _work(h: Handoff) -> Work:
    return handoff_work(h)  # reads its routing team (one query when not selected)


def _status(h: Handoff) -> HandoffStatus:
    return HandoffStatus(h.status)


def accept_handoff(
    handoff_id: int,
    *,
    actor: Actor | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> HandoffDecided:
    """Accept a pending handoff: a queued one is claimed by the actor, who becomes its owner
    (and the contact's, if it had none); the first response is now if none was logged, and an
    open new-business deal of the account is linked, or one created. The contact stays in
    intent. Only who may decide it (``Action.DECIDE_HANDOFF``: its owner, a team lead of its
    team, a seller of the queue's team for a queued one, an admin) accepts it.

    Raises HandoffError when the handoff is no longer pending (e.g. another rep accepted it a
    moment earlier), AccessDeniedError when the actor may not decide it; nothing is written.
    """
    moment = now or timezone.now()
    who = acting(actor, actor_id)
    with transaction.atomic():
        h = _locked(handoff_id)
        check_decision(_status(h), reason=None, note="")
        require(who, Action.DECIDE_HANDOFF, _work(h))
        previous_owner = h.owner_id
        h.status = HandoffStatus.ACCEPTED.value
        h.decided_at = moment
        h.first_response_at = h.first_response_at or max(moment, h.created_at)
        if h.owner_id is None and who.user_id is not None:
            h.owner_id = who.user_id
            h.team_queue = None
        deal_id, created = _deal_for(h, moment)
        h.deal_id = deal_id
        h.save()
        if h.owner_id is not None:
            Contact.objects.filter(pk=h.contact_id, owner__isnull=True).update(owner_id=h.owner_id)
        HandoffEvent.objects.create(
            handoff=h,
            at=moment,
            kind="accepted",
            from_owner_id=previous_owner,
            to_owner_id=h.owner_id,
            actor_id=who.user_id,
        )
        _announce("handoff.accepted", h, moment)
        view = _view(_rows().get(pk=h.pk), moment)
    return HandoffDecided(view, deal_id, created, None)


def _deal_for(h: Handoff, at: datetime) -> tuple[int | None, bool]:
    """The deal an accepted handoff works: the account's open deal of the right kind, or a new
    one. At a prospect that is new business for the handoff's owner; at a customer an upsell
    (a cross-sell when the lead asked about a product the account does not have) for the
    account's owner, its account manager."""
    if h.deal_id is not None:
        return h.deal_id, False
    if h.account_id is None:
        return None, False  # a deal belongs to an account; a lone contact gets none
    contact = Contact.objects.select_related("account").get(pk=h.contact_id)
    account = contact.account
    assert account is not None
    customer = account.stage is not None and Stage(account.stage).is_customer
    kinds = (DealKind.UPSELL, DealKind.CROSS_SELL) if customer else (DealKind.NEW_BUSINESS,)
    existing = (
        Deal.objects.filter(account_id=h.account_id, kind__in=kinds, status=DealStatus.OPEN)
        .order_by("-created_at")
        .values_list("pk", flat=True)
        .first()
    )
    if existing is not None:
        return existing, False
    from onefunnel.domain.deals import kind_at_account
    from onefunnel.domain.intent import employee_band

    kind = kind_at_account(customer=customer, other_product=_asks_other_product(h, account))
    amount = average_deal(employee_band(account.employee_count))
    owner_id = (account.owner_id or h.owner_id) if customer else h.owner_id
    deal_id = open_deal(
        account_id=account.pk,
        name=f"{account.name}: {kind.value.replace('_', ' ')}",
        amount=amount,
        kind=kind,
        contact_id=contact.pk,
        owner_id=owner_id,
        created_at=at,
    )
    return deal_id, True


def _asks_other_product(h: Handoff, account: Any) -> bool:
    """True when the contact's latest hand-raise names a ``product`` the account does not
    have (its ``properties["products"]``)."""
    product = (
        Touchpoint.objects.filter(
            contact_id=h.contact_id, kind=TouchKind.HAND_RAISE, occurred_at__lte=h.created_at
        )
        .order_by("-occurred_at", "-id")
        .values_list("properties__product", flat=True)
        .first()
    )
    if not product:
        return False
    owned = (account.properties or {}).get("products") or []
    return str(product) not in {str(p) for p in owned}


def reject_handoff(
    handoff_id: int,
    *,
    reason: str,
    note: str = "",
    actor: Actor | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> HandoffDecided:
    """Reject a pending handoff with a reason code (``other`` needs a note): the contact goes
    back to marketing (nurture, with the reason), or to disqualified for bad data and
    duplicates. An unknown reason is InputError; a handoff no longer pending is HandoffError.
    AccessDeniedError when the actor may not decide it. Either way nothing is written."""
    moment = now or timezone.now()
    who = acting(actor, actor_id)
    try:
        code = parse_rejection_reason(reason)
    except HandoffError as exc:
        raise InputError(str(exc)) from None
    with transaction.atomic():
        h = _locked(handoff_id)
        try:
            check_decision(_status(h), reason=code, note=note)
        except HandoffError as exc:
            if str(exc).startswith("status:"):
                raise
            raise InputError(str(exc)) from None
        require(who, Action.DECIDE_HANDOFF, _work(h))
        h.status = HandoffStatus.REJECTED.value
        h.reason = code.value
        h.note = note.strip()
        h.decided_at = moment
        h.first_response_at = h.first_response_at or max(moment, h.created_at)
        h.save()
        contact = lock(Contact, h.contact_id)
        current = Stage(contact.stage) if contact.stage else None
        target = stage_after_rejection(code)
        move = None
        if is_legal(current, target, reason=code, cause=Cause.HANDOFF):
            user = get_user_model().objects.filter(pk=who.user_id).first() if who.user_id else None
            move = apply_stage_change(
                contact,
                target,
                cause=Cause.HANDOFF,
                cause_id=str(h.pk),
                at=moment,
                reason=code,
                note=h.note,
                actor=user,
            )
        HandoffEvent.objects.create(
            handoff=h, at=moment, kind="rejected", actor_id=who.user_id, note=code.value
        )
        # Marketing's answer to the reason: the sequences configured for it (same transaction).
        from onefunnel.services.marketing.sequences import enroll_after_rejection

        enroll_after_rejection(h.contact_id, code, handoff_id=h.pk, at=moment)
        _announce("handoff.rejected", h, moment)
        view = _view(_rows().get(pk=h.pk), moment)
    return HandoffDecided(view, None, False, move)


def reassign_handoff(
    handoff_id: int,
    *,
    owner: str | None = None,
    team: str | None = None,
    actor: Actor | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> HandoffView:
    """Give a pending handoff to another rep (by username), or put it in a team's queue.

    Only a team lead of the handoff's team (or an admin) reassigns, and only within their
    team: the new owner must be a rep of the lead's team, the queue the lead's team's."""
    moment = now or timezone.now()
    who = acting(actor, actor_id)
    if (owner is None) == (team is None):
        raise InputError("owner: give either an owner or a team")
    with transaction.atomic():
        h = _locked(handoff_id)
        check_decision(_status(h), reason=None, note="")
        require(who, Action.REASSIGN_HANDOFF, _work(h))
        new_owner = None
        if owner is not None:
            new_owner = get_user_model().objects.filter(username=owner).first()
            if new_owner is None:
                raise NotFoundError(f"owner: no user {owner!r}")
        target_team = team if new_owner is None else team_of_user(new_owner.pk)
        if not who.has(Role.ADMIN) and target_team != who.team:
            raise AccessDeniedError(
                f"owner: {owner or team} is outside {who.username}'s team ({who.team})"
            )
        previous_owner = h.owner_id
        h.owner_id = new_owner.pk if new_owner else None
        h.team_queue = None if new_owner else Team.SALES.value
        h.save(update_fields=["owner", "team_queue"])
        new_team = team or team_of_user(h.owner_id) or DEFAULT_TEAM
        routing, _ = HandoffRouting.objects.get_or_create(
            handoff=h, defaults={"team": new_team, "rule": "manual"}
        )
        routing.team = new_team
        routing.explanation = [*routing.explanation, f"reassigned by hand to {owner or team}"]
        routing.save(update_fields=["team", "explanation"])
        HandoffEvent.objects.create(
            handoff=h,
            at=moment,
            kind="reassigned",
            from_owner_id=previous_owner,
            to_owner_id=h.owner_id,
            actor_id=who.user_id,
            note=f"team {team}" if team else "",
        )
        return _view(_rows().get(pk=h.pk), moment)


def record_response(
    handoff_id: int,
    *,
    actor: Actor | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> HandoffView:
    """Log the first response to a handoff (idempotent: the first one counts). Only who may
    decide the handoff logs it, so nobody else can stop its SLA clock."""
    moment = now or timezone.now()
    who = acting(actor, actor_id)
    with transaction.atomic():
        h = _locked(handoff_id)
        require(who, Action.DECIDE_HANDOFF, _work(h))
        if h.first_response_at is None:
            h.first_response_at = max(moment, h.created_at)
            h.save(update_fields=["first_response_at"])
            HandoffEvent.objects.create(
                handoff=h, at=moment, kind="responded", actor_id=who.user_id
            )
        return _view(_rows().get(pk=h.pk), moment)


def after_touch(contact: Contact, touchpoint: Touchpoint) -> None:
    """What a stored touch does at the point of intent, in the caller's transaction: a
    one-to-one touch by the owner is the first response to the contact's pending handoff, and
    the score is updated (which may move the contact to intent and open a handoff)."""
    kind = TouchKind(touchpoint.kind)
    if touchpoint.actor_id is not None and kind in ONE_TO_ONE_KINDS:
        answer_pending(
            contact.pk,
            actor_id=touchpoint.actor_id,
            at=touchpoint.occurred_at,
            note=f"touch #{touchpoint.pk} ({touchpoint.kind})",
        )
    score_on_touch(contact, touchpoint)


def answer_pending(contact_id: int, *, actor_id: int, at: datetime, note: str) -> list[int]:
    """Log a sales response (a one-to-one touch, or a note a rep logged) as the first response
    of the contact's pending handoffs the actor may answer — their own, or one waiting in a
    team queue — in the caller's transaction; the ids of the handoffs answered."""
    pending = Handoff.objects.filter(
        contact_id=contact_id, status=HandoffStatus.PENDING, first_response_at__isnull=True
    ).select_for_update()
    answered = []
    for h in pending:
        # domain.intent.is_first_response decides who may answer; whether this is a response
        # at all (a one-to-one touch, or a note) the caller has decided, so any one-to-one kind.
        if is_first_response(TouchKind.CALL, actor_id=actor_id, owner_id=h.owner_id):
            h.first_response_at = max(at, h.created_at)
            h.save(update_fields=["first_response_at"])
            HandoffEvent.objects.create(
                handoff=h, at=h.first_response_at, kind="responded", actor_id=actor_id, note=note
            )
            answered.append(h.pk)
    return answered


# ---------------------------------------------------------------------------------------------
# SLA breaches and queues


@dataclass(frozen=True, slots=True)
class Breach:
    """A handoff whose SLA was breached, and the handoff that replaced it (if reassigned)."""

    handoff_id: int
    reassigned_to: int | None


def _overdue(now: datetime) -> QuerySet[Handoff]:
    return Handoff.objects.filter(
        status=HandoffStatus.PENDING, first_response_at__isnull=True, sla_due_at__lt=now
    ).filter(Q(routing__isnull=True) | Q(routing__breached_at__isnull=True))


def evaluate_breaches(
    *, now: datetime | None = None, handoff_ids: list[int] | None = None, owner: str | None = None
) -> list[Breach]:
    """Handle every pending handoff whose first response is overdue at ``now`` (or only those
    given): record the breach, announce ``handoff.sla_breached``, and — as the team's policy
    says — expire it and reassign the lead to the next eligible rep as a new linked handoff.
    Each breach is handled once, in its own transaction."""
    moment = now or timezone.now()
    overdue = _overdue(moment)
    if handoff_ids is not None:
        overdue = overdue.filter(pk__in=handoff_ids)
    if owner is not None:
        overdue = overdue.filter(owner__username=owner)
    return [b for pk in overdue.order_by("sla_due_at", "pk").values_list("pk", flat=True)
            if (b := _breach(pk, moment)) is not None]  # fmt: skip


def _chain_owners(h: Handoff) -> list[str]:
    owners: list[str] = []
    link = h.previous
    while link is not None and link.status == HandoffStatus.EXPIRED:
        if link.owner is not None:
            owners.append(link.owner.get_username())
        link = link.previous
    return owners


def _breach(handoff_id: int, now: datetime) -> Breach | None:
    with transaction.atomic():
        h = _locked(handoff_id)
        if not _overdue(now).filter(pk=h.pk).exists():
            return None  # someone answered, decided or handled it meanwhile
        routing, _ = HandoffRouting.objects.get_or_create(
            handoff=h, defaults={"team": team_of_user(h.owner_id) or DEFAULT_TEAM}
        )
        routing.breached_at = now
        routing.save(update_fields=["breached_at"])
        HandoffEvent.objects.create(
            handoff=h, at=now, kind="sla_breached", from_owner_id=h.owner_id
        )
        _announce("handoff.sla_breached", h, now)
        calendar, policy = team_sla(routing.team)
        del calendar
        state = sla_state(h.created_at, h.sla_due_at, h.first_response_at, now)
        if not policy.should_reassign(state, routing.reassignments):
            return Breach(h.pk, None)
        h.status = HandoffStatus.EXPIRED.value
        h.decided_at = now
        h.save(update_fields=["status", "decided_at"])
        contact = Contact.objects.select_related("account").get(pk=h.contact_id)
        owner = h.owner.get_username() if h.owner else None
        replacement = _create(
            contact,
            HandoffTrigger(h.trigger),
            now,
            previous=h,
            reassignments=routing.reassignments + 1,
            current_owner=owner,
            previous_owners=_chain_owners(h),
        )
        HandoffEvent.objects.create(
            handoff=h,
            at=now,
            kind="reassigned",
            from_owner_id=h.owner_id,
            to_owner_id=replacement.owner_id,
            note=f"SLA breached: handoff #{replacement.pk} replaces it",
        )
        return Breach(h.pk, replacement.pk)


def list_handoffs(
    *,
    owner: str | None = None,
    status: str | None = None,
    team: str | None = None,
    queued: bool | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
    limit: int = 200,
) -> list[HandoffView]:
    """A queue: handoffs by owner (username), status, team or team-queue only, oldest SLA first.
    Overdue handoffs in it are evaluated first, so a breach shows without a worker running.
    Only the handoffs the actor may read are listed (``readable``)."""
    moment = now or timezone.now()
    if status is not None:
        try:
            HandoffStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in HandoffStatus)
            raise InputError(f"status: unknown status {status!r} (one of: {allowed})") from None
    if owner is not None and not get_user_model().objects.filter(username=owner).exists():
        raise NotFoundError(f"owner: no user {owner!r}")
    evaluate_breaches(now=moment, owner=owner)
    rows = readable(_rows(), actor or SYSTEM)
    if owner is not None:
        rows = rows.filter(owner__username=owner)
    if status is not None:
        rows = rows.filter(status=status)
    if team is not None:
        rows = rows.filter(routing__team=team)
    if queued is not None:
        rows = rows.filter(owner__isnull=queued)
    return [_view(h, moment) for h in rows.order_by("sla_due_at", "pk")[: max(limit, 0)]]


def readable(rows: QuerySet[Handoff], actor: Actor) -> QuerySet[Handoff]:
    """The handoffs of ``rows`` the actor may read, as one filter: everything for the roles that
    read everything; for sellers their own, their team's queue
    (any queue if they have no team) and, for a team lead, their team's. The same rules as
    ``domain.access.check(actor, Action.READ, handoff_work(h))``, written as a query so that a
    queue is one query; a test checks the two agree."""
    if actor.roles & {Role.MARKETING, Role.LEADERSHIP, Role.ADMIN}:
        return rows
    if actor.user_id is None or not actor.roles & {
        Role.SALES_REP,
        Role.TEAM_LEAD,
        Role.ACCOUNT_MANAGER,
    }:
        return rows.none()
    mine = Q(owner_id=actor.user_id)
    if actor.team is None:
        queued = Q(owner__isnull=True)
    else:
        queued = Q(owner__isnull=True) & (
            Q(routing__team=actor.team) | (Q(routing__isnull=True) & Q(team_queue=actor.team))
        )
    allowed = mine | queued
    if actor.has(Role.TEAM_LEAD) and actor.team is not None:
        allowed |= (
            Q(routing__team=actor.team)
            | (Q(routing__isnull=True) & Q(team_queue=actor.team))
            | Q(owner__rep_profile__team=actor.team)
        )
    return rows.filter(allowed)


def view_of(handoff: Handoff, now: datetime) -> HandoffView:
    """The frozen view of a handoff row (selected with contact, owner and routing)."""
    return _view(handoff, now)
