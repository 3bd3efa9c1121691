"""Public routes of sent emails: the open pixel, tracked clicks and one-click unsubscribe.
Their tokens are signed (``services/marketing/email_links.py``); nobody signs in."""

from __future__ import annotations

from django.urls import path

from onefunnel.web import views_email

app_name = "email"
urlpatterns = [
    path("open/<str:token>", views_email.email_open, name="open"),
    path("click/<str:token>", views_email.email_click, name="click"),
    path("unsubscribe/<str:token>", views_email.email_unsubscribe, name="unsubscribe"),
]
