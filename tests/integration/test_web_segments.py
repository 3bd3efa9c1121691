"""Segment pages with the Django test client: marketing creates a segment through the form
(conditions added and removed, an ``any`` group, bad input refused with the field named and
nothing saved), edits and refreshes it; the list's live count equals the API's; members page,
link to their records and download as formula-safe CSV; a sales rep reads but never reaches the
form or the refresh (the 403 page), and leadership reads."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from onefunnel.models import Contact, Segment, SegmentChange
from onefunnel.services.access import SYSTEM
from onefunnel.services.marketing import segments as seg
from onefunnel.web.views_segments import spec_from_form

pytestmark = pytest.mark.django_db
MakeContact = Callable[..., Contact]


def _client(name: str, *groups: str) -> Client:
    user = User.objects.create_user(username=name, password="x" * 12)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def marketing() -> Client:
    return _client("mia", "marketing")


def _people(make_contact: MakeContact) -> list[Contact]:
    return [
        make_contact(stage="consideration", score=50.0, first_name="Ada", last_name="Ok"),
        make_contact(stage="intent", score=10.0, first_name="=cmd|' /C calc'!A0"),
        make_contact(stage="awareness", score=80.0, first_name="Cy"),
        make_contact(stage="awareness", score=5.0, first_name="Di"),
    ]


FORM = {
    "name": "warm or hot",
    "subject": "contact",
    "n": "2",
    "c0.type": "stage",
    "c0.in": ["consideration", "intent"],
    "c1.type": "any",
    "c1.n": "2",
    "c1.0.type": "score",
    "c1.0.min": "40",
    "c1.1.type": "stage",
    "c1.1.in": ["intent"],
}


def test_marketing_builds_a_segment_through_the_form(
    marketing: Client, make_contact: MakeContact
) -> None:
    ada, bad, _cy, _di = _people(make_contact)
    page = marketing.get("/segments/new")
    assert page.status_code == 200
    assert b'name="c0.type" value="stage"' in page.content  # starts with one stage condition
    # Add a condition (no save), then remove it again: the form redraws, nothing is saved.
    added = marketing.post("/segments/new", {**FORM, "op": "add", "new_type": "touches"})
    assert added.status_code == 200
    assert b'name="c2.within_days"' in added.content
    assert b'name="c1.0.min" value="40"' in added.content  # what was typed is kept
    grouped = marketing.post("/segments/new", {**FORM, "op": "addin:1", "c1.new_type": "handoff"})
    assert b'name="c1.2.status"' in grouped.content
    removed = marketing.post("/segments/new", {**FORM, "op": "remove:1.1"})
    assert b'name="c1.1.type"' not in removed.content
    assert not Segment.objects.exists()
    saved = marketing.post("/segments/new", {**FORM, "op": "save"})
    assert saved.status_code == 302
    segment = Segment.objects.get(name="warm or hot")
    assert saved["Location"] == f"/segments/{segment.pk}"
    assert segment.spec == {
        "subject": "contact",
        "all": [
            {"type": "stage", "in": ["consideration", "intent"]},
            {"type": "any", "of": [{"type": "score", "min": 40.0},
                                   {"type": "stage", "in": ["intent"]}]},
        ],
    }  # fmt: skip
    detail = marketing.get(saved["Location"]).content.decode()
    assert "stage is consideration or intent · any of (score ≥ 40 | stage is intent)" in detail
    assert f'href="/contacts/{ada.pk}"' in detail
    assert f'href="/contacts/{bad.pk}"' in detail
    assert "2 contacts" in detail


def test_bad_input_is_refused_with_the_field_named_and_nothing_saved(
    marketing: Client, make_contact: MakeContact
) -> None:
    bad = {**FORM, "c1.0.min": "forty", "c0.in": [], "op": "save"}
    answer = marketing.post("/segments/new", bad)
    assert answer.status_code == 422
    html = answer.content.decode()
    assert "spec.all[1].of[0].min" in html
    assert "spec.all[0].in" in html
    # Each message sits beside its field, in the fieldset of that condition.
    group = html.split('name="c1.0.type"')[1].split('name="c1.1.type"')[0]
    assert "expected a number, got &#x27;forty&#x27;" in group
    assert 'value="forty"' in group  # the typed text stays for fixing
    unnamed = marketing.post("/segments/new", {**FORM, "name": " ", "op": "save"})
    assert unnamed.status_code == 422
    assert b"a segment needs a name" in unnamed.content
    json_bad = marketing.post("/segments/new", {"name": "j", "op": "json", "spec_json": "{"})
    assert json_bad.status_code == 422
    assert b"not valid JSON" in json_bad.content
    assert not Segment.objects.exists()
    # The advanced view saves JSON through the same checks.
    spec = {"all": [{"type": "score", "min": 70}]}
    ok = marketing.post("/segments/new", {"name": "hot", "op": "json",
                                          "spec_json": orjson.dumps(spec).decode()})  # fmt: skip
    assert ok.status_code == 302
    assert Segment.objects.get(name="hot").spec["all"] == [{"type": "score", "min": 70.0}]


def test_edit_keeps_the_subject_and_refresh_records_changes(
    marketing: Client, make_contact: MakeContact
) -> None:
    people = _people(make_contact)
    view = seg.create_segment(SYSTEM, "considering", {"all": [{"type": "stage", "in": ["consideration"]}]})  # fmt: skip
    form = marketing.get(f"/segments/{view.id}/edit").content.decode()
    assert 'name="c0.in" value="consideration" checked' in form
    fields = {"name": "considering or aware", "subject": "contact", "n": "1",
              "c0.type": "stage", "c0.in": ["consideration", "awareness"], "op": "save"}  # fmt: skip
    # A segment keeps its subject (its history is of contacts): refused, nothing saved.
    switched = marketing.post(f"/segments/{view.id}/edit", {**fields, "subject": "account"})
    assert switched.status_code == 422
    assert "stays one" in switched.content.decode()
    assert Segment.objects.get(pk=view.id).name == "considering"
    edited = marketing.post(f"/segments/{view.id}/edit", fields)
    assert edited.status_code == 302
    stored = Segment.objects.get(pk=view.id)
    assert stored.name == "considering or aware"
    assert stored.subject == "contact"
    refreshed = marketing.post(f"/segments/{view.id}/refresh")
    assert refreshed.status_code == 200
    assert b"Refreshed: 3 members; 3 entered and 0 left" in refreshed.content
    assert SegmentChange.objects.filter(segment_id=view.id).count() == 3
    page = refreshed.content.decode()
    assert 'id="size-chart"' in page
    assert '"members": 3' in page
    assert page.count("<strong>entered</strong>") == 3
    Contact.objects.filter(pk=people[0].pk).update(stage="intent")
    marketing.post(f"/segments/{view.id}/refresh")
    listed = marketing.get("/segments").content.decode()
    row = listed.split(f'data-segment="{view.id}"')[1].split("</tr>")[0]
    assert "+0 / −1" in row  # the last refresh: one left


EITHER = {"type": "stage", "in": ["intent"]}
LOW = {"type": "score", "max": 6}


def test_the_list_count_equals_the_api_and_links_to_the_members(
    marketing: Client, make_contact: MakeContact
) -> None:
    _people(make_contact)
    views = [
        seg.create_segment(SYSTEM, "a", {"all": [{"type": "score", "min": 40}]}),
        seg.create_segment(SYSTEM, "b", {"all": [{"type": "any", "of": [EITHER, LOW]}]}),
        seg.create_segment(SYSTEM, "c", {"subject": "account"}),
    ]
    seg.refresh_segment(views[0].id)
    make_contact(stage="intent", score=99.0)  # after the refresh: the live count moves
    html = marketing.get("/segments").content.decode()
    for view in views:
        api = orjson.loads(marketing.get(f"/api/segments/{view.id}/count").content)
        shown = re.search(rf'data-testid="count-{view.id}">(\d+)</a>', html)
        assert shown is not None
        assert int(shown.group(1)) == api["size"]
        assert f'href="/segments/{view.id}#members"' in html
    row = html.split(f'data-segment="{views[0].id}"')[1].split("</tr>")[0]
    assert ">+1<" in row  # 3 now against 2 at the refresh


def test_members_page_and_download_as_formula_safe_csv(
    marketing: Client, make_contact: MakeContact
) -> None:
    people = _people(make_contact)
    view = seg.create_segment(SYSTEM, "everyone", {})
    first = marketing.get(f"/segments/{view.id}").content.decode()
    assert "showing 1–4" in first
    answer = marketing.get(f"/segments/{view.id}", {"format": "csv"})
    assert answer["Content-Type"].startswith("text/csv")
    body = b"".join(answer.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["id", "name", "email", "stage", "score", "account"]
    assert [int(r[0]) for r in rows[1:]] == [p.pk for p in people]
    assert rows[2][1].startswith("'=")  # a formula is neutralised
    accounts = seg.create_segment(SYSTEM, "accounts", {"subject": "account"})
    page = marketing.get(f"/segments/{accounts.id}").content.decode()
    assert f'href="/accounts/{people[0].account_id}"' in page


def test_a_sales_rep_reads_but_never_reaches_the_form_or_refresh(
    make_contact: MakeContact,
) -> None:
    _people(make_contact)
    view = seg.create_segment(SYSTEM, "s", {"all": [{"type": "stage", "in": ["intent"]}]})
    rep = _client("rob", "sales_rep")
    assert rep.get("/segments").status_code == 200
    assert b"New segment" not in rep.get("/segments").content
    detail = rep.get(f"/segments/{view.id}")
    assert detail.status_code == 200
    assert b"Refresh now" not in detail.content
    assert b"Edit the segment" not in detail.content
    for path in ("/segments/new", f"/segments/{view.id}/edit"):
        assert rep.get(path).status_code == 403
    assert rep.post("/segments/new", {**FORM, "op": "save"}).status_code == 403
    edit = rep.post(f"/segments/{view.id}/edit", {**FORM, "name": "mine", "op": "save"})
    assert edit.status_code == 403
    assert b"may not edit marketing" in edit.content
    assert rep.post(f"/segments/{view.id}/refresh").status_code == 403
    assert Segment.objects.get(pk=view.id).name == "s"
    assert not SegmentChange.objects.exists()
    assert b'href="/segments"' not in rep.get("/queue").content  # not in a rep's navigation
    assert b'href="/segments"' in _client("mo", "marketing").get("/queue").content
    lead = _client("lee", "leadership")
    assert lead.get(f"/segments/{view.id}").status_code == 200
    assert lead.post(f"/segments/{view.id}/refresh").status_code == 403


def test_the_form_fields_make_the_spec_as_typed() -> None:
    class Post(dict[str, Any]):
        def getlist(self, key: str) -> list[str]:
            value = self.get(key, [])
            return value if isinstance(value, list) else [value]

    post = Post(n="3", **{"c0.type": "touches", "c0.within_days": "14", "c0.at_least": "2",
                          "c0.url_contains": "/pricing", "c0.kind": "",
                          "c1.type": "attribute", "c1.name": "title", "c1.op": "contains",
                          "c1.value": "cto", "c2.type": "contract",
                          "c2.renewal_within_days": "1e9"})  # fmt: skip
    assert spec_from_form(post)["all"] == [
        {"type": "touches", "within_days": 14, "at_least": 2, "url_contains": "/pricing"},
        {"type": "attribute", "name": "title", "contains": "cto"},
        {"type": "contract", "renewal_within_days": "1e9"},  # refused by the domain, by name
    ]
