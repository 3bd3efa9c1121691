"""The dashboard's report panels: which report each shows, which columns, and how to print them.

The dashboard is the one page both teams read (DESIGN §1): where the funnel leaks, what the
spend returns, the quality of the leads marketing hands over (by channel) and how sales follows
them up (by rep). Each panel is one report from `onefunnel.analytics.reports` — the same numbers
as `onefunnel report` and `/api/reports/` — loaded on its own request, so a slow report never
holds the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from html import escape
from typing import Any
from urllib.parse import quote_plus, urlencode

from django.http import HttpResponse
from django.urls import reverse
from django.utils.safestring import SafeData, SafeString, mark_safe

from onefunnel.analytics.table import Table, Value
from onefunnel.web.charts import LEGEND, SERIES_COLOURS, bar_chart, words


class Format(StrEnum):
    """How a column's values read on the page."""

    text = "text"
    number = "number"
    money = "money"
    rate = "rate"
    ratio = "ratio"
    days = "days"
    hours = "hours"
    months = "months"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a panel: the report's column, its heading, its format."""

    name: str
    label: str
    format: Format = Format.number
    #: The measure of ``analytics.records`` behind this count: its cells link to the records.
    records: str | None = None


@dataclass(frozen=True, slots=True)
class Panel:
    """A report shown on the dashboard."""

    slug: str
    title: str
    explain: str
    report: str
    by: str | None
    columns: tuple[Column, ...]
    uses_model: bool = False
    chart: Callable[[Table], dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Cell:
    """A printed value, whether it is a number (numbers align right), and the record page it
    opens, if any (a workspace row's account or deal)."""

    text: str
    numeric: bool
    #: The records behind the number (``/records?…``), when it is a count that has them.
    href: str | None = None
    #: A list cell's parts, each with its own link (``bad_fit=3, no_budget=1``).
    parts: tuple[tuple[str, str | None], ...] = ()
    label: str = ""  # the column's heading, repeated beside the value on a narrow screen


def format_value(value: Value, fmt: Format) -> str:
    """A value as the page prints it; None (no data, or a ratio over zero) is an en dash."""
    if value is None:
        return "–"
    if fmt is Format.text or isinstance(value, str):
        return str(value).replace("_", " ")
    if not isinstance(value, (int, float)):
        return str(value)
    match fmt:
        case Format.number:
            return f"{value:,.0f}"
        case Format.money:
            return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
        case Format.rate:
            return f"{value * 100:.0f}%"
        case Format.ratio:
            return f"{value:.2f}×"
        case Format.days:
            return f"{value:.1f} d"
        case Format.hours:
            return f"{value:.1f} h"
        case Format.months:
            return f"{value:.1f} mo"
    return str(value)


@dataclass(frozen=True, slots=True)
class Links:
    """Where a table's counts link: its report and grouping, and the page's period and model
    (query parameters kept on every link)."""

    report: str
    by: str | None
    query: Mapping[str, str]

    def href(self, row: Mapping[str, Value], measure: str, **extra: str) -> str:
        """The records page of one count of ``row``."""
        params: dict[str, str] = {"report": self.report, "measure": measure}
        if self.by:
            params["by"], params["group"] = self.by, str(row[self.by])
        if self.report == "funnel":
            params["stage"] = str(row["stage"])
        params.update(extra)
        # The page's period and segment: the records behind a filtered count are its members'.
        params.update({k: v for k, v in self.query.items() if k in ("from", "to", "segment")})
        return f"{reverse('web:records')}?{urlencode(params)}"

    def credit_href(self, row: Mapping[str, Value], model: str | None = None) -> str:
        """The journeys behind the revenue credited to ``row``'s channel or campaign under
        ``model`` (else the page's model), each with its share."""
        by = self.by or "channel"
        params = {"report": "attribution", "measure": "revenue", "by": by, "group": str(row[by]),
                  "model": model or self.query.get("model") or "linear"}  # fmt: skip
        params.update({k: v for k, v in self.query.items() if k in ("from", "to")})
        return f"{reverse('web:records')}?{urlencode(params)}"


#: ``Column.records`` of an attributed-revenue column: its cells link to the journeys behind the
#: credit (``Links.credit_href``).
CREDIT = "credit"
_REASON = re.compile(r"^(?P<reason>[a-z_]+)=(?P<n>\d+)$")


class _Hrefs:
    """``Links.href`` for every count of a table: the records page's path and the parts of the
    query that do not vary (report, grouping, the page's period and segment) are built once;
    each cell quotes only its own values (measure, group, stage). The links are the same
    strings ``Links.href`` makes, parameter for parameter."""

    #: Parameters ``Links.href`` places itself: an extra one of these names takes the slow path.
    _PLACED = frozenset(("report", "measure", "by", "group", "stage", "from", "to", "segment"))

    def __init__(self, links: Links) -> None:
        self.links = links
        self.head = f"{reverse('web:records')}?{urlencode({'report': links.report})}&measure="
        self.group = f"&{urlencode({'by': links.by})}&group=" if links.by else ""
        self.stage = links.report == "funnel"
        kept = {k: v for k, v in links.query.items() if k in ("from", "to", "segment")}
        self.tail = f"&{urlencode(kept)}" if kept else ""
        self.measures: dict[str, str] = {}

    def href(self, row: Mapping[str, Value], measure: str, **extra: str) -> str:
        if extra.keys() & self._PLACED:
            return self.links.href(row, measure, **extra)
        quoted = self.measures.get(measure)
        if quoted is None:
            quoted = self.measures[measure] = quote_plus(measure)
        out = self.head + quoted
        if self.group:
            out += self.group + quote_plus(str(row[self.links.by or ""]))
        if self.stage:
            out += "&stage=" + quote_plus(str(row["stage"]))
        if extra:
            out += "&" + urlencode(extra)
        return out + self.tail


def _cell(value: Value, column: Column, row: Mapping[str, Value], links: _Hrefs | None) -> Cell:
    text = format_value(value, column.format)
    numeric = column.format is not Format.text
    if links is None:
        return Cell(text, numeric, label=column.label)
    if column.name == "rejection_reasons" and isinstance(value, str) and value:
        parts: list[tuple[str, str | None]] = []
        for pair in value.split(", "):
            match = _REASON.match(pair)
            href = links.href(row, "rejected", reason=match["reason"]) if match else None
            parts.append((pair.replace("_", " "), href))
        return Cell(text, numeric, parts=tuple(parts), label=column.label)
    if column.records == CREDIT and isinstance(value, (int, float)) and value:
        return Cell(text, numeric, href=links.links.credit_href(row), label=column.label)
    if column.records and isinstance(value, int) and value > 0:
        return Cell(text, numeric, href=links.href(row, column.records), label=column.label)
    return Cell(text, numeric, label=column.label)


def cells(table: Table, columns: Sequence[Column], links: Links | None = None) -> list[list[Cell]]:
    """The panel's rows, its columns only, printed; with ``links``, each count that has
    records behind it links to them."""
    hrefs = _Hrefs(links) if links is not None else None
    return [[_cell(row[c.name], c, row, hrefs) for c in columns] for row in table.to_records()]


def _html(value: str) -> str:
    """``value`` as ``{{ value }}`` prints it in a template: escaped unless already safe
    (the standard library's ``escape`` is Django's, without its wrappers)."""
    return value if isinstance(value, SafeData) else escape(value)


def rows_html(rows: Sequence[Sequence[Cell]]) -> SafeString:
    """The body of a numbers table (``_numbers_table.html``): one ``<tr>`` per row, one
    ``<td>`` per cell, counts as links to their records, every text escaped. Built here rather
    than by the template language, which spent ~30 µs a cell on a table of 1,600 cells."""
    out: list[str] = []
    for row in rows:
        out.append("<tr>")
        for cell in row:
            out.append('<td class="num"' if cell.numeric else "<td")
            if cell.label:
                out.append(f' data-label="{_html(cell.label)}"')
            out.append(">")
            if cell.parts:
                out.append(
                    ", ".join(
                        f'<a href="{_html(href)}">{_html(text)}</a>' if href else _html(text)
                        for text, href in cell.parts
                    )
                )
            elif cell.href:
                out.append(f'<a href="{_html(cell.href)}">{_html(cell.text)}</a>')
            else:
                out.append(_html(cell.text))
            out.append("</td>")
        out.append("</tr>")
    # Every piece of data above went through _html.
    return mark_safe("".join(out))


def csv_response(table: Table, columns: Sequence[Column], filename: str) -> HttpResponse:
    """The table's columns (those shown) as a CSV download: the same numbers, unformatted,
    formula-safe (``Table.to_csv``)."""
    index = [table.columns.index(c.name) for c in columns]
    shown = Table(tuple(c.name for c in columns), tuple(tuple(r[i] for i in index)
                                                        for r in table.rows))  # fmt: skip
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", filename).strip("-") or "table"
    response = HttpResponse(shown.to_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{safe}.csv"'
    return response


def _spend_chart(table: Table) -> dict[str, Any]:
    """Spend beside the revenue the attribution model credits, per channel."""
    values = []
    for record in table.to_records():
        for measure, column in (("spend", "spend"), ("attributed revenue", "attributed_revenue")):
            values.append(
                {
                    "channel": words(str(record["channel"])),
                    "measure": measure,
                    "amount": record[column] or 0,
                }
            )
    return bar_chart(
        "Spend and attributed revenue per channel",
        values,
        {
            "x": {
                "field": "channel",
                "type": "nominal",
                "title": None,
                "axis": {"labelAngle": -30},
            },
            "xOffset": {"field": "measure"},
            "y": {"field": "amount", "type": "quantitative", "title": "amount"},
            "color": {
                "field": "measure",
                "type": "nominal",
                "scale": {
                    "domain": ["spend", "attributed revenue"],
                    "range": [SERIES_COLOURS[1], SERIES_COLOURS[2]],
                },
                "legend": {**LEGEND, "title": None},
            },
        },
        height=220,
    )


PANELS: Mapping[str, Panel] = {
    p.slug: p
    for p in (
        Panel(
            slug="leaks",
            title="Where the funnel leaks",
            explain="Contacts entering each stage in the period, where they went next and how "
            "long they stayed.",
            report="funnel",
            by=None,
            columns=(
                Column("stage", "stage", Format.text),
                Column("entries", "entered", records="entries"),
                Column("exits_forward", "moved on", records="exits_forward"),
                Column("to_nurture", "to nurture", records="to_nurture"),
                Column("to_disqualified", "disqualified", records="to_disqualified"),
                Column("to_churned", "churned", records="to_churned"),
                Column("still_in", "still in", records="still_in"),
                Column("conversion_rate", "conversion", Format.rate),
                Column("median_days", "median time", Format.days),
                Column("p90_days", "p90 time", Format.days),
            ),
        ),
        Panel(
            slug="spend",
            title="Spend and return by channel",
            explain="Spend against the leads, customers and revenue it brought; revenue is "
            "credited to channels by the attribution model chosen above. LTV is the fitted "
            "3-year lifetime value (BG/NBD) where the won deals allow a fit, else revenue to "
            "date: the LTV column says which.",
            report="spend",
            by="channel",
            uses_model=True,
            chart=_spend_chart,
            columns=(
                Column("channel", "channel", Format.text),
                Column("spend", "spend", Format.money),
                Column("leads", "leads", records="leads"),
                Column("mqls", "MQLs", records="mqls"),
                Column("accepted", "accepted", records="accepted"),
                Column("customers", "customers", records="customers"),
                Column("cost_per_lead", "cost / lead", Format.money),
                Column("cac", "CAC", Format.money),
                Column("attributed_revenue", "attributed revenue", Format.money, CREDIT),
                Column("roas", "ROAS", Format.ratio),
                Column("roi", "ROI", Format.rate),
                Column("ltv", "LTV", Format.money),
                Column("ltv_to_cac", "LTV:CAC", Format.ratio),
                Column("ltv_method", "LTV from", Format.text),
                Column("payback_months", "payback", Format.months),
            ),
        ),
        Panel(
            slug="quality",
            title="Lead quality by source — what marketing hands over",
            explain="Handoffs by the channel that brought the lead: how many sales accepted, "
            "why the others were rejected, and how many of the accepted were won.",
            report="scorecard",
            by="channel",
            columns=(
                Column("channel", "channel", Format.text),
                Column("handoffs", "handoffs", records="handoffs"),
                Column("accepted", "accepted", records="accepted"),
                Column("acceptance_rate", "acceptance", Format.rate),
                Column("rejection_reasons", "rejection reasons", Format.text),
                Column("won_rate_of_accepted", "won of accepted", Format.rate),
                Column("recycled_then_won", "recycled then won", records="recycled_then_won"),
            ),
        ),
        Panel(
            slug="follow-up",
            title="Follow-up by rep — what sales does with them",
            explain="Handoffs each rep received, the share answered within the SLA, the median "
            "first response, and what became of them.",
            report="scorecard",
            by="rep",
            columns=(
                Column("rep", "rep", Format.text),
                Column("handoffs", "received", records="handoffs"),
                Column("sla_compliance", "within SLA", Format.rate),
                Column("median_response_hours", "median first response", Format.hours),
                Column("median_hours_to_first_activity", "first activity", Format.hours),
                Column("acceptance_rate", "acceptance", Format.rate),
                Column("expired", "expired", records="expired"),
                Column("pending", "pending", records="pending"),
                Column("won_rate_of_accepted", "won of accepted", Format.rate),
                Column("recycled_then_won", "recycled then won", records="recycled_then_won"),
            ),
        ),
    )
}
