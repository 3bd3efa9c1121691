"""Segments: saved filters over contacts or accounts, their members at the last refresh, and
the append-only history of who entered and left (``services.marketing.segments``)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from onefunnel.domain.segments import MembershipKind, Subject
from onefunnel.models.choices import USER_MODEL, enum_field
from onefunnel.models.stages import AppendOnlyError


class Segment(models.Model):
    """A saved filter: its checked spec (``domain.segments``) and when it was last refreshed."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    subject = enum_field(Subject, default=Subject.CONTACT)
    spec = models.JSONField(help_text="The segment's conditions (see the README, Segments)")
    created_by = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A subject (contact or account id, as the segment's subject says) in a segment at its last
    refresh. Kept so that the next refresh can record who entered and left as one set difference;
    rewritten only by a refresh. No foreign key: a deleted subject leaves at the next refresh."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    member_id = models.BigIntegerField()
    since = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "member_id"], name="onefunnel_segment_member_once"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.member_id} in segment #{self.segment_id}"


class _AppendOnly(models.Model):
    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("segment history is append-only: record a new row instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("segment history is append-only and cannot be deleted")


class SegmentRefresh(_AppendOnly):
    """One refresh of a segment. Its entered and left counts are those of its changes, and the
    size after it is the running sum of entered minus left: kept once, in the changes, so that
    no row is ever written twice."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="refreshes")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["segment", "at"])]

    def __str__(self) -> str:
        return f"segment #{self.segment_id} refreshed at {self.at:%Y-%m-%d %H:%M}"


class SegmentChange(_AppendOnly):
    """A subject entered or left a segment at a refresh. Never updated or deleted: per subject the
    rows alternate entered, left, entered, … (``domain.segments.replay_membership``)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="changes")
    refresh = models.ForeignKey(
        SegmentRefresh, on_delete=models.CASCADE, related_name="changes", db_index=False
    )
    member_id = models.BigIntegerField()
    kind = enum_field(MembershipKind)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["segment", "member_id", "id"]),
            models.Index(fields=["refresh", "kind"]),
        ]

    def __str__(self) -> str:
        return f"#{self.member_id} {self.kind} segment #{self.segment_id}"
