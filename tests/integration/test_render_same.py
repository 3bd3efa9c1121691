"""The numbers tables and the records list read byte for byte as they did when Django's
template language built every cell (issue 15 builds them in Python, for speed).

The reference is the former implementation, kept here verbatim: the former templates (served by
a locmem loader in front of the app's own), the former link builder (``reverse`` and
``urlencode`` per count), the former ``cells`` and the records list named in full. Each page is
requested twice on the same data, once through the reference and once as the app serves it, and
the two answers must be equal (the CSRF token, new on every response, aside)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client, override_settings
from django.urls import reverse

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.records import RecordsQuery
from onefunnel.analytics.table import Table, Value
from onefunnel.domain.access import Actor
from onefunnel.models import Campaign, Contact
from onefunnel.services import records_behind as naming
from onefunnel.services.access import SYSTEM
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.marketing.segments import create_segment
from onefunnel.web import panels, views, views_clickthrough, views_marketing, workspace
from onefunnel.web.panels import CREDIT, Cell, Column, Format, Links, format_value

pytestmark = pytest.mark.django_db(transaction=True)

#: The former templates, verbatim.
REFERENCE_TEMPLATES = {
    "onefunnel/_numbers_table.html": (
        "{# A table of numbers: each count links to the records behind it; `csv` downloads the same numbers. #}\n"
        '<div class="scroll">\n'
        '<table class="numbers"{% if testid %} data-testid="{{ testid }}"{% endif %}>\n'
        '  <thead><tr>{% for c in columns %}<th{% if c.format != "text" %} class="num"{% endif %} scope="col">{{ c.label }}</th>{% endfor %}</tr></thead>\n'
        '  <tbody>{% for row in rows %}<tr>{% for cell in row %}<td{% if cell.numeric %} class="num"{% endif %}{% if cell.label %} data-label="{{ cell.label }}"{% endif %}>{% if cell.parts %}{% for text, href in cell.parts %}{% if href %}<a href="{{ href }}">{{ text }}</a>{% else %}{{ text }}{% endif %}{% if not forloop.last %}, {% endif %}{% endfor %}{% elif cell.href %}<a href="{{ cell.href }}">{{ cell.text }}</a>{% else %}{{ cell.text }}{% endif %}</td>{% endfor %}</tr>{% endfor %}</tbody>\n'
        "</table>\n"
        "</div>\n"
        '{% if csv %}<p class="csv"><a href="{{ csv }}" download>Download CSV</a></p>{% endif %}\n'
    ),
    "onefunnel/records.html": (
        '{% extends "onefunnel/base.html" %}\n'
        "{% block title %}Records · onefunnel{% endblock %}\n"
        "{% block content %}\n"
        '{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}\n'
        "{% if rows is not None %}\n"
        "<h1>{{ title }}</h1>\n"
        '<p class="muted">{{ total }} record{{ total|pluralize }}{% if show_period %}, {{ period.first|date:"j M Y" }} to {{ period.last|date:"j M Y" }}{% endif %} ({{ report }} report){% if segment %}, only the members of {{ segment.describe }}{% endif %}{% if total > shown %} — the first {{ shown }} shown; the CSV has them all{% endif %}.</p>\n'
        '{% if amounts %}<p data-testid="records-total"{% if amounts.money %} data-money{% endif %}>{% if amounts.money %}{{ total_label }}: <strong>{{ total_text }}</strong> — the sum of the {{ amount_label }} column, as on the page that linked here{% else %}<strong>{{ total }}</strong> counted, as on the page that linked here{% endif %}{% if amounts.hidden %}; {{ amounts.hidden }} of them {{ amounts.hidden|pluralize:"is a deal,are deals" }} you may not read: {{ amounts.hidden|pluralize:"its,their" }} amount counts in the total but is not shown{% endif %}.</p>{% endif %}\n'
        '<p class="csv"><a href="{{ csv }}" download>Download CSV</a></p>\n'
        '<div class="scroll">\n'
        '<table class="numbers" data-testid="records-table">\n'
        '  <thead><tr>{% if show_contact %}<th scope="col">when</th><th scope="col">contact</th>{% endif %}<th scope="col">account</th>{% if show_contact %}<th scope="col">stage now</th>{% endif %}\n'
        '    {% if show_handoff %}<th scope="col">handoff</th><th scope="col">reason</th><th scope="col">owner</th>{% endif %}\n'
        '    {% if report == "funnel" %}<th scope="col">next</th>{% endif %}\n'
        '    {% if show_deal %}<th scope="col">deal</th>{% if not amounts %}<th class="num" scope="col">amount</th>{% endif %}{% endif %}\n'
        '    {% if amounts %}<th scope="col">what</th><th class="num" scope="col">{{ amount_label }}</th>{% endif %}</tr></thead>\n'
        "  <tbody>{% for r in rows %}<tr>\n"
        '    {% if show_contact %}<td>{{ r.at|date:"Y-m-d H:i"|default:"–" }}</td>\n'
        "    <td>{% if r.contact_id %}<a href=\"{% url 'web:contact' r.contact_id %}\">{{ r.contact }}</a>{% else %}–{% endif %}</td>{% endif %}\n"
        "    <td>{% if r.account_id %}<a href=\"{% url 'web:account' r.account_id %}\">{{ r.account }}</a>{% else %}–{% endif %}</td>\n"
        '    {% if show_contact %}<td>{{ r.stage|default:"–" }}</td>{% endif %}\n'
        '    {% if show_handoff %}<td>{% if r.handoff_id %}#{{ r.handoff_id }} {{ r.status }}{% else %}{{ r.status }}{% endif %}</td><td>{{ r.reason|default:"" }}</td><td>{{ r.owner }}</td>{% endif %}\n'
        '    {% if report == "funnel" %}<td>{{ r.detail|default:"(still in)" }}</td>{% endif %}\n'
        '    {% if show_deal %}<td>{% if r.deal_id %}<a href="{% url \'web:deal\' r.deal_id %}">{{ r.deal }}</a>{% else %}{{ r.deal }}{% endif %}</td>{% if not amounts %}<td class="num">{{ r.amount|default_if_none:"" }}</td>{% endif %}{% endif %}\n'
        '    {% if amounts %}<td>{{ r.detail }}</td><td class="num" data-amount="{{ r.amount|default_if_none:\'\' }}">{% if r.amount is None %}{% if r.deal == "(not yours)" %}(not yours){% else %}–{% endif %}{% else %}{{ r.amount|floatformat:"2g" }}{% endif %}</td>{% endif %}\n'
        '  </tr>{% empty %}<tr><td colspan="4">No records.</td></tr>{% endfor %}</tbody>\n'
        "</table>\n"
        "</div>\n"
        "{% endif %}\n"
        "{% endblock %}\n"
    ),
}


def _former_href(self: Links, row: Mapping[str, Value], measure: str, **extra: str) -> str:
    params: dict[str, str] = {"report": self.report, "measure": measure}
    if self.by:
        params["by"], params["group"] = self.by, str(row[self.by])
    if self.report == "funnel":
        params["stage"] = str(row["stage"])
    params.update(extra)
    params.update({k: v for k, v in self.query.items() if k in ("from", "to", "segment")})
    return f"{reverse('web:records')}?{urlencode(params)}"


def _former_credit_href(self: Links, row: Mapping[str, Value], model: str | None = None) -> str:
    by = self.by or "channel"
    params = {"report": "attribution", "measure": "revenue", "by": by, "group": str(row[by]),
              "model": model or self.query.get("model") or "linear"}  # fmt: skip
    params.update({k: v for k, v in self.query.items() if k in ("from", "to")})
    return f"{reverse('web:records')}?{urlencode(params)}"


_REASON = re.compile(r"^(?P<reason>[a-z_]+)=(?P<n>\d+)$")


def _former_cell(
    value: Value, column: Column, row: Mapping[str, Value], links: Links | None
) -> Cell:
    text = format_value(value, column.format)
    numeric = column.format is not Format.text
    if links is None:
        return Cell(text, numeric, label=column.label)
    if column.name == "rejection_reasons" and isinstance(value, str) and value:
        parts: list[tuple[str, str | None]] = []
        for pair in value.split(", "):
            match = _REASON.match(pair)
            href = _former_href(links, row, "rejected", reason=match["reason"]) if match else None
            parts.append((pair.replace("_", " "), href))
        return Cell(text, numeric, parts=tuple(parts), label=column.label)
    if column.records == CREDIT and isinstance(value, (int, float)) and value:
        return Cell(text, numeric, href=_former_credit_href(links, row), label=column.label)
    if column.records and isinstance(value, int) and value > 0:
        return Cell(text, numeric, href=_former_href(links, row, column.records),
                    label=column.label)  # fmt: skip
    return Cell(text, numeric, label=column.label)


def _former_cells(
    table: Table, columns: Sequence[Column], links: Links | None = None
) -> list[list[Cell]]:
    return [
        [_former_cell(row[c.name], c, row, links) for c in columns] for row in table.to_records()
    ]


def _former_records_behind(query: RecordsQuery, actor: Actor, **_: object) -> naming.RecordList:
    """Every record named, whatever the page shows."""
    return naming.name_records(query.run(DjangoEngine()), actor)


@contextmanager
def _former(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The former implementation in place of the app's, for the requests made inside."""
    engine = copy.deepcopy(settings.TEMPLATES[0])
    engine.pop("APP_DIRS", None)
    engine["OPTIONS"]["loaders"] = [
        ("django.template.loaders.locmem.Loader", REFERENCE_TEMPLATES),
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    with monkeypatch.context() as patch, override_settings(TEMPLATES=[engine]):
        patch.setattr(Links, "href", _former_href)
        patch.setattr(Links, "credit_href", _former_credit_href)
        for module in (panels, views, views_marketing, workspace):
            patch.setattr(module, "cells", _former_cells)
        patch.setattr(views_clickthrough, "records_behind", _former_records_behind)
        yield


def _page(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code in (200, 422), (path, response.status_code)
    body = response.content.decode()
    body = re.sub(r'(name="csrfmiddlewaretoken" value=")[^"]+"', r'\1"', body)
    return re.sub(r'("X-CSRFToken": ")[^"]+"', r'\1"', body)


def _user(name: str, *groups: str) -> User:
    user = User.objects.create_user(username=name, password="x" * 12)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


PERIOD = "from=2025-01-01&to=2026-12-31"
MARKETING_PAGES = [
    "/marketing/funnel-channel",
    "/marketing/funnel-campaign",
    "/marketing/funnel-cohort",
    f"/marketing/funnel-channel?{PERIOD}",
    f"/marketing/funnel-campaign?{PERIOD}&model=markov",
    f"/marketing/funnel-cohort?{PERIOD}",
    f"/marketing/attribution?{PERIOD}",
    f"/marketing/returned?{PERIOD}",
    "/panels/report/leaks",
    f"/panels/report/spend?{PERIOD}&model=first_touch",
    f"/panels/report/quality?{PERIOD}",
    f"/panels/report/follow-up?{PERIOD}",
    f"/campaigns?{PERIOD}",
]
RECORDS_PAGES = [
    "/records?report=funnel&measure=entries&stage=awareness",
    f"/records?report=funnel&measure=entries&stage=awareness&{PERIOD}",
    f"/records?report=funnel&measure=still_in&stage=intent&{PERIOD}",
    f"/records?report=funnel&measure=exits_forward&stage=consideration&by=channel&group=paid_search&{PERIOD}",
    f"/records?report=scorecard&measure=handoffs&by=channel&group=paid_search&{PERIOD}",
    f"/records?report=scorecard&measure=rejected&{PERIOD}",
    f"/records?report=spend&measure=customers&by=channel&group=paid_search&{PERIOD}",
    f"/records?report=attribution&measure=revenue&by=channel&group=paid_search&model=linear&{PERIOD}",
    "/records?report=funnel&measure=nonsense",
]


def test_tables_and_records_read_as_the_former_templates_wrote_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generate_demo(seed=3, size=DemoSize.SMALL)
    # Names that need escaping, in a table cell and in the records list.
    campaign = Campaign.objects.order_by("pk").first()
    assert campaign is not None
    campaign.name = """Spring <b>"launch"</b> & 'more'"""
    campaign.save()
    Contact.objects.filter(pk__in=Contact.objects.order_by("pk").values("pk")[:40]).update(
        first_name='<i>Zoë</i> & "O\'Neil"'
    )
    # A segment narrows the counts; their links keep it.
    spec = {"all": [{"type": "stage", "in": ["intent", "conversion", "nurture", "retain"]}]}
    warm = create_segment(SYSTEM, "Warm <leads> & co", spec).id
    segmented = [
        f"/marketing/funnel-channel?{PERIOD}&segment={warm}",
        f"/panels/report/quality?{PERIOD}&segment={warm}",
        f"/records?report=funnel&measure=entries&stage=intent&{PERIOD}&segment={warm}",
    ]
    pages = {
        _user("mia", "marketing"): [
            *MARKETING_PAGES,
            f"/campaigns/{campaign.pk}",
            *RECORDS_PAGES,
            *segmented,
        ],
        _user("rex", "sales"): RECORDS_PAGES[:6],
    }
    compared = 0
    for user, paths in pages.items():
        client = Client()
        client.force_login(user)
        for path in paths:
            client.get(path)  # a segment's first use refreshes it: compare the pages after
            served = _page(client, path)
            with _former(monkeypatch):
                former = _page(client, path)
            assert served == former, path
            if path in segmented[:2]:
                assert f"&amp;segment={warm}" in served  # its counts' links keep the segment
            compared += served.count("<td")
    assert compared > 3000  # the pages hold real tables, not empty ones
