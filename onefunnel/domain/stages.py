"""The funnel: its stages, who owns each, and which moves between them are legal.

A contact (or an account) is always in one *state*: one of the six funnel stages, in order,

    awareness → consideration → intent → conversion → retain → grow

or one of three side states: ``nurture`` (recycled to marketing, always with a reason),
``disqualified`` (never to be worked, with a reason) and ``churned`` (a customer who left).

Every move is recorded as an append-only stage change; the current state is whatever the last
change moved to. The rules, in one place:

* Forward moves may skip stages (a stranger who requests a demo goes straight to intent).
* Nobody moves backward along the funnel. The only ways "back" are ``nurture`` (from a
  pre-customer stage, with a reason) and ``churned`` (from a customer stage).
* From ``nurture`` a contact re-enters the funnel at consideration or later (re-engagement).
* ``disqualified`` is final for automatic causes; a user may requalify a contact into a
  pre-customer stage.
* From ``churned`` only a won deal brings the account back (conversion, retain or grow).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Stage(StrEnum):
    """Every state a contact or account can be in: six funnel stages and three side states."""

    AWARENESS = "awareness"
    CONSIDERATION = "consideration"
    INTENT = "intent"
    CONVERSION = "conversion"
    RETAIN = "retain"
    GROW = "grow"
    NURTURE = "nurture"
    DISQUALIFIED = "disqualified"
    CHURNED = "churned"

    @property
    def rank(self) -> int | None:
        """Position in the funnel (1 = awareness … 6 = grow); None for side states."""
        return _RANK.get(self)

    @property
    def is_funnel(self) -> bool:
        """True for the six ordered funnel stages."""
        return self in _RANK

    @property
    def is_customer(self) -> bool:
        """True once a deal has been won and not lost again (conversion, retain, grow)."""
        return self in CUSTOMER_STAGES

    @property
    def owner(self) -> Team:
        """The team that works contacts in this state."""
        return _OWNER[self]


class Team(StrEnum):
    """The three teams that share the funnel."""

    MARKETING = "marketing"
    SALES = "sales"
    ACCOUNT_MANAGEMENT = "account_management"


class Cause(StrEnum):
    """What made a stage change happen."""

    TOUCH = "touch"
    RULE = "rule"
    USER = "user"
    HANDOFF = "handoff"
    DEAL = "deal"
    IMPORT = "import"


class StageReason(StrEnum):
    """Why a contact left the funnel for a side state (required for nurture and disqualified).

    The first eight are the reason codes sales gives when it rejects a handoff.
    """

    BAD_FIT = "bad_fit"
    NO_BUDGET = "no_budget"
    NO_AUTHORITY = "no_authority"
    NOT_NOW = "not_now"
    DUPLICATE = "duplicate"
    BAD_DATA = "bad_data"
    COMPETITOR = "competitor"
    OTHER = "other"
    DEAL_LOST = "deal_lost"
    WENT_COLD = "went_cold"
    UNSUBSCRIBED = "unsubscribed"


FUNNEL: tuple[Stage, ...] = (
    Stage.AWARENESS,
    Stage.CONSIDERATION,
    Stage.INTENT,
    Stage.CONVERSION,
    Stage.RETAIN,
    Stage.GROW,
)
SIDE_STATES: tuple[Stage, ...] = (Stage.NURTURE, Stage.DISQUALIFIED, Stage.CHURNED)
ALL_STATES: tuple[Stage, ...] = FUNNEL + SIDE_STATES
PRE_CUSTOMER_STAGES = frozenset({Stage.AWARENESS, Stage.CONSIDERATION, Stage.INTENT})
CUSTOMER_STAGES = frozenset({Stage.CONVERSION, Stage.RETAIN, Stage.GROW})

_RANK = {stage: i for i, stage in enumerate(FUNNEL, start=1)}
_OWNER = {
    Stage.AWARENESS: Team.MARKETING,
    Stage.CONSIDERATION: Team.MARKETING,
    Stage.INTENT: Team.SALES,
    Stage.CONVERSION: Team.SALES,
    Stage.RETAIN: Team.ACCOUNT_MANAGEMENT,
    Stage.GROW: Team.ACCOUNT_MANAGEMENT,
    Stage.NURTURE: Team.MARKETING,
    Stage.DISQUALIFIED: Team.MARKETING,
    Stage.CHURNED: Team.ACCOUNT_MANAGEMENT,
}
_NEEDS_REASON = frozenset({Stage.NURTURE, Stage.DISQUALIFIED})


def funnel_position(stage: Stage) -> int:
    """Position of a funnel stage (1 = awareness … 6 = grow); ValueError for a side state."""
    try:
        return _RANK[stage]
    except KeyError:
        raise ValueError(f"{stage.value} is a side state, not a funnel stage") from None


class IllegalTransitionError(ValueError):
    """A stage change that the funnel's rules forbid; the message says which rule."""

    def __init__(self, current: Stage | None, target: Stage, rule: str) -> None:
        self.current = current
        self.target = target
        self.rule = rule
        origin = current.value if current is not None else "(new)"
        super().__init__(f"illegal stage change {origin} → {target.value}: {rule}")


