"""The monitor's figures on the overview page (see the contract in yuqing/core/views.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.core.views import Figure
from yuqing.monitor.models import Mention


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def summary(request: HttpRequest) -> Figure:
    """Relevant mentions published (or, undated, fetched) today; red when an orange or red one
    is still unread."""
    today = timezone.localdate()
    qs = Mention.objects.filter(
        relevant=True,
        dated_at__gte=_day_start(today),
        dated_at__lt=_day_start(today + timedelta(days=1)),
    )
    count = qs.count()
    urgent = qs.filter(risk__gte=3, status=Mention.Status.NEW).exists()
    return Figure(_("Mentions today"), count, "attention" if urgent else "")


def daily_mentions(request: HttpRequest, start: date, end: date) -> Mapping[date, int]:
    """Relevant mentions per local day, ``start`` and ``end`` included."""
    from yuqing.reports import rollup
    from yuqing.reports.compute import _mentions, local_day, window

    if rollup.covers(*window(start, end)):
        days: dict[date, int] = {}
        for (_sentiment, day), n in rollup.per_day(start, end, "s").items():
            days[day] = days.get(day, 0) + n
        return days
    day_expr, to_date = local_day(start, end)
    rows: Any = _mentions(start, end).annotate(day=day_expr).values("day").annotate(n=Count("*"))
    return {to_date(row["day"]): row["n"] for row in rows if row["day"] is not None}
