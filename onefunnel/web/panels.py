"""The dashboard's report panels: which report each shows, which columns, and how to print them.

The dashboard is the one page both teams read (DESIGN §1): where the funnel leaks, what the
spend returns, the quality of the leads marketing hands over (by channel) and how sales follows
them up (by rep). Each panel is one report from `onefunnel.analytics.reports` — the same numbers
as `onefunnel report` and `/api/reports/` — loaded on its own request, so a slow report never
holds the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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
    href: str | None = None
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


def cells(table: Table, columns: Sequence[Column]) -> list[list[Cell]]:
    """The panel's rows, its columns only, printed."""
    index = {name: i for i, name in enumerate(table.columns)}
    return [
        [
            Cell(
                format_value(row[index[c.name]], c.format),
                c.format is not Format.text,
                label=c.label,
            )
            for c in columns
        ]
        for row in table.rows
    ]


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
                Column("entries", "entered"),
                Column("exits_forward", "moved on"),
                Column("to_nurture", "to nurture"),
                Column("to_disqualified", "disqualified"),
                Column("to_churned", "churned"),
                Column("still_in", "still in"),
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
                Column("leads", "leads"),
                Column("mqls", "MQLs"),
                Column("accepted", "accepted"),
                Column("customers", "customers"),
                Column("cost_per_lead", "cost / lead", Format.money),
                Column("cac", "CAC", Format.money),
                Column("attributed_revenue", "attributed revenue", Format.money),
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
                Column("handoffs", "handoffs"),
                Column("accepted", "accepted"),
                Column("acceptance_rate", "acceptance", Format.rate),
                Column("rejection_reasons", "rejection reasons", Format.text),
                Column("won_rate_of_accepted", "won of accepted", Format.rate),
                Column("recycled_then_won", "recycled then won"),
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
                Column("handoffs", "received"),
                Column("sla_compliance", "within SLA", Format.rate),
                Column("median_response_hours", "median first response", Format.hours),
                Column("median_hours_to_first_activity", "first activity", Format.hours),
                Column("acceptance_rate", "acceptance", Format.rate),
                Column("expired", "expired"),
                Column("pending", "pending"),
                Column("won_rate_of_accepted", "won of accepted", Format.rate),
                Column("recycled_then_won", "recycled then won"),
            ),
        ),
    )
}
