"""The append-only stage history of contacts and accounts."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from onefunnel.domain.stages import Cause, Stage, StageReason
from onefunnel.models.choices import (
    USER_MODEL,
    enum_field,
    optional_enum_field,
)
from onefunnel.models.crm import Account, Contact


class AppendOnlyError(RuntimeError):
    """Raised on an attempt to rewrite or delete recorded history."""


class StageChange(models.Model):
    """One move of a contact or an account (exactly one of the two) from a state to another.

    Never updated, never deleted: the current stage is derived from this log (and cached on the
    subject in the same transaction that appends here).
    """

    # No index of their own: the (contact, id) and (account, id) indexes below lead with them,
    # and every extra index is paid on each of the millions of rows an import appends.
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="stage_changes",
        db_index=False,
    )
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="stage_changes",
        db_index=False,
    )
    from_stage = optional_enum_field(Stage)
    to_stage = enum_field(Stage)
    at = models.DateTimeField(help_text="When the change took effect (its cause's time)")
    recorded_at = models.DateTimeField()
    cause = enum_field(Cause)
    cause_id = models.CharField(max_length=64, blank=True, help_text="Id of the touch, deal, …")
    reason = optional_enum_field(StageReason)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(contact__isnull=False, account__isnull=True)
                    | models.Q(contact__isnull=True, account__isnull=False)
                ),
                name="stage_change_one_subject",
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "id"]),
            models.Index(fields=["account", "id"]),
            # One time index: the stage-history API filters by time (and stage, checked on the
            # rows it finds); reports scan the history by contact. Back-dated imports insert
            # into a time index at random places, the costliest part of appending a change.
            models.Index(fields=["at"]),
        ]

    def __str__(self) -> str:
        return f"{self.from_stage or '(new)'} → {self.to_stage} ({self.cause})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("stage changes are append-only: record a new change instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("stage changes are append-only and cannot be deleted")
