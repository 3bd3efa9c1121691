"""Lifetime value of the customers in an orders file, or of the won deals in the database.

An orders file has one row per order (transaction): a customer id, a date and an amount, in
named columns (`customer_id,date,amount` by default). Dates are ISO 8601 (`YYYY-MM-DD`, or a
timestamp whose date part is taken as written). Same-day orders of a customer are one purchase.

The file is read with Arrow's CSV reader and validated column by column with its compute
kernels; the domain then summarises it set-based (`summarise_orders`). Nothing is written
anywhere, so bad input cannot half-apply: every problem is an `InputError` naming the row
(row 1 is the first row after the header) and the column, before any fitting starts.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from onefunnel.domain.ltv import (
    BgNbdFit,
    CustomerSummary,
    GammaGammaFit,
    LtvInputError,
    clv_from_survival,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_sbg,
    predict,
    summarise_orders,
    survival_from_counts,
)
from onefunnel.services.errors import InputError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
EPOCH = date(1970, 1, 1)
DAYS_PER_YEAR = 365.25
# Orders before this are typing errors, not history (and keep day arithmetic in range).
EARLIEST = date(1900, 1, 1)


class TimeUnit(StrEnum):
    """The unit of recency, age and the fitted α: days, or weeks (days / 7)."""

    days = "days"
    weeks = "weeks"

    @property
    def days_per_unit(self) -> float:
        """How many days one unit is."""
        return 7.0 if self is TimeUnit.weeks else 1.0


@dataclass(frozen=True)
class OrderColumns:
    """The names of the customer, date and amount columns of an orders file."""

    customer: str = "customer_id"
    date: str = "date"
    amount: str = "amount"


@dataclass(frozen=True, eq=False)
class Orders:
    """Orders as arrays: `customers[i]` indexes `customer_ids`; `days` since 1970-01-01.

    `data_end` is the last day the data covers: the last order of a file, today for the
    database (which records up to now).
    """

    customer_ids: tuple[str, ...]
    customers: IntArray
    days: IntArray
    amounts: FloatArray
    data_end: int

    @property
    def first_day(self) -> int:
        """The day of the earliest order."""
        return int(self.days.min())


@dataclass(frozen=True)
class LtvModel:
    """The BG/NBD and Gamma-Gamma fits on the calibration period of some orders."""

    bgnbd: BgNbdFit
    gamma_gamma: GammaGammaFit
    customers: int
    calibration_end: date
    time_unit: TimeUnit

    def as_dict(self) -> dict[str, Any]:
        """The fit as the CLI and API print it."""
        b, g = self.bgnbd, self.gamma_gamma
        return {
            "bgnbd": {
                "r": b.r,
                "alpha": b.alpha,
                "a": b.a,
                "b": b.b,
                "log_likelihood": b.log_likelihood,
            },
            "gamma_gamma": {"p": g.p, "q": g.q, "gamma": g.gamma},
            "customers": self.customers,
            "calibration_end": self.calibration_end.isoformat(),
            "time_unit": self.time_unit.value,
        }


@dataclass(frozen=True, eq=False)
class CustomerValue:
    """One customer's history and predictions (amounts in the orders' currency)."""

    customer_id: str
    frequency: int
    recency: float
    age: float
    monetary: float
    expected_purchases: float
    probability_alive: float
    clv: float


@dataclass(frozen=True, eq=False)
class LtvPrediction:
    """The fitted model and every customer's values over the horizon."""

    model: LtvModel
    horizon_weeks: float
    discount_rate: float
    customers: tuple[CustomerValue, ...]


# ---------------------------------------------------------------------------------------------
# Reading orders


