"""Admin for email sequences — read-only. Sequences are written through their service
(``services/marketing/sequences.py``), which checks templates when they are saved; sends,
enrollments and suppressions are what happened, written only by sending and its events."""

from __future__ import annotations

from django.contrib import admin

from onefunnel.admin_governed import RecordOnly
from onefunnel.models import EmailSend, EmailSuppression, Enrollment, Sequence, SequenceStep


class StepInline(RecordOnly, admin.TabularInline[SequenceStep, Sequence]):
    model = SequenceStep
    extra = 0
    fields = ("position", "wait_days", "subject")


@admin.register(Sequence)
class SequenceAdmin(RecordOnly, admin.ModelAdmin[Sequence]):
    list_display = ("name", "campaign", "from_email", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "from_email")
    inlines = (StepInline,)


@admin.register(Enrollment)
class EnrollmentAdmin(RecordOnly, admin.ModelAdmin[Enrollment]):
    list_display = ("contact", "sequence", "state", "next_step", "next_send_at", "stop_reason")
    list_filter = ("state", "stop_reason", "source", "sequence")
    search_fields = ("contact__email",)
    raw_id_fields = ("contact", "handoff")


@admin.register(EmailSend)
class EmailSendAdmin(RecordOnly, admin.ModelAdmin[EmailSend]):
    list_display = ("to_email", "step", "created_at", "sent_at", "bounced_at", "complained_at")
    search_fields = ("to_email", "message_id")
    raw_id_fields = ("enrollment",)


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(RecordOnly, admin.ModelAdmin[EmailSuppression]):
    list_display = ("email", "reason", "at", "source")
    list_filter = ("reason",)
    search_fields = ("email",)
