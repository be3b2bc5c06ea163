"""The monitoring overview dashboard and its full-screen duty-room display (大屏).

Both render the same partial (``reports/_dashboard_body.html``); the display asks for it again
every minute with htmx, and the charts in it re-initialise themselves (static/yuqing/charts.js).

Every figure is an aggregate over an indexed range of the current school's rows: per-day and
per-label counts, never rows, so the page stays fast at a million mentions.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, Sum, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from yuqing.core.permissions import require
from yuqing.reports import rollup
from yuqing.reports.compute import _mentions, local_day, optional_model, window

RANGES = {"1": 1, "7": 7, "30": 30, "90": 90}
TOP_EVENTS = 5


def parse_range(params: Any, today: dt.date) -> tuple[dt.date, dt.date, str]:
    """(start, end, key): a preset number of days ending today, or a custom from/to."""
    key = params.get("range", "30")
    if key == "custom":
        try:
            start = dt.date.fromisoformat(params.get("from", ""))
            end = dt.date.fromisoformat(params.get("to", ""))
        except ValueError:
            key = "30"
        else:
            if start > end:
                start, end = end, start
            # A year at most: the chart stays readable and the query bounded.
            start = max(start, end - dt.timedelta(days=365))
            return start, min(end, today), key
    days = RANGES.get(key, 30)
    return today - dt.timedelta(days=days - 1), today, key if key in RANGES else "30"


def _locale() -> str:
    return "EN" if (get_language() or "").startswith("en") else "ZH"


def _chart(labels: list[str], series: list[dict[str, Any]], empty_text: str) -> dict[str, Any]:
    return {
        "labels": labels,
        "titles": labels,
        "series": series,
        "empty": not any(any(s["data"]) for s in series),
        "emptyText": empty_text,
        "locale": _locale(),
    }


def _mix(counts: dict[str, int], choices: Any) -> list[tuple[str, int]]:
    """Labels with their counts, largest first; labels with none are left out unless all are."""
    rows = sorted(
        ((str(label), counts.get(value, 0)) for value, label in choices), key=lambda r: -r[1]
    )
    return [r for r in rows if r[1]] or rows


@dataclass
class Counts:
    """The dashboard's mention figures over a range of local days."""

    by_sentiment: dict[str, list[int]]  # per day
    topics: dict[str, int]
    types: dict[str, int]
    risky: int  # orange or red
    top_events: list[tuple[int, int]]  # (event id, mentions), most first
    curves: dict[int, list[int]]  # per top event, per day


def _from_rollup(start: dt.date, end: dt.date, days: list[dt.date]) -> Counts:
    """From the hourly rollup: a few rows per hour, whatever the number of mentions."""
    from yuqing.monitor.models import Sentiment

    index = {d: i for i, d in enumerate(days)}
    by_sentiment = {s: [0] * len(days) for s in Sentiment.values}
    for (value, day), n in rollup.per_day(start, end, "s").items():
        if day in index and value in by_sentiment:
            by_sentiment[value][index[day]] += n
    top = rollup.top_events(start, end, TOP_EVENTS)
    curves = {pk: [0] * len(days) for pk, _n in top}
    if curves:
        for (value, day), n in rollup.per_day(start, end, "e", values=list(curves)).items():
            if day in index:
                curves[int(value)][index[day]] += n
    return Counts(
        by_sentiment=by_sentiment,
        topics=rollup.totals(start, end, "t"),
        types=rollup.totals(start, end, "k"),
        risky=rollup.totals(start, end, "r").get("", 0),
        top_events=top,
        curves=curves,
    )


