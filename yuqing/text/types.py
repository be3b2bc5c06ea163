"""Data passed between the text engine's stages. Frozen dataclasses: cheap, typed, hashable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

SourceType = Literal["news", "weibo", "wechat", "forum", "video", "qa", "petition", "other"]
Sentiment = Literal["negative", "neutral", "positive"]
WordKind = Literal["subject", "region", "event", "exclude", "term"]
# How a word was found: as written, through a homophone / pinyin / abbreviation spelling.
MatchType = Literal["exact", "homophone", "pinyin", "abbreviation"]
Field = Literal["title", "text"]

TOPICS: tuple[str, ...] = (
    "teaching",
    "health",
    "food_lodging",
    "emergency",
    "special_care",
    "teacher_conduct",
    "admissions_exams",
    "fees",
    "campus_news",
    "other",
)
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
RISK_NAMES: dict[int, str] = {0: "none", 1: "blue", 2: "yellow", 3: "orange", 4: "red"}


@dataclass(frozen=True, slots=True)
class Post:
    """One post or article, as read from JSONL or a collector."""

    id: str
    text: str
    title: str = ""
    source_type: str = "other"
    source_name: str = ""
    url: str = ""
    author: str = ""
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a scheme word. Offsets index the *original* field text."""

    word: str  # the scheme word as configured
    kind: WordKind
    match_type: MatchType
    field: Field
    start: int
    end: int
    surface: str  # what the original text actually says there


@dataclass(frozen=True, slots=True)
class SchemeMatch:
    """The result of matching one scheme against one post."""

    scheme: str  # scheme name (or id)
    matched: bool  # subject found (and the expression, if any, holds) and no exclude-only hit
    hits: tuple[Hit, ...] = ()

    def words(self, kind: WordKind) -> list[Hit]:
        return [h for h in self.hits if h.kind == kind]


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a label was given: a term found in the text, or a named model feature."""

    label: str  # e.g. "risk", "sentiment", "relevant", "topic"
    term: str
    weight: float = 0.0
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class Labels:
    relevant: bool
    relevance: float  # probability the post is about this school, 0..1
    sentiment: str
    sentiment_scores: dict[str, float]
    topic: str
    topic_scores: dict[str, float]
    risk: int  # 0..4
    risk_score: float  # expected risk, 0..4 (continuous)
    reasons: tuple[Reason, ...] = field(default_factory=tuple)
