"""Background work of the security module: scheduled and on-demand checks, daily reviews.

Tasks load by id, enter the asset's school scope and call one service. Scheduled assets are
claimed with a conditional UPDATE (``services.assets_claim_due``), so two schedulers never run
the same asset twice.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from yuqing.core.tenancy import all_schools, school_scope

log = logging.getLogger(__name__)


@db_task()
def run_asset_checks(
    asset_id: int,
    trigger: str = "schedule",
    user_id: int | None = None,
    keys: list[str] | None = None,
) -> int:
    from yuqing.accounts.models import User
    from yuqing.security import services
    from yuqing.security.models import Asset

    with all_schools():
        school_id = Asset.objects.filter(pk=asset_id).values_list("school_id", flat=True).first()
    if school_id is None:
        return 0
    with school_scope(school_id):
        asset = Asset.objects.get(pk=asset_id)
        user = User.objects.filter(pk=user_id).first() if user_id else None
        runs = services.asset_run_checks(asset=asset, trigger=trigger, user=user, keys=keys)
    return len(runs)


@db_periodic_task(crontab(minute="*/5"))
@lock_task("security-schedule")
def schedule_due_checks() -> int:
    from yuqing.security import services

    claimed = services.assets_claim_due()
    for _school_id, asset_id in claimed:
        run_asset_checks(asset_id, "schedule")
    return len(claimed)


@db_periodic_task(crontab(hour="6", minute="10"))
@lock_task("security-daily")
def daily_reviews() -> None:
    from yuqing.accounts.models import School
    from yuqing.security import services

    services.risks_expire()
    services.checklist_rounds_open()
    with all_schools():
        schools = list(School.objects.filter(kind=School.Kind.SCHOOL).values_list("pk", flat=True))
    for school_id in schools:
        try:
            with school_scope(school_id):
                services.accounts_review(school_id=school_id)
        except Exception:  # one school's failure must not stop the others
            log.exception("accounts review of school %s failed", school_id)
