"""Django field choices built from the domain's enums, so there is one list of each."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import models


def choices(enum: type[StrEnum]) -> list[tuple[str, str]]:
    """(value, label) pairs for a domain StrEnum, labels in plain words."""
    return [(member.value, member.value.replace("_", " ")) for member in enum]


def enum_field(enum: type[StrEnum], **kwargs: Any) -> models.CharField[str, str]:
    """A CharField restricted to an enum's values."""
    return models.CharField(max_length=32, choices=choices(enum), **kwargs)


def optional_enum_field(
    enum: type[StrEnum], **kwargs: Any
) -> models.CharField[str | None, str | None]:
    """A nullable CharField restricted to an enum's values (empty means "not set")."""
    return models.CharField(max_length=32, choices=choices(enum), null=True, blank=True, **kwargs)


def money_field(**kwargs: Any) -> models.DecimalField[object, object]:
    """Money: a Decimal with two places, stored beside a currency field."""
    return models.DecimalField(max_digits=16, decimal_places=2, **kwargs)


def currency_field() -> models.CharField[str, str]:
    """ISO 4217 currency code, defaulting to the installation's currency."""
    return models.CharField(max_length=3, default=settings.ONEFUNNEL_CURRENCY)


USER_MODEL = settings.AUTH_USER_MODEL
