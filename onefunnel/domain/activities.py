"""Sales activities and tasks: what a rep logs, and the rules for logging it.

An activity is a call, email, meeting, demo or note on a contact, an account or a deal. Every
kind but a note is a one-to-one *touch* of the sales team: it is stored once, as the touchpoint
(so attribution, the timeline and the handoff's first response see it), with the activity's
details (outcome, duration, notes, deal) beside it. A note is nobody's touch: it is kept as an
activity alone.

A task is something to do: a title, a due date, an owner and a done state; it is overdue when
it is not done and its due date has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from onefunnel.domain.touches import TouchKind


class ActivityKind(StrEnum):
    """What a rep logs."""

    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    DEMO = "demo"
    NOTE = "note"

    @property
    def touch_kind(self) -> TouchKind | None:
        """The kind of touch this activity is; None for a note (not a touch)."""
        return _TOUCH_KINDS.get(self)


_TOUCH_KINDS = {
    ActivityKind.CALL: TouchKind.CALL,
    ActivityKind.EMAIL: TouchKind.SALES_EMAIL,
    ActivityKind.MEETING: TouchKind.MEETING,
    ActivityKind.DEMO: TouchKind.DEMO,
}


class ActivityOutcome(StrEnum):
    """How an activity went (optional)."""

    CONNECTED = "connected"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    HELD = "held"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"
    SENT = "sent"
    REPLIED = "replied"


#: The longest activity one may log (a day), in minutes.
MAX_DURATION_MINUTES = 24 * 60
MAX_NOTES = 10_000


class ActivityError(ValueError):
    """An activity or task the rules refuse; the message names the field."""


def parse_kind(value: str) -> ActivityKind:
    """An activity kind from user input; ActivityError naming ``kind`` otherwise."""
    try:
        return ActivityKind(value.strip().lower())
    except ValueError:
        choices = ", ".join(k.value for k in ActivityKind)
        raise ActivityError(f"kind: unknown activity {value!r} (one of {choices})") from None


def parse_outcome(value: str | None) -> ActivityOutcome | None:
    """An outcome from user input (empty means none); ActivityError naming ``outcome``."""
    if value is None or not value.strip():
        return None
    try:
        return ActivityOutcome(value.strip().lower().replace(" ", "_"))
    except ValueError:
        choices = ", ".join(o.value for o in ActivityOutcome)
        raise ActivityError(f"outcome: unknown outcome {value!r} (one of {choices})") from None


@dataclass(frozen=True, slots=True)
class ActivityDraft:
    """What a rep asks to log, before it is stored."""

    kind: ActivityKind
    has_contact: bool
    has_account: bool
    has_deal: bool
    duration_minutes: int | None = None
    notes: str = ""


def check_activity(draft: ActivityDraft) -> None:
    """Raise ActivityError unless the activity can be logged: it is on something (a contact,
    an account or a deal), its duration is 0–1440 minutes, a note has text, notes are not
    longer than 10,000 characters."""
    if not (draft.has_contact or draft.has_account or draft.has_deal):
        raise ActivityError("contact_id: an activity is logged on a contact, an account or a deal")
    if draft.duration_minutes is not None and not 0 <= draft.duration_minutes <= (
        MAX_DURATION_MINUTES
    ):
        raise ActivityError(f"duration_minutes: between 0 and {MAX_DURATION_MINUTES}")
    if draft.kind is ActivityKind.NOTE and not draft.notes.strip():
        raise ActivityError("notes: a note needs text")
    if len(draft.notes) > MAX_NOTES:
        raise ActivityError(f"notes: at most {MAX_NOTES} characters")


def check_task(*, title: str, owner_given: bool, due: date | None) -> None:
    """Raise ActivityError unless a task has a title, an owner and a due date."""
    if not title.strip():
        raise ActivityError("title: a task needs a title")
    if len(title) > 200:
        raise ActivityError("title: at most 200 characters")
    if not owner_given:
        raise ActivityError("owner: a task needs an owner")
    if due is None:
        raise ActivityError("due: a task needs a due date")


def is_overdue(due: date, *, done: bool, today: date) -> bool:
    """True when a task is not done and its due date has passed."""
    return not done and due < today
