"""Background work of the duty module: reminders before responsibility items are due."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from yuqing.accounts.models import School
from yuqing.core.tenancy import all_schools, school_scope

log = logging.getLogger(__name__)


@db_task()
def remind_school(school_id: int) -> int:
    from yuqing.duty import services

    with school_scope(school_id):
        return services.reminders_send()


@db_periodic_task(crontab(minute="5", hour="7"))
@lock_task("duty-reminders")
def duty_reminders() -> None:
    """Every morning: one reminder per item and due date (the claim makes reruns harmless)."""
    with all_schools():
        ids = list(School.objects.filter(kind=School.Kind.SCHOOL).values_list("pk", flat=True))
    for school_id in ids:
        try:
            remind_school.call_local(school_id)
        except Exception:  # one school's bad row must not stop the others
            log.exception("duty reminders failed for school %s", school_id)
