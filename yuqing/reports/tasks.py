"""Background work of the reports module: the daily reports of special periods."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from yuqing.accounts.models import School
from yuqing.core.tenancy import all_schools, school_scope
from yuqing.duty.models import SpecialPeriod

log = logging.getLogger(__name__)


@db_task()
def daily_for_school(school_id: int) -> int:
    from yuqing.reports import services

    with school_scope(school_id):
        return len(services.daily_due())


@db_periodic_task(crontab(minute="*/5"))
@lock_task("reports-daily")
def reports_daily_tick() -> None:
    """Every five minutes: any school whose daily report time has come gets its report.

    Cheap when nothing is due (one query per school with a current special period), and a
    missed tick (the server was off at 08:00) is made up at the next one.
    """
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    with all_schools():
        ids = sorted(
            set(
                SpecialPeriod.objects.filter(
                    starts_on__lte=yesterday, ends_on__gte=yesterday
                ).values_list("school_id", flat=True)
            )
        )
        ids = list(School.objects.filter(pk__in=ids).values_list("pk", flat=True))
    for school_id in ids:
        try:
            daily_for_school.call_local(school_id)
        except Exception:  # one school's failure must not stop the others' reports
            log.exception("daily report failed for school %s", school_id)
