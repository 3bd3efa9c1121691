"""The JSON API (django-ninja); OpenAPI at ``/api/openapi.json``."""

from onefunnel.api.root import api

__all__ = ["api"]
