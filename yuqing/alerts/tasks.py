"""Background work of the alerts module.

``alerts_tick`` runs every minute for most of the minute (one instance at a time): each second
it evaluates ingest batches the queue has not taken, and sends due deliveries; every few
seconds it escalates overdue alerts and builds digests. The immediate tasks below are the fast
path (a free worker thread starts within milliseconds); the tick is the safety net that also
works when every thread is busy or a worker was killed.
"""

from __future__ import annotations

import logging
import time

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from yuqing.alerts import delivery, services

log = logging.getLogger(__name__)

TICK_SECONDS = 55
LOOK_EVERY_SECONDS = 1.0
ESCALATE_EVERY_SECONDS = 10.0
DIGEST_EVERY_SECONDS = 30.0


@db_task()
def evaluate_request(request_id: int) -> int:
    """Evaluate one ingest batch against the rules; sending starts when it commits."""
    return len(services.alert_evaluate_request(request_id=request_id))


@db_task()
def deliver_now() -> int:
    """Send what is due now (called right after an alert, escalation or test is committed)."""
    return delivery.deliver_due().sent


@db_periodic_task(crontab(minute="*"))
@lock_task("alerts-tick")
def alerts_tick() -> None:
    deadline = time.monotonic() + TICK_SECONDS
    last_escalate = last_digest = 0.0
    while time.monotonic() < deadline:
        try:
            services.evaluate_pending()
            report = delivery.deliver_due()
            if report.claimed:
                log.info(
                    "deliveries: %s sent, %s to retry, %s given up",
                    report.sent,
                    report.failed,
                    report.dead,
                )
            if time.monotonic() - last_escalate >= ESCALATE_EVERY_SECONDS:
                last_escalate = time.monotonic()
                services.alerts_escalate_due()
            if time.monotonic() - last_digest >= DIGEST_EVERY_SECONDS:
                last_digest = time.monotonic()
                services.digests_build()
        except Exception:  # one bad round must not end the tick; the next round retries
            log.exception("alerts tick failed")
        time.sleep(LOOK_EVERY_SECONDS)
