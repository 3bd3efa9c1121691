"""`onefunnel ltv fit|predict`: lifetime value (BG/NBD + Gamma-Gamma) of an orders file or of
the won deals in the database."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from onefunnel.cli import app, migrate, setup_django, translate_errors
from onefunnel.cli.output import OutputFormat, emit_object, emit_rows, fail

if TYPE_CHECKING:  # the services load numpy and scipy: only when a command runs
    from onefunnel.services.ltv import OrderColumns, Orders, TimeUnit

ltv_app = typer.Typer(help="Lifetime value: fit BG/NBD + Gamma-Gamma, predict per customer.")
app.add_typer(ltv_app, name="ltv")

PREDICT_COLUMNS = (
    "customer_id",
    "frequency",
    "recency",
    "age",
    "monetary",
    "expected_purchases",
    "probability_alive",
    "clv",
)

OrdersArg = Annotated[
    Path | None,
    typer.Argument(help="Orders CSV, one row per order (omit with --from-deals)"),
]
FromDeals = Annotated[
    bool, typer.Option("--from-deals", help="Use the won deals of the database instead")
]
CalibrationEnd = Annotated[
    str | None,
    typer.Option(help="Last day of the calibration period, YYYY-MM-DD (default: data's end)"),
]
CustomerCol = Annotated[str, typer.Option("--customer-col", help="Customer id column")]
DateCol = Annotated[str, typer.Option("--date-col", help="Order date column (YYYY-MM-DD)")]
AmountCol = Annotated[str, typer.Option("--amount-col", help="Order amount column")]
Format = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table, json or csv", case_sensitive=False),
]


def _orders(file: Path | None, from_deals: bool, columns: OrderColumns) -> Orders:
    """Read the orders the command was given: a file, or the database's won deals."""
    from onefunnel.services.ltv import orders_from_deals, read_orders

    if from_deals == (file is not None):
        fail("orders: give an orders file or --from-deals (one of them)")
    if file is None:
        setup_django()
        migrate()
        return orders_from_deals()
    return read_orders(file, columns)


def _calibration_end(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"calibration_end: not a date (YYYY-MM-DD): {text!r}")


@ltv_app.command("fit")
@translate_errors
def fit(
    file: OrdersArg = None,
    from_deals: FromDeals = False,
    calibration_end: CalibrationEnd = None,
    customer_col: CustomerCol = "customer_id",
    date_col: DateCol = "date",
    amount_col: AmountCol = "amount",
    time_unit: Annotated[
        str, typer.Option("--time-unit", help="weeks (days / 7) or days")
    ] = "weeks",
    fmt: Format = OutputFormat.table,
) -> None:
    """Fit BG/NBD (purchases) and Gamma-Gamma (spend) by maximum likelihood.

    Prints {"bgnbd": {r, alpha, a, b, log_likelihood}, "gamma_gamma": {p, q, gamma}, customers}.
    """
    from onefunnel.services.ltv import OrderColumns, fit_orders

    unit = _time_unit(time_unit)
    end = _calibration_end(calibration_end)
    orders = _orders(file, from_deals, OrderColumns(customer_col, date_col, amount_col))
    model = fit_orders(orders, calibration_end=end, time_unit=unit)
    fitted = model.as_dict()
    if fmt is OutputFormat.json:
        emit_object(fitted, fmt)
        return
    rows = [
        {"model": name, "parameter": key, "value": value}
        for name in ("bgnbd", "gamma_gamma")
        for key, value in fitted[name].items()
    ] + [
        {"model": "", "parameter": key, "value": fitted[key]}
        for key in ("customers", "calibration_end", "time_unit")
    ]
    emit_rows(rows, fmt, title="Lifetime value models", columns=("model", "parameter", "value"))


@ltv_app.command("predict")
@translate_errors
def predict(
    file: OrdersArg = None,
    from_deals: FromDeals = False,
    horizon_weeks: Annotated[
        float, typer.Option("--horizon-weeks", help="Weeks ahead to predict")
    ] = 52.0,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="Yearly discount rate, e.g. 0.1 for 10 %")
    ] = 0.1,
    calibration_end: CalibrationEnd = None,
    customer_col: CustomerCol = "customer_id",
    date_col: DateCol = "date",
    amount_col: AmountCol = "amount",
    time_unit: Annotated[
        str, typer.Option("--time-unit", help="weeks (days / 7) or days")
    ] = "weeks",
    fmt: Format = OutputFormat.table,
) -> None:
    """Per customer: expected purchases over the horizon, probability alive, discounted CLV.

    Columns: customer_id, frequency (repeat purchases), recency and age (in the time unit),
    monetary (mean repeat amount), expected_purchases, probability_alive, clv.
    """
    from onefunnel.services.ltv import OrderColumns, predict_orders

    unit = _time_unit(time_unit)
    end = _calibration_end(calibration_end)
    orders = _orders(file, from_deals, OrderColumns(customer_col, date_col, amount_col))
    prediction = predict_orders(
        orders,
        horizon_weeks=horizon_weeks,
        discount_rate=discount_rate,
        calibration_end=end,
        time_unit=unit,
    )
    rows = [
        {
            "customer_id": c.customer_id,
            "frequency": c.frequency,
            "recency": c.recency,
            "age": c.age,
            "monetary": c.monetary,
            "expected_purchases": c.expected_purchases,
            "probability_alive": c.probability_alive,
            "clv": c.clv,
        }
        for c in prediction.customers
    ]
    title = (
        f"Lifetime value over {horizon_weeks:g} weeks from {prediction.model.calibration_end}"
        f" ({discount_rate:.1%} a year)"
    )
    emit_rows(rows, fmt, title=title, columns=PREDICT_COLUMNS)


def _time_unit(text: str) -> TimeUnit:
    from onefunnel.services.ltv import TimeUnit

    try:
        return TimeUnit(text.lower())
    except ValueError:
        fail(f"time_unit: {text!r} is not one of weeks, days")


@ltv_app.command("contract")
@translate_errors
def contract(
    active: Annotated[
        str,
        typer.Option(
            "--active", help="Contracts still running after 0, 1, 2, … renewals: 1000,869,743"
        ),
    ],
    margin: Annotated[float, typer.Option(help="Margin per contract period")],
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="Discount rate per contract period")
    ] = 0.1,
    periods: Annotated[
        int | None, typer.Option(help="Periods to value (default: unbounded)")
    ] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Lifetime value of a subscription contract from a cohort's retention (sBG model).

    Prints alpha, beta, log_likelihood, clv (fitted curve), observed_clv (the observed curve
    alone) and survival (the fitted share still a customer after 0, 1, … renewals).
    """
    from onefunnel.services.ltv import contract_value

    try:
        counts = [float(part) for part in active.split(",") if part.strip()]
    except ValueError:
        fail(f"active: not a comma-separated list of numbers: {active!r}")
    value = contract_value(counts, margin=margin, discount_rate=discount_rate, periods=periods)
    emit_object(dataclasses.asdict(value), fmt, title="Contract lifetime value")
