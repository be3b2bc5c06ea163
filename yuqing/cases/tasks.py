"""Background work of the cases module: overdue escalation and petition reminders.

Both are idempotent sweeps (each limit escalates or reminds once, recorded on the row), so a
run that is killed half-way is simply finished by the next one.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from yuqing.cases import services

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
@lock_task("cases-overdue")
def cases_overdue() -> int:
    """Every minute: a red case's one-hour limit must not wait for an hourly job."""
    count = services.cases_escalate_overdue()
    if count:
        log.info("cases: %s overdue case(s) escalated", count)
    return count


@db_periodic_task(crontab(minute="7", hour="7-18"))
@lock_task("cases-petition-reminders")
def petitions_remind() -> int:
    """Hourly in working hours: reminders before each petition limit."""
    return services.petitions_remind()
