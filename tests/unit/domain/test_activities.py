"""Pure activity and task rules."""

from __future__ import annotations

from datetime import date

import pytest

from onefunnel.domain.activities import (
    ActivityDraft,
    ActivityError,
    ActivityKind,
    ActivityOutcome,
    check_activity,
    check_task,
    is_overdue,
    parse_kind,
    parse_outcome,
)
from onefunnel.domain.touches import ONE_TO_ONE_KINDS, TouchKind


def test_every_kind_but_a_note_is_a_one_to_one_touch() -> None:
    assert ActivityKind.EMAIL.touch_kind is TouchKind.SALES_EMAIL
    assert ActivityKind.NOTE.touch_kind is None
    assert {k.touch_kind for k in ActivityKind if k is not ActivityKind.NOTE} == ONE_TO_ONE_KINDS


def test_parsing_names_the_field() -> None:
    assert parse_kind(" Call ") is ActivityKind.CALL
    assert parse_outcome("left message") is ActivityOutcome.LEFT_MESSAGE
    assert parse_outcome("") is None
    with pytest.raises(ActivityError, match=r"^kind: "):
        parse_kind("fax")
    with pytest.raises(ActivityError, match=r"^outcome: "):
        parse_outcome("great")


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (ActivityDraft(ActivityKind.CALL, False, False, False), "contact_id"),
        (ActivityDraft(ActivityKind.CALL, True, False, False, duration_minutes=-1), "duration"),
        (ActivityDraft(ActivityKind.CALL, True, False, False, duration_minutes=1441), "duration"),
        (ActivityDraft(ActivityKind.NOTE, True, False, False, notes="  "), "notes"),
        (ActivityDraft(ActivityKind.NOTE, True, False, False, notes="x" * 10_001), "notes"),
    ],
)
def test_bad_activities(draft: ActivityDraft, field: str) -> None:
    with pytest.raises(ActivityError, match=f"^{field}"):
        check_activity(draft)


def test_good_activities_pass() -> None:
    check_activity(ActivityDraft(ActivityKind.DEMO, False, False, True, duration_minutes=1440))
    check_activity(ActivityDraft(ActivityKind.NOTE, False, True, False, notes="budget in Q3"))


def test_tasks_need_title_owner_and_due_date_and_are_overdue_once_past_due() -> None:
    with pytest.raises(ActivityError, match=r"^owner: "):
        check_task(title="Call", owner_given=False, due=date(2026, 1, 1))
    with pytest.raises(ActivityError, match=r"^title: "):
        check_task(title=" ", owner_given=True, due=date(2026, 1, 1))
    with pytest.raises(ActivityError, match=r"^due: "):
        check_task(title="Call", owner_given=True, due=None)
    assert is_overdue(date(2026, 1, 1), done=False, today=date(2026, 1, 2))
    assert not is_overdue(date(2026, 1, 2), done=False, today=date(2026, 1, 2))
    assert not is_overdue(date(2026, 1, 1), done=True, today=date(2026, 1, 2))
