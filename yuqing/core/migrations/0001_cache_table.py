"""The database cache's table (settings.CACHES when there is no Redis).

Created whatever CACHES says at migration time, so switching a deployment from Redis back to
the database cache needs no extra step. Same table as ``manage.py createcachetable`` makes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations

TABLE = getattr(settings, "CACHE_TABLE", "yuqing_cache")


def create(apps: Any, schema_editor: Any) -> None:
    from django.core.management.commands.createcachetable import Command

    command = Command()
    command.verbosity = 0  # set by handle() otherwise; read when the table already exists
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def drop(apps: Any, schema_editor: Any) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunPython(create, drop)]
