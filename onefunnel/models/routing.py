"""Routing and SLA as data: versioned routing rules, the round-robin state, reps' profiles,
team calendars, and each handoff's routing record and event log."""

from __future__ import annotations

from datetime import date, time

from django.core.exceptions import ValidationError
from django.db import models

from onefunnel.domain.routing import RoutingError, parse_routing_rules
from onefunnel.domain.sla import BusinessHours, SlaError, SlaPolicy
from onefunnel.models.choices import USER_MODEL
from onefunnel.models.handoffs import Handoff
from onefunnel.models.scoring import VersionedConfig


def _weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class RoutingConfig(VersionedConfig):
    """One version of the routing rules (named accounts, territory and segment rules, default
    team). The newest version is in force; versions are never edited in place."""

    config = models.JSONField(help_text="The routing rules as JSON (see the API docs)")

    class Meta(VersionedConfig.Meta):
        pass

    def __str__(self) -> str:
        return f"routing v{self.version}"

    def clean(self) -> None:
        """Refuse rules the domain cannot parse, naming the bad field."""
        try:
            parse_routing_rules(self.config)
        except RoutingError as exc:
            raise ValidationError(
                {"config": [f"{loc}: {msg}" for loc, msg in exc.errors]}
            ) from None


class RoutingRotation(models.Model):
    """The weighted round-robin counters (one row); locked while a handoff is routed so that
    concurrent handoffs take turns."""

    counters = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "routing rotation"


class RepProfile(models.Model):
    """A user who receives handoffs: team, round-robin weight, capacity, availability."""

    user = models.OneToOneField(USER_MODEL, on_delete=models.CASCADE, related_name="rep_profile")
    team = models.CharField(max_length=100, default="sales")
    weight = models.PositiveSmallIntegerField(default=1)
    capacity = models.PositiveSmallIntegerField(default=25, help_text="Most pending handoffs")
    available = models.BooleanField(default=True)
    out_of_office_until = models.DateTimeField(null=True, blank=True)
    territories = models.JSONField(
        default=list, blank=True, help_text="Countries or regions; empty covers all"
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.team})"

    def clean(self) -> None:
        """Territories are a list of non-empty texts."""
        if not isinstance(self.territories, list) or not all(
            isinstance(t, str) and t.strip() for t in self.territories
        ):
            raise ValidationError({"territories": "expected a list of countries or regions"})


class TeamCalendar(models.Model):
    """A team's working hours (time zone, weekdays, hours, holidays) and first-response SLA."""

    team = models.CharField(max_length=100, unique=True)
    tz = models.CharField(max_length=64, default="UTC")
    weekdays = models.JSONField(default=_weekdays, help_text="0 = Monday … 6 = Sunday")
    start = models.TimeField(default=time(9, 0))
    end = models.TimeField(default=time(17, 0))
    holidays = models.JSONField(default=list, blank=True, help_text="Local dates, YYYY-MM-DD")
    first_response_hours = models.FloatField(default=8.0)
    reassign_on_breach = models.BooleanField(default=True)
    max_reassignments = models.PositiveSmallIntegerField(default=2)

    def __str__(self) -> str:
        return f"{self.team} calendar"

    def business_hours(self) -> BusinessHours:
        """The calendar as the domain's value (SlaError on bad data)."""
        if not isinstance(self.holidays, list):
            raise SlaError("holidays: expected a list of dates")
        try:
            holidays = frozenset(date.fromisoformat(str(d)) for d in self.holidays)
        except ValueError as exc:
            raise SlaError(f"holidays: {exc}") from None
        if not isinstance(self.weekdays, list):
            raise SlaError("weekdays: expected a list of weekday numbers")
        return BusinessHours(self.tz, frozenset(self.weekdays), self.start, self.end, holidays)

    def policy(self) -> SlaPolicy:
        """The first-response SLA as the domain's value."""
        return SlaPolicy(self.first_response_hours, self.reassign_on_breach, self.max_reassignments)

    def clean(self) -> None:
        """Refuse a calendar or policy the domain cannot use, naming the field."""
        try:
            self.business_hours()
            self.policy()
        except SlaError as exc:
            field, _, msg = str(exc).partition(": ")
            mapped = {"hours": "first_response_hours"}.get(field, field)
            known = {f.name for f in self._meta.fields}
            raise ValidationError(
                {mapped if mapped in known else "__all__": msg or str(exc)}
            ) from None


class HandoffRouting(models.Model):
    """How a handoff was routed (team, rule, explanation), how often it was reassigned on a
    breached SLA, and when the breach was handled."""

    handoff = models.OneToOneField(
        Handoff, primary_key=True, on_delete=models.CASCADE, related_name="routing"
    )
    team = models.CharField(max_length=100)
    rule = models.CharField(max_length=200, blank=True)
    rule_kind = models.CharField(max_length=32, blank=True)
    explanation = models.JSONField(default=list, blank=True)
    reassignments = models.PositiveSmallIntegerField(default=0)
    breached_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"routing of handoff #{self.handoff_id}"


class HandoffEvent(models.Model):
    """The append-only log of what happened to a handoff (created, breached, reassigned, …)."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=32)
    from_owner = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_owner = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["handoff", "id"]), models.Index(fields=["kind", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} of handoff #{self.handoff_id}"
