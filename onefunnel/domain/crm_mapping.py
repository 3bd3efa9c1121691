"""How other CRMs' words map onto the funnel: HubSpot and Salesforce values, dates and sources.

The mapping (DESIGN.md §2), in one place:

==========================================  =========================================
HubSpot Lifecycle Stage (label or value)    onefunnel state
==========================================  =========================================
Subscriber (``subscriber``)                 awareness
Lead (``lead``)                             consideration
Marketing Qualified Lead (``marketingqualifiedlead``), Sales Qualified Lead
(``salesqualifiedlead``), Opportunity (``opportunity``)  →  intent
Customer (``customer``)                     conversion
Evangelist (``evangelist``)                 grow
Other (``other``)                           no stage (not a funnel position)
==========================================  =========================================

HubSpot Lead Status only matters when it takes a contact out of the funnel: Unqualified →
disqualified (bad fit), Bad Timing → nurture (not now). New, Open, In Progress, Open Deal,
Attempted to Contact and Connected leave the lifecycle stage in charge.

Salesforce Lead.Status: Open - Not Contacted (and New) → consideration; Working - Contacted
(and Qualified) → intent; Closed - Converted → intent (a converted lead is an opportunity: only a
won deal makes a customer); Closed - Not Converted → disqualified (other); Unqualified →
disqualified (bad fit); Nurturing → nurture (not now). ``IsConverted`` = true is intent at
``ConvertedDate`` whatever the status says.

Original Source (HubSpot) and LeadSource (Salesforce) become the contact's first channel.

A CRM knows when a contact *became* each stage ("Became a Lead Date" …). Those dates, with the
current stage, give an ordered path that the import replays through the funnel's own rules
(``check_transition`` with cause ``import``): moves the rules refuse — backward ones, or a
disqualified contact reappearing as a lead — are left out, so re-importing a file never changes
the history it already wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from operator import itemgetter
from typing import NamedTuple

from onefunnel.domain.stages import (
    Cause,
    IllegalTransitionError,
    Stage,
    StageReason,
    check_transition,
)
from onefunnel.domain.touches import Channel


class MappingError(ValueError):
    """A value another system wrote that has no meaning here; the message says which and why."""


def _key(value: str) -> str:
    """Labels and internal values compare alike: case, spaces, hyphens and underscores ignored."""
    return re.sub(r"[\s_\-]+", "", value.strip().lower())


# ---------------------------------------------------------------------------------------------
# HubSpot

_HUBSPOT_LIFECYCLE: dict[str, Stage | None] = {
    "subscriber": Stage.AWARENESS,
    "lead": Stage.CONSIDERATION,
    "marketingqualifiedlead": Stage.INTENT,
    "mql": Stage.INTENT,
    "salesqualifiedlead": Stage.INTENT,
    "sql": Stage.INTENT,
    "opportunity": Stage.INTENT,
    "customer": Stage.CONVERSION,
    "evangelist": Stage.GROW,
    "other": None,
}

_HUBSPOT_LEAD_STATUS: dict[str, tuple[Stage, StageReason] | None] = {
    "new": None,
    "open": None,
    "inprogress": None,
    "opendeal": None,
    "attemptedtocontact": None,
    "connected": None,
    "unqualified": (Stage.DISQUALIFIED, StageReason.BAD_FIT),
    "badtiming": (Stage.NURTURE, StageReason.NOT_NOW),
}

_HUBSPOT_SOURCE: dict[str, Channel] = {
    "organicsearch": Channel.ORGANIC_SEARCH,
    "paidsearch": Channel.PAID_SEARCH,
    "emailmarketing": Channel.EMAIL,
    "socialmedia": Channel.SOCIAL,
    "organicsocial": Channel.SOCIAL,
    "paidsocial": Channel.PAID_SOCIAL,
    "referrals": Channel.REFERRAL,
    "aireferrals": Channel.REFERRAL,
    "othercampaigns": Channel.OTHER,
    "directtraffic": Channel.DIRECT,
    "offline": Channel.OTHER,
    "offlinesources": Channel.OTHER,
}

# "Became a Lead Date" (label) and hs_lifecyclestage_lead_date (internal name) → the lifecycle
# value whose stage it dates.
_BECAME_LABEL = re.compile(r"^became an? (.+) date$")
_BECAME_INTERNAL = re.compile(r"^hs_lifecyclestage_([a-z]+)_date$")


@lru_cache(maxsize=1024)
def hubspot_lifecycle_stage(value: str) -> Stage | None:
    """The state a HubSpot Lifecycle Stage (label or internal value) means; None for "other"/empty.

    Raises MappingError for a value HubSpot does not define.
    """
    if not value.strip():
        return None
    try:
        return _HUBSPOT_LIFECYCLE[_key(value)]
    except KeyError:
        raise MappingError(f"unknown lifecycle stage {value!r}") from None


@lru_cache(maxsize=1024)
def hubspot_lead_status(value: str) -> tuple[Stage, StageReason] | None:
    """The side state (with its reason) a HubSpot Lead Status implies, or None when it implies none.

    Raises MappingError for a value HubSpot does not define.
    """
    if not value.strip():
        return None
    try:
        return _HUBSPOT_LEAD_STATUS[_key(value)]
    except KeyError:
        raise MappingError(f"unknown lead status {value!r}") from None


@lru_cache(maxsize=1024)
def hubspot_source_channel(value: str) -> Channel | None:
    """The channel of a HubSpot Original Source (label or value); None when empty.

    Raises MappingError for a value HubSpot does not define.
    """
    if not value.strip():
        return None
    try:
        return _HUBSPOT_SOURCE[_key(value)]
    except KeyError:
        raise MappingError(f"unknown original source {value!r}") from None


def hubspot_became_column(header: str) -> Stage | None:
    """The stage a "Became a … Date" column dates, or None when the header is not one.

    Both the export label ("Became a Marketing Qualified Lead Date") and the internal property
    name (``hs_lifecyclestage_marketingqualifiedlead_date``) are recognised. The "Other" column
    dates no funnel position and is ignored.
    """
    text = header.strip().lower()
    match = _BECAME_LABEL.match(text) or _BECAME_INTERNAL.match(text)
    if match is None:
        return None
    name = _key(match.group(1)).removesuffix("lifecyclestage")
    return _HUBSPOT_LIFECYCLE.get(name)


# ---------------------------------------------------------------------------------------------
# Salesforce

_SALESFORCE_STATUS: dict[str, tuple[Stage, StageReason | None]] = {
    "opennotcontacted": (Stage.CONSIDERATION, None),
    "new": (Stage.CONSIDERATION, None),
    "open": (Stage.CONSIDERATION, None),
    "workingcontacted": (Stage.INTENT, None),
    "working": (Stage.INTENT, None),
    "qualified": (Stage.INTENT, None),
    "closedconverted": (Stage.INTENT, None),
    "converted": (Stage.INTENT, None),
    "closednotconverted": (Stage.DISQUALIFIED, StageReason.OTHER),
    "unqualified": (Stage.DISQUALIFIED, StageReason.BAD_FIT),
    "nurturing": (Stage.NURTURE, StageReason.NOT_NOW),
}

_SALESFORCE_SOURCE: dict[str, Channel] = {
    "web": Channel.ORGANIC_SEARCH,
    "website": Channel.ORGANIC_SEARCH,
    "phoneinquiry": Channel.DIRECT,
    "partnerreferral": Channel.PARTNER,
    "partner": Channel.PARTNER,
    "purchasedlist": Channel.OTHER,
    "other": Channel.OTHER,
    "advertisement": Channel.DISPLAY,
    "employeereferral": Channel.REFERRAL,
    "externalreferral": Channel.REFERRAL,
    "wordofmouth": Channel.REFERRAL,
    "publicrelations": Channel.OTHER,
    "seminarinternal": Channel.EVENTS,
    "seminarpartner": Channel.EVENTS,
    "tradeshow": Channel.EVENTS,
    "webinar": Channel.WEBINAR,
    "email": Channel.EMAIL,
    "coldcall": Channel.SALES_OUTREACH,
    "outbound": Channel.SALES_OUTREACH,
}


@lru_cache(maxsize=1024)
def salesforce_status(status: str) -> tuple[Stage, StageReason | None] | None:
    """The state (and reason) a Salesforce Lead.Status means; None when empty.

    Raises MappingError for a status outside the standard picklist and its common variants.
    """
    if not status.strip():
        return None
    try:
        return _SALESFORCE_STATUS[_key(status)]
    except KeyError:
        raise MappingError(f"unknown lead status {status!r}") from None


@lru_cache(maxsize=1024)
def salesforce_source_channel(value: str) -> Channel | None:
    """The channel of a Salesforce LeadSource; None when empty. Unknown sources are "other":
    LeadSource is a free picklist in most orgs, so an unfamiliar value is not an error."""
    if not value.strip():
        return None
    return _SALESFORCE_SOURCE.get(_key(value), Channel.OTHER)


# ---------------------------------------------------------------------------------------------
# Values common to both


def parse_bool(value: str) -> bool:
    """CRM booleans: true/false, 1/0, yes/no (any case); empty is false."""
    text = value.strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n", ""):
        return False
    raise MappingError(f"not a true/false value: {value!r}")


_US_DATE = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$"
)


def parse_crm_datetime(value: str, tz: tzinfo = UTC) -> datetime | None:
    """A time as HubSpot or Salesforce write it, as an aware UTC datetime; None when empty.

    Accepted: ISO 8601 (``2024-03-12 09:14``, ``2024-03-12T09:14:00.000Z``,
    ``2024-03-12T09:14:00.000+0000``, ``2024-03-12``), US style (``3/15/2024 2:30 PM``,
    ``3/15/2024 14:30``, ``3/15/2024``) and epoch milliseconds (HubSpot's internal values).
    Times without an offset are in ``tz`` (the CRM account's time zone). Raises MappingError.
    """
    text = value.strip()
    if not text:
        return None
    parsed: datetime | None = None
    if text[0:4].isdigit() and len(text) >= 10 and text[4] == "-":
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
    elif text.isdigit() and len(text) >= 12:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(text))
    else:
        match = _US_DATE.match(text)
        if match is not None:
            parsed = _us_datetime(match)
    if parsed is None:
        raise MappingError(f"not a date: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _us_datetime(match: re.Match[str]) -> datetime | None:
    month, day, year, hour, minute, second, half = match.groups()
    h = int(hour) if hour else 0
    if half:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if half.lower() == "pm" else 0)
    try:
        return datetime(int(year), int(month), int(day), h, int(minute or 0), int(second or 0))
    except ValueError:
        return None


def parse_crm_date(value: str) -> date | None:
    """A calendar day (``2024-03-12`` or ``3/12/2024``); None when empty. Raises MappingError."""
    text = value.strip()
    if not text:
        return None
    try:
        if "/" in text:
            month, day, year = text.split("/")
            return date(int(year), int(month), int(day))
        return date.fromisoformat(text)
    except ValueError:
        raise MappingError(f"not a date: {value!r}") from None


# ISO 3166-1 alpha-2 codes for the country names CRMs write most often. Other names are kept
# as written in the contact's properties rather than guessed.
_COUNTRIES: dict[str, str] = {
    "unitedstates": "US", "unitedstatesofamerica": "US", "usa": "US", "us": "US",
    "unitedkingdom": "GB", "uk": "GB", "greatbritain": "GB", "england": "GB",
    "germany": "DE", "deutschland": "DE", "france": "FR", "spain": "ES", "italy": "IT",
    "netherlands": "NL", "thenetherlands": "NL", "belgium": "BE", "switzerland": "CH",
    "austria": "AT", "sweden": "SE", "norway": "NO", "denmark": "DK", "finland": "FI",
    "ireland": "IE", "portugal": "PT", "poland": "PL", "czechia": "CZ",
    "czechrepublic": "CZ", "canada": "CA", "mexico": "MX", "brazil": "BR",
    "argentina": "AR", "chile": "CL", "colombia": "CO", "india": "IN", "china": "CN",
    "japan": "JP", "southkorea": "KR", "singapore": "SG", "australia": "AU",
    "newzealand": "NZ", "southafrica": "ZA", "israel": "IL", "unitedarabemirates": "AE",
    "turkey": "TR", "türkiye": "TR",
}  # fmt: skip


@lru_cache(maxsize=1024)
def country_code(value: str) -> str | None:
    """The ISO alpha-2 code of a country written as a code or a common English name, else None."""
    text = value.strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    return _COUNTRIES.get(_key(text))


_PERSONAL_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "ymail.com", "hotmail.com", "outlook.com",
        "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "gmx.de",
        "gmx.net", "web.de", "proton.me", "protonmail.com", "yandex.ru", "mail.ru", "qq.com",
        "163.com", "hey.com", "fastmail.com", "zoho.com",
    }
)  # fmt: skip


def is_personal_mail_domain(domain: str) -> bool:
    """True for webmail providers, whose domain says nothing about the person's company."""
    return domain.lower() in _PERSONAL_MAIL


# ---------------------------------------------------------------------------------------------
# Stage paths


# Named tuples rather than frozen dataclasses: an import builds millions of these, and a
# tuple is several times cheaper to create; both are immutable.
class StageStep(NamedTuple):
    """A state a CRM says a contact reached, and when (None: the CRM does not say)."""

    stage: Stage
    at: datetime | None = None
    reason: StageReason | None = None


class PlannedMove(NamedTuple):
    """One stage change the import will record: from, to, when and why."""

    from_stage: Stage | None
    to_stage: Stage
    at: datetime
    reason: StageReason | None = None


def stage_path(dated: Iterable[StageStep], final: Sequence[StageStep]) -> list[StageStep]:
    """The ordered path a contact took: dated steps in time order, then the ``final`` steps.

    ``final`` holds what the CRM says the contact is now (lifecycle stage, then a side state
    from the lead status). A final step without a time happens when the last dated step did,
    since that is the latest the CRM vouches for. Repeated stages are kept once (the first).
    """
    ordered = sorted([s for s in dated if s.at is not None], key=_BY_TIME)
    last_at = ordered[-1].at if ordered else None
    path: list[StageStep] = []
    seen: set[Stage] = set()
    for step in (*ordered, *final):
        if step.stage in seen:
            continue
        seen.add(step.stage)
        if step.at is None and last_at is not None:
            step = step._replace(at=last_at)
        path.append(step)
        last_at = step.at
    return path


_BY_TIME = itemgetter(1)


def replay(
    current: Stage | None,
    path: Iterable[StageStep],
    *,
    last_at: datetime | None,
    default_at: datetime,
) -> list[PlannedMove]:
    """The moves that take a contact from ``current`` along ``path`` under the funnel's rules.

    Steps up to the current state, when the path passes through it, are history already lived;
    later steps the rules refuse (backward, out of a final state) are skipped rather than
    forced. History is never rewritten, and a path already replayed yields no moves, which is
    what makes re-importing idempotent. Times are the steps' own (``default_at`` when a step
    has none), never before ``last_at`` or the previous move, like every stage change.
    """
    steps = list(path)
    accepted = _accepted(current, tuple((step.stage, step.reason) for step in steps))
    moves: list[PlannedMove] = []
    state = current
    floor = last_at
    for i in accepted:
        step = steps[i]
        at = step.at or default_at
        if floor is not None and at < floor:
            at = floor
        moves.append(PlannedMove(state, step.stage, at, step.reason))
        state, floor = step.stage, at
    return moves


@lru_cache(maxsize=4096)
def _accepted(
    current: Stage | None, steps: tuple[tuple[Stage, StageReason | None], ...]
) -> tuple[int, ...]:
    """Which steps of a path the rules let a subject in ``current`` take, in order.

    Legality depends on the states and reasons alone, not on times, so the answer is cached:
    an import meets the same few paths a million times.
    """
    # Where the path already passes through the current state, the steps up to it are lived
    # history: replaying them could loop (nurture → consideration → nurture on every import).
    start = 0
    for i, (stage, _) in enumerate(steps):
        if stage is current:
            start = i + 1
    taken: list[int] = []
    state = current
    for i in range(start, len(steps)):
        stage, reason = steps[i]
        try:
            check_transition(state, stage, reason=reason, cause=Cause.IMPORT)
        except IllegalTransitionError:
            continue
        taken.append(i)
        state = stage
    return tuple(taken)


# The generic format names onefunnel's own states. A move into each from a state that can
# legally precede it checks what the rules say about the row alone (e.g. nurture needs a reason).
_SAMPLE_ORIGIN: dict[Stage, Stage | None] = {
    Stage.NURTURE: Stage.AWARENESS,
    Stage.DISQUALIFIED: Stage.AWARENESS,
    Stage.CHURNED: Stage.CONVERSION,
}


def onefunnel_step(stage: str, reason: str, at: datetime | None = None) -> StageStep | None:
    """A step written in onefunnel's own words (``intent``, ``nurture`` + ``not_now``).

    None when ``stage`` is empty. Raises MappingError for an unknown stage or reason, or a
    reason that the funnel's rules require but the row lacks (or give where none belongs).
    """
    if not stage.strip():
        if reason.strip():
            raise MappingError("a reason needs a stage")
        return None
    try:
        target = Stage(stage.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in Stage)
        raise MappingError(f"unknown stage {stage!r} (one of {known})") from None
    cause: StageReason | None = None
    if reason.strip():
        try:
            cause = StageReason(reason.strip().lower())
        except ValueError:
            known = ", ".join(r.value for r in StageReason)
            raise MappingError(f"unknown reason {reason!r} (one of {known})") from None
    try:
        check_transition(_SAMPLE_ORIGIN.get(target), target, reason=cause, cause=Cause.IMPORT)
    except IllegalTransitionError as exc:
        raise MappingError(exc.rule) from None
    return StageStep(target, at, cause)
