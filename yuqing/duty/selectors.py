"""Reads of the duty module: filtered lists, periods, counts per type and per person.

The reports app counts through these same functions, so a number on the duty page and the
same number in the half-year report can never disagree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.duty.models import (
    ActivityKind,
    Attendance,
    EducationActivity,
    Responsibility,
    StudyKind,
    StudySession,
    Training,
)


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period_of(year: int, half: int | None = None) -> Period:
    """A calendar year, or its first (1) or second (2) half."""
    if half == 1:
        return Period(
            dt.date(year, 1, 1), dt.date(year, 6, 30), _("%(y)s, first half") % {"y": year}
        )
    if half == 2:
        return Period(
            dt.date(year, 7, 1), dt.date(year, 12, 31), _("%(y)s, second half") % {"y": year}
        )
    return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), str(year))


def parse_period(params: Any, today: dt.date | None = None) -> Period:
    today = today or timezone.localdate()
    try:
        year = int(params.get("year") or today.year)
    except ValueError:
        year = today.year
    year = min(max(year, 2000), 2100)
    half_raw = params.get("half", "")
    half = int(half_raw) if half_raw in ("1", "2") else None
    return period_of(year, half)


def in_period(qs: QuerySet[Any], period: Period, field: str = "held_on") -> QuerySet[Any]:
    return qs.filter(**{f"{field}__gte": period.start, f"{field}__lte": period.end})


def filter_list(qs: QuerySet[Any], params: Any, *, date_field: str = "held_on") -> QuerySet[Any]:
    """The shared list filters: type, from, to, text."""
    kind = params.get("kind", "")
    if kind:
        qs = qs.filter(kind=kind)
    for key, lookup in (("from", "gte"), ("to", "lte")):
        raw = params.get(key, "")
        if raw:
            with contextlib.suppress(ValueError):
                qs = qs.filter(**{f"{date_field}__{lookup}": dt.date.fromisoformat(raw)})
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(topic__icontains=q)
    return qs


def responsibilities(params: Any, today: dt.date | None = None) -> QuerySet[Responsibility]:
    today = today or timezone.localdate()
    qs = Responsibility.objects.prefetch_related("owners").all()
    kind = params.get("kind", "")
    if kind:
        qs = qs.filter(kind=kind)
    status = params.get("status", "")
    if status == "overdue":
        qs = qs.exclude(status=Responsibility.Status.DONE).filter(due_on__lt=today)
    elif status in Responsibility.Status.values:
        qs = qs.filter(status=status)
    owner = params.get("owner", "")
    if owner.isdigit():
        qs = qs.filter(owners__pk=int(owner))
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(description__icontains=q))
    return qs.distinct()


def overdue_count(today: dt.date | None = None) -> int:
    today = today or timezone.localdate()
    return (
        Responsibility.objects.exclude(status=Responsibility.Status.DONE)
        .filter(due_on__lt=today)
        .count()
    )


@dataclass(frozen=True)
class TypeCount:
    kind: str
    label: str
    count: int
    hours: Decimal | None = None
    extra: int | None = None  # participants (activities), attendances (sessions)


def study_counts(period: Period) -> list[TypeCount]:
    rows = {
        r["kind"]: r
        for r in in_period(StudySession.objects.all(), period)
        .values("kind")
        .annotate(n=Count("id"), h=Sum("hours"))
    }
    return [
        TypeCount(
            k, str(label), rows.get(k, {}).get("n", 0), rows.get(k, {}).get("h") or Decimal(0)
        )
        for k, label in StudyKind.choices
    ]


def training_counts(period: Period) -> list[TypeCount]:
    rows = {
        r["audience"]: r
        for r in in_period(Training.objects.all(), period)
        .values("audience")
        .annotate(n=Count("id"), h=Sum("hours"))
    }
    return [
        TypeCount(
            k, str(label), rows.get(k, {}).get("n", 0), rows.get(k, {}).get("h") or Decimal(0)
        )
        for k, label in Training.Audience.choices
    ]


def activity_counts(period: Period) -> list[TypeCount]:
    rows = {
        r["kind"]: r
        for r in in_period(EducationActivity.objects.all(), period)
        .values("kind")
        .annotate(n=Count("id"), p=Sum("participants"))
    }
    return [
        TypeCount(k, str(label), rows.get(k, {}).get("n", 0), None, rows.get(k, {}).get("p") or 0)
        for k, label in ActivityKind.choices
    ]


def responsibility_counts(period: Period) -> list[TypeCount]:
    """Items due in the period, per responsibility type, and how many of those are done."""
    from yuqing.duty.models import ResponsibilityKind

    rows = {
        r["kind"]: r
        for r in in_period(Responsibility.objects.all(), period, "due_on")
        .values("kind")
        .annotate(n=Count("id"), done=Count("id", filter=Q(status=Responsibility.Status.DONE)))
    }
    return [
        TypeCount(k, str(label), rows.get(k, {}).get("n", 0), None, rows.get(k, {}).get("done", 0))
        for k, label in ResponsibilityKind.choices
    ]


@dataclass
class PersonCount:
    user_id: int
    name: str
    sessions: int = 0
    session_hours: Decimal = Decimal(0)
    trainings: int = 0
    training_hours: Decimal = Decimal(0)
    absences: int = 0
    organised: int = 0


def person_counts(period: Period) -> list[PersonCount]:
    """Per person: sessions and trainings attended (with hours), absences, sessions organised."""
    from yuqing.accounts.models import User

    people: dict[int, PersonCount] = {}

    def row(user: User) -> PersonCount:
        if user.pk not in people:
            people[user.pk] = PersonCount(user.pk, str(user))
        return people[user.pk]

    att = Attendance.objects.select_related("user", "session", "training").filter(
        Q(session__held_on__gte=period.start, session__held_on__lte=period.end)
        | Q(training__held_on__gte=period.start, training__held_on__lte=period.end)
    )
    for a in att:
        r = row(a.user)
        if not a.present:
            r.absences += 1
        elif a.session is not None:
            r.sessions += 1
            r.session_hours += a.session.hours
        elif a.training is not None:
            r.trainings += 1
            r.training_hours += a.training.hours
    organised: dict[int, int] = defaultdict(int)
    sessions = in_period(StudySession.objects.exclude(organiser=None), period)
    for s in sessions.select_related("organiser"):
        assert s.organiser is not None
        row(s.organiser)
        organised[s.organiser.pk] += 1
    for pk, n in organised.items():
        people[pk].organised = n
    return sorted(people.values(), key=lambda p: (-p.sessions - p.trainings, p.name))
