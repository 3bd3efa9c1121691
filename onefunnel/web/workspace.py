"""Panels of the role workspaces (customers, the plan, leadership) that a service answers
rather than a report: each is a dashboard ``Panel`` (title, explanation, columns) with a loader
that returns an ``analytics.Table``, printed by ``panels.cells`` into the same
``_report_panel.html`` — one table mechanism for every page.

A loader receives what the page asked (``Ask``: the signed-in actor, the period, the query) and
calls a service or report; the panel view catches what can go wrong and answers with a message,
never a 500 that would leave the panel loading.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from onefunnel.analytics.period import Period, period_of
from onefunnel.analytics.table import Table, Value
from onefunnel.domain.access import AccessDeniedError, Actor
from onefunnel.services.access import actor_for
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.web.panels import Cell, Panel, cells, csv_response

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ask:
    """What a panel is asked for: who asks, the period, the page's query, today."""

    actor: Actor
    period: Period
    query: Mapping[str, str]
    today: date


@dataclass(frozen=True, slots=True)
class Source:
    """A panel and how to fill it; ``link`` names the record page a row opens, if any."""

    panel: Panel
    load: Callable[[Ask], Table]
    link: Callable[[dict[str, Value]], str | None] | None = None
    note: Callable[[Ask, Table], str] | None = None
    empty: str = "Nothing in this period."
    #: The ``/records`` query of a row's cell (its column's ``records`` measure), if it has one.
    records: Callable[[Ask, dict[str, Value], str], dict[str, str] | None] | None = None


#: Every workspace panel by slug (views_accounts, views_plan and views_leadership add theirs).
SOURCES: dict[str, Source] = {}


def register(*sources: Source) -> None:
    """Add panels to the registry (a slug is unique across the workspaces)."""
    for source in sources:
        if source.panel.slug in SOURCES and SOURCES[source.panel.slug] is not source:
            raise ValueError(f"two workspace panels named {source.panel.slug!r}")
        SOURCES[source.panel.slug] = source


def account_link(row: dict[str, Value]) -> str | None:
    """A row's account page (rows that name an ``account_id``)."""
    account_id = row.get("account_id")
    return reverse("web:account", args=[account_id]) if isinstance(account_id, int) else None


def deal_link(row: dict[str, Value]) -> str | None:
    """A row's deal page (rows that name a ``deal_id``)."""
    deal_id = row.get("deal_id")
    return reverse("web:deal", args=[deal_id]) if isinstance(deal_id, int) else None


def ask_of(request: HttpRequest) -> tuple[Ask, str | None]:
    """The page's request as an Ask; a bad period falls back to the default and is reported."""
    today = datetime.now(UTC).date()
    error = None
    try:
        period = period_of(request.GET.get("from") or None, request.GET.get("to") or None,
                           today=today)  # fmt: skip
    except InputError as exc:
        error, period = str(exc), period_of(None, None, today=today)
    query = {k: str(request.GET.get(k, ""))[:200] for k in request.GET}
    return Ask(actor_for(request.user), period, query, today), error


@dataclass(frozen=True, slots=True)
class Slot:
    """A panel placed on a page: what it shows and the URL that fills it."""

    panel: Panel
    url: str


def slot(slug: str, query: str) -> Slot:
    """The slot of a registered workspace panel, asked with the page's query."""
    source = SOURCES[slug]
    return Slot(source.panel, f"{reverse('web:workspace-panel', args=[slug])}?{query}")


def _linked(table: Table, rows: list[list[Cell]], link: Callable[..., str | None]) -> Any:
    records = table.to_records()
    return [
        [replace(row[0], href=link(record)), *row[1:]] if row else row
        for row, record in zip(rows, records, strict=True)
    ]


def _with_records(source: Source, ask: Ask, table: Table, rows: list[list[Cell]]) -> None:
    """Link each cell that stands for records (a non-zero count or amount) to them."""
    if source.records is None:
        return
    base = reverse("web:records")
    for row, record in zip(rows, table.to_records(), strict=True):
        for i, column in enumerate(source.panel.columns):
            value = record.get(column.name)
            if not column.records or not isinstance(value, (int, float)) or not value:
                continue
            params = source.records(ask, record, column.records)
            if params is not None:
                row[i] = replace(row[i], href=f"{base}?{urlencode(params)}")


@login_required
def workspace_panel(request: HttpRequest, slug: str) -> HttpResponse:
    """One workspace panel, for the signed-in user and the page's period and choices."""
    source = SOURCES.get(slug)
    if source is None:
        raise Http404(f"no panel {slug!r}")
    ask, error = ask_of(request)
    context: dict[str, Any] = {
        "panel": source.panel, "error": error, "spec_id": f"{slug}-spec", "rows": None,
        "empty": source.empty,
    }  # fmt: skip
    try:
        table = source.load(ask)
    except (InputError, NotFoundError, AccessDeniedError) as exc:
        context["error"] = str(exc)
    except Exception:
        # A panel answers with a message, never a 500 that leaves it spinning.
        log.exception("workspace panel %s failed", slug)
        context["error"] = "this panel could not be computed (the error is in the server log)"
    else:
        if request.GET.get("format") == "csv":
            return csv_response(table, source.panel.columns, slug)
        context["csv"] = f"{request.path}?{urlencode({**request.GET.dict(), 'format': 'csv'})}"
        rows = cells(table, source.panel.columns)
        _with_records(source, ask, table, rows)
        context["rows"] = _linked(table, rows, source.link) if source.link else rows
        context["chart"] = source.panel.chart(table) if source.panel.chart and table.rows else None
        context["note"] = source.note(ask, table) if source.note else ""
    return render(request, "onefunnel/_report_panel.html", context)
