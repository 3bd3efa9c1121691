"""Forms: what a capture form asks, and what a submission to it may carry.

A form definition names its fields (each with a label, a type and whether it is required), the
consent text shown beside the submit button, whether a submission is a *hand-raise* (a demo
request, contact-sales: it moves the contact to intent and opens a handoff), the campaign it
belongs to, and what the visitor sees afterwards. Every form asks for an email: a submission
creates or updates the contact with that email, so without one there is nobody to record.

A submission is read from whatever the browser sent (urlencoded or JSON, already decoded into
names and strings) by :func:`read_submission`: only the form's own fields are kept (unknown
names are ignored), required ones are named when missing, control characters (CR/LF among them)
are folded out of one-line values so that nothing a visitor types can start a new header or
line anywhere it is written, and sizes are bounded — a submission with more than
``MAX_SUBMITTED_FIELDS`` names or a value over ``MAX_VALUE_CHARS`` is refused whole. Hidden
fields carry the page's UTM parameters (filled from the page's URL), the browser's anonymous id
and the page's address. A honeypot field, hidden from people, that comes back filled marks a
robot: the interface answers as if it succeeded and writes nothing.

Pure: no Django, no database. Errors are :class:`FormError` with ``field: message`` text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit

from onefunnel.domain.touches import TouchKind, Utm

#: Limits of a definition.
MAX_FIELDS = 40
MAX_NAME_CHARS = 120
MAX_LABEL_CHARS = 200
MAX_CONSENT_CHARS = 4000
MAX_THANK_YOU_CHARS = 1000
MAX_URL_CHARS = 2000
#: Limits of a submission (an interface also refuses a body over ``MAX_BODY_BYTES`` unread).
MAX_SUBMITTED_FIELDS = 100
MAX_VALUE_CHARS = 5000
MAX_BODY_BYTES = 64 * 1024
MAX_ANONYMOUS_ID_CHARS = 200

#: The hidden fields every form carries besides its own.
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
ANONYMOUS_ID = "anonymous_id"
PAGE_URL = "page_url"
CONSENT = "consent"
SUBMISSION_ID = "submission_id"
#: The honeypot: a field people never see (hidden by the page's style), which robots fill in.
HONEYPOT = "homepage"
RESERVED_NAMES = frozenset({*UTM_FIELDS, ANONYMOUS_ID, PAGE_URL, CONSENT, SUBMISSION_ID, HONEYPOT})

#: Form fields that fill the contact's own fields of the same name; the rest are answers kept
#: with the submission and its touch.
CONTACT_FIELDS = frozenset({"first_name", "last_name", "title", "phone", "country"})

_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\u2028\u2029]")
_TRUE = frozenset({"on", "true", "1", "yes", "y", "checked"})


class FormError(ValueError):
    """A definition or a submission that cannot be accepted; ``field: message``."""


class SubmissionError(FormError):
    """A submission with fields to fix: ``problems`` holds (field, message) for each."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{name}: {msg}" for name, msg in self.problems))


class FieldType(StrEnum):
    """What a form field asks for (the HTML input it becomes)."""

    TEXT = "text"
    EMAIL = "email"
    TEL = "tel"
    TEXTAREA = "textarea"
    CHECKBOX = "checkbox"


@dataclass(frozen=True, slots=True)
class FormField:
    """One question of a form."""

    name: str
    label: str
    type: FieldType = FieldType.TEXT
    required: bool = False

    def as_dict(self) -> dict[str, object]:
        """Plain form, as stored and as the API shows it."""
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type.value,
            "required": self.required,
        }


@dataclass(frozen=True, slots=True)
class FormDefinition:
    """A checked form definition (see :func:`check_definition`)."""

    name: str
    slug: str
    fields: tuple[FormField, ...]
    consent_text: str = ""
    hand_raise: bool = False
    thank_you: str = "Thank you: we have your details."
    redirect_url: str = ""

    @property
    def consent_version(self) -> str:
        """What identifies the consent text shown: its hash (see :func:`consent_version`)."""
        return consent_version(self.consent_text)

    @property
    def touch_kind(self) -> TouchKind:
        """The kind of touch a submission records (see :func:`touch_kind`)."""
        return touch_kind(self.hand_raise)


def consent_version(text: str) -> str:
    """The version of a consent text: the SHA-256 of its exact words, so a record says which
    text was agreed even after the form's text is edited (empty text: no consent asked)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else ""


def touch_kind(hand_raise: bool) -> TouchKind:
    """A submission is a ``form_submit`` touch, or ``hand_raise`` on a hand-raise form: the
    touch's kind is what moves the contact (a hand-raise is intent, DESIGN §2); both name the
    form in their properties."""
    return TouchKind.HAND_RAISE if hand_raise else TouchKind.FORM_SUBMIT


def single_line(value: str) -> str:
    """``value`` with every control character (CR, LF, tab, NUL, line separators) folded into
    one space and the ends trimmed: it can no longer start a header or a new line."""
    return " ".join(_CONTROL.sub(" ", value).split())


def multi_line(value: str) -> str:
    """``value`` keeping its line breaks (CRLF and CR become LF), with every other control
    character folded into a space and the ends trimmed: text for a message box."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_BUT_NEWLINE.sub(" ", text).strip()


