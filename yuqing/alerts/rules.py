"""Evaluating alert rules: on one ingest batch (live) and over a past period (rule testing).

Both modes produce ``Firing`` values and create nothing; ``services.alert_raise`` turns a live
firing into an alert (or folds it into an existing one). Reads only: callers set the scope.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from yuqing.alerts.models import AlertRule, Level
from yuqing.monitor.models import Event, Mention, Source

Kind = AlertRule.Kind
MAX_MENTIONS_KEPT = 20

DEFAULTS: dict[str, dict[str, Any]] = {
    Kind.RISK_LEVEL: {"min_risk": 3},
    Kind.BURST: {
        "window_minutes": 60,
        "baseline_hours": 24,
        "method": "poisson",
        "threshold": 0.001,
        "min_count": 5,
    },
    Kind.HIGH_RISK_WORDS: {"words": []},
    Kind.WATCHED_SOURCE: {"authoritative": True, "source_ids": []},
    Kind.NEGATIVE_RATIO: {"ratio": 0.5, "min_count": 10},
}


@dataclass
class Firing:
    rule_id: int | None
    rule_name: str
    level: int
    title: str
    reason: str
    event_id: int | None = None
    key: str = ""  # for alerts about no single event
    mention_ids: list[int] = field(default_factory=list)
    snapshot: dict[str, Any] = field(default_factory=dict)
    at: dt.datetime | None = None  # when it would have fired (rule testing)


# --------------------------------------------------------------------------- parameters


def _number(
    params: dict[str, Any], name: str, *, low: float, high: float, integer: bool = False
) -> float:
    raw = params.get(name)
    try:
        value = int(raw) if integer else float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError({name: _("Enter a number.")}) from None
    if not (low <= value <= high) or (isinstance(value, float) and math.isnan(value)):
        raise ValidationError(
            {name: _("Enter a value from %(low)s to %(high)s.") % {"low": low, "high": high}}
        )
    return value


def clean_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The rule's settings with defaults filled in; ValidationError names the bad field."""
    if kind not in DEFAULTS:
        raise ValidationError({"kind": _("Unknown rule kind.")})
    merged = {**DEFAULTS[kind], **{k: v for k, v in (params or {}).items() if v not in (None, "")}}
    out: dict[str, Any] = {}
    if kind == Kind.RISK_LEVEL:
        out["min_risk"] = _number(merged, "min_risk", low=1, high=4, integer=True)
    elif kind == Kind.BURST:
        out["window_minutes"] = _number(merged, "window_minutes", low=5, high=1440, integer=True)
        out["baseline_hours"] = _number(merged, "baseline_hours", low=1, high=24 * 14, integer=True)
        method = str(merged.get("method"))
        if method not in ("poisson", "zscore"):
            raise ValidationError({"method": _("Choose the Poisson test or the z-score.")})
        out["method"] = method
        if method == "poisson":
            out["threshold"] = _number(merged, "threshold", low=1e-12, high=0.2)
        else:
            out["threshold"] = _number(merged, "threshold", low=1, high=20)
        out["min_count"] = _number(merged, "min_count", low=1, high=100_000, integer=True)
    elif kind == Kind.HIGH_RISK_WORDS:
        words = merged.get("words") or []
        if isinstance(words, str):
            words = [w for w in words.replace("，", ",").replace("\n", ",").split(",")]
        words = list(dict.fromkeys(w.strip() for w in words if str(w).strip()))
        if not words:
            raise ValidationError({"words": _("Enter at least one word.")})
        if len(words) > 2000 or any(len(w) > 100 for w in words):
            raise ValidationError({"words": _("At most 2000 words of up to 100 characters.")})
        out["words"] = words
    elif kind == Kind.WATCHED_SOURCE:
        out["authoritative"] = bool(merged.get("authoritative"))
        ids = merged.get("source_ids") or []
        try:
            out["source_ids"] = sorted({int(x) for x in ids})
        except (TypeError, ValueError):
            raise ValidationError({"source_ids": _("Choose sources from the list.")}) from None
        if not out["authoritative"] and not out["source_ids"]:
            raise ValidationError(
                {"source_ids": _("Choose sources, or watch every authoritative outlet.")}
            )
    elif kind == Kind.NEGATIVE_RATIO:
        out["ratio"] = _number(merged, "ratio", low=0.01, high=1)
        out["min_count"] = _number(merged, "min_count", low=1, high=100_000, integer=True)
    return out


