"""Background work of the publishing module: the site watch that finds where approved drafts
went live, and the tamper watch on live pages."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from yuqing.core.tenancy import all_schools, school_scope
from yuqing.publishing import services, sitewatch

log = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/5"))
@lock_task("publishing-tamper-watch")
def tamper_watch() -> None:
    """Fetch the live pages that are due (each publication has its own next check time)."""
    report = services.publications_watch_due()
    if report.changed:
        log.warning("tamper watch: %s of %s live pages changed", report.changed, report.checked)


@db_periodic_task(crontab(minute="*/10"))
@lock_task("publishing-site-watch")
def site_watch() -> None:
    """Read the school's own sites' feeds, sitemaps and list pages for signed drafts."""
    report = sitewatch.site_watch_all()
    for draft_id, url, similarity in report.found:
        log.info("site watch: draft %s is live at %s (similarity %.2f)", draft_id, url, similarity)
    if report.refused:
        log.warning("site watch: not fetched (not the school's hosts): %s", report.refused[:5])


@db_task()
def check_publication(publication_id: int) -> str:
    """Check one live page now (after it is recorded, or on request)."""
    from yuqing.publishing.models import Publication

    with all_schools():
        school_id = (
            Publication.objects.filter(pk=publication_id)
            .values_list("school_id", flat=True)
            .first()
        )
    if school_id is None:
        return "gone"
    with school_scope(school_id):
        return services.publication_check(publication_id=publication_id)
