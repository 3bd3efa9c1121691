"""Saying when a page's figures were served before their update (``analytics.cache``,
``ONEFUNNEL_REPORT_STALE_SECONDS``): the middleware opens each request to it and puts the time
in an ``X-Onefunnel-Data-As-Of`` header; the context processor gives templates ``data_as_of``,
which every numbers table and figure list shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from onefunnel.analytics.cache import data_as_of, serving_request


class DataFreshnessMiddleware:
    """Let a request be served results computed up to ``ONEFUNNEL_REPORT_STALE_SECONDS``
    before, and say so in a header when it was."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with serving_request():
            response = self.get_response(request)
            as_of = data_as_of()
        if as_of is not None:
            response["X-Onefunnel-Data-As-Of"] = as_of.isoformat(timespec="seconds")
        return response


def freshness(request: HttpRequest) -> dict[str, Any]:
    """``data_as_of``: the time (UTC, as text) of the oldest figures on the page served before
    their update; empty when every figure is as of now."""
    as_of = data_as_of()
    return {"data_as_of": as_of.strftime("%H:%M:%S UTC") if as_of else ""}
