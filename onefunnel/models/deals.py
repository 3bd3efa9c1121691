"""Deals (opportunities) and the configurable pipeline stages they move through."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from onefunnel.domain.deals import DealKind, DealStatus, HistoryField, LostReason
from onefunnel.models.choices import (
    USER_MODEL,
    currency_field,
    enum_field,
    money_field,
    optional_enum_field,
)
from onefunnel.models.crm import Account, Contact
from onefunnel.models.stages import AppendOnlyError

DEFAULT_PIPELINE = "Sales"


class DealSource(models.TextChoices):
    """Where a deal came from: worked by sales, or bought online (self-serve)."""

    SALES = "sales", "sales"
    SELF_SERVE = "self_serve", "self serve"


class Pipeline(models.Model):
    """A sales pipeline: its stages are data. One is the default for new deals; a company may
    add others (e.g. renewals)."""

    name = models.CharField(max_length=100, unique=True)
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_default", "name"]

    def __str__(self) -> str:
        return self.name


def default_pipeline_id() -> int:
    """The default pipeline's id (created on first use), for stages added without one."""
    pipeline = Pipeline.objects.filter(is_default=True).order_by("id").first()
    if pipeline is None:
        pipeline, _ = Pipeline.objects.get_or_create(
            name=DEFAULT_PIPELINE, defaults={"is_default": True}
        )
    return pipeline.pk


class PipelineStage(models.Model):
    """A step of a pipeline: data, not code (sequence, default probability, won/lost flags)."""

    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.PROTECT, related_name="stages", default=default_pipeline_id
    )
    name = models.CharField(max_length=100)
    sequence = models.PositiveSmallIntegerField()
    probability = models.PositiveSmallIntegerField(help_text="Default win probability, percent")
    is_won = models.BooleanField(default=False, help_text="Won deals end here")
    is_lost = models.BooleanField(default=False, help_text="Lost deals end here")

    class Meta:
        ordering = ["pipeline", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="pipeline_stage_name"),
            models.CheckConstraint(
                condition=~models.Q(is_won=True, is_lost=True), name="pipeline_stage_won_or_lost"
            ),
        ]

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
    # Database defaults too: bulk loaders (the demo) insert deals without these columns.
    lost_note = models.TextField(blank=True, default="", db_default="")
    source = models.CharField(
        max_length=16, choices=DealSource.choices, default=DealSource.SALES, db_default="sales"
    )
    order_id = models.CharField(
        max_length=200,
        null=True,
        blank=True,
        unique=True,
        help_text="The self-serve order this deal records (idempotency of Order Completed)",
    )
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "closed_at"]),
            models.Index(fields=["account"]),
            models.Index(fields=["created_at"]),
            # The deal board: a pipeline stage's open deals.
            models.Index(fields=["pipeline_stage", "status"]),
            models.Index(fields=["owner", "status"]),
        ]

    def __str__(self) -> str:
        return self.name


class DealHistory(models.Model):
    """One change of a deal's pipeline stage, amount, expected close or owner: time, from, to,
    actor. Never updated, never deleted (like the stage history): replaying a deal's entries
    gives its current values."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="history")
    field = enum_field(HistoryField)
    from_value = models.CharField(max_length=64, blank=True)
    to_value = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deal history"
        indexes = [models.Index(fields=["deal", "id"]), models.Index(fields=["field", "at"])]

    def __str__(self) -> str:
        return f"{self.field}: {self.from_value or '—'} → {self.to_value or '—'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("deal history is append-only: record a new change instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("deal history is append-only and cannot be deleted")
