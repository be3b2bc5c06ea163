"""Polling: claim the sources that are due, fetch them concurrently, store what they gave.

Several workers may poll at once (Redis deployments): a source is *claimed* by a conditional
UPDATE that moves its ``next_poll_at`` forward by a lease, so exactly one worker polls it; if
that worker dies, the lease runs out and another picks the source up. Fetching happens in one
asyncio loop (one slow site never delays the others; per-host spacing is kept by the polite
fetcher); storing happens afterwards, source by source, each batch in its own transaction.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from yuqing.audit.services import audit_record
from yuqing.core.tenancy import all_schools, school_scope
from yuqing.lib.http import HttpClient
from yuqing.lib.urls import canonical_url
from yuqing.monitor.collect.fetcher import PoliteFetcher
from yuqing.monitor.collectors import COLLECTORS, Outcome, SourceSnapshot
from yuqing.monitor.models import FetchLog, Source
from yuqing.monitor.services import IncomingItem, IngestResult, mentions_ingest

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # a claimed source is retried after this if its worker died
MAX_BACKOFF = timedelta(hours=6)  # never parked forever: at worst polled every six hours
MAX_WAIT_HINT = timedelta(hours=2)  # a feed's ttl / max-age may slow us down, up to this
FAILING_ALERT_AFTER = timedelta(days=1)
SEEN_URLS_KEPT = 500


@dataclass(slots=True)
class PollReport:
    polled: int = 0
    failed: int = 0
    not_modified: int = 0
    new_mentions: int = 0


def claim_due_sources(*, limit: int = 200, now: datetime | None = None) -> list[Source]:
    """Claim up to ``limit`` due sources; each claimed by exactly one caller."""
    now = now or timezone.now()
    claimed: list[Source] = []
    with all_schools():
        candidates = list(
            Source.unscoped.filter(enabled=True, kind__in=list(COLLECTORS), next_poll_at__lte=now)
            .order_by("next_poll_at")
            .values_list("pk", "next_poll_at")[: limit * 2]
        )
        for pk, due in candidates:
            if len(claimed) >= limit:
                break
            won = Source.unscoped.filter(pk=pk, next_poll_at=due).update(next_poll_at=now + LEASE)
            if won:
                claimed.append(Source.unscoped.get(pk=pk))
    return claimed


def snapshot(source: Source) -> SourceSnapshot:
    return SourceSnapshot(
        id=source.pk,
        school_id=source.school_id,
        kind=source.kind,
        url=source.url,
        config=dict(source.config or {}),
        is_own=source.is_own,
        etag=source.etag,
        last_modified=source.last_modified,
        seen_urls=frozenset(source.seen_urls or ()),
    )


async def _collect_all(
    snapshots: list[SourceSnapshot],
) -> list[tuple[SourceSnapshot, Outcome, float]]:
    async with HttpClient(
        allow_hosts=settings.FETCH_ALLOW_HOSTS,
        total_timeout=settings.FETCH_TIMEOUT_SECONDS,
        max_bytes=settings.FETCH_MAX_BYTES,
    ) as client:
        fetcher = PoliteFetcher(client, spacing=settings.FETCH_HOST_SPACING_MS / 1000)

        async def one(snap: SourceSnapshot) -> tuple[SourceSnapshot, Outcome, float]:
            started = time.monotonic()
            try:
                outcome = await COLLECTORS[snap.kind].collect(
                    snap, fetcher, rsshub_base=settings.RSSHUB_BASE_URL
                )
            except Exception as exc:  # a collector bug must not lose the other sources' polls
                log.exception("collector for source %s failed", snap.id)
                outcome = Outcome(error_kind="parse", error=f"{type(exc).__name__}: {exc}"[:500])
            return snap, outcome, time.monotonic() - started

        return await asyncio.gather(*(one(s) for s in snapshots))


def poll_sources(sources: list[Source]) -> PollReport:
    """Fetch the given (claimed) sources and store their outcomes."""
    report = PollReport()
    if not sources:
        return report
    by_id = {s.pk: s for s in sources}
    results = asyncio.run(_collect_all([snapshot(s) for s in sources]))
    for snap, outcome, seconds in results:
        source = by_id[snap.id]
        with school_scope(source.school_id):
            ingested = record_outcome(source, outcome, seconds)
        report.polled += 1
        report.failed += 0 if outcome.ok else 1
        report.not_modified += 1 if outcome.not_modified else 0
        report.new_mentions += ingested.new
    return report


def _items(source: Source, outcome: Outcome) -> list[IncomingItem]:
    return [
        IncomingItem(
            text=item.text,
            title=item.title,
            url=item.url,
            author=item.author,
            published_at=item.published_at,
            source_type=source.source_type,
        )
        for item in outcome.items
    ]


def next_poll_after(source: Source, outcome: Outcome, now: datetime) -> datetime:
    interval = timedelta(seconds=max(30, source.interval_seconds))
    if outcome.ok:
        hint = timedelta(seconds=outcome.wait_hint) if outcome.wait_hint else timedelta(0)
        return now + max(interval, min(hint, MAX_WAIT_HINT))
    if outcome.retry_after:
        wait = timedelta(seconds=min(outcome.retry_after, MAX_BACKOFF.total_seconds()))
        return now + max(interval, wait)
    # Exponential backoff with jitter, capped, so a broken source is still tried regularly.
    failures = source.consecutive_failures + 1
    backoff = min(interval * (2 ** min(failures, 12)), MAX_BACKOFF)
    return now + backoff * random.uniform(0.8, 1.0)  # type: ignore[operator]


def record_outcome(source: Source, outcome: Outcome, seconds: float) -> IngestResult:
    """Store a poll's items, its fetch log row and the source's new state."""
    now = timezone.now()
    ingested = IngestResult()
    items = _items(source, outcome)
    if items:
        ingested = mentions_ingest(source=source, items=items)
    error_text = outcome.error or "; ".join(outcome.parse_errors)[:500]
    with transaction.atomic():
        FetchLog.objects.create(
            school_id=source.school_id,
            source=source,
            started_at=now - timedelta(seconds=seconds),
            duration_ms=int(seconds * 1000),
            status_code=outcome.status,
            bytes=outcome.bytes,
            not_modified=outcome.not_modified,
            items_seen=len(items),
            items_new=ingested.new,
            items_unmatched=ingested.unmatched,
            # A poll that read items but not all of the document (ill-formed, cut at the
            # entry limit) says so on its log; the source itself stays healthy.
            error_kind=outcome.error_kind or ("parse" if outcome.parse_errors else ""),
            error=error_text,
        )
        fields = {
            "last_polled_at": now,
            "last_duration_ms": int(seconds * 1000),
            "next_poll_at": next_poll_after(source, outcome, now),
        }
        if outcome.ok:
            fields.update(last_success_at=now, consecutive_failures=0, failing_alerted_at=None)
            if outcome.etag or outcome.last_modified or not outcome.not_modified:
                fields.update(etag=outcome.etag[:300], last_modified=outcome.last_modified[:100])
            if items and source.kind == Source.Kind.WEB:
                seen = list(source.seen_urls or []) + [canonical_url(i.url) for i in items if i.url]
                fields["seen_urls"] = seen[-SEEN_URLS_KEPT:]
        else:
            fields.update(
                last_error_at=now,
                last_error_kind=outcome.error_kind,
                last_error=error_text,
                consecutive_failures=source.consecutive_failures + 1,
            )
            since = source.last_success_at or source.created_at
            if source.failing_alerted_at is None and since and now - since >= FAILING_ALERT_AFTER:
                fields["failing_alerted_at"] = now
                audit_record(
                    "monitor.source.failing",
                    obj=source,
                    changes={
                        "since": since,
                        "error_kind": outcome.error_kind,
                        "error": outcome.error,
                    },
                )
                notify_admins_source_failing(source, since=since, outcome=outcome)
        Source.objects.filter(pk=source.pk).update(**fields)
        for name, value in fields.items():
            setattr(source, name, value)
    return ingested


def notify_admins_source_failing(source: Source, *, since: datetime, outcome: Outcome) -> None:
    """A source failing for a day: an in-app notice to the school's administrators, once
    (until the source recovers). Never parked: the poller keeps retrying with backoff."""
    from django.utils.translation import gettext as _

    from yuqing.accounts.models import RoleAssignment
    from yuqing.accounts.roles import Role
    from yuqing.alerts.models import Level
    from yuqing.alerts.services import notification_send

    admin_ids = RoleAssignment.objects.filter(
        school_id=source.school_id, role=Role.ADMIN
    ).values_list("user_id", flat=True)
    when = timezone.localtime(since).strftime("%Y-%m-%d %H:%M")
    notification_send(
        sorted(set(admin_ids)),
        title=_("Source “%(name)s” has been failing since %(when)s")
        % {"name": source.name, "when": when},
        body=f"{outcome.error_kind}: {outcome.error}",
        level=Level.YELLOW,
        school_id=source.school_id,
    )


def poll_due(*, limit: int = 200) -> PollReport:
    return poll_sources(claim_due_sources(limit=limit))
