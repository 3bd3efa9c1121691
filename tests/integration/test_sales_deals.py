"""Deals through the services: create, edit, move, win, lose — with history, access rules,
and bad input that writes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.deals import (
    DealError,
    DealKind,
    DealState,
    DealStatus,
    HistoryEntry,
    HistoryField,
    replay,
)
from onefunnel.domain.stages import Stage
from onefunnel.models import AppendOnlyError, Deal, DealHistory, Pipeline, PipelineStage
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.sales.deals import (
    create_deal,
    deal_history,
    get_deal,
    list_deals,
    lose_deal,
    move_deal,
    stage_win_rates,
    update_deal,
    win_deal,
)
from tests.conftest import T0
from tests.integration.sales_fixtures import buyer, user

pytestmark = pytest.mark.django_db


def test_the_default_pipeline_is_data_with_won_and_lost_stages() -> None:
    pipeline = Pipeline.objects.get(is_default=True)
    stages = list(PipelineStage.objects.filter(pipeline=pipeline).order_by("sequence"))
    assert [(s.name, s.probability) for s in stages if not (s.is_won or s.is_lost)] == [
        ("Discovery", 10),
        ("Demo", 25),
        ("Proposal", 50),
        ("Negotiation", 75),
    ]
    assert [s.name for s in stages if s.is_won] == ["Won"]
    assert [s.name for s in stages if s.is_lost] == ["Lost"]


def test_a_rep_opens_moves_and_wins_a_deal_and_the_account_becomes_a_customer() -> None:
    rita = user("rita", "sales_rep", team="sales")
    contact = buyer(stage=Stage.INTENT)
    deal = create_deal(actor=rita, account_id=contact.account_id, name="Acme", amount="1200.50")
    assert (deal.owner, deal.pipeline_stage, deal.amount) == (
        "rita",
        "Discovery",
        Decimal("1200.50"),
    )
    moved = move_deal(deal.id, "demo", actor=rita)
    assert (moved.pipeline_stage, moved.probability) == ("Demo", 25)
    closed = win_deal(deal.id, actor=rita, at=T0 + timedelta(days=3))
    assert closed.status is DealStatus.WON
    assert {(m.subject, m.to_stage) for m in closed.moves} == {
        ("account", Stage.CONVERSION),
        ("contact", Stage.CONVERSION),
    }
    won = get_deal(deal.id, actor=rita)
    assert (won.status, won.pipeline_stage, won.closed_at) == (
        DealStatus.WON,
        "Won",
        T0 + timedelta(days=3),
    )
    fields = [
        (h.field.value, h.from_label, h.to_label, h.actor)
        for h in deal_history(deal.id, actor=rita)
    ]
    assert ("pipeline_stage", "Discovery", "Demo", "rita") in fields
    assert ("pipeline_stage", "Demo", "Won", "rita") in fields


def test_winning_twice_is_refused_and_changes_nothing() -> None:
    rita = user("rita", "sales_rep")
    contact = buyer()
    deal = create_deal(actor=rita, account_id=contact.account_id, name="Acme", amount=10)
    win_deal(deal.id, actor=rita)
    entries = DealHistory.objects.count()
    with pytest.raises(DealError, match="already won"):
        win_deal(deal.id, actor=rita)
    with pytest.raises(DealError, match="already won"):
        lose_deal(deal.id, reason="price", actor=rita)
    assert DealHistory.objects.count() == entries


@pytest.mark.parametrize(
    ("reason", "note", "message"),
    [
        (None, "", "reason: a lost deal needs a reason"),
        ("", "", "reason: a lost deal needs a reason"),
        ("cheaper elsewhere", "", "reason: unknown lost reason"),
        ("other", "  ", "note: a deal lost for 'other' needs a note"),
    ],
)
def test_losing_needs_a_known_reason_and_other_needs_a_note(
    reason: str | None, note: str, message: str
) -> None:
    rita = user("rita", "sales_rep")
    deal = create_deal(actor=rita, account_id=buyer().account_id, name="Acme", amount=10)
    with pytest.raises(InputError, match=message):
        lose_deal(deal.id, reason=reason, note=note, actor=rita)
    assert Deal.objects.get(pk=deal.id).status == DealStatus.OPEN


def test_lost_with_a_reason_sends_the_lead_back_to_nurture() -> None:
    rita = user("rita", "sales_rep")
    contact = buyer(stage=Stage.INTENT)
    deal = create_deal(actor=rita, account_id=contact.account_id, name="Acme", amount=10)
    closed = lose_deal(deal.id, reason="other", note="went with an in-house tool", actor=rita)
    assert closed.status is DealStatus.LOST
    row = Deal.objects.get(pk=deal.id)
    assert (row.lost_reason, row.lost_note, row.pipeline_stage.name) == (
        "other",
        "went with an in-house tool",
        "Lost",
    )
    contact.refresh_from_db()
    assert contact.stage == Stage.NURTURE


def test_a_move_to_another_pipelines_stage_or_a_closing_stage_is_refused() -> None:
    rita = user("rita", "sales_rep")
    renewals = Pipeline.objects.create(name="Renewals")
    other = PipelineStage.objects.create(
        pipeline=renewals, name="Notice", sequence=1, probability=50
    )
    deal = create_deal(actor=rita, account_id=buyer().account_id, name="Acme", amount=10)
    with pytest.raises(DealError, match="another pipeline"):
        move_deal(deal.id, other.pk, actor=rita)
    with pytest.raises(DealError, match="win it instead"):
        move_deal(deal.id, "Won", actor=rita)
    with pytest.raises(NotFoundError, match="pipeline_stage"):
        move_deal(deal.id, "Notice", actor=rita)  # by name: only the deal's own pipeline
    with pytest.raises(NotFoundError, match="deal_id"):
        move_deal(999_999, "Demo", actor=rita)
    assert get_deal(deal.id, actor=rita).pipeline_stage == "Discovery"


def test_a_second_pipeline_has_its_own_deals() -> None:
    rita = user("rita", "sales_rep")
    renewals = Pipeline.objects.create(name="Renewals")
    PipelineStage.objects.create(pipeline=renewals, name="Notice", sequence=1, probability=60)
    deal = create_deal(
        actor=rita, account_id=buyer().account_id, name="Acme", amount=10, pipeline="Renewals",
        kind="renewal",
    )  # fmt: skip
    assert (deal.pipeline, deal.pipeline_stage, deal.kind) == (
        "Renewals",
        "Notice",
        DealKind.RENEWAL,
    )
    assert [d.id for d in list_deals(actor=rita, pipeline="Renewals")] == [deal.id]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-1", "amount: must not be negative"),
        ("1e30", "amount: at most"),
        ("lots", "amount: 'lots' is not a number"),
        ("NaN", "amount: must be a finite number"),
        ("Infinity", "amount: must be a finite number"),
    ],
)
def test_bad_amounts_are_refused_and_write_nothing(amount: str, message: str) -> None:
    rita = user("rita", "sales_rep")
    account_id = buyer().account_id
    with pytest.raises(InputError, match=message):
        create_deal(actor=rita, account_id=account_id, name="Acme", amount=amount)
    assert not Deal.objects.exists()
    deal = create_deal(actor=rita, account_id=account_id, name="Acme", amount="5")
    entries = DealHistory.objects.count()
    with pytest.raises(InputError, match=message):
        update_deal(deal.id, actor=rita, amount=amount)
    assert Deal.objects.get(pk=deal.id).amount == Decimal("5.00")
    assert DealHistory.objects.count() == entries


def test_a_rep_may_not_work_or_read_another_reps_deal_but_the_account_owner_may() -> None:
    rita = user("rita", "sales_rep", team="sales")
    sam = user("sam", "sales_rep", team="sales")
    ann = user("ann", "account_manager")
    lena = user("lena", "team_lead", team="sales")
    boss = user("liz", "leadership")
    deal = create_deal(actor=rita, account_id=buyer(owner=ann).account_id, name="Acme", amount=10)
    for action in (
        lambda: move_deal(deal.id, "Demo", actor=sam),
        lambda: win_deal(deal.id, actor=sam),
        lambda: lose_deal(deal.id, reason="price", actor=sam),
        lambda: update_deal(deal.id, actor=sam, amount="1"),
        lambda: get_deal(deal.id, actor=sam),
        lambda: win_deal(deal.id, actor=boss),
    ):
        with pytest.raises(AccessDeniedError):
            action()
    assert list_deals(actor=sam) == []
    assert [d.id for d in list_deals(actor=ann)] == [deal.id]
    assert [d.id for d in list_deals(actor=lena)] == [deal.id]
    assert [d.id for d in list_deals(actor=boss)] == [deal.id]
    move_deal(deal.id, "Demo", actor=lena)  # a team lead works the team's deals
    assert Deal.objects.get(pk=deal.id).status == DealStatus.OPEN


def test_the_set_based_read_filter_agrees_with_the_rule_book() -> None:
    from onefunnel.domain.access import Action, may
    from onefunnel.services.access import deal_work

    rita = user("rita", "sales_rep", team="sales")
    ann = user("ann", "account_manager")
    lena = user("lena", "team_lead", team="sales")
    otto = user("otto", "team_lead", team="enterprise")
    mo = user("mo", "marketing")
    nobody = user("nobody")
    admin = user("root", "admin")
    for n, (owner, account_owner) in enumerate(
        [(rita, None), (None, ann), (otto, None), (None, None)]
    ):
        contact = buyer(n + 1, owner=account_owner)
        create_deal(actor=admin, account_id=contact.account_id, name=f"d{n}", amount=1,
                    owner=owner.username if owner else None)  # fmt: skip
    Deal.objects.filter(owner__isnull=False, owner__username="root").update(owner=None)
    for actor in (rita, ann, lena, otto, mo, nobody, admin):
        listed = {d.id for d in list_deals(actor=actor)}
        allowed = {
            d.pk
            for d in Deal.objects.select_related("account")
            if may(actor, Action.READ, deal_work(d))
        }
        assert listed == allowed, actor.username


def test_deal_history_is_append_only() -> None:
    rita = user("rita", "sales_rep")
    deal = create_deal(actor=rita, account_id=buyer().account_id, name="Acme", amount=10)
    entry = DealHistory.objects.filter(deal_id=deal.id).first()
    assert entry is not None
    entry.to_value = "999"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()


def test_historical_win_rate_per_stage_sits_beside_the_default_probability() -> None:
    rita = user("rita", "sales_rep")
    account_id = buyer().account_id
    ids = [
        create_deal(actor=rita, account_id=account_id, name=f"d{i}", amount=10).id for i in range(4)
    ]
    for deal_id in ids[:3]:
        move_deal(deal_id, "Demo", actor=rita)
    move_deal(ids[0], "Proposal", actor=rita)
    win_deal(ids[0], actor=rita)
    lose_deal(ids[1], reason="price", actor=rita)
    lose_deal(ids[3], reason="timing", actor=rita)
    rates = {r.stage: r for r in stage_win_rates()}
    assert (rates["Discovery"].reached, rates["Discovery"].won) == (3, 1)
    assert (rates["Demo"].reached, rates["Demo"].won, rates["Demo"].probability) == (2, 1, 25)
    assert rates["Demo"].win_rate == 0.5
    assert rates["Proposal"].win_rate == 1.0
    assert rates["Negotiation"].win_rate is None


_STAGES = ["Discovery", "Demo", "Proposal", "Negotiation"]
_step = st.one_of(
    st.tuples(st.just("move"), st.sampled_from(_STAGES)),
    st.tuples(st.just("amount"), st.decimals(min_value=0, max_value=10**9, places=2)),
    st.tuples(st.just("close"), st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2030, 1, 1)))),
    st.tuples(st.just("owner"), st.sampled_from(["rita", "lena", None])),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(_step, max_size=8), end=st.sampled_from(["open", "won", "lost"]))
def test_replaying_the_history_gives_the_deals_current_values(
    steps: list[tuple[str, object]], end: str
) -> None:
    admin = user("root", "admin")
    user("rita", "sales_rep")
    user("lena", "team_lead")
    deal = create_deal(actor=admin, account_id=buyer(Deal.objects.count() + 1).account_id,
                       name="Acme", amount=1)  # fmt: skip
    for what, value in steps:
        try:
            if what == "move":
                move_deal(deal.id, str(value), actor=admin)
            elif what == "amount":
                update_deal(deal.id, actor=admin, amount=value)
            elif what == "close":
                update_deal(deal.id, actor=admin, expected_close=value)  # type: ignore[arg-type]
            else:
                update_deal(deal.id, actor=admin, owner=value)  # type: ignore[arg-type]
        except DealError:
            pass  # a move to the stage it is in: refused, nothing recorded
    if end == "won":
        win_deal(deal.id, actor=admin)
    elif end == "lost":
        lose_deal(deal.id, reason="timing", actor=admin)
    row = Deal.objects.get(pk=deal.id)
    entries = [
        HistoryEntry(HistoryField(h.field), h.from_value, h.to_value)
        for h in DealHistory.objects.filter(deal=row).order_by("id")
    ]
    assert replay(entries) == DealState.of(
        stage_id=row.pipeline_stage_id,
        amount=row.amount,
        expected_close=row.expected_close,
        owner_id=row.owner_id,
    )
