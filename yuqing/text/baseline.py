"""The baseline every engine figure is compared with, computed in the same run.

- relevance: a subject word of any scheme occurs as a plain substring of title or text;
- sentiment: SnowNLP's probability of positive, ``p``: negative when ``p < 0.5``, positive when
  ``p >= 0.9``, neutral in between (SnowNLP leans positive, so positive needs a high bar);
- topic: ``other`` for every post (the baseline has no topic model);
- risk: 2 when negative and relevant, else 0;
- events: each post is its own event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from yuqing.text.pipeline import Result, load_schemes, scheme_words
from yuqing.text.types import TOPICS, Hit, Labels, Post, SchemeMatch

NEGATIVE_BELOW = 0.5
POSITIVE_FROM = 0.9


def snownlp_positive(text: str) -> float:
    """SnowNLP's probability that ``text`` is positive; 0.5 for empty text."""
    if not text.strip():
        return 0.5
    from snownlp import SnowNLP  # heavy import (model load): only when the baseline runs

    return float(SnowNLP(text).sentiments)


def sentiment_of(p_positive: float) -> str:
    if p_positive < NEGATIVE_BELOW:
        return "negative"
    if p_positive >= POSITIVE_FROM:
        return "positive"
    return "neutral"


def substring_match(name: str, subject_words: Sequence[str], title: str, text: str) -> SchemeMatch:
    hits: list[Hit] = []
    for field_name, value in (("title", title), ("text", text)):
        for word in subject_words:
            start = value.find(word) if word else -1
            if start >= 0:
                end = start + len(word)
                hits.append(Hit(word, "subject", "exact", field_name, start, end, value[start:end]))  # type: ignore[arg-type]
    return SchemeMatch(scheme=name, matched=bool(hits), hits=tuple(hits))


def baseline_analyse(posts: Iterable[Post], schemes: Any) -> Iterator[Result]:
    """Baseline results, one per post, in input order."""
    loaded = load_schemes(schemes) if not _all_dicts(schemes) else list(_as_list(schemes))
    subjects = [(_name(s), [w for w in scheme_words(s, ("subject",)) if w]) for s in loaded]
    for post in posts:
        matches = tuple(substring_match(n, words, post.title, post.text) for n, words in subjects)
        relevant = any(m.matched for m in matches)
        p_pos = snownlp_positive(f"{post.title} {post.text}".strip())
        sentiment = sentiment_of(p_pos)
        risk = 2 if relevant and sentiment == "negative" else 0
        labels = Labels(
            relevant=relevant,
            relevance=1.0 if relevant else 0.0,
            sentiment=sentiment,
            sentiment_scores={"positive": p_pos, "negative": 1.0 - p_pos},
            topic="other",
            topic_scores={t: float(t == "other") for t in TOPICS},
            risk=risk,
            risk_score=float(risk),
        )
        yield Result(
            id=post.id,
            relevant=relevant,
            sentiment=sentiment,
            topic="other",
            risk=risk,
            event=f"own-{post.id}",
            scores={"relevance": labels.relevance, "sentiment": {"positive": round(p_pos, 4)}},
            matches=matches,
            labels=labels,
        )


def _as_list(schemes: Any) -> list[Any]:
    return [schemes] if isinstance(schemes, dict) else list(schemes)


def _all_dicts(schemes: Any) -> bool:
    # The baseline needs only the word lists, so plain scheme.json dicts are used as they are
    # and do not depend on the scheme compiler.
    return all(isinstance(s, dict) for s in _as_list(schemes))


def _name(scheme: Any) -> str:
    name = scheme.get("name") if isinstance(scheme, dict) else getattr(scheme, "name", "")
    return str(name or "scheme")
