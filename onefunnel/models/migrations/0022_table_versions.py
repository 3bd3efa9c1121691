"""A data version per table (``models/dataversion.py``): SQLite keeps a counter per watched
table, PostgreSQL's change log notes the table beside the transaction. The log is emptied and
its generation increased, so no stamp read before this migration is seen again."""

from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    from onefunnel.models.dataversion import install_change_triggers

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TABLE onefunnel_tableversion "
                "(name varchar(100) PRIMARY KEY, version bigint NOT NULL DEFAULT 0)"
            )
        else:
            cursor.execute("DROP TABLE onefunnel_datachange")
            cursor.execute(
                "CREATE TABLE onefunnel_datachange (txid bigint NOT NULL, "
                "table_name varchar(100) NOT NULL, PRIMARY KEY (txid, table_name))"
            )
        cursor.execute("UPDATE onefunnel_dataversion SET version = version + 1 WHERE id = 1")
    install_change_triggers(connection.alias)


def backwards(apps: Any, schema_editor: Any) -> None:
    from onefunnel.models.dataversion import uninstall_change_triggers

    uninstall_change_triggers(schema_editor.connection.alias)
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TABLE onefunnel_tableversion")
        else:
            cursor.execute("DROP TABLE onefunnel_datachange")
            cursor.execute("CREATE TABLE onefunnel_datachange (txid bigint PRIMARY KEY)")
        cursor.execute("UPDATE onefunnel_dataversion SET version = version + 1 WHERE id = 1")


class Migration(migrations.Migration):
    dependencies = [("onefunnel", "0021_speed")]

    operations = [migrations.RunPython(forwards, backwards)]
