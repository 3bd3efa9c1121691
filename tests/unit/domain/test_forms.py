"""Form definitions and submissions (domain/forms.py): what a form may ask, and what a
submission may carry."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.forms import (
    HONEYPOT,
    MAX_SUBMITTED_FIELDS,
    MAX_VALUE_CHARS,
    FieldType,
    FormDefinition,
    FormError,
    SubmissionError,
    check_definition,
    check_origin,
    consent_version,
    read_submission,
    single_line,
    touch_kind,
    utm_from_url,
)
from onefunnel.domain.provenance import FORM, TRACKING, fillable, stamped
from onefunnel.domain.touches import TouchKind

EMAIL = {"name": "email", "label": "Email", "type": "email", "required": True}


def _form(**kwargs: Any) -> FormDefinition:
    values: dict[str, Any] = {
        "name": "Request a demo",
        "slug": "demo",
        "fields": [
            EMAIL,
            {"name": "first_name", "label": "First name", "required": True},
            {"name": "company", "label": "Company"},
            {"name": "message", "label": "Message", "type": "textarea"},
            {"name": "newsletter", "label": "Send me news", "type": "checkbox"},
        ],
        "consent_text": "I agree that Acme may contact me about my request.",
    }
    values.update(kwargs)
    return check_definition(**values)


# ------------------------------------------------------------------------------ definitions


def test_a_valid_definition_keeps_its_fields_in_order() -> None:
    form = _form()
    assert [f.name for f in form.fields] == [
        "email", "first_name", "company", "message", "newsletter",
    ]  # fmt: skip
    assert form.fields[3].type is FieldType.TEXTAREA
    assert form.fields[1].required
    assert not form.fields[2].required


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"slug": "Demo Form"}, "slug"),
        ({"slug": "-demo"}, "slug"),
        ({"fields": []}, "fields"),
        ({"fields": [{"name": "first_name"}]}, "fields"),  # no email
        ({"fields": [EMAIL, {"name": "Bad Name"}]}, "fields[1].name"),
        ({"fields": [EMAIL, {"name": "utm_source"}]}, "fields[1].name"),  # reserved
        ({"fields": [EMAIL, {"name": HONEYPOT}]}, "fields[1].name"),
        ({"fields": [EMAIL, {"name": "x", "type": "password"}]}, "fields[1].type"),
        ({"fields": [EMAIL, {"name": "x", "required": "yes"}]}, "fields[1].required"),
        ({"fields": [EMAIL, EMAIL]}, "fields[1].name"),
        ({"fields": [{**EMAIL, "required": False}]}, "fields[0]"),
        ({"fields": [EMAIL] + [{"name": f"f{i}"} for i in range(60)]}, "fields"),
        ({"redirect_url": "javascript:alert(1)"}, "redirect_url"),
        ({"redirect_url": "/thanks"}, "redirect_url"),
        ({"consent_text": "x" * 5000}, "consent_text"),
        ({"hand_raise": "true"}, "hand_raise"),
    ],
)
def test_a_wrong_definition_names_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(FormError) as caught:
        _form(**changes)
    assert str(caught.value).startswith(f"{field}:")


def test_crlf_in_a_name_or_label_is_folded_into_one_line() -> None:
    form = _form(name="Demo\r\nBcc: victim@example.com")
    assert form.name == "Demo Bcc: victim@example.com"
    assert "\n" not in form.name
    assert "\r" not in form.name


def test_consent_version_is_the_hash_of_the_exact_text() -> None:
    assert consent_version("") == ""
    one, two = consent_version("I agree."), consent_version("I agree!")
    assert len(one) == 64
    assert one != two
    assert _form().consent_version == consent_version(_form().consent_text)


def test_a_hand_raise_form_records_a_hand_raise_touch() -> None:
    assert touch_kind(False) is TouchKind.FORM_SUBMIT
    assert _form(hand_raise=True).touch_kind is TouchKind.HAND_RAISE


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("https://www.example.com", True),
        ("HTTP://localhost:8000/", True),
        ("https://www.example.com/page", False),
        ("ftp://example.com", False),
        ("https://user@example.com", False),
        ("example.com", False),
    ],
)
def test_origins_are_scheme_host_and_port(origin: str, ok: bool) -> None:
    if ok:
        assert check_origin(origin) == origin.lower().rstrip("/")
    else:
        with pytest.raises(FormError, match=r"^allowed_origins:"):
            check_origin(origin)


# ------------------------------------------------------------------------------ submissions

GOOD = {"email": "Ada@Example.com", "first_name": "Ada", "consent": "on"}


def test_a_submission_keeps_only_the_forms_fields() -> None:
    sent = {**GOOD, "company": "Acme", "is_admin": "true", "stage": "conversion"}
    got = read_submission(_form(), sent)
    assert got.email == "Ada@Example.com"
    assert dict(got.answers) == {
        "email": "Ada@Example.com", "first_name": "Ada", "company": "Acme", "newsletter": False,
    }  # fmt: skip
    assert dict(got.contact_fields) == {"first_name": "Ada"}
    assert got.consent
    assert not got.is_robot


def test_every_missing_required_field_is_named() -> None:
    with pytest.raises(SubmissionError) as caught:
        read_submission(_form(), {"first_name": "  "})
    assert [name for name, _ in caught.value.problems] == ["email", "first_name", "consent"]


def test_a_required_checkbox_must_be_ticked() -> None:
    form = _form(fields=[EMAIL, {"name": "terms", "type": "checkbox", "required": True}])
    with pytest.raises(SubmissionError, match="terms: required"):
        read_submission(form, {**GOOD, "terms": "off"})
    assert read_submission(form, {**GOOD, "terms": True}).answers["terms"] is True


def test_a_filled_honeypot_marks_a_robot_and_keeps_nothing() -> None:
    got = read_submission(_form(), {**GOOD, HONEYPOT: "http://spam.example"})
    assert got.is_robot
    assert got.email == ""
    assert not got.answers


def test_an_empty_honeypot_is_a_person() -> None:
    assert not read_submission(_form(), {**GOOD, HONEYPOT: ""}).is_robot


def test_too_many_fields_or_too_long_a_value_is_refused_whole() -> None:
    many = {**GOOD, **{f"x{i}": "1" for i in range(10_000)}}
    with pytest.raises(FormError, match=r"^fields: at most"):
        read_submission(_form(), many)
    with pytest.raises(FormError, match=r"^company: at most"):
        read_submission(_form(), {**GOOD, "company": "x" * 1_000_000})
    assert MAX_SUBMITTED_FIELDS < 10_000
    assert MAX_VALUE_CHARS < 1_000_000


def test_crlf_in_one_line_fields_cannot_start_a_new_line() -> None:
    sent = {**GOOD, "first_name": "Ada\r\nBcc: x@example.com", "message": "line 1\nline 2\r\x00"}
    got = read_submission(_form(), sent)
    assert got.answers["first_name"] == "Ada Bcc: x@example.com"
    assert got.answers["message"] == "line 1\nline 2"  # a message keeps its lines, no CR/NUL
    crlf = read_submission(_form(), {**GOOD, "message": "a\r\nb\rc\x00d"})
    assert crlf.answers["message"] == "a\nb\nc d"


def test_utm_comes_from_the_hidden_fields_else_the_page_else_the_forms_campaign() -> None:
    form = _form()
    hidden = {**GOOD, "utm_source": "google", "utm_campaign": "spring",
              "page_url": "https://x.example/?utm_campaign=other"}  # fmt: skip
    assert read_submission(form, hidden).utm.campaign == "spring"
    page = {**GOOD, "page_url": "https://x.example/p?utm_source=li&utm_medium=cpc&utm_campaign=q2"}
    got = read_submission(form, page, default_campaign="fallback")
    assert (got.utm.source, got.utm.medium, got.utm.campaign) == ("li", "cpc", "q2")
    assert got.page_url.startswith("https://x.example/p")
    assert read_submission(form, GOOD, default_campaign="fallback").utm.campaign == "fallback"


def test_the_anonymous_id_and_submission_id_are_read_bounded() -> None:
    got = read_submission(_form(), {**GOOD, "anonymous_id": "a" * 500, "submission_id": "s-1"})
    assert got.anonymous_id == "a" * 200
    assert got.submission_id == "s-1"


def test_json_values_that_are_not_text_are_refused_for_text_fields() -> None:
    with pytest.raises(SubmissionError, match="first_name: must be text"):
        read_submission(_form(), {**GOOD, "first_name": ["Ada"]})


def test_utm_from_a_broken_url_is_empty() -> None:
    assert utm_from_url("http://[::1") == utm_from_url("")


@given(st.text(max_size=300))
def test_single_line_never_holds_a_line_break(text: str) -> None:
    folded = single_line(text)
    assert not any(c in folded for c in "\r\n\x00\u2028\u2029")
    assert folded == folded.strip()


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=20))
def test_a_submission_is_read_or_refused_never_anything_else(sent: dict[str, str]) -> None:
    try:
        got = read_submission(_form(consent_text=""), {**sent, "email": "a@b.example"})
    except FormError:
        return
    assert set(got.answers) <= {f.name for f in _form().fields}


# ------------------------------------------------------------------------------ provenance


def test_a_form_fills_like_tracking_and_never_replaces_a_users_value() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 1, 1, tzinfo=UTC)
    by_form = stamped({}, {"title": "CTO"}, FORM, at)
    # A later form (or tracking) may replace what a form wrote ...
    assert fillable(by_form, {"title": "CTO"}, {"title": "CEO"}) == {"title": "CEO"}
    assert fillable(stamped({}, {"title": "CTO"}, TRACKING, at), {"title": "CTO"},
                    {"title": "CEO"}) == {"title": "CEO"}  # fmt: skip
    # ... never what a user set (no stamp, or the API's).
    assert fillable({}, {"title": "VP Sales"}, {"title": "CEO"}) == {}
    assert (
        fillable(stamped({}, {"title": "VP"}, "api", at), {"title": "VP"}, {"title": "CEO"}) == {}
    )
