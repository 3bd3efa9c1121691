"""Click-through on the attribution, retention and plan tables, through Django's test client:
every linked cell of each page opens records whose count (or sum of amounts) is the number
shown, as each role may read them; bad questions to ``/records`` answer 4xx, never a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from onefunnel.domain.plan.periods import month_label
from onefunnel.services.access import SYSTEM
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.plan import reverse_funnel, targets

pytestmark = pytest.mark.django_db(transaction=True)
TODAY = datetime.now(UTC).date()
PERIOD = {"from": "2025-06-01", "to": TODAY.isoformat()}


def _user(name: str, *groups: str) -> User:
    user = User.objects.create_user(name, password="x" * 12)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def demo() -> None:
    generate_demo(seed=3, size=DemoSize.SMALL)


def _links(html: str, testid: str) -> list[tuple[str, str, str]]:
    """(column, printed number, link) of each linked number of a table."""
    body = html.split(f'data-testid="{testid}"')[1].split("</table>")[0]
    found = re.findall(r'<td class="num" data-label="([^"]*)"><a href="([^"]+)">([^<]+)</a>', body)
    return [(unescape(label), unescape(text), unescape(href)) for label, href, text in found]


def _number(text: str) -> float:
    return float(text.replace(",", "").replace("\u202f", ""))


def _rounding(text: str) -> float:
    """How far a printed number may be from the number (to the unit, or to the cent)."""
    return 0.0051 if "." in text else 0.51


def _check_cell(client: Client, column: str, text: str, href: str) -> tuple[int, float]:
    """Open a cell's records: as many as a count says, amounts summing to a money cell."""
    response = client.get(href)
    assert response.status_code == 200, (href, response.content[:500])
    html = response.content.decode()
    assert 'role="alert"' not in html, href
    total = int(re.search(r"(\d+) records?", html)[1])  # type: ignore[index]
    amounts = [float(a) for a in re.findall(r'data-amount="([^"]+)"', html)]
    shown = _number(text)
    if 'data-testid="records-total" data-money' in html:
        # A money cell: the list's amounts add up to it (printed to the cent, or to the unit).
        printed = re.search(r'records-total" data-money>[^:<]+: <strong>([^<]+)<', html)[1]  # type: ignore[index]
        listed = _number(printed)
        if len(amounts) == total:
            assert sum(amounts) == pytest.approx(listed, abs=_rounding(printed))
        assert listed == pytest.approx(shown, abs=_rounding(text) + _rounding(printed)), href
        return total, listed
    assert total == shown, (column, text, href)
    return total, shown


def _panel(client: Client, slug: str, **params: str) -> str:
    response = client.get(f"/panels/workspace/{slug}", params)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' not in html, html
    return html


def test_retention_cells_open_the_accounts_behind_them(demo: None) -> None:
    manager = User.objects.filter(groups__name="account_management").order_by("pk").first()
    assert manager is not None
    client = _client(manager)
    checked = 0
    for slug in ("retention-month", "retention-cohort"):
        for column, text, href in _links(_panel(client, slug, **PERIOD), f"{slug}-table"):
            _check_cell(client, column, text, href)
            checked += 1
    leader = _client(_user("lea", "leadership"))
    html = leader.get("/panels/workspace/retention-period", PERIOD).content.decode()
    linked = _links(html, "retention-period-table")
    assert linked
    for column, text, href in linked:
        _check_cell(leader, column, text, href)
    assert checked > 20
    # Accounts are the shared record: the list links each one's page.
    page = client.get(linked[0][2]).content.decode()
    assert re.search(r'href="/accounts/\d+"', page)


