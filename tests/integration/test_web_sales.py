"""The sales workspace with the Django test client, per view and role: sign-in lands each
role on its workspace; a rep sees and decides only their own handoffs, in one request each;
errors (409, 403, 422) come back as messages; search, favicon, API docs and the CSP."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Contact, Handoff, RepProfile
from onefunnel.services.deals import open_deal
from onefunnel.services.routing_config import set_rep
from onefunnel.services.touches import TouchInput, record_touch

pytestmark = pytest.mark.django_db
PASSWORD = "demo-pass-2026"
HX = {"HTTP_HX_REQUEST": "true"}


def _user(name: str, *groups: str, team: str | None = None) -> User:
    user = User.objects.create_user(username=name, password=PASSWORD)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    if team is not None:
        RepProfile.objects.create(user=user, team=team, available=False)
    return user


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _hand_raise(contact: Contact, minutes: int = 0) -> Handoff:
    record_touch(
        TouchInput(
            message_id=f"hr-{contact.pk}-{minutes}",
            kind=TouchKind.HAND_RAISE,
            occurred_at=timezone.now() - timedelta(minutes=minutes),
            contact_id=contact.pk,
        )
    )
    return Handoff.objects.filter(contact=contact).latest("pk")


@pytest.fixture
def ana(db: None) -> User:
    set_rep("ana", team="sales", create_user=True)
    user = User.objects.get(username="ana")
    user.set_password(PASSWORD)
    user.save()
    return user


def test_anonymous_users_go_to_the_login_page(db: None) -> None:
    for path in ("/", "/queue", "/search?q=a", "/home"):
        answer = Client().get(path)
        assert answer.status_code == 302, path
        assert answer["Location"].startswith("/login?next="), path
    page = Client().get("/login")
    assert page.status_code == 200
    assert b'<label for="id_username">' in page.content


@pytest.mark.parametrize(
    ("groups", "home"),
    [(("sales",), "/queue"), (("team_lead",), "/queue"), (("marketing",), "/marketing"),
     (("leadership",), "/leadership"), (("account_management",), "/customers")],
)  # fmt: skip
def test_signing_in_lands_each_role_on_its_workspace(groups: tuple[str, ...], home: str) -> None:
    _user("someone", *groups)
    client = Client()
    answer = client.post("/login", {"username": "someone", "password": PASSWORD}, follow=True)
    assert answer.redirect_chain[-1][0] == home
    assert answer.status_code == 200
    wrong = Client().post("/login", {"username": "someone", "password": "nope"})
    assert b"did not match" in wrong.content


def test_a_rep_sees_only_their_own_handoffs(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    mine = _hand_raise(make_contact(first_name="Mine"))
    ben = _user("ben", "sales", team="sales")
    theirs = _hand_raise(make_contact(first_name="Theirs"))
    Handoff.objects.filter(pk=theirs.pk).update(owner=ben)
    page = _signed_in(ana).get("/queue")
    assert page.status_code == 200
    assert f'id="handoff-{mine.pk}"'.encode() in page.content
    assert f'id="handoff-{theirs.pk}"'.encode() not in page.content
    assert b'<span id="queue-count" aria-live="polite">1</span>' in page.content
    # ... and cannot act on the other's, in the page as in the API.
    denied = _signed_in(ana).post(f"/queue/{theirs.pk}/accept", **HX)
    assert denied.status_code == 403
    assert b"Not allowed" in denied.content
    assert denied["HX-Reswap"] == "none"
    rejected = _signed_in(ana).post(f"/queue/{theirs.pk}/reject", {"reason": "not_now"}, **HX)
    assert rejected.status_code == 403
    theirs.refresh_from_db()
    assert theirs.status == HandoffStatus.PENDING


def test_accept_from_the_queue_opens_the_deal_and_updates_the_count(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    first = _hand_raise(make_contact(), minutes=2)
    _hand_raise(make_contact(), minutes=1)
    client = _signed_in(ana)
    answer = client.post(f"/queue/{first.pk}/accept", **HX)
    assert answer.status_code == 200
    body = answer.content.decode()
    assert f"Accepted handoff #{first.pk}" in body
    assert "deal #" in body
    assert re.search(r'<span id="queue-count"[^>]*hx-swap-oob="true">1</span>', body)
    first.refresh_from_db()
    assert first.status == HandoffStatus.ACCEPTED
    assert first.deal_id is not None
    # A second click (or another rep a moment earlier) gets a clear 409 message.
    again = client.post(f"/queue/{first.pk}/accept", **HX)
    assert again.status_code == 409
    assert b"decided by someone else" in again.content


def test_reject_with_a_reason_and_a_missing_note(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact()
    handoff = _hand_raise(contact)
    client = _signed_in(ana)
    no_note = client.post(f"/queue/{handoff.pk}/reject", {"reason": "other"}, **HX)
    assert no_note.status_code == 422
    assert b"needs a note" in no_note.content
    assert no_note["HX-Reswap"] == "none"
    bad = client.post(f"/queue/{handoff.pk}/reject", {"reason": "meh"}, **HX)
    assert bad.status_code == 422
    done = client.post(f"/queue/{handoff.pk}/reject", {"reason": "not_now"}, **HX)
    assert done.status_code == 200
    assert b"went to nurture" in done.content
    assert b'data-testid="queue-empty"' in done.content  # the last one: the queue is empty
    contact.refresh_from_db()
    assert contact.stage == Stage.NURTURE


def test_the_empty_queue_says_so(ana: User) -> None:
    page = _signed_in(ana).get("/queue")
    assert b"Your queue is empty" in page.content


def test_marketing_sees_the_queue_without_buttons_and_cannot_decide(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    handoff = _hand_raise(make_contact())
    mia = _signed_in(_user("mia", "marketing"))
    page = mia.get("/queue")
    assert f'id="handoff-{handoff.pk}"'.encode() in page.content
    assert b'data-testid="accept"' not in page.content
    assert mia.post(f"/queue/{handoff.pk}/reject", {"reason": "bad_fit"}, **HX).status_code == 403


def test_a_team_lead_reassigns_within_the_team(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    handoff = _hand_raise(make_contact())
    _user("ben", "sales", team="sales")
    _user("eve", "sales", team="emea")
    lead = _signed_in(_user("tess", "team_lead", team="sales"))
    page = lead.get("/queue")
    assert b'data-testid="reassign"' in page.content
    assert lead.post(f"/queue/{handoff.pk}/reassign", {"owner": "eve"}, **HX).status_code == 403
    moved = lead.post(f"/queue/{handoff.pk}/reassign", {"owner": "ben"}, **HX)
    assert moved.status_code == 200
    # The row comes back with its new owner; the lead still sees it (the team's).
    row = re.search(rf'<article class="handoff[^"]*" id="handoff-{handoff.pk}".*?</article>',
                    moved.content.decode(), re.S)  # fmt: skip
    assert row is not None
    assert "· ben ·" in " ".join(row.group(0).split())
    handoff.refresh_from_db()
    assert handoff.owner is not None
    assert handoff.owner.username == "ben"
    # A plain rep has no reassign button and may not reassign.
    assert b'data-testid="reassign"' not in _signed_in(ana).get("/queue").content
    rep = _signed_in(ana).post(f"/queue/{handoff.pk}/reassign", {"owner": "ana"}, **HX)
    assert rep.status_code == 403


def test_a_long_queue_loads_a_page_at_a_time_in_a_fixed_number_of_queries(
    ana: User,
    make_contact: Callable[..., Contact],
    django_assert_max_num_queries: Callable[..., object],
) -> None:
    for n in range(30):
        _hand_raise(make_contact(), minutes=n)
    client = _signed_in(ana)
    with django_assert_max_num_queries(25):  # type: ignore[attr-defined]
        page = client.get("/queue")
    assert page.content.count(b'data-testid="handoff"') == 25
    assert b"/queue/rows?offset=25" in page.content
    rest = client.get("/queue/rows?offset=25")
    assert rest.content.count(b'data-testid="handoff"') == 5
    assert b"offset=" not in rest.content
    assert client.get("/queue/rows?offset=abc").status_code == 200


def test_search_finds_contacts_accounts_and_only_readable_deals(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    contact = make_contact(first_name="Grace", last_name="Hopper", email="grace@navy.example")
    assert contact.account_id is not None
    ben = _user("ben", "sales", team="sales")
    open_deal(account_id=contact.account_id, name="Navy rollout", amount=10, owner_id=ben.pk)
    page = _signed_in(ana).get("/search", {"q": "grace hop"})
    assert f'href="/contacts/{contact.pk}"'.encode() in page.content
    by_domain = _signed_in(ana).get("/search", {"q": "acme"})
    assert f'href="/accounts/{contact.account_id}"'.encode() in by_domain.content
    assert b"Navy rollout" not in _signed_in(ana).get("/search", {"q": "navy"}).content
    assert b"Navy rollout" in _signed_in(ben).get("/search", {"q": "navy"}).content
    assert b"Navy rollout" in _signed_in(_user("lee", "leadership")).get("/search?q=navy").content


def test_favicon_api_docs_and_the_content_security_policy(ana: User) -> None:
    client = _signed_in(ana)
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui-bundle.js" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from another host
    queue = client.get("/queue")
    policy = queue["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-eval'" in client.get("/")["Content-Security-Policy"]  # Vega
    assert not re.search(r"<script(?![^>]*(src=|application/json))", queue.content.decode())
    for path in ("/queue", "/", "/search?q=x", "/login"):
        page = client.get(path).content.decode()
        assert not re.search(r"(src|href)=\"(https?:)?//", page), path


def test_the_queue_renders_score_lines_and_touches_escaped(
    ana: User, make_contact: Callable[..., Contact]
) -> None:
    """The queue's lines are built in Python (not by template filters): points signed with
    one decimal, the day, the touch's channel and time — and text from data escaped."""
    handoff = _hand_raise(make_contact(first_name="Mallory"))
    hostile = "<script>alert('owned')</script>"
    Handoff.objects.filter(pk=handoff.pk).update(
        score_explanation=[
            {"points": 20, "reason": hostile, "when": "2026-03-05T10:00:00+00:00"},
            {"points": -3.25, "reason": "personal email", "when": None},
            {"points": 0.01, "reason": "a decayed touch", "when": None},
        ]
    )
    page = _signed_in(ana).get("/queue").content.decode()
    assert "<script>alert(" not in page
    assert (
        '<li><span class="pts">+20.0</span> &lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;'
        ' <span class="muted">Mar 5</span></li>'
    ) in page
    assert '<li><span class="pts">-3.2</span> personal email</li>' in page
    assert "and 1 older touch worth less than 0.1" in page
    touch = timezone.localtime(handoff.created_at)
    assert f'hand_raise <span class="muted">direct · {touch:%b} {touch.day} {touch:%H:%M}' in page
    assert f'href="/contacts/{handoff.contact_id}"' in page
    assert f'action="/queue/{handoff.pk}/accept"' in page
