"""Contracts (subscription terms) and the versioned health configuration.

A contract row is one term; its renewal is the next row (``previous`` points back), and the
renewal deal opened for a term is ``renewal_deal`` — unique, so one term has one renewal deal
however many processes run the renewal check at once.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from onefunnel.domain.contracts import BillingPeriod, ContractStatus, PaymentStatus
from onefunnel.domain.health import HealthConfigError, parse_health_config
from onefunnel.models.choices import currency_field, enum_field, money_field
from onefunnel.models.crm import Account
from onefunnel.models.deals import Deal
from onefunnel.models.scoring import VersionedConfig


class Contract(models.Model):
    """One term of a subscription: an account pays ``amount`` per ``billing_period`` for a
    product from ``start_date`` to ``end_date`` (inclusive). Written only through
    ``services.accounts.contracts`` (governed: the admin shows it read-only)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contracts")
    product = models.CharField(max_length=100)
    amount = money_field(help_text="Amount per billing period")
    currency = currency_field()
    billing_period = enum_field(BillingPeriod, default=BillingPeriod.YEARLY)
    start_date = models.DateField()
    end_date = models.DateField()
    renewal_date = models.DateField(help_text="The day the next term would begin")
    auto_renew = models.BooleanField(default=False)
    status = enum_field(ContractStatus, default=ContractStatus.ACTIVE)
    payment_status = enum_field(PaymentStatus, default=PaymentStatus.CURRENT)
    plan_usage = models.PositiveIntegerField(
        null=True, blank=True, help_text="Usage events a month included (empty: unlimited)"
    )
    source_deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="contracts"
    )
    renewal_deal = models.OneToOneField(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="renewed_contract"
    )
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next_term"
    )
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["account", "product"]),
            models.Index(fields=["status", "renewal_date"]),
            models.Index(fields=["start_date", "end_date"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")),
                name="onefunnel_contract_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} for account #{self.account_id} ({self.start_date}–{self.end_date})"


class HealthConfig(VersionedConfig):
    """One version of the health score's weights and the events that count as usage."""

    config = models.JSONField(help_text="The health configuration as JSON (see the README)")

    class Meta(VersionedConfig.Meta):
        pass

    def __str__(self) -> str:
        return f"health v{self.version}"

    def clean(self) -> None:
        """Refuse a configuration the domain cannot parse, naming the bad field."""
        try:
            parse_health_config(self.config)
        except HealthConfigError as exc:
            raise ValidationError({"config": [str(exc)]}) from None
