"""Sessions: events without a source of their own inherit their session's channel and campaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.sessions import LastEvent, Source, sessionise
from onefunnel.domain.touches import Channel

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DIRECT = Source(Channel.DIRECT)
PAID = Source(Channel.PAID_SEARCH, 7)
EMAIL = Source(Channel.EMAIL, 8)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_events_after_a_landing_page_inherit_its_source() -> None:
    out = sessionise([(at(0), PAID), (at(2), DIRECT), (at(20), DIRECT), (at(45), DIRECT)])
    assert [s.source for s in out] == [PAID, PAID, PAID, PAID]
    assert [s.session for s in out] == [0, 0, 0, 0]
    assert [s.starts for s in out] == [True, False, False, False]


def test_a_gap_over_thirty_minutes_starts_a_new_direct_session() -> None:
    out = sessionise([(at(0), PAID), (at(30), DIRECT), (at(61), DIRECT)])
    assert [s.source for s in out] == [PAID, PAID, DIRECT]
    assert [s.session for s in out] == [0, 0, 1]


def test_the_gap_is_configurable() -> None:
    out = sessionise([(at(0), PAID), (at(10), DIRECT)], gap=timedelta(minutes=5))
    assert [s.source for s in out] == [PAID, DIRECT]


def test_a_new_campaign_starts_a_new_session() -> None:
    out = sessionise([(at(0), PAID), (at(5), EMAIL), (at(6), DIRECT)])
    assert [s.source for s in out] == [PAID, EMAIL, EMAIL]
    assert [s.session for s in out] == [0, 1, 1]


def test_the_same_source_again_continues_the_session() -> None:
    out = sessionise([(at(0), PAID), (at(5), PAID), (at(6), DIRECT)])
    assert [s.session for s in out] == [0, 0, 0]


def test_a_direct_landing_then_a_campaign_click_is_two_sessions() -> None:
    out = sessionise([(at(0), DIRECT), (at(3), PAID), (at(4), DIRECT)])
    assert [s.source for s in out] == [DIRECT, PAID, PAID]


def test_a_session_continues_from_the_previous_batch() -> None:
    out = sessionise([(at(10), DIRECT)], previous=LastEvent(at(0), PAID))
    assert out[0].source == PAID
    assert not out[0].starts
    late = sessionise([(at(-5), DIRECT)], previous=LastEvent(at(0), PAID))
    assert late[0].source == DIRECT
    assert late[0].starts


SOURCES = st.sampled_from([DIRECT, PAID, EMAIL, Source(Channel.ORGANIC_SEARCH)])
EVENTS = st.lists(st.tuples(st.integers(min_value=0, max_value=600), SOURCES), max_size=30).map(
    lambda xs: sorted(((at(m), s) for m, s in xs), key=lambda e: e[0])
)


@given(EVENTS)
def test_labels_never_change_the_number_of_touches(events: list[tuple[datetime, Source]]) -> None:
    assert len(sessionise(events)) == len(events)


@given(EVENTS)
def test_a_sessions_first_event_keeps_its_own_source(events: list[tuple[datetime, Source]]) -> None:
    out = sessionise(events)
    for (_, own), labelled in zip(events, out, strict=True):
        if labelled.starts:
            assert labelled.source == own
        # An event with a source of its own is never relabelled with another one.
        if own.given:
            assert labelled.source == own


@given(EVENTS)
def test_every_label_is_its_sessions_first_source(events: list[tuple[datetime, Source]]) -> None:
    out = sessionise(events)
    first: dict[int, Source] = {}
    for labelled in out:
        first.setdefault(labelled.session, labelled.source)
        assert labelled.source == first[labelled.session]
    assert [s.session for s in out] == sorted(s.session for s in out)