def _text(raw: object, name: str, limit: int, *, required: bool, one_line: bool = True) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise FormError(f"{name}: must be text")
    value = single_line(raw) if one_line else multi_line(raw)
    if required and not value:
        raise FormError(f"{name}: required")
    if len(value) > limit:
        raise FormError(f"{name}: at most {limit} characters")
    return value


def check_field(raw: Mapping[str, object], index: int) -> FormField:
    """One field of a definition, checked; ``fields[i].x: message`` otherwise."""
    where = f"fields[{index}]"
    if not isinstance(raw, Mapping):
        raise FormError(f"{where}: must be an object with name, label, type, required")
    name = _text(raw.get("name"), f"{where}.name", 40, required=True)
    if not _FIELD_NAME.match(name):
        raise FormError(
            f"{where}.name: {name!r} must start with a letter and hold only a-z, 0-9 and _"
        )
    if name in RESERVED_NAMES:
        raise FormError(f"{where}.name: {name!r} is reserved (a hidden field of every form)")
    label = _text(raw.get("label") or name.replace("_", " ").capitalize(), f"{where}.label",
                  MAX_LABEL_CHARS, required=True)  # fmt: skip
    kind = raw.get("type") or FieldType.TEXT.value
    try:
        field_type = FieldType(str(kind))
    except ValueError:
        allowed = ", ".join(t.value for t in FieldType)
        raise FormError(f"{where}.type: {kind!r} is not one of {allowed}") from None
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise FormError(f"{where}.required: must be true or false")
    if name == "email" and (field_type is not FieldType.EMAIL or not required):
        raise FormError(f"{where}: the email field must be of type email and required")
    return FormField(name, label, field_type, required)


def check_slug(slug: object) -> str:
    """A slug for the form's address (``/f/<slug>``): lower-case words joined by hyphens."""
    value = _text(slug, "slug", 60, required=True)
    if not _SLUG.match(value):
        raise FormError(f"slug: {value!r} must be lower-case letters and digits joined by '-'")
    return value


def check_redirect(url: object) -> str:
    """An absolute http(s) address to send the visitor to after submitting, or empty."""
    value = _text(url, "redirect_url", MAX_URL_CHARS, required=False)
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FormError(f"redirect_url: {value!r} must be an absolute http or https address")
    return value


def check_origin(origin: object) -> str:
    """A site allowed to post a form from its pages (CORS): ``scheme://host[:port]`` exactly as
    a browser sends it in ``Origin`` (no path, lower case)."""
    value = _text(origin, "allowed_origins", 200, required=True).lower().rstrip("/")
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise FormError(
            f"allowed_origins: {value!r} must be scheme://host[:port], e.g. https://www.example.com"
        )
    return value


def check_definition(
    *,
    name: object,
    slug: object,
    fields: object,
    consent_text: object = "",
    hand_raise: object = False,
    thank_you: object = None,
    redirect_url: object = "",
) -> FormDefinition:
    """A form definition checked whole: FormError naming the first field at fault otherwise.

    Rules: a name; a slug; 1 to ``MAX_FIELDS`` fields with distinct names, not reserved, one
    of them ``email`` (type email, required); texts within their limits.
    """
    checked_name = _text(name, "name", MAX_NAME_CHARS, required=True)
    checked_slug = check_slug(slug)
    if not isinstance(fields, Sequence) or isinstance(fields, str | bytes):
        raise FormError("fields: must be a list of fields")
    if not fields:
        raise FormError("fields: a form needs at least its email field")
    if len(fields) > MAX_FIELDS:
        raise FormError(f"fields: at most {MAX_FIELDS} fields")
    checked = tuple(check_field(f, i) for i, f in enumerate(fields))
    seen: set[str] = set()
    for i, f in enumerate(checked):
        if f.name in seen:
            raise FormError(f"fields[{i}].name: {f.name!r} appears twice")
        seen.add(f.name)
    if "email" not in seen:
        raise FormError("fields: a form must ask for 'email' (the contact is found by it)")
    if not isinstance(hand_raise, bool):
        raise FormError("hand_raise: must be true or false")
    thanks = _text(
        "Thank you: we have your details." if thank_you is None else thank_you,
        "thank_you", MAX_THANK_YOU_CHARS, required=True, one_line=False,
    )  # fmt: skip
    return FormDefinition(
        name=checked_name,
        slug=checked_slug,
        fields=checked,
        consent_text=_text(
            consent_text, "consent_text", MAX_CONSENT_CHARS, required=False, one_line=False
        ),
        hand_raise=hand_raise,
        thank_you=thanks,
        redirect_url=check_redirect(redirect_url),
    )


