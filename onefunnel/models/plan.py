"""The plan both teams share: monthly targets, saved reverse-funnel plans (versioned), the
forecast category a rep gives each deal, and marketing's budgets per month and channel."""

from __future__ import annotations

from django.db import models

from onefunnel.domain.plan.forecast import ForecastCategory
from onefunnel.domain.plan.targets import TargetMetric, TargetScope
from onefunnel.domain.touches import Channel
from onefunnel.models.campaigns import Campaign
from onefunnel.models.choices import USER_MODEL, currency_field, enum_field, money_field
from onefunnel.models.deals import Deal


class Target(models.Model):
    """One month's target of one metric for the company, a team or a rep.

    ``subject`` is the one key of whose target it is (``company``, ``team:<name>``,
    ``rep:<user id>``), so a target is set once per subject, month and metric."""

    scope = enum_field(TargetScope)
    subject = models.CharField(max_length=120)
    team = models.CharField(max_length=100, blank=True)
    rep = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="targets"
    )
    month = models.DateField(help_text="First day of the month")
    metric = enum_field(TargetMetric)
    value = models.DecimalField(max_digits=16, decimal_places=2)
    currency = currency_field()
    set_by = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "month", "metric"], name="onefunnel_target_once"
            ),
            models.CheckConstraint(condition=models.Q(value__gte=0), name="target_not_negative"),
        ]
        indexes = [models.Index(fields=["month", "metric"])]

    def __str__(self) -> str:
        return f"{self.subject} {self.metric} {self.month:%Y-%m}: {self.value}"


class Plan(models.Model):
    """A saved reverse-funnel plan: one version of a named plan, never edited in place.

    ``inputs`` holds what it was made from (target, period, window, attribution model, the
    measured rates with their samples and intervals); ``steps`` the planned quantity of each
    step with its interval and window; ``channels`` the split by channel; ``limits`` what the
    plan could not do, in words."""

    name = models.CharField(max_length=120)
    version = models.PositiveIntegerField()
    period = models.CharField(max_length=16, help_text="YYYY-MM or YYYY-Qn")
    period_first = models.DateField()
    period_last = models.DateField()
    revenue = money_field()
    currency = currency_field()
    inputs = models.JSONField(default=dict)
    steps = models.JSONField(default=list)
    channels = models.JSONField(default=list, blank=True)
    limits = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="onefunnel_plan_version")
        ]

    def __str__(self) -> str:
        return f"plan {self.name} v{self.version}"


class DealForecast(models.Model):
    """The forecast category the deal's rep gives it (commit, best case, pipeline, omitted)."""

    deal = models.OneToOneField(
        Deal, primary_key=True, on_delete=models.CASCADE, related_name="forecast"
    )
    category = enum_field(ForecastCategory, default=ForecastCategory.PIPELINE)
    set_by = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"deal #{self.deal_id}: {self.category}"


class CampaignBudget(models.Model):
    """Planned spend for one month and channel — of a campaign, or of a plan's channel line
    (written by the reverse funnel, then adjusted) — with the campaign's goals."""

    plan = models.ForeignKey(
        Plan, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    month = models.DateField(help_text="First day of the month")
    channel = enum_field(Channel)
    amount = money_field()
    currency = currency_field()
    goal_leads = models.PositiveIntegerField(null=True, blank=True)
    goal_mqls = models.PositiveIntegerField(null=True, blank=True)
    goal_pipeline = money_field(null=True, blank=True)
    set_by = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "month"],
                condition=models.Q(campaign__isnull=False),
                name="onefunnel_budget_campaign_month",
            ),
            models.UniqueConstraint(
                fields=["plan", "month", "channel"],
                condition=models.Q(campaign__isnull=True),
                name="onefunnel_budget_plan_channel_month",
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="budget_not_negative"),
        ]
        indexes = [models.Index(fields=["month", "channel"])]

    def __str__(self) -> str:
        return f"budget {self.channel} {self.month:%Y-%m}: {self.amount}"
