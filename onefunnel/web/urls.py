"""Web routes: the shared funnel, the sales workspace, search, sign-in."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from onefunnel.web import (
    views,
    views_accounts,
    views_clickthrough,
    views_common,
    views_forms,
    views_leadership,
    views_marketing,
    views_plan,
    views_records,
    views_sales,
    views_segments,
    views_sequences,
    workspace,
)

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("home", views_common.home, name="home"),
    path(
        "login",
        auth_views.LoginView.as_view(
            template_name="onefunnel/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("search", views_common.search, name="search"),
    path("queue", views_sales.queue, name="queue"),
    path("queue/rows", views_sales.queue_rows, name="queue-rows"),
    path("queue/<int:handoff_id>/accept", views_sales.accept, name="queue-accept"),
    path("queue/<int:handoff_id>/reject", views_sales.reject, name="queue-reject"),
    path("queue/<int:handoff_id>/reassign", views_sales.reassign, name="queue-reassign"),
    path("panels/status", views.status_panel, name="status-panel"),
    path("panels/report/<slug:slug>", views.report_panel, name="report-panel"),
    path("contacts/<int:contact_id>", views_records.contact, name="contact"),
    path(
        "contacts/<int:contact_id>/entries", views_records.contact_entries, name="contact-entries"
    ),
    path(
        "contacts/<int:contact_id>/activity",
        views_records.contact_activity,
        name="contact-activity",
    ),
    path("contacts/<int:contact_id>/task", views_records.contact_task, name="contact-task"),
    path(
        "contacts/<int:contact_id>/nurture", views_records.contact_nurture, name="contact-nurture"
    ),
    path(
        "contacts/<int:contact_id>/requalify",
        views_records.contact_requalify,
        name="contact-requalify",
    ),
    path("accounts/<int:account_id>", views_records.account, name="account"),
    path(
        "accounts/<int:account_id>/entries", views_records.account_entries, name="account-entries"
    ),
    path(
        "accounts/<int:account_id>/activity",
        views_records.account_activity,
        name="account-activity",
    ),
    path("deals/<int:deal_id>", views_records.deal, name="deal"),
    path("deals/<int:deal_id>/move", views_records.deal_move, name="deal-move"),
    path("deals/<int:deal_id>/win", views_records.deal_win, name="deal-win"),
    path("deals/<int:deal_id>/lose", views_records.deal_lose, name="deal-lose"),
    path("deals/<int:deal_id>/activity", views_records.deal_activity, name="deal-activity"),
    path("board", views_records.board, name="board"),
    # Forms: marketing's list; the public hosted page, definition and submit endpoint.
    path("forms", views_forms.forms_list, name="forms"),
    path("f/<slug:slug>", views_forms.hosted, name="form-hosted"),
    path("f/<slug:slug>/form.json", views_forms.definition, name="form-definition"),
    path("f/<slug:slug>/submit", views_forms.submit, name="form-submit"),
    # Marketing: campaigns, marketing's funnel; the records behind any count (click-through).
    path("campaigns", views_marketing.campaign_list, name="campaigns"),
    path("campaigns/new", views_marketing.campaign_create, name="campaign-create"),
    path("campaigns/<int:campaign_id>", views_marketing.campaign, name="campaign"),
    path("campaigns/<int:campaign_id>/edit", views_marketing.campaign_edit, name="campaign-edit"),
    path(
        "campaigns/<int:campaign_id>/month", views_marketing.campaign_month, name="campaign-month"
    ),
    path("campaigns/<int:campaign_id>/link", views_marketing.campaign_link, name="campaign-link"),
    path("campaigns/spend/upload", views_marketing.spend_upload, name="spend-upload"),
    path("campaigns/spend/confirm", views_marketing.spend_confirm, name="spend-confirm"),
    path("marketing", views_marketing.marketing_funnel, name="marketing"),
    path("marketing/<slug:slug>", views_marketing.marketing_section, name="marketing-section"),
    path("records", views_clickthrough.records, name="records"),
    # Segments: the list, one segment, the form that builds one, refresh now.
    path("segments", views_segments.segment_list, name="segments"),
    path("segments/new", views_segments.segment_create, name="segment-create"),
    path("segments/<int:segment_id>", views_segments.segment_detail, name="segment"),
    path("segments/<int:segment_id>/edit", views_segments.segment_edit, name="segment-edit"),
    path(
        "segments/<int:segment_id>/refresh", views_segments.segment_refresh, name="segment-refresh"
    ),
    # Email sequences: marketing's list, a page each, create and edit, enroll, pause/resume.
    path("sequences", views_sequences.sequence_list, name="sequences"),
    path("sequences/new", views_sequences.sequence_create, name="sequence-create"),
    path("sequences/<int:sequence_id>", views_sequences.sequence, name="sequence"),
    path("sequences/<int:sequence_id>/edit", views_sequences.sequence_edit, name="sequence-edit"),
    path(
        "sequences/<int:sequence_id>/enroll",
        views_sequences.sequence_enroll,
        name="sequence-enroll",
    ),
    path(
        "sequences/<int:sequence_id>/active",
        views_sequences.sequence_active,
        name="sequence-active",
    ),
    path(
        "sequences/<int:sequence_id>/records",
        views_sequences.sequence_records,
        name="sequence-records",
    ),
    path(
        "sequences/<int:sequence_id>/preview",
        views_sequences.sequence_preview,
        name="sequence-preview",
    ),
    path("customers", views_accounts.customers, name="customers"),
    path("plan", views_plan.plan, name="plan"),
    path("leadership", views_leadership.leadership, name="leadership"),
    path("panels/workspace/<slug:slug>", workspace.workspace_panel, name="workspace-panel"),
]