def _from_mentions(start: dt.date, end: dt.date, days: list[dt.date]) -> Counts:
    """From the mentions' covering index: for zones whose days are not whole UTC hours."""
    from yuqing.monitor.models import Sentiment

    index = {d: i for i, d in enumerate(days)}
    qs = _mentions(start, end)
    day_expr, to_date = local_day(start, end)
    by_sentiment = {s: [0] * len(days) for s in Sentiment.values}
    topics: Counter[str] = Counter()
    types: Counter[str] = Counter()
    risky = 0
    for r in (
        qs.annotate(day=day_expr)
        .values("day", "sentiment", "topic", "source_type")
        .annotate(n=Count("*"), risky=Sum(Case(When(risk__gte=3, then=Value(1)), default=Value(0))))
    ):
        day = to_date(r["day"])
        if day in index and r["sentiment"] in by_sentiment:
            by_sentiment[r["sentiment"]][index[day]] += r["n"]
        topics[r["topic"]] += r["n"]
        types[r["source_type"]] += r["n"]
        risky += r["risky"]
    top = [
        (r["event"], r["n"])
        for r in qs.exclude(event=None)
        .values("event")
        .annotate(n=Count("*"))
        .order_by("-n", "event")[:TOP_EVENTS]
    ]
    curves = {pk: [0] * len(days) for pk, _n in top}
    if curves:
        for r in (
            qs.filter(event__in=list(curves))
            .annotate(day=day_expr)
            .values("event", "day")
            .annotate(n=Count("*"))
        ):
            day = to_date(r["day"])
            if day in index:
                curves[r["event"]][index[day]] += r["n"]
    return Counts(by_sentiment, dict(topics), dict(types), risky, top, curves)


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    from yuqing.alerts.models import Alert
    from yuqing.monitor.models import Event, Sentiment, Source, SourceType, Topic

    today = timezone.localdate()
    start, end, key = parse_range(request.GET, today)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    labels = [f"{d.month}/{d.day}" for d in days]
    lo, hi = window(start, end)
    counts = (_from_rollup if rollup.covers(lo, hi) else _from_mentions)(start, end, days)
    by_sentiment = counts.by_sentiment
    sentiment_chart = _chart(
        labels,
        [
            {"name": str(label), "data": by_sentiment[value], "tone": value}
            for value, label in Sentiment.choices
        ],
        _("No mentions in this range"),
    )
    totals = {s: sum(v) for s, v in by_sentiment.items()}
    total = sum(totals.values())

    topics = _mix(counts.topics, Topic.choices)
    topic_chart = _chart(
        [t[0] for t in topics],
        [{"name": _("Mentions"), "data": [t[1] for t in topics]}],
        _("No mentions in this range"),
    )
    types = _mix(counts.types, SourceType.choices)
    source_chart = _chart(
        [t[0] for t in types],
        [{"name": _("Mentions"), "data": [t[1] for t in types]}],
        _("No mentions in this range"),
    )

    top = counts.top_events
    events = {e.pk: e for e in Event.objects.filter(pk__in=[pk for pk, _n in top])}
    curves = counts.curves
    top_events: list[dict[str, Any]] = [
        {"event": events[pk], "count": n} for pk, n in top if pk in events
    ]
    event_chart = _chart(
        labels,
        [
            {"name": item["event"].title[:16], "data": curves[item["event"].pk]}
            for item in top_events
        ],
        _("No events in this range"),
    )

    active = Alert.objects.filter(status__in=[Alert.Status.OPEN, Alert.Status.ESCALATED])
    alert_levels = dict(
        active.values_list("level").annotate(n=Count("id")).values_list("level", "n")
    )
    open_alerts = list(active.select_related("event").order_by("-level", "-created_at")[:6])

    CaseModel = optional_model("cases", "Case")
    now = timezone.now()
    open_cases = overdue_cases = None
    if CaseModel is not None:
        open_q = CaseModel.objects.exclude(status__in=["closed"])
        open_cases = open_q.count()
        overdue_cases = open_q.filter(close_due_at__lt=now).count()

    from yuqing.duty.selectors import overdue_count

    health = Counter(
        s.health()
        for s in Source.objects.only(
            "enabled", "last_polled_at", "consecutive_failures", "last_duration_ms", "kind"
        )
    )
    health_rows = [
        (value, str(label), health.get(value, 0))
        for value, label in Source.Health.choices
        if health.get(value, 0)
    ]
    return {
        "start": start,
        "end": end,
        "range_key": key,
        "ranges": [
            ("1", _("Today")),
            ("7", _("7 days")),
            ("30", _("30 days")),
            ("90", _("90 days")),
        ],
        "total": total,
        "negative": totals.get("negative", 0),
        "negative_share": round(100 * totals.get("negative", 0) / total) if total else 0,
        "risky": counts.risky,
        "new_events": Event.objects.filter(first_at__gte=lo, first_at__lt=hi).count(),
        "sentiment_chart": sentiment_chart,
        "topic_chart": topic_chart,
        "source_chart": source_chart,
        "event_chart": event_chart,
        "top_events": top_events,
        "alert_levels": [(lvl, alert_levels.get(lvl, 0)) for lvl in (4, 3, 2, 1)],
        "alerts_open": sum(alert_levels.values()),
        "open_alerts": open_alerts,
        "open_cases": open_cases,
        "overdue_cases": overdue_cases,
        "overdue_items": overdue_count(today),
        "health_rows": health_rows,
        "sources_failing": health.get("failing", 0) + health.get("backing_off", 0),
        "charts_json": {
            name: json.dumps(chart, ensure_ascii=False)
            for name, chart in (
                ("sentiment_chart", sentiment_chart),
                ("topic_chart", topic_chart),
                ("source_chart", source_chart),
                ("event_chart", event_chart),
            )
        },
        "updated": timezone.localtime(),
        "query": request.GET.urlencode(),
    }


@require("monitor.view")
def dashboard(request: HttpRequest) -> HttpResponse:
    context = dashboard_context(request)
    if getattr(request, "htmx", False):
        return render(request, "reports/_dashboard_body.html", context)
    return render(request, "reports/dashboard.html", context)


@require("monitor.view")
def display(request: HttpRequest) -> HttpResponse:
    """The duty-room screen: no navigation, large type, refreshes itself every minute."""
    context = dashboard_context(request)
    context["display"] = True
    if getattr(request, "htmx", False):
        return render(request, "reports/_dashboard_body.html", context)
    return render(request, "reports/display.html", context)
