"""Marketing's campaign service and its pages' writes: validation with the field named, the
month grid, the spend CSV (preview writes nothing; confirm writes and lists the rejects), spend
outside a campaign's days refused everywhere (API, import, admin), and UTM links whose touches
land on the campaign through the real tracking path."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from onefunnel.domain.access import AccessDeniedError
from onefunnel.domain.tracking import parse_batch
from onefunnel.models import Campaign, Spend, Touchpoint
from onefunnel.services.access import actor_for
from onefunnel.services.errors import InputError
from onefunnel.services.marketing import campaigns as service
from onefunnel.services.spend import import_spend
from onefunnel.services.tracking import ingest

pytestmark = pytest.mark.django_db


def _user(name: str, *groups: str, staff: bool = False) -> User:
    user = User.objects.create_user(username=name, password="x" * 12, is_staff=staff,
                                    is_superuser=staff)  # fmt: skip
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def spring() -> Campaign:
    return Campaign.objects.create(
        name="Spring search", utm_campaign="spring-search", channel="paid_search",
        start_date=date(2026, 3, 1), end_date=date(2026, 5, 31), budget=Decimal("9000"),
    )  # fmt: skip


def test_the_service_refuses_bad_campaigns_naming_the_field(spring: Campaign) -> None:
    marketer = actor_for(_user("mia", "marketing"))
    rep = actor_for(_user("rob", "sales"))
    for fields, field in (
        ({"start_date": date(2026, 6, 1)}, "end_date"),
        ({"budget": Decimal("-1")}, "budget"),
    ):
        with pytest.raises(InputError, match=f"^{field}: "):
            service.update_campaign(marketer, spring.pk, fields)
    with pytest.raises(AccessDeniedError):
        service.update_campaign(rep, spring.pk, {"name": "mine"})
    with pytest.raises(AccessDeniedError):
        service.create_campaign(rep, "x", {"channel": "email"})
    Spend.objects.create(campaign=spring, day=date(2026, 3, 2), amount=Decimal(10))
    with pytest.raises(InputError, match=r"^start_date: spend is recorded on 2026-03-02"):
        service.update_campaign(marketer, spring.pk, {"start_date": date(2026, 3, 3)})
    with pytest.raises(InputError, match=r"^end_date: spend is recorded on 2026-03-02"):
        service.update_campaign(marketer, spring.pk, {"end_date": date(2026, 3, 1)})
    spring.refresh_from_db()
    assert (spring.start_date, spring.end_date, spring.budget) == (
        date(2026, 3, 1), date(2026, 5, 31), Decimal("9000.00"))  # fmt: skip


def test_spend_outside_the_campaign_is_refused_by_the_api_and_the_import(
    spring: Campaign, tmp_path: Path
) -> None:
    client = _client(_user("mia", "marketing"))
    answer = client.post(
        "/api/spend",
        {"campaign": "spring-search", "day": "2026-06-01", "amount": "5"},
        content_type="application/json",
    )
    assert answer.status_code == 422
    body = orjson.loads(answer.content)
    (error,) = body["errors"]
    assert error["loc"][-1] == "date"
    assert error["msg"].startswith("2026-06-01 is outside campaign 'spring-search'")
    file = tmp_path / "spend.csv"
    file.write_text(
        "date,campaign,channel,amount,currency\n"
        "2026-03-05,spring-search,paid_search,100,USD\n"
        "2026-07-01,spring-search,paid_search,100,USD\n"
    )
    report = import_spend(file)
    assert (report.created, report.skipped) == (1, 1)
    assert report.rejects[0].row == 3
    assert report.rejects[0].column == "date"
    assert list(Spend.objects.values_list("day", flat=True)) == [date(2026, 3, 5)]


def test_the_admin_saves_through_the_rules(spring: Campaign) -> None:
    admin = _client(_user("root", staff=True))
    url = f"/admin/onefunnel/campaign/{spring.pk}/change/"
    form = {"name": "Spring search", "channel": "paid_search", "start_date": "2026-03-01",
            "end_date": "2026-02-01", "budget": "9000", "currency": "USD", "planned": "on"}  # fmt: skip
    answer = admin.post(url, form)
    assert answer.status_code == 200  # the form again, with the error on the field
    assert "before start_date" in answer.content.decode()
    spring.refresh_from_db()
    assert spring.end_date == date(2026, 5, 31)
    assert admin.post(url, {**form, "end_date": "2026-06-30"}).status_code == 302
    spring.refresh_from_db()
    assert spring.end_date == date(2026, 6, 30)
    spend = {"campaign": spring.pk, "day": "2026-08-01", "amount": "5", "currency": "USD"}
    answer = admin.post("/admin/onefunnel/spend/add/", spend)
    assert answer.status_code == 200
    assert "is outside campaign" in answer.content.decode()
    assert not Spend.objects.exists()


def test_the_month_grid_sets_a_month_and_refuses_months_outside(spring: Campaign) -> None:
    client, rep = _client(_user("mia", "marketing")), _client(_user("rob", "sales"))
    Spend.objects.create(campaign=spring, day=date(2026, 4, 3), amount=Decimal(10))
    Spend.objects.create(campaign=spring, day=date(2026, 4, 9), amount=Decimal(20))
    url = f"/campaigns/{spring.pk}/month"
    assert client.post(url, {"month": "2026-04", "amount": "1,250.50"}).status_code == 200
    assert list(Spend.objects.values_list("day", "amount")) == [
        (date(2026, 4, 1), Decimal("1250.50"))]  # fmt: skip
    assert service.month_total(spring.pk, "2026-04") == Decimal("1250.50")
    for form, field in (
        ({"month": "2026-07", "amount": "5"}, "month"),
        ({"month": "2026-02", "amount": "5"}, "month"),
        ({"month": "April", "amount": "5"}, "month"),
        ({"month": "2026-04", "amount": "-5"}, "amount"),
        ({"month": "2026-04", "amount": "1e400"}, "amount"),
    ):
        answer = client.post(url, form)
        assert answer.status_code == 422, form
        assert f"{field}: " in answer.content.decode(), form
    assert rep.post(url, {"month": "2026-04", "amount": "1"}).status_code == 403
    assert Spend.objects.get().amount == Decimal("1250.50")
    months = service.spend_by_month(spring.pk, today=date(2026, 12, 1))
    assert [m.month for m in months] == ["2026-03", "2026-04", "2026-05"]
    assert [m.to_date for m in months] == [0, Decimal("1250.50"), Decimal("1250.50")]


def test_the_spend_csv_is_previewed_then_imported_with_its_rejects(spring: Campaign) -> None:
    client = _client(_user("mia", "marketing"))
    text = (
        b"date,campaign,channel,amount,currency\n"
        b"2026-03-05,spring-search,paid_search,100,USD\n"
        b"2026-03-06,spring-search,paid_search,-3,USD\n"
        b"2026-03-07,new-display,display,40,USD\n"
    )
    preview = client.post("/campaigns/spend/upload",
                          {"file": SimpleUploadedFile("spend.csv", text, "text/csv")})  # fmt: skip
    assert preview.status_code == 200
    html = preview.content.decode()
    assert 'data-testid="created">2<' in html
    assert 'data-testid="skipped">1<' in html
    assert "must not be negative" in html
    assert not Spend.objects.exists()
    assert not Campaign.objects.filter(utm_campaign="new-display").exists()
    token = html.split('name="token" value="')[1].split('"')[0]
    rep = _client(_user("rob", "sales"))
    assert rep.post("/campaigns/spend/confirm", {"token": token}).status_code == 403
    assert not Spend.objects.exists()
    done = client.post("/campaigns/spend/confirm", {"token": token})
    assert done.status_code == 200
    assert Spend.objects.count() == 2
    assert "must not be negative" in done.content.decode()
    again = client.post("/campaigns/spend/confirm", {"token": token})
    assert again.status_code == 422  # the upload is used up
    assert client.post("/campaigns/spend/confirm", {"token": "../../etc"}).status_code == 422
    bad = client.post("/campaigns/spend/upload",
                      {"file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00", "text/csv")})  # fmt: skip
    assert bad.status_code == 422


def test_a_built_link_lands_its_touches_on_the_campaign(spring: Campaign) -> None:
    client = _client(_user("rob", "sales"))  # building a link writes nothing: any role
    source, medium = service.suggested_tags(spring.channel)
    answer = client.get(
        f"/campaigns/{spring.pk}/link",
        {"url": "https://example.com/pricing?ref=x", "source": source, "medium": medium},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 200
    html = answer.content.decode()
    link = html.split('data-testid="utm-link"')[0].rsplit('value="', 1)[1].split('"')[0]
    link = link.replace("&amp;", "&")
    tags = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert tags["utm_campaign"] == "spring-search"
    assert tags["ref"] == "x"
    assert "land on <strong>Spring search</strong>" in html
    # The browser's analytics.js sends the link's tags as context.campaign: the real path.
    batch = parse_batch(
        {"batch": [{"type": "page", "messageId": "m1", "anonymousId": "a1",
                    "timestamp": "2026-03-10T10:00:00Z",
                    "context": {"page": {"url": link},
                                "campaign": {"source": tags["utm_source"],
                                             "medium": tags["utm_medium"],
                                             "name": tags["utm_campaign"]}}}]},
        received_at=datetime(2026, 3, 10, 10, 0, tzinfo=UTC),
    )  # fmt: skip
    ingest(batch.events)
    touch = Touchpoint.objects.get(message_id="m1")
    assert (touch.campaign_id, touch.channel) == (spring.pk, "paid_search")
    # A medium the rules map elsewhere is flagged.
    other = client.get(f"/campaigns/{spring.pk}/link", {"url": "https://example.com",
                       "source": "newsletter", "medium": "email"}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert "not paid search" in other.content.decode()
    bad = client.get(f"/campaigns/{spring.pk}/link", {"url": "javascript:alert(1)",
                     "source": "a", "medium": "b"})  # fmt: skip
    assert bad.status_code == 422
    assert "url: " in bad.content.decode()
