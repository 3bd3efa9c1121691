"""The app's template filters (``{% load onefunnel %}``; registered in settings.TEMPLATES)."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.safestring import SafeString

from onefunnel.web.panels import Cell, rows_html

register = template.Library()


@register.filter
def numbers_rows(rows: Sequence[Sequence[Cell]]) -> SafeString:
    """A numbers table's body, built in Python (``panels.rows_html``)."""
    return rows_html(rows)
