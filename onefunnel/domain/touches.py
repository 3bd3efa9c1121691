"""Touchpoints: the kinds of interaction, the channels they come through, and how a touch moves
a contact along the funnel.

The default rules (DESIGN.md §2): any touch makes a subject aware; a *known* contact who engages
(opens content, clicks an email, attends an event) is considering; a hand-raise (demo request,
contact-sales, pricing form) is intent. Touches never make a customer: only a won deal does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from onefunnel.domain.stages import PRE_CUSTOMER_STAGES, Stage, Team, funnel_position


@dataclass(frozen=True, slots=True)
class Utm:
    """The five UTM fields as a source sent them (``campaign`` is utm_campaign)."""

    source: str = ""
    medium: str = ""
    campaign: str = ""
    term: str = ""
    content: str = ""


class Channel(StrEnum):
    """Where a touch came from; campaigns run on exactly one channel."""

    PAID_SEARCH = "paid_search"
    PAID_SOCIAL = "paid_social"
    SOCIAL = "social"
    EMAIL = "email"
    DISPLAY = "display"
    ORGANIC_SEARCH = "organic_search"
    REFERRAL = "referral"
    DIRECT = "direct"
    EVENTS = "events"
    WEBINAR = "webinar"
    CONTENT = "content"
    PARTNER = "partner"
    SALES_OUTREACH = "sales_outreach"
    OTHER = "other"


class TouchKind(StrEnum):
    """What happened in a touch. The first group is one-to-many marketing, the second one-to-one
    sales; ``support_ticket`` is a customer asking for help (a health signal)."""

    PAGE_VIEW = "page_view"
    HIGH_INTENT_PAGE = "high_intent_page"
    AD_CLICK = "ad_click"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    CONTENT_DOWNLOAD = "content_download"
    WEBINAR = "webinar"
    EVENT = "event"
    SOCIAL_ENGAGEMENT = "social_engagement"
    FORM_SUBMIT = "form_submit"
    HAND_RAISE = "hand_raise"
    CUSTOM = "custom"
    CALL = "call"
    MEETING = "meeting"
    DEMO = "demo"
    SALES_EMAIL = "sales_email"
    SUPPORT_TICKET = "support_ticket"


ONE_TO_ONE_KINDS = frozenset(
    {TouchKind.CALL, TouchKind.MEETING, TouchKind.DEMO, TouchKind.SALES_EMAIL}
)
_ENGAGEMENT_KINDS = frozenset(
    {
        TouchKind.HIGH_INTENT_PAGE,
        TouchKind.EMAIL_CLICK,
        TouchKind.CONTENT_DOWNLOAD,
        TouchKind.WEBINAR,
        TouchKind.EVENT,
        TouchKind.FORM_SUBMIT,
        TouchKind.CALL,
        TouchKind.MEETING,
        TouchKind.DEMO,
    }
)


def default_team(kind: TouchKind) -> Team:
    """The team a touch belongs to when the source does not say: sales for one-to-one kinds,
    account management for support tickets, marketing for the rest."""
    if kind is TouchKind.SUPPORT_TICKET:
        return Team.ACCOUNT_MANAGEMENT
    return Team.SALES if kind in ONE_TO_ONE_KINDS else Team.MARKETING


def stage_implied_by(kind: TouchKind, *, known: bool) -> Stage:
    """The funnel stage a single touch of this kind is evidence of.

    Anonymous visitors can only be aware: engagement counts once we know who engaged.
    """
    if kind is TouchKind.HAND_RAISE:
        return Stage.INTENT
    if known and kind in _ENGAGEMENT_KINDS:
        return Stage.CONSIDERATION
    return Stage.AWARENESS


def advance_for_touch(current: Stage | None, implied: Stage) -> Stage | None:
    """The stage a touch moves a subject to, or None when it does not move it.

    Touches only ever move forward within the pre-customer stages. A nurtured contact moves
    only on a hand-raise (re-engagement produces a new handoff); disqualified, churned and
    customer states are not moved by touches at all.
    """
    if implied not in PRE_CUSTOMER_STAGES:
        return None
    if current is None:
        return implied
    if current is Stage.NURTURE:
        return implied if implied is Stage.INTENT else None
    if current in PRE_CUSTOMER_STAGES:
        return implied if funnel_position(implied) > funnel_position(current) else None
    return None


_MEDIUM_CHANNELS: dict[str, Channel] = {
    "cpc": Channel.PAID_SEARCH,
    "ppc": Channel.PAID_SEARCH,
    "paidsearch": Channel.PAID_SEARCH,
    "paid_search": Channel.PAID_SEARCH,
    "paid-search": Channel.PAID_SEARCH,
    "sem": Channel.PAID_SEARCH,
    "paid_social": Channel.PAID_SOCIAL,
    "paid-social": Channel.PAID_SOCIAL,
    "paidsocial": Channel.PAID_SOCIAL,
    "cpm": Channel.DISPLAY,
    "display": Channel.DISPLAY,
    "banner": Channel.DISPLAY,
    "email": Channel.EMAIL,
    "e-mail": Channel.EMAIL,
    "newsletter": Channel.EMAIL,
    "social": Channel.SOCIAL,
    "social-network": Channel.SOCIAL,
    "organic": Channel.ORGANIC_SEARCH,
    "referral": Channel.REFERRAL,
    "affiliate": Channel.PARTNER,
    "partner": Channel.PARTNER,
    "event": Channel.EVENTS,
    "events": Channel.EVENTS,
    "webinar": Channel.WEBINAR,
    "content": Channel.CONTENT,
}
_SOCIAL_SOURCES = frozenset(
    {"facebook", "instagram", "linkedin", "twitter", "x", "tiktok", "reddit", "youtube"}
)


def channel_for_utm(source: str, medium: str) -> Channel:
    """The default channel for UTM source/medium values (case-insensitive).

    The medium decides when it is a known one; a paid medium on a social source is paid social;
    a social source alone is (organic) social; no UTM at all is direct.
    """
    src, med = source.strip().lower(), medium.strip().lower()
    channel = _MEDIUM_CHANNELS.get(med)
    if channel is Channel.PAID_SEARCH and src in _SOCIAL_SOURCES:
        return Channel.PAID_SOCIAL
    if channel is not None:
        return channel
    if src in _SOCIAL_SOURCES:
        return Channel.SOCIAL
    if not src and not med:
        return Channel.DIRECT
    return Channel.OTHER


# --- what a touch was, in words ---------------------------------------------------------------

_DESCRIPTION_LIMIT = 120
_FORM_KEYS = ("form", "form_name", "formName", "form_title", "formTitle", "form_id", "formId")
_SUBJECT_KEYS = ("subject", "email_subject", "emailSubject", "email_name", "emailName")
_TITLE_KEYS = ("title", "name", "content_name", "contentName", "file_name", "fileName")
_OUTCOME_KEYS = ("outcome", "result", "disposition")
_NOTE_KEYS = ("note", "notes", "summary", "agenda")
_VERBS: dict[TouchKind, str] = {
    TouchKind.EMAIL_OPEN: "opened email",
    TouchKind.EMAIL_CLICK: "clicked email",
    TouchKind.SALES_EMAIL: "sales email",
    TouchKind.CONTENT_DOWNLOAD: "downloaded",
    TouchKind.WEBINAR: "webinar",
    TouchKind.EVENT: "event",
    TouchKind.AD_CLICK: "clicked ad",
    TouchKind.SOCIAL_ENGAGEMENT: "engaged on social",
}


def _clip(value: str) -> str:
    text = " ".join(value.split())
    return text if len(text) <= _DESCRIPTION_LIMIT else text[: _DESCRIPTION_LIMIT - 1] + "…"


def _first_text(sources: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> str:
    """The first non-empty string (or number) under one of ``keys``, looking in each source."""
    for source in sources:
        for key in keys:
            value = source.get(key)
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, str | int | float) and str(value).strip():
                return _clip(str(value))
    return ""


def describe_touch(kind: TouchKind | str, properties: Mapping[str, Any] | None) -> str:
    """What happened in a touch, in a few words a rep can read on a timeline.

    ``properties`` is a touchpoint's stored properties: for tracked messages the message type,
    ``event`` name, the message's own ``properties`` and the ``page``; for touches recorded by
    hand, whatever the recorder gave (``subject``, ``outcome``, ``form``, ``title`` …). Examples:
    ``viewed page 'Pricing' (/pricing)``, ``event 'Demo Requested'``, ``submitted form 'Contact
    sales'``, ``opened email 'Spring webinar'``, ``call: outcome connected``. Unknown shapes fall
    back to the kind in words; nothing here raises on odd data.
    """
    try:
        touch = TouchKind(str(kind))
    except ValueError:
        return _clip(str(kind).replace("_", " "))
    props: Mapping[str, Any] = properties if isinstance(properties, Mapping) else {}
    inner = props.get("properties")
    own: Mapping[str, Any] = inner if isinstance(inner, Mapping) else {}
    raw_page = props.get("page")
    page: Mapping[str, Any] = raw_page if isinstance(raw_page, Mapping) else {}
    sources = (own, props)
    message_type = props.get("type")
    event = _first_text((props,), ("event",))
    if message_type in ("identify", "group", "alias"):
        return f"profile update ({message_type})"
    if touch in (TouchKind.PAGE_VIEW, TouchKind.HIGH_INTENT_PAGE) and not event:
        title = _first_text((page, own), ("title",)) or _first_text((props,), ("name", "title"))
        where = _first_text((page, own), ("path", "url"))
        if title and where:
            return f"viewed page '{title}' ({where})"
        if title or where:
            return f"viewed page '{title or where}'"
        return "viewed a page"
    form = _first_text(sources, _FORM_KEYS)
    if form and touch in (TouchKind.FORM_SUBMIT, TouchKind.HAND_RAISE, TouchKind.CUSTOM):
        return f"submitted form '{form}'" + (f" (event '{event}')" if event else "")
    if touch in ONE_TO_ONE_KINDS and touch is not TouchKind.SALES_EMAIL:
        parts = []
        if outcome := _first_text(sources, _OUTCOME_KEYS):
            parts.append(f"outcome {outcome}")
        if subject := _first_text(sources, (*_SUBJECT_KEYS, "title")):
            parts.append(f"'{subject}'")
        if note := _first_text(sources, _NOTE_KEYS):
            parts.append(f"note '{note}'")
        if not parts and event:
            parts.append(f"event '{event}'")
        return f"{touch.value}: {', '.join(parts)}" if parts else touch.value
    if touch in (TouchKind.EMAIL_OPEN, TouchKind.EMAIL_CLICK, TouchKind.SALES_EMAIL):
        subject = _first_text(sources, _SUBJECT_KEYS)
        if subject:
            return f"{_VERBS[touch]} '{subject}'"
    if touch in (TouchKind.CONTENT_DOWNLOAD, TouchKind.WEBINAR, TouchKind.EVENT):
        title = _first_text(sources, _TITLE_KEYS)
        if title and title != event:
            return f"{_VERBS[touch]} '{title}'" + (f" (event '{event}')" if event else "")
    if event:
        where = _first_text((page,), ("path", "url"))
        return f"event '{event}'" + (f" on {where}" if where else "")
    if touch in _VERBS:
        title = _first_text(sources, (*_SUBJECT_KEYS, *_TITLE_KEYS))
        return f"{_VERBS[touch]} '{title}'" if title else _VERBS[touch]
    return touch.value.replace("_", " ")
