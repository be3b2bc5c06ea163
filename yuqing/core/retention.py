"""Retention: what each school keeps, for how long, and the daily purge.

Each school sets its periods (``RetentionPolicy``; a school without one keeps the defaults):

- **mentions** older than ``mention_days`` (by the time they were fetched) are deleted with
  their search-index entries, except mentions kept as evidence, mentions with label
  corrections (the school's classifier is retrained from them) and mentions of an event that
  has a case not yet closed. Events left without mentions go too, unless an alert or a case
  points at them;
- **fetch logs** older than ``fetch_log_days``;
- **petitioners' personal data**: ``petition_personal_days`` after a petition was finished
  (or not accepted), its name, contact, message, replies and attachments are erased by
  ``yuqing.cases.erasure`` — the case and its handling record stay.

The audit log has its own deployment-wide period (YUQING_AUDIT_RETENTION_DAYS, at least 180
days; ``yuqing.core.tasks.purge_audit_log``). Every purge is itself audited with its counts.
``retention_run(dry_run=True)`` counts what would go and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from yuqing.audit.services import audit_record
from yuqing.core.models import RetentionPolicy
from yuqing.core.tenancy import all_schools, school_scope

CHUNK = 1000
PARTIAL_FILE_HOURS = 24  # an upload still half-written after a day was abandoned by a crash


def policy_for(school_id: int) -> RetentionPolicy:
    """The school's policy, or an unsaved one with the defaults."""
    with school_scope(school_id):
        policy = RetentionPolicy.objects.filter(school_id=school_id).first()
    if policy is None:
        policy = RetentionPolicy(school_id=school_id)
        policy.fetch_log_days = settings.FETCH_LOG_RETENTION_DAYS
    return policy


def retention_policy_set(*, school_id: int, **days: int) -> RetentionPolicy:
    """Change a school's periods (validated against the minimums), audited."""
    with school_scope(school_id), transaction.atomic():
        policy = RetentionPolicy.objects.select_for_update().filter(
            school_id=school_id
        ).first() or policy_for(school_id)
        before = {name: getattr(policy, name) for name in days}
        for name, value in days.items():
            if name not in {"mention_days", "fetch_log_days", "petition_personal_days"}:
                raise TypeError(f"unknown retention period {name!r}")
            setattr(policy, name, value)
        policy.full_clean()
        policy.save()
        changed = {n: [before[n], days[n]] for n in days if before[n] != days[n]}
        if changed:
            audit_record("core.retention.changed", obj=policy, changes=changed)
    return policy


@dataclass
class SchoolPurge:
    school_id: int
    mentions: int = 0
    events: int = 0
    fetch_logs: int = 0
    petitions: int = 0
    kept_mentions: int = 0  # old enough, but kept (evidence, corrections, open case)

    @property
    def total(self) -> int:
        return self.mentions + self.events + self.fetch_logs + self.petitions


@dataclass
class PurgeReport:
    dry_run: bool
    schools: list[SchoolPurge] = field(default_factory=list)
    partial_files: int = 0

    def total(self, name: str) -> int:
        return sum(int(getattr(s, name)) for s in self.schools)


def _old_mentions(school_id: int, cutoff: dt.datetime) -> tuple[Any, int]:
    from yuqing.cases.models import Case
    from yuqing.monitor.models import Mention

    old = Mention.objects.filter(school_id=school_id, fetched_at__lt=cutoff)
    open_case_events = (
        Case.objects.filter(event__isnull=False)
        .exclude(status=Case.Status.CLOSED)
        .values("event_id")
    )
    kept = old.filter(
        Q(evidence__isnull=False) | Q(corrections__isnull=False) | Q(event_id__in=open_case_events)
    )
    doomed = old.exclude(pk__in=kept.values("pk"))
    return doomed, kept.distinct().count()


def _purge_mentions(school_id: int, cutoff: dt.datetime, dry_run: bool, out: SchoolPurge) -> None:
    from yuqing.monitor import search
    from yuqing.monitor.models import Event, Mention

    doomed, out.kept_mentions = _old_mentions(school_id, cutoff)
    if dry_run:
        out.mentions = doomed.count()
        return
    touched_events: set[int] = set()
    while True:
        with transaction.atomic():
            rows = list(
                doomed.order_by("pk").values_list("pk", "title", "text", "event_id")[:CHUNK]
            )
            if not rows:
                break
            search.unindex_mentions((pk, title, text) for pk, title, text, _e in rows)
            Mention.objects.filter(pk__in=[r[0] for r in rows]).delete()
            touched_events |= {r[3] for r in rows if r[3]}
            out.mentions += len(rows)
    empty = (
        Event.objects.filter(pk__in=touched_events, mentions__isnull=True)
        .filter(alerts__isnull=True, cases__isnull=True)
        .values_list("pk", flat=True)
    )
    out.events, _ = Event.objects.filter(pk__in=list(empty)).delete()