# --------------------------------------------------------------------------- statistics


def poisson_tail(observed: int, expected: float) -> float:
    """P(X ≥ observed) for X ~ Poisson(expected), summed in log space (no overflow)."""
    if observed <= 0:
        return 1.0
    lam = max(expected, 1e-9)
    if observed <= lam:
        return 1.0  # not above the expectation: never a burst, whatever the exact tail is
    log_term = -lam + observed * math.log(lam) - math.lgamma(observed + 1)
    total = 0.0
    k = observed
    while True:
        term = math.exp(log_term)
        total += term
        k += 1
        log_term += math.log(lam) - math.log(k)
        if term < total * 1e-12 or k > observed + 10_000:
            break
    return min(1.0, total)


def z_score(observed: int, expected: float) -> float:
    lam = max(expected, 1e-9)
    return (observed - lam) / math.sqrt(lam)


@dataclass(frozen=True)
class BurstVerdict:
    fired: bool
    observed: int
    expected: float
    own: float
    school: float
    statistic: float


# A floor on the expected rate: a brand-new event has no history, and "3 posts where 0 were
# expected" must not count as a one-in-a-billion burst.
MIN_EXPECTED = 0.5


def burst_verdict(
    params: dict[str, Any], observed: int, own_rate: float, school_rate: float
) -> BurstVerdict:
    expected = max(own_rate, school_rate, MIN_EXPECTED)
    if params["method"] == "poisson":
        stat = poisson_tail(observed, expected)
        significant = stat <= params["threshold"]
    else:
        stat = z_score(observed, expected)
        significant = stat >= params["threshold"]
    fired = observed >= params["min_count"] and significant
    return BurstVerdict(fired, observed, expected, own_rate, school_rate, stat)


def _burst_reason(params: dict[str, Any], v: BurstVerdict) -> str:
    stat = (
        _("p = %(p).2g") % {"p": v.statistic}
        if params["method"] == "poisson"
        else _("z = %(z).1f") % {"z": v.statistic}
    )
    return _(
        "%(n)s mentions in %(w)s minutes; about %(e).1f expected (its own baseline %(own).1f, "
        "the school's %(school).1f); %(stat)s."
    ) % {
        "n": v.observed,
        "w": params["window_minutes"],
        "e": v.expected,
        "own": v.own,
        "school": v.school,
        "stat": stat,
    }


# --------------------------------------------------------------------------- word matching

_word_lock = threading.Lock()
_word_matchers: dict[tuple[int, tuple[str, ...]], Any] = {}


def word_matcher(rule_id: int, words: Sequence[str]) -> Any:
    """The text engine's automaton for a rule's words, compiled once per word list."""
    from yuqing.text.matcher import Matcher
    from yuqing.text.scheme import Scheme

    key = (rule_id, tuple(words))
    with _word_lock:
        found = _word_matchers.get(key)
    if found is None:
        scheme = Scheme(name=f"rule-{rule_id}", subject_words=tuple(words), id=rule_id)
        # Homophone variants are for the school's names; risk words match as written
        # (normalised for width, script, case and inserted separators).
        found = Matcher([scheme], variants=False)
        with _word_lock:
            if len(_word_matchers) > 500:
                _word_matchers.clear()
            _word_matchers[key] = found
    return found


def words_in(matcher: Any, title: str, text: str) -> list[str]:
    found: dict[str, None] = {}
    for result in matcher.match(title or "", text or "", all_schemes=True):
        for hit in result.hits:
            found.setdefault(hit.word, None)
    return list(found)


# --------------------------------------------------------------------------- helpers

WHEN = Coalesce("published_at", "fetched_at")


def _event_snapshot(event: Event) -> dict[str, Any]:
    return {
        "peak_risk": event.peak_risk,
        "mention_count": event.mention_count,
        "negative_count": event.negative_count,
    }


def _level_name(level: int) -> str:
    return str(Level(level).label)


def authoritative_source_ids() -> set[int]:
    return set(Source.objects.filter(is_authoritative=True).values_list("pk", flat=True))


def _school_event_rate(end: dt.datetime, window: dt.timedelta) -> float:
    """Mentions per event per window over the week before ``end``: the school's baseline."""
    start = end - dt.timedelta(days=7)
    row = (
        Mention.objects.annotate(seen_at=WHEN)
        .filter(seen_at__gte=start, seen_at__lt=end, relevant=True)
        .aggregate(n=Count("id"), events=Count("event_id", distinct=True))
    )
    n, events = row["n"] or 0, row["events"] or 0
    if not n or not events:
        return 0.0
    windows = (end - start) / window
    return n / events / windows


