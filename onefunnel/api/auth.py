"""How API callers prove who they are: an API key (``Authorization: Bearer <key>``) of an
accepted scope, or the Django session of a signed-in user."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from onefunnel.services.keys import verify_key


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer <key>`` with one of the accepted scopes."""

    def __init__(self, *scopes: str) -> None:
        super().__init__()
        self.scopes = scopes

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        for scope in self.scopes:
            key = verify_key(token, scope)
            if key is not None:
                return key
        return None