def read_orders(
    source: Path | bytes, columns: OrderColumns = OrderColumns(), *, today: date | None = None
) -> Orders:
    """Read an orders CSV (a path, or the bytes of an upload) into arrays, checking every row.

    Raises `InputError` naming the row and column of an empty customer id, an unreadable or
    future date, or an amount that is not a number >= 0.
    """
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.csv as pacsv  # type: ignore[import-untyped]

    name = source.name if isinstance(source, Path) else "upload"
    if isinstance(source, Path) and not source.is_file():
        raise InputError(f"{source}: no such file")
    stream = source if isinstance(source, Path) else io.BytesIO(source)
    wanted = (columns.customer, columns.date, columns.amount)
    try:
        table = pacsv.read_csv(
            stream,
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in wanted},
                include_columns=list(wanted),
                include_missing_columns=True,
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InputError(f"{name}: not a readable CSV file: {str(exc).splitlines()[0]}") from None
    header = _header(source)
    missing = [c for c in wanted if c not in header]
    if missing:
        raise InputError(f"{name}: no column {', '.join(missing)} (columns: {', '.join(header)})")
    if len(table) == 0:
        raise InputError(f"{name}: no orders (the file has a header and no rows)")

    def fail(column: str, bad: Any, message: str) -> None:
        mask = np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool)
        if mask.any():
            row = int(np.argmax(mask))
            value = table[column][row].as_py()
            raise InputError(f"{name}: row {row + 1}: {column}: {message} (got {value!r})")

    customer = table[columns.customer]
    fail(columns.customer, pc.or_kleene(pc.is_null(customer), pc.equal(customer, "")), "empty")

    dates = table[columns.date]
    well_formed = pc.match_substring_regex(dates, r"^\d{4}-\d{2}-\d{2}([T ].*)?$")
    day_text = pc.utf8_slice_codeunits(dates, 0, 10)
    parsed = pc.strptime(day_text, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls 2024-02-30 over into March: a real date prints back as it was written.
    exact = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), day_text)
    readable = pc.fill_null(pc.and_(well_formed, exact), False)
    fail(columns.date, pc.invert(readable), "not a date (YYYY-MM-DD)")
    days = np.asarray(parsed.cast(pa.int64()).to_numpy(zero_copy_only=False)) // 86_400
    fail(columns.date, pa.array(days < _day(EARLIEST)), f"before {EARLIEST.isoformat()}")
    today_day = _day(today or datetime.now(UTC).date())
    fail(columns.date, pa.array(days > today_day), "in the future")

    amounts = _amounts(table[columns.amount], fail, columns.amount)
    fail(columns.amount, pa.array(amounts < 0), "negative")

    encoded = pc.dictionary_encode(customer).combine_chunks()
    return Orders(
        customer_ids=tuple(encoded.dictionary.to_pylist()),
        customers=np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64),
        days=days.astype(np.int64),
        amounts=amounts,
        data_end=int(days.max()),
    )


