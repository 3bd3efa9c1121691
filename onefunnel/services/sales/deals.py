"""Deals: open, edit, move, win and lose them — the one write path for a deal's governed
fields (pipeline stage, status, amount, expected close, owner). Every change of a stage,
amount, close date or owner is appended to the deal's history in the same transaction, and a
closed deal moves its account and contacts along the funnel.

Each use case takes the acting user (``domain.access.Actor``) and asks the rule book
(``Action.WORK_DEAL``); reads show a rep only the deals the rules let them read.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from onefunnel.domain.access import Action, Actor, Role
from onefunnel.domain.deals import (
    DEFAULT_STAGES,
    DealError,
    DealInputError,
    DealKind,
    DealState,
    DealStatus,
    HistoryField,
    LostReason,
    StageInfo,
    changes,
    check_amount,
    check_close,
    check_move,
    closing_stage,
    parse_lost_reason,
    stage_after_deal,
    win_rate_by_stage,
)
from onefunnel.domain.stages import Cause, Stage
from onefunnel.models import (
    Account,
    Contact,
    Deal,
    DealHistory,
    DealSource,
    Pipeline,
    PipelineStage,
)
from onefunnel.models.deals import DEFAULT_PIPELINE
from onefunnel.services.access import SYSTEM, deal_work, require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.stages import StageMove, apply_stage_change, lock

MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class DealView:
    """A deal as services return it (never an ORM row)."""

    id: int
    name: str
    kind: DealKind
    status: DealStatus
    source: str
    pipeline: str
    pipeline_stage: str
    pipeline_stage_id: int
    probability: int
    amount: Decimal
    currency: str
    expected_close: date | None
    owner: str | None
    account_id: int
    account: str
    contact_id: int | None
    created_at: datetime
    closed_at: datetime | None
    lost_reason: str | None
    lost_note: str
    order_id: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output (enums as their values)."""
        data = dataclasses.asdict(self)
        data["kind"] = self.kind.value
        data["status"] = self.status.value
        return data


@dataclass(frozen=True, slots=True)
class DealClosed:
    """The outcome of closing a deal: its new status and every stage move it caused."""

    deal_id: int
    status: DealStatus
    moves: tuple[StageMove, ...]


@dataclass(frozen=True, slots=True)
class DealHistoryView:
    """One entry of a deal's history (values as text; stage and owner also by name)."""

    id: int
    deal_id: int
    field: HistoryField
    from_value: str
    to_value: str
    from_label: str
    to_label: str
    at: datetime
    actor: str | None

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        data = dataclasses.asdict(self)
        data["field"] = self.field.value
        return data


@dataclass(frozen=True, slots=True)
class StageRate:
    """A pipeline stage's default probability beside its historical win rate."""

    stage_id: int
    stage: str
    probability: int
    reached: int
    won: int
    win_rate: float | None


# ---------------------------------------------------------------------------------------------
# Reading


def _rows() -> QuerySet[Deal]:
    return Deal.objects.select_related("account", "owner", "pipeline_stage__pipeline")


def _view(deal: Deal) -> DealView:
    stage = deal.pipeline_stage
    return DealView(
        id=deal.pk,
        name=deal.name,
        kind=DealKind(deal.kind),
        status=DealStatus(deal.status),
        source=deal.source,
        pipeline=stage.pipeline.name,
        pipeline_stage=stage.name,
        pipeline_stage_id=stage.pk,
        probability=deal.probability if deal.probability is not None else stage.probability,
        amount=Decimal(str(deal.amount)),
        currency=deal.currency,
        expected_close=deal.expected_close,
        owner=deal.owner.get_username() if deal.owner else None,
        account_id=deal.account_id,
        account=deal.account.name,
        contact_id=deal.contact_id,
        created_at=deal.created_at,
        closed_at=deal.closed_at,
        lost_reason=deal.lost_reason,
        lost_note=deal.lost_note,
        order_id=deal.order_id,
    )


def readable(actor: Actor) -> Q:
    """The deals ``actor`` may read, as one filter (``domain.access`` says it row by row: every
    deal for marketing, leadership and admin; a seller's own deals, deals at accounts they own,
    and for a team lead their team's)."""
    if actor.roles & {Role.MARKETING, Role.LEADERSHIP, Role.ADMIN}:
        return Q()
    sellers = {Role.SALES_REP, Role.TEAM_LEAD, Role.ACCOUNT_MANAGER}
    if not actor.roles & sellers or actor.user_id is None:
        return Q(pk__in=[])
    mine = Q(owner_id=actor.user_id) | Q(account__owner_id=actor.user_id)
    if Role.TEAM_LEAD in actor.roles and actor.team is not None:
        mine |= Q(owner__rep_profile__team=actor.team)
    return mine


