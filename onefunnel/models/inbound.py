"""Tracking records: inbound batches not yet made touchpoints, and contacts merged on identify."""

from __future__ import annotations

from django.db import models


class InboundBatch(models.Model):
    """One acknowledged request body, stored as received until the processor expands it.

    The endpoint validated the body and answered 200 only after this row was committed, so an
    acknowledged message is never lost; the processor parses ``body`` again with the same
    ``received_at`` (the same messages, the same corrected times), stores the touchpoints and
    deletes the row in one transaction. ``failed`` holds the error of a batch the processor could
    not store on its own: it is kept, and skipped, for an operator to look at.
    """

    received_at = models.DateTimeField()
    kind = models.CharField(max_length=16, blank=True, help_text="Single-message type, or ''")
    gzipped = models.BooleanField(default=False)
    body = models.BinaryField()
    events = models.PositiveIntegerField(help_text="Valid messages in the body")
    failed = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"inbound batch {self.pk} ({self.events} messages)"


class ContactMerge(models.Model):
    """A contact merged into another on identify: the record of it, since both histories stay.

    Stage history is append-only, so the merged contact is not deleted: it keeps its own stage
    changes (and stops receiving anything), while its touches and anonymous ids now belong to
    ``into``.
    """

    merged = models.ForeignKey(
        "onefunnel.Contact", on_delete=models.CASCADE, related_name="merged_into"
    )
    into = models.ForeignKey("onefunnel.Contact", on_delete=models.CASCADE, related_name="merges")
    at = models.DateTimeField()
    cause_id = models.CharField(max_length=200, help_text="The identify message that merged them")
    touches = models.PositiveIntegerField(default=0, help_text="Touchpoints moved")
    aliases = models.PositiveIntegerField(default=0, help_text="Anonymous ids moved")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"contact {self.merged_id} merged into {self.into_id}"