# --------------------------------------------------------------------------- live evaluation


def evaluate_batch(
    *,
    rules: Iterable[AlertRule],
    event_ids: Iterable[int],
    mention_ids: Iterable[int],
    now: dt.datetime,
) -> list[Firing]:
    """What the rules say about one ingest batch. Creates nothing."""
    rules = [r for r in rules if r.enabled]
    event_ids = sorted(set(event_ids))
    mention_ids = sorted(set(mention_ids))
    if not rules:
        return []
    mentions = list(
        Mention.objects.filter(pk__in=mention_ids, relevant=True).only(
            "id", "event_id", "title", "text", "source_id", "sentiment", "risk"
        )
    )
    relevant_events = {m.event_id for m in mentions if m.event_id}
    if event_ids:
        relevant_events |= set(
            Mention.objects.filter(event_id__in=event_ids, relevant=True)
            .values_list("event_id", flat=True)
            .distinct()
        )
    events = {
        e.pk: e for e in Event.objects.filter(pk__in=[i for i in event_ids if i in relevant_events])
    }
    for m in mentions:
        if m.event_id and m.event_id not in events:
            ev = Event.objects.filter(pk=m.event_id).first()
            if ev is not None:
                events[ev.pk] = ev
    by_event: dict[int | None, list[Mention]] = defaultdict(list)
    for m in mentions:
        by_event[m.event_id].append(m)

    firings: list[Firing] = []
    for rule in rules:
        params = clean_params(rule.kind, rule.params)
        if rule.kind == Kind.RISK_LEVEL:
            firings.extend(_risk_firings(rule, params, events.values(), by_event))
        elif rule.kind == Kind.BURST:
            firings.extend(_burst_firings(rule, params, events, now))
        elif rule.kind == Kind.HIGH_RISK_WORDS:
            firings.extend(_word_firings(rule, params, mentions, events))
        elif rule.kind == Kind.WATCHED_SOURCE:
            firings.extend(_source_firings(rule, params, mentions, events))
        elif rule.kind == Kind.NEGATIVE_RATIO and mentions:
            found = _negative_ratio_firing(rule, params, now)
            if found is not None:
                firings.append(found)
    return firings


def _risk_firings(
    rule: AlertRule,
    params: dict[str, Any],
    events: Iterable[Event],
    by_event: dict[int | None, list[Mention]],
) -> list[Firing]:
    out = []
    for event in events:
        if event.peak_risk < params["min_risk"]:
            continue
        # The alert grade follows the event's risk: a red story is a red alert even when the
        # rule that caught it starts at yellow.
        level = max(rule.level, min(4, event.peak_risk))
        risky = sorted(
            (m.pk for m in by_event.get(event.pk, []) if m.risk >= params["min_risk"]),
            reverse=True,
        )
        out.append(
            Firing(
                rule.pk,
                rule.name,
                level,
                event.title,
                _("The event's risk reached %(level)s (rule: risk at least %(min)s).")
                % {"level": _level_name(min(4, event.peak_risk)), "min": params["min_risk"]},
                event_id=event.pk,
                mention_ids=risky[:MAX_MENTIONS_KEPT],
                snapshot=_event_snapshot(event),
            )
        )
    return out


def _burst_firings(
    rule: AlertRule, params: dict[str, Any], events: dict[int, Event], now: dt.datetime
) -> list[Firing]:
    if not events:
        return []
    window = dt.timedelta(minutes=params["window_minutes"])
    baseline = dt.timedelta(hours=params["baseline_hours"])
    ids = list(events)
    qs = Mention.objects.annotate(seen_at=WHEN).filter(event_id__in=ids, relevant=True)
    current = dict(
        qs.filter(seen_at__gt=now - window, seen_at__lte=now)
        .values("event_id")
        .annotate(n=Count("id"))
        .values_list("event_id", "n")
    )
    before = dict(
        qs.filter(seen_at__gte=now - window - baseline, seen_at__lte=now - window)
        .values("event_id")
        .annotate(n=Count("id"))
        .values_list("event_id", "n")
    )
    school_rate = _school_event_rate(now - window, window)
    out = []
    for pk, event in events.items():
        observed = int(current.get(pk, 0))
        if observed < params["min_count"]:
            continue
        own = before.get(pk, 0) / (baseline / window)
        verdict = burst_verdict(params, observed, own, school_rate)
        if verdict.fired:
            out.append(
                Firing(
                    rule.pk,
                    rule.name,
                    rule.level,
                    event.title,
                    _burst_reason(params, verdict),
                    event_id=pk,
                    snapshot=_event_snapshot(event),
                )
            )
    return out


