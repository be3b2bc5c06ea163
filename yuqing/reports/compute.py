"""The numbers of every report, each with where it came from.

Everything here is a pure read of dated records over a closed period of local days, in a fixed
order, so regenerating a report for the same period gives the same numbers. Handling status
is taken *as of the end of the period* (acknowledged / closed before it ended), not as of
today, for the same reason.

The result is plain JSON (stored on the report, rendered into the DOCX and the page):

    {"kind", "period": {"start", "end", "label"}, "numbers": {key: {"label", "value",
     "source"}}, "tables": {name: [[...], ...]}, "lists": {name: [{...}]},
     "series": {...}, "facts": {section: [str]}, "sections": [...], "notes": [str]}

Cases and security come from apps built alongside this one: their sections appear only when
their tables exist (``optional_model``), and the report says so when they do not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Func, IntegerField, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.reports.models import Kind

TOP_EVENTS = 10
TOP_SOURCES = 10


# --------------------------------------------------------------------------- periods


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def window(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, the day after end 00:00) in the school's time zone."""
    return day_start(start), day_start(end + dt.timedelta(days=1))


def previous_period(kind: str, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    if kind == Kind.MONTHLY:
        last = start - dt.timedelta(days=1)
        return last.replace(day=1), last
    if kind == Kind.HALF_YEAR:
        if start.month == 1:
            return dt.date(start.year - 1, 7, 1), dt.date(start.year - 1, 12, 31)
        return dt.date(start.year, 1, 1), dt.date(start.year, 6, 30)
    days = (end - start).days + 1
    return start - dt.timedelta(days=days), start - dt.timedelta(days=1)


def default_period(kind: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The last complete period before ``today``."""
    if kind == Kind.DAILY:
        day = today - dt.timedelta(days=1)
        return day, day
    if kind == Kind.WEEKLY:
        monday = today - dt.timedelta(days=today.weekday())
        return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)
    if kind == Kind.MONTHLY:
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last
    if today.month <= 6:
        return dt.date(today.year - 1, 7, 1), dt.date(today.year - 1, 12, 31)
    return dt.date(today.year, 1, 1), dt.date(today.year, 6, 30)


def period_label(kind: str, start: dt.date, end: dt.date) -> str:
    if kind == Kind.DAILY:
        return f"{start:%Y-%m-%d}"
    if kind == Kind.MONTHLY:
        return _("%(y)s-%(m)s") % {"y": start.year, "m": f"{start.month:02d}"}
    if kind == Kind.HALF_YEAR:
        half = _("first half") if start.month == 1 else _("second half")
        return _("%(y)s, %(half)s") % {"y": start.year, "half": half}
    return f"{start:%Y-%m-%d} – {end:%Y-%m-%d}"


def optional_model(app_label: str, name: str) -> Any:
    """A model of an app built alongside this one, or None while its table does not exist."""
    try:
        model = apps.get_model(app_label, name)
    except LookupError:
        return None
    try:
        with transaction.atomic():  # a savepoint: a failed probe must not spoil PostgreSQL's tx
            tables = connection.introspection.table_names()
    except DatabaseError:
        return None
    return model if model._meta.db_table in tables else None


# --------------------------------------------------------------------------- collecting


class Collector:
    """Numbers with their provenance, in the order they were added."""

    def __init__(self, start: dt.date, end: dt.date) -> None:
        self.start, self.end = start, end
        self.numbers: dict[str, dict[str, Any]] = {}
        self.notes: list[str] = []

    @property
    def span(self) -> str:
        return f"{self.start:%Y-%m-%d} – {self.end:%Y-%m-%d}"

    def add(self, key: str, label: str, value: Any, source: str) -> Any:
        if isinstance(value, Decimal):
            value = float(value)
        self.numbers[key] = {"label": label, "value": value, "source": source}
        return value


def _mentions(start: dt.date, end: dt.date) -> QuerySet[Any]:
    """Relevant mentions dated in [start, end] (local days): a range of the covering index
    ``mention_school_dated``."""
    from yuqing.monitor.models import Mention

    lo, hi = window(start, end)
    return Mention.objects.filter(relevant=True, dated_at__gte=lo, dated_at__lt=hi)


class _SqliteDayIndex(Func):
    """Whole days since ``lo`` of a stored UTC datetime, computed by SQLite itself."""

    # "%%%%s": Func's formatting leaves "%%s", which Django's SQLite cursor turns into "%s"
    # (a bare "%s" would become a parameter placeholder).
    template = "((CAST(strftime('%%%%s', %(expressions)s) AS INTEGER) - %(lo)s) / 86400)"
    output_field = IntegerField()


def local_day(start: dt.date, end: dt.date, field: str = "dated_at") -> tuple[Any, Any]:
    """(expression, to_date): the local day of ``field`` for grouping rows of [start, end].

    PostgreSQL converts time zones natively. SQLite's ``TruncDate(tzinfo=...)`` calls back into
    Python for every row (a second per million); when every day of the window is 24 hours long
    (no daylight-saving change in it) the day is plain arithmetic on the stored UTC time instead.
    """
    lo, hi = window(start, end)
    # Aware datetimes in one zone subtract as wall times: compare the real elapsed time.
    elapsed = hi.astimezone(dt.UTC) - lo.astimezone(dt.UTC)
    if connection.vendor == "sqlite" and elapsed == dt.timedelta(days=(end - start).days + 1):
        expr = _SqliteDayIndex(field, lo=int(lo.timestamp()))

        def from_index(value: Any) -> dt.date | None:
            return None if value is None else start + dt.timedelta(days=int(value))

        return expr, from_index
    tz = timezone.get_current_timezone()
    return TruncDate(field, tzinfo=tz), lambda value: value


def _label(choices: Any, value: Any) -> str:
    return str(dict(choices).get(value, value))


def monitoring(c: Collector, prefix: str = "") -> dict[str, Any]:
    """Mention counts, topic and source mix, and the per-day series of the period."""
    from yuqing.monitor.models import Sentiment, SourceType, Topic

    qs = _mentions(c.start, c.end)
    src = _("Mentions: relevant, published (or fetched when undated) %(span)s") % {"span": c.span}
    agg = qs.aggregate(
        total=Count("id"),
        negative=Count("id", filter=Q(sentiment=Sentiment.NEGATIVE)),
        risky=Count("id", filter=Q(risk__gte=2)),
        events=Count("event", distinct=True),
    )
    c.add(f"{prefix}mentions", _("Mentions"), agg["total"], src)
    c.add(
        f"{prefix}negative",
        _("Negative mentions"),
        agg["negative"],
        src + " · " + _("sentiment negative"),
    )
    c.add(
        f"{prefix}risky", _("Mentions at yellow risk or above"), agg["risky"], src + " · risk ≥ 2"
    )
    c.add(f"{prefix}events_touched", _("Events with mentions"), agg["events"], src)
    topics = {r["topic"]: r["n"] for r in qs.values("topic").annotate(n=Count("id"))}
    types = {r["source_type"]: r["n"] for r in qs.values("source_type").annotate(n=Count("id"))}
    sources = list(
        qs.values("source__name")
        .annotate(n=Count("id"))
        .order_by("-n", "source__name")[:TOP_SOURCES]
    )
    day_expr, to_date = local_day(c.start, c.end)
    per_day_rows = qs.annotate(day=day_expr).values("day", "sentiment").annotate(n=Count("id"))
    days = [c.start + dt.timedelta(days=i) for i in range((c.end - c.start).days + 1)]
    series = {s: [0] * len(days) for s in Sentiment.values}
    index = {d: i for i, d in enumerate(days)}
    for r in per_day_rows:
        day = to_date(r["day"])
        if day in index and r["sentiment"] in series:
            series[r["sentiment"]][index[day]] += r["n"]
    return {
        "topics": [[_label(Topic.choices, k), topics.get(k, 0)] for k in Topic.values],
        "source_types": [
            [_label(SourceType.choices, k), types.get(k, 0)]
            for k in SourceType.values
            if types.get(k)
        ],
        "sources": [[r["source__name"], r["n"]] for r in sources],
        "days": [f"{d:%m-%d}" for d in days],
        "by_sentiment": {_label(Sentiment.choices, k): v for k, v in series.items()},
    }


def events(c: Collector) -> dict[str, list[dict[str, Any]]]:
    """New events (first mention in the period) and continuing ones that grew in it."""
    from yuqing.monitor.models import Event, Risk

    lo, hi = window(c.start, c.end)
    in_period = {
        r["event"]: r
        for r in _mentions(c.start, c.end)
        .exclude(event=None)
        .values("event")
        .annotate(n=Count("id"), neg=Count("id", filter=Q(sentiment="negative")))
    }
    new_qs = Event.objects.filter(first_at__gte=lo, first_at__lt=hi)
    grown_qs = Event.objects.filter(pk__in=list(in_period), first_at__lt=lo)

    def row(e: Any) -> dict[str, Any]:
        got = in_period.get(e.pk, {"n": 0, "neg": 0})
        return {
            "id": e.pk,
            "title": e.title,
            "summary": (e.summary or "")[:300],
            "first": timezone.localtime(e.first_at).strftime("%Y-%m-%d %H:%M"),
            "mentions": got["n"],
            "negative": got["neg"],
            "risk": _label(Risk.choices, e.peak_risk),
            "risk_level": e.peak_risk,
        }

    new = sorted((row(e) for e in new_qs), key=lambda r: (-r["mentions"], r["id"]))
    grown = sorted((row(e) for e in grown_qs), key=lambda r: (-r["mentions"], r["id"]))
    c.add(
        "events_new",
        _("New events"),
        len(new),
        _("Events whose first mention falls in %(span)s") % {"span": c.span},
    )
    c.add(
        "events_growing",
        _("Continuing events that grew"),
        len(grown),
        _("Events first seen before %(start)s with new mentions in the period")
        % {"start": f"{c.start:%Y-%m-%d}"},
    )
    return {"new": new[:TOP_EVENTS], "growing": grown[:TOP_EVENTS]}


def alerts(c: Collector) -> list[dict[str, Any]]:
    """Alerts raised in the period and how they were handled by its end."""
    from yuqing.alerts.models import Alert, Level

    lo, hi = window(c.start, c.end)
    qs = Alert.objects.filter(created_at__gte=lo, created_at__lt=hi).order_by("created_at", "id")
    src = _("Alerts raised %(span)s; handling as of the end of the period") % {"span": c.span}
    rows = []
    acked = closed = 0
    for a in qs.select_related("acknowledged_by"):
        if a.closed_at is not None and a.closed_at < hi:
            state = _("Closed")
            closed += 1
        elif a.acknowledged_at is not None and a.acknowledged_at < hi:
            state = _("Acknowledged by %(who)s") % {"who": a.acknowledged_by or "—"}
            acked += 1
        else:
            state = _("Not acknowledged")
        minutes = (
            int((a.acknowledged_at - a.created_at).total_seconds() // 60)
            if a.acknowledged_at is not None and a.acknowledged_at < hi
            else None
        )
        rows.append(
            {
                "id": a.pk,
                "level": _label(Level.choices, a.level),
                "level_value": a.level,
                "title": a.title,
                "raised": timezone.localtime(a.created_at).strftime("%m-%d %H:%M"),
                "handling": state,
                "minutes_to_ack": minutes,
            }
        )
    c.add("alerts", _("Alerts raised"), len(rows), src)
    for level, label in Level.choices:
        c.add(
            f"alerts_{level}",
            _("%(level)s alerts") % {"level": label},
            sum(1 for r in rows if r["level_value"] == level),
            src,
        )
    c.add("alerts_handled", _("Alerts acknowledged or closed"), acked + closed, src)
    return rows


def cases(c: Collector) -> list[dict[str, Any]] | None:
    """Cases open at the end of the period, with their deadlines; None without the cases app."""
    Case = optional_model("cases", "Case")
    if Case is None:
        c.notes.append(_("Cases are not counted: the cases module is not installed yet."))
        return None
    lo, hi = window(c.start, c.end)
    open_at_end = Case.objects.filter(created_at__lt=hi).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gte=hi)
    )
    opened = Case.objects.filter(created_at__gte=lo, created_at__lt=hi).count()
    closed = Case.objects.filter(closed_at__gte=lo, closed_at__lt=hi).count()
    src = _("Cases opened before the end of %(span)s and not closed by then") % {"span": c.span}
    rows = []
    for case in open_at_end.order_by("close_due_at", "id")[:50]:
        due = getattr(case, "close_due_at", None)
        rows.append(
            {
                "number": case.number,
                "title": case.title,
                "status": case.get_status_display(),
                "due": timezone.localtime(due).strftime("%Y-%m-%d %H:%M") if due else "",
                "overdue": bool(due and due < hi),
            }
        )
    c.add("cases_open", _("Cases open at the end"), open_at_end.count(), src)
    c.add(
        "cases_opened",
        _("Cases opened"),
        opened,
        _("Cases opened %(span)s") % {"span": c.span},
    )
    c.add(
        "cases_closed",
        _("Cases closed"),
        closed,
        _("Cases closed %(span)s") % {"span": c.span},
    )
    return rows


def security(c: Collector) -> None:
    lo, hi = window(c.start, c.end)
    CheckRun = optional_model("security", "CheckRun")
    Finding = optional_model("security", "Finding")
    if CheckRun is None or Finding is None:
        c.notes.append(
            _("Security checks are not counted: the security module is not installed yet.")
        )
        return
    c.add(
        "checks",
        _("Security checks performed"),
        CheckRun.objects.filter(started_at__gte=lo, started_at__lt=hi).count(),
        _("Security check runs started %(span)s") % {"span": c.span},
    )
    c.add(
        "findings_new",
        _("Security findings"),
        Finding.objects.filter(first_seen__gte=lo, first_seen__lt=hi).count(),
        _("Findings first seen %(span)s") % {"span": c.span},
    )
    c.add(
        "findings_fixed",
        _("Findings fixed"),
        Finding.objects.filter(fixed_at__gte=lo, fixed_at__lt=hi).count(),
        _("Findings marked fixed %(span)s") % {"span": c.span},
    )


def duty(c: Collector) -> dict[str, Any]:
    from yuqing.duty import selectors, services
    from yuqing.duty.models import Group

    period = selectors.Period(c.start, c.end, c.span)
    study = selectors.study_counts(period)
    training = selectors.training_counts(period)
    activity = selectors.activity_counts(period)
    resp = selectors.responsibility_counts(period)
    src_s = _("Study sessions held %(span)s") % {"span": c.span}
    c.add("study_sessions", _("Study sessions"), sum(x.count for x in study), src_s)
    c.add(
        "study_hours",
        _("Study hours"),
        float(sum((x.hours or Decimal(0) for x in study), Decimal(0))),
        src_s,
    )
    c.add(
        "seminars",
        _("Seminars (研讨交流)"),
        next(x.count for x in study if x.kind == "seminar"),
        src_s + " · " + _("type seminar"),
    )
    c.add(
        "trainings",
        _("Trainings"),
        sum(x.count for x in training),
        _("Trainings held %(span)s") % {"span": c.span},
    )
    c.add(
        "activities",
        _("Education activities"),
        sum(x.count for x in activity),
        _("Education activities held %(span)s") % {"span": c.span},
    )
    c.add(
        "activity_participants",
        _("Students taking part"),
        sum(x.extra or 0 for x in activity),
        _("Sum of participants of the education activities %(span)s") % {"span": c.span},
    )
    src_r = _("Responsibility items due %(span)s") % {"span": c.span}
    c.add("resp_due", _("Responsibility items due"), sum(x.count for x in resp), src_r)
    c.add("resp_done", _("Of those, done"), sum(x.extra or 0 for x in resp), src_r)
    groups = []
    for g in Group.objects.order_by("kind", "name"):
        groups.append(
            {
                "name": g.name,
                "kind": g.get_kind_display(),
                "members": [
                    f"{m.get_role_display()}：{m.user}" for m in services.members_on(g, c.end)
                ],
            }
        )
    c.add(
        "groups",
        _("Leadership and working groups"),
        len(groups),
        _("Groups on record; members as of %(end)s") % {"end": f"{c.end:%Y-%m-%d}"},
    )
    return {
        "groups": groups,
        "study": [[x.label, x.count, float(x.hours or 0)] for x in study],
        "trainings": [[x.label, x.count, float(x.hours or 0)] for x in training],
        "activities": [[x.label, x.count, x.extra or 0] for x in activity],
        "responsibilities": [[x.label, x.count, x.extra or 0] for x in resp],
    }


def daily_reports_in(c: Collector) -> None:
    from yuqing.duty.models import SpecialPeriod
    from yuqing.reports.models import Report

    days = 0
    for p in SpecialPeriod.objects.filter(starts_on__lte=c.end, ends_on__gte=c.start):
        first, last = max(p.starts_on, c.start), min(p.ends_on, c.end)
        days += (last - first).days + 1
    c.add(
        "special_days",
        _("Days in special periods"),
        days,
        _("Days of special periods falling in %(span)s") % {"span": c.span},
    )
    c.add(
        "daily_reports",
        _("Daily reports issued"),
        Report.objects.filter(kind=Kind.DAILY, period_start__gte=c.start, period_end__lte=c.end)
        .values("period_start")
        .distinct()
        .count(),
        _("Days of %(span)s with at least one daily report") % {"span": c.span},
    )


# --------------------------------------------------------------------------- reports


def _trend(now: Any, before: Any) -> dict[str, Any]:
    if not isinstance(now, int | float) or not isinstance(before, int | float):
        return {}
    change = now - before
    pct = None if before == 0 else round(100.0 * change / before, 1)
    return {"before": before, "change": change, "pct": pct}


def _base(kind: str, start: dt.date, end: dt.date) -> tuple[Collector, dict[str, Any]]:
    c = Collector(start, end)
    data: dict[str, Any] = {
        "kind": kind,
        "period": {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "label": period_label(kind, start, end),
        },
        "tables": {},
        "lists": {},
        "facts": {},
    }
    return c, data


def _finish(c: Collector, data: dict[str, Any]) -> dict[str, Any]:
    data["numbers"] = c.numbers
    data["notes"] = c.notes
    return data


def daily(start: dt.date, end: dt.date) -> dict[str, Any]:
    c, data = _base(Kind.DAILY, start, end)
    mix = monitoring(c)
    data["tables"].update(
        topics=mix["topics"], source_types=mix["source_types"], sources=mix["sources"]
    )
    data["series"] = {"days": mix["days"], "by_sentiment": mix["by_sentiment"]}
    data["lists"].update(events(c), alerts=alerts(c))
    data["lists"]["cases"] = cases(c)
    return _finish(c, data)


def periodic(kind: str, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Weekly and monthly: the daily figures over the period, and trends against the last."""
    data = daily(start, end)
    data["kind"] = kind
    data["period"]["label"] = period_label(kind, start, end)
    c = Collector(start, end)
    c.numbers = dict(data["numbers"])
    daily_reports_in(c)
    data["numbers"] = c.numbers
    p_start, p_end = previous_period(kind, start, end)
    prev = Collector(p_start, p_end)
    prev_mix = monitoring(prev)
    events(prev)
    alerts(prev)
    data["previous"] = {
        "start": p_start.isoformat(),
        "end": p_end.isoformat(),
        "label": period_label(kind, p_start, p_end),
    }
    data["trends"] = {
        key: _trend(c.numbers[key]["value"], prev.numbers[key]["value"])
        for key in c.numbers
        if key in prev.numbers
    }
    before = dict(prev_mix["topics"])
    data["tables"]["topic_trend"] = [
        [label, n, before.get(label, 0), n - before.get(label, 0)]
        for label, n in data["tables"]["topics"]
    ]
    return data


def half_year(start: dt.date, end: dt.date) -> dict[str, Any]:
    c, data = _base(Kind.HALF_YEAR, start, end)
    work = duty(c)
    security(c)
    mix = monitoring(c)
    ev = events(c)
    al = alerts(c)
    cs = cases(c)
    daily_reports_in(c)
    data["tables"].update(
        topics=mix["topics"],
        source_types=mix["source_types"],
        sources=mix["sources"],
        study=work["study"],
        trainings=work["trainings"],
        activities=work["activities"],
        responsibilities=work["responsibilities"],
    )
    data["lists"].update(groups=work["groups"], alerts=al, cases=cs, **ev)
    # Monthly counts for the trend chart: six points, each from the same mention query.
    months = []
    cursor = start
    while cursor <= end:
        nxt = (cursor.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        last = min(nxt - dt.timedelta(days=1), end)
        qs = _mentions(cursor, last)
        months.append(
            [
                f"{cursor.month}月",
                qs.count(),
                qs.filter(sentiment="negative").count(),
            ]
        )
        cursor = nxt
    data["series"] = {"months": months}
    p_start, p_end = previous_period(Kind.HALF_YEAR, start, end)
    prev = Collector(p_start, p_end)
    monitoring(prev)
    data["trends"] = {
        k: _trend(c.numbers[k]["value"], prev.numbers[k]["value"])
        for k in ("mentions", "negative", "risky")
    }
    n = c.numbers

    def v(key: str) -> Any:
        return n[key]["value"] if key in n else "—"

    data["facts"] = {
        "organisation": [
            _("%(n)s groups on record") % {"n": v("groups")},
            *[f"{g['name']}（{g['kind']}）：{'；'.join(g['members'])}" for g in work["groups"]],
        ],
        "study": [
            _("%(n)s study sessions, %(h)s hours, of which %(s)s seminars")
            % {"n": v("study_sessions"), "h": v("study_hours"), "s": v("seminars")},
            _("%(n)s trainings for monitoring and IT staff") % {"n": v("trainings")},
        ],
        "security": [
            _("%(c)s security checks, %(f)s findings, %(x)s fixed")
            % {"c": v("checks"), "f": v("findings_new"), "x": v("findings_fixed")}
        ],
        "monitoring": [
            _("%(m)s mentions, %(neg)s negative, %(e)s new events, %(a)s alerts")
            % {"m": v("mentions"), "neg": v("negative"), "e": v("events_new"), "a": v("alerts")},
            _("%(d)s days in special periods, %(r)s daily reports")
            % {"d": v("special_days"), "r": v("daily_reports")},
        ],
        "education": [
            _("%(n)s education activities with %(p)s students taking part")
            % {"n": v("activities"), "p": v("activity_participants")}
        ],
        "incidents": [
            f"{e['first'][:10]} {e['title']}（{e['risk']}，{e['mentions']}）"
            for e in ev["new"]
            if e["risk_level"] >= 2
        ]
        + ([f"{x['number']} {x['title']}（{x['status']}）" for x in cs] if cs else []),
        "problems": [
            _("%(n)s responsibility items due in the period were not done")
            % {"n": (v("resp_due") or 0) - (v("resp_done") or 0)}
            if isinstance(v("resp_due"), int)
            else "",
            _("%(n)s alerts were not acknowledged by the end of the period")
            % {"n": sum(1 for a in al if a["minutes_to_ack"] is None)},
        ],
    }
    return _finish(c, data)


BUILDERS: dict[str, Callable[[dt.date, dt.date], dict[str, Any]]] = {
    Kind.DAILY: daily,
    Kind.WEEKLY: lambda s, e: periodic(Kind.WEEKLY, s, e),
    Kind.MONTHLY: lambda s, e: periodic(Kind.MONTHLY, s, e),
    Kind.HALF_YEAR: half_year,
}


def compute(kind: str, start: dt.date, end: dt.date) -> dict[str, Any]:
    return BUILDERS[kind](start, end)
