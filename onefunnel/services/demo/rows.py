"""The simulated company as plain columns: what journeys.py produces and load.py writes.

Conventions, so that every table reads the same way:

* Rows refer to each other by position (``account[i]`` is an index into the accounts), with
  ``-1`` for "none"; the loader turns positions into database ids.
* Times are whole UTC seconds since the Unix epoch (int64), days are days since the epoch;
  ``-1`` means "not yet" (a handoff nobody answered, a deal still open).
* Enum columns hold positions in the tuples below (``TOUCH_KINDS[kind[i]]``), and money is in
  cents, so that the arrays stay numeric and compare exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from onefunnel.domain.deals import DealKind, DealStatus, LostReason
from onefunnel.domain.handoffs import HandoffStatus, HandoffTrigger
from onefunnel.domain.stages import ALL_STATES, Cause, StageReason, Team
from onefunnel.domain.touches import Channel, TouchKind

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

STAGES = ALL_STATES
CAUSES = tuple(Cause)
REASONS = tuple(StageReason)
TOUCH_KINDS = tuple(TouchKind)
CHANNELS = tuple(Channel)
TEAMS = tuple(Team)
TRIGGERS = tuple(HandoffTrigger)
HANDOFF_STATUSES = tuple(HandoffStatus)
DEAL_KINDS = tuple(DealKind)
DEAL_STATUSES = tuple(DealStatus)
LOST_REASONS = tuple(LostReason)


def code(member: StrEnum) -> int:
    """The position of an enum member in its column's tuple."""
    return list(type(member)).index(member)


class DemoSize(StrEnum):
    """How big a demo company to generate."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


@dataclass(frozen=True, slots=True)
class Users:
    """The demo company's staff: sales reps, marketing managers and account managers."""

    username: list[str]
    first_name: list[str]
    last_name: list[str]
    email: list[str]
    team: Ints


@dataclass(frozen=True, slots=True)
class Accounts:
    """Companies. ``properties`` carries the demo marker and the employee band."""

    name: list[str]
    domain: list[str]
    industry: list[str]
    employee_count: Ints
    employee_band: list[str]
    country: list[str]
    region: list[str]
    owner: Ints
    created_at: Ints


@dataclass(frozen=True, slots=True)
class Contacts:
    """People, each at one account."""

    first_name: list[str]
    last_name: list[str]
    email: list[str]
    title: list[str]
    seniority: list[str]
    country: list[str]
    account: Ints
    owner: Ints
    created_at: Ints


@dataclass(frozen=True, slots=True)
class Campaigns:
    """The marketing plan: one channel and one UTM key per campaign."""

    name: list[str]
    utm_campaign: list[str]
    utm_source: list[str]
    utm_medium: list[str]
    channel: Ints
    start_day: Ints
    end_day: Ints
    budget_cents: Ints


@dataclass(frozen=True, slots=True)
class Spend:
    """What each campaign cost per day."""

    campaign: Ints
    day: Ints
    amount_cents: Ints


@dataclass(frozen=True, slots=True)
class Touches:
    """Every touchpoint, sorted by time (the n-th is message ``demo-<seed>-<n:08d>``).

    ``source`` indexes :attr:`SimulatedCompany.sources`, which carries the channel, campaign
    and UTM fields the touch came with.
    """

    contact: Ints
    kind: Ints
    source: Ints
    actor: Ints
    occurred_at: Ints


@dataclass(frozen=True, slots=True)
class Source:
    """Where touches come from: a channel, maybe a campaign, and the UTM fields they carry."""

    channel: Channel
    campaign: int
    utm_source: str
    utm_medium: str
    utm_campaign: str


@dataclass(frozen=True, slots=True)
class StageChanges:
    """The stage histories, in the order they happened (per subject, that order is the log).

    Exactly one of ``contact`` and ``account`` is set. ``cause_ref`` indexes the touches,
    handoffs or deals according to the cause (touch and rule: touches; handoff: handoffs;
    deal: deals); a rule change caused by a contract term ending unrenewed has
    ``cause_ref = -2 - contract`` (the contract's position), written as ``contract:<id>``.
    """

    contact: Ints
    account: Ints
    from_stage: Ints
    to_stage: Ints
    at: Ints
    cause: Ints
    cause_ref: Ints
    reason: Ints


@dataclass(frozen=True, slots=True)
class Handoffs:
    """Leads passed to sales, with their routing, SLA clock, decision, cost and value."""

    contact: Ints
    account: Ints
    trigger: Ints
    score: Floats
    owner: Ints
    created_at: Ints
    sla_due_at: Ints
    first_response_at: Ints
    status: Ints
    decided_at: Ints
    reason: Ints
    note: list[str]
    cost_cents: Ints
    expected_value_cents: Ints
    previous: Ints
    deal: Ints


@dataclass(frozen=True, slots=True)
class Deals:
    """Opportunities: new business, renewals, upsells and cross-sells."""

    name: list[str]
    kind: Ints
    account: Ints
    contact: Ints
    owner: Ints
    pipeline_step: Ints
    status: Ints
    amount_cents: Ints
    expected_close_day: Ints
    created_at: Ints
    closed_at: Ints
    lost_reason: Ints


#: Products of the demo company: the core subscription, extra seats (upsell), analytics
#: (cross-sell).
PRODUCTS = ("Core", "Seats", "Analytics")
#: Tracked events that count as product usage (the default health configuration's).
USAGE_EVENTS = ("Feature Used", "Report Run", "Login")


@dataclass(frozen=True, slots=True)
class Contracts:
    """Contract terms. ``product`` indexes PRODUCTS; ``monthly`` is 1 for monthly billing
    (amount per month), 0 for yearly; days are days since the epoch; ``status`` indexes
    ``ContractStatus``; ``renewal_deal``, ``source_deal`` index deals and ``previous`` the
    contracts (-1: none)."""

    account: Ints
    product: Ints
    amount_cents: Ints
    monthly: Ints
    start_day: Ints
    end_day: Ints
    auto_renew: Ints
    status: Ints
    payment: Ints
    plan_usage: Ints
    source_deal: Ints
    renewal_deal: Ints
    previous: Ints


@dataclass(frozen=True, slots=True)
class Activity:
    """Customers' own touches after the sale: product usage (tracked events, ``event`` indexes
    USAGE_EVENTS), support tickets, account management meetings and intent on a product they
    do not have (``product`` indexes PRODUCTS, -1: none); ``team`` indexes TEAMS."""

    contact: Ints
    kind: Ints
    team: Ints
    event: Ints
    product: Ints
    actor: Ints
    occurred_at: Ints


@dataclass(frozen=True, slots=True)
class SimulatedCompany:
    """A whole demo company, ready to be written to the database."""

    seed: int
    size: DemoSize
    users: Users
    accounts: Accounts
    contacts: Contacts
    campaigns: Campaigns
    spend: Spend
    sources: tuple[Source, ...]
    touches: Touches
    stage_changes: StageChanges
    handoffs: Handoffs
    deals: Deals
    contracts: Contracts
    activity: Activity
