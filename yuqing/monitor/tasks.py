"""Background work of the monitor module."""

from __future__ import annotations

import logging
import time

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from yuqing.core.tenancy import all_schools
from yuqing.monitor.poller import poll_due

log = logging.getLogger(__name__)

# The scheduler ticks once a minute; inside a tick we look for due sources every few seconds,
# so a one-minute source is polled within seconds of being due, not up to a minute late.
TICK_SECONDS = 55
LOOK_EVERY_SECONDS = 5


@db_periodic_task(crontab(minute="*"))
@lock_task("monitor-poll")
def poll_sources() -> None:
    """Poll every due source; runs for most of a minute, one instance at a time."""
    deadline = time.monotonic() + TICK_SECONDS
    while time.monotonic() < deadline:
        report = poll_due()
        if report.polled:
            log.info(
                "polled %s sources: %s new mentions, %s not modified, %s failed",
                report.polled,
                report.new_mentions,
                report.not_modified,
                report.failed,
            )
        time.sleep(LOOK_EVERY_SECONDS)


@db_periodic_task(crontab(minute="*/5"))
def fail_stalled_imports() -> int:
    """Imports left "Importing" by a worker that died are marked failed (and offer Retry)."""
    from yuqing.monitor.setup_services import imports_fail_stalled

    return imports_fail_stalled()


@db_periodic_task(crontab(minute="17", hour="3"))
def purge_fetch_logs() -> int:
    """Fetch logs are kept as each school's retention policy says (default 30 days, setting
    YUQING_FETCH_LOG_DAYS); the other periods are purged by core's retention task."""
    from yuqing.core.retention import purge_fetch_logs_all

    return purge_fetch_logs_all()


@db_task(retries=1, retry_delay=60)
def retrain_school_classifier(school_id: int, user_id: int | None = None) -> int:
    """Retrain a school's own classifier from its corrections; returns the new version's id.

    Two retrains of one school at once are safe: version numbers are taken under a row lock
    and the database allows one active version per school.
    """
    from yuqing.accounts.models import User
    from yuqing.core.tenancy import school_scope
    from yuqing.monitor.corrections import classifier_retrain

    with all_schools():
        user = User.objects.filter(pk=user_id).first() if user_id else None
    with school_scope(school_id):
        return classifier_retrain(school_id=school_id, user=user).pk


# Huey discovers only modules named `tasks`: the import job of the set-up pages lives beside
# its services and is registered from here.
from yuqing.monitor import tasks_setup  # noqa: E402, F401
