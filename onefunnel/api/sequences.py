"""HTTP for email sequences: define them, enroll contacts, read enrollments, and record what
mail servers report later (bounces, complaints, unsubscribes, replies). Thin.

Auth as the CRM's campaigns: reads for every role and CRM keys; writes for marketing (the
rule book's ``edit_marketing``) or a ``crm:write`` key (which acts as the system). Errors: 403
not allowed, 404 unknown id, 422 bad input (a template with an unknown variable is refused here,
when saved, with the step and part named in ``errors``).
"""

# No ``from __future__ import annotations``: the shared ``inputs`` decorator (api/crm.py) wraps
# each view, and django-ninja would resolve string annotations in crm's namespace.

from typing import Annotated, Any

from django.http import HttpRequest, RawPostDataException
from ninja import Router, Schema, Status
from pydantic import Field

from onefunnel.api.crm import READ, WRITE_MARKETING, inputs
from onefunnel.api.deals import ERRORS, ErrorItem, ErrorOut, Id, actor_of
from onefunnel.api.root import api
from onefunnel.services.errors import InputError
from onefunnel.services.marketing import email_events, inbound_mail, sequences

router = Router(auth=READ, tags=["sequences"])


class StepIn(Schema):
    wait_days: Annotated[int, Field(ge=0, le=365)] = 0
    subject: str = Field(max_length=200)
    html: str = Field(max_length=200_000)
    text: str = Field(max_length=200_000)


class SequenceIn(Schema):
    name: str = Field(max_length=200)
    campaign: str | Id = Field(description="The campaign's id or UTM key")
    from_email: str = Field(max_length=254)
    from_name: str = Field("", max_length=200)
    steps: list[StepIn] = Field(max_length=50)
    stop_on: list[str] | None = Field(
        None, description="replied, booked_demo, handed_off, unsubscribed (default: all)"
    )
    entry_reasons: list[str] = Field(
        default_factory=list, description="Rejection reasons that enroll automatically"
    )
    active: bool = True


class SequencePatch(Schema):
    name: str | None = Field(None, max_length=200)
    from_email: str | None = Field(None, max_length=254)
    from_name: str | None = Field(None, max_length=200)
    active: bool | None = None
    stop_on: list[str] | None = None
    entry_reasons: list[str] | None = None
    steps: list[StepIn] | None = Field(None, max_length=50)


class EnrollIn(Schema):
    contact_ids: list[Id] = Field(default_factory=list, max_length=10_000)
    segment: (
        Annotated[int, Field(ge=1, le=2**31 - 1)] | Annotated[str, Field(max_length=200)] | None
    ) = Field(None, description="Or a segment (id or name): its members as they are now")


class EnrolledOut(Schema):
    sequence_id: int
    enrolled: list[int]
    already: list[int]
    skipped: dict[str, str]


class EmailEventIn(Schema):
    kind: str = Field(description="bounce, complaint, unsubscribe or reply")
    email: str = Field("", max_length=254)
    message_id: str = Field("", max_length=254, description="The Message-ID of the send")


def _steps(steps: list[StepIn] | None) -> list[dict[str, Any]] | None:
    return None if steps is None else [s.model_dump() for s in steps]


@router.get("/sequences", response={200: list[sequences.SequenceView], 422: ErrorOut})
def list_sequences(request: HttpRequest) -> Any:
    """Every sequence with its steps and enrollment counts."""
    return sequences.list_sequences()


@router.post("/sequences", response={201: sequences.SequenceView, **ERRORS}, auth=WRITE_MARKETING)
@inputs
def create_sequence(request: HttpRequest, payload: SequenceIn) -> Any:
    """Create a sequence; its templates are checked now (unknown variables answer 422)."""
    fields = payload.model_dump()
    fields["steps"] = _steps(payload.steps)
    return Status(201, sequences.create_sequence(actor=actor_of(request), **fields))


@router.get("/sequences/{sequence_id}", response={200: sequences.SequenceView, **ERRORS})
def get_sequence(request: HttpRequest, sequence_id: Id) -> Any:
    """One sequence."""
    return sequences.get_sequence(sequence_id)


@router.patch(
    "/sequences/{sequence_id}",
    response={200: sequences.SequenceView, **ERRORS},
    auth=WRITE_MARKETING,
)
@inputs
def update_sequence(request: HttpRequest, sequence_id: Id, payload: SequencePatch) -> Any:
    """Change the fields sent (steps are replaced by position)."""
    fields = payload.model_dump(exclude_unset=True)
    if "steps" in fields:
        fields["steps"] = _steps(payload.steps)
    return sequences.update_sequence(sequence_id, actor=actor_of(request), **fields)


