"""Email sequences in the browser (Django's test client): the list's and a sequence's numbers
equal the service's and the API's, every count lists as many records as it says, and the
parts add up; marketing creates, edits, enrolls a segment and pauses; other roles read but
are refused writes; a template with an unknown variable is refused with its field named and
nothing saved; a step previews for a contact."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from onefunnel.domain.stages import Stage
from onefunnel.models import Campaign, Contact, EmailSend, Sequence, SequenceStep
from onefunnel.services.access import SYSTEM
from onefunnel.services.marketing import email_events
from onefunnel.services.marketing.segments import create_segment
from onefunnel.services.marketing.sequence_numbers import (
    Measure,
    numbers_of,
    records_behind,
    sequence_numbers,
)
from onefunnel.services.marketing.sequence_sending import send_due
from onefunnel.services.marketing.sequences import create_sequence, enroll
from onefunnel.services.stages import change_stage
from tests.conftest import T0
from tests.integration.sales_fixtures import user

pytestmark = pytest.mark.django_db

MakeContact = Callable[..., Contact]

STEPS: list[dict[str, Any]] = [
    {
        "wait_days": 0,
        "subject": "Hello {{ contact.first_name }}",
        "html": '<p>Hi {{ contact.first_name }}</p><p><a href="https://example.com/a">A</a></p>',
        "text": "Hi {{ contact.first_name }}, see https://example.com/a",
    },
    {"wait_days": 2, "subject": "Again", "html": "<p>Again</p>", "text": "Again"},
]


def _client(name: str, *roles: str) -> Client:
    user(name, *roles, team="sales" if "sales_rep" in roles else None)
    client = Client()
    client.force_login(User.objects.get(username=name))
    return client


@pytest.fixture
def campaign(db: None) -> Campaign:
    return Campaign.objects.create(name="Nurture", utm_campaign="nurture-q1", channel="email")


@pytest.fixture
def history(campaign: Campaign, make_contact: MakeContact) -> int:
    """A sequence with five contacts through two steps: opens, a click, an unsubscribe, a
    reported bounce, and one contact still active."""
    sid = create_sequence(
        actor=SYSTEM, name="Win back", campaign="nurture-q1",
        from_email="news@onefunnel.example", steps=STEPS, entry_reasons=["not_now"],
    ).id  # fmt: skip
    people = [make_contact(f"p{i}@acme{i}.example", first_name=f"P{i}") for i in range(5)]
    for p in people:
        change_stage(p, Stage.CONSIDERATION)
    enroll(sid, [p.pk for p in people], actor=SYSTEM, now=T0)
    send_due(now=T0)
    sends = list(EmailSend.objects.order_by("pk"))
    email_events.record_open(sends[0].pk, now=T0 + timedelta(hours=1))
    email_events.record_open(sends[0].pk, now=T0 + timedelta(hours=2))  # one email, once
    email_events.record_open(sends[1].pk, now=T0 + timedelta(hours=1))
    email_events.record_click(sends[1].pk, "https://example.com/a", now=T0 + timedelta(hours=1))
    email_events.unsubscribe(sends[2].pk, now=T0 + timedelta(hours=3))
    email_events.record_event(
        "bounce", actor=SYSTEM, message_id=sends[3].message_id, now=T0 + timedelta(hours=4)
    )
    send_due(now=T0 + timedelta(days=2, hours=1))
    return sid


def _numbers_on(page: str, testid: str) -> list[int]:
    return [int(n) for n in re.findall(rf'data-testid="{testid}">(\d+)<', page)]


def test_the_numbers_on_the_pages_are_the_services_and_the_apis(history: int) -> None:
    n = numbers_of(history)
    # What happened, counted by hand: 5 first emails; 3 second ones (not to the unsubscribed
    # or bounced addresses); 2 opened, 1 clicked, 1 unsubscribed, 1 bounced.
    assert [s.emails.sent for s in n.steps] == [5, 3]
    assert (n.emails.opened, n.emails.clicked, n.emails.unsubscribed, n.emails.bounced) == (
        2, 1, 1, 1,
    )  # fmt: skip
    assert n.enrollments == {"active": 0, "completed": 3, "stopped": 2}
    assert n.stopped_by == {"bounced": 1, "unsubscribed": 1}
    assert n.sources == {"on_rejection": 0, "by_hand": 5}
    assert n.enrolled == sum(n.enrollments.values()) == sum(n.sources.values()) == 5

    marketer = _client("mia", "marketing")
    listing = marketer.get("/sequences").content.decode()
    for testid, value in (
        ("enrolled", 5),
        ("completed", 3),
        ("stopped", 2),
        ("sent", 8),
        ("opened", 2),
        ("clicked", 1),
        ("unsubscribed", 1),
        ("bounced", 1),
    ):
        assert _numbers_on(listing, testid) == [value], testid
    api = marketer.get(f"/api/sequences/{history}").json()
    assert api["enrollments"] == n.enrollments
    assert api["sent"] == n.emails.sent

    page = marketer.get(f"/sequences/{history}").content.decode()
    assert _numbers_on(page, "step-sent") == [s.emails.sent for s in n.steps]
    assert _numbers_on(page, "total-sent") == [sum(_numbers_on(page, "step-sent"))]
    assert _numbers_on(page, "step-opened") == [2, 0]
    assert "40%" in page  # 2 of the first step's 5 emails opened
    assert page.count('href="/contacts/') >= 5  # each enrollment links to its contact


@pytest.mark.parametrize("measure", [m.value for m in Measure])
def test_every_count_lists_as_many_records_as_it_says(history: int, measure: str) -> None:
    n = numbers_of(history)
    expected = {
        "enrolled": n.enrolled, "active": n.enrollments["active"],
        "completed": n.enrollments["completed"], "stopped": n.enrollments["stopped"],
        "on_rejection": n.sources["on_rejection"], "by_hand": n.sources["by_hand"],
        **n.emails.as_dict(),
    }[measure]  # fmt: skip
    assert len(records_behind(history, measure)) == expected
    if Measure(measure).of_sends:
        per_step = [len(records_behind(history, measure, step=s.position)) for s in n.steps]
        assert sum(per_step) == expected
    page = _client("lee", "leadership").get(f"/sequences/{history}/records?measure={measure}")
    assert page.status_code == 200
    assert f"{expected} record" in page.content.decode()


def test_stopped_by_reason_adds_up(history: int) -> None:
    n = numbers_of(history)
    by_reason = {r: len(records_behind(history, "stopped", reason=r)) for r in n.stopped_by}
    assert by_reason == n.stopped_by
    assert sum(by_reason.values()) == n.enrollments["stopped"]


def test_roles(history: int) -> None:
    marketer = _client("mia", "marketing")
    reader = _client("lee", "leadership")
    rep = _client("sam", "sales_rep")
    page = marketer.get("/sequences").content.decode()
    assert 'href="/sequences"' in page
    assert "New sequence" in page
    for client in (reader, rep):
        text = client.get(f"/sequences/{history}").content.decode()
        assert "Win back" in text
        assert "Edit the sequence" not in text
        assert "Pause" not in text
        assert client.get("/sequences/new").status_code == 403
        assert client.get(f"/sequences/{history}/edit").status_code == 403
        assert client.post(f"/sequences/{history}/active", {"active": "0"}).status_code == 403
        assert client.post(f"/sequences/{history}/enroll", {"segment": "1"}).status_code == 403
        assert client.post("/sequences/new", {"name": "x"}).status_code == 403
    assert Sequence.objects.get(pk=history).active
    # Only marketing has the nav entry (others reach sequences from marketing's pages).
    assert 'href="/sequences"' not in rep.get("/search").content.decode()


def _form(**over: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Welcome", "campaign": "nurture-q1", "from_email": "hi@onefunnel.example",
        "from_name": "Team", "stop_on": ["replied", "unsubscribed"],
        "entry_reasons": ["not_now", "no_budget"], "step_count": "2",
        "steps-0-wait_days": "1", "steps-0-subject": "Hi {{ contact.first_name }}",
        "steps-0-html": "<p>Hi {{ account.name }}</p>", "steps-0-text": "Hi",
        "steps-1-wait_days": "", "steps-1-subject": "", "steps-1-html": "", "steps-1-text": "",
    }  # fmt: skip
    data.update(over)
    return data


def test_marketing_creates_and_edits_a_sequence_in_the_browser(campaign: Campaign) -> None:
    marketer = _client("mia", "marketing")
    assert marketer.get("/sequences/new").status_code == 200
    made = marketer.post("/sequences/new", _form())
    assert made.status_code == 302
    row = Sequence.objects.get(name="Welcome")
    assert made["Location"] == f"/sequences/{row.pk}"
    assert row.entry_reasons == ["not_now", "no_budget"]
    assert row.stop_on == ["replied", "unsubscribed"]
    assert list(row.steps.values_list("wait_days", "subject")) == [
        (1, "Hi {{ contact.first_name }}")
    ]
    form = marketer.get(f"/sequences/{row.pk}/edit").content.decode()
    assert "Hi {{ account.name }}" in form.replace("&lt;", "<").replace("&gt;", ">")
    edited = marketer.post(
        f"/sequences/{row.pk}/edit",
        _form(**{"steps-1-wait_days": "3", "steps-1-subject": "Two",
                 "steps-1-html": "<p>2</p>", "steps-1-text": "2", "step_count": "2"}),
    )  # fmt: skip
    assert edited.status_code == 302
    assert SequenceStep.objects.filter(sequence=row).count() == 2


def test_an_unknown_variable_is_refused_with_its_field_named_and_nothing_saved(
    campaign: Campaign,
) -> None:
    marketer = _client("mia", "marketing")
    bad = marketer.post(
        "/sequences/new", _form(**{"steps-0-html": "<p>{{ contact.password }}</p>"})
    )
    assert bad.status_code == 422
    page = bad.content.decode()
    assert 'data-testid="error-steps-0-html"' in page
    assert "unknown variable contact.password" in page
    assert "{{ contact.password }}" in page.replace("&lt;", "<").replace("&gt;", ">")  # kept
    assert not Sequence.objects.exists()
    # In a later step, after a blank one was left out: still the field the user filled.
    later = _form(**{"step_count": "3", "steps-2-wait_days": "1", "steps-2-subject": "x",
                     "steps-2-html": "<p>x</p>", "steps-2-text": "{{ secret }}"})  # fmt: skip
    page = marketer.post("/sequences/new", later).content.decode()
    assert 'data-testid="error-steps-2-text"' in page
    assert not Sequence.objects.exists()
    bad_wait = marketer.post("/sequences/new", _form(**{"steps-0-wait_days": "soon"}))
    assert bad_wait.status_code == 422
    assert 'data-testid="error-steps-0-wait_days"' in bad_wait.content.decode()
    assert 'value="soon"' in bad_wait.content.decode()  # the step is shown again as typed
    no_name = marketer.post("/sequences/new", _form(name=" "))
    assert 'data-testid="error-name"' in no_name.content.decode()
    assert not Sequence.objects.exists()


def test_enroll_a_segment_pause_and_resume(history: int, make_contact: MakeContact) -> None:
    marketer = _client("mia", "marketing")
    late = make_contact("late@acme9.example", first_name="Late")
    change_stage(late, Stage.CONSIDERATION)
    segment = create_segment(
        SYSTEM, "Considering", {"all": [{"type": "stage", "in": ["consideration"]}]}
    )
    done = marketer.post(f"/sequences/{history}/enroll", {"segment": str(segment.id)}, follow=True)
    text = done.content.decode()
    # The unsubscribed contact went to nurture: out of the segment; the other four are in.
    assert "Enrolled 1; 4 were in the sequence already." in text
    assert numbers_of(history).enrolled == 6
    paused = marketer.post(f"/sequences/{history}/active", {"active": "0"}, follow=True)
    assert "Sequence paused." in paused.content.decode()
    assert not Sequence.objects.get(pk=history).active
    refused = marketer.post(
        f"/sequences/{history}/enroll", {"segment": str(segment.id)}, follow=True
    )
    assert "is not active" in refused.content.decode()
    marketer.post(f"/sequences/{history}/active", {"active": "1"})
    assert Sequence.objects.get(pk=history).active


def test_a_step_previews_for_a_contact(history: int) -> None:
    page = _client("lee", "leadership").get(
        f"/sequences/{history}/preview", {"step": "0", "contact": "p1@acme1.example"}
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="preview-subject">Hello P1<' in text
    # The email's HTML is shown as its source, never as markup of the page.
    assert "&lt;p&gt;Hi P1&lt;/p&gt;" in text
    assert "<p>Hi P1</p>" not in text
    unknown = _client("mia", "marketing").get(
        f"/sequences/{history}/preview", {"step": "9", "contact": "p1@acme1.example"}
    )
    assert unknown.status_code == 422


def test_the_list_is_empty_before_any_sequence(db: None) -> None:
    assert "No sequences yet" in _client("mia", "marketing").get("/sequences").content.decode()
    assert sequence_numbers() == []
