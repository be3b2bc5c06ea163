"""Reads of the monitoring desk: the mention stream, its highlighting, and event figures.

Everything goes through the scoped default managers, so a school user sees their school and a
bureau user the schools under the bureau, with no filter written here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce, TruncDate, TruncHour
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from yuqing.core.tenancy import require_scope
from yuqing.lib.urls import safe_link
from yuqing.monitor import search
from yuqing.monitor.forms import time_bounds
from yuqing.monitor.models import Event, Mention, Sentiment, SourceType
from yuqing.text.search import highlight_spans

PAGE_SIZE = 30
SEARCH_CHUNK = 200
SEARCH_MAX_SCAN = 4_000  # search hits looked at per page before giving the page back short
SNIPPET_CHARS = 160
SNIPPET_LEAD = 40


# -- the stream --------------------------------------------------------------------------------


def _filtered(filters: dict[str, Any]) -> QuerySet[Mention]:
    qs = Mention.objects.select_related("source", "event")
    since, until = time_bounds(filters)
    when = Coalesce("published_at", "fetched_at")
    if since is not None or until is not None:
        qs = qs.annotate(when_at=when)
        if since is not None:
            qs = qs.filter(when_at__gte=since)
        if until is not None:
            qs = qs.filter(when_at__lt=until)
    for name in ("source_type", "sentiment", "topic"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("risk"):
        qs = qs.filter(risk__gte=filters["risk"])
    status = filters.get("status")
    if status == "open":
        qs = qs.filter(status__in=[Mention.Status.NEW, Mention.Status.READ])
    elif status:
        qs = qs.filter(status=status)
    if filters.get("event"):
        qs = qs.filter(event_id=filters["event"])
    relevant = filters.get("relevant", "")
    if relevant == "no":
        qs = qs.filter(relevant=False)
    elif relevant != "all":
        qs = qs.filter(relevant=True)
    return qs


def _school_ids() -> list[int] | None:
    readable = require_scope().readable
    return None if readable is None else sorted(readable)


@dataclass
class StreamPage:
    mentions: list[Mention]
    next_before: int | None  # the cursor of the next (older) page; None at the end
    terms: list[str] = field(default_factory=list)


def mention_stream(
    filters: dict[str, Any], *, before: int | None = None, limit: int = PAGE_SIZE
) -> StreamPage:
    """One page of the stream, newest first (by id), older than ``before`` when given."""
    qs = _filtered(filters)
    query = (filters.get("q") or "").strip()
    terms = search.query_terms(query) if query else []
    if not terms:
        if before is not None:
            qs = qs.filter(pk__lt=before)
        rows = list(qs.order_by("-id")[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return StreamPage(rows, rows[-1].pk if more and rows else None, terms)

    # Full-text search walks the index newest first in chunks; each chunk is narrowed by the
    # other filters in the database, until a page is full or enough hits were looked at.
    found: list[Mention] = []
    cursor = before
    scanned = 0
    exhausted = False
    school_ids = _school_ids()
    while len(found) <= limit and scanned < SEARCH_MAX_SCAN:
        ids = search.matching_ids(school_ids, query, limit=SEARCH_CHUNK, before_id=cursor)
        if not ids:
            exhausted = True
            break
        scanned += len(ids)
        found.extend(qs.filter(pk__in=ids).order_by("-id"))
        cursor = ids[-1]
        if len(ids) < SEARCH_CHUNK:
            exhausted = True
            break
    if len(found) > limit:
        page = found[:limit]
        return StreamPage(page, page[-1].pk, terms)
    return StreamPage(found, None if exhausted else cursor, terms)


def mentions_since(filters: dict[str, Any], *, after: int, limit: int = 100) -> list[Mention]:
    """Mentions newer than id ``after`` that pass the filters, newest first (live updates)."""
    qs = _filtered(filters).filter(pk__gt=after)
    query = (filters.get("q") or "").strip()
    if query and search.query_terms(query):
        ids = search.matching_ids(_school_ids(), query, limit=SEARCH_CHUNK)
        qs = qs.filter(pk__in=[i for i in (ids or []) if i > after])
    return list(qs.order_by("-id")[:limit])


def newest_id() -> int:
    row = Mention.objects.order_by("-id").values_list("pk", flat=True).first()
    return int(row or 0)


# -- how one mention is shown ------------------------------------------------------------------


def highlight(
    text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None
) -> SafeString:
    """``text[start:end]`` escaped, with the spans inside it wrapped in <mark>."""
    end = len(text) if end is None else end
    out: list[str] = []
    pos = start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if e <= s or s < pos:
            continue
        out.append(escape(text[pos:s]))
        out.append(format_html("<mark>{}</mark>", text[s:e]))
        pos = e
    out.append(escape(text[pos:end]))
    # Every piece above is escaped or built by format_html: the join is safe.
    return mark_safe("".join(out))  # noqa: S308


def snippet(text: str, spans: list[tuple[int, int]], width: int = SNIPPET_CHARS) -> SafeString:
    """About ``width`` characters around the first hit (or the start), with hits marked."""
    text = " ".join(text.split())  # crawled text carries layout whitespace
    if not spans:
        cut = text[:width]
        return format_html("{}{}", cut, "…" if len(text) > width else "")
    first = spans[0][0]
    start = max(0, first - SNIPPET_LEAD)
    end = min(len(text), start + width)
    body = highlight(text, spans, start, end)
    return format_html("{}{}{}", "…" if start > 0 else "", body, "…" if end < len(text) else "")


def match_words(mention: Mention) -> list[str]:
    """What the school's scheme found in the mention (subject and event words, as written)."""
    words: list[str] = []
    for hit in mention.matches or []:
        if not isinstance(hit, dict) or hit.get("kind") not in ("subject", "event", "term"):
            continue
        word = str(hit.get("surface") or hit.get("word") or "")
        if word and word not in words:
            words.append(word)
    return words