def _locked(deal_id: int) -> Deal:
    deal = Deal.objects.select_for_update(no_key=True).filter(pk=deal_id).first()
    if deal is None:
        raise NotFoundError(f"deal_id: no deal #{deal_id}")
    return deal


def get_deal(deal_id: int, *, actor: Actor) -> DealView:
    """One deal, if the actor may read it (AccessDeniedError otherwise)."""
    deal = _rows().filter(pk=deal_id).first()
    if deal is None:
        raise NotFoundError(f"deal_id: no deal #{deal_id}")
    require(actor, Action.READ, deal_work(deal))
    return _view(deal)


def list_deals(
    *,
    actor: Actor,
    status: str | None = None,
    owner: str | None = None,
    account_id: int | None = None,
    pipeline: str | None = None,
    kind: str | None = None,
    after: int | None = None,
    limit: int = 200,
) -> list[DealView]:
    """Deals the actor may read, by id, filtered; ``after`` an id for the next page."""
    if not 1 <= limit <= 5000:
        raise InputError("limit: between 1 and 5000")
    rows = _rows().filter(readable(actor))
    if status is not None:
        try:
            rows = rows.filter(status=DealStatus(status).value)
        except ValueError:
            raise InputError(f"status: unknown deal status {status!r} (open, won, lost)") from None
    if kind is not None:
        try:
            rows = rows.filter(kind=DealKind(kind).value)
        except ValueError:
            choices = ", ".join(k.value for k in DealKind)
            raise InputError(f"kind: unknown deal kind {kind!r} ({choices})") from None
    if owner is not None:
        rows = rows.filter(owner__username=owner)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    if pipeline is not None:
        rows = rows.filter(pipeline_stage__pipeline__name=pipeline)
    if after is not None:
        rows = rows.filter(pk__gt=after)
    return [_view(d) for d in rows.order_by("id")[:limit]]


# ---------------------------------------------------------------------------------------------
# History


def _state(deal: Deal) -> DealState:
    return DealState.of(
        stage_id=deal.pipeline_stage_id,
        amount=Decimal(str(deal.amount)),
        expected_close=deal.expected_close,
        owner_id=deal.owner_id,
    )


def _append(deal: Deal, before: DealState | None, at: datetime, actor: Actor) -> list[DealHistory]:
    entries = [
        DealHistory(
            deal=deal,
            field=entry.field.value,
            from_value=entry.from_value,
            to_value=entry.to_value,
            at=at,
            actor_id=actor.user_id,
        )
        for entry in changes(before, _state(deal))
    ]
    return DealHistory.objects.bulk_create(entries)


def deal_history(deal_id: int, *, actor: Actor) -> list[DealHistoryView]:
    """A deal's history in the order it was recorded, stages and owners also by name."""
    get_deal(deal_id, actor=actor)
    rows = list(DealHistory.objects.filter(deal_id=deal_id).select_related("actor").order_by("id"))
    stage_ids = {
        int(v)
        for r in rows
        if r.field == HistoryField.PIPELINE_STAGE
        for v in (r.from_value, r.to_value)
        if v
    }
    owner_ids = {
        int(v)
        for r in rows
        if r.field == HistoryField.OWNER
        for v in (r.from_value, r.to_value)
        if v
    }
    stages = dict(PipelineStage.objects.filter(pk__in=stage_ids).values_list("pk", "name"))
    owners = dict(get_user_model().objects.filter(pk__in=owner_ids).values_list("pk", "username"))

    def label(field: str, value: str) -> str:
        if not value:
            return ""
        if field == HistoryField.PIPELINE_STAGE:
            return str(stages.get(int(value), value))
        if field == HistoryField.OWNER:
            return str(owners.get(int(value), value))
        return value

    return [
        DealHistoryView(
            id=r.pk,
            deal_id=r.deal_id,
            field=HistoryField(r.field),
            from_value=r.from_value,
            to_value=r.to_value,
            from_label=label(r.field, r.from_value),
            to_label=label(r.field, r.to_value),
            at=r.at,
            actor=r.actor.get_username() if r.actor else None,
        )
        for r in rows
    ]


