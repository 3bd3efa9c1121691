"""The demo simulation: deterministic, legal histories, and a funnel that carries signal."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np
import pytest

from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.stages import (
    Cause,
    Stage,
    StageChange,
    StageReason,
    check_transition,
    current_stage,
)
from onefunnel.domain.touches import Channel, advance_for_touch, stage_implied_by
from onefunnel.services.demo.journeys import DemoSize, SimulatedCompany, channel_of, simulate
from onefunnel.services.demo.rows import (
    CAUSES,
    CHANNELS,
    HANDOFF_STATUSES,
    REASONS,
    STAGES,
    TOUCH_KINDS,
    code,
)


@pytest.fixture(scope="module")
def small() -> SimulatedCompany:
    return simulate(7, DemoSize.SMALL)


@pytest.fixture(scope="module")
def medium() -> SimulatedCompany:
    return simulate(11, DemoSize.MEDIUM)


def _columns(company: SimulatedCompany) -> dict[str, object]:
    out: dict[str, object] = {}
    for table in dataclasses.fields(company):
        value = getattr(company, table.name)
        if dataclasses.is_dataclass(value):
            for col in dataclasses.fields(value):
                out[f"{table.name}.{col.name}"] = getattr(value, col.name)
        else:
            out[table.name] = value
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


def test_same_seed_gives_identical_company(small: SimulatedCompany) -> None:
    again = simulate(7, DemoSize.SMALL)
    first, second = _columns(small), _columns(again)
    assert first.keys() == second.keys()
    different = [name for name in first if not _same(first[name], second[name])]
    assert different == []


def test_different_seed_gives_different_company(small: SimulatedCompany) -> None:
    other = simulate(8, DemoSize.SMALL)
    assert small.contacts.email != other.contacts.email
    assert not np.array_equal(small.touches.occurred_at[:1000], other.touches.occurred_at[:1000])


def _histories(company: SimulatedCompany) -> dict[tuple[str, int], list[StageChange]]:
    s = company.stage_changes
    histories: dict[tuple[str, int], list[StageChange]] = defaultdict(list)
    for i in range(len(s.at)):
        key = (
            ("contact", int(s.contact[i])) if s.contact[i] >= 0 else ("account", int(s.account[i]))
        )
        histories[key].append(
            StageChange(
                at=int(s.at[i]),  # type: ignore[arg-type]  # seconds stand in for datetimes
                from_stage=STAGES[s.from_stage[i]] if s.from_stage[i] >= 0 else None,
                to_stage=STAGES[s.to_stage[i]],
                cause=CAUSES[s.cause[i]],
                reason=REASONS[s.reason[i]] if s.reason[i] >= 0 else None,
            )
        )
    return histories


def test_every_history_replays_legally(small: SimulatedCompany) -> None:
    histories = _histories(small)
    assert sum(1 for kind, _ in histories if kind == "contact") == len(small.contacts.email)
    for key, history in histories.items():
        assert current_stage(history) is history[-1].to_stage, key
        for change in history:
            check_transition(
                change.from_stage, change.to_stage, reason=change.reason, cause=change.cause
            )
        times = [change.at for change in history]
        assert times == sorted(times), key


def test_touches_move_stages_exactly_as_the_domain_rules_say(small: SimulatedCompany) -> None:
    """Replaying each contact's touches through advance_for_touch reproduces its touch moves."""
    s, t = small.stage_changes, small.touches
    by_touch = {int(s.cause_ref[i]): i for i in np.flatnonzero(s.cause == code(Cause.TOUCH))}
    changes_of: dict[int, list[int]] = defaultdict(list)
    for i in np.flatnonzero(s.contact >= 0):
        changes_of[int(s.contact[i])].append(int(i))
    checked = 0
    for n in range(len(t.contact)):
        contact, at = int(t.contact[n]), int(t.occurred_at[n])
        implied = stage_implied_by(TOUCH_KINDS[t.kind[n]], known=True)
        if n in by_touch:
            change = by_touch[n]
            assert s.contact[change] == contact
            assert s.at[change] == at
            before = STAGES[s.from_stage[change]] if s.from_stage[change] >= 0 else None
            assert advance_for_touch(before, implied) is STAGES[s.to_stage[change]]
        else:
            earlier = [i for i in changes_of[contact] if s.at[i] < at]
            before = STAGES[s.to_stage[earlier[-1]]] if earlier else None
            assert advance_for_touch(before, implied) is None, (n, before, implied)
        checked += 1
    assert checked == len(t.contact)


