"""Lifetime value on the database: won deals as orders, and the /api/ltv endpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client

from onefunnel.domain.deals import DealKind
from onefunnel.models import Account, Deal, PipelineStage
from onefunnel.services.deals import close_deal, open_deal
from onefunnel.services.errors import InputError
from onefunnel.services.keys import create_key
from onefunnel.services.ltv import fit_orders, orders_from_deals

pytestmark = pytest.mark.django_db
CDNOW = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow_sample_orders.csv"
NOW = datetime.now(UTC)


def _account(n: int) -> Account:
    return Account.objects.create(name=f"Acme {n}", domain=f"acme{n}.example", created_at=NOW)


def _won(account: Account, amount: str, at: datetime, **fields: Any) -> int:
    deal_id = open_deal(
        account_id=account.pk, name="deal", amount=Decimal(amount), created_at=at, **fields
    )
    close_deal(deal_id, won=True, at=at)
    return deal_id


def test_won_deals_become_orders_of_their_account() -> None:
    first, second = _account(1), _account(2)
    day = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
    _won(first, "100.50", day)
    _won(first, "40", day + timedelta(days=30), kind=DealKind.RENEWAL)
    _won(second, "70", day + timedelta(days=2))
    lost = open_deal(account_id=second.pk, name="lost", amount=Decimal(999), created_at=day)
    from onefunnel.domain.deals import LostReason

    close_deal(lost, won=False, lost_reason=next(iter(LostReason)), at=day)
    open_deal(account_id=second.pk, name="open", amount=Decimal(5), created_at=day)

    orders = orders_from_deals(today=date(2025, 6, 1))

    ids = [orders.customer_ids[c] for c in orders.customers]
    assert sorted(zip(ids, orders.days.tolist(), orders.amounts.tolist(), strict=True)) == [
        (str(first.pk), (date(2025, 3, 1) - date(1970, 1, 1)).days, 100.5),
        (str(first.pk), (date(2025, 3, 31) - date(1970, 1, 1)).days, 40.0),
        (str(second.pk), (date(2025, 3, 3) - date(1970, 1, 1)).days, 70.0),
    ]
    # The database is observed up to today, so calibration may end there (not after).
    assert orders.data_end == (date(2025, 6, 1) - date(1970, 1, 1)).days


def test_won_deals_in_several_currencies_are_refused() -> None:
    _won(_account(1), "10", NOW - timedelta(days=3), currency="EUR")
    _won(_account(2), "10", NOW - timedelta(days=2), currency="USD")
    with pytest.raises(InputError, match=r"^currency: won deals are in several currencies"):
        orders_from_deals()


def test_no_won_deal_is_a_clear_error() -> None:
    with pytest.raises(InputError, match=r"^deals: no won deal"):
        orders_from_deals()


def _many_won_deals(customers: int = 80) -> None:
    """Won deals of `customers` accounts with varied repeat purchases (seeded)."""
    rng = np.random.default_rng(5)
    stage = PipelineStage.objects.order_by("sequence").first()
    assert stage is not None
    start = NOW - timedelta(days=400)
    deals = []
    for n in range(customers):
        account = _account(n)
        day = start + timedelta(days=int(rng.integers(0, 120)))
        while day < NOW:
            deals.append(
                Deal(
                    name="order",
                    account=account,
                    pipeline_stage=stage,
                    status="won",
                    amount=Decimal(int(rng.integers(20, 400))),
                    created_at=day,
                    closed_at=day,
                )
            )
            if rng.random() < 0.3:
                break
            day += timedelta(days=int(rng.exponential(60)) + 1)
    Deal.objects.bulk_create(deals)


def test_deals_fit_through_the_api_matches_the_service(django_user_model: Any) -> None:
    _many_won_deals()
    expected = fit_orders(orders_from_deals()).as_dict()
    secret = create_key("reports:read", "analyst").secret
    response = Client().get("/api/ltv/deals", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customers"] == expected["customers"] == 80
    assert body["bgnbd"]["r"] == pytest.approx(expected["bgnbd"]["r"])
    assert body["gamma_gamma"]["q"] == pytest.approx(expected["gamma_gamma"]["q"])

    late = Client().get(
        "/api/ltv/deals?calibration_end=9999-12-31", headers={"Authorization": f"Bearer {secret}"}
    )
    assert late.status_code == 422
    assert late.json()["errors"][0]["loc"] == ["query", "calibration_end"]


def test_upload_fit_answers_the_cdnow_parameters(django_user_model: Any) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create(username="ana"))
    with CDNOW.open("rb") as upload:
        response = client.post("/api/ltv/fit", {"file": upload, "calibration_end": "1997-09-30"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customers"] == 2357
    assert body["bgnbd"]["alpha"] == pytest.approx(4.414, rel=0.01)
    assert body["gamma_gamma"]["gamma"] == pytest.approx(15.44, rel=0.01)
    assert body["calibration_end"] == "1997-09-30"


@pytest.mark.parametrize(
    ("text", "fields", "loc", "message"),
    [
        ("customer_id,date,amount\na,2024-01-01,-1\n", {}, ["file"], "row 1: amount"),
        ("customer_id,date,amount\na,31.12.2024,1\n", {}, ["file"], "row 1: date"),
        (
            "customer_id,date,amount\na,2024-01-01,1\n",
            {"calibration_end": "2020-01-01"},
            ["form", "calibration_end"],
            "before the first order",
        ),
        (
            "customer_id,date,amount\na,2024-01-01,1\n",
            {"time_unit": "years"},
            ["form", "time_unit"],
            "",
        ),
        ("customer_id,date,amount\na,2024-01-01,1\n", {"calibration_end": "99999-1-1"}, None, ""),
    ],
)
def test_bad_uploads_answer_422_naming_the_field(
    django_user_model: Any,
    tmp_path: Path,
    text: str,
    fields: dict[str, str],
    loc: list[str] | None,
    message: str,
) -> None:
    secret = create_key("reports:read", "analyst").secret
    file = tmp_path / "orders.csv"
    file.write_text(text)
    with file.open("rb") as upload:
        response = Client().post(
            "/api/ltv/fit",
            {"file": upload, **fields},
            headers={"Authorization": f"Bearer {secret}"},
        )
    assert response.status_code == 422, response.content
    body = response.json()
    assert message in body["detail"] or not message
    if loc is not None:
        assert body["errors"][0]["loc"] == loc


def test_the_endpoints_need_a_user_or_a_reports_key() -> None:
    assert Client().get("/api/ltv/deals").status_code == 401
    crm = create_key("crm:read").secret
    response = Client().get("/api/ltv/deals", headers={"Authorization": f"Bearer {crm}"})
    assert response.status_code == 401
    with CDNOW.open("rb") as upload:
        assert Client().post("/api/ltv/fit", {"file": upload}).status_code == 401
