"""Writes of the monitor module: turning fetched items into mentions and events."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from yuqing.lib.urls import is_http_url
from yuqing.monitor import search
from yuqing.monitor.models import Event, EventIndexState, Mention, Scheme, Source
from yuqing.text.normalize import normalize
from yuqing.text.pipeline import clusterer_for, hit_json, primary_match, scores_json
from yuqing.text.types import Post

_WS = re.compile(r"\s+")
MAX_TEXT = 100_000  # characters kept of one item; a 50 MB page is not a mention


@dataclass(frozen=True, slots=True)
class IncomingItem:
    """One item from any collector, before it is known whether it is new or relevant."""

    text: str
    title: str = ""
    url: str = ""
    author: str = ""
    published_at: datetime | None = None
    source_type: str = ""


@dataclass(slots=True)
class IngestResult:
    seen: int = 0
    new: int = 0
    duplicates: int = 0
    unmatched: int = 0
    mention_ids: list[int] = field(default_factory=list)
    event_ids: set[int] = field(default_factory=set)


def content_hash(title: str, text: str) -> str:
    """Same content, same hash: normalised (width, script, case) and whitespace-collapsed."""
    folded = _WS.sub(" ", normalize(f"{title}\n{text}").text.lower()).strip()
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


def _url_hash(url: str) -> str:
    from yuqing.lib.urls import canonical_url

    if not url:
        return ""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()


# -- the school's compiled schemes ------------------------------------------------------------

_engine_lock = threading.Lock()
_engines: dict[int, tuple[tuple[Any, ...], Any, list[Any]]] = {}


def school_engine(school_id: int) -> tuple[Any, list[Any]]:
    """The matcher and engine schemes of a school's active schemes, compiled once and reused
    until they change."""
    from yuqing.text.matcher import Matcher
    from yuqing.text.scheme import Scheme as EngineScheme

    schemes = list(Scheme.objects.filter(school_id=school_id, is_active=True).order_by("pk"))
    stamp = tuple((s.pk, s.updated_at) for s in schemes)
    with _engine_lock:
        cached = _engines.get(school_id)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
    engine_schemes = [EngineScheme.from_dict(s.as_engine_dict()) for s in schemes]
    matcher = Matcher(engine_schemes)
    with _engine_lock:
        _engines[school_id] = (stamp, matcher, engine_schemes)
    return matcher, engine_schemes


# -- ingestion -------------------------------------------------------------------------------


def mentions_ingest(*, source: Source, items: Sequence[IncomingItem]) -> IngestResult:
    """Store the items that match a scheme as mentions, each exactly once.

    Idempotent and crash-safe: the batch commits in one transaction, under a per-school row
    lock, after re-checking which URLs and contents already exist. A worker killed half-way
    leaves nothing; the retried batch stores each item once.
    """
    result = IngestResult(seen=len(items))
    school_id = source.school_id
    prepared: list[tuple[IncomingItem, str, str]] = []
    batch_urls: set[str] = set()
    batch_contents: set[str] = set()
    for item in items:
        text = (item.text or "")[:MAX_TEXT]
        if not text.strip() and not item.title.strip():
            result.duplicates += 1  # nothing to store; counted with the skipped
            continue
        item = IncomingItem(
            text=text,
            title=item.title[:500],
            # Only a web address is a link: a javascript: or data: "URL" from a feed or a push
            # would be an XSS link wherever a page shows the original.
            url=item.url[:2000] if is_http_url(item.url.strip()) else "",
            author=item.author[:200],
            published_at=item.published_at,
            source_type=item.source_type,
        )
        uh, ch = _url_hash(item.url), content_hash(item.title, item.text)
        if (uh and uh in batch_urls) or ch in batch_contents:
            result.duplicates += 1
            continue
        if uh:
            batch_urls.add(uh)
        batch_contents.add(ch)
        prepared.append((item, uh, ch))
    if not prepared:
        return result

    matcher, schemes = school_engine(school_id)
    matches = [tuple(matcher.match(it.title, it.text)) for it, _u, _c in prepared]
    kept = [(p, m) for p, m in zip(prepared, matches, strict=True) if any(x.matched for x in m)]
    result.unmatched = len(prepared) - len(kept)

    with transaction.atomic():
        state_row = _lock_event_state(school_id)
        existing_urls, existing_contents = _existing(school_id, kept)
        fresh = [
            (p, m)
            for p, m in kept
            if not ((p[1] and p[1] in existing_urls) or p[2] in existing_contents)
        ]
        result.duplicates += len(kept) - len(fresh)
        if fresh:
            _store(source, fresh, state_row, schemes, result)
        if result.mention_ids:
            from yuqing.alerts.services import alerts_evaluate_after_ingest

            # Inside the transaction: the evaluation request commits with the mentions, so a
            # crash between the two cannot lose an alert.
            alerts_evaluate_after_ingest(
                school_id=school_id, event_ids=result.event_ids, mention_ids=result.mention_ids
            )
        Source.objects.filter(pk=source.pk).update(
            items_total=F("items_total") + result.new,
            items_unmatched=F("items_unmatched") + result.unmatched,
        )
    return result


def _lock_event_state(school_id: int) -> EventIndexState:
    row = EventIndexState.objects.select_for_update().filter(school_id=school_id).first()
    if row is None:
        EventIndexState.objects.get_or_create(school_id=school_id)
        row = EventIndexState.objects.select_for_update().get(school_id=school_id)
    return row


def _existing(school_id: int, kept: Sequence[Any]) -> tuple[set[str], set[str]]:
    urls = [p[1] for p, _m in kept if p[1]]
    contents = [p[2] for p, _m in kept]
    qs = Mention.objects.filter(school_id=school_id)
    existing_urls = (
        set(qs.filter(url_hash__in=urls).values_list("url_hash", flat=True)) if urls else set()
    )
    existing_contents = set(
        qs.filter(content_hash__in=contents).values_list("content_hash", flat=True)
    )
    return existing_urls, existing_contents


def _store(
    source: Source,
    fresh: Sequence[Any],
    state_row: EventIndexState,
    schemes: list[Any],
    result: IngestResult,
) -> None:
    from yuqing.text.events import EventClusterer

    now = timezone.now()
    posts = [
        Post(
            id=p[2],
            text=p[0].text,
            title=p[0].title,
            source_type=p[0].source_type or source.source_type,
            source_name=source.name,
            url=p[0].url,
            author=p[0].author,
            published_at=p[0].published_at,
        )
        for p, _m in fresh
    ]
    from yuqing.monitor.corrections import classifier_for_school
    from yuqing.text.pipeline import label_batch

    primaries = [primary_match(m) for _p, m in fresh]
    # The school's own retrained model when it has one; each post judged against the scheme
    # it matched, so that relevance (same-named schools, streets) is decided, not assumed.
    classifier = classifier_for_school(source.school_id)
    labels = label_batch(classifier, posts, primaries, schemes)

    clusterer = (
        EventClusterer.from_state(state_row.state) if state_row.state else clusterer_for(schemes)
    )
    mentions: list[Mention] = []
    keys: list[str] = []
    for post, (p, m), lab in zip(posts, fresh, labels, strict=True):
        item, uh, ch = p
        keys.append(clusterer.add(post.id, post.text, post.published_at or now, title=post.title))
        mentions.append(
            Mention(
                school_id=source.school_id,
                source=source,
                source_type=post.source_type,
                url=item.url,
                url_hash=uh,
                content_hash=ch,
                title=item.title,
                text=item.text,
                author=item.author,
                published_at=item.published_at,
                fetched_at=now,
                relevant=bool(lab.relevant),
                relevance=float(lab.relevance),
                sentiment=lab.sentiment,
                topic=lab.topic,
                risk=max(0, min(4, int(lab.risk))),
                scores=scores_json(lab),
                reasons=[
                    {
                        "label": r.label,
                        "term": r.term,
                        "weight": round(r.weight, 3),
                        "start": r.start,
                        "end": r.end,
                    }
                    for r in lab.reasons
                ][:50],
                matches=[hit_json(x.scheme, h) for x in m for h in x.hits][:100],
            )
        )
    state_row.state = clusterer.state()
    state_row.save(update_fields=["state", "updated_at"])

    events = _events_for(source.school_id, keys, mentions)
    for mention, key in zip(mentions, keys, strict=True):
        mention.event = events[key]
    Mention.objects.bulk_create(mentions)
    search.index_mentions((x.pk, x.school_id, x.title, x.text) for x in mentions)
    result.new = len(mentions)
    result.mention_ids = [x.pk for x in mentions]
    result.event_ids = {e.pk for e in events.values()}


def _events_for(school_id: int, keys: list[str], mentions: list[Mention]) -> dict[str, Event]:
    """Create or update the events of a batch: counts, time span and peak risk."""
    existing = {e.key: e for e in Event.objects.filter(school_id=school_id, key__in=set(keys))}
    grouped: dict[str, list[Mention]] = {}
    for key, mention in zip(keys, mentions, strict=True):
        grouped.setdefault(key, []).append(mention)
    for key, group in grouped.items():
        times = [m.published_at or m.fetched_at for m in group]
        relevant = [m for m in group if m.relevant] or group
        negative = sum(1 for m in group if m.sentiment == "negative")
        peak = max(m.risk for m in relevant)
        if key in existing:
            Event.objects.filter(pk=existing[key].pk).update(
                mention_count=F("mention_count") + len(group),
                negative_count=F("negative_count") + negative,
                first_at=Least("first_at", min(times)),
                latest_at=Greatest("latest_at", max(times)),
                peak_risk=Greatest("peak_risk", peak),
            )
        else:
            first = min(group, key=lambda m: m.published_at or m.fetched_at)
            existing[key] = Event.objects.create(
                school_id=school_id,
                key=key,
                title=(first.title or first.text[:60]).strip()[:300],
                first_at=min(times),
                latest_at=max(times),
                mention_count=len(group),
                negative_count=negative,
                peak_risk=peak,
            )
    return existing
