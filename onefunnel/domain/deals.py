"""Deals (opportunities) and what winning or losing one does to the funnel."""

from __future__ import annotations

from enum import StrEnum

from onefunnel.domain.stages import Stage, StageReason, funnel_position


class DealKind(StrEnum):
    """New business makes a customer; the others happen after the first sale."""

    NEW_BUSINESS = "new_business"
    RENEWAL = "renewal"
    UPSELL = "upsell"
    CROSS_SELL = "cross_sell"


class DealStatus(StrEnum):
    """A deal's outcome, kept apart from its (configurable) pipeline stage."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class LostReason(StrEnum):
    """Why a deal was lost."""

    PRICE = "price"
    COMPETITOR = "competitor"
    NO_DECISION = "no_decision"
    TIMING = "timing"
    NO_BUDGET = "no_budget"
    PRODUCT_FIT = "product_fit"
    OTHER = "other"


class DealError(ValueError):
    """A deal operation that the rules forbid (e.g. closing a deal twice)."""


def check_close(status: DealStatus, *, won: bool, lost_reason: LostReason | None) -> None:
    """Raise DealError unless an open deal is being closed, with a reason when it is lost."""
    if status is not DealStatus.OPEN:
        raise DealError(f"deal is already {status.value}")
    if not won and lost_reason is None:
        raise DealError("lost_reason: a lost deal needs a reason")
    if won and lost_reason is not None:
        raise DealError("lost_reason: a won deal has no lost reason")


def stage_after_deal(
    kind: DealKind, *, won: bool, current: Stage | None
) -> tuple[Stage, StageReason | None] | None:
    """Where a closed deal moves its account and contacts, with the reason; None for no move.

    * new business won → conversion (the account becomes a customer), unless already past it;
    * renewal won → retain; upsell or cross-sell won → grow;
    * new business lost → nurture (back to marketing, reason ``deal_lost``) for whoever sales
      was working (intent); others stay where they are;
    * renewal lost → churned; a lost upsell or cross-sell changes nothing;
    * a disqualified contact is never moved by a deal.
    """
    if current is Stage.DISQUALIFIED:
        # Someone disqualified at a company that buys stays out of the funnel: a user may
        # requalify them, a deal does not.
        return None
    if won:
        target = {
            DealKind.NEW_BUSINESS: Stage.CONVERSION,
            DealKind.RENEWAL: Stage.RETAIN,
            DealKind.UPSELL: Stage.GROW,
            DealKind.CROSS_SELL: Stage.GROW,
        }[kind]
        if (
            current is not None
            and current.is_funnel
            and funnel_position(current) >= funnel_position(target)
        ):
            return None
        return target, None
    if kind is DealKind.NEW_BUSINESS:
        return (Stage.NURTURE, StageReason.DEAL_LOST) if current is Stage.INTENT else None
    if kind is DealKind.RENEWAL and current is not None and current.is_customer:
        return Stage.CHURNED, None
    return None
