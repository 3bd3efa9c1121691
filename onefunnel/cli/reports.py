"""`onefunnel report NAME` and `onefunnel export --parquet DIR`: reports as tables, CSV or JSON."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import (
    OutputFormat,
    console,
    emit_object,
    emit_rows,
    err_console,
    fail,
)


class EngineChoice(StrEnum):
    """Where a report runs: the configured database, or Spark over a Parquet export."""

    db = "db"
    spark = "spark"


@app.command()
@translate_errors
def report(
    name: Annotated[
        str, typer.Argument(help="funnel, attribution, spend, scorecard, retention or plan")
    ],
    date_from: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: a year back)")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (default: today, UTC)")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Group by: funnel channel|campaign|segment|owner|cohort; spend campaign|channel;"
            " scorecard rep|channel|campaign|trigger|segment; attribution channel|campaign;"
            " retention month|cohort|period"
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Attribution model(s), e.g. linear, markov; spend takes one"),
    ] = None,
    lookback_days: Annotated[int, typer.Option(help="Attribution lookback window, days")] = 90,
    half_life: Annotated[float, typer.Option(help="Time-decay half-life, days")] = 7.0,
    order: Annotated[int, typer.Option(help="Markov chain order (1-4)")] = 1,
    ltv_years: Annotated[
        float, typer.Option(help="Spend: horizon of the fitted lifetime value, years")
    ] = 3.0,
    ltv_discount: Annotated[
        float, typer.Option(help="Spend: yearly discount rate of the fitted lifetime value")
    ] = 0.10,
    engine: Annotated[
        EngineChoice, typer.Option(help="db (the configured database) or spark")
    ] = EngineChoice.db,
    parquet: Annotated[
        Path | None, typer.Option(help="With --engine spark: the export directory to read")
    ] = None,
    plan: Annotated[
        int | None, typer.Option(help="The plan report: the saved plan's id (`plans list`)")
    ] = None,
    segment: Annotated[
        str | None,
        typer.Option(
            help="Count only a segment's members (id or name): funnel, scorecard, attribution,"
            " retention"
        ),
    ] = None,
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False),
    ] = OutputFormat.table,
) -> None:
    """Run a report over a period and print it (columns depend on the report).

    With --segment, only the segment's members count, as of its last refresh (a segment never
    refreshed is refreshed first); which segment and when is printed (on stderr with --format
    json or csv, so the data stays clean)."""
    from onefunnel.analytics.period import period_of
    from onefunnel.analytics.reports import ReportOptions, run_report

    period = period_of(date_from, date_to, today=datetime.now(UTC).date())
    options = ReportOptions(
        model=model,
        lookback_days=lookback_days,
        half_life_days=half_life,
        markov_order=order,
        ltv_horizon_years=ltv_years,
        ltv_discount_rate=ltv_discount,
    )
    segment_filter = None
    if segment is not None:
        if engine is EngineChoice.spark:
            fail(
                "segment: a Parquet export holds no segment membership; run the report with"
                " --engine db to filter it by a segment"
            )
        setup_django()
        migrate()
        from onefunnel.services.marketing.segment_reports import segment_filter as resolve

        segment_filter = resolve(segment)
        options = replace(options, segment=segment_filter)
    if plan is not None:
        # The plan's numbers are read from the database whatever engine runs the report.
        setup_django()
        migrate()
        from onefunnel.services.plan.reverse_funnel import planned_by_month

        options = ReportOptions(plan_rows=tuple(planned_by_month(plan)), segment=segment_filter)
    if engine is EngineChoice.spark:
        if parquet is None:
            fail("parquet: --engine spark reads an export; give --parquet DIR")
        try:
            from onefunnel.analytics.engines import SparkEngine
        except ImportError:
            fail("engine: pyspark is not installed (pip install pyspark)")
        # Spark needs Django only for the export's table list, not the database.
        setup_django()
        table = run_report(name, SparkEngine(parquet), period, by=by, options=options)
    else:
        setup_django()
        migrate()
        from onefunnel.analytics.engines import DjangoEngine

        table = run_report(name, DjangoEngine(), period, by=by, options=options)
    title = (
        f"plan #{plan} beside actual"
        if plan is not None
        else f"{name} {period.first.isoformat()} – {period.last.isoformat()}"
    )
    if segment_filter is not None:
        if fmt is OutputFormat.table:
            title += f" — {segment_filter.describe()}"
        else:
            err_console.print(escape(segment_filter.describe()), highlight=False)
    emit_rows(table.to_records(), fmt, title=title, columns=table.columns)


@app.command()
@translate_errors
def export(
    parquet: Annotated[
        Path | None, typer.Option(help="Directory to write one .parquet file per table")
    ] = None,
    segment: Annotated[
        str | None,
        typer.Option(help="Instead: a segment's contacts as CSV (its id or name)"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="With --segment: the CSV file (default: stdout)"),
    ] = None,
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False),
    ] = OutputFormat.table,
) -> None:
    """Export the tables reports read to Parquet (for `report --engine spark`), or with
    --segment a segment's contacts as CSV (its stored membership, as filtered reports count
    it; which segment and when it was refreshed is said on stderr)."""
    if (parquet is None) == (segment is None):
        fail("parquet: give --parquet DIR (the report tables) or --segment NAME (its contacts)")
    setup_django()
    migrate()
    if segment is not None:
        from onefunnel.services.marketing.segment_reports import export_segment_contacts

        if out is None:
            done = export_segment_contacts(segment, sys.stdout)
        else:
            # People's details: a file only its owner reads, written under a temporary name
            # and renamed when complete (never a half file).
            from onefunnel.private_files import create_private

            partial = out.with_name(f".{out.name}.partial")
            partial.unlink(missing_ok=True)
            create_private(partial)
            with partial.open("w", encoding="utf-8", newline="") as handle:
                done = export_segment_contacts(segment, handle)
            partial.replace(out)
        err_console.print(
            escape(f"{done.contacts} contacts of {done.segment.describe()}"), highlight=False
        )
        return
    from onefunnel.services.export import export_parquet

    assert parquet is not None
    summary = export_parquet(parquet)
    if fmt is OutputFormat.table:
        console.print(f"exported to {summary.directory}")
    emit_object(summary.as_dict() if fmt is OutputFormat.json else summary.rows, fmt)
