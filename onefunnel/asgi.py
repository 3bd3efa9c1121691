"""ASGI entry point: ``uvicorn onefunnel.asgi:application``.

Tracking requests (``/v1/``) take a lean path: a Django handler without the middleware stack.
They need none of it — no static files, sessions, CSRF, users or messages; the write key is
checked by the tracking writer — and each synchronous middleware costs a hop between the event
loop and a thread per request, which at thousands of requests a second is a large share of a
worker's time. Every other path goes through the full stack.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest
from django.http.response import HttpResponseBase

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onefunnel.settings")
_full = get_asgi_application()

TRACKING_PREFIX = "/v1/"


class LeanHandler(ASGIHandler):
    """Django's ASGI handler with no middleware: URL resolution, the view, its response."""

    def load_middleware(self, is_async: bool = False) -> None:
        """Install no middleware (the full stack's are in ``settings.MIDDLEWARE``)."""
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # The view's own response path, with Django's conversion of exceptions to responses.
        get_response = getattr(self, "_get_response_async")  # noqa: B009 (absent from the stubs)
        self._middleware_chain = convert_exception_to_response(get_response)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        """The view's response, with the ``Content-Length`` that ``CommonMiddleware`` adds on the
        full path: without it a response is sent chunked, which some clients handle poorly."""
        response = await super().get_response_async(request)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(getattr(response, "content", b"")))
        return response


_lean = LeanHandler()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Route ``/v1/`` requests to the lean handler, everything else to the full one."""
    if scope["type"] == "http" and str(scope.get("path", "")).startswith(TRACKING_PREFIX):
        await _lean(scope, receive, send)
        return
    await _full(scope, receive, send)
