"""Deals (opportunities) and the configurable pipeline stages they move through."""

from __future__ import annotations

from django.db import models

from onefunnel.domain.deals import DealKind, DealStatus, LostReason
from onefunnel.models.choices import (
    USER_MODEL,
    currency_field,
    enum_field,
    money_field,
    optional_enum_field,
)
from onefunnel.models.crm import Account, Contact


class PipelineStage(models.Model):
    """A step of the sales pipeline: data, not code (sequence and default probability)."""

    name = models.CharField(max_length=100, unique=True)
    sequence = models.PositiveSmallIntegerField()
    probability = models.PositiveSmallIntegerField(help_text="Default win probability, percent")

    class Meta:
        ordering = ["sequence"]

    def __str__(self) -> str:
        return self.name


class Deal(models.Model):
    """An opportunity: new business, renewal, upsell or cross-sell. Status is its own field."""

    name = models.CharField(max_length=200)
    kind = enum_field(DealKind, default=DealKind.NEW_BUSINESS)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="deals")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    owner = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    pipeline_stage = models.ForeignKey(PipelineStage, on_delete=models.PROTECT)
    status = enum_field(DealStatus, default=DealStatus.OPEN)
    amount = money_field()
    currency = currency_field()
    probability = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Manual probability, percent; the stage's default when empty",
    )
    expected_close = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    lost_reason = optional_enum_field(LostReason)

    class Meta:
        indexes = [
            models.Index(fields=["status", "closed_at"]),
            models.Index(fields=["account"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return self.name
