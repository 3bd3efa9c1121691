"""The CRM mapping: HubSpot/Salesforce values, their dates, and replaying stage paths."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from onefunnel.domain.crm_mapping import (
    MappingError,
    PlannedMove,
    StageStep,
    country_code,
    hubspot_became_column,
    hubspot_lead_status,
    hubspot_lifecycle_stage,
    hubspot_source_channel,
    is_personal_mail_domain,
    onefunnel_step,
    parse_bool,
    parse_crm_date,
    parse_crm_datetime,
    replay,
    salesforce_source_channel,
    salesforce_status,
    stage_path,
)
from onefunnel.domain.stages import Stage, StageReason
from onefunnel.domain.touches import Channel

T = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "stage"),
    [
        ("subscriber", Stage.AWARENESS),
        ("Subscriber", Stage.AWARENESS),
        ("lead", Stage.CONSIDERATION),
        ("Marketing Qualified Lead", Stage.INTENT),
        ("marketingqualifiedlead", Stage.INTENT),
        ("Sales Qualified Lead", Stage.INTENT),
        ("salesqualifiedlead", Stage.INTENT),
        ("Opportunity", Stage.INTENT),
        ("customer", Stage.CONVERSION),
        ("Evangelist", Stage.GROW),
        ("other", None),
        ("", None),
    ],
)
def test_hubspot_lifecycle_labels_and_values(value: str, stage: Stage | None) -> None:
    assert hubspot_lifecycle_stage(value) is stage


def test_unknown_lifecycle_stage_is_an_error() -> None:
    with pytest.raises(MappingError, match="unknown lifecycle stage 'Prospect'"):
        hubspot_lifecycle_stage("Prospect")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("New", None),
        ("IN_PROGRESS", None),
        ("Attempted to Contact", None),
        ("Open Deal", None),
        ("UNQUALIFIED", (Stage.DISQUALIFIED, StageReason.BAD_FIT)),
        ("Bad Timing", (Stage.NURTURE, StageReason.NOT_NOW)),
        ("", None),
    ],
)
def test_hubspot_lead_status(value: str, expected: tuple[Stage, StageReason] | None) -> None:
    assert hubspot_lead_status(value) == expected


def test_unknown_lead_status_is_an_error() -> None:
    with pytest.raises(MappingError):
        hubspot_lead_status("Pending Review")


@pytest.mark.parametrize(
    ("value", "channel"),
    [
        ("Organic Search", Channel.ORGANIC_SEARCH),
        ("PAID_SEARCH", Channel.PAID_SEARCH),
        ("Email Marketing", Channel.EMAIL),
        ("SOCIAL_MEDIA", Channel.SOCIAL),
        ("Paid Social", Channel.PAID_SOCIAL),
        ("Referrals", Channel.REFERRAL),
        ("Direct Traffic", Channel.DIRECT),
        ("Offline Sources", Channel.OTHER),
    ],
)
def test_hubspot_original_source(value: str, channel: Channel) -> None:
    assert hubspot_source_channel(value) is channel


def test_unknown_original_source_is_an_error() -> None:
    with pytest.raises(MappingError):
        hubspot_source_channel("Carrier Pigeon")


@pytest.mark.parametrize(
    ("header", "stage"),
    [
        ("Became a Subscriber Date", Stage.AWARENESS),
        ("Became a Lead Date", Stage.CONSIDERATION),
        ("Became a Marketing Qualified Lead Date", Stage.INTENT),
        ("Became an Opportunity Date", Stage.INTENT),
        ("Became a Customer Date", Stage.CONVERSION),
        ("Became an Evangelist Date", Stage.GROW),
        ("hs_lifecyclestage_customer_date", Stage.CONVERSION),
        ("hs_lifecyclestage_salesqualifiedlead_date", Stage.INTENT),
        ("Became an Other Lifecycle Stage Date", None),
        ("Create Date", None),
    ],
)
def test_became_columns(header: str, stage: Stage | None) -> None:
    assert hubspot_became_column(header) is stage


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Open - Not Contacted", (Stage.CONSIDERATION, None)),
        ("Working - Contacted", (Stage.INTENT, None)),
        ("Closed - Converted", (Stage.INTENT, None)),
        ("Closed - Not Converted", (Stage.DISQUALIFIED, StageReason.OTHER)),
        ("Unqualified", (Stage.DISQUALIFIED, StageReason.BAD_FIT)),
        ("Nurturing", (Stage.NURTURE, StageReason.NOT_NOW)),
    ],
)
def test_salesforce_status(status: str, expected: tuple[Stage, StageReason | None]) -> None:
    assert salesforce_status(status) == expected


def test_salesforce_unknown_status_is_an_error_but_unknown_source_is_other() -> None:
    with pytest.raises(MappingError):
        salesforce_status("Maybe Later")
    assert salesforce_source_channel("Trade Show") is Channel.EVENTS
    assert salesforce_source_channel("Partner Referral") is Channel.PARTNER
    assert salesforce_source_channel("Our Own Picklist Value") is Channel.OTHER
    assert salesforce_source_channel("") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-12 09:14", datetime(2024, 3, 12, 9, 14, tzinfo=UTC)),
        ("3/15/2024 2:30 PM", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        ("3/15/2024 12:05 AM", datetime(2024, 3, 15, 0, 5, tzinfo=UTC)),
        ("12/1/2024 12:00 PM", datetime(2024, 12, 1, 12, 0, tzinfo=UTC)),
        ("3/15/2024 14:30", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        ("3/15/2024", datetime(2024, 3, 15, tzinfo=UTC)),
        ("2024-03-12T09:14:00.000Z", datetime(2024, 3, 12, 9, 14, tzinfo=UTC)),
        ("2024-03-12T09:14:00.000+0000", datetime(2024, 3, 12, 9, 14, tzinfo=UTC)),
        ("2024-03-12T11:14:00+02:00", datetime(2024, 3, 12, 9, 14, tzinfo=UTC)),
        ("2024-03-12", datetime(2024, 3, 12, tzinfo=UTC)),
        ("1710234840000", datetime(2024, 3, 12, 9, 14, tzinfo=UTC)),
        ("", None),
        ("  ", None),
    ],
)
def test_crm_datetimes(text: str, expected: datetime | None) -> None:
    assert parse_crm_datetime(text) == expected


def test_naive_times_are_in_the_given_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_crm_datetime("2024-03-12 09:14", berlin) == datetime(
        2024, 3, 12, 8, 14, tzinfo=UTC
    )
    assert parse_crm_datetime("7/1/2024 9:00 AM", berlin) == datetime(2024, 7, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["31/02/2024", "2/31/2024", "13:00 3/1/2024", "3/1/2024 13:00 PM", "yesterday", "2024-13-45"],
)
def test_bad_datetimes_are_errors(text: str) -> None:
    with pytest.raises(MappingError, match="not a date"):
        parse_crm_datetime(text)


def test_dates_and_booleans() -> None:
    assert parse_crm_date("2024-03-05") == date(2024, 3, 5)
    assert parse_crm_date("3/5/2024") == date(2024, 3, 5)
    assert parse_crm_date("") is None
    with pytest.raises(MappingError):
        parse_crm_date("5.3.2024")
    assert [parse_bool(v) for v in ("true", "TRUE", "1", "yes")] == [True] * 4
    assert [parse_bool(v) for v in ("false", "", "0", "No")] == [False] * 4
    with pytest.raises(MappingError):
        parse_bool("perhaps")


def test_countries_and_mail_domains() -> None:
    assert country_code("United States") == "US"
    assert country_code("gb") == "GB"
    assert country_code("The Netherlands") == "NL"
    assert country_code("Atlantis") is None
    assert is_personal_mail_domain("gmail.com")
    assert not is_personal_mail_domain("acme.com")


def test_stage_path_orders_dated_steps_and_appends_the_current_state() -> None:
    dated = [
        StageStep(Stage.INTENT, T + timedelta(days=5)),
        StageStep(Stage.AWARENESS, T),
        StageStep(Stage.CONSIDERATION, T + timedelta(days=2)),
        StageStep(Stage.INTENT, T + timedelta(days=7)),  # SQL after MQL: same state
    ]
    final = [StageStep(Stage.INTENT), StageStep(Stage.DISQUALIFIED, reason=StageReason.BAD_FIT)]
    assert stage_path(dated, final) == [
        StageStep(Stage.AWARENESS, T),
        StageStep(Stage.CONSIDERATION, T + timedelta(days=2)),
        StageStep(Stage.INTENT, T + timedelta(days=5)),
        StageStep(Stage.DISQUALIFIED, T + timedelta(days=5), StageReason.BAD_FIT),
    ]


def test_replay_from_nothing_takes_every_legal_step() -> None:
    path = [
        StageStep(Stage.AWARENESS, T),
        StageStep(Stage.CONSIDERATION, T + timedelta(days=1)),
        StageStep(Stage.CONVERSION, T + timedelta(days=9)),
    ]
    assert replay(None, path, last_at=None, default_at=T) == [
        PlannedMove(None, Stage.AWARENESS, T),
        PlannedMove(Stage.AWARENESS, Stage.CONSIDERATION, T + timedelta(days=1)),
        PlannedMove(Stage.CONSIDERATION, Stage.CONVERSION, T + timedelta(days=9)),
    ]


def test_replay_only_moves_forward_and_never_before_the_last_change() -> None:
    path = [StageStep(Stage.CONSIDERATION, T), StageStep(Stage.CONVERSION, T)]
    later = T + timedelta(days=30)
    assert replay(Stage.INTENT, path, last_at=later, default_at=T) == [
        PlannedMove(Stage.INTENT, Stage.CONVERSION, later)
    ]


def test_replaying_a_path_already_lived_yields_nothing() -> None:
    path = [
        StageStep(Stage.CONSIDERATION, T),
        StageStep(Stage.NURTURE, T, StageReason.NOT_NOW),
    ]
    first = replay(None, path, last_at=None, default_at=T)
    assert [m.to_stage for m in first] == [Stage.CONSIDERATION, Stage.NURTURE]
    # nurture → consideration is legal (re-engagement), but it is history already lived here.
    assert replay(Stage.NURTURE, path, last_at=T, default_at=T) == []


def test_replay_skips_what_the_rules_refuse() -> None:
    path = [StageStep(Stage.CONSIDERATION, T), StageStep(Stage.INTENT, T)]
    assert replay(Stage.DISQUALIFIED, path, last_at=None, default_at=T) == []
    assert replay(Stage.GROW, path, last_at=None, default_at=T) == []


def test_onefunnel_steps_follow_the_reason_rules() -> None:
    assert onefunnel_step("Intent", "") == StageStep(Stage.INTENT)
    assert onefunnel_step("nurture", "not_now") == StageStep(
        Stage.NURTURE, None, StageReason.NOT_NOW
    )
    assert onefunnel_step("", "") is None
    with pytest.raises(MappingError, match="needs a reason"):
        onefunnel_step("nurture", "")
    with pytest.raises(MappingError, match="only given for nurture or disqualified"):
        onefunnel_step("intent", "bad_fit")
    with pytest.raises(MappingError, match="unknown stage"):
        onefunnel_step("hot", "")
