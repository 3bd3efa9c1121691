"""Web routes: the shared funnel, the sales workspace, search, sign-in."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from onefunnel.web import views, views_common, views_sales

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
    # Reserved for the timelines and the deal board (coming next; until then these 404):
    # path("contacts/<int:contact_id>", ..., name="contact"),
    # path("accounts/<int:account_id>", ..., name="account"),
    # path("deals/<int:deal_id>", ..., name="deal"),
]
