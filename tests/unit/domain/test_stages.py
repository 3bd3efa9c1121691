"""The funnel's transition rules, every pair, and the replay of histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.stages import (
    ALL_STATES,
    Cause,
    CorruptHistoryError,
    IllegalTransitionError,
    Stage,
    StageChange,
    StageReason,
    Team,
    check_transition,
    current_stage,
    effective_time,
    funnel_position,
    is_legal,
)

A, C, IN, V, R, G = "awareness", "consideration", "intent", "conversion", "retain", "grow"
N, D, X = "nurture", "disqualified", "churned"

# Written out by hand from DESIGN.md §2, not derived from the code under test: for each current
# state (None = new subject), the targets an automatic cause may move to.
LEGAL: dict[str | None, set[str]] = {
    None: {A, C, IN, V, R, G, D},
    A: {C, IN, V, R, G, N, D},
    C: {IN, V, R, G, N, D},
    IN: {V, R, G, N, D},
    V: {R, G, X},
    R: {G, X},
    G: {X},
    N: {C, IN, V, R, G, D},
    D: set(),
    X: {V, R, G},
}
NEEDS_REASON = {N, D}


def _reason_for(target: str) -> StageReason | None:
    return StageReason.NOT_NOW if target in NEEDS_REASON else None


@pytest.mark.parametrize(
    ("current", "target"),
    [(cur, tgt.value) for cur in LEGAL for tgt in ALL_STATES],
)
def test_every_transition_follows_the_table(current: str | None, target: str) -> None:
    cur = Stage(current) if current else None
    tgt = Stage(target)
    legal = target in LEGAL[current]
    assert is_legal(cur, tgt, reason=_reason_for(target)) is legal
    if not legal:
        with pytest.raises(IllegalTransitionError, match=target):
            check_transition(cur, tgt, reason=_reason_for(target))


@pytest.mark.parametrize("target", [N, D])
def test_side_states_need_a_reason(target: str) -> None:
    with pytest.raises(IllegalTransitionError, match="needs a reason"):
        check_transition(Stage.INTENT, Stage(target))


def test_a_reason_is_refused_where_it_means_nothing() -> None:
    with pytest.raises(IllegalTransitionError, match="only given for nurture"):
        check_transition(Stage.INTENT, Stage.CONVERSION, reason=StageReason.BAD_FIT)


@pytest.mark.parametrize("target", [A, C, IN])
def test_a_user_may_requalify_a_disqualified_contact(target: str) -> None:
    check_transition(Stage.DISQUALIFIED, Stage(target), cause=Cause.USER)
    assert not is_legal(Stage.DISQUALIFIED, Stage(target), cause=Cause.TOUCH)


def test_a_user_cannot_requalify_straight_into_a_customer() -> None:
    assert not is_legal(Stage.DISQUALIFIED, Stage.CONVERSION, cause=Cause.USER)


def test_error_message_names_both_states_and_the_rule() -> None:
    with pytest.raises(IllegalTransitionError) as info:
        check_transition(Stage.CONVERSION, Stage.AWARENESS)
    assert str(info.value) == (
        "illegal stage change conversion → awareness: backward moves go only to nurture or churned"
    )
    assert info.value.current is Stage.CONVERSION


def test_stage_properties() -> None:
    assert [funnel_position(s) for s in ALL_STATES[:6]] == [1, 2, 3, 4, 5, 6]
    assert Stage.NURTURE.rank is None
    with pytest.raises(ValueError, match="side state"):
        funnel_position(Stage.CHURNED)
    assert Stage.INTENT.owner is Team.SALES
    assert Stage.RETAIN.owner is Team.ACCOUNT_MANAGEMENT
    assert Stage.NURTURE.owner is Team.MARKETING
    assert Stage.GROW.is_customer
    assert not Stage.INTENT.is_customer


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _change(i: int, frm: Stage | None, to: Stage) -> StageChange:
    return StageChange(at=T0 + timedelta(days=i), from_stage=frm, to_stage=to, cause=Cause.TOUCH)


def test_current_stage_replays_the_last_move() -> None:
    history = [
        _change(0, None, Stage.AWARENESS),
        _change(1, Stage.AWARENESS, Stage.INTENT),
        _change(2, Stage.INTENT, Stage.CONVERSION),
    ]
    assert current_stage(history) is Stage.CONVERSION
    assert current_stage([]) is None


def test_a_broken_chain_is_reported_with_its_position() -> None:
    history = [_change(0, None, Stage.AWARENESS), _change(1, Stage.INTENT, Stage.CONVERSION)]
    with pytest.raises(CorruptHistoryError, match=r"history\[1\]: starts from intent"):
        current_stage(history)


def test_effective_time_never_goes_back() -> None:
    history = [_change(5, None, Stage.AWARENESS)]
    assert effective_time(T0, history) == T0 + timedelta(days=5)
    assert effective_time(T0 + timedelta(days=9), history) == T0 + timedelta(days=9)
    assert effective_time(T0, []) == T0


@given(
    st.lists(
        st.tuples(st.sampled_from(ALL_STATES), st.sampled_from(list(Cause)), st.integers(0, 30)),
        max_size=40,
    )
)
def test_any_sequence_of_legal_events_replays_to_the_cached_stage(
    attempts: list[tuple[Stage, Cause, int]],
) -> None:
    """Apply attempted moves as a service would; the cache always equals the history's replay."""
    cached: Stage | None = None
    history: list[StageChange] = []
    clock = T0
    for target, cause, minutes in attempts:
        reason = StageReason.OTHER if target in (Stage.NURTURE, Stage.DISQUALIFIED) else None
        clock += timedelta(minutes=minutes)
        if not is_legal(cached, target, reason=reason, cause=cause):
            with pytest.raises(IllegalTransitionError):
                check_transition(cached, target, reason=reason, cause=cause)
            continue
        at = effective_time(clock, history)
        history.append(StageChange(at, cached, target, cause, reason))
        cached = target
        assert current_stage(history) is cached
    assert all(a.at <= b.at for a, b in pairwise(history))
    assert all(a.to_stage != b.to_stage for a, b in pairwise(history))
