"""The demo company, simulated: a plausible funnel rather than uniform noise.

``simulate(seed, size)`` is pure (numpy's ``Generator(PCG64(seed))`` and the domain rules, no
Django) and deterministic: the simulated year is the 365 days before a fixed anchor,
2026-10-31 00:00 UTC, so a seed gives the same company, byte for byte, on any day it runs.

The model, in the order it is drawn:

1. **Staff** (company.py): sales reps in regional territories who differ in response speed,
   willingness to accept and skill at closing; marketers; account managers.
2. **Accounts and contacts**: industry, employee band and country, and each contact's
   seniority, add up to a hidden *fit*. Fit raises the chance of every good outcome.
3. **Marketing plan**: campaigns on a 12-month calendar with daily spend; always-on media
   follow the working week, events and webinars spend on their days.
4. **Lifecycles** (lifecycle.py): each contact arrives through a source (a campaign or an
   unpaid channel), may engage and may raise a hand. How often depends on the channel
   (referrals, events and webinars convert better than display or paid social), on fit and
   on the contact's engagement level. Hand-raises become handoffs routed to reps; reps
   accept or reject (paid social leads are more often a bad fit); accepted leads become
   deals that are won or lost; customers onboard, renew or churn, and buy again. About one
   account in eight was a customer before the year began, so renewals and churn show up.
5. **Everyday touches** (here, vectorised): page views, ad clicks, email opens and the like,
   as many as the size asks for, denser for engaged contacts and rising in the weeks before
   a hand-raise. They are placed so that they never move a stage: engaging kinds only after
   the contact first engaged, nothing before the first touch, never on a whole minute.
"""

from __future__ import annotations

import numpy as np
from numpy.random import PCG64, Generator

from onefunnel.domain.stages import Cause
from onefunnel.domain.touches import Channel
from onefunnel.services.demo import catalog
from onefunnel.services.demo.company import (
    ANCHOR,
    ANCHOR_TS,
    DAY,
    SIZES,
    WINDOW_START_TS,
    Plan,
    make_plan,
    make_prospects,
    make_staff,
)
from onefunnel.services.demo.lifecycle import Lifecycle, ProgressFn, simulate_lifecycle
from onefunnel.services.demo.rows import (
    CHANNELS,
    TOUCH_KINDS,
    Accounts,
    Contacts,
    DemoSize,
    Ints,
    SimulatedCompany,
    StageChanges,
    Touches,
    code,
)

__all__ = ["ANCHOR", "DemoSize", "SimulatedCompany", "simulate"]


def simulate(
    seed: int = 42, size: DemoSize = DemoSize.SMALL, progress: ProgressFn | None = None
) -> SimulatedCompany:
    """Generate a whole demo company for a seed and size (see the module docstring)."""
    rng = Generator(PCG64(seed))
    spec = SIZES[size]
    staff = make_staff(rng, spec)
    prospects = make_prospects(rng, spec)
    plan = make_plan(rng, spec)
    life = simulate_lifecycle(rng, staff, prospects, plan, progress)
    n_bulk = max(spec.touches - len(life.key_touches.contact), 0)
    bulk = _everyday_touches(rng, plan, life, n_bulk)
    touches, position = _merge(life.key_touches, bulk)
    if progress is not None:
        progress("touches", len(touches.contact), len(touches.contact))
    changes = _renumber_touch_causes(life.stage_changes, position)
    # Costs are left at zero here: the loader prices each handoff with the product's own
    # method (services.handoff_values.lead_cost) once the touches and spend are stored.
    handoffs = life.handoffs
    contact_created = life.contact_created
    account_created = np.full(len(prospects.accounts.name), ANCHOR_TS, dtype=np.int64)
    np.minimum.at(account_created, prospects.contacts.account, contact_created)
    np.minimum.at(account_created, life.deals.account, life.deals.created_at)
    a, c = prospects.accounts, prospects.contacts
    accounts = Accounts(
        name=a.name,
        domain=a.domain,
        industry=a.industry,
        employee_count=a.employee_count,
        employee_band=a.employee_band,
        country=a.country,
        region=a.region,
        owner=life.account_owner,
        created_at=account_created - DAY,
    )
    contacts = Contacts(
        first_name=c.first_name,
        last_name=c.last_name,
        email=c.email,
        title=c.title,
        seniority=c.seniority,
        country=c.country,
        account=c.account,
        owner=life.contact_owner,
        created_at=contact_created,
    )
    return SimulatedCompany(
        seed=seed,
        size=size,
        users=staff.users,
        accounts=accounts,
        contacts=contacts,
        campaigns=plan.campaigns,
        spend=plan.spend,
        sources=plan.sources,
        touches=touches,
        stage_changes=changes,
        handoffs=handoffs,
        deals=life.deals,
        contracts=life.contracts,
        activity=life.activity,
    )