REASON_NAMES: dict[str, Any] = {
    "relevant": _("About the school"),
    "sentiment": _("Sentiment words"),
    "topic": _("Topic words"),
    "risk": _("Risk"),
    "sarcasm": _("Sarcasm"),
    "denial": _("Denial"),
    "reach": _("Reach"),
    "concrete": _("Concrete details"),
}


@dataclass
class MentionRow:
    mention: Mention
    title: SafeString
    snippet: SafeString
    link: str
    reasons: list[tuple[Any, list[str]]]  # (what the words are evidence of, the words)
    scores: dict[str, Any]
    topic_score: float | None
    sentiment_score: float | None


def _reasons(mention: Mention) -> list[tuple[Any, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for r in mention.reasons or []:
        if not isinstance(r, dict):
            continue
        label = str(r.get("label", ""))
        term = str(r.get("term", ""))
        if not term:
            continue
        terms = grouped.setdefault(label, [])
        if term not in terms and len(terms) < 8:
            terms.append(term)
    return [(REASON_NAMES.get(label, label), terms) for label, terms in grouped.items()]


def mention_row(mention: Mention, terms: list[str]) -> MentionRow:
    words = [*terms, *match_words(mention)]
    text = mention.text or ""
    flat = " ".join(text.split())
    title = mention.title or ""
    scores = mention.scores if isinstance(mention.scores, dict) else {}

    def score(kind: str, key: str) -> float | None:
        value = scores.get(kind, {})
        if isinstance(value, dict) and isinstance(value.get(key), int | float):
            return float(value[key])
        return None

    return MentionRow(
        mention=mention,
        title=highlight(title, highlight_spans(title, words)) if title else SafeString(""),
        snippet=snippet(flat, highlight_spans(flat, words)),
        link=safe_link(mention.url),
        reasons=_reasons(mention),
        scores=scores,
        topic_score=score("topic", mention.topic),
        sentiment_score=score("sentiment", mention.sentiment),
    )


def mention_rows(mentions: list[Mention], terms: list[str]) -> list[MentionRow]:
    return [mention_row(m, terms) for m in mentions]


# -- events ------------------------------------------------------------------------------------

EVENT_SORTS = {
    "latest": ("-latest_at", "-id"),
    "risk": ("-peak_risk", "-latest_at", "-id"),
    "size": ("-mention_count", "-latest_at", "-id"),
}


def event_list(sort: str) -> QuerySet[Event]:
    return Event.objects.order_by(*EVENT_SORTS.get(sort, EVENT_SORTS["latest"]))


@dataclass
class EventFacts:
    count: int
    relevant: int
    first: Mention | None
    latest: Mention | None
    peak_risk: int
    sentiment: dict[str, int]
    sentiment_mix: list[tuple[str, Any, int]]  # value, label, mentions (all three, in order)
    sources: list[tuple[str, str, int]]  # name, source type, mentions
    chart: dict[str, Any]


def event_facts(event: Event) -> EventFacts:
    """The event's figures, computed from its mentions (not from the stored counters)."""
    mentions = Mention.objects.filter(event=event)
    when = Coalesce("published_at", "fetched_at")
    annotated = mentions.annotate(when_at=when).select_related("source")
    first = annotated.order_by("when_at", "id").first()
    latest = annotated.order_by("-when_at", "-id").first()
    sentiment = dict(Counter(mentions.values_list("sentiment", flat=True)))
    relevant = mentions.filter(relevant=True)
    peak = max(relevant.values_list("risk", flat=True), default=0)
    sources = [
        (row["source__name"], _source_type_label(row["source__source_type"]), row["n"])
        for row in mentions.values("source__name", "source__source_type")
        .annotate(n=Count("id"))
        .order_by("-n", "source__name")
    ]
    return EventFacts(
        count=mentions.count(),
        relevant=relevant.count(),
        first=first,
        latest=latest,
        peak_risk=peak,
        sentiment=sentiment,
        sentiment_mix=[(v, label, sentiment.get(v, 0)) for v, label in Sentiment.choices],
        sources=sources,
        chart=_volume_chart(annotated, first, latest),
    )


def _source_type_label(value: str) -> Any:
    return SourceType(value).label if value in SourceType.values else value


def _volume_chart(mentions: QuerySet[Mention], first: Any, latest: Any) -> dict[str, Any]:
    """Mentions per hour (a story of under three days) or per day, as a chart data island."""
    tz = timezone.get_current_timezone()
    if first is None or latest is None:
        return {
            "kind": "line",
            "labels": [],
            "series": [],
            "empty": True,
            "emptyText": str(_("No mentions")),
        }
    start, end = first.when, latest.when
    hourly = end - start <= timedelta(days=3)
    trunc = TruncHour("when_at", tzinfo=tz) if hourly else TruncDate("when_at", tzinfo=tz)
    counts = {
        _bucket(row["bucket"], hourly, tz): row["n"]
        for row in mentions.annotate(bucket=trunc).values("bucket").annotate(n=Count("id"))
    }
    labels, titles, values, negatives = [], [], [], []
    neg_counts = {
        _bucket(row["bucket"], hourly, tz): row["n"]
        for row in mentions.filter(sentiment="negative")
        .annotate(bucket=trunc)
        .values("bucket")
        .annotate(n=Count("id"))
    }
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    cursor = _bucket(timezone.localtime(start, tz), hourly, tz)
    stop = _bucket(timezone.localtime(end, tz), hourly, tz)
    while cursor <= stop:
        labels.append(f"{cursor:%H}:00" if hourly else f"{cursor.month}/{cursor.day}")
        titles.append(f"{cursor:%Y-%m-%d %H:00}" if hourly else f"{cursor:%Y-%m-%d}")
        values.append(counts.get(cursor, 0))
        negatives.append(neg_counts.get(cursor, 0))
        cursor = cursor + step
        if len(labels) > 400:
            break
    return {
        "kind": "bar",
        "labels": labels,
        "titles": titles,
        "series": [
            {"name": str(_("Mentions")), "data": values},
            {"name": str(_("Negative")), "data": negatives},
        ],
        "empty": not any(values),
        "emptyText": str(_("No mentions")),
    }


def _bucket(value: Any, hourly: bool, tz: Any) -> Any:
    """A comparable key for an hour (naive local datetime) or a day (date)."""
    if isinstance(value, datetime):
        local = timezone.localtime(value, tz) if timezone.is_aware(value) else value
        if hourly:
            return local.replace(minute=0, second=0, microsecond=0, tzinfo=None)
        return local.date()
    if isinstance(value, date) and hourly:
        return datetime(value.year, value.month, value.day)
    return value


def event_mentions(event: Event, limit: int = 100) -> list[Mention]:
    return list(
        Mention.objects.filter(event=event).select_related("source").order_by("-id")[:limit]
    )


def open_events(limit: int = 50) -> list[Event]:
    """Events a mention can be added to: the most recent ones still open or watched."""
    return list(Event.objects.filter(~Q(status=Event.Status.CLOSED)).order_by("-latest_at")[:limit])
