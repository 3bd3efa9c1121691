"""The dashboard's report panels through Django's test client, on the small demo company."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import period_of
from onefunnel.analytics.reports import ReportOptions, run_report
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.web.panels import PANELS, cells

pytestmark = pytest.mark.django_db(transaction=True)


def _login(client: Client) -> None:
    client.force_login(User.objects.create_user("ana", password="x" * 12))


def _table_cells(html: str, slug: str) -> list[list[str]]:
    body = html.split(f'data-testid="{slug}-table"')[1].split("<tbody>")[1].split("</tbody>")[0]
    # Counts are links to their records: the text is the cell's, without the tags.
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in body.split("</tr>")
        if "<td" in row
    ]


def test_each_panel_shows_its_report_for_the_chosen_period_and_model(client: Client) -> None:
    generate_demo(seed=3, size=DemoSize.SMALL)
    _login(client)
    page = client.get("/", {"from": "2025-01-01", "to": "2026-12-31", "model": "markov"})
    assert page.status_code == 200
    html = page.content.decode()
    for slug in PANELS:
        assert f"/panels/report/{slug}?from=2025-01-01&amp;to=2026-12-31&amp;model=markov" in html

    period = period_of("2025-01-01", "2026-12-31", today=datetime.now(UTC).date())
    for slug, panel in PANELS.items():
        response = client.get(
            f"/panels/report/{slug}", {"from": "2025-01-01", "to": "2026-12-31", "model": "markov"}
        )
        assert response.status_code == 200, slug
        html = response.content.decode()
        model = "markov" if panel.uses_model else None
        table = run_report(
            panel.report, DjangoEngine(), period, by=panel.by, options=ReportOptions(model=model)
        )
        assert len(table.rows) > 0, slug
        expected = [[c.text for c in row] for row in cells(table, panel.columns)]
        printed = [
            [cell.replace("&#x27;", "'") for cell in row] for row in _table_cells(html, slug)
        ]
        assert printed == expected, slug
        if panel.chart is not None:
            spec = json.loads(html.split(f'id="{slug}-spec" type="application/json">')[1].split(
                "</script>")[0])  # fmt: skip
            assert len(spec["data"]["values"]) == 2 * len(table.rows)


def test_an_empty_period_says_so(client: Client) -> None:
    _login(client)
    response = client.get("/panels/report/leaks", {"from": "2001-01-01", "to": "2001-01-31"})
    assert response.status_code == 200
    assert 'data-testid="empty"' in response.content.decode()


def test_bad_choices_are_reported_and_the_defaults_shown(client: Client) -> None:
    _login(client)
    page = client.get("/", {"from": "2026-13-01", "model": "magic"}).content.decode()
    assert 'role="alert"' in page
    assert "is not a date" in page
    panel = client.get("/panels/report/spend", {"model": "magic"}).content.decode()
    assert "unknown attribution model" in panel
    assert 'data-testid="empty"' in panel or 'data-testid="spend-table"' in panel
    reversed_period = client.get("/panels/report/spend", {"from": "2026-02-01", "to": "2026-01-01"})
    assert "is before from" in reversed_period.content.decode()


def test_unknown_panel_is_404_and_panels_need_a_login(client: Client) -> None:
    assert client.get("/panels/report/leaks").status_code == 302
    _login(client)
    assert client.get("/panels/report/nope").status_code == 404