def test_small_counts_are_in_range(small: SimulatedCompany) -> None:
    assert len(small.accounts.name) == 200
    assert len(small.contacts.email) == 1_000
    assert 8 <= len(small.campaigns.name) <= 12
    assert 27_000 <= len(small.touches.contact) <= 33_000
    assert len(set(small.contacts.email)) == 1_000
    assert len(set(small.accounts.domain)) == 200
    statuses = {HANDOFF_STATUSES[x] for x in small.handoffs.status}
    assert {HandoffStatus.ACCEPTED, HandoffStatus.REJECTED} <= statuses


def test_medium_counts_are_in_range(medium: SimulatedCompany) -> None:
    assert len(medium.accounts.name) == 2_000
    assert len(medium.contacts.email) == 10_000
    assert len(medium.campaigns.name) == 12
    assert 280_000 <= len(medium.touches.contact) <= 320_000
    assert np.all(np.diff(medium.touches.occurred_at) >= 0)


def _first_channel(company: SimulatedCompany) -> np.ndarray:
    t = company.touches
    first = np.full(len(company.contacts.email), -1, dtype=np.int64)
    # touches are in time order: the first one seen per contact is the first touch
    positions = np.unique(t.contact, return_index=True)[1]
    first[t.contact[positions]] = channel_of(company, t.source)[positions]
    return first


def test_channels_convert_in_the_intended_direction(medium: SimulatedCompany) -> None:
    first = _first_channel(medium)
    h = medium.handoffs
    handed = np.zeros(len(first), dtype=bool)
    handed[h.contact] = True

    def rate(*channels: Channel) -> float:
        mask = np.isin(first, [CHANNELS.index(c) for c in channels])
        return float(handed[mask].mean())

    strong = rate(Channel.REFERRAL, Channel.EVENTS, Channel.WEBINAR)
    weak = rate(Channel.DISPLAY, Channel.PAID_SOCIAL)
    assert strong > 2 * weak

    decided = np.isin(h.status, [code(HandoffStatus.ACCEPTED), code(HandoffStatus.REJECTED)])
    lead_channel = first[h.contact]
    paid_social = decided & (lead_channel == CHANNELS.index(Channel.PAID_SOCIAL))
    warm = decided & np.isin(
        lead_channel, [CHANNELS.index(c) for c in (Channel.REFERRAL, Channel.EVENTS)]
    )
    accepted = h.status == code(HandoffStatus.ACCEPTED)
    assert accepted[paid_social].mean() < accepted[warm].mean()
    bad_fit = h.reason == code(StageReason.BAD_FIT)
    rejected = h.status == code(HandoffStatus.REJECTED)
    assert bad_fit[paid_social & rejected].mean() > bad_fit[warm & rejected].mean()


def test_senior_titles_convert_more_often(medium: SimulatedCompany) -> None:
    handed = np.zeros(len(medium.contacts.email), dtype=bool)
    handed[medium.handoffs.contact] = True
    seniority = np.array(medium.contacts.seniority)
    senior = handed[np.isin(seniority, ["c_level", "vp", "director"])].mean()
    junior = handed[np.isin(seniority, ["individual", "other"])].mean()
    assert senior > 1.5 * junior


def test_reps_differ_in_sla_compliance(medium: SimulatedCompany) -> None:
    h = medium.handoffs
    answered = h.first_response_at >= 0
    compliance = [
        (h.first_response_at[m] <= h.sla_due_at[m]).mean()
        for rep in np.unique(h.owner)
        if (m := answered & (h.owner == rep)).sum() >= 20
    ]
    assert max(compliance) - min(compliance) > 0.15


def test_customers_renew_churn_and_expand(medium: SimulatedCompany) -> None:
    final = {}
    s = medium.stage_changes
    for i in np.flatnonzero(s.account >= 0):
        final[int(s.account[i])] = STAGES[s.to_stage[i]]
    stages = set(final.values())
    assert {Stage.RETAIN, Stage.GROW, Stage.CHURNED} <= stages
