"""Database connection tuning that settings alone cannot express."""

from __future__ import annotations

from typing import Any

from django.db.backends.signals import connection_created
from django.dispatch import receiver


@receiver(connection_created)
def tune_sqlite(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "sqlite":
        return
    # init_command already set WAL; this keeps writers queuing rather than failing when the
    # worker and the web server write at the same moment.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout=60000")  # as settings "timeout"
