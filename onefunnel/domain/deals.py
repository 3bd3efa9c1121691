"""Deals (opportunities): the rules of closing and moving them, their history, and what
winning or losing one does to the funnel.

Pipelines and their stages are data (sequence, default probability, ``is_won``/``is_lost``
flags); the rules here see them as ``StageInfo``. Won/lost is the deal's *status*, kept apart
from its stage: a deal moves between the open stages of its own pipeline, and only winning or
losing takes it to the pipeline's won or lost stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
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
    """Why a deal was lost: price, timing, competitor, no decision, or other (with a note).

    ``no_budget`` and ``product_fit`` are kept for deals recorded before the list was settled.
    """

    PRICE = "price"
    COMPETITOR = "competitor"
    NO_DECISION = "no_decision"
    TIMING = "timing"
    NO_BUDGET = "no_budget"
    PRODUCT_FIT = "product_fit"
    OTHER = "other"


class DealError(ValueError):
    """A deal operation that the rules forbid (e.g. closing a deal twice)."""


class DealInputError(ValueError):
    """Input a deal cannot take (bad amount, missing reason); the message names the field."""


#: The reasons a user picks from today (the older ones stay valid for stored deals).
LOST_REASONS: tuple[LostReason, ...] = (
    LostReason.PRICE,
    LostReason.TIMING,
    LostReason.COMPETITOR,
    LostReason.NO_DECISION,
    LostReason.OTHER,
)

#: The default pipeline: (name, sequence, default probability %, is_won, is_lost).
DEFAULT_STAGES: tuple[tuple[str, int, int, bool, bool], ...] = (
    ("Discovery", 20, 10, False, False),
    ("Demo", 30, 25, False, False),
    ("Proposal", 40, 50, False, False),
    ("Negotiation", 50, 75, False, False),
    ("Won", 90, 100, True, False),
    ("Lost", 100, 0, False, True),
)

#: The pipeline renewal deals open in, created with these stages the first time one is needed
#: (a company may edit its stages as data afterwards). Renewals start likely: the customer is
#: already buying.
RENEWALS_PIPELINE = "Renewals"
RENEWAL_STAGES: tuple[tuple[str, int, int, bool, bool], ...] = (
    ("Renewal due", 10, 70, False, False),
    ("Quote sent", 20, 80, False, False),
    ("Committed", 30, 90, False, False),
    ("Won", 90, 100, True, False),
    ("Lost", 100, 0, False, True),
)

#: The largest amount a deal holds (16 digits, 2 of them after the point).
MAX_AMOUNT = Decimal("99999999999999.99")


def parse_lost_reason(value: str | None, note: str = "") -> LostReason:
    """The lost reason a user gave, checked: one of LOST_REASONS, and ``other`` needs a note.

    Raises DealInputError naming the field."""
    if value is None or not str(value).strip():
        choices = ", ".join(r.value for r in LOST_REASONS)
        raise DealInputError(f"reason: a lost deal needs a reason ({choices})")
    try:
        reason = LostReason(str(value).strip().lower().replace(" ", "_"))
    except ValueError:
        choices = ", ".join(r.value for r in LOST_REASONS)
        raise DealInputError(f"reason: unknown lost reason {value!r} (one of {choices})") from None
    if reason is LostReason.OTHER and not note.strip():
        raise DealInputError("note: a deal lost for 'other' needs a note saying why")
    return reason


def check_amount(value: object) -> Decimal:
    """A deal amount as Decimal: a finite number, not negative, at most MAX_AMOUNT, rounded to
    the cent. Raises DealInputError("amount: …")."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DealInputError(f"amount: {value!r} is not a number") from None
    if not amount.is_finite():
        raise DealInputError("amount: must be a finite number")
    if amount < 0:
        raise DealInputError("amount: must not be negative")
    if amount > MAX_AMOUNT:
        raise DealInputError(f"amount: at most {MAX_AMOUNT}")
    return amount.quantize(Decimal("0.01"))


def check_close(
    status: DealStatus, *, won: bool, lost_reason: LostReason | None, note: str = ""
) -> None:
    """Raise DealError unless an open deal is being closed, with a reason when it is lost
    (``other`` with a note)."""
    if status is not DealStatus.OPEN:
        raise DealError(f"status: deal is already {status.value}")
    if not won and lost_reason is None:
        raise DealError("lost_reason: a lost deal needs a reason")
    if won and lost_reason is not None:
        raise DealError("lost_reason: a won deal has no lost reason")
    if lost_reason is LostReason.OTHER and not note.strip():
        raise DealError("note: a deal lost for 'other' needs a note saying why")


@dataclass(frozen=True, slots=True)
class StageInfo:
    """A pipeline stage as the rules see it."""

    id: int
    pipeline_id: int
    name: str
    sequence: int
    probability: int
    is_won: bool = False
    is_lost: bool = False

    @property
    def is_open(self) -> bool:
        """True for the stages an open deal can be in."""
        return not (self.is_won or self.is_lost)