def test_attribution_credits_open_the_journeys_behind_them(demo: None) -> None:
    client = _client(_user("mia", "marketing"))
    html = client.get("/marketing/attribution", PERIOD).content.decode()
    linked = _links(html, "attribution-table")
    models = {re.search(r"model=(\w+)", href)[1] for _c, _t, href in linked}  # type: ignore[index]
    assert {"linear", "markov", "shapley", "first"} <= models
    for column, text, href in linked[:40]:
        _check_cell(client, column, text, href)
    # The spend panel's attributed revenue opens the same journeys under the page's model.
    panel = client.get("/panels/report/spend", {**PERIOD, "model": "position"}).content.decode()
    credited = [x for x in _links(panel, "spend-table") if x[0] == "attributed revenue"]
    assert credited
    assert all("model=position" in href for _c, _t, href in credited)
    for column, text, href in credited:
        _check_cell(client, column, text, href)
    # CSV: the same rows.
    _c, _t, href = linked[0]
    csv = client.get(href + "&format=csv").content.decode().strip().splitlines()
    page = client.get(href).content.decode()
    assert len(csv) - 1 == int(re.search(r"(\d+) records?", page)[1])  # type: ignore[index]


def test_plan_numbers_open_the_deals_and_records_behind_them(demo: None) -> None:
    month = month_label(TODAY.replace(day=1))
    rep = User.objects.filter(groups__name="sales").order_by("pk").first()
    assert rep is not None
    targets.set_targets(SYSTEM, [
        targets.TargetInput(month, "deals_won", "10"),
        targets.TargetInput(month, "new_revenue", "50000"),
        targets.TargetInput(month, "mqls", "40"),
        targets.TargetInput(month, "deals_won", "2", scope="rep", rep=rep.username),
    ])  # fmt: skip
    result = reverse_funnel.make_plan("200000", month, by="channel", window_months=24)
    reverse_funnel.save_plan(SYSTEM, result, name="test plan")
    leader = _client(_user("lee", "leadership"))
    seen: set[str] = set()
    for slug in ("targets", "forecast", "forecast-owners", "plan-steps", "plan-actual",
                 "company-targets"):  # fmt: skip
        linked = _links(_panel(leader, slug), f"{slug}-table")
        for column, text, href in linked[:25]:
            _check_cell(leader, column, text, href)
            seen.add(re.search(r"report=(\w+)", href)[1])  # type: ignore[index]
    assert {"targets", "forecast", "plan"} <= seen
    # A rep reads the same totals; deals that are not theirs keep their row, amount hidden.
    seller = _client(rep)
    hidden = 0
    for column, text, href in _links(_panel(seller, "forecast"), "forecast-table"):
        _check_cell(seller, column, text, href)
        hidden += seller.get(href).content.decode().count("(not yours)")
    assert hidden > 0


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"report": "nonsense", "measure": "x"}, 422),
        ({"report": "retention", "measure": "new_mrr", "from": "9999-12-31"}, 422),
        (
            {
                "report": "retention",
                "measure": "new_mrr",
                "to": "9999-12-31",
                "group": "2026-01",
                "currency": "EUR",
            },
            422,
        ),
        ({"report": "attribution", "measure": "revenue", "to": "2026-13-45"}, 422),
        ({"report": "attribution", "measure": "revenue", "model": "nope", "group": "email"}, 422),
        ({"report": "targets", "target": "99999999999999999999999"}, 422),
        ({"report": "targets", "target": "4611686018427387904"}, 404),
        ({"report": "targets", "target": "-1"}, 422),
        ({"report": "forecast", "measure": "won", "quarter": "2026-Q9"}, 422),
        ({"report": "forecast", "measure": "won", "scope": "rep", "subject": "nobody"}, 404),
        ({"report": "forecast", "measure": "run_rate"}, 422),
        ({"report": "plan", "measure": "leads", "channel": "email"}, 422),
        ({"report": "plan", "measure": "x" * 5000}, 422),
        (
            {
                "report": "retention",
                "measure": "new_mrr",
                "by": "cohort",
                "group": "2026-01",
                "currency": "EUR",
                "cohort": "20x6",
            },
            422,
        ),
        ({"report": "scorecard", "measure": "handoffs", "from": "0001-01-01"}, 422),
    ],
)
def test_bad_questions_answer_4xx_never_500(params: dict[str, str], status: int, db: None) -> None:
    client = _client(_user("ivy", "leadership"))
    response = client.get("/records", params)
    assert response.status_code == status, response.content[:300]
    assert 'role="alert"' in response.content.decode()
