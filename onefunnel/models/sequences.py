"""Email sequences: the definition (steps, stop conditions, entry reasons), who is enrolled,
every email sent, and the addresses never to be written to again."""

from __future__ import annotations

from django.db import models

from onefunnel.domain.sequences import (
    EnrollmentSource,
    EnrollmentState,
    StopReason,
    Suppression,
)
from onefunnel.models.campaigns import Campaign
from onefunnel.models.choices import enum_field, optional_enum_field
from onefunnel.models.crm import Contact
from onefunnel.models.handoffs import Handoff


class Sequence(models.Model):
    """A nurture sequence: emails sent in order from one address, on behalf of one campaign."""

    name = models.CharField(max_length=200, unique=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="sequences")
    from_email = models.CharField(max_length=254)
    from_name = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    stop_on = models.JSONField(default=list, help_text="Stop conditions (domain StopCondition)")
    entry_reasons = models.JSONField(
        default=list, blank=True, help_text="Handoff rejection reasons that enroll automatically"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class SequenceStep(models.Model):
    """One step: wait ``wait_days`` after the previous step (or enrollment), then send."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    wait_days = models.PositiveIntegerField()
    subject = models.CharField(max_length=200)
    html = models.TextField()
    text = models.TextField()

    class Meta:
        ordering = ["sequence", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="step_position_unique")
        ]

    def __str__(self) -> str:
        return f"{self.sequence} #{self.position}: {self.subject}"


class Enrollment(models.Model):
    """A contact going through a sequence; ``next_step`` is the position sent next."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="enrollments")
    state = enum_field(EnrollmentState, default=EnrollmentState.ACTIVE)
    next_step = models.PositiveIntegerField(default=0)
    next_send_at = models.DateTimeField(null=True, blank=True)
    stop_reason = optional_enum_field(StopReason)
    source = enum_field(EnrollmentSource, default=EnrollmentSource.MANUAL)
    handoff = models.ForeignKey(
        Handoff, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrollments"
    )
    enrolled_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # At most one running enrollment of a contact in a sequence (re-enrolling is a no-op).
            models.UniqueConstraint(
                fields=["sequence", "contact"],
                condition=models.Q(state="active"),
                name="enrollment_one_active",
            )
        ]
        indexes = [models.Index(fields=["state", "next_send_at"])]

    def __str__(self) -> str:
        return f"{self.contact} in {self.sequence} ({self.state})"


class EmailSend(models.Model):
    """One email of a step to one address: its Message-ID, and what became of it."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="sends")
    step = models.ForeignKey(SequenceStep, on_delete=models.PROTECT, related_name="sends")
    message_id = models.CharField(max_length=254, unique=True)
    to_email = models.CharField(max_length=254)
    to_domain = models.CharField(max_length=254)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    complained_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["to_domain", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.message_id} to {self.to_email}"


class EmailSuppression(models.Model):
    """An address never to be emailed again: unsubscribed, bounced or complained."""

    email = models.CharField(max_length=254, unique=True, help_text="Lower-cased")
    reason = enum_field(Suppression)
    at = models.DateTimeField()
    source = models.CharField(max_length=200, blank=True, help_text="Message-ID or interface")

    def __str__(self) -> str:
        return f"{self.email} ({self.reason})"
