"""One call that runs every stage over a stream of posts: match → label → event.

``analyse`` is a generator working in batches, so memory stays bounded whatever the input
size: only one batch of posts and results is alive at a time, plus the event clusterer's
window (itself capped). The classifier sees a whole batch at once, which lets it vectorise.
Each post is labelled against the scheme of its first matching scheme. Posts that are not
mentions at all (relevance below ``EVENT_MIN_RELEVANCE``) get an event of their own without
entering the clusterer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

from yuqing.text.events import EventClusterer, event_id_for
from yuqing.text.types import TOPICS, Hit, Labels, Post, SchemeMatch

DEFAULT_BATCH = 512
# Posts below this relevance do not name the school at all, or clearly mean another one: they
# are not mentions, so they get an event of their own and stay out of the clustering window
# (where they could only bridge two stories, and would cost time and memory).
EVENT_MIN_RELEVANCE = 0.05


class BadPost(ValueError):
    """A post record that cannot be analysed (missing id or text, wrong types)."""


class MatcherLike(Protocol):
    def match(self, title: str, text: str) -> list[SchemeMatch]: ...


class ClassifierLike(Protocol):
    def label(self, post: Post, match: SchemeMatch | None, scheme: Any = None) -> Labels: ...


@dataclass(frozen=True, slots=True)
class Result:
    """What the engine says about one post; ``to_json`` is the ``yuqing classify`` line."""

    id: str
    relevant: bool
    sentiment: str
    topic: str
    risk: int
    event: str
    scores: dict[str, Any]
    matches: tuple[SchemeMatch, ...] = ()
    labels: Labels | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "relevant": self.relevant,
            "sentiment": self.sentiment,
            "topic": self.topic,
            "risk": self.risk,
            "event": self.event,
            "scores": self.scores,
            "matches": [hit_json(m.scheme, h) for m in self.matches for h in m.hits],
        }


def hit_json(scheme: str, hit: Hit) -> dict[str, Any]:
    return {
        "scheme": scheme,
        "word": hit.word,
        "kind": hit.kind,
        "match_type": hit.match_type,
        "field": hit.field,
        "start": hit.start,
        "end": hit.end,
        "surface": hit.surface,
    }


# -- reading posts ------------------------------------------------------------------------

_STR_FIELDS = ("title", "source_type", "source_name", "url", "author")


def post_from_dict(d: Any) -> Post:
    """A ``Post`` from one JSONL record (LABELS.md format; label fields are ignored).

    Raises ``BadPost`` with a short reason for anything that is not a usable post.
    """
    if not isinstance(d, Mapping):
        raise BadPost("record is not a JSON object")
    pid = d.get("id")
    if isinstance(pid, bool) or not isinstance(pid, str | int):
        raise BadPost("missing or invalid 'id' (string expected)")
    pid = str(pid)
    if not pid.strip():
        raise BadPost("empty 'id'")
    text = d.get("text")
    if not isinstance(text, str):
        raise BadPost("missing or invalid 'text' (string expected)")
    kw: dict[str, Any] = {}
    for name in _STR_FIELDS:
        value = d.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadPost(f"invalid {name!r} (string expected)")
        kw[name] = value
    published = d.get("published_at")
    if published is not None:
        if not isinstance(published, str):
            raise BadPost("invalid 'published_at' (ISO 8601 string expected)")
        try:
            kw["published_at"] = datetime.fromisoformat(published.replace("Z", "+00:00"))
        except ValueError:
            raise BadPost(f"invalid 'published_at': {published[:40]!r}") from None
    return Post(id=pid, text=text, **kw)


# -- schemes ------------------------------------------------------------------------------


def load_schemes(schemes: Any) -> list[Any]:
    """Accept one scheme or many, as ``Scheme`` objects or dicts in the scheme.json format."""
    if schemes is None:
        return []
    if isinstance(schemes, Mapping) or not isinstance(schemes, Iterable):
        schemes = [schemes]
    out = []
    for s in schemes:
        if isinstance(s, Mapping):
            from yuqing.text.scheme import Scheme

            s = Scheme.from_dict(dict(s))
        out.append(s)
    return out


def scheme_words(scheme: Any, kinds: Sequence[str] = ("subject", "region", "exclude")) -> list[str]:
    """Words of the given kinds from a ``Scheme`` object or dict (attribute ``<kind>_words``)."""
    words: list[str] = []
    for kind in kinds:
        key = f"{kind}_words"
        value = scheme.get(key) if isinstance(scheme, Mapping) else getattr(scheme, key, None)
        if value:
            words.extend(str(w) for w in value)
    return words


def clusterer_for(schemes: Sequence[Any]) -> EventClusterer:
    """An event clusterer that ignores every scheme's school names and places."""
    ignore: list[str] = []
    for s in schemes:
        ignore.extend(scheme_words(s))
    return EventClusterer(ignore)