@router.post(
    "/sequences/{sequence_id}/enroll",
    response={200: EnrolledOut, **ERRORS},
    auth=WRITE_MARKETING,
)
@inputs
def enroll(request: HttpRequest, sequence_id: Id, payload: EnrollIn) -> Any:
    """Enroll contacts (at most 10,000 a call) or a segment's members: who entered, who was in, who was skipped."""
    if bool(payload.contact_ids) == (payload.segment is not None):
        raise InputError("contact_ids: give contact_ids or a segment, not both")
    if payload.segment is not None:
        result = sequences.enroll_segment(sequence_id, payload.segment, actor=actor_of(request))
    else:
        result = sequences.enroll(sequence_id, payload.contact_ids, actor=actor_of(request))
    return result.as_dict()


@router.get(
    "/sequences/{sequence_id}/enrollments",
    response={200: list[sequences.EnrollmentView], **ERRORS},
)
@inputs
def list_enrollments(request: HttpRequest, sequence_id: Id, limit: int = 500) -> Any:
    """A sequence's enrollments, newest first."""
    return sequences.list_enrollments(sequence_id, limit=limit)


class EventOut(Schema):
    kind: str
    email: str
    suppressed: bool
    stopped: int
    moved_to: str | None


@router.post("/email/events", response={200: EventOut, **ERRORS}, auth=WRITE_MARKETING)
@inputs
def email_event(request: HttpRequest, payload: EmailEventIn) -> Any:
    """Record a bounce, complaint, unsubscribe or reply reported after sending (by address or
    by the send's Message-ID): the address is suppressed (not for a reply) and its
    enrollments stop."""
    result = email_events.record_event(actor=actor_of(request), **payload.model_dump())
    return result.as_dict()


class InboundOut(Schema):
    outcome: str = Field(
        description="reply, bounce, complaint, auto_reply, transient, notice, unmatched, duplicate"
    )
    reason: str
    message_id: str = Field(description="The inbound message's own Message-ID")
    email: str = Field(description="The address recorded (reply, bounce, complaint)")
    send_message_id: str = Field(description="The Message-ID of our email it answered")
    stopped: int
    suppressed: bool


#: The raw message as MTAs and inbound webhooks post it (some say only application/octet-stream).
INBOUND_TYPES = ("message/rfc822", "application/octet-stream")


def _refused(status: int, loc: str, msg: str) -> Status[ErrorOut]:
    return Status(status, ErrorOut(detail=msg, errors=[ErrorItem(loc=["body", loc], msg=msg)]))


@router.post(
    "/email/inbound",
    response={200: InboundOut, 413: ErrorOut, 415: ErrorOut, **ERRORS},
    auth=WRITE_MARKETING,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}} for kind in INBOUND_TYPES
            },
        }
    },
)
@inputs
def email_inbound(request: HttpRequest) -> Any:
    """Read one raw email that came back (the body, ``Content-Type: message/rfc822`` or
    ``application/octet-stream``, as an inbound webhook or an MTA would post it): a reply to
    one of our emails stops the contact's enrollments, a bounce (RFC 3464 DSN) or complaint
    (RFC 5965 ARF) suppresses the address; automatic answers, delays and unmatched messages
    are answered but not recorded.
    The same message posted twice records once. 413 over ``ONEFUNNEL_INBOUND_MAX_BYTES``, 415
    for another content type, 422 for a body that is no email message."""
    if request.content_type not in INBOUND_TYPES:
        return _refused(415, "content_type", "content type: send the raw email as message/rfc822")
    limit = inbound_mail.max_message_bytes()
    too_big = f"body: larger than {limit} bytes"
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _refused(413, "size", too_big)
    try:
        # Read the stream, not request.body: the inbound limit is its own, not Django's
        # DATA_UPLOAD_MAX_MEMORY_SIZE for forms.
        raw = request.read(limit + 1)
    except RawPostDataException:
        raw = request.body
    if len(raw) > limit:
        return _refused(413, "size", too_big)
    result = inbound_mail.receive_message(raw, actor=actor_of(request), max_bytes=limit)
    return result.as_dict()


api.add_router("/", router)
