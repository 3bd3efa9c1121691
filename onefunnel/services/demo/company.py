"""Who the demo company sells to and what it spends: staff, accounts, contacts, campaigns.

Pure: numpy and the catalogue only. Every draw comes from the generator handed in, in a fixed
order, so one seed always gives the same company.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from onefunnel.domain.stages import Team
from onefunnel.domain.touches import Channel
from onefunnel.services.demo import catalog
from onefunnel.services.demo.rows import (
    CHANNELS,
    Accounts,
    Campaigns,
    Contacts,
    DemoSize,
    Floats,
    Ints,
    Source,
    Spend,
    Users,
    code,
)


def _anchor() -> datetime:
    """The day the simulated year ends: the day the demo is loaded (so "the last 30 days",
    health, renewals due and this month's numbers have data in them, as a live system's do),
    or ``ONEFUNNEL_DEMO_ANCHOR`` (YYYY-MM-DD) to reproduce a run exactly. The history ends at
    midnight UTC of the day ten hours ago, so that the demo requests of "today" (up to nine
    hours back on the large demo) always come after it, whatever hour the demo is loaded."""
    fixed = os.environ.get("ONEFUNNEL_DEMO_ANCHOR", "").strip()
    if fixed:
        try:
            day = date.fromisoformat(fixed)
        except ValueError:
            raise ValueError(f"ONEFUNNEL_DEMO_ANCHOR: not a day (YYYY-MM-DD): {fixed!r}") from None
    else:
        day = (datetime.now(UTC) - timedelta(hours=10)).date()
    return datetime.combine(day, time(), UTC)


#: The simulated year ends here. The same seed gives the same company, moved in time to end
#: on the anchor day.
ANCHOR = _anchor()
ANCHOR_TS = int(ANCHOR.timestamp())
DAY = 86_400
#: The window touches and campaigns live in: the 365 days before the anchor.
WINDOW_START_TS = ANCHOR_TS - 365 * DAY
WINDOW_START_DAY = WINDOW_START_TS // DAY
STAFF_DOMAIN = "onefunnel-demo.example"


@dataclass(frozen=True, slots=True)
class SizeSpec:
    """The volumes of one demo size."""

    accounts: int
    contacts: int
    campaigns: int
    touches: int
    sales_reps: int
    marketers: int
    account_managers: int
    #: Marketing budgets scale with the size of the market worked (1 = the catalogue's plan).
    budget_scale: float


SIZES: dict[DemoSize, SizeSpec] = {
    DemoSize.SMALL: SizeSpec(200, 1_000, 10, 30_000, 4, 2, 2, 0.1),
    DemoSize.MEDIUM: SizeSpec(2_000, 10_000, 12, 300_000, 8, 3, 4, 1.0),
    DemoSize.LARGE: SizeSpec(10_000, 50_000, 16, 1_550_000, 16, 4, 8, 5.0),
}


@dataclass(frozen=True, slots=True)
class Staff:
    """The users plus the traits that make reps differ (hidden from the stored data)."""

    users: Users
    region: list[str]
    response_hours: Floats
    accept_bias: Floats
    skill: Floats


@dataclass(frozen=True, slots=True)
class Prospects:
    """Accounts and contacts plus their hidden traits: fit and expected contract value."""

    accounts: Accounts
    contacts: Contacts
    account_fit: Floats
    contact_fit: Floats
    acv_cents: Ints


@dataclass(frozen=True, slots=True)
class Plan:
    """The marketing plan: campaigns, their daily spend, the touch sources and session days."""

    campaigns: Campaigns
    spend: Spend
    sources: tuple[Source, ...]
    acquisition_weight: Floats
    occurrence_days: tuple[Ints, ...]


def _ascii(text: str) -> str:
    folded = text.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae")
    return unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()


def _pick(rng: np.random.Generator, weights: list[float], n: int) -> Ints:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int64)


def make_staff(rng: np.random.Generator, spec: SizeSpec) -> Staff:
    """Sales reps spread over the regions, marketers and account managers.

    Reps differ on purpose: how fast they answer a handoff (median working hours), how
    willing they are to accept, and how well they close, so scorecards have something to show.
    """
    rows: list[tuple[str, Team]] = []
    counts = {
        Team.SALES: spec.sales_reps,
        Team.MARKETING: spec.marketers,
        Team.ACCOUNT_MANAGEMENT: spec.account_managers,
    }
    for team, count in counts.items():
        rows += [(name, team) for name in catalog.STAFF[team.value][:count]]
    # Territories in proportion to where the accounts are: North America and EMEA first.
    cycle = ("North America", "EMEA", "APAC", "North America", "EMEA", "LATAM")
    region = [cycle[i % len(cycle)] for i, _ in enumerate(rows)]
    n = len(rows)
    firsts = [name.split(" ", 1)[0] for name, _ in rows]
    lasts = [name.split(" ", 1)[1] for name, _ in rows]
    usernames = [f"{_ascii(name).lower().replace(' ', '.')}" for name, _ in rows]
    users = Users(
        username=usernames,
        first_name=firsts,
        last_name=lasts,
        email=[f"{u}@{STAFF_DOMAIN}" for u in usernames],
        team=np.array([code(team) for _, team in rows], dtype=np.int64),
    )
    return Staff(
        users=users,
        region=region,
        response_hours=np.exp(rng.normal(np.log(2.0), 0.7, n)),
        accept_bias=rng.normal(0.0, 0.6, n),
        skill=rng.normal(0.0, 0.35, n),
    )


def make_prospects(rng: np.random.Generator, spec: SizeSpec) -> Prospects:
    """Accounts with firmographics and contacts with titles, each contact at one account."""
    n_a, n_c = spec.accounts, spec.contacts
    industry = _pick(rng, [w for _, w, _ in catalog.INDUSTRIES], n_a)
    band = _pick(rng, [b[3] for b in catalog.EMPLOYEE_BANDS], n_a)
    country = _pick(rng, [c[1] for c in catalog.COUNTRIES], n_a)
    lows = np.log([b[1] for b in catalog.EMPLOYEE_BANDS])[band]
    highs = np.log([b[2] for b in catalog.EMPLOYEE_BANDS])[band]
    employees = np.exp(rng.uniform(lows, highs)).astype(np.int64)
    account_fit = (
        np.array([i[2] for i in catalog.INDUSTRIES])[industry]
        + np.array([b[4] for b in catalog.EMPLOYEE_BANDS])[band]
        + np.array([c[2] for c in catalog.COUNTRIES])[country]
    )
    acv = np.array([b[5] for b in catalog.EMPLOYEE_BANDS], dtype=np.float64)[band]
    acv_cents = (acv * np.exp(rng.normal(0.0, 0.35, n_a)) * 100).round(-2).astype(np.int64)
    prefix = rng.integers(0, len(catalog.COMPANY_PREFIXES), n_a)
    suffix_draw = rng.random(n_a)

    names: list[str] = []
    domains: list[str] = []
    seen: dict[str, int] = {}
    for i in range(n_a):
        ind = catalog.INDUSTRIES[industry[i]][0]
        suffixes = catalog.COMPANY_SUFFIXES[ind]
        base = (
            f"{catalog.COMPANY_PREFIXES[prefix[i]]} {suffixes[int(suffix_draw[i] * len(suffixes))]}"
        )
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{base} {seen[base]}"
        names.append(name)
        domains.append(f"{_ascii(name).lower().replace(' ', '-')}.example")

    # Every account has someone; bigger companies have more people in the database.
    weights = employees.astype(np.float64) ** 0.35
    extra = rng.choice(n_a, size=n_c - n_a, p=weights / weights.sum())
    contact_account = np.concatenate([rng.permutation(n_a), extra]).astype(np.int64)
    seniority = _pick(rng, [s[1] for s in catalog.SENIORITIES], n_c)
    title_draw = rng.random(n_c)
    first = rng.integers(0, len(catalog.FIRST_NAMES), n_c)
    last = rng.integers(0, len(catalog.LAST_NAMES), n_c)
    abroad = rng.random(n_c) < 0.08
    other_country = _pick(rng, [c[1] for c in catalog.COUNTRIES], n_c)
    contact_fit = (
        account_fit[contact_account]
        + np.array([s[2] for s in catalog.SENIORITIES])[seniority]
        + rng.normal(0.0, 0.5, n_c)
    )
    emails: list[str] = []
    titles: list[str] = []
    taken: set[str] = set()
    for j in range(n_c):
        local = _ascii(f"{catalog.FIRST_NAMES[first[j]]}.{catalog.LAST_NAMES[last[j]]}").lower()
        email = f"{local}@{domains[contact_account[j]]}"
        k = 2
        while email in taken:
            email = f"{local}{k}@{domains[contact_account[j]]}"
            k += 1
        taken.add(email)
        emails.append(email)
        options = catalog.SENIORITIES[seniority[j]][3]
        titles.append(options[int(title_draw[j] * len(options))])
    account_country = [catalog.COUNTRIES[c][0] for c in country]
    contact_country = np.where(abroad, other_country, country[contact_account])
    accounts = Accounts(
        name=names,
        domain=domains,
        industry=[catalog.INDUSTRIES[i][0] for i in industry],
        employee_count=employees,
        employee_band=[catalog.EMPLOYEE_BANDS[b][0] for b in band],
        country=account_country,
        region=[catalog.COUNTRIES[c][3] for c in country],
        owner=np.full(n_a, -1, dtype=np.int64),
        created_at=np.zeros(n_a, dtype=np.int64),
    )
    contacts = Contacts(
        first_name=[catalog.FIRST_NAMES[i] for i in first],
        last_name=[catalog.LAST_NAMES[i] for i in last],
        email=emails,
        title=titles,
        seniority=[catalog.SENIORITIES[s][0] for s in seniority],
        country=[catalog.COUNTRIES[c][0] for c in contact_country],
        account=contact_account,
        owner=np.full(n_c, -1, dtype=np.int64),
        created_at=np.zeros(n_c, dtype=np.int64),
    )
    return Prospects(accounts, contacts, account_fit, contact_fit, acv_cents)


def _daily_weights(
    rng: np.random.Generator, template: catalog.CampaignTemplate, days: Ints, sessions: Ints
) -> Floats:
    """How a campaign's budget falls on its days: always-on media follow the working week;
    events and webinars pay most on the day itself, after a promotion ramp."""
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    weekend = weekday >= 5
    if template.channel in (Channel.EMAIL, Channel.REFERRAL, Channel.PARTNER):
        base = np.ones(len(days))
    else:
        base = np.where(weekend, 0.55, 1.0)
    weights = base * np.exp(rng.normal(0.0, 0.2, len(days)))
    if len(sessions):
        weights *= 0.3
        for day in sessions:
            ramp = (days <= day) & (days > day - 21)
            weights[ramp] += 1.5
            weights[days == day] += 0.6 * len(days) / len(sessions)
    return weights


def make_plan(rng: np.random.Generator, spec: SizeSpec) -> Plan:
    """The first ``spec.campaigns`` campaigns of the catalogue, their spend, and the sources.

    Sources are every campaign, then the unpaid channels (organic, direct, social, review
    sites), then sales outreach for one-to-one touches.
    """
    templates = catalog.CAMPAIGNS[: spec.campaigns]
    last_day = ANCHOR_TS // DAY - 1
    starts, ends, occurrence_days = [], [], []
    spend_campaign: list[Ints] = []
    spend_day: list[Ints] = []
    spend_cents: list[Ints] = []
    for i, t in enumerate(templates):
        start = WINDOW_START_DAY + t.start_day
        end = min(start + t.days - 1, last_day)
        starts.append(start)
        ends.append(end)
        step = (end - start + 1) / max(t.occurrences, 1)
        sessions = np.array(
            [start + int(step * (k + 0.5)) for k in range(t.occurrences)], dtype=np.int64
        )
        occurrence_days.append(sessions)
        days = np.arange(start, end + 1, dtype=np.int64)
        weights = _daily_weights(rng, t, days, sessions)
        # Actual spend lands near, not on, the budget: campaigns under- and overspend.
        actual = t.budget * spec.budget_scale * 100 * rng.uniform(0.88, 1.04)
        cents = np.floor(weights / weights.sum() * actual).astype(np.int64)
        keep = cents > 0
        spend_campaign.append(np.full(int(keep.sum()), i, dtype=np.int64))
        spend_day.append(days[keep])
        spend_cents.append(cents[keep])
    campaigns = Campaigns(
        name=[t.name for t in templates],
        utm_campaign=[t.utm_campaign for t in templates],
        utm_source=[t.utm_source for t in templates],
        utm_medium=[t.utm_medium for t in templates],
        channel=np.array([CHANNELS.index(t.channel) for t in templates], dtype=np.int64),
        start_day=np.array(starts, dtype=np.int64),
        end_day=np.array(ends, dtype=np.int64),
        budget_cents=np.array(
            [round(t.budget * spec.budget_scale) * 100 for t in templates], dtype=np.int64
        ),
    )
    spend = Spend(
        campaign=np.concatenate(spend_campaign),
        day=np.concatenate(spend_day),
        amount_cents=np.concatenate(spend_cents),
    )
    sources = [
        Source(t.channel, i, t.utm_source, t.utm_medium, t.utm_campaign)
        for i, t in enumerate(templates)
    ]
    sources += [Source(ch, -1, src, med, "") for ch, src, med, _ in catalog.UNPAID_SOURCES]
    sources.append(Source(Channel.SALES_OUTREACH, -1, "", "", ""))
    reach = np.array([t.budget * t.reach for t in templates], dtype=np.float64)
    unpaid = np.array([w for *_, w in catalog.UNPAID_SOURCES])
    paid_share = 1.0 - unpaid.sum()
    weight = np.concatenate([reach / reach.sum() * paid_share, unpaid, [0.0]])
    return Plan(campaigns, spend, tuple(sources), weight, tuple(occurrence_days))
