"""Web routes: the shared funnel, the sales workspace, search, sign-in."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from onefunnel.web import (
    views,
    views_accounts,
    views_common,
    views_leadership,
    views_plan,
    views_records,
    views_sales,
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
    path("customers", views_accounts.customers, name="customers"),
    path("plan", views_plan.plan, name="plan"),
    path("leadership", views_leadership.leadership, name="leadership"),
    path("panels/workspace/<slug:slug>", workspace.workspace_panel, name="workspace-panel"),
]
