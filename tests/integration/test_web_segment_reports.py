"""Marketing's funnel page filtered by a segment, with the Django test client on the small demo:
the page names the segment and when its membership was refreshed, each section shows the API's
filtered numbers, and every count's click-through lists as many records, all of them members.
The API names the field for an unknown segment and for a report that refuses one."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from onefunnel.models import Segment
from onefunnel.services.access import SYSTEM
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.marketing.segment_reports import segment_contact_ids, segment_filter
from onefunnel.services.marketing.segments import create_segment
from onefunnel.web.panels import Format, format_value
from tests.integration.test_web_marketing import _hrefs, _table, _text

pytestmark = pytest.mark.django_db(transaction=True)
PERIOD = {"from": "2025-01-01", "to": "2026-12-31", "model": "linear"}
SPEC = {"all": [{"type": "stage", "in": ["intent", "conversion", "nurture", "retain"]}]}


@pytest.fixture
def marketer(db: None) -> Client:
    generate_demo(seed=3, size=DemoSize.SMALL)
    user = User.objects.create_user(username="mia", password="x" * 12)
    user.groups.add(Group.objects.get_or_create(name="marketing")[0])
    client = Client()
    client.force_login(user)
    return client


def _api(client: Client, report: str, **params: str) -> dict[str, Any]:
    response = client.get(f"/api/reports/{report}", {**PERIOD, **params})
    assert response.status_code == 200, response.content
    body: dict[str, Any] = orjson.loads(response.content)
    return body


def _records(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


@pytest.fixture
def warm(marketer: Client) -> str:
    """A saved segment, never refreshed yet: its id."""
    return str(create_segment(SYSTEM, "Warm leads", SPEC).id)


def test_the_filtered_page_shows_the_filtered_numbers_and_as_many_records(
    marketer: Client, warm: str
) -> None:
    segment_id, query = warm, {**PERIOD, "segment": warm}

    page = marketer.get("/marketing", query).content.decode()
    # Never refreshed: the page refreshed it, and says which segment and when.
    refreshed = Segment.objects.get(pk=segment_id).refreshed_at
    assert refreshed is not None
    notice = _text(page.split('data-testid="segment-filter"')[1].split("</p>")[0])
    assert "Filtered by segment 'Warm leads'" in notice
    assert f"{refreshed:%Y-%m-%d %H:%M} UTC" in notice
    assert re.search(rf'<option value="{segment_id}" selected>Warm leads</option>', page)
    assert f"segment={segment_id}" in page  # the sections load filtered

    segment = segment_filter(segment_id)
    assert segment is not None
    members = set(segment_contact_ids(segment).values_list("pk", flat=True))
    api = _api(marketer, "funnel", by="channel", segment=segment_id)
    assert api["segment"]["name"] == "Warm leads"
    assert api["segment"]["members"] == len(members)
    filtered = _records(api)
    everyone = _records(_api(marketer, "funnel", by="channel"))
    assert 0 < sum(r["entries"] for r in filtered) < sum(r["entries"] for r in everyone)

    html = marketer.get("/marketing/funnel-channel", query).content.decode()
    assert "Only the members of segment “Warm leads” count." in html
    rows = _table(html, "funnel-channel-table")
    assert len(rows) == len(filtered)
    for row, expected in zip(rows, filtered, strict=True):
        assert row[2] == format_value(expected["entries"], Format.number)
    links = _hrefs(html)
    assert links
    assert all(f"segment={segment_id}" in href for href in links)
    for href in links[:25]:
        listed = marketer.get(href).content.decode()
        shown = _table(listed, "records-table")
        total = int(re.search(r"(\d+) records?", _text(listed))[1])  # type: ignore[index]
        assert len(shown) == total
        assert "only the members of segment 'Warm leads'" in _text(listed)
        ids = {int(i) for i in re.findall(r'href="/contacts/(\d+)', listed)}
        assert ids
        assert ids <= members
    # The same link without the segment lists more records, or as many: never fewer.
    first = links[0]
    unfiltered = marketer.get(re.sub(r"&?segment=\d+", "", first)).content.decode()
    assert len(_table(unfiltered, "records-table")) >= len(
        _table(marketer.get(first).content.decode(), "records-table")
    )

    returned = marketer.get("/marketing/returned", query).content.decode()
    scorecard = _records(_api(marketer, "scorecard", segment=segment_id))
    by_reason = _table(returned, "returned-table")
    assert sum(int(r[1]) for r in by_reason) == sum(r["rejected"] for r in scorecard)
    for href in _hrefs(returned):
        reason = re.search(r"reason=(\w+)", href)
        assert reason is not None
        assert f"segment={segment_id}" in href
        row = next(r for r in by_reason if r[0] == reason[1].replace("_", " "))
        assert len(_table(marketer.get(href).content.decode(), "records-table")) == int(row[1])


def test_unknown_or_refused_segments_are_named(marketer: Client) -> None:
    create_segment(SYSTEM, "Everyone", {"all": []})
    for params, text in (
        ({"segment": "nobody"}, "segment: no segment 'nobody'"),
        ({"segment": "Everyone"}, "segment: the spend report counts money, not contacts"),
    ):
        response = marketer.get("/api/reports/spend", {**PERIOD, **params})
        assert response.status_code == 422, response.content
        body = orjson.loads(response.content)
        assert body["detail"].startswith(text)
        assert body["errors"][0]["loc"] == ["query", "segment"]
    for absurd in ("x" * 500, "a\x00b", "9" * 40):
        answer = marketer.get("/api/reports/funnel", {**PERIOD, "segment": absurd})
        assert answer.status_code == 422, (absurd, answer.content)
        assert orjson.loads(answer.content)["errors"][0]["loc"][-1] == "segment"
    for name in ("funnel", "scorecard", "attribution", "retention"):
        body = _api(marketer, name, segment="Everyone")
        assert body["segment"]["name"] == "Everyone"
        assert body["segment"]["refreshed_at"]
        if name in ("funnel", "scorecard"):  # every contact counts: nothing changes
            assert body["rows"] == _api(marketer, name)["rows"]
    page = marketer.get("/marketing", {**PERIOD, "segment": "nobody"})
    assert page.status_code == 200
    assert "segment: no segment &#x27;nobody&#x27;" in page.content.decode()
    records = marketer.get("/records", {**PERIOD, "report": "scorecard", "measure": "handoffs",
                                        "segment": "nobody"})  # fmt: skip
    assert records.status_code == 422
    assert "segment: no segment" in records.content.decode()


def test_the_dashboard_panels_filter_by_a_segment_and_spend_says_why_not(
    marketer: Client, warm: str
) -> None:
    segment_id, query = warm, {**PERIOD, "segment": warm}
    page = marketer.get("/", query).content.decode()
    assert "The panels below are filtered by segment 'Warm leads'" in _text(page)
    assert f"segment={segment_id}" in page
    quality = marketer.get("/panels/report/quality", query).content.decode()
    api = _records(_api(marketer, "scorecard", by="channel", segment=segment_id))
    everyone = _records(_api(marketer, "scorecard", by="channel"))
    assert sum(r["handoffs"] for r in api) < sum(r["handoffs"] for r in everyone)
    links = _hrefs(quality)
    assert links
    assert all(f"segment={segment_id}" in h for h in links)
    download = marketer.get("/panels/report/quality", {**query, "format": "csv"})
    shown = [line.split(",")[1] for line in download.content.decode().splitlines()[1:]]
    assert shown == [str(r["handoffs"]) for r in api]
    spend = marketer.get("/panels/report/spend", query).content.decode()
    assert "segment: the spend report counts money, not contacts" in _text(spend)
