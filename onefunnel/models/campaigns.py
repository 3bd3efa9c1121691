"""Campaigns (one channel, a UTM key, dates and a budget) and their spend over time."""

from __future__ import annotations

from django.db import models

from onefunnel.domain.touches import Channel
from onefunnel.models.choices import currency_field, enum_field, money_field


class Campaign(models.Model):
    """A marketing campaign. Unplanned ones are created from unknown ``utm_campaign`` values."""

    name = models.CharField(max_length=200)
    utm_campaign = models.CharField(max_length=200, unique=True, help_text="The UTM key")
    channel = enum_field(Channel)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    budget = money_field(null=True, blank=True)
    currency = currency_field()
    planned = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["channel"])]

    def __str__(self) -> str:
        return self.name


class Spend(models.Model):
    """What a campaign cost on one day, in one currency."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="spend")
    day = models.DateField()
    amount = money_field()
    currency = currency_field()

    class Meta:
        verbose_name_plural = "spend"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "day", "currency"], name="spend_one_per_day"
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="spend_not_negative"),
        ]
        indexes = [models.Index(fields=["day"])]

    def __str__(self) -> str:
        return f"{self.campaign} {self.day}: {self.amount} {self.currency}"
