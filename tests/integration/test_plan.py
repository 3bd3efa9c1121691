"""The plan on the database: targets and pace, forecast categories, the reverse funnel on a
small company whose rates are chosen to be worked out on paper, saved plans and budgets."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from onefunnel.domain.access import AccessDeniedError
from onefunnel.models import (
    Account,
    Campaign,
    CampaignBudget,
    Contact,
    Deal,
    DealForecast,
    Handoff,
    PipelineStage,
    Plan,
    Spend,
    Target,
    Touchpoint,
)
from onefunnel.services.access import SYSTEM, actor_for
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.plan import budgets, forecast, reverse_funnel, targets
from onefunnel.services.routing_config import set_rep

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 4)


def at(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def user(name: str, *groups: str, team: str | None = "sales") -> User:
    if team:
        set_rep(name, team=team, create_user=True)
        u = User.objects.get(username=name)
    else:
        u = User.objects.create(username=name)
    for g in groups:
        u.groups.add(Group.objects.get_or_create(name=g)[0])
    return u


def small_company(*, touches: bool = False) -> dict[str, object]:
    """20 leads on 1 July; 10 handed off on the 5th (4 days later), answered the next day; 8
    accepted, 2 rejected; 4 of the accepted won 10,000 each on 5 August (30 days after the
    decision); 2,000 spent. Rates: deal size 10,000, win 4/8, acceptance 8/10, MQL 10/20,
    cost per lead 100; cycle 4 + 1 + 30 days."""
    rita = user("rita", "sales")
    stage = PipelineStage.objects.create(name="Qualify", sequence=1, probability=20)
    ads = Campaign.objects.create(name="Ads", utm_campaign="ads", channel="paid_search")
    Spend.objects.create(campaign=ads, day=date(2026, 7, 1), amount=Decimal("2000.00"))
    for i in range(20):
        account = Account.objects.create(name=f"Co {i}", domain=f"co{i}.example",
                                         created_at=at("2026-07-01"))  # fmt: skip
        contact = Contact.objects.create(email=f"p{i}@co{i}.example", account=account,
                                         created_at=at("2026-07-01"))  # fmt: skip
        if touches:
            Touchpoint.objects.create(
                message_id=f"t{i}", contact=contact, account=account, kind="page_view",
                team="marketing", channel="paid_search" if i < 10 else "email",
                campaign=ads if i < 10 else None, occurred_at=at("2026-07-01"),
                received_at=at("2026-07-01"),
            )  # fmt: skip
        if i >= 10:
            continue
        deal = None
        if i < 4:
            deal = Deal.objects.create(
                name=f"D{i}", account=account, contact=contact, owner=rita,
                pipeline_stage=stage, status="won", amount=Decimal("10000.00"),
                created_at=at("2026-07-06"), closed_at=at("2026-08-05"),
            )  # fmt: skip
        Handoff.objects.create(
            contact=contact, account=account, trigger="hand_raise", owner=rita,
            created_at=at("2026-07-05"), sla_due_at=at("2026-07-05", 17),
            first_response_at=at("2026-07-06"), decided_at=at("2026-07-06"),
            status="accepted" if i < 8 else "rejected",
            reason=None if i < 8 else "bad_fit", deal=deal,
        )  # fmt: skip
    return {"rita": rita, "stage": stage}


def test_hand_checked_plan_on_measured_rates() -> None:
    small_company()
    result = reverse_funnel.make_plan("100000", "2027-Q1", today=TODAY)
    steps = {s["step"]: s for s in result.as_dict()["steps"]}
    # 100,000 / 10,000 = 10 deals; / 0.5 = 20 accepted; / 0.8 = 25 MQLs; / 0.5 = 50 leads;
    # × 100 per lead = 5,000.
    assert {k: v["value"] for k, v in steps.items()} == {
        "revenue": 100000.0, "deals_won": 10.0, "handoffs_accepted": 20.0, "mqls": 25.0,
        "leads": 50.0, "spend": 5000.0,
    }  # fmt: skip
    rates = result.as_dict()["rates"]
    assert (rates["win_rate"]["successes"], rates["win_rate"]["n"]) == (4, 8)
    assert (rates["acceptance_rate"]["successes"], rates["acceptance_rate"]["n"]) == (8, 10)
    assert (rates["mql_rate"]["successes"], rates["mql_rate"]["n"]) == (10, 20)
    assert rates["cost_per_lead"]["value"] == 100.0
    assert rates["cycle_days"] == {"lead_to_mql": 4.0, "mql_to_decision": 1.0,
                                   "decision_to_close": 30.0}  # fmt: skip
    # Leads 35 days before the deals close: from 27 Nov, already past on 4 Dec — said so.
    assert (steps["leads"]["from"], steps["leads"]["to"]) == ("2026-11-27", "2027-02-24")
    assert any(limit.startswith("timing: ") for limit in result.plan.limits)
    assert steps["spend"]["low"] < 5000 < steps["spend"]["high"]


def test_plan_by_channel_falls_back_visibly_and_saves_versions_with_budgets() -> None:
    small_company(touches=True)
    result = reverse_funnel.make_plan("100000", "2027-Q1", by="channel", today=TODAY)
    saved = reverse_funnel.save_plan(SYSTEM, result, budgets=True)
    again = reverse_funnel.save_plan(SYSTEM, result)
    assert (saved.name, saved.version, again.version) == ("2027-Q1", 1, 2)
    plan = reverse_funnel.get_plan(saved.id)
    assert plan.body["steps"][0]["step"] == "revenue"
    # Every won account came through paid search: all MQLs from it. Its 10 leads are too
    # few for its own rates, so it uses the company's (MQL rate 0.5, 100 per lead), visibly.
    (channel,) = plan.body["channels"]
    assert channel["channel"] == "paid_search"
    assert channel["mqls"]["value"] == 25.0
    assert channel["leads"]["value"] == 50.0
    assert channel["spend"]["value"] == 5000.0
    assert len(channel["notes"]) == 2
    # The spend becomes the plan's budget over the months leads must arrive in.
    lines = budgets.list_budgets(plan_id=saved.id)
    assert [b["month"] for b in lines] == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert sum(b["planned"] for b in lines) == pytest.approx(5000, abs=0.05)
    assert reverse_funnel.get_plan(again.id).budgets == 0
    assert [p.id for p in reverse_funnel.list_plans()] == [again.id, saved.id]


def test_budgets_need_channels() -> None:
    small_company()
    result = reverse_funnel.make_plan("100000", "2027-Q1", by="channel", today=TODAY)
    # No touches: nothing is attributed to a channel, and the plan says so.
    assert any(lim.startswith("channels: ") for lim in result.plan.limits)
    with pytest.raises(InputError, match="budgets: make the plan --by channel"):
        reverse_funnel.save_plan(SYSTEM, result, budgets=True)
    assert Plan.objects.count() == 0


def test_a_step_that_never_converts_is_stated_and_nothing_is_saved() -> None:
    small_company()
    Deal.objects.update(status="lost", lost_reason="price", closed_at=at("2026-08-05"))
    result = reverse_funnel.make_plan("100000", "2027-Q1", today=TODAY)
    assert not result.plan.reachable
    assert result.plan.step("deals_won").quantity is None
    with pytest.raises(InputError, match="plan: cannot be saved: deals_won"):
        reverse_funnel.save_plan(SYSTEM, result)
    assert Plan.objects.count() == 0


@pytest.mark.parametrize(
    ("revenue", "period", "message"),
    [
        ("0", "2027-Q1", "revenue: the target must be a positive amount"),
        ("-5", "2027-Q1", "revenue: the target must be a positive amount"),
        ("lots", "2027-Q1", "revenue: not a number"),
        ("1e40", "2027-Q1", "revenue: too large"),
        ("1000", "2026-Q2", "period: 2026-Q2 is in the past"),
        ("1000", "2027-Q9", "period: '2027-Q9' is not a period"),
    ],
)
def test_bad_plan_input_names_the_field(revenue: str, period: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        reverse_funnel.make_plan(revenue, period, today=TODAY)


def test_only_admins_save_plans() -> None:
    small_company()
    result = reverse_funnel.make_plan("1000", "2027-Q1", today=TODAY)
    with pytest.raises(AccessDeniedError):
        reverse_funnel.save_plan(actor_for(user("liz", "leadership", team=None)), result)
    assert Plan.objects.count() == 0


def test_team_leads_save_their_teams_plans_as_they_set_its_targets() -> None:
    small_company()
    result = reverse_funnel.make_plan("1000", "2027-Q1", today=TODAY)
    lead = actor_for(user("lena", "team_lead"))  # leads team "sales"
    user("olga", "sales", team="enterprise")
    saved = reverse_funnel.save_plan(lead, result, team="sales")
    assert (saved.name, saved.version, saved.team, saved.created_by) == (
        "sales 2027-Q1", 1, "sales", "lena")  # fmt: skip
    assert reverse_funnel.get_plan(saved.id).summary()["team"] == "sales"
    again = reverse_funnel.save_plan(lead, result, team="sales")
    assert (again.name, again.version) == ("sales 2027-Q1", 2)
    # Not the company's plan, not another team's, and no budgets (marketing's spend).
    for team in (None, "enterprise"):
        with pytest.raises(AccessDeniedError):
            reverse_funnel.save_plan(lead, result, team=team)
    by_channel = reverse_funnel.make_plan("1000", "2027-Q1", by="channel", today=TODAY)
    with pytest.raises(AccessDeniedError):
        reverse_funnel.save_plan(lead, by_channel, team="sales", budgets=True)
    with pytest.raises(NotFoundError, match="team: no rep is in a team 'nobody'"):
        reverse_funnel.save_plan(SYSTEM, result, team="nobody")
    # Admins save any team's plan and the company's; a name stays one scope's series.
    company = reverse_funnel.save_plan(SYSTEM, result)
    assert (company.name, company.team) == ("2027-Q1", None)
    assert reverse_funnel.save_plan(SYSTEM, result, team="enterprise").team == "enterprise"
    with pytest.raises(InputError, match="name: 'sales 2027-Q1' is a plan of team 'sales'"):
        reverse_funnel.save_plan(SYSTEM, result, name="sales 2027-Q1")
    with pytest.raises(InputError, match="name: '2027-Q1' is a plan of the company"):
        reverse_funnel.save_plan(lead, result, name="2027-Q1", team="sales")
    assert Plan.objects.count() == 4
    assert CampaignBudget.objects.count() == 0


def test_targets_attainment_by_company_team_and_rep() -> None:
    small_company()
    sam = user("sam", "sales", team="enterprise")
    lead = user("lena", "team_lead")
    targets.set_targets(SYSTEM, [
        targets.TargetInput("2026-07", "mqls", "20"),
        targets.TargetInput("2026-07", "mqls", "5", scope="team", team="sales"),
        targets.TargetInput("2026-08", "new_revenue", "80000", scope="rep", rep="rita"),
    ], today=TODAY)  # fmt: skip
    # A team lead sets their own team's targets, not another team's.
    targets.set_targets(actor_for(lead), [
        targets.TargetInput("2026-07", "handoffs_accepted", "8", scope="team", team="sales"),
    ], today=TODAY)  # fmt: skip
    with pytest.raises(AccessDeniedError):
        targets.set_targets(actor_for(lead), [
            targets.TargetInput("2026-07", "mqls", "1", scope="rep", rep="sam"),
        ], today=TODAY)  # fmt: skip
    rows = {(r.metric, r.subject): r for r in targets.list_targets(today=TODAY)}
    assert rows[("mqls", "company")].actual == 10
    assert rows[("mqls", "company")].attainment == pytest.approx(0.5)
    assert rows[("mqls", "team:sales")].actual == 10
    assert rows[("handoffs_accepted", "team:sales")].actual == 8
    rita = rows[("new_revenue", "rep:rita")]
    assert rita.actual == 40000
    assert rita.attainment == pytest.approx(0.5)
    assert rita.working_days == 21
    assert rita.projected == 40000
    assert sam.pk is not None


def test_bad_targets_are_clear_and_an_import_is_all_or_none(tmp_path: Path) -> None:
    small_company()
    with pytest.raises(NotFoundError, match="rep: no user 'nobody'"):
        targets.set_targets(SYSTEM, [targets.TargetInput("2026-07", "mqls", "1", scope="rep",
                                                         rep="nobody")])  # fmt: skip
    with pytest.raises(InputError, match="month: '2026-13' is not a month"):
        targets.set_targets(SYSTEM, [targets.TargetInput("2026-13", "mqls", "1")])
    with pytest.raises(InputError, match="metric: unknown metric"):
        targets.set_targets(SYSTEM, [targets.TargetInput("2026-07", "sales", "1")])
    with pytest.raises(InputError, match="value: mqls is a count"):
        targets.set_targets(SYSTEM, [targets.TargetInput("2026-07", "mqls", "1.5")])
    with pytest.raises(InputError, match="metric: spend targets are set for the company"):
        targets.set_targets(SYSTEM, [targets.TargetInput("2026-07", "spend", "1", scope="rep",
                                                         rep="rita")])  # fmt: skip
    csv = tmp_path / "targets.csv"
    csv.write_text("month,metric,value,scope,team,rep\n2026-07,mqls,5,,,\n"
                   "2026-07,deals_won,2,rep,,ghost\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(NotFoundError, match="row 2: rep: no user 'ghost'"):
        targets.import_targets(SYSTEM, csv)
    assert Target.objects.count() == 0
    csv.write_text("month,metric,value\n2026-07,mqls,5\n2026-08,mqls,6\n", encoding="utf-8")
    assert len(targets.import_targets(SYSTEM, csv)) == 2
    csv.write_text("month,metric,value\n2026-07,mqls,7\n", encoding="utf-8")
    targets.import_targets(SYSTEM, csv)  # replaces, never duplicates
    assert sorted(Target.objects.values_list("value", flat=True)) == [6, 7]


def test_forecast_categories_belong_to_the_deals_rep() -> None:
    company = small_company()
    stage = company["stage"]
    rita = User.objects.get(username="rita")
    other = user("olga", "sales")
    account = Account.objects.first()
    assert account is not None
    assert isinstance(stage, PipelineStage)
    deal = Deal.objects.create(
        name="Open", account=account, owner=rita, pipeline_stage=stage, amount=Decimal("5000"),
        created_at=at("2026-11-01"), expected_close=date(2026, 12, 20),
    )  # fmt: skip
    with pytest.raises(AccessDeniedError):
        forecast.set_forecast_category(actor_for(other), deal.pk, "commit")
    forecast.set_forecast_category(actor_for(rita), deal.pk, "commit")
    assert DealForecast.objects.get(deal=deal).category == "commit"
    with pytest.raises(InputError, match="category: unknown category"):
        forecast.set_forecast_category(actor_for(rita), deal.pk, "maybe")
    won = Deal.objects.filter(status="won").first()
    assert won is not None
    with pytest.raises(InputError, match="only open deals"):
        forecast.set_forecast_category(actor_for(rita), won.pk, "commit")
    report = forecast.forecast_period("2026-12", method="stage", today=at("2026-12-04"))
    (line,) = report.lines
    assert line.commit == 5000
    assert line.weighted == pytest.approx(1000)
    forecast.set_forecast_category(actor_for(rita), deal.pk, "omitted")
    report = forecast.forecast_period("2026-12", method="stage", today=at("2026-12-04"))
    assert report.lines[0].weighted == 0
    assert report.lines[0].omitted == 5000


def test_budgets_beside_actual_spend_are_marketings() -> None:
    small_company()
    marketer = actor_for(user("mo", "marketing", team=None))
    row = budgets.set_budget(marketer, budgets.BudgetInput("2026-07", "2500", campaign="ads",
                                                           goal_leads=20))  # fmt: skip
    assert (row["planned"], row["actual"], row["goal_leads"]) == (2500.0, 2000.0, 20)
    assert row["attainment"] == pytest.approx(0.8)
    with pytest.raises(AccessDeniedError):
        budgets.set_budget(actor_for(User.objects.get(username="rita")),
                           budgets.BudgetInput("2026-07", "1", campaign="ads"))  # fmt: skip
    with pytest.raises(NotFoundError, match="campaign: no campaign 'nope'"):
        budgets.set_budget(marketer, budgets.BudgetInput("2026-07", "1", campaign="nope"))
    with pytest.raises(InputError, match="amount: must not be negative"):
        budgets.set_budget(marketer, budgets.BudgetInput("2026-07", "-1", campaign="ads"))
    assert CampaignBudget.objects.count() == 1


def test_backtest_on_the_database_reads_what_was_known() -> None:
    small_company()
    assert forecast.run_backtest(today=TODAY).months[0].month == date(2026, 10, 1)  # warm-up
    result = forecast.run_backtest(today=TODAY, warmup=1)
    by_month = {m.month: m for m in result.months}
    assert by_month[date(2026, 8, 1)].actual == 40000
    # The won deals were created on 6 July: on 1 August they were open and on the first
    # stage (20 %), closing in August.
    assert by_month[date(2026, 8, 1)].stage == pytest.approx(8000)
    assert by_month[date(2026, 9, 1)].naive == 40000
    # The history method has learnt nothing before August (no deal had closed): it forecasts
    # the pipeline at 0; by September it knows all four deals were won.
    assert by_month[date(2026, 8, 1)].history == 0


def test_the_stage_method_reads_past_stages_from_the_deal_history() -> None:
    """A deal moved from Discovery to Proposal on 15 August was at Discovery's 10 % on
    1 August and at Proposal's 50 % on 1 September — also once it is won (its history says so),
    while a deal without history falls back to its stage today."""
    from onefunnel.domain.plan.forecast import DealFacts
    from onefunnel.services.sales.deals import move_deal, open_deal, win_deal

    account = Account.objects.create(name="Acme", created_at=datetime(2026, 6, 1, tzinfo=UTC))
    deal_id = open_deal(
        account_id=account.pk,
        name="Acme: new business",
        amount=Decimal("1000"),
        created_at=datetime(2026, 7, 1, tzinfo=UTC),
    )
    move_deal(deal_id, "Proposal", actor=SYSTEM, at=datetime(2026, 8, 15, tzinfo=UTC))
    win_deal(deal_id, actor=SYSTEM, at=datetime(2026, 9, 20, tzinfo=UTC))
    at_stage = forecast.stage_weights()
    facts = next(d for d in forecast.deal_facts() if d.id == deal_id)
    assert facts.won
    assert facts.closed_at == datetime(2026, 9, 20, tzinfo=UTC)
    assert at_stage(facts, datetime(2026, 8, 1, tzinfo=UTC)) == pytest.approx(0.10)
    assert at_stage(facts, datetime(2026, 9, 1, tzinfo=UTC)) == pytest.approx(0.50)
    untracked = DealFacts(deal_id + 1, "new_business", 5.0, datetime(2026, 7, 1, tzinfo=UTC),
                          stage_probability=0.75)  # fmt: skip
    assert at_stage(untracked, datetime(2026, 8, 1, tzinfo=UTC)) == 0.75


def test_the_cli_saves_a_team_plan_as_its_team_lead(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.utils import timezone
    from typer.testing import CliRunner

    from onefunnel.cli import app
    from onefunnel.cli import plan as _plan_commands  # noqa: F401  (registers them)

    small_company()
    user("lena", "team_lead")
    user("olga", "sales", team="enterprise")
    # The small company's rates are measured up to TODAY.
    monkeypatch.setattr(timezone, "now", lambda: at(TODAY.isoformat()))
    args = ["plan", "--revenue", "1000", "--period", "2027-Q1", "--save", "--as", "lena"]
    saved = CliRunner().invoke(app, [*args, "--team", "sales", "-f", "json"])
    assert saved.exit_code == 0, saved.output
    assert '"team": "sales"' in saved.output
    refused = CliRunner().invoke(app, [*args, "--team", "enterprise"])
    assert refused.exit_code == 3
    assert "may not set this plan" in refused.output
    assert list(Plan.objects.values_list("name", flat=True)) == ["sales 2027-Q1"]