def default_matcher(schemes: Sequence[Any]) -> MatcherLike:
    from yuqing.text.matcher import Matcher

    return Matcher(list(schemes))  # type: ignore[no-any-return]


def default_classifier() -> ClassifierLike:
    from yuqing.text.classify import Classifier

    return Classifier.default()  # type: ignore[no-any-return]


# -- the pipeline -------------------------------------------------------------------------


def primary_match(matches: Sequence[SchemeMatch]) -> SchemeMatch | None:
    """The match the labels are given for: the first scheme that matched, else the first."""
    for m in matches:
        if m.matched:
            return m
    return matches[0] if matches else None


def _scheme_key(scheme: Any) -> str:
    key = getattr(scheme, "key", None)
    if key is None and isinstance(scheme, Mapping):
        key = scheme.get("id") if scheme.get("id") is not None else scheme.get("name")
    return str(key)


def _label_batch(
    classifier: ClassifierLike,
    posts: list[Post],
    matches: list[SchemeMatch | None],
    schemes: Sequence[Any],
) -> list[Labels]:
    """Labels for a batch; each post is judged against the scheme of its primary match.

    Posts are grouped by that scheme so a batch-capable classifier still sees few, large
    batches (usually one: most deployments monitor one school per scheme set).
    """
    by_key = {_scheme_key(s): s for s in schemes}
    default = schemes[0] if schemes else None
    groups: dict[int, list[int]] = {}
    chosen: dict[int, Any] = {}
    for i, m in enumerate(matches):
        scheme = by_key.get(m.scheme, default) if m is not None else default
        groups.setdefault(id(scheme), []).append(i)
        chosen[id(scheme)] = scheme
    many: Callable[..., Sequence[Labels]] | None = getattr(classifier, "label_many", None)
    out: list[Labels | None] = [None] * len(posts)
    for gid, idx in groups.items():
        scheme = chosen[gid]
        g_posts = [posts[i] for i in idx]
        g_matches = [matches[i] for i in idx]
        if many is not None:
            labels = list(many(g_posts, g_matches, scheme))
        else:
            labels = [
                classifier.label(p, m, scheme) for p, m in zip(g_posts, g_matches, strict=True)
            ]
        if len(labels) != len(idx):
            raise ValueError("classifier returned a different number of labels than posts")
        for i, lab in zip(idx, labels, strict=True):
            out[i] = lab
    return [lab for lab in out if lab is not None]


def _round(d: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in d.items()}


def scores_json(labels: Labels) -> dict[str, Any]:
    return {
        "relevance": round(float(labels.relevance), 4),
        "sentiment": _round(labels.sentiment_scores),
        "topic": _round(labels.topic_scores),
        "risk": round(float(labels.risk_score), 4),
    }


def analyse(
    posts: Iterable[Post],
    schemes: Any,
    *,
    matcher: MatcherLike | None = None,
    classifier: ClassifierLike | None = None,
    clusterer: EventClusterer | None = None,
    batch_size: int = DEFAULT_BATCH,
    event_min_relevance: float = EVENT_MIN_RELEVANCE,
) -> Iterator[Result]:
    """Analyse posts in input order, ``batch_size`` at a time; yields one ``Result`` per post.

    ``schemes``: one scheme or a list (``Scheme`` objects or scheme.json dicts). Pass
    ``clusterer`` to keep event state between calls (the worker restores it from ``state()``).
    """
    compiled = load_schemes(schemes)
    matcher = matcher if matcher is not None else default_matcher(compiled)
    classifier = classifier if classifier is not None else default_classifier()
    clusterer = clusterer if clusterer is not None else clusterer_for(compiled)
    it = iter(posts)
    while batch := list(islice(it, batch_size)):
        all_matches = [tuple(matcher.match(p.title, p.text)) for p in batch]
        primaries = [primary_match(m) for m in all_matches]
        labels = _label_batch(classifier, batch, primaries, compiled)
        for post, matches, lab in zip(batch, all_matches, labels, strict=True):
            if lab.relevance >= event_min_relevance:
                event = clusterer.add(post.id, post.text, post.published_at, title=post.title)
            else:
                event = event_id_for(post.id)
            topic = lab.topic if lab.topic in TOPICS else "other"
            yield Result(
                id=post.id,
                relevant=bool(lab.relevant),
                sentiment=lab.sentiment,
                topic=topic,
                risk=max(0, min(4, int(lab.risk))),
                event=event,
                scores=scores_json(lab),
                matches=matches,
                labels=lab,
            )


# The web app's ingestion labels its own batches (it stores mentions, not Results).
label_batch = _label_batch