def _word_firings(
    rule: AlertRule, params: dict[str, Any], mentions: list[Mention], events: dict[int, Event]
) -> list[Firing]:
    matcher = word_matcher(rule.pk or 0, params["words"])
    found: dict[int, tuple[list[int], dict[str, None]]] = {}
    for m in mentions:
        if m.event_id is None:
            continue
        words = words_in(matcher, m.title, m.text)
        if words:
            ids, seen = found.setdefault(m.event_id, ([], {}))
            ids.append(m.pk)
            seen.update(dict.fromkeys(words))
    out = []
    for event_id, (ids, seen) in found.items():
        event = events.get(event_id)
        if event is None:
            continue
        out.append(
            Firing(
                rule.pk,
                rule.name,
                rule.level,
                event.title,
                _("High-risk words found: %(words)s (%(n)s mentions).")
                % {"words": "、".join(list(seen)[:10]), "n": len(ids)},
                event_id=event_id,
                mention_ids=sorted(ids, reverse=True)[:MAX_MENTIONS_KEPT],
                snapshot=_event_snapshot(event),
            )
        )
    return out


def _watched(params: dict[str, Any]) -> tuple[set[int], dict[int, str]]:
    ids = set(params["source_ids"])
    if params["authoritative"]:
        ids |= authoritative_source_ids()
    names = dict(Source.objects.filter(pk__in=ids).values_list("pk", "name"))
    return ids, names


def _source_firings(
    rule: AlertRule, params: dict[str, Any], mentions: list[Mention], events: dict[int, Event]
) -> list[Firing]:
    watched, names = _watched(params)
    grouped: dict[int, list[Mention]] = defaultdict(list)
    for m in mentions:
        if m.source_id in watched and m.event_id is not None:
            grouped[m.event_id].append(m)
    out = []
    for event_id, group in grouped.items():
        event = events.get(event_id)
        if event is None:
            continue
        sources = "、".join(dict.fromkeys(names.get(m.source_id, "?") for m in group))
        out.append(
            Firing(
                rule.pk,
                rule.name,
                rule.level,
                event.title,
                _("A watched source reported it: %(sources)s.") % {"sources": sources},
                event_id=event_id,
                mention_ids=sorted((m.pk for m in group), reverse=True)[:MAX_MENTIONS_KEPT],
                snapshot=_event_snapshot(event),
            )
        )
    return out


def local_day(when: dt.datetime) -> tuple[dt.date, dt.datetime, dt.datetime]:
    zone = ZoneInfo(settings.TIME_ZONE)
    day = when.astimezone(zone).date()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    return day, start, start + dt.timedelta(days=1)


def _negative_ratio_firing(
    rule: AlertRule, params: dict[str, Any], now: dt.datetime, *, until: dt.datetime | None = None
) -> Firing | None:
    day, start, end = local_day(now)
    end = min(end, until) if until else end
    row = (
        Mention.objects.annotate(seen_at=WHEN)
        .filter(seen_at__gte=start, seen_at__lt=end, relevant=True)
        .aggregate(n=Count("id"), neg=Count("id", filter=Q(sentiment="negative")))
    )
    n, neg = row["n"] or 0, row["neg"] or 0
    if n < params["min_count"] or neg / n < params["ratio"]:
        return None
    return Firing(
        rule.pk,
        rule.name,
        rule.level,
        _("Negative share of %(day)s: %(pct)s%%")
        % {"day": day.isoformat(), "pct": round(100 * neg / n)},
        _("%(neg)s of %(n)s mentions today are negative (limit %(limit)s%% of at least %(min)s).")
        % {"neg": neg, "n": n, "limit": round(100 * params["ratio"]), "min": params["min_count"]},
        key=f"negative_ratio:{rule.pk}:{day.isoformat()}",
        snapshot={"mentions": n, "negative": neg},
    )


# --------------------------------------------------------------------------- rule testing


