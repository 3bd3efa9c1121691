"""Tracking events in the Segment Spec: what a message must contain, when it happened, and which
touch it is.

Sites and back ends instrumented with Segment or RudderStack SDKs send *messages* (``track``,
``identify``, ``page``, ``screen``, ``group``, ``alias``), usually in batches. This module turns one
decoded JSON message into a :class:`TrackingEvent` — validated, with ids as strings, UTM tags from
``context.campaign``, page data from ``context.page`` and a clock-corrected time — or an
:class:`EventError` that names the field, e.g. ``batch[3].messageId: required``.

Time: a device's clock may be wrong, but the *difference* between two readings of the same clock
is right. The client stamps the event (``originalTimestamp``, or ``timestamp`` from server
libraries) and stamps the request when it sends it (``sentAt``); we know when we received it. So,
as the Segment spec computes it::

    timestamp = receivedAt - (sentAt - originalTimestamp)

which keeps the client's *delay* and drops its clock's offset. Without ``sentAt`` the client's
time is taken as is; without any time the event happened when it arrived. No event happens after
it was received, so the result is clamped to ``receivedAt``. A clock a little ahead is
that; a time more than ``MAX_AHEAD`` after receipt (``9999-12-31``) or before ``EARLIEST``
(``0001-01-01``) is not a clock at all, and its message is refused with the reason.

Which touch an event is, and which channel it came through, is data (:class:`TouchRules`) with
defaults for the usual names; installations override it with plain JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import numpy as np
import orjson

from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import (
    Channel,
    TouchKind,
    Utm,
    advance_for_touch,
    channel_for_utm,
    stage_implied_by,
)

MAX_ID_LENGTH = 200
MAX_DEPTH = 32
#: No tracked event happened earlier: a time before it is a broken clock or a typo, refused.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
#: Nor did one happen more than this after it was received: a time (or ``sentAt``) beyond is
#: refused rather than clamped, since clamping would store a broken clock's event as "now".
MAX_AHEAD = timedelta(days=366)


class EventType(StrEnum):
    """The six Segment message types."""

    TRACK = "track"
    IDENTIFY = "identify"
    PAGE = "page"
    SCREEN = "screen"
    GROUP = "group"
    ALIAS = "alias"


class EventError(ValueError):
    """A message (or a part of one) that cannot be accepted; ``loc`` names the field."""

    def __init__(self, loc: str, msg: str) -> None:
        self.loc = loc
        self.msg = msg
        super().__init__(f"{loc}: {msg}")


class PageInfo(NamedTuple):
    """Where a page (or screen) event happened: ``context.page`` and the page properties.

    A named tuple, like :class:`TrackingEvent`: immutable and built several times faster than a
    frozen dataclass, which matters at thousands of messages a second.
    """

    url: str = ""
    path: str = ""
    referrer: str = ""
    title: str = ""
    search: str = ""

    def as_dict(self) -> dict[str, str]:
        """The non-empty fields, for storage with the touchpoint."""
        pairs = {
            "url": self.url,
            "path": self.path,
            "referrer": self.referrer,
            "title": self.title,
            "search": self.search,
        }
        return {k: v for k, v in pairs.items() if v}


_EMPTY: Mapping[str, Any] = MappingProxyType({})


class TrackingEvent(NamedTuple):
    """One validated message. ``name`` is the track event or the page/screen name.

    A named tuple rather than a frozen dataclass: as immutable, and built in a fifth of the
    time (every message of every batch is built twice, when it is received and expanded).
    """

    type: EventType
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    timestamp: datetime
    name: str = ""
    properties: Mapping[str, Any] = _EMPTY
    traits: Mapping[str, Any] = _EMPTY
    utm: Utm = Utm()
    page: PageInfo = PageInfo()
    group_id: str | None = None
    previous_id: str | None = None
    loc: str = ""


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """A request's messages: the valid ones in order, and an error for each invalid one."""

    events: tuple[TrackingEvent, ...]
    errors: tuple[EventError, ...]
    write_key: str | None


