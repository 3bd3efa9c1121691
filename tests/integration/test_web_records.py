"""Timelines, deal pages and the deal board with the Django test client, per view and role:
what a timeline says (in words, in time order, a page at a time), the actions the rules allow
and only those, a rep kept off another rep's deals (pages and API), and errors as messages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from onefunnel.domain.deals import DealStatus
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import TouchKind, Utm
from onefunnel.models import Account, Campaign, Contact, Deal, Handoff, PipelineStage, RepProfile
from onefunnel.services.access import actor_by_username
from onefunnel.services.deals import open_deal
from onefunnel.services.handoffs import accept_handoff
from onefunnel.services.routing_config import set_rep
from onefunnel.services.sales.timeline import contact_timeline
from onefunnel.services.touches import TouchInput, record_touch

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _user(name: str, *groups: str, team: str | None = None) -> User:
    user = User.objects.create_user(username=name, password="x-pass-2026")
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    if team is not None:
        RepProfile.objects.create(user=user, team=team, available=False)
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _touch(
    contact: Contact, kind: TouchKind, minutes: int, *, campaign: str = "", **props: object
) -> None:
    record_touch(
        TouchInput(
            message_id=f"t-{contact.pk}-{kind}-{minutes}",
            kind=kind,
            occurred_at=timezone.now() - timedelta(minutes=minutes),
            contact_id=contact.pk,
            properties=dict(props),
            utm=Utm(source="newsletter", medium="email", campaign=campaign),
        )
    )


@pytest.fixture
def ana(db: None) -> User:
    set_rep("ana", team="sales", create_user=True)
    return User.objects.get(username="ana")


@pytest.fixture
def ben(db: None) -> User:
    return _user("ben", "sales", team="sales")


def test_anonymous_users_go_to_the_login_page(make_contact: Callable[..., Contact]) -> None:
    contact = make_contact()
    deal = open_deal(account_id=contact.account_id, name="D", amount=Decimal(1))
    paths = [f"/contacts/{contact.pk}", f"/accounts/{contact.account_id}", f"/deals/{deal}",
             "/board", f"/contacts/{contact.pk}/entries"]  # fmt: skip
    for path in paths:
        answer = Client().get(path)
        assert answer.status_code == 302, path
        assert answer["Location"].startswith("/login?next="), path
    posted = Client().post(f"/deals/{deal}/win")
    assert posted.status_code == 302
    assert Deal.objects.get(pk=deal).status == DealStatus.OPEN


def test_a_contact_timeline_says_what_happened_in_time_order(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    Campaign.objects.create(name="Spring webinar", utm_campaign="spring", channel="webinar")
    contact = make_contact(first_name="Nia", last_name="Obi")
    _touch(contact, TouchKind.PAGE_VIEW, 30, page={"title": "Pricing", "path": "/pricing"})
    _touch(contact, TouchKind.EMAIL_OPEN, 20, subject="Spring webinar", campaign="spring")
    _touch(contact, TouchKind.HAND_RAISE, 10, form="Contact sales")
    handoff = Handoff.objects.get(contact=contact)
    accept_handoff(handoff.pk, actor=actor_by_username("ana"))
    page = _client(ana).get(f"/contacts/{contact.pk}")
    assert page.status_code == 200
    text = page.content.decode()
    assert "viewed page &#x27;Pricing&#x27; (/pricing)" in text
    assert "opened email &#x27;Spring webinar&#x27;" in text
    assert "campaign Spring webinar" in text
    assert "submitted form &#x27;Contact sales&#x27;" in text
    assert "custom via direct" not in text
    # The stage changes say their cause in words: the touch that made them.
    assert "because of a touch: submitted form" in text
    assert f"handoff #{handoff.pk} accepted by ana" in text
    handoff.refresh_from_db()
    assert f'href="/deals/{handoff.deal_id}"' in text
    # Newest first, by time.
    times = re.findall(r'<time datetime="([^"]+)">', text)
    assert times == sorted(times, reverse=True)
    assert len(times) >= 6


def test_the_timeline_pages_back_without_losing_or_repeating_entries(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact()
    for n in range(55):
        _touch(contact, TouchKind.PAGE_VIEW, 100 + n, page={"title": f"Page {n}"})
    actor = actor_by_username("ana")
    seen: list[str] = []
    page = contact_timeline(contact.pk, actor, limit=10)
    while True:
        seen += [e.title for e in page.entries if e.kind == "touch"]
        if not page.has_earlier:
            break
        page = contact_timeline(contact.pk, actor, before=page.earlier_than, limit=10)
    assert sorted(seen) == sorted(f"viewed page 'Page {n}'" for n in range(55))
    first = _client(ana).get(f"/contacts/{contact.pk}")
    assert b'data-testid="show-earlier"' in first.content
    link = re.search(rb'hx-get="([^"]+)"[^>]*data-testid="show-earlier"', first.content)
    assert link
    more = _client(ana).get(link.group(1).decode().replace("&amp;", "&"))
    assert more.status_code == 200
    assert b"viewed page" in more.content
    bad = _client(ana).get(f"/contacts/{contact.pk}/entries?before=yesterday")
    assert bad.status_code == 422


def test_a_timeline_is_read_in_a_bounded_number_of_queries(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    def queries(n_touches: int) -> int:
        contact = make_contact()
        for n in range(n_touches):
            _touch(contact, TouchKind.EMAIL_CLICK, 5 + n, subject=f"S{n}")
        client = _client(ana)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/contacts/{contact.pk}").status_code == 200
        return len(ctx.captured_queries)

    assert queries(3) == queries(30)


def test_logging_a_call_answers_the_pending_handoff(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact()
    _touch(contact, TouchKind.HAND_RAISE, 5)
    handoff = Handoff.objects.get(contact=contact)
    Handoff.objects.filter(pk=handoff.pk).update(owner=ana)
    client = _client(ana)
    answer = client.post(
        f"/contacts/{contact.pk}/activity",
        {"kind": "call", "outcome": "connected", "notes": "Wants a demo next week"},
    )
    assert answer.status_code == 303
    page = client.get(answer["Location"])
    text = page.content.decode()
    assert "Call logged. It is the first response to the pending handoff." in text
    assert "call logged by ana" in text
    assert "outcome connected" in text
    assert "Wants a demo next week" in text
    handoff.refresh_from_db()
    assert handoff.first_response_at is not None
    # A note without text is a field to fix (422), and nothing is written.
    bad = client.post(f"/contacts/{contact.pk}/activity", {"kind": "note", "notes": " "})
    assert bad.status_code == 422
    assert b"notes:" in bad.content


def test_tasks_nurture_and_requalify_from_the_timeline(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact()
    _touch(contact, TouchKind.EMAIL_CLICK, 5, subject="Hello")
    client = _client(ana)
    added = client.post(f"/contacts/{contact.pk}/task", {"title": "Call back", "due": "2031-01-02"})
    assert added.status_code == 303
    assert b"Call back" in client.get(f"/contacts/{contact.pk}").content
    undated = client.post(f"/contacts/{contact.pk}/task", {"title": "x", "due": "soon"})
    assert undated.status_code == 422
    sent = client.post(f"/contacts/{contact.pk}/nurture", {"reason": "not_now"})
    assert sent.status_code == 303
    contact.refresh_from_db()
    assert contact.stage == Stage.NURTURE
    page = client.get(f"/contacts/{contact.pk}").content.decode()
    assert "→ nurture" in page
    assert "by ana (not now)" in page
    assert 'data-testid="requalify"' in page
    assert 'data-testid="nurture"' not in page
    assert (
        client.post(f"/contacts/{contact.pk}/requalify", {"stage": "consideration"}).status_code
        == 303
    )
    contact.refresh_from_db()
    assert contact.stage == Stage.CONSIDERATION


def test_actions_appear_only_where_the_rules_allow(
    ana: User, ben: User, make_contact: Callable[..., Contact]
) -> None:
    boss = _user("lee", "leadership")
    contact = make_contact()
    _touch(contact, TouchKind.EMAIL_CLICK, 5, subject="Hello")
    leadership = _client(boss).get(f"/contacts/{contact.pk}").content.decode()
    assert "Timeline" in leadership
    assert 'data-testid="log-activity"' not in leadership
    assert 'data-testid="nurture"' not in leadership
    denied = _client(boss).post(f"/contacts/{contact.pk}/activity", {"kind": "call"})
    assert denied.status_code == 403
    # A rep may send an unowned or their own contact to nurture, not another rep's.
    Contact.objects.filter(pk=contact.pk).update(owner=ben)
    page = _client(ana).get(f"/contacts/{contact.pk}").content.decode()
    assert 'data-testid="nurture"' not in page
    assert 'data-testid="log-activity"' in page
    refused = _client(ana).post(f"/contacts/{contact.pk}/nurture", {"reason": "not_now"})
    assert refused.status_code == 403
    contact.refresh_from_db()
    assert contact.stage != Stage.NURTURE


def test_a_rep_cannot_see_or_work_another_reps_deal(
    ana: User, ben: User, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact()
    theirs = open_deal(
        account_id=contact.account_id, name="Ben's", amount=Decimal(5), owner_id=ben.pk
    )
    mine = open_deal(
        account_id=contact.account_id, name="Ana's", amount=Decimal(7), owner_id=ana.pk
    )
    client = _client(ana)
    denied = client.get(f"/deals/{theirs}")
    assert denied.status_code == 403
    assert b"belongs to someone else" in denied.content
    assert client.get(f"/deals/{mine}").status_code == 200
    assert client.post(f"/deals/{theirs}/win").status_code == 403
    stage = PipelineStage.objects.filter(is_won=False, is_lost=False).order_by("sequence")[1]
    assert client.post(f"/deals/{theirs}/move", {"stage": stage.pk}).status_code == 403
    assert client.post(f"/deals/{theirs}/lose", {"reason": "price"}).status_code == 403
    assert Deal.objects.get(pk=theirs).status == DealStatus.OPEN
    # The API agrees.
    api = client.get(f"/api/deals/{theirs}")
    assert api.status_code == 403
    # The account's timeline and board show only what ana may read.
    account = client.get(f"/accounts/{contact.account_id}").content.decode()
    assert "Ana&#x27;s" in account
    assert "Ben&#x27;s" not in account
    board = client.get("/board").content.decode()
    assert f'id="deal-{mine}"' in board
    assert f'id="deal-{theirs}"' not in board
    # A deal that does not exist is a 404.
    assert client.get("/deals/999999").status_code == 404


def test_the_board_moves_wins_and_loses_through_the_services(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact()
    deal = open_deal(account_id=contact.account_id, name="Rollout", amount=Decimal(1000),
                     owner_id=ana.pk, contact_id=contact.pk)  # fmt: skip
    stages = list(PipelineStage.objects.filter(pipeline__is_default=True).order_by("sequence"))
    first, second = [s for s in stages if not s.is_won and not s.is_lost][:2]
    won = next(s for s in stages if s.is_won)
    client = _client(ana)
    board = client.get("/board")
    assert board.status_code == 200
    text = board.content.decode()
    assert f'id="deal-{deal}"' in text
    assert "1,000" in text
    assert 'src="/static/onefunnel/board.js"' in text
    assert "<script>" not in text
    moved = client.post(f"/deals/{deal}/move", {"stage": second.pk, "next": "/board?scope=mine"})
    assert moved.status_code == 303
    assert moved["Location"] == "/board?scope=mine"
    assert Deal.objects.get(pk=deal).pipeline_stage_id == second.pk
    # An outside "next" is ignored: back to the deal's page.
    outside = client.post(
        f"/deals/{deal}/move", {"stage": first.pk, "next": "https://evil.example/"}
    )
    assert outside["Location"] == f"/deals/{deal}"
    # Dropping on the won column wins it: the account becomes a customer.
    client.post(f"/deals/{deal}/move", {"stage": won.pk, "next": "/board"})
    row = Deal.objects.get(pk=deal)
    assert row.status == DealStatus.WON
    assert Account.objects.get(pk=contact.account_id).stage == Stage.CONVERSION
    # Closed meanwhile: 409 with the message on the page.
    again = client.post(f"/deals/{deal}/win")
    assert again.status_code == 409
    assert b'data-testid="message"' in again.content
    account = client.get(f"/accounts/{contact.account_id}").content.decode()
    assert "because deal #" in account
    assert "closed by ana" in account


def test_losing_needs_a_reason(ana: User, make_contact: Callable[..., Contact]) -> None:
    contact = make_contact()
    deal = open_deal(account_id=contact.account_id, name="X", amount=Decimal(1), owner_id=ana.pk)
    client = _client(ana)
    missing = client.post(f"/deals/{deal}/lose", {"reason": ""})
    assert missing.status_code == 422
    assert Deal.objects.get(pk=deal).status == DealStatus.OPEN
    lost = client.post(f"/deals/{deal}/lose", {"reason": "price"})
    assert lost.status_code == 303
    page = client.get(f"/deals/{deal}").content.decode()
    assert "Lost deal" in page
    assert "lost: price" in page


def test_a_team_lead_sees_the_teams_board(
    ana: User, ben: User, make_contact: Callable[..., Contact]
) -> None:
    lead = _user("tia", "team_lead", team="sales")
    outsider = _user("ola", "sales", team="enterprise")
    contact = make_contact()
    bens = open_deal(account_id=contact.account_id, name="B", amount=Decimal(2), owner_id=ben.pk)
    olas = open_deal(
        account_id=contact.account_id, name="O", amount=Decimal(3), owner_id=outsider.pk
    )
    board = _client(lead).get("/board").content.decode()
    assert f'id="deal-{bens}"' in board
    assert f'id="deal-{olas}"' not in board
    assert 'value="team" checked' in board
    mine = _client(lead).get("/board?scope=mine").content.decode()
    assert f'id="deal-{bens}"' not in mine


def test_a_big_board_shows_a_page_per_column(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact()
    for n in range(45):
        open_deal(account_id=contact.account_id, name=f"D{n}", amount=Decimal(10), owner_id=ana.pk)
    client = _client(ana)
    first = client.get("/board").content.decode()
    assert first.count('data-testid="deal-card"') == 20
    assert 'data-testid="next-page"' in first
    assert '<span data-testid="count">45</span>' in first
    third = client.get("/board?scope=mine&page=3").content.decode()
    assert third.count('data-testid="deal-card"') == 5


def test_links_from_queue_search_and_lists_reach_the_records(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact(first_name="Zed", email="zed@acme.example")
    _touch(contact, TouchKind.HAND_RAISE, 3)
    handoff = Handoff.objects.get(contact=contact)
    assert handoff.status == HandoffStatus.PENDING
    client = _client(ana)
    queue = client.get("/queue").content.decode()
    assert f'href="/contacts/{contact.pk}"' in queue
    assert f'href="/accounts/{contact.account_id}"' in queue
    search = client.get("/search?q=zed").content.decode()
    assert f'href="/contacts/{contact.pk}"' in search
    account = client.get(f"/accounts/{contact.account_id}").content.decode()
    assert f'href="/contacts/{contact.pk}"' in account
    assert "Contracts" in account
    assert 'href="/board"' in queue  # Board in the nav for sellers


def test_board_cards_read_as_before_and_escape_names(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    """The cards are built in Python: name and account escaped, amount grouped, close day,
    the move form with its CSRF token and the stages of the pipeline."""
    from datetime import date as day

    contact = make_contact()
    deal = open_deal(account_id=contact.account_id, name="<script>alert(1)</script>",
                     amount=Decimal("12345.40"), owner_id=ana.pk,
                     expected_close=day(2027, 3, 9))  # fmt: skip
    board = _client(ana).get("/board?scope=all").content.decode()
    assert "<script>alert(1)" not in board
    assert (
        f'<a href="/deals/{deal}" class="name">&lt;script&gt;alert(1)&lt;/script&gt;</a>' in board
    )
    assert "12,345 " in board
    assert "close Mar 9 · 0 d old · ana</p>" in board
    assert f'<form method="post" action="/deals/{deal}/move" class="move">' in board
    assert 'name="csrfmiddlewaretoken" value="' in board
    assert f'<select id="move-{deal}" name="stage"><option value=' in board
