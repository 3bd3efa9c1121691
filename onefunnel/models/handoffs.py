"""Handoffs: leads passed from marketing to sales at the point of intent."""

from __future__ import annotations

from django.db import models

from onefunnel.domain.handoffs import HandoffStatus, HandoffTrigger
from onefunnel.domain.stages import StageReason, Team
from onefunnel.models.choices import (
    USER_MODEL,
    currency_field,
    enum_field,
    money_field,
    optional_enum_field,
)
from onefunnel.models.crm import Account, Contact
from onefunnel.models.deals import Deal


class Handoff(models.Model):
    """One handoff: who it went to, when a response is due, how it was decided, what it cost."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="handoffs")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="handoffs"
    )
    trigger = enum_field(HandoffTrigger)
    score = models.FloatField(null=True, blank=True, help_text="Score when handed off")
    score_explanation = models.JSONField(default=list, blank=True)
    owner = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="handoffs"
    )
    team_queue = optional_enum_field(Team, help_text="Set when no rep was eligible")
    created_at = models.DateTimeField()
    sla_due_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    status = enum_field(HandoffStatus, default=HandoffStatus.PENDING)
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = optional_enum_field(StageReason)
    note = models.TextField(blank=True)
    cost = money_field(default=0)
    cost_method = models.CharField(
        max_length=32,
        blank=True,
        default="",
        db_default="",
        help_text="What produced the cost: an attribution model, or even_split",
    )
    expected_value = money_field(default=0)
    currency = currency_field()
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="recycled_as"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="handoffs"
    )

    class Meta:
        indexes = [
            models.Index(fields=["status", "sla_due_at"]),
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["created_at"]),
            models.Index(fields=["contact"]),
        ]

    def __str__(self) -> str:
        return f"handoff #{self.pk} ({self.status})"


class HandoffCredit(models.Model):
    """A handed-off lead's attribution credit per campaign under one cost model, worked out once
    and kept (``services.handoff_values``): pricing the next lead sums kept credits instead of
    reading every journey of the period again. The journey is the lead's touches in the
    ``COST_LOOKBACK_DAYS`` before its handoff; a handoff whose journey is empty keeps one row
    with the empty label, so that it is known to be worked out.
    """

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="credits")
    # The handoff's contact and time, copied: the sums filter on them without a join.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    handed_off_at = models.DateTimeField()
    model = models.CharField(max_length=32, help_text="The attribution model of the credit")
    label = models.CharField(max_length=64, help_text="Campaign id, or (no campaign)")
    credit = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["handoff", "model", "label"], name="onefunnel_handoff_credit_once"
            )
        ]
        indexes = [models.Index(fields=["model", "label", "handed_off_at"])]

    def __str__(self) -> str:
        return f"{self.model} credit {self.credit:.3f} to {self.label} (handoff #{self.handoff_id})"
