"""Open and close deals; a closed deal moves its account and contacts along the funnel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from onefunnel.domain.deals import DealKind, DealStatus, LostReason, check_close, stage_after_deal
from onefunnel.domain.stages import Cause, Stage
from onefunnel.models import Account, Contact, Deal, PipelineStage
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.stages import StageMove, apply_stage_change, lock


@dataclass(frozen=True, slots=True)
class DealClosed:
    """The outcome of closing a deal: its new status and every stage move it caused."""

    deal_id: int
    status: DealStatus
    moves: tuple[StageMove, ...]


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
) -> int:
    """Create an open deal in the first pipeline stage; returns its id."""
    if amount < 0:
        raise InputError("amount: must not be negative")
    if not Account.objects.filter(pk=account_id).exists():
        raise NotFoundError(f"account_id: no account #{account_id}")
    first_stage = PipelineStage.objects.order_by("sequence").first()
    if first_stage is None:
        raise InputError("pipeline_stage: the pipeline has no stages; add one in the admin")
    deal = Deal.objects.create(
        name=name,
        kind=kind.value,
        account_id=account_id,
        contact_id=contact_id,
        owner_id=owner_id,
        pipeline_stage=first_stage,
        amount=amount,
        expected_close=expected_close,
        created_at=created_at or timezone.now(),
        **({"currency": currency} if currency else {}),
    )
    return deal.pk


def close_deal(
    deal_id: int,
    *,
    won: bool,
    lost_reason: LostReason | None = None,
    at: datetime | None = None,
) -> DealClosed:
    """Win or lose a deal and move its account and contacts, all in one transaction.

    Winning new business makes the account and every contact of it customers (conversion);
    a renewal won means retain, an upsell or cross-sell grow; losing new business sends the
    contacts sales was working (intent) back to marketing; a lost renewal churns the account.
    """
    when = at or timezone.now()
    with transaction.atomic():
        try:
            deal = Deal.objects.select_for_update().get(pk=deal_id)
        except Deal.DoesNotExist:
            raise NotFoundError(f"deal_id: no deal #{deal_id}") from None
        check_close(DealStatus(deal.status), won=won, lost_reason=lost_reason)
        deal.status = (DealStatus.WON if won else DealStatus.LOST).value
        deal.closed_at = when
        deal.lost_reason = lost_reason.value if lost_reason else None
        deal.save(update_fields=["status", "closed_at", "lost_reason"])
        kind = DealKind(deal.kind)
        account = lock(Account, deal.account_id)
        subjects: list[Account | Contact] = [account]
        subjects += list(
            Contact.objects.select_for_update().filter(account_id=deal.account_id).order_by("id")
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
                    subject, target, cause=Cause.DEAL, cause_id=str(deal.pk), at=when, reason=reason
                )
            )
    return DealClosed(deal.pk, DealStatus(deal.status), tuple(moves))
