"""`onefunnel attribution FILE`: attribution models on an analyst's file, no database needed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from onefunnel.cli import app
from onefunnel.cli.output import OutputFormat, emit_rows, fail
from onefunnel.domain.attribution import (
    DEFAULT_DIRECT_CHANNEL,
    DEFAULT_HALF_LIFE,
    AttributionInputError,
    AttributionModel,
    run_models,
)
from onefunnel.services.attribution_files import AttributionFileOptions, FileLayout, read_journeys
from onefunnel.services.errors import InputError

ALL_MODELS = ",".join(model.value for model in AttributionModel)
COLUMNS = ("model", "channel", "conversions", "value")


@app.command("attribution")
def attribution(
    file: Annotated[
        Path, typer.Argument(help="Grouped paths (path;total_conversions;…) or touches CSV")
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help=f"One or more of {ALL_MODELS}, comma-separated")
    ] = ALL_MODELS,
    order: Annotated[int, typer.Option(help="Markov chain order (1-4)")] = 1,
    fmt: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False),
    ] = OutputFormat.table,
    input_layout: Annotated[
        FileLayout,
        typer.Option("--input", help="grouped, touches, or auto (from the header)"),
    ] = FileLayout.auto,
    sep: Annotated[
        str | None, typer.Option(help="Column separator (default: sniffed from the header)")
    ] = None,
    channel_separator: Annotated[
        str, typer.Option(help="Separator between channels in a path")
    ] = ">",
    path_column: Annotated[str, typer.Option(help="Grouped paths: the path column")] = "path",
    conversions_column: Annotated[
        str, typer.Option(help="Grouped paths: conversions per path")
    ] = "total_conversions",
    value_column: Annotated[
        str | None,
        typer.Option(help="Conversion value column (default total_conversion_value / value)"),
    ] = None,
    null_column: Annotated[
        str | None,
        typer.Option(help="Grouped paths: non-converting journeys per path (default total_null)"),
    ] = None,
    journey_column: Annotated[str, typer.Option(help="Touches: journey id")] = "journey_id",
    timestamp_column: Annotated[str, typer.Option(help="Touches: time")] = "timestamp",
    channel_column: Annotated[str, typer.Option(help="Touches: channel")] = "channel",
    converted_column: Annotated[str, typer.Option(help="Touches: conversion flag")] = "converted",
    half_life: Annotated[
        float,
        typer.Option(help="Time decay half-life: days with touches, touches with grouped paths"),
    ] = DEFAULT_HALF_LIFE,
    direct_channel: Annotated[
        str, typer.Option(help="The channel last_non_direct skips")
    ] = DEFAULT_DIRECT_CHANNEL,
    lookback_days: Annotated[
        float | None, typer.Option(help="Touches: keep touches at most this long before the end")
    ] = None,
) -> None:
    """Credit conversions and value to channels with multi-touch attribution models.

    Columns: model, channel, conversions, value (value is empty when the file has none).
    """
    options = AttributionFileOptions(
        layout=input_layout,
        sep=sep,
        channel_separator=channel_separator,
        path_column=path_column,
        conversions_column=conversions_column,
        value_column=value_column,
        null_column=null_column,
        journey_column=journey_column,
        timestamp_column=timestamp_column,
        channel_column=channel_column,
        converted_column=converted_column,
        lookback_days=lookback_days,
    )
    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        journeys = read_journeys(file, options)
        credits = run_models(
            journeys, model, order=order, half_life=half_life, direct_channel=direct_channel
        )
    except (InputError, AttributionInputError) as exc:
        fail(str(exc))
    # Models in the order asked for; within a model, the most credited channel first.
    rank = {m: i for i, m in enumerate(dict.fromkeys(c.model for c in credits))}
    rows = [
        {
            "model": c.model.value,
            "channel": c.channel,
            "conversions": c.conversions,
            "value": c.value,
        }
        for c in sorted(credits, key=lambda c: (rank[c.model], -c.conversions, c.channel))
    ]
    title = f"Attribution of {journeys.total_conversions:,.6g} conversions in {file.name}"
    emit_rows(rows, fmt, title=title, columns=COLUMNS)
