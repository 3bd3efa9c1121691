"""Sales activities (calls, emails, meetings, demos, notes) and tasks."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from onefunnel.domain.activities import ActivityKind, ActivityOutcome
from onefunnel.models.choices import USER_MODEL, enum_field, optional_enum_field
from onefunnel.models.crm import Account, Contact
from onefunnel.models.deals import Deal
from onefunnel.models.stages import AppendOnlyError
from onefunnel.models.touchpoints import Touchpoint


class Activity(models.Model):
    """A logged activity. One write: a call, email, meeting or demo *is* a touchpoint of the
    sales team — who, when, and on whom are stored there alone (``touchpoint``), and this row
    holds only what a touch does not (outcome, duration, notes, deal). A note is no touch: it
    keeps its own ``contact``/``account``/``actor``/``occurred_at`` (empty for the other kinds,
    by a check constraint), so no fact is stored twice. Logged once, never edited."""

    kind = enum_field(ActivityKind)
    touchpoint = models.OneToOneField(
        Touchpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="activity"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    outcome = optional_enum_field(ActivityOutcome)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    # A note's own subject, author and time (a touch's are on its touchpoint).
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="notes"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="notes"
    )
    actor = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )
    occurred_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "activities"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        kind=ActivityKind.NOTE.value,
                        touchpoint__isnull=True,
                        occurred_at__isnull=False,
                    )
                    | (
                        ~models.Q(kind=ActivityKind.NOTE.value)
                        & models.Q(
                            touchpoint__isnull=False,
                            contact__isnull=True,
                            account__isnull=True,
                            actor__isnull=True,
                            occurred_at__isnull=True,
                        )
                    )
                ),
                name="activity_touch_or_note",
            ),
        ]
        indexes = [models.Index(fields=["deal", "id"]), models.Index(fields=["contact", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("activities are logged once; log another one instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("activities are part of the record and cannot be deleted")


class Task(models.Model):
    """Something a rep has to do by a date, on a contact, an account or a deal (or none)."""

    title = models.CharField(max_length=200)
    owner = models.ForeignKey(USER_MODEL, on_delete=models.PROTECT, related_name="sales_tasks")
    due = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due", "id"]
        indexes = [models.Index(fields=["owner", "done_at", "due"])]

    def __str__(self) -> str:
        return self.title