def _purge_fetch_logs(school_id: int, cutoff: dt.datetime, dry_run: bool, out: SchoolPurge) -> None:
    from yuqing.monitor.models import FetchLog

    old = FetchLog.objects.filter(school_id=school_id, started_at__lt=cutoff)
    out.fetch_logs = old.count() if dry_run else old.delete()[0]


def _closed_petitions(cutoff: dt.date) -> list[Any]:
    from yuqing.cases.erasure import ERASED
    from yuqing.cases.models import Petition

    return list(
        Petition.objects.filter(
            Q(status=Petition.Status.FINISHED, finished_on__lt=cutoff)
            | Q(status=Petition.Status.NOT_ACCEPTED, decided_on__lt=cutoff)
        ).exclude(body=ERASED, name="", contact="")
    )


def _purge_petitions(school_id: int, cutoff: dt.date, dry_run: bool, out: SchoolPurge) -> None:
    from yuqing.cases.erasure import person_data_erase

    petitions = _closed_petitions(cutoff)
    if dry_run:
        out.petitions = len(petitions)
        return
    if petitions:
        result = person_data_erase(petitions=petitions, reason="retention", scheduled=True)
        out.petitions = result.petitions


def school_ids() -> list[int]:
    from yuqing.accounts.models import School

    with all_schools():
        return list(School.objects.order_by("pk").values_list("pk", flat=True))


def retention_run(
    *, now: dt.datetime | None = None, dry_run: bool = False, only: list[int] | None = None
) -> PurgeReport:
    """Purge (or with ``dry_run`` count) what every school's policy no longer keeps."""
    now = now or timezone.now()
    report = PurgeReport(dry_run=dry_run)
    for school_id in only if only is not None else school_ids():
        policy = policy_for(school_id)
        out = SchoolPurge(school_id=school_id)
        with school_scope(school_id):
            _purge_mentions(school_id, now - dt.timedelta(days=policy.mention_days), dry_run, out)
            _purge_fetch_logs(
                school_id, now - dt.timedelta(days=policy.fetch_log_days), dry_run, out
            )
            today = timezone.localdate(now)
            _purge_petitions(
                school_id, today - dt.timedelta(days=policy.petition_personal_days), dry_run, out
            )
            if out.total and not dry_run:
                audit_record(
                    "core.retention.purged",
                    school_id=school_id,
                    changes={
                        "mentions": out.mentions,
                        "events": out.events,
                        "fetch_logs": out.fetch_logs,
                        "petitions_erased": out.petitions,
                        "mention_days": policy.mention_days,
                        "fetch_log_days": policy.fetch_log_days,
                        "petition_personal_days": policy.petition_personal_days,
                    },
                )
        report.schools.append(out)
    report.partial_files = purge_partial_files(now=now, dry_run=dry_run)
    return report


def purge_partial_files(*, now: dt.datetime, dry_run: bool = False) -> int:
    """Remove uploads a crash left half-written (``.partial-*``, see yuqing.lib.storage)."""
    root = Path(settings.MEDIA_ROOT)
    if not root.is_dir():
        return 0
    limit = now.timestamp() - PARTIAL_FILE_HOURS * 3600
    removed = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if not name.startswith(".partial-"):
                continue
            try:
                if path.stat().st_mtime >= min(limit, time.time()):
                    continue
                if not dry_run:
                    path.unlink()
            except FileNotFoundError:
                continue
            removed += 1
    return removed


def purge_fetch_logs_all(*, now: dt.datetime | None = None) -> int:
    """Fetch logs only, every school by its own period (the monitor's hourly-safe purge)."""
    now = now or timezone.now()
    deleted = 0
    for school_id in school_ids():
        out = SchoolPurge(school_id=school_id)
        with school_scope(school_id):
            policy = policy_for(school_id)
            _purge_fetch_logs(school_id, now - dt.timedelta(days=policy.fetch_log_days), False, out)
        deleted += out.fetch_logs
    return deleted
