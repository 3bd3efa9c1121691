"""What a touch was, in words: describe_touch over the shapes touches are stored in."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.touches import TouchKind, describe_touch


def tracked(kind: str, event: str = "", **extra: Any) -> dict[str, Any]:
    stored: dict[str, Any] = {"type": kind}
    if event:
        stored["event"] = event
    stored.update(extra)
    return stored


def test_page_view_names_title_and_path() -> None:
    props = tracked(
        "page", page={"title": "Pricing", "path": "/pricing", "url": "https://x.io/pricing"}
    )
    assert describe_touch(TouchKind.HIGH_INTENT_PAGE, props) == "viewed page 'Pricing' (/pricing)"


def test_page_view_without_title_names_the_url() -> None:
    props = tracked("page", page={"url": "https://x.io/blog/a"})
    assert describe_touch("page_view", props) == "viewed page 'https://x.io/blog/a'"
    assert describe_touch("page_view", {}) == "viewed a page"


def test_track_event_names_the_event() -> None:
    assert describe_touch("hand_raise", tracked("track", "Demo Requested")) == (
        "event 'Demo Requested'"
    )
    props = tracked("track", "Video Played", page={"path": "/tour"})
    assert describe_touch("custom", props) == "event 'Video Played' on /tour"


def test_form_submission_names_the_form() -> None:
    props = tracked("track", "Form Submitted", properties={"form_name": "Contact sales"})
    assert describe_touch("form_submit", props) == (
        "submitted form 'Contact sales' (event 'Form Submitted')"
    )
    assert describe_touch("form_submit", {"form": "Newsletter"}) == "submitted form 'Newsletter'"


def test_email_names_the_subject() -> None:
    props = tracked("track", "Email Opened", properties={"email_subject": "Spring webinar"})
    assert describe_touch("email_open", props) == "opened email 'Spring webinar'"
    assert describe_touch("email_click", {"subject": "Q3 report"}) == "clicked email 'Q3 report'"
    assert describe_touch("sales_email", {"subject": "Follow-up"}) == "sales email 'Follow-up'"


def test_sales_touches_name_outcome_and_subject() -> None:
    assert describe_touch("call", {"outcome": "connected"}) == "call: outcome connected"
    assert describe_touch("meeting", {"subject": "Discovery", "notes": "budget ok"}) == (
        "meeting: 'Discovery', note 'budget ok'"
    )
    assert describe_touch("demo", {}) == "demo"


def test_content_names_the_asset() -> None:
    props = tracked("track", "Whitepaper Downloaded", properties={"title": "State of B2B"})
    assert describe_touch("content_download", props) == (
        "downloaded 'State of B2B' (event 'Whitepaper Downloaded')"
    )


def test_profile_messages_stored_before_they_stopped_being_touches() -> None:
    assert describe_touch("custom", tracked("identify")) == "profile update (identify)"


def test_unknown_kind_and_odd_values_fall_back_to_words() -> None:
    assert describe_touch("not_a_kind", None) == "not a kind"
    assert describe_touch("custom", {"event": ["a"], "page": "x"}) == "custom"
    long = "x" * 500
    assert len(describe_touch("custom", {"event": long})) <= 130


@given(
    st.sampled_from(list(TouchKind)),
    st.dictionaries(
        st.sampled_from(["type", "event", "properties", "page", "subject", "form", "title"]),
        st.none()
        | st.integers()
        | st.text(max_size=20)
        | st.dictionaries(
            st.sampled_from(["title", "path", "form", "outcome"]), st.text(max_size=20)
        ),
        max_size=4,
    ),
)
def test_any_stored_shape_gives_one_short_line(kind: TouchKind, props: dict[str, Any]) -> None:
    text = describe_touch(kind, props)
    assert text
    assert "\n" not in text
    assert len(text) <= 3 * 130
