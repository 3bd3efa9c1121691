"""The handoff: a lead at the point of intent, passed from marketing to sales.

This module holds the handoff's states and the rules of deciding one; routing, SLA
arithmetic and scoring live in their own modules.
"""

from __future__ import annotations

from enum import StrEnum

from onefunnel.domain.stages import Stage, StageReason


class HandoffStatus(StrEnum):
    """pending → accepted | rejected | expired (an expired handoff is reassigned as a new owner)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"


class HandoffTrigger(StrEnum):
    """What created the handoff."""

    MQL_THRESHOLD = "mql_threshold"
    HAND_RAISE = "hand_raise"
    MANUAL = "manual"
    IMPORT = "import"


REJECTION_REASONS: tuple[StageReason, ...] = (
    StageReason.BAD_FIT,
    StageReason.NO_BUDGET,
    StageReason.NO_AUTHORITY,
    StageReason.NOT_NOW,
    StageReason.DUPLICATE,
    StageReason.BAD_DATA,
    StageReason.COMPETITOR,
    StageReason.OTHER,
)
_DISQUALIFYING = frozenset({StageReason.DUPLICATE, StageReason.BAD_DATA})


class HandoffError(ValueError):
    """A handoff decision that the rules forbid; the message names the field."""


def parse_rejection_reason(code: str) -> StageReason:
    """The rejection reason for a code, or HandoffError naming the allowed codes."""
    try:
        reason = StageReason(code)
    except ValueError:
        reason = None
    if reason is None or reason not in REJECTION_REASONS:
        allowed = ", ".join(r.value for r in REJECTION_REASONS)
        raise HandoffError(f"reason: unknown rejection reason {code!r} (one of: {allowed})")
    return reason


def check_decision(status: HandoffStatus, *, reason: StageReason | None, note: str) -> None:
    """Raise HandoffError unless a pending handoff is being decided properly.

    Rejecting needs a reason code, and ``other`` needs a note, so that every rejection can be
    read back by marketing and counted by reason.
    """
    if status is not HandoffStatus.PENDING:
        raise HandoffError(f"status: handoff is already {status.value}")
    if reason is not None and reason not in REJECTION_REASONS:
        raise HandoffError(f"reason: {reason.value} is not a rejection reason")
    if reason is StageReason.OTHER and not note.strip():
        raise HandoffError("note: a rejection for 'other' needs a note")


def stage_after_rejection(reason: StageReason) -> Stage:
    """Rejected leads go back to marketing (nurture); bad data and duplicates are disqualified."""
    return Stage.DISQUALIFIED if reason in _DISQUALIFYING else Stage.NURTURE
