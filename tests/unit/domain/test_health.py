"""Health: explained, bounded, monotone in its signals; expansion suggestions with evidence."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.contracts import PaymentStatus
from onefunnel.domain.health import (
    ExpansionFacts,
    ExpansionSignal,
    HealthConfig,
    HealthConfigError,
    HealthSignals,
    auc,
    expansion_suggestions,
    health_score,
    parse_health_config,
    value_at_risk,
)


def signals(**kw: object) -> HealthSignals:
    values: dict[str, object] = {
        "engagement_30": {"account_management": 2},
        "engagement_90": {"account_management": 5},
        "usage_30": 30,
        "usage_90": 90,
        "support_tickets_90": 0,
        "days_to_renewal": 200,
        "renewal_deal_probability": None,
        "renewal_deal_stage": None,
    }
    values.update(kw)
    return HealthSignals(**values)  # type: ignore[arg-type]


counts = st.integers(0, 10_000)


@given(
    st.dictionaries(st.sampled_from(["marketing", "sales", "account_management"]), counts),
    st.dictionaries(st.sampled_from(["marketing", "sales", "account_management"]), counts),
    counts,
    counts,
    counts,
    st.none() | st.integers(-1000, 5000),
    st.none() | st.integers(0, 100),
    st.sampled_from(list(PaymentStatus)),
)
def test_score_is_within_0_and_100_and_its_lines_sum_to_it(
    e30: dict[str, int],
    e90: dict[str, int],
    u30: int,
    u90: int,
    tickets: int,
    days: int | None,
    probability: int | None,
    payment: PaymentStatus,
) -> None:
    health = health_score(
        signals(
            engagement_30=e30,
            engagement_90=e90,
            usage_30=u30,
            usage_90=u90,
            support_tickets_90=tickets,
            days_to_renewal=days,
            renewal_deal_probability=probability,
            renewal_deal_stage="Negotiation" if probability is not None else None,
            payment_status=payment,
        )
    )
    assert Decimal(0) <= health.score <= Decimal(100)
    assert sum(line.points for line in health.lines) == health.score
    assert 0.0 <= health.risk <= 1.0


def test_each_signal_is_a_line_with_a_reason() -> None:
    health = health_score(
        signals(support_tickets_90=2, payment_status=PaymentStatus.LATE, days_to_renewal=30)
    )
    reasons = {line.signal: line.reason for line in health.lines}
    assert reasons["support"] == "2 support tickets in 90 days"
    assert reasons["payment"] == "payment late"
    assert reasons["renewal"] == "renewal in 30 days with no open renewal deal"
    assert "with account management in 30 days" in reasons["engagement"]
    by_signal = {line.signal: line.points for line in health.lines}
    assert by_signal["support"] == Decimal("-8.0")
    assert by_signal["payment"] == Decimal("-10.0")


@pytest.mark.parametrize(
    ("worse", "better"),
    [
        ({"support_tickets_90": 3}, {"support_tickets_90": 0}),
        ({"usage_30": 0}, {"usage_30": 30}),
        ({"engagement_30": {}}, {"engagement_30": {"sales": 3}}),
        ({"payment_status": PaymentStatus.FAILED}, {"payment_status": PaymentStatus.CURRENT}),
        ({"renewal_deal_probability": 20}, {"renewal_deal_probability": 80}),
    ],
)
def test_a_worse_signal_never_scores_higher(
    worse: dict[str, object], better: dict[str, object]
) -> None:
    assert health_score(signals(**worse)).score < health_score(signals(**better)).score


def test_value_at_risk_is_annual_value_times_risk() -> None:
    health = health_score(signals(usage_30=0, engagement_30={}, support_tickets_90=5))
    expected = (Decimal(12000) * (100 - health.score) / 100).quantize(Decimal("0.01"))
    assert value_at_risk(Decimal(12000), health) == expected


def test_config_round_trips_and_names_bad_fields() -> None:
    default = HealthConfig()
    assert parse_health_config(default.as_dict()) == default
    assert parse_health_config({"usage_events": ["Seat Added"]}).usage_events == ("Seat Added",)
    for bad, field in [
        ({"usage_events": "Login"}, "usage_events"),
        ({"base": "high"}, "base"),
        ({"usage_scale": 0}, "usage_scale"),
        ({"payment_points": {"overdue": -5}}, "payment_points.overdue"),
        ({"nonsense": 1}, "nonsense"),
        ([], "config"),
    ]:
        with pytest.raises(HealthConfigError, match=rf"^{field}: "):
            parse_health_config(bad)


def test_auc_is_the_mann_whitney_probability() -> None:
    assert auc([1, 2], [3, 4]) == 1.0
    assert auc([3, 4], [1, 2]) == 0.0
    assert auc([1, 2], [2, 3]) == pytest.approx(0.875)  # one tie counts half
    assert auc([], [1]) is None


def test_expansion_suggestions_carry_their_evidence() -> None:
    facts = ExpansionFacts(
        usage_30=150,
        plan_usage=100,
        new_contacts_engaging=("b@x.example", "a@x.example"),
        contracted_products=frozenset({"Core"}),
        intent_products={"Analytics": 2, "Core": 5},
    )
    got = expansion_suggestions(facts)
    assert [s.signal for s in got] == [
        ExpansionSignal.USAGE_ABOVE_PLAN,
        ExpansionSignal.NEW_CONTACTS_ENGAGING,
        ExpansionSignal.INTENT_ON_OTHER_PRODUCT,
    ]
    assert got[0].evidence == "150 usage events in 30 days, 150% of the plan's 100 a month"
    assert got[1].evidence == "2 new contacts engaging in 30 days: a@x.example, b@x.example"
    assert (got[2].deal_kind, got[2].product) == ("cross_sell", "Analytics")
    assert got[2].evidence == "2 intent touches on Analytics in 30 days (not under contract)"


def test_no_suggestion_without_a_signal() -> None:
    facts = ExpansionFacts(50, 100, (), frozenset({"Core"}), {"Core": 3})
    assert expansion_suggestions(facts) == ()
    assert expansion_suggestions(ExpansionFacts(10**6, None, (), frozenset(), {})) == ()