def stage_win_rates(pipeline: str | None = None) -> list[StageRate]:
    """Each stage of a pipeline (the default one if none is named): its default probability
    and, beside it, the historical win rate of closed deals that were ever in it."""
    pipe = _pipeline(pipeline)
    stages = list(PipelineStage.objects.filter(pipeline=pipe).order_by("sequence"))
    closed = Deal.objects.filter(
        pipeline_stage__pipeline=pipe, status__in=[DealStatus.WON, DealStatus.LOST]
    )
    outcome: dict[int, str] = {}
    reached: dict[int, set[int]] = defaultdict(set)
    # A deal recorded before its history began was at least in its current stage.
    for deal_id, status, stage_id in closed.values_list("pk", "status", "pipeline_stage_id"):
        outcome[deal_id] = status
        reached[deal_id].add(stage_id)
    entered = DealHistory.objects.filter(
        field=HistoryField.PIPELINE_STAGE,
        deal__pipeline_stage__pipeline=pipe,
        deal__status__in=[DealStatus.WON, DealStatus.LOST],
    ).exclude(to_value="")
    for deal_id, value in entered.values_list("deal_id", "to_value").iterator(chunk_size=5000):
        reached[deal_id].add(int(value))
    rates = win_rate_by_stage(
        ((reached[d], status == DealStatus.WON) for d, status in outcome.items()),
        [s.pk for s in stages],
    )
    return [
        StageRate(s.pk, s.name, s.probability, r.reached, r.won, r.rate)
        for s, r in zip(stages, rates, strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# Writing


def _pipeline(name: str | None) -> Pipeline:
    if name is None:
        pipe = Pipeline.objects.filter(is_default=True).order_by("id").first()
        if pipe is None:
            pipe = Pipeline.objects.order_by("id").first()
        return pipe or _create_default_pipeline()

    pipe = Pipeline.objects.filter(name=name).first()
    if pipe is None:
        raise NotFoundError(f"pipeline: no pipeline {name!r}")
    return pipe


def _create_default_pipeline() -> Pipeline:
    """An installation with no pipeline at all (its tables emptied) gets the default one."""
    return ensure_pipeline(DEFAULT_PIPELINE, DEFAULT_STAGES, default=True)


def ensure_pipeline(
    name: str,
    stages: tuple[tuple[str, int, int, bool, bool], ...],
    *,
    default: bool = False,
) -> Pipeline:
    """The pipeline of that name, created with these stages (name, sequence, probability,
    won, lost) if it does not exist yet; safe to call from concurrent processes."""
    with transaction.atomic():
        pipe, created = Pipeline.objects.get_or_create(name=name, defaults={"is_default": default})
        if created:
            PipelineStage.objects.bulk_create(
                PipelineStage(
                    pipeline=pipe, name=stage, sequence=sequence, probability=probability,
                    is_won=won, is_lost=lost,
                )
                for stage, sequence, probability, won, lost in stages
            )  # fmt: skip
    return pipe


def _info(stage: PipelineStage) -> StageInfo:
    return StageInfo(
        stage.pk,
        stage.pipeline.pk,
        stage.name,
        stage.sequence,
        stage.probability,
        stage.is_won,
        stage.is_lost,
    )


def _user_id(username: str | None) -> int | None:
    if username is None:
        return None
    pk = get_user_model().objects.filter(username=username).values_list("pk", flat=True).first()
    if pk is None:
        raise NotFoundError(f"owner: no user {username!r}")
    return int(pk)


def _amount(value: object) -> Decimal:
    try:
        return check_amount(value)
    except DealInputError as exc:
        raise InputError(str(exc)) from None


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise InputError("name: a deal needs a name")
    if len(name) > MAX_NAME:
        raise InputError(f"name: at most {MAX_NAME} characters")
    return name


def _first_stage(pipeline: Pipeline) -> PipelineStage:
    stage = (
        PipelineStage.objects.filter(pipeline=pipeline, is_won=False, is_lost=False)
        .order_by("sequence", "id")
        .first()
    )
    if stage is None:
        raise InputError(f"pipeline_stage: pipeline {pipeline.name!r} has no open stage")
    return stage


def open_deal(
    *,
    account_id: int,
    name: str,
    amount: Decimal,
    kind: DealKind = DealKind.NEW_BUSINESS,
    contact_id: int | None = None,
    owner_id: int | None = None,
    currency: str | None = None,
    expected_close: date | None = None,
    created_at: datetime | None = None,
    pipeline: str | None = None,
    actor: Actor = SYSTEM,
    source: str = DealSource.SALES,
    order_id: str | None = None,
) -> int:
    """Create an open deal in the first open stage of a pipeline (the default one), in the
    caller's transaction or its own; returns its id. Its first history entries record the
    values it starts with."""
    amount = _amount(amount)
    name = _name(name)
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise InputError("currency: a three-letter ISO 4217 code")
    with transaction.atomic():
        account = Account.objects.filter(pk=account_id).first()
        if account is None:
            raise NotFoundError(f"account_id: no account #{account_id}")
        if contact_id is not None:
            contact_account = (
                Contact.objects.filter(pk=contact_id).values_list("account_id", flat=True).first()
            )
            if contact_account is None and not Contact.objects.filter(pk=contact_id).exists():
                raise NotFoundError(f"contact_id: no contact #{contact_id}")
            if contact_account != account_id:
                raise InputError(
                    f"contact_id: contact #{contact_id} is not at account #{account_id}"
                )
        stage = _first_stage(_pipeline(pipeline))
        deal = Deal(
            name=name,
            kind=kind.value,
            account=account,
            contact_id=contact_id,
            owner_id=owner_id,
            pipeline_stage=stage,
            amount=amount,
            expected_close=expected_close,
            created_at=created_at or timezone.now(),
            source=source,
            order_id=order_id,
            **({"currency": currency.upper()} if currency else {}),
        )
        require(actor, Action.WORK_DEAL, deal_work(deal))
        deal.save()
        _append(deal, None, deal.created_at, actor)
    return deal.pk


def create_deal(
    *,
    actor: Actor,
    account_id: int,
    name: str,
    amount: object,
    kind: str = DealKind.NEW_BUSINESS.value,
    contact_id: int | None = None,
    owner: str | None = None,
    currency: str | None = None,
    expected_close: date | None = None,
    pipeline: str | None = None,
) -> DealView:
    """Open a deal for a user: owned by ``owner`` (username), or by the actor when none is
    given. A rep may open deals they own or at accounts they own."""
    try:
        deal_kind = DealKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in DealKind)
        raise InputError(f"kind: unknown deal kind {kind!r} ({choices})") from None
    owner_id = _user_id(owner) if owner is not None else actor.user_id
    deal_id = open_deal(
        account_id=account_id,
        name=name,
        amount=_amount(amount),
        kind=deal_kind,
        contact_id=contact_id,
        owner_id=owner_id,
        currency=currency,
        expected_close=expected_close,
        pipeline=pipeline,
        actor=actor,
    )
    return _view(_rows().get(pk=deal_id))


_UNSET: Any = object()


def update_deal(
    deal_id: int,
    *,
    actor: Actor,
    name: str | None = None,
    amount: object = _UNSET,
    expected_close: date | None = _UNSET,
    owner: str | None = _UNSET,
    probability: int | None = _UNSET,
    at: datetime | None = None,
) -> DealView:
    """Edit an open deal's name, amount, expected close, owner (username) or manual probability;
    each change of amount, close or owner is appended to its history. A closed deal is not
    edited (DealError)."""
    when = at or timezone.now()
    with transaction.atomic():
        deal = _locked(deal_id)
        require(actor, Action.WORK_DEAL, deal_work(deal))
        if deal.status != DealStatus.OPEN:
            raise DealError(
                f"status: deal #{deal.pk} is {deal.status}; a closed deal is not edited"
            )
        before = _state(deal)
        if name is not None:
            deal.name = _name(name)
        if amount is not _UNSET:
            deal.amount = _amount(amount)
        if expected_close is not _UNSET:
            deal.expected_close = expected_close
        if owner is not _UNSET:
            deal.owner_id = _user_id(owner)
        if probability is not _UNSET:
            if probability is not None and not 0 <= probability <= 100:
                raise InputError("probability: a percentage, 0–100")
            deal.probability = probability
        deal.save()
        _append(deal, before, when, actor)
    return _view(_rows().get(pk=deal_id))


def _stage_of(deal: Deal, stage: int | str) -> PipelineStage:
    rows = PipelineStage.objects.select_related("pipeline")
    if isinstance(stage, int) or str(stage).isdigit():
        found = rows.filter(pk=int(stage)).first()
    else:
        # A name means a stage of the deal's own pipeline.
        found = rows.filter(
            pipeline=deal.pipeline_stage.pipeline, name__iexact=str(stage).strip()
        ).first()
    if found is None:
        raise NotFoundError(f"pipeline_stage: no stage {stage!r} in the deal's pipeline")
    return found


def move_deal(
    deal_id: int, stage: int | str, *, actor: Actor, at: datetime | None = None
) -> DealView:
    """Move an open deal to another open stage of its pipeline (by id or name); recorded in its
    history. Win and lose are their own commands."""
    when = at or timezone.now()
    with transaction.atomic():
        deal = _locked(deal_id)
        require(actor, Action.WORK_DEAL, deal_work(deal))
        target = _stage_of(deal, stage)
        check_move(DealStatus(deal.status), _info(deal.pipeline_stage), _info(target))
        before = _state(deal)
        deal.pipeline_stage = target
        deal.save(update_fields=["pipeline_stage"])
        _append(deal, before, when, actor)
    return _view(_rows().get(pk=deal_id))


def close_deal(
    deal_id: int,
    *,
    won: bool,
    lost_reason: LostReason | None = None,
    note: str = "",
    at: datetime | None = None,
    actor: Actor = SYSTEM,
    move_funnel: bool = True,
) -> DealClosed:
    """Win or lose a deal and move its account and contacts, all in one transaction.

    ``move_funnel=False`` closes the deal without moving anyone: for a deal closed as the
    consequence of something that has already moved the account (a contract ended early).

    The deal goes to its pipeline's won (or lost) stage, recorded in its history. Winning new
    business makes the account and every contact of it customers (conversion); a renewal won
    means retain, an upsell or cross-sell grow; losing new business sends the contacts sales
    was working (intent) back to marketing; a lost renewal churns the account.
    """
    when = at or timezone.now()
    with transaction.atomic():
        deal = _locked(deal_id)
        require(actor, Action.WORK_DEAL, deal_work(deal))
        check_close(DealStatus(deal.status), won=won, lost_reason=lost_reason, note=note)
        before = _state(deal)
        deal.status = (DealStatus.WON if won else DealStatus.LOST).value
        deal.closed_at = when
        deal.lost_reason = lost_reason.value if lost_reason else None
        deal.lost_note = note.strip()
        stages = PipelineStage.objects.filter(pipeline=deal.pipeline_stage.pipeline)
        closing = closing_stage([_info(s) for s in stages], won=won)
        if closing is not None:
            deal.pipeline_stage_id = closing.id
        deal.save(
            update_fields=["status", "closed_at", "lost_reason", "lost_note", "pipeline_stage"]
        )
        _append(deal, before, when, actor)
        moves = _move_funnel(deal, won=won, when=when, actor=actor) if move_funnel else []
    return DealClosed(deal.pk, DealStatus(deal.status), tuple(moves))


def _move_funnel(deal: Deal, *, won: bool, when: datetime, actor: Actor) -> list[StageMove]:
    kind = DealKind(deal.kind)
    account = lock(Account, deal.account_id)
    subjects: list[Account | Contact] = [account]
    subjects += list(
        Contact.objects.select_for_update(no_key=True)
        .filter(account_id=deal.account_id)
        .order_by("id")
    )
    user = (
        get_user_model().objects.filter(pk=actor.user_id).first()
        if actor.user_id is not None
        else None
    )
    moves = []
    for subject in subjects:
        current = Stage(subject.stage) if subject.stage else None
        outcome = stage_after_deal(kind, won=won, current=current)
        if outcome is None:
            continue
        target, reason = outcome
        moves.append(
            apply_stage_change(
                subject,
                target,
                cause=Cause.DEAL,
                cause_id=str(deal.pk),
                at=when,
                reason=reason,
                actor=user,
            )
        )
    return moves


def win_deal(deal_id: int, *, actor: Actor, at: datetime | None = None) -> DealClosed:
    """Win an open deal (DealError if it is closed already)."""
    return close_deal(deal_id, won=True, at=at, actor=actor)


def lose_deal(
    deal_id: int, *, reason: str | None, note: str = "", actor: Actor, at: datetime | None = None
) -> DealClosed:
    """Lose an open deal with a reason (price, timing, competitor, no_decision, other + note)."""
    try:
        code = parse_lost_reason(reason, note)
    except DealInputError as exc:
        raise InputError(str(exc)) from None
    return close_deal(deal_id, won=False, lost_reason=code, note=note, at=at, actor=actor)


@dataclass(frozen=True, slots=True)
class PipelineView:
    """A pipeline and its stages, each with its historical win rate."""

    name: str
    is_default: bool
    stages: tuple[StageRate, ...]


def list_pipelines() -> list[PipelineView]:
    """Every pipeline (the default first) with its stages and their win rates."""
    return [
        PipelineView(p.name, p.is_default, tuple(stage_win_rates(p.name)))
        for p in Pipeline.objects.order_by("-is_default", "name")
    ]
