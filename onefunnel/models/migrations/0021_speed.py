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
    from onefunnel.models.dataversion import uninstall_change_triggers

    uninstall_change_triggers(schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("onefunnel", "0020_inbound")]

    operations = [
        migrations.RunSQL(CREATE, DROP),
        migrations.RunPython(install, uninstall),
    ]
