"""The append-only audit entries for changes that keep no history of their own (API keys,
contracts). Stage changes, deal history, handoff events and configuration versions are their
own history; ``services/audit.py`` reads all of them as one log."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from onefunnel.models.choices import USER_MODEL
from onefunnel.models.stages import AppendOnlyError


class AuditEntry(models.Model):
    """Who did what to which record, when. Never updated, never deleted."""

    at = models.DateTimeField()
    actor = models.ForeignKey(USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(
        max_length=150, help_text="The actor's username when it was written (or 'system')"
    )
    kind = models.CharField(max_length=32, help_text="key, contract")
    action = models.CharField(max_length=32, help_text="created, revoked, ended, payment, …")
    record = models.CharField(max_length=64, help_text="e.g. key#3, contract#12")
    summary = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["record", "id"]), models.Index(fields=["kind", "id"])]

    def __str__(self) -> str:
        return f"{self.record} {self.action} by {self.actor_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("the audit log is append-only: record a new entry instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("the audit log is append-only and cannot be deleted")
