"""Deployment-wide background tasks: the worker's proof of life and the audit retention purge."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from yuqing.core.tenancy import all_schools


def _write_heartbeat(payload: dict[str, Any]) -> None:
    # Written to a temporary name and renamed, so a reader never sees half a file.
    path = settings.DATA_DIR / "worker-heartbeat.json"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


@db_task()
def ping(note: str = "") -> dict[str, Any]:
    """Answer with who ran the task, after asking the database, so a test can prove that a real
    worker (not the caller) picked the message off the queue and reached the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (answer,) = cursor.fetchone()
    payload = {
        "note": note,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "database": connection.vendor,
        "db_answer": answer,
        "at": timezone.now().isoformat(),
    }
    _write_heartbeat(payload)
    return payload


@db_periodic_task(crontab(minute="*/5"))
def heartbeat() -> None:
    """Every five minutes: shows the scheduler is alive (`worker-heartbeat.json` in the data dir)."""
    _write_heartbeat({"note": "scheduled", "pid": os.getpid(), "at": timezone.now().isoformat()})


def purge_audit_log(*, now: dt.datetime | None = None) -> int:
    """Remove audit entries older than the retention period (never less than 180 days)."""
    from yuqing.audit.services import audit_purge

    days = max(int(settings.AUDIT_RETENTION_DAYS), 180)
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    with all_schools():
        return audit_purge(older_than=cutoff)


# 19:30 UTC is 03:30 in Asia/Shanghai: the quietest hour for a school's desk.
@db_periodic_task(crontab(minute="30", hour="19"))
def audit_purge_daily() -> int:
    return purge_audit_log()


# 19:45 UTC is 03:45 in Asia/Shanghai, after the audit purge.
@db_periodic_task(crontab(minute="45", hour="19"))
def retention_purge_daily() -> dict[str, int]:
    """Each school's retention policy: old mentions, fetch logs and petitioners' data."""
    from yuqing.core.retention import retention_run

    report = retention_run()
    return {name: report.total(name) for name in ("mentions", "events", "fetch_logs", "petitions")}
