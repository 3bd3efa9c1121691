"""What the plan services share: errors of the plan domain as InputError, parsing of amounts."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import ParamSpec, TypeVar

from onefunnel.domain.plan.periods import PlanError
from onefunnel.services.errors import InputError

P = ParamSpec("P")
R = TypeVar("R")
MAX_AMOUNT = Decimal(10) ** 13


def plan_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Raise the plan domain's errors as InputError (same message, naming the field)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PlanError as exc:
            raise InputError(str(exc)) from None

    return wrapper


def parse_decimal(value: str | float | int | Decimal, field: str) -> Decimal:
    """A finite, non-negative amount below 10^13 with at most two decimals, or InputError."""
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise InputError(f"{field}: not a number: {value!r}") from None
    if not amount.is_finite():
        raise InputError(f"{field}: not a number: {value!r}")
    if amount < 0:
        raise InputError(f"{field}: must not be negative (got {amount})")
    if amount >= MAX_AMOUNT:
        raise InputError(f"{field}: too large (got {amount})")
    return amount.quantize(Decimal("0.01"))