def backtest(rule: AlertRule, *, start: dt.datetime, end: dt.datetime) -> list[Firing]:
    """How often ``rule`` would have fired between ``start`` and ``end``, one firing per
    event (or day) and level, as the live folding would have left it. Creates nothing."""
    params = clean_params(rule.kind, rule.params)
    mentions = (
        Mention.objects.annotate(seen_at=WHEN)
        .filter(seen_at__gte=start, seen_at__lt=end, relevant=True)
        .order_by("seen_at", "id")
    )
    out: list[Firing] = []
    if rule.kind == Kind.NEGATIVE_RATIO:
        day = start
        while day < end:
            found = _negative_ratio_firing(rule, params, day, until=end)
            if found is not None:
                found.at = min(local_day(day)[2], end)
                out.append(found)
            day = local_day(day)[2]
        return out
    if rule.kind == Kind.BURST:
        return _backtest_burst(rule, params, start, end)
    fired: set[tuple[int, int]] = set()
    events: dict[int, Event] = {}
    watched: set[int] = set()
    names: dict[int, str] = {}
    matcher = None
    if rule.kind == Kind.WATCHED_SOURCE:
        watched, names = _watched(params)
    if rule.kind == Kind.HIGH_RISK_WORDS:
        matcher = word_matcher(rule.pk or 0, params["words"])
    for m in mentions.only("id", "event_id", "title", "text", "source_id", "risk").iterator(
        chunk_size=2000
    ):
        if m.event_id is None:
            continue
        reason = ""
        level = rule.level
        if rule.kind == Kind.RISK_LEVEL:
            if m.risk < params["min_risk"]:
                continue
            level = max(rule.level, m.risk)
            reason = _("A mention of risk %(level)s.") % {"level": _level_name(m.risk)}
        elif rule.kind == Kind.HIGH_RISK_WORDS:
            words = words_in(matcher, m.title, m.text)
            if not words:
                continue
            reason = _("High-risk words found: %(words)s (%(n)s mentions).") % {
                "words": "、".join(words[:10]),
                "n": 1,
            }
        elif rule.kind == Kind.WATCHED_SOURCE:
            if m.source_id not in watched:
                continue
            reason = _("A watched source reported it: %(sources)s.") % {
                "sources": names.get(m.source_id, "?")
            }
        if (m.event_id, level) in fired:
            continue
        fired.add((m.event_id, level))
        if m.event_id not in events:
            events[m.event_id] = Event.objects.get(pk=m.event_id)
        out.append(
            Firing(
                rule.pk,
                rule.name,
                level,
                events[m.event_id].title,
                reason,
                event_id=m.event_id,
                mention_ids=[m.pk],
                at=m.seen_at,  # type: ignore[attr-defined]
            )
        )
    return out


def _backtest_burst(
    rule: AlertRule, params: dict[str, Any], start: dt.datetime, end: dt.datetime
) -> list[Firing]:
    window = dt.timedelta(minutes=params["window_minutes"])
    baseline = dt.timedelta(hours=params["baseline_hours"])
    rows = (
        Mention.objects.annotate(seen_at=WHEN)
        .filter(seen_at__gte=start - window - baseline, seen_at__lt=end, relevant=True)
        .filter(event__isnull=False)
        .order_by("seen_at")
        .values_list("event_id", "seen_at")
    )
    times: dict[int, list[dt.datetime]] = defaultdict(list)
    for event_id, when in rows.iterator(chunk_size=5000):
        times[event_id].append(when)
    school_rate = _school_event_rate(start, window)
    out = []
    for event_id, stamps in times.items():
        lo = 0
        base_lo = 0
        for hi, t in enumerate(stamps):
            if t < start:
                continue
            while stamps[lo] <= t - window:
                lo += 1
            while stamps[base_lo] < t - window - baseline:
                base_lo += 1
            observed = hi - lo + 1
            if observed < params["min_count"]:
                continue
            own = (lo - base_lo) / (baseline / window)
            verdict = burst_verdict(params, observed, own, school_rate)
            if verdict.fired:
                out.append(
                    Firing(
                        rule.pk,
                        rule.name,
                        rule.level,
                        Event.objects.get(pk=event_id).title,
                        _burst_reason(params, verdict),
                        event_id=event_id,
                        at=t,
                    )
                )
                break
    out.sort(key=lambda f: f.at or start)
    return out
