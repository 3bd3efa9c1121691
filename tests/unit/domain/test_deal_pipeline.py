"""Pure deal rules: lost reasons, amounts, pipeline moves, history replay, win rate per stage."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.deals import (
    DealError,
    DealInputError,
    DealKind,
    DealState,
    DealStatus,
    HistoryEntry,
    HistoryField,
    LostReason,
    StageInfo,
    changes,
    check_amount,
    check_close,
    check_move,
    closing_stage,
    kind_at_account,
    parse_lost_reason,
    replay,
    win_rate_by_stage,
)

DISCOVERY = StageInfo(1, 1, "Discovery", 10, 10)
DEMO = StageInfo(2, 1, "Demo", 20, 25)
WON = StageInfo(3, 1, "Won", 90, 100, is_won=True)
LOST = StageInfo(4, 1, "Lost", 100, 0, is_lost=True)
OTHER_PIPELINE = StageInfo(5, 2, "Notice", 10, 50)


def test_lost_reasons_and_other_needs_a_note() -> None:
    assert parse_lost_reason("Price") is LostReason.PRICE
    assert parse_lost_reason("no decision") is LostReason.NO_DECISION
    assert parse_lost_reason("other", "in-house") is LostReason.OTHER
    assert parse_lost_reason("product_fit") is LostReason.PRODUCT_FIT  # older data stays valid
    for bad, note, field in [(None, "", "reason"), ("  ", "", "reason"), ("bored", "", "reason"),
                             ("other", " ", "note")]:  # fmt: skip
        with pytest.raises(DealInputError, match=f"^{field}: "):
            parse_lost_reason(bad, note)
    with pytest.raises(DealError, match="note"):
        check_close(DealStatus.OPEN, won=False, lost_reason=LostReason.OTHER)
    check_close(DealStatus.OPEN, won=False, lost_reason=LostReason.OTHER, note="why")


@pytest.mark.parametrize("value", ["-0.01", "1e30", "abc", "NaN", "inf", "", None, [1]])
def test_bad_amounts_are_refused(value: object) -> None:
    with pytest.raises(DealInputError, match=r"^amount: "):
        check_amount(value)


def test_amounts_are_rounded_to_the_cent() -> None:
    assert check_amount("10.005") == Decimal("10.00")  # banker's rounding, as Decimal does
    assert check_amount(12) == Decimal("12.00")
    assert check_amount("99999999999999.99") == Decimal("99999999999999.99")


def test_moves_stay_in_the_deals_pipeline_and_among_open_stages() -> None:
    check_move(DealStatus.OPEN, DISCOVERY, DEMO)
    with pytest.raises(DealError, match="another pipeline"):
        check_move(DealStatus.OPEN, DISCOVERY, OTHER_PIPELINE)
    with pytest.raises(DealError, match="win it instead"):
        check_move(DealStatus.OPEN, DISCOVERY, WON)
    with pytest.raises(DealError, match="lose it instead"):
        check_move(DealStatus.OPEN, DISCOVERY, LOST)
    with pytest.raises(DealError, match="already in"):
        check_move(DealStatus.OPEN, DEMO, DEMO)
    with pytest.raises(DealError, match="only an open deal moves"):
        check_move(DealStatus.WON, WON, DEMO)
    assert closing_stage([DISCOVERY, LOST, WON], won=True) == WON
    assert closing_stage([DISCOVERY, LOST, WON], won=False) == LOST
    assert closing_stage([DISCOVERY], won=True) is None


def test_an_accepted_handoff_at_a_customer_is_an_upsell_or_cross_sell() -> None:
    assert kind_at_account(customer=False, other_product=True) is DealKind.NEW_BUSINESS
    assert kind_at_account(customer=True, other_product=False) is DealKind.UPSELL
    assert kind_at_account(customer=True, other_product=True) is DealKind.CROSS_SELL


_states = st.builds(
    DealState.of,
    stage_id=st.integers(1, 5),
    amount=st.decimals(0, 10**6, places=2),
    expected_close=st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2027, 1, 1))),
    owner_id=st.one_of(st.none(), st.integers(1, 3)),
)


@given(st.lists(_states, min_size=1, max_size=10))
def test_replaying_the_changes_of_any_sequence_of_states_gives_the_last(
    states: list[DealState],
) -> None:
    history: list[HistoryEntry] = []
    before = None
    for state in states:
        history += changes(before, state)
        before = state
    assert replay(history) == states[-1]


def test_a_history_that_does_not_chain_is_refused() -> None:
    with pytest.raises(DealError, match=r"history\[1\]: amount starts from '5'"):
        replay(
            [
                HistoryEntry(HistoryField.AMOUNT, "", "10"),
                HistoryEntry(HistoryField.AMOUNT, "5", "7"),
            ]
        )


def test_win_rate_per_stage_counts_closed_deals_that_reached_it() -> None:
    rates = win_rate_by_stage([([1, 2, 2], True), ([1], False), ([1, 2], False)], [1, 2, 3])
    assert [(r.reached, r.won, r.rate) for r in rates] == [(3, 1, 1 / 3), (2, 1, 0.5), (0, 0, None)]
