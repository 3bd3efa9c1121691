"""Segment messages: validation with named fields, clock-skew correction, touch and channel rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import Channel, TouchKind, advance_for_touch, stage_implied_by
from onefunnel.domain.tracking import (
    MAX_AHEAD,
    BatchError,
    EventError,
    EventType,
    TouchRules,
    account_fields,
    channel_for_event,
    contact_fields,
    correct_timestamp,
    parse_batch,
    parse_body,
    parse_event,
    parse_single,
    plan_stage_moves,
    rules_from_config,
    touch_kind,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _parse(raw: dict[str, Any], **kw: Any) -> Any:
    return parse_event(raw, loc="batch[0]", received_at=NOW, **kw)


def _page(**kw: Any) -> dict[str, Any]:
    return {"type": "page", "messageId": "m1", "anonymousId": "a1", **kw}


# --- time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "sent", "expected"),
    [
        # the device clock runs 1 h fast; the event was 10 s before sending: keep the 10 s
        (NOW + timedelta(minutes=59, seconds=50), NOW + timedelta(hours=1), NOW - timedelta(seconds=10)),
        # a clock 1 day slow, event 5 min before sending
        (NOW - timedelta(days=1, minutes=5), NOW - timedelta(days=1), NOW - timedelta(minutes=5)),
        # no sentAt: the client's time as is
        (NOW - timedelta(hours=3), None, NOW - timedelta(hours=3)),
        # never after it was received
        (NOW + timedelta(hours=2), None, NOW),
        # no time at all: when it arrived
        (None, NOW, NOW),
    ],
)  # fmt: skip
def test_correct_timestamp(
    original: datetime | None, sent: datetime | None, expected: datetime
) -> None:
    assert correct_timestamp(original, sent, NOW) == expected


def test_original_timestamp_wins_over_timestamp_and_sent_at_is_per_message() -> None:
    event = _parse(
        _page(
            originalTimestamp="2026-03-02T13:00:00Z",
            timestamp="2020-01-01T00:00:00Z",
            sentAt="2026-03-02T13:00:30+00:00",
        ),
        sent_at=NOW,
    )
    assert event.timestamp == NOW - timedelta(seconds=30)


def test_naive_times_are_utc() -> None:
    event = _parse(_page(timestamp="2026-03-02T11:00:00"))
    assert event.timestamp == NOW - timedelta(hours=1)


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "loc", "fragment"),
    [
        ({"type": "nope", "anonymousId": "a"}, "batch[0].type", "must be one of"),
        ({"type": "track", "anonymousId": "a"}, "batch[0].event", "required for track"),
        ({"type": "track", "event": "X"}, "batch[0].userId", "userId or anonymousId"),
        ({"type": "track", "event": "X", "userId": None, "anonymousId": None}, "batch[0].userId", "userId or anonymousId"),
        ({"type": "group", "userId": "u"}, "batch[0].groupId", "required for group"),
        ({"type": "alias", "userId": "u"}, "batch[0].previousId", "required for alias"),
        ({"type": "alias", "previousId": "p"}, "batch[0].userId", "required for alias"),
        ({"type": "page", "anonymousId": "a", "timestamp": "yesterday"}, "batch[0].timestamp", "ISO 8601"),
        ({"type": "page", "anonymousId": {"x": 1}}, "batch[0].anonymousId", "string or a number"),
        ({"type": "page", "anonymousId": "a" * 201}, "batch[0].anonymousId", "at most 200"),
        ({"type": "page", "anonymousId": "a", "properties": [1]}, "batch[0].properties", "must be an object"),
        ({"type": "page", "anonymousId": "a", "context": {"campaign": {"name": 5}}}, "batch[0].context.campaign.name", "must be a string"),
        ({"type": "page", "anonymousId": "a", "messageId": True}, "batch[0].messageId", "string or a number"),
    ],
)  # fmt: skip
def test_invalid_messages_name_the_field(raw: dict[str, Any], loc: str, fragment: str) -> None:
    with pytest.raises(EventError) as caught:
        _parse(raw)
    assert caught.value.loc == loc
    assert fragment in caught.value.msg
    assert str(caught.value).startswith(f"{loc}: ")


def test_deep_nesting_is_refused() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(EventError, match="nested deeper than 32"):
        _parse(_page(properties=deep))
    shallow: dict[str, Any] = {"a": {"b": {"c": [1, {"d": 2}]}}}
    assert _parse(_page(properties=shallow)).properties == shallow


def test_ids_may_be_numbers_or_null() -> None:
    event = _parse({"type": "track", "event": "X", "userId": 42, "anonymousId": None})
    assert event.user_id == "42"
    assert event.anonymous_id is None


def test_a_message_without_id_gets_a_stable_content_id() -> None:
    raw = {"type": "page", "anonymousId": "a", "timestamp": "2026-03-02T10:00:00Z"}
    first, again = _parse(dict(raw)), _parse(dict(raw))
    other = _parse({**raw, "anonymousId": "b"})
    assert first.message_id == again.message_id
    assert first.message_id.startswith("sha256:")
    assert other.message_id != first.message_id


def test_traits_come_from_traits_or_context_traits() -> None:
    rudder = _parse({"type": "identify", "userId": "u", "context": {"traits": {"email": "a@b.co"}}})
    segment = _parse(
        {"type": "identify", "userId": "u", "traits": {"email": "x@y.co"}, "context": {}}
    )
    assert rudder.traits == {"email": "a@b.co"}
    assert segment.traits == {"email": "x@y.co"}


def test_utm_and_page_come_from_context() -> None:
    event = _parse(
        _page(
            context={
                "campaign": {
                    "name": " spring ",
                    "source": "google",
                    "medium": "cpc",
                    "term": "crm",
                },
                "page": {"path": "/pricing", "referrer": "https://www.google.com/"},
            },
            properties={"url": "https://acme.io/pricing"},
        )
    )
    assert (event.utm.campaign, event.utm.source, event.utm.medium) == ("spring", "google", "cpc")
    assert event.utm.term == "crm"
    assert event.page.path == "/pricing"
    assert event.page.url == "https://acme.io/pricing"
    assert event.page.as_dict()["referrer"] == "https://www.google.com/"


def test_batch_context_is_under_the_message_context() -> None:
    batch = parse_batch(
        {
            "batch": [_page(), _page(messageId="m2", context={"campaign": {"name": "own"}})],
            "context": {"campaign": {"name": "shared"}},
        },
        received_at=NOW,
    )
    assert [e.utm.campaign for e in batch.events] == ["shared", "own"]


def test_a_batch_keeps_good_messages_and_reports_bad_ones() -> None:
    batch = parse_batch(
        {
            "batch": [_page(), {"type": "track", "anonymousId": "a"}, _page(messageId="m3")],
            "writeKey": "k",
            "sentAt": NOW.isoformat(),
        },
        received_at=NOW,
    )
    assert [e.message_id for e in batch.events] == ["m1", "m3"]
    assert [e.loc for e in batch.errors] == ["batch[1].event"]
    assert batch.write_key == "k"


@pytest.mark.parametrize(
    "body", [[], "x", None, {}, {"batch": []}, {"batch": {}}, {"batch": [1], "context": "no"}]
)
def test_bodies_that_are_not_batches(body: object) -> None:
    with pytest.raises(BatchError):
        parse_batch(body, received_at=NOW)


def test_single_message_endpoints_imply_the_type() -> None:
    parsed = parse_single(
        {"event": "Demo Requested", "userId": "u"}, EventType.TRACK, received_at=NOW
    )
    assert parsed.events[0].type is EventType.TRACK
    bad = parse_single({"userId": "u"}, EventType.TRACK, received_at=NOW)
    assert [e.loc for e in bad.errors] == ["body.event"]


# --- touches and channels -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ({"type": "track", "event": "Demo Requested"}, TouchKind.HAND_RAISE),
        ({"type": "track", "event": "demo_requested"}, TouchKind.HAND_RAISE),
        ({"type": "track", "event": "Pricing Viewed"}, TouchKind.HIGH_INTENT_PAGE),
        ({"type": "track", "event": "Email Link Clicked"}, TouchKind.EMAIL_CLICK),
        ({"type": "track", "event": "Feature Used"}, TouchKind.CUSTOM),
        ({"type": "page", "context": {"page": {"path": "/pricing/"}}}, TouchKind.HIGH_INTENT_PAGE),
        ({"type": "page", "properties": {"url": "https://a.io/plans/team?x=1"}}, TouchKind.HIGH_INTENT_PAGE),
        ({"type": "page", "context": {"page": {"path": "/pricing-history"}}}, TouchKind.PAGE_VIEW),
        ({"type": "screen", "name": "Home"}, TouchKind.PAGE_VIEW),
        ({"type": "identify", "traits": {}}, TouchKind.CUSTOM),
    ],
)  # fmt: skip
def test_default_touch_kinds(raw: dict[str, Any], kind: TouchKind) -> None:
    event = _parse({"anonymousId": "a", **raw})
    assert touch_kind(event, TouchRules()) is kind


def test_configured_event_kinds_override_the_defaults() -> None:
    rules = rules_from_config({"Feature Used": "content_download", "Demo Requested": "event"})
    used = _parse({"type": "track", "event": "feature-used", "anonymousId": "a"})
    demo = _parse({"type": "track", "event": "Demo Requested", "anonymousId": "a"})
    assert touch_kind(used, rules) is TouchKind.CONTENT_DOWNLOAD
    assert touch_kind(demo, rules) is TouchKind.EVENT


def test_bad_configuration_names_the_entry() -> None:
    with pytest.raises(ValueError, match=r"ONEFUNNEL_EVENT_KINDS\['X'\]: unknown value 'nope'"):
        rules_from_config({"X": "nope"})
    with pytest.raises(ValueError, match="ONEFUNNEL_UTM_CHANNELS"):
        rules_from_config(utm_channels={"cpc": "carrier_pigeon"})


def _with(context: dict[str, Any]) -> Any:
    return _parse(_page(context=context))


@pytest.mark.parametrize(
    ("context", "channel"),
    [
        ({"campaign": {"source": "google", "medium": "cpc"}}, Channel.PAID_SEARCH),
        ({"campaign": {"source": "bing", "medium": "ppc"}}, Channel.PAID_SEARCH),
        ({"campaign": {"source": "linkedin", "medium": "cpc"}}, Channel.PAID_SOCIAL),
        ({"campaign": {"source": "newsletter", "medium": "email"}}, Channel.EMAIL),
        ({"campaign": {"source": "twitter", "medium": ""}}, Channel.SOCIAL),
        ({"campaign": {"source": "blog", "medium": "referral"}}, Channel.REFERRAL),
        ({"campaign": {"source": "google", "medium": "organic"}}, Channel.ORGANIC_SEARCH),
        ({"page": {"referrer": "https://www.google.de/search?q=x"}}, Channel.ORGANIC_SEARCH),
        ({"page": {"referrer": "https://t.co/abc"}}, Channel.SOCIAL),
        ({"page": {"referrer": "https://news.example/post", "url": "https://acme.io/"}}, Channel.REFERRAL),
        ({"page": {"referrer": "https://acme.io/blog", "url": "https://acme.io/"}}, Channel.DIRECT),
        ({}, Channel.DIRECT),
    ],
)  # fmt: skip
def test_default_channels(context: dict[str, Any], channel: Channel) -> None:
    assert channel_for_event(_with(context), TouchRules()) is channel


def test_configured_channels_most_specific_first() -> None:
    rules = rules_from_config(
        utm_channels={"cpc": "display", "capterra/cpc": "partner", "g2/": "referral"}
    )

    def channel(source: str, medium: str) -> Channel:
        return channel_for_event(_with({"campaign": {"source": source, "medium": medium}}), rules)

    assert channel("google", "cpc") is Channel.DISPLAY
    assert channel("Capterra", "CPC") is Channel.PARTNER
    assert channel("g2", "anything") is Channel.REFERRAL
    assert channel("x", "email") is Channel.EMAIL


# --- stage moves --------------------------------------------------------------------------

T = datetime(2026, 1, 1, tzinfo=UTC)


def test_plan_replays_touches_in_time_order() -> None:
    touches = [
        (TouchKind.HAND_RAISE, T + timedelta(hours=3), "3"),
        (TouchKind.PAGE_VIEW, T + timedelta(hours=1), "1"),
        (TouchKind.WEBINAR, T + timedelta(hours=2), "2"),
    ]
    moves = plan_stage_moves(None, touches, known=True)
    assert [(m.to_stage, m.cause) for m in moves] == [
        (Stage.AWARENESS, "1"),
        (Stage.CONSIDERATION, "2"),
        (Stage.INTENT, "3"),
    ]
    assert plan_stage_moves(Stage.CONVERSION, touches, known=True) == []
    anonymous = plan_stage_moves(None, touches[1:], known=False)
    assert [m.to_stage for m in anonymous] == [Stage.AWARENESS]


@given(
    st.sampled_from([None, *Stage]),
    st.lists(st.tuples(st.sampled_from(list(TouchKind)), st.integers(0, 10_000)), max_size=12),
    st.booleans(),
)
def test_plan_equals_recording_touches_one_by_one(
    start: Stage | None, raw: list[tuple[TouchKind, int]], known: bool
) -> None:
    touches = [(k, T + timedelta(minutes=m), str(i)) for i, (k, m) in enumerate(raw)]
    state = start
    expected = []
    for kind, at, cause in sorted(touches, key=lambda t: t[1]):
        target = advance_for_touch(state, stage_implied_by(kind, known=known))
        if target is not None:
            expected.append((target, at, cause))
            state = target
    moves = plan_stage_moves(start, touches, known=known)
    assert [(m.to_stage, m.at, m.cause) for m in moves] == expected


# --- traits -------------------------------------------------------------------------------


def test_contact_traits() -> None:
    email, fields = contact_fields(
        {
            "email": " Ada@Example.com ",
            "name": "Ada King Lovelace",
            "title": "CTO",
            "address": {"country": "gb"},
            "plan": "pro",
        },
        "batch[0].traits",
    )
    assert email == "Ada@Example.com"
    assert fields == {
        "title": "CTO",
        "first_name": "Ada",
        "last_name": "King Lovelace",
        "country": "GB",
        "properties": {"name": "Ada King Lovelace", "address": {"country": "gb"}, "plan": "pro"},
    }
    with pytest.raises(EventError) as caught:
        contact_fields({"firstName": "x" * 101}, "batch[2].traits")
    assert caught.value.loc == "batch[2].traits.firstName"


def test_account_traits() -> None:
    domain, fields = account_fields(
        {"name": "Acme", "website": "https://acme.io", "employees": "1,200", "plan": "ent"},
        "batch[0].traits",
    )
    assert domain == "https://acme.io"
    assert fields == {"name": "Acme", "employee_count": 1200, "properties": {"plan": "ent"}}
    with pytest.raises(EventError, match=r"batch\[0\].traits.employees: must be a whole number"):
        account_fields({"employees": "many"}, "batch[0].traits")


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"timestamp": "9999-12-31T23:59:59-05:00"}, "batch[1].timestamp"),
        ({"originalTimestamp": "0001-01-01T00:00:00+05:00"}, "batch[1].originalTimestamp"),
        ({"timestamp": "0001-01-01T00:00:00Z"}, "batch[1].timestamp"),
        ({"timestamp": "2026-03-02T12:00:00Z", "sentAt": "9999-12-31T23:59:59-05:00"}, "batch[1].sentAt"),
        ({"timestamp": "0001-01-02T00:00:00Z", "sentAt": "9999-12-30T00:00:00Z"}, "batch[1].timestamp"),
        ({"timestamp": "1950-01-01T00:00:00Z", "sentAt": "9999-12-30T00:00:00Z"}, "batch[1].sentAt"),
        # far in the future: refused, not clamped to the time of receipt
        ({"timestamp": "9999-12-31T23:59:59Z"}, "batch[1].timestamp"),
        ({"timestamp": "9999-12-31T23:59:59+05:00"}, "batch[1].timestamp"),
        ({"originalTimestamp": "2200-01-01T00:00:00-05:00"}, "batch[1].originalTimestamp"),
        ({"sentAt": "9999-12-31T23:59:59-05:00"}, "batch[1].sentAt"),
        ({"sentAt": "0001-01-01T00:00:00+01:00"}, "batch[1].sentAt"),
    ],
)  # fmt: skip
def test_an_absurd_time_rejects_its_message_alone(fields: dict[str, str], loc: str) -> None:
    batch = parse_batch(
        {"batch": [_page(), _page(messageId="bad", **fields), _page(messageId="m3")]},
        received_at=NOW,
    )
    assert [e.message_id for e in batch.events] == ["m1", "m3"]
    assert [e.loc for e in batch.errors] == [loc]
    assert "range" in batch.errors[0].msg or "before" in batch.errors[0].msg


def test_a_clock_a_little_ahead_is_kept_and_clamped_but_a_year_ahead_is_refused() -> None:
    ahead = (NOW + timedelta(hours=3)).isoformat()
    too_far = (NOW + MAX_AHEAD + timedelta(seconds=1)).isoformat()
    batch = parse_batch(
        {"batch": [_page(timestamp=ahead), _page(messageId="far", timestamp=too_far)]},
        received_at=NOW,
    )
    assert [e.timestamp for e in batch.events] == [NOW]
    assert [e.loc for e in batch.errors] == ["batch[1].timestamp"]
    assert "366 days after" in batch.errors[0].msg


def test_an_absurd_batch_sent_at_rejects_only_the_messages_it_corrects() -> None:
    timed = _page(messageId="timed", timestamp="2026-03-02T11:00:00Z")
    own = _page(messageId="own", timestamp="2026-03-02T11:00:00Z", sentAt=NOW.isoformat())
    batch = parse_batch(
        {"batch": [_page(), timed, own], "sentAt": "9999-12-31T23:59:59-05:00"}, received_at=NOW
    )
    assert [e.message_id for e in batch.events] == ["m1", "own"]
    assert [e.loc for e in batch.errors] == ["batch[1].sentAt"]


def test_a_nul_character_rejects_its_message_alone() -> None:
    good = _page(messageId="good")
    bad = [
        _page(messageId="n1", name="Home\u0000"),
        _page(messageId="n2", properties={"x": ["a", {"b\u0000": 1}]}),
        {"type": "identify", "messageId": "n3", "userId": "u", "traits": {"firstName": "A\x00"}},
    ]
    text = orjson.dumps({"batch": [good, *bad]})
    assert b"\\u0000" in text  # JSON spells it as an escape
    batch = parse_body(text, None, received_at=NOW)
    assert [e.message_id for e in batch.events] == ["good"]
    assert [e.loc for e in batch.errors] == ["batch[1]", "batch[2]", "batch[3]"]
    assert all("NUL" in e.msg for e in batch.errors)
    with pytest.raises(BatchError, match="context: text may not contain"):
        parse_body(
            orjson.dumps({"batch": [good], "context": {"ip": "\x00"}}), None, received_at=NOW
        )
    single = parse_body(
        orjson.dumps({"userId": "u", "event": "A\x00"}), EventType.TRACK, received_at=NOW
    )
    assert [e.loc for e in single.errors] == ["body"]
