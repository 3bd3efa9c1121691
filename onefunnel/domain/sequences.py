"""Email sequences: the rules of nurturing a lead by email, without Django.

A *sequence* is ordered steps; each step waits some days after the previous one, then sends an
email (subject, HTML and plain-text parts, templated with the contact's and account's fields).
A contact *enrolled* in a sequence receives its steps in order until the last one is sent
(``completed``) or a *stop condition* holds (``stopped``, with the reason): the contact replied,
booked a demo, was handed to sales again, unsubscribed — and, always, an address that bounced or
complained is never written to again.

What lives here: the allowed template variables (a template naming anything else is refused when
it is saved, not when it would be sent), when a step is due, why an enrollment stops, which due
sends a pass may make under a per-domain throttle, and how text becomes a safe header value
(CR and LF can never start a new header).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class StopCondition(StrEnum):
    """What ends an enrollment early, as a sequence configures it."""

    REPLIED = "replied"
    BOOKED_DEMO = "booked_demo"
    HANDED_OFF = "handed_off"
    UNSUBSCRIBED = "unsubscribed"


class StopReason(StrEnum):
    """Why an enrollment stopped: a configured condition, or the address can no longer be
    written to (bounced, complained: these stop every sequence, whatever it configures)."""

    REPLIED = "replied"
    BOOKED_DEMO = "booked_demo"
    HANDED_OFF = "handed_off"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    NO_ADDRESS = "no_address"


class EnrollmentState(StrEnum):
    """Where an enrollment is: receiving steps, done with them, or stopped early."""

    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"


class Suppression(StrEnum):
    """Why an address is never emailed again."""

    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class EnrollmentSource(StrEnum):
    """How a contact entered a sequence."""

    MANUAL = "manual"  # enroll(): by hand or from a segment's members
    HANDOFF_REJECTED = "handoff_rejected"


ALL_STOP_CONDITIONS: tuple[StopCondition, ...] = tuple(StopCondition)

#: The variables a template may use: the contact's and the account's fields, and the link to
#: unsubscribe. Anything else is refused when the template is saved.
CONTACT_FIELDS = ("first_name", "last_name", "email", "title", "country")
ACCOUNT_FIELDS = ("name", "domain", "industry", "country")
ALLOWED_VARIABLES: frozenset[str] = frozenset(
    {"contact", "account", "unsubscribe_url"}
    | {f"contact.{f}" for f in CONTACT_FIELDS}
    | {f"account.{f}" for f in ACCOUNT_FIELDS}
)

MAX_STEPS = 50
MAX_WAIT_DAYS = 365
MAX_SUBJECT = 200
MAX_BODY = 200_000


class SequenceError(ValueError):
    """A sequence definition the rules refuse; the message names the field ("steps[1].wait_days:
    …")."""


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step as a user defines it: wait this many days, then send this email."""

    wait_days: int
    subject: str
    html: str
    text: str


def unknown_variables(names: Iterable[str]) -> list[str]:
    """The variable paths (``contact.first_name``) a template uses that are not allowed,
    sorted and without repeats."""
    return sorted({n for n in names if n not in ALLOWED_VARIABLES})


def check_steps(steps: Sequence[StepSpec]) -> None:
    """Raise SequenceError unless the steps are a sendable series (templates are checked by
    the service, which parses them)."""
    if not steps:
        raise SequenceError("steps: a sequence needs at least one step")
    if len(steps) > MAX_STEPS:
        raise SequenceError(f"steps: at most {MAX_STEPS} steps")
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if isinstance(step.wait_days, bool) or not 0 <= step.wait_days <= MAX_WAIT_DAYS:
            raise SequenceError(f"{where}.wait_days: a whole number from 0 to {MAX_WAIT_DAYS}")
        if not step.subject.strip():
            raise SequenceError(f"{where}.subject: required")
        if len(step.subject) > MAX_SUBJECT:
            raise SequenceError(f"{where}.subject: at most {MAX_SUBJECT} characters")
        if not step.text.strip():
            raise SequenceError(f"{where}.text: required (every email has a plain-text part)")
        if not step.html.strip():
            raise SequenceError(f"{where}.html: required")
        if len(step.html) > MAX_BODY or len(step.text) > MAX_BODY:
            raise SequenceError(f"{where}: a part is at most {MAX_BODY} characters")


def parse_stop_conditions(values: Iterable[str]) -> tuple[StopCondition, ...]:
    """Stop conditions from their names (SequenceError naming an unknown one)."""
    out: list[StopCondition] = []
    for value in values:
        try:
            condition = StopCondition(value)
        except ValueError:
            known = ", ".join(c.value for c in StopCondition)
            raise SequenceError(f"stop_on: unknown condition {value!r} (one of {known})") from None
        if condition not in out:
            out.append(condition)
    return tuple(out)


def first_send_at(enrolled_at: datetime, steps: Sequence[int]) -> datetime:
    """When the first step goes out: its wait after the moment of enrollment."""
    return enrolled_at + timedelta(days=steps[0])


def next_send_at(sent_at: datetime, waits: Sequence[int], sent_index: int) -> datetime | None:
    """When the step after ``sent_index`` is due (its wait after this send), or None when the
    sent step was the last."""
    following = sent_index + 1
    if following >= len(waits):
        return None
    return sent_at + timedelta(days=waits[following])


@dataclass(frozen=True, slots=True)
class Facts:
    """What happened to an enrolled contact since it entered the sequence."""

    replied: bool = False
    booked_demo: bool = False
    handed_off: bool = False
    unsubscribed: bool = False
    bounced: bool = False
    complained: bool = False
    has_address: bool = True


def stop_reason(conditions: Iterable[StopCondition], facts: Facts) -> StopReason | None:
    """Why the enrollment must stop before its next send, or None to go on.

    A bounced or complained address stops every sequence, and so does an unsubscribed one (an
    unsubscribe is the law's business, not a sequence's setting); the other conditions apply
    when the sequence lists them.
    """
    if not facts.has_address:
        return StopReason.NO_ADDRESS
    if facts.bounced:
        return StopReason.BOUNCED
    if facts.complained:
        return StopReason.COMPLAINED
    if facts.unsubscribed:
        return StopReason.UNSUBSCRIBED
    wanted = set(conditions)
    if StopCondition.REPLIED in wanted and facts.replied:
        return StopReason.REPLIED
    if StopCondition.BOOKED_DEMO in wanted and facts.booked_demo:
        return StopReason.BOOKED_DEMO
    if StopCondition.HANDED_OFF in wanted and facts.handed_off:
        return StopReason.HANDED_OFF
    return None


def recipient_domain(address: str) -> str:
    """The domain part of an address, lower-cased (the unit of throttling)."""
    return address.rpartition("@")[2].strip().lower()


def throttle(
    due: Sequence[tuple[int, str]], sent_last_minute: Mapping[str, int], per_minute: int
) -> tuple[list[int], list[int]]:
    """Split due sends ``(id, recipient domain)``, in order, into those this pass may make and
    those that wait: at most ``per_minute`` to a domain in any minute, counting the sends of
    the last minute already made."""
    if per_minute < 1:
        raise ValueError("per_minute: at least 1")
    used = dict(sent_last_minute)
    send: list[int] = []
    wait: list[int] = []
    for item_id, domain in due:
        if used.get(domain, 0) < per_minute:
            used[domain] = used.get(domain, 0) + 1
            send.append(item_id)
        else:
            wait.append(item_id)
    return send, wait


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")


def header_text(value: str) -> str:
    """Text made safe for a header (subject, display name): every run of control characters —
    CR and LF among them — becomes one space, so no value can start a header of its own."""
    return " ".join(_CONTROL.sub(" ", value).split())


_ADDRESS = re.compile(r"^[^\s@<>(),;:\"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def is_plain_address(address: str) -> bool:
    """True for a bare ``local@domain`` address with nothing a header could be split on (no
    CR, LF, spaces, angle brackets, commas or quotes)."""
    return bool(_ADDRESS.match(address)) and len(address) <= 254