def _everyday_touches(rng: Generator, plan: Plan, life: Lifecycle, n_target: int) -> Touches:
    """Draw ``n_target`` (in expectation) touches that never move a stage; see step 5."""
    lo = np.maximum(life.first_seen, WINDOW_START_TS)
    span = (ANCHOR_TS - lo).astype(np.float64)
    interested = life.interest_at >= 0
    rate = life.engagement * np.clip(span / (365 * DAY), 0, 1) ** 0.7
    rate = rate * np.where(interested, 1.8, 1.0) * (span > 300)
    rate *= n_target / max(rate.sum(), 1e-9)
    contact = np.repeat(np.arange(len(lo), dtype=np.int64), rng.poisson(rate))
    n = len(contact)
    lo_t, span_t = lo[contact], span[contact]
    interest_t = life.interest_at[contact]

    mode = rng.random(n)
    uniform = lo_t + rng.random(n) * span_t
    decaying = lo_t + rng.exponential(45 * DAY, n)
    before_interest = interest_t - rng.exponential(10 * DAY, n)
    at = np.where(mode < 0.4, decaying, uniform)
    at = np.where((interest_t >= 0) & (mode >= 0.4) & (mode < 0.75), before_interest, at)
    at = np.where((at < lo_t) | (at >= ANCHOR_TS), uniform, at)

    source = _everyday_sources(rng, plan, life, contact)
    day = (at // DAY).astype(np.int64)
    campaign_of = np.array([s.campaign for s in plan.sources], dtype=np.int64)
    campaign = campaign_of[source]
    running = campaign >= 0
    safe = np.where(running, campaign, 0)
    running &= (plan.campaigns.start_day[safe] <= day) & (day <= plan.campaigns.end_day[safe])
    organic = _source_of(plan, Channel.ORGANIC_SEARCH)
    source = np.where((campaign >= 0) & ~running, organic, source)
    # Events and webinars happen on their days: such touches move to the nearest session.
    for s, src in enumerate(plan.sources):
        sessions = plan.occurrence_days[src.campaign] if src.campaign >= 0 else None
        if sessions is None or not len(sessions):
            continue
        mask = np.flatnonzero(source == s)
        nearest = _nearest(sessions, day[mask])
        moved = nearest * DAY + rng.uniform(9, 17, len(mask)) * 3600
        fits = (moved >= lo_t[mask]) & (moved < ANCHOR_TS)
        at[mask] = np.where(fits, moved, at[mask])
        source[mask] = np.where(fits, s, organic)

    # Never on a whole minute, so never tied with a stage change (those are on the minute).
    seconds = (at // 60).astype(np.int64) * 60 + rng.integers(1, 60, n)
    kind = _kinds(rng, plan, source)
    engaged = life.engaged_at[contact]
    may_engage = (engaged >= 0) & (seconds > engaged)
    passive = np.arange(len(TOUCH_KINDS), dtype=np.int64)
    for active, quiet in catalog.PASSIVE_KIND.items():
        passive[code(active)] = code(quiet)
    kind = np.where(may_engage, kind, passive[kind])
    return Touches(
        contact=contact,
        kind=kind,
        source=source.astype(np.int64),
        actor=np.full(n, -1, dtype=np.int64),
        occurred_at=seconds,
    )


def _source_of(plan: Plan, channel: Channel) -> int:
    return next(i for i, s in enumerate(plan.sources) if s.channel is channel and s.campaign < 0)


def _everyday_sources(rng: Generator, plan: Plan, life: Lifecycle, contact: Ints) -> Ints:
    """Where everyday touches come from: mostly the contact's own source, then newsletters,
    search, direct visits and the rest of the paid plan."""
    n = len(contact)
    email = [
        i for i, s in enumerate(plan.sources) if s.channel is Channel.EMAIL and s.campaign >= 0
    ]
    organic = _source_of(plan, Channel.ORGANIC_SEARCH)
    direct = _source_of(plan, Channel.DIRECT)
    n_campaigns = len(plan.campaigns.name)
    budget = plan.campaigns.budget_cents.astype(np.float64)
    paid = rng.choice(n_campaigns, size=n, p=budget / budget.sum())
    newsletter = np.asarray(email or [organic], dtype=np.int64)[
        rng.integers(0, len(email or [organic]), n)
    ]
    r = rng.random(n)
    own = life.contact_source[contact]
    picked: Ints = np.select(
        [r < 0.45, r < 0.60, r < 0.78, r < 0.90],
        [own, newsletter, np.full(n, organic), np.full(n, direct)],
        default=paid,
    ).astype(np.int64)
    return picked


def _nearest(sessions: Ints, day: Ints) -> Ints:
    i = np.clip(np.searchsorted(sessions, day), 1, len(sessions) - 1) if len(sessions) > 1 else None
    if i is None:
        return np.full(len(day), sessions[0], dtype=np.int64)
    before, after = sessions[i - 1], sessions[i]
    return np.where(np.abs(day - before) <= np.abs(after - day), before, after).astype(np.int64)


def _kinds(rng: Generator, plan: Plan, source: Ints) -> Ints:
    """A touch kind per touch, typical of its source's channel."""
    kind = np.zeros(len(source), dtype=np.int64)
    u = rng.random(len(source))
    for s, src in enumerate(plan.sources):
        weights = catalog.CHANNEL_KINDS.get(src.channel)
        mask = np.flatnonzero(source == s)
        if weights is None or not len(mask):
            continue
        codes = np.array([code(k) for k in weights], dtype=np.int64)
        cdf = np.cumsum(list(weights.values()))
        pick = np.searchsorted(cdf / cdf[-1], u[mask], side="right")
        kind[mask] = codes[np.minimum(pick, len(codes) - 1)]
    return kind


def _merge(key: Touches, bulk: Touches) -> tuple[Touches, Ints]:
    """All touches in time order, and where each key touch ended up."""
    at = np.concatenate([key.occurred_at, bulk.occurred_at])
    contact = np.concatenate([key.contact, bulk.contact])
    order = np.lexsort((np.arange(len(at)), contact, at))
    position = np.empty(len(at), dtype=np.int64)
    position[order] = np.arange(len(at), dtype=np.int64)
    merged = Touches(
        contact=contact[order],
        kind=np.concatenate([key.kind, bulk.kind])[order],
        source=np.concatenate([key.source, bulk.source])[order],
        actor=np.concatenate([key.actor, bulk.actor])[order],
        occurred_at=at[order],
    )
    return merged, position[: len(key.occurred_at)]


def _renumber_touch_causes(changes: StageChanges, position: Ints) -> StageChanges:
    by_touch = np.isin(changes.cause, [code(Cause.TOUCH), code(Cause.RULE)]) & (
        changes.cause_ref >= 0
    )
    ref = changes.cause_ref.copy()
    ref[by_touch] = position[ref[by_touch]]
    return StageChanges(
        contact=changes.contact,
        account=changes.account,
        from_stage=changes.from_stage,
        to_stage=changes.to_stage,
        at=changes.at,
        cause=changes.cause,
        cause_ref=ref,
        reason=changes.reason,
    )


def channel_of(company: SimulatedCompany, touch_source: Ints) -> Ints:
    """The channel code of each touch, from its source (a convenience for reports and tests)."""
    channels = np.array([CHANNELS.index(s.channel) for s in company.sources], dtype=np.int64)
    result: Ints = channels[touch_source]
    return result