def check_transition(
    current: Stage | None,
    target: Stage,
    *,
    reason: StageReason | None = None,
    cause: Cause = Cause.RULE,
) -> None:
    """Raise IllegalTransitionError unless moving from ``current`` to ``target`` is allowed.

    ``current`` is None for a subject with no history yet. ``reason`` is required for moves to
    nurture and disqualified, and refused elsewhere so that reasons always mean something.
    """
    if target in _NEEDS_REASON and reason is None:
        raise IllegalTransitionError(current, target, f"a move to {target.value} needs a reason")
    if target not in _NEEDS_REASON and reason is not None:
        raise IllegalTransitionError(
            current,
            target,
            f"a reason is only given for nurture or disqualified, not {target.value}",
        )
    if current == target:
        raise IllegalTransitionError(current, target, "already in that stage")
    if current is None:
        if target is Stage.CHURNED or target is Stage.NURTURE:
            raise IllegalTransitionError(current, target, "a new subject enters the funnel first")
        return
    if current is Stage.DISQUALIFIED:
        if cause is Cause.USER and target in PRE_CUSTOMER_STAGES:
            return
        raise IllegalTransitionError(
            current,
            target,
            "disqualified is final unless a user requalifies into a pre-customer stage",
        )
    if current is Stage.CHURNED:
        if target in CUSTOMER_STAGES:
            return
        raise IllegalTransitionError(
            current, target, "a churned account only comes back through a won deal"
        )
    if current is Stage.NURTURE:
        if target.is_funnel and target is not Stage.AWARENESS:
            return
        if target is Stage.DISQUALIFIED:
            return
        raise IllegalTransitionError(
            current, target, "from nurture a contact re-enters at consideration or later"
        )
    # current is a funnel stage
    if target is Stage.NURTURE or target is Stage.DISQUALIFIED:
        if current in PRE_CUSTOMER_STAGES:
            return
        raise IllegalTransitionError(
            current, target, "customers are not recycled to marketing; they churn"
        )
    if target is Stage.CHURNED:
        if current in CUSTOMER_STAGES:
            return
        raise IllegalTransitionError(current, target, "only a customer can churn")
    if _RANK[target] < _RANK[current]:
        raise IllegalTransitionError(
            current, target, "backward moves go only to nurture or churned"
        )


def is_legal(
    current: Stage | None,
    target: Stage,
    *,
    reason: StageReason | None = None,
    cause: Cause = Cause.RULE,
) -> bool:
    """True when check_transition would accept the move."""
    try:
        check_transition(current, target, reason=reason, cause=cause)
    except IllegalTransitionError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class StageChange:
    """One append-only entry of a subject's stage history."""

    at: datetime
    from_stage: Stage | None
    to_stage: Stage
    cause: Cause
    reason: StageReason | None = None


class CorruptHistoryError(ValueError):
    """A stored stage history whose entries do not chain (a change's from ≠ the previous to)."""


def current_stage(history: Iterable[StageChange]) -> Stage | None:
    """Replay a history in recorded order and return the state it ends in (None if empty).

    The replay checks that the history chains — each change starts where the previous one
    ended — because a cached stage column is only trustworthy if the log it caches is whole.
    """
    state: Stage | None = None
    for i, change in enumerate(history):
        if change.from_stage != state:
            expected = state.value if state else "(new)"
            got = change.from_stage.value if change.from_stage else "(new)"
            raise CorruptHistoryError(
                f"history[{i}]: starts from {got}, but the subject was in {expected}"
            )
        state = change.to_stage
    return state


def effective_time(proposed: datetime, history: Sequence[StageChange]) -> datetime:
    """The time to record for a new change: its cause's time, but never before the last change.

    Touches can arrive late (a batch replayed from a phone that was offline); clamping keeps the
    time-in-stage of every recorded change non-negative without rewriting history.
    """
    if history and proposed < history[-1].at:
        return history[-1].at
    return proposed


def stage_after_contract_end(current: Stage | None, *, other_active_contracts: int) -> Stage | None:
    """Where an account goes when a contract term ends unrenewed: churned, if it is a customer
    with no other contract still running; otherwise nowhere (None).

    A won renewal moves the account to retain through its deal (``domain.deals``); this is
    the other half: a customer whose last contract lapses has left, even if nobody recorded a
    lost renewal deal.
    """
    if other_active_contracts > 0 or current is None or not current.is_customer:
        return None
    return Stage.CHURNED
