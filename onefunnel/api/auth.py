"""How API callers prove who they are: an API key (``Authorization: Bearer <key>``) of an
accepted scope, or the Django session of a signed-in user."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from onefunnel.services.access import Action, actor_for, require
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


class SessionRole(SessionAuth):
    """The Django session of a signed-in user whom the rule book allows ``action``, checked
    before the body is read: a role that may not write is refused (403) even with a bad body.
    """

    def __init__(self, action: Action) -> None:
        super().__init__()
        self.action = action

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if user is not None:
            require(actor_for(user), self.action)
        return user