def correct_timestamp(
    original: datetime | None, sent_at: datetime | None, received_at: datetime
) -> datetime:
    """The time an event happened on the server's clock (see the module docstring)."""
    if original is None:
        return received_at
    corrected = received_at - (sent_at - original) if sent_at is not None else original
    return min(corrected, received_at)


def parse_time(value: object, loc: str, latest: datetime | None = None) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; naive means UTC); None when absent.

    EventError when it is not one, or is before ``EARLIEST`` or after ``latest``.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventError(loc, "must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise EventError(loc, f"not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise EventError(loc, f"out of range: {value[:40]!r}") from None
    if parsed < EARLIEST:
        raise EventError(loc, f"out of range: {value[:40]!r} is before {EARLIEST:%Y-%m-%d}")
    if latest is not None and parsed > latest:
        raise EventError(
            loc, f"out of range: {value[:40]!r} is over {MAX_AHEAD.days} days after it was received"
        )
    return parsed


def event_time(
    original: datetime | None, sent_at: datetime | None, received_at: datetime, loc: str
) -> datetime:
    """:func:`correct_timestamp`, or EventError when the correction leaves the calendar (an
    absurd ``sentAt`` against the event's time) or lands before ``EARLIEST``."""
    try:
        corrected = correct_timestamp(original, sent_at, received_at)
    except OverflowError:
        raise EventError(f"{loc}.sentAt", "out of range against the event's timestamp") from None
    if corrected < EARLIEST:
        raise EventError(f"{loc}.sentAt", f"puts the event before {EARLIEST:%Y-%m-%d}")
    return corrected


def _id(value: object, loc: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EventError(loc, "must be a string or a number")
    text = str(value)
    if len(text) > MAX_ID_LENGTH:
        raise EventError(loc, f"at most {MAX_ID_LENGTH} characters")
    return text


def _text(value: object, loc: str, limit: int = MAX_ID_LENGTH) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise EventError(loc, "must be a string")
    if len(value) > limit:
        raise EventError(loc, f"at most {limit} characters")
    return value


def _object(value: object, loc: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError(loc, "must be an object")
    return value


def check_depth(value: object, loc: str, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit``: storage and reports recurse over it."""
    # Level by level, visiting containers only: most messages are a few shallow objects.
    level: list[object] = [value]
    depth = 0
    while level:
        if depth > limit:
            raise EventError(loc, f"nested deeper than {limit} levels")
        below: list[object] = []
        for item in level:
            children: Iterable[object] = item.values() if isinstance(item, dict) else item  # type: ignore[assignment]
            below.extend(c for c in children if isinstance(c, dict | list))
        level = below
        depth += 1


# A JSON string, written as "normal* (special normal*)*" so that the regex engine takes runs of
# ordinary characters at once rather than one alternation per character (three times faster).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(text: bytes) -> int:
    """How deep arrays and objects nest in a valid JSON text (``{}`` is 1, ``{"a": []}`` is 2).

    Computed on the bytes, at C speed: strings removed, the brackets kept, their running
    balance's maximum. A body no deeper than ``MAX_DEPTH`` holds no message that
    :func:`check_depth` would refuse, so walking each message can be skipped. The text must
    be valid JSON (parse it first): then, without a backslash, every quote opens or closes a
    string, and the pieces between the odd and even quotes are the strings.
    """
    escaped = b"\\" in text
    outside = _JSON_STRING.sub(b"", text) if escaped else b"".join(text.split(b'"')[0::2])
    marks = outside.translate(None, _NOT_BRACKETS)
    if not marks:
        return 0
    codes = np.frombuffer(marks, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def content_message_id(raw: Mapping[str, Any]) -> str:
    """A message id for a message that has none: a hash of its content, so a resend matches.

    The price: two byte-identical messages without ids are one message.
    """
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"sha256:{digest[:48]}"


# Shared empty values: most messages carry no UTM tags or no page, and these are immutable.
_NO_UTM = Utm()
_NO_PAGE = PageInfo()
_PAGE_FIELDS = ("url", "path", "referrer", "title", "search")


def _utm(context: Mapping[str, Any], loc: str) -> Utm:
    raw = context.get("campaign")
    if not raw:
        return _NO_UTM
    where = f"{loc}.context.campaign"
    tags = _object(raw, where)
    return Utm(
        source=_text(tags.get("source"), f"{where}.source").strip(),
        medium=_text(tags.get("medium"), f"{where}.medium").strip(),
        campaign=_text(tags.get("name"), f"{where}.name").strip(),
        term=_text(tags.get("term"), f"{where}.term").strip(),
        content=_text(tags.get("content"), f"{where}.content").strip(),
    )


def _page(context: Mapping[str, Any], properties: Mapping[str, Any], loc: str) -> PageInfo:
    raw = context.get("page")
    page = _object(raw, f"{loc}.context.page") if raw else {}
    values = []
    for key in _PAGE_FIELDS:
        value = page.get(key) or properties.get(key)
        values.append(value[:2000] if isinstance(value, str) else "")
    return PageInfo(*values) if any(values) else _NO_PAGE


NUL_ESCAPE = b"\\u0000"  # how JSON text spells U+0000 (a raw NUL byte is not valid JSON)


def contains_nul(value: object) -> bool:
    """True if a decoded JSON value holds U+0000 in any string, key or value, at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_event(
    raw: object,
    *,
    loc: str,
    received_at: datetime,
    sent_at: datetime | None = None,
    batch_context: Mapping[str, Any] | None = None,
    implied_type: EventType | None = None,
    shallow: bool = False,
    check_nul: bool = False,
) -> TrackingEvent:
    """Validate one message; raise EventError naming the first field at fault.

    ``implied_type`` is the type a single-message endpoint (``/v1/track``) stands for; it wins
    over the message's own ``type``. ``batch_context`` is a batch's shared ``context``, under
    the message's own. ``shallow`` says the caller already knows the message nests less than
    ``MAX_DEPTH`` deep (see :func:`json_depth`), which skips walking it. ``check_nul`` says
    the body holds a U+0000 somewhere: a message holding one is refused (PostgreSQL cannot
    store it in text or JSON, and one such message must not fail its whole batch).
    """
    if not isinstance(raw, dict):
        raise EventError(loc, "must be an object")
    if not shallow:
        check_depth(raw, loc)
    if check_nul and contains_nul(raw):
        raise EventError(loc, "text may not contain the NUL character (U+0000)")
    if implied_type is not None:
        kind = implied_type
    else:
        type_value = raw.get("type")
        try:
            kind = EventType(str(type_value))
        except ValueError:
            known = ", ".join(t.value for t in EventType)
            raise EventError(f"{loc}.type", f"must be one of {known}") from None
    message_id = _id(raw.get("messageId"), f"{loc}.messageId") or content_message_id(raw)
    user_id = _id(raw.get("userId"), f"{loc}.userId")
    anonymous_id = _id(raw.get("anonymousId"), f"{loc}.anonymousId")
    context = _object(raw.get("context"), f"{loc}.context")
    if batch_context:
        context = {**batch_context, **context}
    properties = _object(raw.get("properties"), f"{loc}.properties")
    traits = _object(raw.get("traits"), f"{loc}.traits") or _object(
        context.get("traits"), f"{loc}.context.traits"
    )
    latest = received_at + MAX_AHEAD
    original = parse_time(
        raw.get("originalTimestamp"), f"{loc}.originalTimestamp", latest
    ) or parse_time(raw.get("timestamp"), f"{loc}.timestamp", latest)
    own_sent_at = parse_time(raw.get("sentAt"), f"{loc}.sentAt", latest) or sent_at
    name = ""
    group_id = previous_id = None
    if kind is EventType.ALIAS:
        previous_id = _id(raw.get("previousId"), f"{loc}.previousId")
        if previous_id is None:
            raise EventError(f"{loc}.previousId", "required for alias")
        if user_id is None:
            raise EventError(f"{loc}.userId", "required for alias")
    elif user_id is None and anonymous_id is None:
        raise EventError(f"{loc}.userId", "userId or anonymousId is required")
    if kind is EventType.TRACK:
        name = _text(raw.get("event"), f"{loc}.event").strip()
        if not name:
            raise EventError(f"{loc}.event", "required for track")
    elif kind in (EventType.PAGE, EventType.SCREEN):
        name = _text(raw.get("name"), f"{loc}.name").strip()
    elif kind is EventType.GROUP:
        group_id = _id(raw.get("groupId"), f"{loc}.groupId")
        if group_id is None:
            raise EventError(f"{loc}.groupId", "required for group")
    return TrackingEvent(
        type=kind,
        message_id=message_id,
        user_id=user_id,
        anonymous_id=anonymous_id,
        timestamp=event_time(original, own_sent_at, received_at, loc),
        name=name,
        properties=properties,
        traits=traits,
        utm=_utm(context, loc),
        page=_page(context, properties, loc)
        if kind in (EventType.PAGE, EventType.SCREEN) or "page" in context
        else _NO_PAGE,
        group_id=group_id,
        previous_id=previous_id,
        loc=loc,
    )


class BatchError(ValueError):
    """A request body that is not a batch at all (nothing in it is accepted)."""


def parse_batch(
    body: object, *, received_at: datetime, shallow: bool = False, check_nul: bool = True
) -> ParsedBatch:
    """Split a ``/v1/batch`` body into valid messages and per-message errors.

    The body itself must be an object with a non-empty ``batch`` list (BatchError otherwise);
    each message is then judged on its own, so one bad message does not cost the good ones.
    """
    if not isinstance(body, dict):
        raise BatchError("body: must be a JSON object")
    batch = body.get("batch")
    if not isinstance(batch, list) or not batch:
        raise BatchError("batch: must be a non-empty list of messages")
    write_key = body.get("writeKey")
    try:
        context = _object(body.get("context"), "context")
    except EventError as exc:
        raise BatchError(str(exc)) from None
    if check_nul and contains_nul(context):
        raise BatchError("context: text may not contain the NUL character (U+0000)")
    # A bad batch sentAt costs only the messages whose time it corrects (those with a time
    # of their own and no sentAt of their own), each rejected with the reason.
    sent_error: EventError | None = None
    try:
        sent_at = parse_time(body.get("sentAt"), "sentAt", received_at + MAX_AHEAD)
    except EventError as exc:
        sent_at, sent_error = None, exc
    events: list[TrackingEvent] = []
    errors: list[EventError] = []
    for i, raw in enumerate(batch):
        try:
            if sent_error is not None and _uses_batch_sent_at(raw):
                raise EventError(f"batch[{i}].sentAt", f"the batch's {sent_error}")
            events.append(
                parse_event(
                    raw,
                    loc=f"batch[{i}]",
                    received_at=received_at,
                    sent_at=sent_at,
                    batch_context=context,
                    shallow=shallow,
                    check_nul=check_nul,
                )
            )
        except EventError as exc:
            errors.append(exc)
    return ParsedBatch(
        tuple(events), tuple(errors), write_key if isinstance(write_key, str) else None
    )


def _uses_batch_sent_at(raw: object) -> bool:
    return (
        isinstance(raw, dict)
        and not raw.get("sentAt")
        and bool(raw.get("originalTimestamp") or raw.get("timestamp"))
    )


def parse_single(
    body: object,
    kind: EventType,
    *,
    received_at: datetime,
    shallow: bool = False,
    check_nul: bool = True,
) -> ParsedBatch:
    """A single-message body (``/v1/track`` and the like) as a batch of one."""
    if not isinstance(body, dict):
        raise BatchError("body: must be a JSON object")
    write_key = body.get("writeKey")
    try:
        event = parse_event(
            body,
            loc="body",
            received_at=received_at,
            implied_type=kind,
            shallow=shallow,
            check_nul=check_nul,
        )
    except EventError as exc:
        return ParsedBatch((), (exc,), write_key if isinstance(write_key, str) else None)
    return ParsedBatch((event,), (), write_key if isinstance(write_key, str) else None)


def parse_body(text: bytes, kind: EventType | None, *, received_at: datetime) -> ParsedBatch:
    """A request body's JSON text: a batch (``kind`` None) or one message of ``kind``.

    The same when the body is received and when the inbox processor expands it, so both see
    the same messages. A body nested no deeper than ``MAX_DEPTH`` (:func:`json_depth`) is not
    walked message by message. Raises ``orjson.JSONDecodeError`` and :class:`BatchError`.
    """
    decoded = orjson.loads(text)
    shallow = json_depth(text) <= MAX_DEPTH
    # One scan of the text: messages are walked for U+0000 only when the body holds one.
    nul = NUL_ESCAPE in text
    if kind is None:
        return parse_batch(decoded, received_at=received_at, shallow=shallow, check_nul=nul)
    return parse_single(decoded, kind, received_at=received_at, shallow=shallow, check_nul=nul)


# --- which touch, which channel -------------------------------------------------------------


def normalise_event_name(name: str) -> str:
    """Event names compared loosely: "Demo Requested", "demo_requested", "demo-requested"."""
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


DEFAULT_EVENT_KINDS: Mapping[str, TouchKind] = {
    normalise_event_name(name): kind
    for kind, names in {
        TouchKind.HAND_RAISE: (
            "Demo Requested", "Demo Request Submitted", "Contact Sales", "Sales Contacted",
            "Contact Sales Requested", "Quote Requested", "Pricing Form Submitted",
            "Meeting Requested", "Trial Requested",
        ),
        TouchKind.HIGH_INTENT_PAGE: (
            "Pricing Viewed", "Pricing Page Viewed", "Plans Viewed", "Plan Compared",
        ),
        TouchKind.EMAIL_OPEN: ("Email Opened",),
        TouchKind.EMAIL_CLICK: ("Email Link Clicked", "Email Clicked"),
        TouchKind.AD_CLICK: ("Ad Clicked", "Promotion Clicked"),
        TouchKind.CONTENT_DOWNLOAD: (
            "Content Downloaded", "Whitepaper Downloaded", "Ebook Downloaded",
            "Case Study Downloaded", "Report Downloaded", "File Downloaded",
        ),
        TouchKind.WEBINAR: ("Webinar Registered", "Webinar Attended", "Webinar Watched"),
        TouchKind.EVENT: ("Event Registered", "Event Attended"),
        TouchKind.FORM_SUBMIT: (
            "Form Submitted", "Signed Up", "Newsletter Subscribed", "Lead Captured",
        ),
        TouchKind.SOCIAL_ENGAGEMENT: ("Post Shared", "Social Engaged"),
        TouchKind.DEMO: ("Demo Attended", "Demo Completed"),
    }.items()
    for name in names
}  # fmt: skip
DEFAULT_HIGH_INTENT_PATHS: tuple[str, ...] = ("/pricing", "/plans", "/demo", "/contact-sales")

_SEARCH_HOSTS = ("google.", "bing.", "duckduckgo.", "yahoo.", "baidu.", "yandex.", "ecosia.")
_SOCIAL_HOSTS = (
    "facebook.com", "linkedin.com", "lnkd.in", "t.co", "twitter.com", "x.com",
    "instagram.com", "reddit.com", "youtube.com", "tiktok.com",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TouchRules:
    """Installation-specific mapping of events to touch kinds and of UTM tags to channels.

    ``utm_channels`` keys are lower case: ``"medium"``, ``"source/medium"`` or ``"source/"``
    (any medium from that source); the most specific match wins, then the defaults of
    :func:`onefunnel.domain.touches.channel_for_utm`.
    """

    event_kinds: Mapping[str, TouchKind] = field(default_factory=lambda: dict(DEFAULT_EVENT_KINDS))
    high_intent_paths: tuple[str, ...] = DEFAULT_HIGH_INTENT_PATHS
    utm_channels: Mapping[str, Channel] = field(default_factory=dict)


def _enum_values(
    raw: Mapping[str, object], enum: type[TouchKind] | type[Channel], what: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            out[key] = enum(str(value))
        except ValueError:
            known = ", ".join(m.value for m in enum)
            raise ValueError(f"{what}[{key!r}]: unknown value {value!r} (one of {known})") from None
    return out


def rules_from_config(
    event_kinds: Mapping[str, object] | None = None,
    utm_channels: Mapping[str, object] | None = None,
    high_intent_paths: Iterable[str] | None = None,
) -> TouchRules:
    """Rules from plain configuration, over the defaults; ValueError names a bad entry."""
    kinds = dict(DEFAULT_EVENT_KINDS)
    parsed = _enum_values(event_kinds or {}, TouchKind, "ONEFUNNEL_EVENT_KINDS")
    kinds.update({normalise_event_name(k): v for k, v in parsed.items()})
    channels = _enum_values(utm_channels or {}, Channel, "ONEFUNNEL_UTM_CHANNELS")
    paths = tuple(high_intent_paths) if high_intent_paths is not None else DEFAULT_HIGH_INTENT_PATHS
    return TouchRules(kinds, paths, {k.strip().lower(): v for k, v in channels.items()})


def _is_high_intent(path: str, rules: TouchRules) -> bool:
    path = path.split("?", 1)[0].rstrip("/").lower() or "/"
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in rules.high_intent_paths)


def touch_kind(event: TrackingEvent, rules: TouchRules) -> TouchKind:
    """The touch a message is: mapped track names, high-intent pages, page views; else custom."""
    if event.type is EventType.TRACK:
        return rules.event_kinds.get(normalise_event_name(event.name), TouchKind.CUSTOM)
    if event.type in (EventType.PAGE, EventType.SCREEN):
        path = event.page.path or urlsplit(event.page.url).path
        if path and _is_high_intent(path, rules):
            return TouchKind.HIGH_INTENT_PAGE
        return TouchKind.PAGE_VIEW
    return TouchKind.CUSTOM


def _host(url: str) -> str:
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def channel_for_event(event: TrackingEvent, rules: TouchRules) -> Channel:
    """The channel a message came through: UTM tags first, then the referrer, else direct."""
    source, medium = event.utm.source.lower(), event.utm.medium.lower()
    if source or medium:
        for key in (f"{source}/{medium}", f"{source}/", medium):
            if key in rules.utm_channels:
                return rules.utm_channels[key]
        return channel_for_utm(source, medium)
    referrer = _host(event.page.referrer)
    if not referrer or referrer == _host(event.page.url):
        return Channel.DIRECT
    if any(referrer.startswith(s) or f".{s}" in referrer for s in _SEARCH_HOSTS):
        return Channel.ORGANIC_SEARCH
    if any(referrer == s or referrer.endswith(f".{s}") for s in _SOCIAL_HOSTS):
        return Channel.SOCIAL
    return Channel.REFERRAL


# --- the funnel moves a run of touches implies ----------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedMove:
    """A stage a contact moves to because of a touch (``cause`` identifies the touch)."""

    to_stage: Stage
    at: datetime
    cause: str


def plan_stage_moves(
    current: Stage | None, touches: Sequence[tuple[TouchKind, datetime, str]], *, known: bool
) -> list[PlannedMove]:
    """Replay touches in time order through the funnel's touch rules; return the moves made.

    Used when many touches land at once — a batch, or an anonymous history merged on
    identify — so the result equals recording the touches one by one.
    """
    moves: list[PlannedMove] = []
    state = current
    for kind, at, cause in sorted(touches, key=lambda t: t[1]):
        target = advance_for_touch(state, stage_implied_by(kind, known=known))
        if target is not None:
            moves.append(PlannedMove(target, at, cause))
            state = target
    return moves


def stage_after_merge(kept: Stage | None, merged: Stage | None) -> Stage | None:
    """The stage the kept contact moves to when another contact is merged into it, or None.

    The further-along of the two wins, within awareness and consideration (what touches and
    anonymous engagement reach): the kept contact never moves back, and side states or later
    stages of the merged one are not carried over (they belong to decisions about that record:
    intent opens a handoff, customers have deals). Touches merged along replay through the
    touch rules anyway; this keeps a stage the merged contact reached otherwise.
    """
    if merged not in (Stage.AWARENESS, Stage.CONSIDERATION):
        return None
    return advance_for_touch(kept, merged)


# --- traits -----------------------------------------------------------------------------------

_CONTACT_TRAITS = {
    "firstName": "first_name", "first_name": "first_name",
    "lastName": "last_name", "last_name": "last_name",
    "title": "title", "phone": "phone",
}  # fmt: skip
_FIELD_LIMITS = {"first_name": 100, "last_name": 100, "title": 200, "phone": 50, "name": 200}
_ACCOUNT_TRAITS = {"name": "name", "industry": "industry"}


def _country(traits: Mapping[str, Any]) -> str:
    address = traits.get("address")
    value = traits.get("country") or (address.get("country") if isinstance(address, dict) else None)
    if isinstance(value, str) and len(value.strip()) == 2 and value.strip().isalpha():
        return value.strip().upper()
    return ""


def _mapped(
    traits: Mapping[str, Any], mapping: Mapping[str, str], loc: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    fields: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in traits.items():
        target = mapping.get(key)
        if target is None:
            rest[key] = value
            continue
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise EventError(f"{loc}.{key}", "must be a string")
        fields[target] = _text(value.strip(), f"{loc}.{key}", _FIELD_LIMITS.get(target, 200))
    return fields, rest


def contact_fields(traits: Mapping[str, Any], loc: str) -> tuple[str | None, dict[str, Any]]:
    """(email, contact fields) from identify traits; traits without a column go to properties."""
    fields, rest = _mapped(traits, _CONTACT_TRAITS, loc)
    email = rest.pop("email", None)
    if email is not None and not isinstance(email, str):
        raise EventError(f"{loc}.email", "must be a string")
    name = rest.get("name")
    if isinstance(name, str) and name.strip() and "first_name" not in fields:
        first, _, last = name.strip().partition(" ")
        fields["first_name"] = first[:100]
        if last and "last_name" not in fields:
            fields["last_name"] = last.strip()[:100]
    if country := _country(traits):
        fields["country"] = country
    if rest:
        fields["properties"] = rest
    return (email.strip() or None) if email else None, fields


def account_fields(traits: Mapping[str, Any], loc: str) -> tuple[str | None, dict[str, Any]]:
    """(domain, account fields) from group traits; ``website`` or ``domain`` gives the domain."""
    fields, rest = _mapped(traits, _ACCOUNT_TRAITS, loc)
    domain = rest.pop("domain", None) or rest.pop("website", None)
    if domain is not None and not isinstance(domain, str):
        raise EventError(f"{loc}.website", "must be a string")
    employees = rest.pop("employees", None)
    if employees not in (None, ""):
        try:
            count = int(str(employees).replace(",", "").strip())
        except ValueError:
            raise EventError(f"{loc}.employees", "must be a whole number") from None
        if count < 0:
            raise EventError(f"{loc}.employees", "must not be negative")
        fields["employee_count"] = count
    if country := _country(traits):
        fields["country"] = country
    if rest:
        fields["properties"] = rest
    return domain or None, fields
