"""The moments that move people along the funnel, simulated one account at a time.

Each account runs its own clock: a heap of events (first touch, first engagement, hand-raise,
handoff decision, deal close, renewal, contract end, upsell) popped in time order. Handling an
event may schedule later ones; anything due after the anchor is left as it stands then (a
pending handoff, an open deal). Every stage change goes through the domain's rules
(``check_transition``, ``advance_for_touch``, ``stage_after_rejection``, ``stage_after_deal``),
so the histories produced are legal by construction, not by luck.

Only the touches that can move a stage (first touch, first engagement, hand-raises) and the
one-to-one sales touches are made here; the bulk of everyday touches is drawn afterwards, all
at once, by journeys.py, inside the bounds recorded here (``first_seen``, ``engaged_at``).

Times here are whole minutes, so that the bulk touches (which never fall on a whole minute)
never tie with a stage change.

After the sale, each customer has a hidden *engagement level* that wanders month by month (a
mean-reverting random walk around the account's own mean). It alone decides, with a little
fit, whether the customer renews; and it drives what the customer does — product usage (more
when engaged), support tickets (more when not), meetings with the account manager, interest
in another product. The health score only ever sees those touches, never the level, so how
well health predicts churn is a measurement, not a given. Contracts follow the product's
rules: a won new-business deal starts a yearly term; a renewal deal opens 90 days before the
renewal date (auto-renewing contracts get none: they renew, recorded as a won renewal deal, or
are cancelled and end, which churns the account by ``stage_after_contract_end``); won
upsells and cross-sells add co-terminous monthly terms for seats and analytics.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum

import numpy as np

from onefunnel.domain.contracts import ContractStatus, PaymentStatus
from onefunnel.domain.deals import DealKind, DealStatus, LostReason, stage_after_deal
from onefunnel.domain.handoffs import HandoffStatus, HandoffTrigger, stage_after_rejection
from onefunnel.domain.sla import BusinessHours, SlaPolicy, SlaState, add_working_hours
from onefunnel.domain.stages import (
    CUSTOMER_STAGES,
    Cause,
    Stage,
    StageReason,
    Team,
    check_transition,
    is_legal,
    stage_after_contract_end,
)
from onefunnel.domain.touches import Channel, TouchKind, advance_for_touch, stage_implied_by
from onefunnel.services.demo import catalog
from onefunnel.services.demo.company import ANCHOR_TS, DAY, WINDOW_START_TS, Plan, Prospects, Staff
from onefunnel.services.demo.rows import (
    PRODUCTS,
    USAGE_EVENTS,
    Activity,
    Contracts,
    Deals,
    Handoffs,
    StageChanges,
    Touches,
    code,
)

#: progress(phase, done, total), called as work proceeds.
ProgressFn = Callable[[str, int, int], None]
MINUTE = 60
HOUR = 3_600
#: First response SLAs in working hours: a hand-raise is hot, a score crossing less so.
SLA = {
    HandoffTrigger.HAND_RAISE: SlaPolicy(first_response_hours=4, max_reassignments=1),
    HandoffTrigger.MQL_THRESHOLD: SlaPolicy(first_response_hours=8, max_reassignments=1),
}
#: Share of accounts that were already customers before the simulated year began.
INSTALLED_BASE = 0.12
PIPELINE_STEPS = 5
#: Share of customers whose contracts renew automatically.
AUTO_RENEW_SHARE = 0.25
#: Usage events a month the core plan includes.
CORE_PLAN_USAGE = 12
MONTH = 30 * 86_400


class Event(IntEnum):
    """What can happen; the value breaks ties between events at the same minute."""

    FIRST_TOUCH = 0
    ENGAGE = 1
    INTEREST = 2
    REASSIGN = 3
    DECIDE = 4
    DEAL_CLOSE = 5
    RENEWAL_OPEN = 7
    UPSELL_OPEN = 8
    CONTRACT_END = 9


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _minute(ts: float) -> int:
    return math.ceil(ts / MINUTE) * MINUTE


def _ts(moment: datetime) -> int:
    return _minute(moment.timestamp())


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


_TOUCH_COLUMNS = ("contact", "kind", "source", "actor", "at")
_CHANGE_COLUMNS = ("contact", "account", "from", "to", "at", "cause", "ref", "reason")
_HANDOFF_COLUMNS = (
    "contact", "account", "trigger", "owner", "created", "due", "response", "status",
    "decided", "reason", "ev", "previous", "deal",
)  # fmt: skip
_CONTRACT_COLUMNS = (
    "account", "product", "amount", "monthly", "start", "end", "auto", "source", "renewal",
    "previous", "plan",
)  # fmt: skip
_DEAL_COLUMNS = (
    "kind", "account", "contact", "owner", "step", "status", "amount", "close", "created",
    "closed", "lost",
)  # fmt: skip


def _empty(names: tuple[str, ...]) -> dict[str, list[int]]:
    return {name: [] for name in names}


@dataclass(slots=True)
class _Columns:
    """Growing output columns, turned into arrays at the end."""

    touch: dict[str, list[int]] = field(default_factory=lambda: _empty(_TOUCH_COLUMNS))
    change: dict[str, list[int]] = field(default_factory=lambda: _empty(_CHANGE_COLUMNS))
    handoff: dict[str, list[int]] = field(default_factory=lambda: _empty(_HANDOFF_COLUMNS))
    handoff_score: list[float] = field(default_factory=list)
    handoff_note: list[str] = field(default_factory=list)
    deal: dict[str, list[int]] = field(default_factory=lambda: _empty(_DEAL_COLUMNS))
    deal_name: list[str] = field(default_factory=list)
    contract: dict[str, list[int]] = field(default_factory=lambda: _empty(_CONTRACT_COLUMNS))


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """What the event loop produced, plus the bounds the bulk touches must respect."""

    key_touches: Touches
    stage_changes: StageChanges
    handoffs: Handoffs
    deals: Deals
    contact_source: np.ndarray
    first_seen: np.ndarray
    engaged_at: np.ndarray
    interest_at: np.ndarray
    engagement: np.ndarray
    account_owner: np.ndarray
    contact_owner: np.ndarray
    contact_created: np.ndarray
    contracts: Contracts
    activity: Activity


class _Simulation:
    """The per-account event loop. One instance simulates the whole company."""

    def __init__(
        self, rng: np.random.Generator, staff: Staff, prospects: Prospects, plan: Plan
    ) -> None:
        self.rng = rng
        self.staff = staff
        self.p = prospects
        self.plan = plan
        self.out = _Columns()
        n_c = len(prospects.contacts.email)
        n_a = len(prospects.accounts.name)
        self.contact_state: list[Stage | None] = [None] * n_c
        self.account_state: list[Stage | None] = [None] * n_a
        self.first_seen = [-1] * n_c
        self.engaged_at = [-1] * n_c
        self.interest_at = [-1] * n_c
        self.created = [-1] * n_c
        self.contact_owner = [-1] * n_c
        self.account_owner = [-1] * n_a
        self.open_deal = [-1] * n_a
        self.account_manager = [-1] * n_a
        self.contract_end = [0] * n_a
        self.champion = [-1] * n_a
        self.upsell_rate = rng.gamma(1.2, 0.5, n_a)
        self.auto_renew = (rng.random(n_a) < AUTO_RENEW_SHARE).tolist()
        self.customer_since = [-1] * n_a
        self.level_mean = [0.0] * n_a
        self.levels: list[list[float]] = [[] for _ in range(n_a)]
        self.core = [-1] * n_a  # the account's current core contract term
        self.addons: list[list[int]] = [[] for _ in range(n_a)]
        teams = staff.users.team
        self.reps = [i for i in range(len(teams)) if teams[i] == code(Team.SALES)]
        self.managers = [i for i in range(len(teams)) if teams[i] == code(Team.ACCOUNT_MANAGEMENT)]
        self.calendars = {tz: BusinessHours(tz) for tz in catalog.REGION_TZ.values()}
        self.sources = plan.sources
        self.direct = next(i for i, s in enumerate(plan.sources) if s.channel is Channel.DIRECT)
        self.organic = next(
            i for i, s in enumerate(plan.sources) if s.channel is Channel.ORGANIC_SEARCH
        )
        self.outreach = len(plan.sources) - 1
        self.contacts_of: list[list[int]] = [[] for _ in range(n_a)]
        for c, a in enumerate(prospects.contacts.account.tolist()):
            self.contacts_of[a].append(c)
        self.contact_source = np.zeros(n_c, dtype=np.int64)
        self.heap: list[tuple[int, int, int, int, tuple[int, ...]]] = []
        self.seq = 0

    # -- recording -------------------------------------------------------------------------

    def schedule(self, at: int, event: Event, *payload: int) -> None:
        """Queue an event for the current account (ignored when it falls after the anchor)."""
        if at < ANCHOR_TS:
            self.seq += 1
            heapq.heappush(self.heap, (at, int(event), self.seq, int(event), payload))

    def move(
        self,
        *,
        contact: int = -1,
        account: int = -1,
        to: Stage,
        at: int,
        cause: Cause,
        ref: int = -1,
        reason: StageReason | None = None,
    ) -> None:
        """Append a stage change after checking it against the funnel's rules."""
        current = self.contact_state[contact] if contact >= 0 else self.account_state[account]
        check_transition(current, to, reason=reason, cause=cause)
        col = self.out.change
        col["contact"].append(contact)
        col["account"].append(account)
        col["from"].append(code(current) if current is not None else -1)
        col["to"].append(code(to))
        col["at"].append(at)
        col["cause"].append(code(cause))
        col["ref"].append(ref)
        col["reason"].append(code(reason) if reason is not None else -1)
        if contact >= 0:
            self.contact_state[contact] = to
            if self.first_seen[contact] < 0:
                self.first_seen[contact] = at
            if to is not Stage.AWARENESS and self.engaged_at[contact] < 0:
                self.engaged_at[contact] = at
        else:
            self.account_state[account] = to

    def touch(self, contact: int, kind: TouchKind, source: int, at: int, actor: int = -1) -> int:
        """Record a touch; returns its position among the key touches."""
        col = self.out.touch
        col["contact"].append(contact)
        col["kind"].append(code(kind))
        col["source"].append(source)
        col["actor"].append(actor)
        col["at"].append(at)
        return len(col["at"]) - 1

    def touch_and_advance(self, contact: int, kind: TouchKind, source: int, at: int) -> None:
        """Record a touch and apply the stage it implies, as record_touch does."""
        ref = self.touch(contact, kind, source, at)
        current = self.contact_state[contact]
        target = advance_for_touch(current, stage_implied_by(kind, known=True))
        if target is not None:
            self.move(contact=contact, to=target, at=at, cause=Cause.TOUCH, ref=ref)

    # -- draws -----------------------------------------------------------------------------

    def pick(self, options: list[int]) -> int:
        return options[int(self.rng.integers(0, len(options)))]

    def route(self, account: int, pool: list[int], exclude: int = -1) -> int:
        """A person of the account's region from the pool, anyone when the region has none."""
        region = self.p.accounts.region[account]
        local = [u for u in pool if self.staff.region[u] == region and u != exclude]
        return self.pick(local or [u for u in pool if u != exclude] or pool)

    def kind_from(self, channel: Channel, *, engaging: bool) -> TouchKind:
        """A touch kind typical of a channel; only engaging kinds when asked for."""
        weights = catalog.CHANNEL_KINDS.get(channel, catalog.CHANNEL_KINDS[Channel.DIRECT])
        kinds = [k for k in weights if (k in catalog.PASSIVE_KIND) == engaging] if engaging else []
        if not kinds:
            kinds = list(weights)
        w = np.array([weights[k] for k in kinds])
        kind = kinds[int(self.rng.choice(len(kinds), p=w / w.sum()))]
        return kind if engaging else catalog.PASSIVE_KIND.get(kind, kind)

    def active(self, source: int, at: int) -> bool:
        """True when the source's campaign runs on that day (unpaid sources always do)."""
        campaign = self.sources[source].campaign
        if campaign < 0:
            return True
        day = at // DAY
        c = self.plan.campaigns
        return bool(c.start_day[campaign] <= day <= c.end_day[campaign])

    # -- contacts --------------------------------------------------------------------------

    def plan_contact(self, c: int, source: int, engagement: float, customer: bool) -> None:
        """Draw when a contact first shows up, engages and raises a hand, and queue it."""
        rng = self.rng
        src = self.sources[source]
        sessions = self.plan.occurrence_days[src.campaign] if src.campaign >= 0 else None
        if sessions is not None and len(sessions):
            day = int(sessions[int(rng.integers(0, len(sessions)))])
            t0 = day * DAY + int(rng.uniform(9, 17) * HOUR)
        elif src.campaign >= 0:
            start = int(self.plan.campaigns.start_day[src.campaign]) * DAY
            end = (int(self.plan.campaigns.end_day[src.campaign]) + 1) * DAY
            t0 = int(rng.uniform(max(start, WINDOW_START_TS), min(end, ANCHOR_TS)))
        else:
            t0 = int(rng.uniform(WINDOW_START_TS, ANCHOR_TS))
        t0 = min(_minute(t0), ANCHOR_TS - MINUTE)
        if self.created[c] < 0:
            self.created[c] = t0
        first_kind = self.kind_from(src.channel, engaging=rng.random() < 0.2)
        self.schedule(t0, Event.FIRST_TOUCH, c, source, code(first_kind))
        fit = float(self.p.contact_fit[c])
        if rng.random() < _sigmoid(0.3 + 0.5 * fit + math.log(engagement)):
            te = _minute(t0 + rng.gamma(1.5, 10.0) * DAY)
            self.schedule(te, Event.ENGAGE, c)
        profile = catalog.CHANNEL_PROFILES.get(
            src.channel, catalog.CHANNEL_PROFILES[Channel.DIRECT]
        )
        logit = -2.8 + profile.hand_raise + 0.9 * fit + 0.6 * math.log(engagement)
        if customer:
            logit -= 1.0
        if rng.random() < _sigmoid(logit):
            th = _minute(t0 + rng.gamma(2.0, 18.0) * DAY)
            self.schedule(th, Event.INTEREST, c, self.trigger_code(), -1)

    def trigger_code(self) -> int:
        hand = self.rng.random() < 0.6
        return code(HandoffTrigger.HAND_RAISE if hand else HandoffTrigger.MQL_THRESHOLD)

    def on_first_touch(self, at: int, c: int, source: int, kind: int) -> None:
        self.touch_and_advance(c, list(TouchKind)[kind], source, at)

    def on_engage(self, at: int, c: int) -> None:
        source = int(self.contact_source[c])
        channel = self.sources[source].channel
        engaging = [k for k in catalog.CHANNEL_KINDS.get(channel, {}) if k in catalog.PASSIVE_KIND]
        if not engaging or not self.active(source, at):
            source = self.organic
            channel = Channel.ORGANIC_SEARCH
        self.touch_and_advance(c, self.kind_from(channel, engaging=True), source, at)

    def on_interest(self, at: int, c: int, trigger_code: int, previous: int) -> None:
        trigger = list(HandoffTrigger)[trigger_code]
        source = int(self.contact_source[c])
        if self.rng.random() > 0.6 or not self.active(source, at):
            source = self.direct
        src = self.sources[source]
        if src.campaign >= 0 and len(self.plan.occurrence_days[src.campaign]):
            source = self.direct
        if trigger is HandoffTrigger.HAND_RAISE:
            before = self.contact_state[c]
            self.touch_and_advance(c, TouchKind.HAND_RAISE, source, at)
            if before is not Stage.INTENT and self.contact_state[c] is Stage.INTENT:
                self.hand_off(at, c, trigger, previous)
            return
        ref = self.touch(c, TouchKind.HIGH_INTENT_PAGE, self.direct, at)
        target = advance_for_touch(
            self.contact_state[c], stage_implied_by(TouchKind.HIGH_INTENT_PAGE, known=True)
        )
        if target is not None:
            self.move(contact=c, to=target, at=at, cause=Cause.TOUCH, ref=ref)
        if self.contact_state[c] in (Stage.AWARENESS, Stage.CONSIDERATION, Stage.NURTURE):
            # The score crossed the MQL threshold on this touch: a rule moves the contact.
            self.move(contact=c, to=Stage.INTENT, at=at, cause=Cause.RULE, ref=ref)
            self.hand_off(at, c, trigger, previous)

    # -- handoffs --------------------------------------------------------------------------

    def hand_off(
        self, at: int, c: int, trigger: HandoffTrigger, previous: int, exclude: int = -1
    ) -> int:
        """Create a handoff: route it, start its SLA clock and draw how the rep handles it."""
        rng = self.rng
        a = int(self.p.contacts.account[c])
        rep = self.route(a, self.reps, exclude)
        calendar = self.calendars[catalog.REGION_TZ[self.staff.region[rep]]]
        policy = SLA[trigger]
        sla_hours = policy.first_response_hours
        created = _dt(at)
        due = _ts(policy.due_at(created, calendar))
        hours = float(np.exp(rng.normal(math.log(self.staff.response_hours[rep]), 0.9)))
        fit = float(self.p.contact_fit[c])
        source = self.sources[int(self.contact_source[c])]
        profile = catalog.CHANNEL_PROFILES.get(
            source.channel, catalog.CHANNEL_PROFILES[Channel.DIRECT]
        )
        p_win = _sigmoid(-1.4 + fit + profile.win)
        score = float(np.clip(45 + 14 * fit + rng.normal(0, 8), 5, 100))
        if trigger is HandoffTrigger.MQL_THRESHOLD:
            score = max(score, 60.0 + float(rng.exponential(8)))
        h = self.append_handoff(c, a, trigger, rep, at, due, previous, round(score, 1))
        self.out.handoff["ev"][h] = int(self.p.acv_cents[a] * p_win)
        self.contact_owner[c] = rep
        if self.account_owner[a] < 0:
            self.account_owner[a] = rep
        reassignments = 1 if exclude >= 0 else 0
        if hours > 2 * sla_hours and policy.should_reassign(SlaState.BREACHED, reassignments):
            # Nobody answered for twice the SLA: the sweeper expires it and reroutes the lead.
            expired = _ts(add_working_hours(created, 2 * sla_hours, calendar))
            if expired < ANCHOR_TS:
                self.out.handoff["status"][h] = code(HandoffStatus.EXPIRED)
                self.out.handoff["decided"][h] = expired
                self.schedule(expired, Event.REASSIGN, c, code(trigger), h, rep)
            return h
        response = _ts(add_working_hours(created, hours, calendar))
        if response >= ANCHOR_TS:
            return h
        self.out.handoff["response"][h] = response
        accept = rng.random() < _sigmoid(
            -0.2 + 1.3 * fit + profile.accept + float(self.staff.accept_bias[rep])
        )
        delay = rng.uniform(0, 1) if accept else rng.uniform(0, 3)
        decided = _minute(response + delay * DAY)
        reason = -1
        if not accept:
            w = np.array(profile.rejections)
            w[0] *= math.exp(-0.6 * fit)  # poor fit shows up as "bad fit"
            if self.p.contacts.seniority[c] in ("individual", "other"):
                w[2] *= 1.5
            reason = int(rng.choice(len(w), p=w / w.sum()))
        self.schedule(decided, Event.DECIDE, h, int(accept), reason)
        return h

    def append_handoff(
        self,
        c: int,
        a: int,
        trigger: HandoffTrigger,
        rep: int,
        at: int,
        due: int,
        previous: int,
        score: float,
    ) -> int:
        col = self.out.handoff
        values = {
            "contact": c, "account": a, "trigger": code(trigger), "owner": rep, "created": at,
            "due": due, "response": -1, "status": code(HandoffStatus.PENDING), "decided": -1,
            "reason": -1, "ev": 0, "previous": previous, "deal": -1,
        }  # fmt: skip
        for key, value in values.items():
            col[key].append(value)
        self.out.handoff_score.append(score)
        self.out.handoff_note.append("")
        if self.interest_at[c] < 0:
            self.interest_at[c] = at
        return len(col["contact"]) - 1

    def on_reassign(self, at: int, c: int, trigger_code: int, expired: int, rep: int) -> None:
        if self.contact_state[c] is Stage.INTENT:
            self.hand_off(at, c, list(HandoffTrigger)[trigger_code], expired, exclude=rep)

    def on_decide(self, at: int, h: int, accept: int, reason_pos: int) -> None:
        col = self.out.handoff
        c, a, rep = col["contact"][h], col["account"][h], col["owner"][h]
        col["decided"][h] = at
        if self.contact_state[c] is not Stage.INTENT or accept:
            # Decided after the account's deal already moved this contact: nothing to reject.
            col["status"][h] = code(HandoffStatus.ACCEPTED)
            if self.contact_state[c] is Stage.INTENT:
                col["deal"][h] = self.open_or_new_deal(at, a, c, rep)
            elif self.open_deal[a] >= 0:
                col["deal"][h] = self.open_deal[a]
            return
        reason = catalog.REJECTION_ORDER[reason_pos]
        col["status"][h] = code(HandoffStatus.REJECTED)
        col["reason"][h] = code(reason)
        if reason is StageReason.OTHER:
            notes = catalog.REJECTION_NOTES
            self.out.handoff_note[h] = notes[int(self.rng.integers(0, len(notes)))]
        target = stage_after_rejection(reason)
        self.move(contact=c, to=target, at=at, cause=Cause.HANDOFF, ref=h, reason=reason)
        fit = float(self.p.contact_fit[c])
        if target is Stage.NURTURE and self.rng.random() < _sigmoid(-1.2 + fit):
            back = _minute(at + self.rng.gamma(2.0, 30.0) * DAY)
            self.schedule(back, Event.INTEREST, c, self.trigger_code(), h)

    # -- deals -----------------------------------------------------------------------------

    def open_or_new_deal(self, at: int, a: int, c: int, rep: int) -> int:
        """The deal an accepted lead joins: the account's open one, an expansion, or new."""
        if self.open_deal[a] >= 0:
            return self.open_deal[a]
        rng = self.rng
        fit = float(self.p.contact_fit[c])
        acv = int(self.p.acv_cents[a])
        if self.account_state[a] in CUSTOMER_STAGES:
            owner = self.account_manager[a] if self.account_manager[a] >= 0 else rep
            amount = int(acv * rng.uniform(0.2, 0.6))
            won = rng.random() < _sigmoid(0.3 + 0.5 * fit)
            close = _minute(at + rng.gamma(2.0, 15.0) * DAY)
            return self.new_deal(DealKind.CROSS_SELL, a, c, owner, at, close, amount, won)
        source = self.sources[int(self.contact_source[c])]
        profile = catalog.CHANNEL_PROFILES.get(
            source.channel, catalog.CHANNEL_PROFILES[Channel.DIRECT]
        )
        band = catalog.EMPLOYEE_BANDS
        band_pos = [b[0] for b in band].index(self.p.accounts.employee_band[a])
        cycle = math.exp(rng.normal(math.log(30 * (1 + 0.25 * band_pos)), 0.45))
        won = rng.random() < _sigmoid(-1.8 + fit + profile.win + float(self.staff.skill[rep]))
        created = at + HOUR
        close = _minute(created + cycle * DAY)
        amount = int(acv * math.exp(rng.normal(0, 0.15)))
        d = self.new_deal(DealKind.NEW_BUSINESS, a, c, rep, created, close, amount, won)
        self.open_deal[a] = d
        self.sales_touches(c, rep, created, close)
        return d

    def sales_touches(self, c: int, rep: int, start: int, end: int) -> None:
        """Calls, emails, meetings and a demo while a deal is worked (never past the anchor)."""
        end = min(end, ANCHOR_TS)
        if end <= start + HOUR:
            return
        n = 1 + int(self.rng.poisson((end - start) / DAY / 6))
        kinds = (TouchKind.CALL, TouchKind.SALES_EMAIL, TouchKind.MEETING, TouchKind.DEMO)
        draws = self.rng.choice(4, size=min(n, 14), p=[0.35, 0.4, 0.15, 0.1])
        times = np.sort(self.rng.uniform(start, end - MINUTE, size=len(draws)))
        for k, t in zip(draws.tolist(), times.tolist(), strict=True):
            self.touch(c, kinds[k], self.outreach, _minute(t) - MINUTE, actor=rep)

    def new_deal(
        self,
        kind: DealKind,
        a: int,
        c: int,
        owner: int,
        created: int,
        close: int,
        amount: int,
        won: bool,
    ) -> int:
        col = self.out.deal
        lost = -1 if won else self.lost_reason(kind, a)
        steps = PIPELINE_STEPS - 1
        values = {
            "kind": code(kind), "account": a, "contact": c, "owner": owner,
            "step": steps if won else int(self.rng.integers(0, PIPELINE_STEPS)),
            "status": code(DealStatus.WON if won else DealStatus.LOST), "amount": amount,
            "close": close // DAY, "created": created, "closed": close, "lost": lost,
        }  # fmt: skip
        d = len(col["kind"])
        for key, value in values.items():
            col[key].append(value)
        label = {
            DealKind.NEW_BUSINESS: "New business",
            DealKind.RENEWAL: "Renewal",
            DealKind.UPSELL: "Upsell",
            DealKind.CROSS_SELL: "Cross-sell",
        }[kind]
        self.out.deal_name.append(f"{self.p.accounts.name[a]}: {label}")
        if close < ANCHOR_TS:
            self.schedule(close, Event.DEAL_CLOSE, d)
        else:
            # Still open at the anchor: it sits in the pipeline as far as it has got.
            progress = (ANCHOR_TS - created) / max(close - created, 1)
            col["status"][d] = code(DealStatus.OPEN)
            col["closed"][d] = -1
            col["lost"][d] = -1
            col["step"][d] = min(int(progress * PIPELINE_STEPS), PIPELINE_STEPS - 1)
        return d

    def lost_reason(self, kind: DealKind, a: int) -> int:
        fit = float(self.p.account_fit[a])
        reasons = list(LostReason)
        if kind is DealKind.NEW_BUSINESS:
            w = [3.0, 2.5, 3.0, 2.0, 1.5 * math.exp(-fit), 1.5 * math.exp(-fit), 0.5]
        elif kind is DealKind.RENEWAL:
            w = [3.0, 2.0, 0.5, 0.5, 2.0, 2.5 * math.exp(-fit), 0.5]
        else:
            w = [1.5, 0.5, 3.0, 3.0, 3.0, 1.0, 0.5]
        p = np.array(w) / sum(w)
        return code(reasons[int(self.rng.choice(len(reasons), p=p))])

    def on_deal_close(self, at: int, d: int) -> None:
        col = self.out.deal
        kind = list(DealKind)[col["kind"][d]]
        won = col["status"][d] == code(DealStatus.WON)
        a = col["account"][d]
        self.apply_deal(at, d, a, kind, won)
        if kind is DealKind.NEW_BUSINESS:
            self.open_deal[a] = -1
        if not won:
            return
        if kind is DealKind.NEW_BUSINESS:
            self.champion[a] = col["contact"][d]
            self.account_manager[a] = self.route(a, self.managers)
            self.account_owner[a] = self.account_manager[a]
            if self.customer_since[a] < 0:
                self.customer_since[a] = at
                self.level_mean[a] = 0.3 * float(self.p.account_fit[a]) + self.rng.normal(0, 0.6)
            start = at // DAY
            if self.core[a] >= 0:
                start = max(start, self.out.contract["end"][self.core[a]] + 1)
            self.core[a] = self.add_contract(a, 0, col["amount"][d], False, start, start + 364, d)
            self.addons[a] = []
            self.contract_end[a] = (start + 365) * DAY
            self.schedule(self.contract_end[a] - 90 * DAY, Event.RENEWAL_OPEN, a)
            self.schedule_upsell(at, a)
        elif kind is DealKind.RENEWAL:
            self.renew_terms(a, col["amount"][d])
            self.schedule(self.contract_end[a] - 90 * DAY, Event.RENEWAL_OPEN, a)
        else:
            self.add_expansion_term(at, a, kind, col["amount"][d], d)

    def apply_deal(self, at: int, d: int, a: int, kind: DealKind, won: bool) -> None:
        """Move the account and every contact it has by then, as close_deal does.

        A disqualified contact is skipped: only a user may requalify one, never a deal.
        """
        outcome = stage_after_deal(kind, won=won, current=self.account_state[a])
        if outcome is not None:
            self.move(account=a, to=outcome[0], at=at, cause=Cause.DEAL, ref=d, reason=outcome[1])
        for c in self.contacts_of[a]:
            if self.created[c] > at:
                continue  # not in the database yet
            current = self.contact_state[c]
            outcome = stage_after_deal(kind, won=won, current=current)
            if outcome is None:
                continue
            target, reason = outcome
            if is_legal(current, target, reason=reason, cause=Cause.DEAL):
                self.move(contact=c, to=target, at=at, cause=Cause.DEAL, ref=d, reason=reason)

    def schedule_upsell(self, at: int, a: int) -> None:
        gap = self.rng.exponential(365.0 / max(float(self.upsell_rate[a]), 0.05))
        self.schedule(_minute(at + max(gap, 45.0) * DAY), Event.UPSELL_OPEN, a)

    # -- after the sale ----------------------------------------------------------------------

    def level(self, a: int, at: int) -> float:
        """The customer's hidden engagement level in the month of ``at`` (drawn lazily, month
        by month, from when it became a customer)."""
        walk = self.levels[a]
        month = max(0, (at - self.customer_since[a]) // MONTH)
        mean = self.level_mean[a]
        while len(walk) <= month:
            if not walk:
                walk.append(mean + float(self.rng.normal(0, 0.6)))
            else:
                walk.append(mean + 0.75 * (walk[-1] - mean) + float(self.rng.normal(0, 0.5)))
        return walk[month]

    def add_contract(
        self, a: int, product: int, amount: int, monthly: bool, start: int, end: int,
        source: int = -1, previous: int = -1,
    ) -> int:  # fmt: skip
        """Record a contract term (days since the epoch, both included); its position."""
        col = self.out.contract
        values = {
            "account": a, "product": product, "amount": amount, "monthly": int(monthly),
            "start": start, "end": end, "auto": int(self.auto_renew[a]), "source": source,
            "renewal": -1, "previous": previous, "plan": CORE_PLAN_USAGE if product == 0 else -1,
        }  # fmt: skip
        for key, value in values.items():
            col[key].append(value)
        return len(col["account"]) - 1

    def renew_terms(self, a: int, amount: int) -> None:
        """The next term of the core contract and of every add-on running with it."""
        col = self.out.contract
        old = self.core[a]
        start = col["end"][old] + 1
        end = start + 364
        self.core[a] = self.add_contract(a, 0, amount, False, start, end, previous=old)
        addons = []
        for i in self.addons[a]:
            if col["end"][i] == start - 1:
                addons.append(
                    self.add_contract(
                        a, col["product"][i], col["amount"][i], True, start, end, previous=i
                    )
                )
        self.addons[a] = addons
        self.contract_end[a] = (end + 1) * DAY

    def add_expansion_term(self, at: int, a: int, kind: DealKind, amount: int, d: int) -> None:
        """A won upsell (seats) or cross-sell (analytics) adds a monthly term that ends with
        the core term (none when one for that product already runs)."""
        if self.core[a] < 0:
            return
        col = self.out.contract
        product = 1 if kind is DealKind.UPSELL else 2
        start, end = at // DAY, col["end"][self.core[a]]
        if start > end or any(col["product"][i] == product for i in self.addons[a]):
            return
        monthly = max(amount // 12, 100)
        self.addons[a].append(self.add_contract(a, product, monthly, True, start, end, d))

    def decides_to_renew(self, at: int, a: int) -> bool:
        """The customer's decision: its engagement over the last two months, a little fit."""
        recent = (self.level(a, at - MONTH) + self.level(a, at)) / 2
        fit = float(self.p.account_fit[a])
        grown = self.account_state[a] is Stage.GROW
        return bool(self.rng.random() < _sigmoid(1.0 + 2.0 * recent + 0.2 * fit + 0.3 * grown))

    def on_renewal_open(self, at: int, a: int) -> None:
        if self.account_state[a] not in CUSTOMER_STAGES:
            return
        rng = self.rng
        grown = self.account_state[a] is Stage.GROW
        won = self.decides_to_renew(at, a)
        amount = int(self.p.acv_cents[a] * (1.05 if grown else 1.0))
        if self.auto_renew[a]:
            # No renewal deal: the term renews itself at its end, or the customer cancels.
            self.schedule(self.contract_end[a], Event.CONTRACT_END, a, int(won), amount)
            return
        close = _minute(self.contract_end[a] + rng.normal(0, 5) * DAY)
        close = max(close, at + DAY)
        owner = self.account_manager[a]
        champion = self.champion[a]
        d = self.new_deal(DealKind.RENEWAL, a, champion, owner, at, close, amount, won)
        self.out.contract["renewal"][self.core[a]] = d
        if champion >= 0 and at >= WINDOW_START_TS:
            self.sales_touches(champion, owner, at, min(close, at + 30 * DAY))

    def on_contract_end(self, at: int, a: int, renews: int, amount: int) -> None:
        """An auto-renewing term's end: renewed (a renewal deal opened and won at once, as the
        renewal check records it) or cancelled (the term ends and the account churns)."""
        if self.account_state[a] not in CUSTOMER_STAGES:
            return
        core = self.core[a]
        if renews:
            owner, champion = self.account_manager[a], self.champion[a]
            d = self.new_deal(DealKind.RENEWAL, a, champion, owner, at, at, amount, True)
            self.out.contract["renewal"][core] = d
            return
        target = stage_after_contract_end(self.account_state[a], other_active_contracts=0)
        if target is not None:
            self.move(account=a, to=target, at=at, cause=Cause.RULE, ref=-2 - core)

    def on_upsell_open(self, at: int, a: int) -> None:
        if self.account_state[a] not in CUSTOMER_STAGES:
            return
        rng = self.rng
        kind = DealKind.UPSELL if rng.random() < 0.7 else DealKind.CROSS_SELL
        fit = float(self.p.account_fit[a])
        won = rng.random() < _sigmoid(0.1 + 0.5 * fit)
        close = _minute(at + rng.gamma(2.0, 15.0) * DAY)
        amount = int(self.p.acv_cents[a] * rng.uniform(0.15, 0.6))
        self.new_deal(kind, a, self.champion[a], self.account_manager[a], at, close, amount, won)
        self.schedule_upsell(at, a)

    # -- the loop --------------------------------------------------------------------------

    def run(self, progress: ProgressFn | None) -> Lifecycle:
        rng = self.rng
        n_c = len(self.created)
        n_a = len(self.account_state)
        weights = self.plan.acquisition_weight
        self.contact_source = rng.choice(len(weights), size=n_c, p=weights / weights.sum())
        engagement = np.exp(rng.normal(0.0, 0.6, n_c))
        installed = rng.random(n_a) < INSTALLED_BASE
        handlers = {
            Event.FIRST_TOUCH: self.on_first_touch,
            Event.ENGAGE: self.on_engage,
            Event.INTEREST: self.on_interest,
            Event.REASSIGN: self.on_reassign,
            Event.DECIDE: self.on_decide,
            Event.DEAL_CLOSE: self.on_deal_close,
            Event.RENEWAL_OPEN: self.on_renewal_open,
            Event.UPSELL_OPEN: self.on_upsell_open,
            Event.CONTRACT_END: self.on_contract_end,
        }
        step = max(n_a // 50, 1)
        for a in range(n_a):
            if installed[a]:
                self.seed_customer(a)
            for c in self.contacts_of[a]:
                customer = self.champion[a] >= 0
                self.plan_contact(c, int(self.contact_source[c]), float(engagement[c]), customer)
            while self.heap:
                at, _, _, event, payload = heapq.heappop(self.heap)
                handlers[Event(event)](at, *payload)  # type: ignore[operator]
            if progress is not None and (a % step == 0 or a == n_a - 1):
                progress("simulate", a + 1, n_a)
        return self.result(engagement, self.contracts(), self.customer_activity())

    def seed_customer(self, a: int) -> None:
        """Make an account a customer since before the simulated year, with its history."""
        rng = self.rng
        c = self.contacts_of[a][0]
        won_at = _minute(WINDOW_START_TS - rng.uniform(30, 900) * DAY)
        created = _minute(won_at - rng.uniform(25, 90) * DAY)
        self.created[c] = created
        self.champion[a] = c
        # The champion exists from the deal on; the deal closing makes them a customer.
        self.first_seen[c] = created
        rep = self.route(a, self.reps)
        amount = int(self.p.acv_cents[a])
        self.account_owner[a] = rep
        self.contact_owner[c] = rep
        self.new_deal(DealKind.NEW_BUSINESS, a, c, rep, created, won_at, amount, True)

    def contracts(self) -> Contracts:
        """The contract terms with their state at the anchor, as the renewal check leaves it:
        renewed when a next term exists; ended when the last day has passed with no renewal
        deal still open; active otherwise (payment late or failed for some disengaged ones)."""
        col = self.out.contract
        deals = self.out.deal
        n = len(col["account"])
        today = ANCHOR_TS // DAY
        renewed = set(i for i in col["previous"] if i >= 0)
        status, payment = [], []
        for i in range(n):
            deal = col["renewal"][i]
            open_deal = deal >= 0 and deals["status"][deal] == code(DealStatus.OPEN)
            if i in renewed:
                status.append(code(ContractStatus.RENEWED))
            elif col["end"][i] < today and not open_deal:
                status.append(code(ContractStatus.ENDED))
            else:
                status.append(code(ContractStatus.ACTIVE))
            pay = PaymentStatus.CURRENT
            if status[-1] == code(ContractStatus.ACTIVE) and col["start"][i] <= today:
                level = self.level(col["account"][i], ANCHOR_TS)
                draw = self.rng.random()
                if draw < _sigmoid(-4.0 - 1.5 * level):
                    pay = PaymentStatus.FAILED
                elif draw < _sigmoid(-2.5 - 1.5 * level):
                    pay = PaymentStatus.LATE
            payment.append(code(pay))

        def arr(values: list[int]) -> np.ndarray:
            return np.asarray(values, dtype=np.int64)

        return Contracts(
            account=arr(col["account"]),
            product=arr(col["product"]),
            amount_cents=arr(col["amount"]),
            monthly=arr(col["monthly"]),
            start_day=arr(col["start"]),
            end_day=arr(col["end"]),
            auto_renew=arr(col["auto"]),
            status=arr(status),
            payment=arr(payment),
            plan_usage=arr(col["plan"]),
            source_deal=arr(col["source"]),
            renewal_deal=arr(col["renewal"]),
            previous=arr(col["previous"]),
        )

    def customer_activity(self) -> Activity:
        """What customers do while a core term runs, month by month, from their hidden
        engagement level ``h``: usage events (Poisson, mean 8·e^h a month), support tickets
        (0.4·e^−h), meetings with the account manager (0.8·e^(h/2)), and, when engaged,
        visits to the pages of a product they do not have (0.2·e^h)."""
        rng = self.rng
        col = self.out.contract
        out: dict[str, list[int]] = _empty(
            ("contact", "kind", "team", "event", "product", "actor", "at")
        )
        am_team, mkt_team = code(Team.ACCOUNT_MANAGEMENT), code(Team.MARKETING)
        for i in range(len(col["account"])):
            if col["product"][i] != 0:
                continue
            a = col["account"][i]
            c = self.champion[a]
            if c < 0 or self.customer_since[a] < 0:
                continue
            start = max(col["start"][i] * DAY, self.created[c])
            stop = min((col["end"][i] + 1) * DAY, ANCHOR_TS)
            t0 = start
            while t0 < stop:
                t1 = min(t0 + MONTH, stop)
                share = (t1 - t0) / MONTH
                h = self.level(a, t0)
                owner = self.account_manager[a]
                for kind, mean, team, actor in (
                    (TouchKind.CUSTOM, 8.0 * math.exp(h), mkt_team, -1),
                    (TouchKind.SUPPORT_TICKET, 0.4 * math.exp(-h), am_team, -1),
                    (TouchKind.MEETING, 0.8 * math.exp(h / 2), am_team, owner),
                    (TouchKind.HIGH_INTENT_PAGE, 0.2 * math.exp(h) if h > 0 else 0.0,
                     mkt_team, -1),
                ):  # fmt: skip
                    n = int(rng.poisson(mean * share))
                    if n == 0:
                        continue
                    times = np.sort(rng.uniform(t0, t1, size=n)).astype(np.int64)
                    events = rng.integers(0, len(USAGE_EVENTS), size=n)
                    for t, e in zip(times.tolist(), events.tolist(), strict=True):
                        out["contact"].append(c)
                        out["kind"].append(code(kind))
                        out["team"].append(team)
                        out["event"].append(e if kind is TouchKind.CUSTOM else -1)
                        out["product"].append(
                            PRODUCTS.index("Analytics") if kind is TouchKind.HIGH_INTENT_PAGE
                            else -1
                        )  # fmt: skip
                        out["actor"].append(actor)
                        out["at"].append(t)
                t0 = t1
        order = np.argsort(np.asarray(out["at"], dtype=np.int64), kind="stable")

        def arr(values: list[int]) -> np.ndarray:
            return np.asarray(values, dtype=np.int64)[order]

        return Activity(
            contact=arr(out["contact"]),
            kind=arr(out["kind"]),
            team=arr(out["team"]),
            event=arr(out["event"]),
            product=arr(out["product"]),
            actor=arr(out["actor"]),
            occurred_at=arr(out["at"]),
        )

    def result(self, engagement: np.ndarray, contracts: Contracts, activity: Activity) -> Lifecycle:
        out = self.out
        i64 = np.int64

        def arr(values: list[int]) -> np.ndarray:
            return np.asarray(values, dtype=i64)

        t, ch, h, d = out.touch, out.change, out.handoff, out.deal
        return Lifecycle(
            key_touches=Touches(
                contact=arr(t["contact"]),
                kind=arr(t["kind"]),
                source=arr(t["source"]),
                actor=arr(t["actor"]),
                occurred_at=arr(t["at"]),
            ),
            stage_changes=StageChanges(
                contact=arr(ch["contact"]),
                account=arr(ch["account"]),
                from_stage=arr(ch["from"]),
                to_stage=arr(ch["to"]),
                at=arr(ch["at"]),
                cause=arr(ch["cause"]),
                cause_ref=arr(ch["ref"]),
                reason=arr(ch["reason"]),
            ),
            handoffs=Handoffs(
                contact=arr(h["contact"]),
                account=arr(h["account"]),
                trigger=arr(h["trigger"]),
                score=np.asarray(out.handoff_score, dtype=np.float64),
                owner=arr(h["owner"]),
                created_at=arr(h["created"]),
                sla_due_at=arr(h["due"]),
                first_response_at=arr(h["response"]),
                status=arr(h["status"]),
                decided_at=arr(h["decided"]),
                reason=arr(h["reason"]),
                note=out.handoff_note,
                cost_cents=np.zeros(len(h["contact"]), dtype=i64),
                expected_value_cents=arr(h["ev"]),
                previous=arr(h["previous"]),
                deal=arr(h["deal"]),
            ),
            deals=Deals(
                name=out.deal_name,
                kind=arr(d["kind"]),
                account=arr(d["account"]),
                contact=arr(d["contact"]),
                owner=arr(d["owner"]),
                pipeline_step=arr(d["step"]),
                status=arr(d["status"]),
                amount_cents=arr(d["amount"]),
                expected_close_day=arr(d["close"]),
                created_at=arr(d["created"]),
                closed_at=arr(d["closed"]),
                lost_reason=arr(d["lost"]),
            ),
            contact_source=np.asarray(self.contact_source, dtype=i64),
            first_seen=arr(self.first_seen),
            engaged_at=arr(self.engaged_at),
            interest_at=arr(self.interest_at),
            engagement=engagement,
            account_owner=arr(self.account_owner),
            contact_owner=arr(self.contact_owner),
            contact_created=arr(self.created),
            contracts=contracts,
            activity=activity,
        )


def simulate_lifecycle(
    rng: np.random.Generator,
    staff: Staff,
    prospects: Prospects,
    plan: Plan,
    progress: ProgressFn | None = None,
) -> Lifecycle:
    """Run every account's event loop; see the module docstring."""
    return _Simulation(rng, staff, prospects, plan).run(progress)