# --------------------------------------------------------------------------- submissions


@dataclass(frozen=True, slots=True)
class Submission:
    """What a submission says once read against its form.

    ``answers`` holds every form field given (contact fields included), ``contact_fields`` the
    ones that fill the contact. ``is_robot`` is True when the honeypot came back filled."""

    email: str
    answers: Mapping[str, str | bool]
    contact_fields: Mapping[str, str]
    utm: Utm = field(default_factory=Utm)
    anonymous_id: str = ""
    page_url: str = ""
    consent: bool = False
    submission_id: str = ""
    is_robot: bool = False


def check_size(values: Mapping[str, object]) -> None:
    """Refuse a submission that is too big to be a person's: too many names, or a value too
    long (before anything of it is read further)."""
    if len(values) > MAX_SUBMITTED_FIELDS:
        raise FormError(f"fields: at most {MAX_SUBMITTED_FIELDS} fields may be sent")
    for name, value in values.items():
        if len(name) > 100:
            raise FormError("fields: a field name is over 100 characters")
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise FormError(f"{single_line(name)[:40]}: at most {MAX_VALUE_CHARS} characters")


def utm_from_url(url: str) -> Utm:
    """The UTM parameters in a page address's query (empty where absent or unreadable)."""
    try:
        query = parse_qs(urlsplit(url).query, max_num_fields=MAX_SUBMITTED_FIELDS)
    except ValueError:
        return Utm()

    def one(key: str) -> str:
        return single_line((query.get(key) or [""])[0])[:200]

    return Utm(
        one("utm_source"), one("utm_medium"), one("utm_campaign"), one("utm_term"),
        one("utm_content"),
    )  # fmt: skip


def _truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in _TRUE


def _value(values: Mapping[str, object], name: str) -> object:
    value = values.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def read_submission(
    form: FormDefinition, values: Mapping[str, object], *, default_campaign: str = ""
) -> Submission:
    """Read a submission against its form (see the module docstring).

    ``values`` maps each name sent to its value (strings; JSON may also send booleans and
    numbers). Unknown names are ignored. Raises FormError for a submission that is too big and
    SubmissionError naming every field to fix. The UTM parameters come from the hidden fields,
    else from the page's address, else the form's campaign (``default_campaign``).
    """
    check_size(values)
    trap = values.get(HONEYPOT)
    if trap is True or (isinstance(trap, str) and trap.strip()):
        return Submission(email="", answers={}, contact_fields={}, is_robot=True)
    problems: list[tuple[str, str]] = []
    answers: dict[str, str | bool] = {}
    for f in form.fields:
        raw = _value(values, f.name)
        if f.type is FieldType.CHECKBOX:
            checked = _truthy(raw)
            if f.required and not checked:
                problems.append((f.name, "required (tick the box)"))
            answers[f.name] = checked
            continue
        if raw is not None and not isinstance(raw, str):
            problems.append((f.name, "must be text"))
            continue
        text = multi_line(raw or "") if f.type is FieldType.TEXTAREA else single_line(raw or "")
        if f.required and not text:
            problems.append((f.name, "required"))
        elif text:
            answers[f.name] = text
    consent = _truthy(values.get(CONSENT))
    if form.consent_text and not consent:
        problems.append((CONSENT, "required: agree to the consent text to submit"))
    if problems:
        raise SubmissionError(problems)
    hidden = {
        name: single_line(v)[:MAX_URL_CHARS]
        for name in (*UTM_FIELDS, ANONYMOUS_ID, PAGE_URL, SUBMISSION_ID)
        if isinstance(v := values.get(name), str)
    }
    page_url = hidden.get(PAGE_URL, "")
    from_page = utm_from_url(page_url)
    given = Utm(*(hidden.get(k, "")[:200] for k in UTM_FIELDS))
    utm = given if any(_utm_values(given)) else from_page
    if not utm.campaign and default_campaign:
        utm = Utm(utm.source, utm.medium, default_campaign, utm.term, utm.content)
    anonymous_id = hidden.get(ANONYMOUS_ID, "")[:MAX_ANONYMOUS_ID_CHARS]
    submission_id = hidden.get(SUBMISSION_ID, "")[:100]
    email = str(answers.get("email", ""))
    return Submission(
        email=email,
        answers=answers,
        contact_fields={
            k: str(v) for k, v in answers.items() if k in CONTACT_FIELDS and isinstance(v, str)
        },
        utm=utm,
        anonymous_id=anonymous_id,
        page_url=page_url,
        consent=consent,
        submission_id=submission_id,
    )


def _utm_values(utm: Utm) -> tuple[str, ...]:
    return (utm.source, utm.medium, utm.campaign, utm.term, utm.content)
