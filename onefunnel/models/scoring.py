"""Scoring as data: versioned scoring configurations, each contact's stored score, and the
trained predictive models with their measured quality."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from onefunnel.domain.scoring import RuleError, parse_scoring_model
from onefunnel.models.choices import USER_MODEL
from onefunnel.models.crm import Contact


class VersionedConfig(models.Model):
    """A configuration kept as numbered versions (the scoring model, the routing rules).

    Versions are never edited in place: a change is a new version, so a stored result always
    names the configuration it was computed with. The newest version is the one in force.
    """

    version = models.PositiveIntegerField(unique=True)
    config = models.JSONField()
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        abstract = True
        ordering = ["-version"]


class ScoringConfig(VersionedConfig):
    """One version of the scoring model (fit rules, engagement points, half-life, threshold)."""

    config = models.JSONField(help_text="The scoring model as JSON (see the API docs)")

    class Meta(VersionedConfig.Meta):
        pass

    def __str__(self) -> str:
        return f"scoring v{self.version}"

    def clean(self) -> None:
        """Refuse a configuration the domain cannot parse, naming the bad field."""
        try:
            parse_scoring_model(self.config)
        except RuleError as exc:
            raise ValidationError({"config": [f"{e.loc}: {e.msg}" for e in exc.errors]}) from None


class ContactScore(models.Model):
    """A contact's score state for O(1) updates: fit points and the raw engagement sum at
    ``as_of``, with the total then and the fit part of the explanation. ``Contact.score``
    caches ``total``."""

    contact = models.OneToOneField(
        Contact, primary_key=True, on_delete=models.CASCADE, related_name="score_state"
    )
    fit = models.DecimalField(max_digits=9, decimal_places=1)
    engagement_value = models.FloatField(help_text="Unrounded decayed engagement at as_of")
    as_of = models.DateTimeField()
    total = models.DecimalField(max_digits=9, decimal_places=1)
    model_version = models.PositiveIntegerField()
    explanation = models.JSONField(default=list, blank=True, help_text="Fit lines")
    probability = models.FloatField(
        null=True, blank=True, help_text="Predicted conversion probability, when switched on"
    )

    class Meta:
        indexes = [models.Index(fields=["total"])]

    def __str__(self) -> str:
        return f"score {self.total} of contact #{self.contact_id}"


class PredictiveModelRun(models.Model):
    """A trained conversion model: where its file is, how good it measured, whether it is on."""

    created_at = models.DateTimeField()
    path = models.CharField(max_length=300, help_text="File name under $ONEFUNNEL_HOME/models/")
    algorithm = models.CharField(max_length=40)
    source = models.CharField(max_length=300, help_text="'database' or the CSV file trained on")
    target = models.CharField(max_length=100, blank=True)
    features = models.JSONField(default=list)
    metrics = models.JSONField(default=dict)
    active = models.BooleanField(default=False, help_text="Used as the score when on")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.algorithm} model #{self.pk}"
