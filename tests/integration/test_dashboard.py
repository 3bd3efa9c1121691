"""The dashboard page through Django's test client (the browser test is in tests/e2e)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from onefunnel.domain.stages import Stage
from onefunnel.models import Contact
from onefunnel.services.stages import change_stage

pytestmark = pytest.mark.django_db


def test_dashboard_needs_a_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=")


def test_dashboard_shows_counts_and_a_chart_spec(
    client: Client, make_contact: Callable[..., Contact]
) -> None:
    for _ in range(3):
        change_stage(make_contact(), Stage.INTENT)
    change_stage(make_contact(), Stage.AWARENESS)
    client.force_login(User.objects.create_user("mia", password="x" * 12))
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="contacts">4<' in html
    spec_json = html.split('id="funnel-spec" type="application/json">')[1].split("</script>")[0]
    spec = json.loads(spec_json)
    values = {v["stage"]: v["contacts"] for v in spec["data"]["values"]}
    assert values["intent"] == 3
    assert values["awareness"] == 1
    assert len(values) == 9
    assert "/static/onefunnel/vendor/vega-embed.min.js" in html


def test_static_assets_are_served_without_collectstatic(client: Client) -> None:
    response = client.get("/static/onefunnel/vendor/vega.min.js")
    assert response.status_code == 200
