"""Messages that came back to us and were recorded (a reply, a bounce, a complaint): one row
per inbound Message-ID, so the same message read twice records once."""

from __future__ import annotations

from django.db import models

from onefunnel.domain.inbound_mail import InboundKind
from onefunnel.models.choices import enum_field
from onefunnel.models.sequences import EmailSend


class InboundEmail(models.Model):
    """An inbound message that recorded an email event, keyed by its own Message-ID (or a
    digest of its bytes when it has none)."""

    message_id = models.CharField(max_length=254, unique=True)
    kind = enum_field(InboundKind)
    email = models.CharField(max_length=254, blank=True, help_text="The address it was about")
    send = models.ForeignKey(
        EmailSend, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound"
    )
    sender = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} {self.message_id}"