def check_move(status: DealStatus, current: StageInfo, target: StageInfo) -> None:
    """Raise DealError unless an open deal may move from ``current`` to ``target``: a stage of
    its own pipeline, open (winning and losing have their own commands), and not where it is."""
    if status is not DealStatus.OPEN:
        raise DealError(f"status: deal is {status.value}; only an open deal moves")
    if target.pipeline_id != current.pipeline_id:
        raise DealError(
            f"pipeline_stage: {target.name!r} is a stage of another pipeline than the deal's"
        )
    if not target.is_open:
        verb = "win" if target.is_won else "lose"
        raise DealError(f"pipeline_stage: {target.name!r} closes the deal; {verb} it instead")
    if target.id == current.id:
        raise DealError(f"pipeline_stage: the deal is already in {target.name!r}")


def closing_stage(stages: Iterable[StageInfo], *, won: bool) -> StageInfo | None:
    """The stage of a pipeline that a won (or lost) deal moves to; None if it has none."""
    for stage in sorted(stages, key=lambda s: s.sequence):
        if (won and stage.is_won) or (not won and stage.is_lost):
            return stage
    return None


def kind_at_account(*, customer: bool, other_product: bool) -> DealKind:
    """The kind of deal an accepted handoff opens: new business at a prospect; at a customer an
    upsell, or a cross-sell when the lead asked about another product."""
    if not customer:
        return DealKind.NEW_BUSINESS
    return DealKind.CROSS_SELL if other_product else DealKind.UPSELL


# ---------------------------------------------------------------------------------------------
# History


class HistoryField(StrEnum):
    """The fields of a deal whose every change is appended to its history."""

    PIPELINE_STAGE = "pipeline_stage"
    AMOUNT = "amount"
    EXPECTED_CLOSE = "expected_close"
    OWNER = "owner"


@dataclass(frozen=True, slots=True)
class DealState:
    """The governed fields of a deal, as text (ids, amounts, ISO dates; "" for none)."""

    pipeline_stage: str
    amount: str
    expected_close: str
    owner: str

    @classmethod
    def of(
        cls, *, stage_id: int, amount: Decimal, expected_close: date | None, owner_id: int | None
    ) -> DealState:
        """The state of a deal's governed fields, in the history's text form."""
        return cls(
            str(stage_id),
            str(amount),
            expected_close.isoformat() if expected_close else "",
            "" if owner_id is None else str(owner_id),
        )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change of one governed field: from → to (text, "" for none)."""

    field: HistoryField
    from_value: str
    to_value: str


def changes(before: DealState | None, after: DealState) -> list[HistoryEntry]:
    """The history entries that take a deal from ``before`` (None: a new deal) to ``after``,
    one per field that differs, in HistoryField order."""
    out = []
    for name in HistoryField:
        old = "" if before is None else getattr(before, name.value)
        new = getattr(after, name.value)
        if old != new or (before is None and new != ""):
            out.append(HistoryEntry(name, old, new))
    return out


def replay(history: Sequence[HistoryEntry]) -> DealState:
    """The state a history ends in; DealError if an entry does not start where the last ended
    (a rewritten or incomplete history)."""
    state = {name.value: "" for name in HistoryField}
    for i, entry in enumerate(history):
        if state[entry.field.value] != entry.from_value:
            raise DealError(
                f"history[{i}]: {entry.field.value} starts from {entry.from_value!r}, "
                f"but the deal had {state[entry.field.value]!r}"
            )
        state[entry.field.value] = entry.to_value
    return DealState(**state)


@dataclass(frozen=True, slots=True)
class StageWinRate:
    """Of the closed deals that reached a stage, how many were won."""

    stage_id: int
    reached: int
    won: int

    @property
    def rate(self) -> float | None:
        """won / reached; None when no closed deal reached the stage."""
        return self.won / self.reached if self.reached else None


def win_rate_by_stage(
    closed: Iterable[tuple[Iterable[int], bool]], stage_ids: Sequence[int]
) -> list[StageWinRate]:
    """The historical win rate per stage, beside the stage's default probability.

    ``closed`` holds, for each closed deal, the stages its history shows it in (at any time)
    and whether it was won. A stage's rate is: of the closed deals that were ever in it, the
    share that was won — the chance, judged by the past, that a deal reaching this stage wins.
    """
    reached = dict.fromkeys(stage_ids, 0)
    won = dict.fromkeys(stage_ids, 0)
    for stages, was_won in closed:
        for stage in set(stages):
            if stage in reached:
                reached[stage] += 1
                won[stage] += int(was_won)
    return [StageWinRate(s, reached[s], won[s]) for s in stage_ids]


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
