"""Django app configuration for onefunnel."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class OnefunnelConfig(AppConfig):
    """The single Django app; its models live in the ``onefunnel.models`` package."""

    name = "onefunnel"
    label = "onefunnel"
    verbose_name = "onefunnel"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from onefunnel.analytics.cache import note_queries
        from onefunnel.models.dataversion import ensure_change_triggers
        from onefunnel.models.teams import ensure_team_groups

        post_migrate.connect(ensure_team_groups, sender=self)
        post_migrate.connect(ensure_change_triggers, sender=self)
        # The report cache learns which tables each result reads from the statements it runs.
        connection_created.connect(note_queries)