def _amounts(column: Any, fail: Any, name: str) -> FloatArray:
    """The amount column as float64; the first row that is not a finite number is named."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Arrow does not say which row failed: find it (only on this error path).
        texts = column.to_pylist()
        bad = [not _is_number(v) for v in texts]
        fail(name, pa.array(bad), "not a number")
        raise  # pragma: no cover - the cast failed, so some row is not a number
    array = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    fail(name, pa.array(~np.isfinite(array)), "not a number")
    return array


def _is_number(text: str | None) -> bool:
    try:
        return text is not None and math.isfinite(float(text))
    except ValueError:
        return False


def _header(source: Path | bytes) -> list[str]:
    """The column names of the first line (for naming a missing column)."""
    import csv

    if isinstance(source, Path):
        with source.open(encoding="utf-8-sig", errors="replace") as handle:
            first = handle.readline()
    else:
        first = source.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    return next(csv.reader([first]), [])


def orders_from_deals(*, today: date | None = None) -> Orders:
    """The won deals of the database as orders: the account is the customer, the close day
    (UTC) the date, the amount the amount. All must share one currency."""
    from django.db.models import Count

    from onefunnel.domain.deals import DealStatus
    from onefunnel.models import Deal

    won = Deal.objects.filter(status=DealStatus.WON, closed_at__isnull=False)
    currencies = list(won.values("currency").annotate(n=Count("id")).order_by("currency"))
    if len(currencies) > 1:
        names = ", ".join(c["currency"] for c in currencies)
        raise InputError(f"currency: won deals are in several currencies ({names}); cannot add up")
    rows = list(won.order_by("closed_at", "id").values_list("account_id", "closed_at", "amount"))
    if not rows:
        raise InputError("deals: no won deal with a close date to learn from")
    accounts = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    days = np.fromiter(
        (_day(cast(datetime, r[1]).astimezone(UTC).date()) for r in rows),
        dtype=np.int64,
        count=len(rows),
    )
    amounts = np.fromiter(
        (float(cast(Decimal, r[2])) for r in rows), dtype=np.float64, count=len(rows)
    )
    negative = np.flatnonzero(amounts < 0)
    if negative.size:
        raise InputError(f"amount: won deal of account {accounts[negative[0]]} is negative")
    ids, codes = np.unique(accounts, return_inverse=True)
    today_day = _day(today or datetime.now(UTC).date())
    return Orders(
        customer_ids=tuple(str(i) for i in ids.tolist()),
        customers=codes.astype(np.int64).ravel(),
        days=days,
        amounts=amounts,
        data_end=max(today_day, int(days.max())),
    )


# ---------------------------------------------------------------------------------------------
# Fitting and predicting


def _day(day: date) -> int:
    return (day - EPOCH).days


def _date(day: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + day)


def calibration_day(orders: Orders, calibration_end: date | None) -> int:
    """The end of calibration as a day number: the data's end when not given; it must fall
    between the first order and the end of the data."""
    if calibration_end is None:
        return orders.data_end
    day = _day(calibration_end)
    if day < orders.first_day:
        first = _date(orders.first_day).isoformat()
        raise InputError(
            f"calibration_end: {calibration_end.isoformat()} is before the first order ({first})"
        )
    if day > orders.data_end:
        end = _date(orders.data_end).isoformat()
        raise InputError(
            f"calibration_end: {calibration_end.isoformat()} is after the data ends ({end})"
        )
    return day


def _summarise(
    orders: Orders, calibration_end: date | None, time_unit: TimeUnit
) -> tuple[CustomerSummary, date]:
    end = calibration_day(orders, calibration_end)
    summary = summarise_orders(
        orders.customers,
        orders.days,
        orders.amounts,
        calibration_end=end,
        days_per_unit=time_unit.days_per_unit,
    )
    return summary, _date(end)


def _fit(summary: CustomerSummary, end: date, time_unit: TimeUnit) -> LtvModel:
    try:
        bgnbd = fit_bgnbd(summary)
        gamma_gamma = fit_gamma_gamma(summary)
    except LtvInputError as exc:
        raise InputError(str(exc)) from None
    return LtvModel(bgnbd, gamma_gamma, len(summary), end, time_unit)


def fit_orders(
    orders: Orders, *, calibration_end: date | None = None, time_unit: TimeUnit = TimeUnit.weeks
) -> LtvModel:
    """Fit BG/NBD and Gamma-Gamma on the orders up to the end of calibration."""
    summary, end = _summarise(orders, calibration_end, time_unit)
    return _fit(summary, end, time_unit)


def predict_orders(
    orders: Orders,
    *,
    horizon_weeks: float,
    discount_rate: float,
    calibration_end: date | None = None,
    time_unit: TimeUnit = TimeUnit.weeks,
) -> LtvPrediction:
    """Fit, then predict each customer's purchases, P(alive) and CLV over the horizon.

    `discount_rate` is yearly (0.1 = 10 % a year), applied week by week: each week's expected
    purchases are discounted by (1 + rate)^-(weeks / 52.18) from the end of calibration.
    """
    if not math.isfinite(horizon_weeks) or not 0 < horizon_weeks <= 5200:
        raise InputError("horizon_weeks: must be more than 0 and at most 5200 (100 years)")
    if not math.isfinite(discount_rate) or not 0 <= discount_rate <= 10:
        raise InputError("discount_rate: must be a yearly rate between 0 and 10 (1000 %)")
    summary, end = _summarise(orders, calibration_end, time_unit)
    model = _fit(summary, end, time_unit)
    unit_days = time_unit.days_per_unit
    per_unit = (1.0 + discount_rate) ** (unit_days / DAYS_PER_YEAR) - 1.0
    try:
        values = predict(
            model.bgnbd,
            model.gamma_gamma,
            summary,
            horizon=horizon_weeks * 7.0 / unit_days,
            discount_rate=per_unit,
            step=7.0 / unit_days,
        )
    except LtvInputError as exc:
        raise InputError(str(exc)) from None
    ids = orders.customer_ids
    customers = tuple(
        CustomerValue(ids[c], int(x), t_x, t, m, e, p, v)
        for c, x, t_x, t, m, e, p, v in zip(
            summary.customers.tolist(),
            summary.frequency.tolist(),
            summary.recency.tolist(),
            summary.age.tolist(),
            summary.monetary.tolist(),
            values.expected_purchases.tolist(),
            values.probability_alive.tolist(),
            values.clv.tolist(),
            strict=True,
        )
    )
    return LtvPrediction(model, horizon_weeks, discount_rate, customers)


# ---------------------------------------------------------------------------------------------
# Subscription contracts


@dataclass(frozen=True)
class ContractValue:
    """A contract cohort's fitted churn (sBG) and the lifetime value of one new contract."""

    alpha: float
    beta: float
    log_likelihood: float
    periods: int | None
    clv: float
    observed_clv: float
    survival: tuple[float, ...]


def contract_value(
    active: list[float], *, margin: float, discount_rate: float, periods: int | None = None
) -> ContractValue:
    """Value a subscription from a cohort's retention: `active[t]` contracts still running
    after t renewals. `discount_rate` is per contract period; `periods` None means unbounded.

    `clv` comes from the fitted shifted-beta-geometric curve; `observed_clv` sums the observed
    curve alone (as far as the data reaches), for comparison.
    """
    if not math.isfinite(margin) or margin < 0:
        raise InputError("margin: must be a finite number >= 0")
    if periods is not None and not 1 <= periods <= 10_000:
        raise InputError("periods: must be between 1 and 10000")
    try:
        fit = fit_sbg(active)
        clv = fit.clv(margin, discount_rate, periods)
        observed = clv_from_survival(margin, survival_from_counts(active), discount_rate)
    except LtvInputError as exc:
        raise InputError(str(exc)) from None
    shown = fit.survival(periods if periods is not None else len(active))
    return ContractValue(
        fit.alpha,
        fit.beta,
        fit.log_likelihood,
        periods,
        clv,
        observed,
        tuple(shown.tolist()),
    )
