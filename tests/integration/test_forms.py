"""Forms on the database: definitions by marketing (service, API), submissions through the
hosted page and the JSON endpoint (contact, touch, anonymous history, hand-raise → handoff,
consent), and what protects them (honeypot, rate limit, size limits, origins)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.forms import SubmissionError, consent_version
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.stages import Stage
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Campaign, Contact, Form, FormSubmission, Handoff, Touchpoint
from onefunnel.services.access import SYSTEM, actor_for
from onefunnel.services.errors import InputError
from onefunnel.services.marketing.forms import (
    Visit,
    consent_records,
    create_form,
    get_form,
    submit_form,
    update_form,
)
from onefunnel.services.routing_config import set_rep
from onefunnel.services.touches import TouchInput, record_touch

pytestmark = pytest.mark.django_db

CONSENT = "I agree that Acme may contact me about my request."
FIELDS = [
    {"name": "email", "label": "Work email", "type": "email", "required": True},
    {"name": "first_name", "label": "First name", "required": True},
    {"name": "title", "label": "Job title"},
    {"name": "message", "label": "Message", "type": "textarea"},
]
PERSON = {"email": "Ada@Example.com", "first_name": "Ada", "consent": "on"}
URLENCODED = "application/x-www-form-urlencoded"
VISIT = Visit(ip="203.0.113.7", user_agent="Mozilla/5.0 test", page_url="https://www.acme.example/")


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """The rate limit counts per IP in the cache: every test starts with none counted."""
    cache.clear()
    yield
    cache.clear()


def _user(name: str, *groups: str) -> User:
    user = User.objects.create_user(username=name, password="pw-12345678")
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def _html_post(client: Client, path: str, data: dict[str, Any], **extra: Any) -> Any:
    """What a browser sends for a plain HTML form: urlencoded."""
    return client.post(path, urlencode(data), content_type=URLENCODED, **extra)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def marketer() -> User:
    return _user("mia", "marketing")


@pytest.fixture
def make_form(marketer: User) -> Callable[..., Any]:
    def make(slug: str = "contact", **values: Any) -> Any:
        return create_form(
            actor_for(marketer),
            {"name": "Contact us", "slug": slug, "fields": FIELDS, "consent_text": CONSENT,
             **values},
        )  # fmt: skip

    return make


# ------------------------------------------------------------------------------ definitions


def test_marketing_creates_and_edits_a_form(make_form: Callable[..., Any], marketer: User) -> None:
    Campaign.objects.create(name="Spring", utm_campaign="spring-2026", channel="paid_search")
    made = make_form(campaign="spring-2026", allowed_origins=["https://www.acme.example/"])
    assert made.campaign == "spring-2026"
    assert made.allowed_origins == ("https://www.acme.example",)
    assert made.consent_version == consent_version(CONSENT)
    edited = update_form(actor_for(marketer), "contact", {"hand_raise": True, "name": "Talk to us"})
    assert edited.hand_raise
    assert edited.name == "Talk to us"
    assert edited.campaign == "spring-2026"


def test_a_seller_may_not_create_a_form() -> None:
    rep = _user("sam", "sales_rep")
    with pytest.raises(AccessDeniedError):
        create_form(actor_for(rep), {"name": "x", "slug": "x", "fields": FIELDS})
    assert not Form.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"slug": "Not A Slug"}, "slug"),
        ({"fields": [{"name": "first_name"}]}, "fields"),
        ({"campaign": "no-such-campaign"}, "campaign"),
        ({"allowed_origins": ["https://x.example/path"]}, "allowed_origins"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_a_bad_definition_names_its_field_and_writes_nothing(
    make_form: Callable[..., Any], values: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError, match=f"^{field}"):
        make_form(**values)
    assert not Form.objects.exists()


def test_a_slug_is_taken_once(make_form: Callable[..., Any]) -> None:
    make_form()
    with pytest.raises(InputError, match=r"^slug: a form 'contact' exists"):
        make_form()


# ------------------------------------------------------------------------------ submissions


def test_a_submission_creates_the_contact_and_a_form_submit_touch(
    make_form: Callable[..., Any],
) -> None:
    Campaign.objects.create(name="Spring", utm_campaign="spring-2026", channel="paid_search")
    make_form(campaign="spring-2026")
    done = submit_form(
        "contact",
        {**PERSON, "utm_source": "google", "utm_medium": "cpc", "title": "CTO", "admin": "1"},
        VISIT,
    )
    contact = Contact.objects.get(pk=done.contact_id)
    assert contact.email == "ada@example.com"
    assert contact.first_name == "Ada"
    assert contact.title == "CTO"
    assert contact.stage == Stage.CONSIDERATION
    assert contact.properties["_provenance"]["title"]["source"] == "form"
    touch = Touchpoint.objects.get(pk=done.touchpoint_id)
    assert touch.kind == TouchKind.FORM_SUBMIT
    assert touch.contact_id == contact.pk
    assert touch.properties["form"] == "Contact us"
    assert touch.properties["form_slug"] == "contact"
    assert touch.campaign is not None
    assert touch.campaign.utm_campaign == "spring-2026"
    assert (touch.utm_source, touch.utm_medium) == ("google", "cpc")
    assert "admin" not in touch.properties["answers"]
    assert done.handoff_id is None
    assert done.contact_created


def test_email_dedupes_case_insensitively_and_a_users_value_is_never_replaced(
    make_form: Callable[..., Any], make_contact: Callable[..., Contact]
) -> None:
    make_form()
    known = make_contact("ada@example.com", title="VP Engineering")  # set by a user
    done = submit_form("contact", {**PERSON, "email": "ADA@example.COM", "title": "Intern"}, VISIT)
    assert done.contact_id == known.pk
    assert not done.contact_created
    known.refresh_from_db()
    assert known.title == "VP Engineering"  # not overwritten
    assert known.first_name == "Ada"  # an empty field is filled
    assert Contact.objects.filter(email__iexact="ada@example.com").count() == 1


def test_the_visitors_anonymous_history_joins_the_contact(make_form: Callable[..., Any]) -> None:
    make_form()
    earlier = [
        record_touch(
            TouchInput(
                message_id=f"pv-{i}",
                kind=TouchKind.PAGE_VIEW,
                occurred_at=timezone.now(),
                anonymous_id="anon-42",
                properties={"page": {"path": f"/p{i}"}},
            )
        ).touchpoint_id
        for i in range(3)
    ]
    done = submit_form("contact", {**PERSON, "anonymous_id": "anon-42"}, VISIT)
    assert done.merged_touches == 3
    assert set(Touchpoint.objects.filter(pk__in=earlier).values_list("contact_id", flat=True)) == {
        done.contact_id
    }
    assert Contact.objects.get(pk=done.contact_id).aliases.filter(anonymous_id="anon-42").exists()


def test_a_hand_raise_form_opens_a_handoff_in_a_reps_queue(make_form: Callable[..., Any]) -> None:
    set_rep("ana", team="sales", create_user=True, available=True)
    make_form(slug="demo", hand_raise=True)
    done = submit_form("demo", PERSON, VISIT)
    contact = Contact.objects.get(pk=done.contact_id)
    assert contact.stage == Stage.INTENT
    handoff = Handoff.objects.get(pk=done.handoff_id)
    assert handoff.status == HandoffStatus.PENDING
    assert handoff.trigger == "hand_raise"
    assert handoff.owner is not None
    assert handoff.owner.username == "ana"
    touch = Touchpoint.objects.get(pk=done.touchpoint_id)
    assert touch.kind == TouchKind.HAND_RAISE
    assert touch.properties["form_slug"] == "demo"
    # Submitting again records a second touch but opens no second handoff.
    again = submit_form("demo", PERSON, VISIT)
    assert again.handoff_id == handoff.pk
    assert Handoff.objects.count() == 1


def test_a_filled_honeypot_answers_thanks_and_writes_nothing(
    make_form: Callable[..., Any],
) -> None:
    make_form()
    done = submit_form("contact", {**PERSON, "homepage": "http://cheap.example"}, VISIT)
    assert done.robot
    assert done.thank_you
    assert not Contact.objects.exists()
    assert not Touchpoint.objects.exists()
    assert not FormSubmission.objects.exists()


def test_a_retried_submission_is_recorded_once(make_form: Callable[..., Any]) -> None:
    make_form()
    first = submit_form("contact", {**PERSON, "submission_id": "abc-1"}, VISIT)
    second = submit_form("contact", {**PERSON, "submission_id": "abc-1"}, VISIT)
    assert second.duplicate
    assert second.submission_id == first.submission_id
    assert FormSubmission.objects.count() == 1
    assert Touchpoint.objects.count() == 1


def test_bad_input_never_half_applies(make_form: Callable[..., Any]) -> None:
    make_form()
    with pytest.raises(InputError, match=r"^email: not an email"):
        submit_form("contact", {**PERSON, "email": "not-an-email"}, VISIT)
    with pytest.raises(SubmissionError) as caught:
        submit_form("contact", {"email": "ada@example.com"}, VISIT)
    assert [p[0] for p in caught.value.problems] == ["first_name", "consent"]
    assert not Contact.objects.exists()
    assert not FormSubmission.objects.exists()


def test_consent_is_stored_per_submission_with_the_text_shown(
    make_form: Callable[..., Any], marketer: User
) -> None:
    make_form()
    submit_form("contact", PERSON, VISIT)
    update_form(actor_for(marketer), "contact", {"consent_text": "New words."})
    submit_form("contact", {**PERSON, "email": "bob@example.com"}, VISIT)
    first, second = consent_records(actor_for(marketer), "contact")
    assert (first.consent_text, first.consent_version) == (CONSENT, consent_version(CONSENT))
    assert second.consent_version == consent_version("New words.")
    assert first.ip == "203.0.113.7"
    assert first.user_agent == "Mozilla/5.0 test"
    assert first.page_url == "https://www.acme.example/"
    assert first.consent_given
    with pytest.raises(AccessDeniedError):
        consent_records(actor_for(_user("lee", "leadership")), "contact")


# ------------------------------------------------------------------------------ the web


def test_the_hosted_page_works_without_javascript(make_form: Callable[..., Any]) -> None:
    Campaign.objects.create(name="Spring", utm_campaign="spring", channel="paid_social")
    make_form()
    client = Client()
    page = client.get("/f/contact?utm_source=linkedin&utm_medium=paid_social&utm_campaign=spring")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="utm_campaign" value="spring"' in html
    assert 'name="homepage"' in html
    assert CONSENT in html
    body = {**PERSON, "utm_source": "linkedin", "utm_medium": "paid_social",
            "utm_campaign": "spring", "homepage": "", "page_url": "http://testserver/f/contact"}  # fmt: skip
    answer = _html_post(client, "/f/contact", body, HTTP_USER_AGENT="Firefox/1")
    assert answer.status_code == 200
    assert "Thank you" in answer.content.decode()
    touch = Touchpoint.objects.get(kind=TouchKind.FORM_SUBMIT)
    assert touch.campaign is not None
    assert touch.campaign.utm_campaign == "spring"


def test_posting_the_same_hosted_page_twice_records_one_submission(
    make_form: Callable[..., Any],
) -> None:
    make_form()
    client = Client()
    html = client.get("/f/contact").content.decode()
    match = re.search(r'name="submission_id" value="(\w+)"', html)
    assert match
    body = {**PERSON, "submission_id": match.group(1)}
    first = _html_post(client, "/f/contact", body)
    again = _html_post(client, "/f/contact", body)  # a reload that re-posts
    assert (first.status_code, again.status_code) == (200, 200)
    assert FormSubmission.objects.count() == 1


def test_the_hosted_page_names_missing_fields_and_keeps_what_was_typed(
    make_form: Callable[..., Any],
) -> None:
    make_form()
    answer = _html_post(Client(), "/f/contact", {"email": "ada@example.com", "title": "CTO"})
    html = answer.content.decode()
    assert answer.status_code == 422
    assert "first_name: required" in html
    assert 'value="CTO"' in html
    assert not Contact.objects.exists()


def test_the_hosted_page_redirects_when_the_form_says_so(make_form: Callable[..., Any]) -> None:
    make_form(redirect_url="https://www.acme.example/thanks")
    answer = Client().post("/f/contact", PERSON)
    assert answer.status_code == 303
    assert answer["Location"] == "https://www.acme.example/thanks"


def test_crlf_in_a_posted_name_cannot_inject_anything(make_form: Callable[..., Any]) -> None:
    make_form()
    _html_post(Client(), "/f/contact", {**PERSON, "first_name": "Ada\r\nSet-Cookie: x=1\r\n"})
    assert Contact.objects.get().first_name == "Ada Set-Cookie: x=1"


def test_ten_thousand_fields_or_a_megabyte_value_is_refused_before_anything_is_stored(
    make_form: Callable[..., Any],
) -> None:
    make_form()
    client = Client()
    many = "&".join(f"f{i}=1" for i in range(10_000)) + "&email=a%40b.example&first_name=A"
    answer = client.post(
        "/f/contact/submit", many, content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 413
    big = {**PERSON, "message": "x" * 1_000_000}
    answer = client.post("/f/contact/submit", big, content_type="application/json")
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["loc"] == ["body"]
    assert _html_post(client, "/f/contact", big).status_code == 413
    assert client.post("/f/contact", big).status_code == 413  # multipart too
    # Under the byte limit but over the count of names: 422, named.
    fields = {**PERSON, **{f"x{i}": "" for i in range(150)}}
    answer = client.post("/f/contact/submit", fields, content_type="application/json")
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["fields"]
    assert not Contact.objects.exists()
    assert not FormSubmission.objects.exists()


def test_the_rate_limit_is_per_ip(make_form: Callable[..., Any], settings: Any) -> None:
    settings.ONEFUNNEL_FORMS_RATE = "2/m"
    make_form()
    client = Client()
    codes = [
        client.post(
            "/f/contact/submit",
            {**PERSON, "email": f"p{i}@example.com"},
            content_type="application/json",
        ).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert (
        other.post("/f/contact/submit", PERSON, content_type="application/json").status_code == 200
    )
    assert Contact.objects.count() == 3


def test_the_json_endpoint_answers_cors_for_allowed_origins_only(
    make_form: Callable[..., Any],
) -> None:
    make_form(allowed_origins=["https://www.acme.example"])
    client = Client()
    ok = "https://www.acme.example"
    pre = client.options("/f/contact/submit", HTTP_ORIGIN=ok,
                         HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")  # fmt: skip
    assert pre.status_code == 204
    assert pre["Access-Control-Allow-Origin"] == ok
    answer = client.post("/f/contact/submit", PERSON, content_type="application/json",
                         HTTP_ORIGIN=ok)  # fmt: skip
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == ok
    assert answer.json() == {"ok": True, "thank_you": get_form("contact").thank_you,
                             "redirect_url": ""}  # fmt: skip
    evil = client.post("/f/contact/submit", {**PERSON, "email": "x@example.com"},
                       content_type="application/json", HTTP_ORIGIN="https://evil.example")  # fmt: skip
    assert evil.status_code == 403
    assert "Access-Control-Allow-Origin" not in evil
    hosted = client.post("/f/contact", PERSON, HTTP_ORIGIN="https://evil.example")
    assert hosted.status_code == 403
    # The page's own site posts, whatever the scheme a TLS-ending proxy leaves.
    own = _html_post(client, "/f/contact", {**PERSON, "email": "own@example.com"},
                     HTTP_ORIGIN="https://testserver")  # fmt: skip
    assert own.status_code == 200
    assert Contact.objects.count() == 2


def test_the_json_endpoint_names_fields_in_the_api_error_format(
    make_form: Callable[..., Any],
) -> None:
    make_form()
    answer = Client().post("/f/contact/submit", {"email": "ada@example.com", "first_name": ["x"]},
                           content_type="application/json")  # fmt: skip
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["first_name"]
    assert (
        Client().post("/f/nope/submit", PERSON, content_type="application/json").status_code == 404
    )
    garbage = Client().post("/f/contact/submit", b"{not json", content_type="application/json")
    assert garbage.status_code == 400
    assert garbage.json()["detail"]


def test_the_public_definition_is_readable_by_any_site(make_form: Callable[..., Any]) -> None:
    make_form()
    answer = Client().get("/f/contact/form.json")
    assert answer.status_code == 200
    assert answer["Access-Control-Allow-Origin"] == "*"
    assert [f["name"] for f in answer.json()["fields"]] == [f["name"] for f in FIELDS]
    assert "allowed_origins" not in answer.json()


def test_an_inactive_form_is_not_served(make_form: Callable[..., Any], marketer: User) -> None:
    make_form()
    update_form(actor_for(marketer), "contact", {"active": False})
    assert Client().get("/f/contact").status_code == 404
    assert (
        Client().post("/f/contact/submit", PERSON, content_type="application/json").status_code
        == 404
    )


def test_marketings_forms_page_lists_links_and_the_snippet(
    make_form: Callable[..., Any], marketer: User
) -> None:
    make_form()
    html = _client(marketer).get("/forms").content.decode()
    assert "http://testserver/f/contact" in html
    assert "data-onefunnel-form=&quot;contact&quot;" in html
    assert "forms-embed.js" in html


# ------------------------------------------------------------------------------ the API


def test_the_api_creates_edits_and_refuses(marketer: User) -> None:
    client = _client(marketer)
    body = {"name": "Demo", "slug": "demo", "fields": FIELDS, "hand_raise": True}
    made = client.post("/api/forms", body, content_type="application/json")
    assert made.status_code == 201
    assert made.json()["hand_raise"] is True
    bad = client.post("/api/forms", {**body, "slug": "demo-2",
                                     "fields": [*FIELDS, {"name": "Bad!"}]},
                      content_type="application/json")  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["fields", 4, "name"]
    patched = client.patch("/api/forms/demo", {"thank_you": "A rep will call."},
                           content_type="application/json")  # fmt: skip
    assert patched.status_code == 200
    assert patched.json()["thank_you"] == "A rep will call."
    rep = _client(_user("sam", "sales_rep"))
    assert (
        rep.post("/api/forms", {**body, "slug": "x"}, content_type="application/json").status_code
        == 403
    )
    assert rep.get("/api/forms").status_code == 200
    assert client.get("/api/forms/nope").status_code == 404
    assert Form.objects.count() == 1


def test_the_consent_export_is_formula_safe_csv(
    make_form: Callable[..., Any], marketer: User
) -> None:
    make_form()
    _html_post(Client(), "/f/contact", PERSON, HTTP_USER_AGENT='=HYPERLINK("http://evil")')
    answer = _client(marketer).get("/api/forms/contact/consent?format=csv")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert rows[0]["email"] == "ada@example.com"
    assert rows[0]["user_agent"].startswith("'=HYPERLINK")
    assert rows[0]["consent_version"] == consent_version(CONSENT)
    as_json = orjson.loads(_client(marketer).get("/api/forms/contact/consent").content)
    assert as_json[0]["consent_text"] == CONSENT
    assert as_json[0]["ip"] == "127.0.0.1"


def test_system_actor_may_do_everything(make_form: Callable[..., Any]) -> None:
    make_form()
    assert consent_records(SYSTEM, "contact") == []


def test_absurd_api_input_answers_4xx_never_500(marketer: User) -> None:
    client = _client(marketer)
    assert client.get("/api/forms/%00").status_code == 404
    assert client.get("/api/forms/" + "x" * 5000).status_code == 404
    body = {"name": "N\x00ame", "slug": "nul", "fields": FIELDS, "campaign": "sp\x00ring"}
    answer = client.post("/api/forms", body, content_type="application/json")
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["campaign"]
    patch = client.patch("/api/forms/%00", {"name": "x"}, content_type="application/json")
    assert patch.status_code == 404
    assert client.get("/api/forms/%00/consent").status_code == 404
    assert not Form.objects.exists()


def test_nul_and_control_characters_in_a_submission_are_stored_safely(
    make_form: Callable[..., Any],
) -> None:
    make_form()
    sent = {**PERSON, "first_name": "A\x00da", "message": "hi\x00\r\nthere",
            "anonymous_id": "an\x00on", "utm_campaign": "c\x00", "page_url": "http://x/\x00"}  # fmt: skip
    answer = Client().post("/f/contact/submit", sent, content_type="application/json",
                           HTTP_USER_AGENT="agent\x01")  # fmt: skip
    assert answer.status_code == 200
    contact = Contact.objects.get()
    assert contact.first_name == "A da"
    assert FormSubmission.objects.get().answers["message"] == "hi \nthere"
