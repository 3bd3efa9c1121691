"""Outbound webhooks (Standard Webhooks): subscribed endpoints and the delivery log.

Deliveries are written in the same transaction as the event they announce (an outbox), and
sent afterwards by the worker, so an event is never lost and never sent for a rolled-back change.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class WebhookEndpoint(models.Model):
    """A URL that receives events, with its signing secret (``whsec_`` + base64)."""

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=list, blank=True, help_text="Event types; empty = all")
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        """A secret must be a ``whsec_`` key; events a list of texts."""
        if not self.secret.startswith("whsec_"):
            raise ValidationError({"secret": "expected a whsec_… secret"})
        if not isinstance(self.events, list) or not all(isinstance(e, str) for e in self.events):
            raise ValidationError({"events": "expected a list of event types"})


class WebhookDelivery(models.Model):
    """One message to one endpoint, and every attempt to deliver it."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    STATUSES = [(PENDING, PENDING), (DELIVERED, DELIVERED), (FAILED, FAILED)]

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    message_id = models.CharField(max_length=64, help_text="webhook-id: the same on every retry")
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    created_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "message_id"], name="webhook_once")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"
