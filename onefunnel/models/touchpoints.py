"""Touchpoints: every interaction with a person, marketing one-to-many or sales one-to-one."""

from __future__ import annotations

from django.db import models

from onefunnel.domain.stages import Team
from onefunnel.domain.touches import Channel, TouchKind
from onefunnel.models.campaigns import Campaign
from onefunnel.models.choices import USER_MODEL, enum_field
from onefunnel.models.crm import Account, Contact


class Touchpoint(models.Model):
    """One interaction. ``message_id`` is the source's id: unique, so retries never duplicate."""

    message_id = models.CharField(max_length=200, unique=True)
    # No single-column index on contact, account or campaign: the (contact, occurred_at),
    # journey and (campaign, occurred_at) indexes below lead with them and serve the same
    # lookups, and each index is one more write per touch stored.
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="touchpoints",
        db_index=False,
    )
    anonymous_id = models.CharField(max_length=200, blank=True)
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="touchpoints",
        db_index=False,
    )
    kind = enum_field(TouchKind)
    team = enum_field(Team)
    channel = enum_field(Channel)
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="touchpoints",
        db_index=False,
    )
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="touchpoints"
    )
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["occurred_at"]),
            models.Index(fields=["contact", "occurred_at"]),
            models.Index(fields=["campaign", "occurred_at"]),
            models.Index(fields=["channel", "occurred_at"]),
            models.Index(fields=["anonymous_id"]),
            # Attribution journeys: an account's touches in a time window, read from the index
            # alone (label columns included) — see onefunnel/analytics/reports/attribution.py.
            models.Index(
                fields=["account", "occurred_at", "channel", "campaign"],
                name="onefunnel_t_journey_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} via {self.channel} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ProfileMessage(models.Model):
    """A tracked profile message (``identify``, ``group``, ``alias``) that was applied.

    Profile messages update the contact, its identity and its account; they are not touches
    (no touchpoint, no attribution, no stage move). Their ids are kept so that a resent
    message is applied once, as a touch's ``message_id`` is.
    """

    message_id = models.CharField(max_length=200, unique=True)
    type = models.CharField(max_length=10)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"
