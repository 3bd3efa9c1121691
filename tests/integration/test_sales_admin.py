"""The admin is a back office for the sales records: it never writes a deal's governed fields
around the services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from onefunnel.models import Deal
from onefunnel.services.sales.activities import log_activity
from onefunnel.services.sales.deals import create_deal
from onefunnel.services.sales.tasks import add_task
from tests.integration.sales_fixtures import buyer, user

pytestmark = pytest.mark.django_db


def test_the_admin_shows_sales_records_but_cannot_win_a_deal() -> None:
    root = user("root", "admin")
    contact = buyer()
    deal = create_deal(actor=root, account_id=contact.account_id, name="Acme", amount=10)
    log_activity(actor=root, kind="call", contact_id=contact.pk, deal_id=deal.id)
    add_task(actor=root, title="Call back", owner="root", due=contact.created_at.date())
    User.objects.filter(username="root").update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(username="root"))
    for page in ("deal", "dealhistory", "activity", "task", "pipeline", "pipelinestage"):
        assert client.get(f"/admin/onefunnel/{page}/").status_code == 200, page
    assert client.get(f"/admin/onefunnel/deal/{deal.id}/change/").status_code == 200
    client.post(
        f"/admin/onefunnel/deal/{deal.id}/change/",
        {"name": "Renamed", "status": "won", "amount": "999", "pipeline_stage": "1"},
    )
    row = Deal.objects.get(pk=deal.id)
    assert (row.status, row.amount, row.closed_at) == ("open", 10, None)
    assert client.get("/admin/onefunnel/deal/add/").status_code == 403
    assert client.get("/admin/onefunnel/dealhistory/add/").status_code == 403
