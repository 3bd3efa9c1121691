"""Marketing's pages with the Django test client, on the small demo: every number a page shows
equals the API's report for the same period (campaign list, campaign page, marketing's funnel,
attribution comparison); each count links to as many records; tables download as CSV with the
same numbers; marketing edits campaigns (validated, the field named) and rep cannot; marketing
cannot decide handoffs."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.models import Campaign, Handoff, Spend
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.marketing.funnel import ALL_MODELS
from onefunnel.web.panels import Format, format_value
from onefunnel.web.views_marketing import HANDOFF_FIGURES, LIST_COLUMNS, SPEND_FIGURES

pytestmark = pytest.mark.django_db(transaction=True)
PERIOD = {"from": "2025-01-01", "to": "2026-12-31", "model": "markov"}


def _user(name: str, *groups: str) -> User:
    user = User.objects.create_user(username=name, password="x" * 12)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(client: Client, report: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/reports/{report}", {**PERIOD, **params})
    assert response.status_code == 200, response.content
    body = orjson.loads(response.content)
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).replace("&#x27;", "'").replace("&amp;", "&").strip()


def _figures(html: str) -> dict[str, str]:
    return {
        name: _text(value)
        for name, value in re.findall(r'data-testid="fig-([\w-]+)">(.*?)</dd>', html, re.S)
    }


def _table(html: str, testid: str) -> list[list[str]]:
    body = html.split(f'data-testid="{testid}"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return [
        [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in body.split("</tr>")
        if "<td" in row
    ]


def _hrefs(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="(/records\?[^"]+)"', html)]


@pytest.fixture
def demo() -> None:
    generate_demo(seed=3, size=DemoSize.SMALL)


def test_campaign_pages_show_the_api_numbers_and_link_to_as_many_records(demo: None) -> None:
    client = _client(_user("mia", "marketing"))
    spend = {r["campaign"]: r for r in _api(client, "spend", by="campaign", model="markov")}
    scorecard = {r["campaign"]: r for r in _api(client, "scorecard", by="campaign")}
    page = client.get("/campaigns", PERIOD)
    assert page.status_code == 200
    html = page.content.decode()
    rows = _table(html, "campaigns-table")
    campaigns = list(Campaign.objects.order_by("name", "id"))
    assert len(rows) == len(campaigns) > 3
    for row, campaign in zip(rows, campaigns, strict=True):
        assert row[0] == campaign.name  # by name, not by UTM key
        numbers = spend.get(campaign.utm_campaign, {})
        for column, text in zip(LIST_COLUMNS[5:], row[5:], strict=True):
            expected = numbers.get(column.name, 0 if column.records else None)
            assert text == format_value(expected, column.format), (campaign.name, column.name)

    busy = max(campaigns, key=lambda c: spend.get(c.utm_campaign, {}).get("leads", 0))
    page = client.get(f"/campaigns/{busy.pk}", PERIOD)
    assert page.status_code == 200
    html = page.content.decode()
    shown = _figures(html)
    for column in SPEND_FIGURES:
        expected = spend[busy.utm_campaign][column.name]
        assert shown[column.name] == format_value(expected, column.format), column.name
    for column in HANDOFF_FIGURES:
        expected = scorecard[busy.utm_campaign][column.name]
        assert shown[f"handoff-{column.name}"] == format_value(expected, column.format), column
    # Every count links to its records: as many as the count, each with its timeline link.
    links = _hrefs(html)
    assert len(links) >= 5
    for href in links:
        measure = re.search(r"measure=(\w+)", href)
        assert measure is not None
        listed = client.get(href)
        assert listed.status_code == 200, href
        count = len(_table(listed.content.decode(), "records-table"))
        figure = href.split("report=")[1].split("&")[0]
        reason = re.search(r"reason=(\w+)", href)
        if figure == "attribution":
            # A credit: the journeys behind it, their shares adding up to it.
            shares = re.findall(r'data-amount="([^"]+)"', listed.content.decode())
            credited = spend[busy.utm_campaign]["attributed_revenue"]
            assert sum(float(a) for a in shares) == pytest.approx(credited), href
        elif reason:
            pair = f"{reason[1]}={count}"
            assert pair in str(scorecard[busy.utm_campaign]["rejection_reasons"]), href
        else:
            source = spend if figure == "spend" else scorecard
            assert count == source[busy.utm_campaign][measure[1]], href
        as_csv = client.get(href + "&format=csv")
        assert as_csv["Content-Type"].startswith("text/csv")
        assert len(list(csv.reader(io.StringIO(as_csv.content.decode())))) == count + 1
    # The page's table downloads with the same numbers.
    download = client.get(f"/campaigns/{busy.pk}", {**PERIOD, "format": "csv"})
    (record,) = list(csv.DictReader(io.StringIO(download.content.decode())))
    for column in SPEND_FIGURES:
        expected = spend[busy.utm_campaign][column.name]
        assert record[column.name] == ("" if expected is None else str(expected)), column.name


def test_marketing_funnel_sections_show_the_api_numbers(demo: None) -> None:
    client = _client(_user("mia", "marketing"))
    page = client.get("/marketing", PERIOD)
    assert page.status_code == 200
    assert 'aria-busy="true"' in page.content.decode()
    for slug, by in (("funnel-channel", "channel"), ("funnel-cohort", "cohort")):
        html = client.get(f"/marketing/{slug}", PERIOD).content.decode()
        api = _api(client, "funnel", by=by)
        rows = _table(html, f"{slug}-table")
        assert len(rows) == len(api) > 0
        for row, expected in zip(rows, api, strict=True):
            assert row[0] == format_value(expected[by], Format.text)
            assert row[2] == format_value(expected["entries"], Format.number)
            assert row[4] == format_value(expected["to_nurture"], Format.number)
        assert "<svg" not in html
        assert 'data-spec="' in html
    campaign_html = client.get("/marketing/funnel-campaign", PERIOD).content.decode()
    names = set(Campaign.objects.values_list("name", flat=True))
    assert {r[0] for r in _table(campaign_html, "funnel-campaign-table")} <= names | {"(none)"}

    html = client.get("/marketing/attribution", PERIOD).content.decode()
    rows = {r[0]: r for r in _table(html, "attribution-table")}
    for i, model in enumerate(ALL_MODELS, start=1):
        for credit in _api(client, "attribution", by="channel", model=model):
            shown = rows[format_value(credit["channel"], Format.text)][i]
            assert shown == format_value(credit["revenue"], Format.money), (model, credit)
    assert all(r[-1].endswith("%") or r[-1] == "–" for r in rows.values())
    table = client.get("/marketing/attribution", {**PERIOD, "format": "csv"}).content.decode()
    assert table.splitlines()[0] == ",".join(("channel", *ALL_MODELS, "removal_effect"))

    html = client.get("/marketing/returned", PERIOD).content.decode()
    total = sum(r["rejected"] for r in _api(client, "scorecard"))
    by_reason = _table(html, "returned-table")
    assert sum(int(r[1]) for r in by_reason) == total > 0
    for href in _hrefs(html):
        listed = client.get(href).content.decode()
        reason = re.search(r"reason=(\w+)", href)
        assert reason is not None
        row = next(r for r in by_reason if r[0] == reason[1].replace("_", " "))
        assert len(_table(listed, "records-table")) == int(row[1])


def test_dashboard_panels_link_their_counts_and_download_csv(demo: None) -> None:
    client = _client(_user("mia", "marketing"))
    html = client.get("/panels/report/quality", PERIOD).content.decode()
    links = _hrefs(html)
    assert links
    assert all("report=scorecard" in h and "by=channel" in h for h in links)
    download = client.get("/panels/report/quality", {**PERIOD, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    api = _api(client, "scorecard", by="channel")
    assert [int(r["handoffs"]) for r in rows] == [r["handoffs"] for r in api]


def test_marketing_edits_campaigns_with_the_field_named_and_a_rep_cannot(demo: None) -> None:
    marketer, rep = _client(_user("mia", "marketing")), _client(_user("rob", "sales"))
    campaign = Campaign.objects.filter(spend__isnull=False).distinct().order_by("id").first()
    assert campaign is not None
    first = Spend.objects.filter(campaign=campaign).order_by("day").first()
    assert first is not None
    before = (campaign.name, campaign.start_date, campaign.end_date, campaign.budget)
    url = f"/campaigns/{campaign.pk}/edit"
    base = {"name": campaign.name, "channel": campaign.channel, "currency": "USD"}
    for change, field in (
        ({"start_date": "2026-03-01", "end_date": "2026-02-01"}, "end_date"),
        ({"budget": "-5"}, "budget"),
        ({"budget": "lots"}, "budget"),
        ({"start_date": "9999-12-31"}, "start_date"),
        # Spend is recorded on `first.day`: the campaign cannot start after it.
        ({"start_date": (first.day + timedelta(days=1)).isoformat(), "end_date": ""},
         "start_date"),
    ):  # fmt: skip
        answer = marketer.post(url, {**base, **change})
        assert answer.status_code == 422, change
        assert f"{field}: " in _text(answer.content.decode()), change
    campaign.refresh_from_db()
    assert (campaign.name, campaign.start_date, campaign.end_date, campaign.budget) == before

    denied = rep.post(url, {**base, "name": "Taken over"})
    assert denied.status_code == 403
    campaign.refresh_from_db()
    assert campaign.name == before[0]

    saved = marketer.post(url, {**base, "name": "Spring push", "budget": "12500.50"})
    assert saved.status_code == 200
    campaign.refresh_from_db()
    assert (campaign.name, campaign.budget) == ("Spring push", Decimal("12500.50"))
    assert "Spring push" in client_list(marketer)

    created = marketer.post("/campaigns/new", {"utm_campaign": "autumn-webinar", "name":
                            "Autumn webinar", "channel": "webinar", "start_date": "2026-09-01",
                            "end_date": "2026-09-30", "budget": "3000"})  # fmt: skip
    assert created.status_code == 302
    assert rep.post("/campaigns/new", {"utm_campaign": "x", "channel": "email"}).status_code == 403
    assert not Campaign.objects.filter(utm_campaign="x").exists()


def client_list(client: Client) -> str:
    return client.get("/campaigns", PERIOD).content.decode()


def test_marketing_cannot_decide_handoffs(demo: None) -> None:
    marketer = _client(_user("mia", "marketing"))
    handoff = Handoff.objects.filter(status=HandoffStatus.PENDING.value).first()
    assert handoff is not None
    answer = marketer.post(f"/queue/{handoff.pk}/accept", HTTP_HX_REQUEST="true")
    assert answer.status_code == 403
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.PENDING.value


def test_a_rep_sees_every_counted_row_but_not_others_handoffs(demo: None) -> None:
    rep = _client(_user("rob", "sales"))
    (total,) = _api(rep, "scorecard")
    listed = rep.get("/records", {**PERIOD, "report": "scorecard", "measure": "handoffs"})
    assert listed.status_code == 200
    rows = _table(listed.content.decode(), "records-table")
    assert len(rows) == min(total["handoffs"], 500)
    assert all(row[4] == "(not yours)" for row in rows)
    marketer = _client(_user("mia", "marketing"))
    seen = _table(marketer.get("/records", {**PERIOD, "report": "scorecard",
                                            "measure": "handoffs"}).content.decode(),
                  "records-table")  # fmt: skip
    assert all(row[4].startswith("#") for row in seen)
    bad = rep.get("/records", {**PERIOD, "report": "scorecard", "measure": "spend"})
    assert bad.status_code == 422
    assert "measure: " in bad.content.decode()
