"""The data version's tables (``models/dataversion.py``); its triggers are (re)installed after
every ``migrate`` so tables added later are watched too."""

from typing import Any

from django.db import migrations

CREATE = [
    "CREATE TABLE onefunnel_dataversion (id integer PRIMARY KEY, version bigint NOT NULL)",
    "INSERT INTO onefunnel_dataversion (id, version) VALUES (1, 0)",
    "CREATE TABLE onefunnel_datachange (txid bigint PRIMARY KEY)",
]
DROP = ["DROP TABLE onefunnel_datachange", "DROP TABLE onefunnel_dataversion"]


def install(apps: Any, schema_editor: Any) -> None:
    from onefunnel.models.dataversion import install_change_triggers

    install_change_triggers(schema_editor.connection.alias)


def uninstall(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'onefunnel_dv_%'"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
        elif connection.vendor == "postgresql":
            for function in ("change", "new_rows", "old_rows"):
                cursor.execute(f"DROP FUNCTION IF EXISTS onefunnel_note_{function}() CASCADE")


class Migration(migrations.Migration):
    dependencies = [("onefunnel", "0020_inbound")]

    operations = [
        migrations.RunSQL(CREATE, DROP),
        migrations.RunPython(install, uninstall),
    ]
