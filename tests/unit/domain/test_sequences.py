"""The rules of email sequences: allowed variables, step checks, timing, stop reasons,
per-domain throttling and header-safe text."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.sequences import (
    Facts,
    SequenceError,
    StepSpec,
    StopCondition,
    StopReason,
    check_steps,
    first_send_at,
    header_text,
    is_plain_address,
    next_send_at,
    parse_stop_conditions,
    recipient_domain,
    stop_reason,
    throttle,
    unknown_variables,
)

T = datetime(2026, 3, 2, 9, tzinfo=UTC)
STEP = StepSpec(wait_days=0, subject="s", html="<p>h</p>", text="t")


def test_only_the_contacts_and_accounts_fields_and_the_unsubscribe_link_are_allowed() -> None:
    assert unknown_variables(["contact.first_name", "account.name", "unsubscribe_url"]) == []
    assert unknown_variables(
        ["contact.password", "contact.first_name.upper", "user", "settings.SECRET_KEY", "user"]
    ) == ["contact.first_name.upper", "contact.password", "settings.SECRET_KEY", "user"]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "steps: a sequence needs at least one step"),
        ([STEP] * 51, "steps: at most 50"),
        ([StepSpec(-1, "s", "h", "t")], r"steps\[0\]\.wait_days"),
        ([STEP, StepSpec(366, "s", "h", "t")], r"steps\[1\]\.wait_days"),
        ([StepSpec(True, "s", "h", "t")], r"steps\[0\]\.wait_days"),  # type: ignore[arg-type]
        ([StepSpec(0, " ", "h", "t")], r"steps\[0\]\.subject: required"),
        ([StepSpec(0, "s" * 201, "h", "t")], r"steps\[0\]\.subject: at most"),
        ([StepSpec(0, "s", "h", "")], r"steps\[0\]\.text: required"),
        ([StepSpec(0, "s", "", "t")], r"steps\[0\]\.html: required"),
    ],
)
def test_bad_steps_are_refused_naming_the_step(steps: list[StepSpec], message: str) -> None:
    with pytest.raises(SequenceError, match=message):
        check_steps(steps)


def test_stop_conditions_parse_and_unknown_ones_are_named() -> None:
    assert parse_stop_conditions(["replied", "replied", "handed_off"]) == (
        StopCondition.REPLIED,
        StopCondition.HANDED_OFF,
    )
    with pytest.raises(SequenceError, match="stop_on: unknown condition 'never'"):
        parse_stop_conditions(["never"])


def test_each_step_waits_after_the_previous_send() -> None:
    waits = [0, 3, 7]
    assert first_send_at(T, waits) == T
    assert next_send_at(T, waits, 0) == T + timedelta(days=3)
    assert next_send_at(T, waits, 1) == T + timedelta(days=7)
    assert next_send_at(T, waits, 2) is None


def test_suppression_stops_every_sequence_and_other_conditions_only_when_configured() -> None:
    none: list[StopCondition] = []
    assert stop_reason(none, Facts(bounced=True)) is StopReason.BOUNCED
    assert stop_reason(none, Facts(complained=True)) is StopReason.COMPLAINED
    assert stop_reason(none, Facts(unsubscribed=True)) is StopReason.UNSUBSCRIBED
    assert stop_reason(none, Facts(has_address=False)) is StopReason.NO_ADDRESS
    assert stop_reason(none, Facts(replied=True, booked_demo=True, handed_off=True)) is None
    every = list(StopCondition)
    assert stop_reason(every, Facts(replied=True)) is StopReason.REPLIED
    assert stop_reason(every, Facts(booked_demo=True)) is StopReason.BOOKED_DEMO
    assert stop_reason(every, Facts(handed_off=True)) is StopReason.HANDED_OFF
    assert stop_reason(every, Facts()) is None


@given(
    st.lists(st.sampled_from(["a.example", "b.example", "c.example"]), max_size=60),
    st.dictionaries(st.sampled_from(["a.example", "b.example"]), st.integers(0, 6)),
    st.integers(1, 5),
)
def test_throttling_never_exceeds_the_allowance_and_keeps_order(
    domains: list[str], already: dict[str, int], per_minute: int
) -> None:
    due = list(enumerate(domains))
    send, wait = throttle(due, already, per_minute)
    assert sorted(send + wait) == [i for i, _ in due]
    counts = Counter(domains[i] for i in send)
    for domain, n in counts.items():
        assert n + already.get(domain, 0) <= per_minute
    for i in wait:  # only waits when its domain's allowance is used up
        assert counts[domains[i]] + already.get(domains[i], 0) >= per_minute
    assert send == sorted(send)


@given(st.text())
def test_header_text_never_holds_a_line_break(value: str) -> None:
    cleaned = header_text(value)
    assert "\r" not in cleaned
    assert "\n" not in cleaned
    assert cleaned == cleaned.strip()


def test_header_text_keeps_ordinary_text() -> None:
    assert header_text("Hello\r\nBcc: x@y.example") == "Hello Bcc: x@y.example"
    assert header_text("Zoë  Müller") == "Zoë Müller"


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("eve@acme.example", True),
        ("first.last+tag@sub.acme.example", True),
        ("eve@acme.example\r\nBcc: x@y.example", False),
        ("eve@acme.example, x@y.example", False),
        ("Eve <eve@acme.example>", False),
        ("eve", False),
        ("eve@", False),
        ("a" * 250 + "@b.example", False),
    ],
)
def test_plain_addresses(address: str, ok: bool) -> None:
    assert is_plain_address(address) is ok


def test_recipient_domain_is_lower_case() -> None:
    assert recipient_domain("Eve@ACME.Example") == "acme.example"
