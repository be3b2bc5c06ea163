"""analyse(): match → label → event, streaming in batches."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from yuqing.text.events import EventClusterer, event_id_for
from yuqing.text.pipeline import BadPost, analyse, post_from_dict
from yuqing.text.types import TOPICS, Labels, Post, SchemeMatch

FIXTURES = Path(__file__).parent / "fixtures"
SCHEME = json.loads((FIXTURES / "scheme.json").read_text(encoding="utf-8"))
T0 = datetime(2026, 10, 12, 12, 0, tzinfo=timezone(timedelta(hours=8)))


class CountingClassifier:
    """Relevant when the scheme matched; negative when the text complains. Counts batch calls."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.schemes: list[object] = []

    def label(self, post: Post, match: SchemeMatch | None, scheme: object = None) -> Labels:
        relevant = bool(match and match.matched)
        negative = "虫" in post.text
        return Labels(
            relevant=relevant,
            relevance=0.9 if relevant else 0.1,
            sentiment="negative" if negative else "neutral",
            sentiment_scores={
                "negative": 0.8 if negative else 0.1,
                "neutral": 0.2,
                "positive": 0.0,
            },
            topic="food_lodging" if "食堂" in post.text else "other",
            topic_scores={t: 0.1 for t in TOPICS},
            risk=2 if negative and relevant else 0,
            risk_score=1.7 if negative and relevant else 0.1,
        )

    def label_many(
        self, posts: Sequence[Post], matches: Sequence[SchemeMatch | None], scheme: object = None
    ) -> list[Labels]:
        self.batches.append(len(posts))
        self.schemes.append(scheme)
        return [self.label(p, m) for p, m in zip(posts, matches, strict=True)]


def posts() -> list[Post]:
    return [
        Post(
            id="a", text="青山实验中学食堂午餐吃出青虫，孩子拍了照片发到家长群。", published_at=T0
        ),
        Post(
            id="b",
            text="太恶心了//@x:青山实验中学食堂午餐吃出青虫，孩子拍了照片发到家长群。",
            published_at=T0,
        ),
        Post(id="c", text="青山区实验小学秋游去了植物园。", published_at=T0),
        Post(id="d", title="青山实中运动会", text="田径队获得全省团体第一名。", published_at=T0),
        Post(id="e", text="青山实验中学站附近修路，绕行。", published_at=T0),
    ]


def test_it_labels_every_post_in_input_order() -> None:
    clf = CountingClassifier()
    results = list(analyse(posts(), SCHEME, classifier=clf, batch_size=2))
    assert [r.id for r in results] == ["a", "b", "c", "d", "e"]
    assert clf.batches == [2, 2, 1]
    assert all(getattr(s, "name", None) == "青山实验中学" for s in clf.schemes)
    a, b, c, d, _ = results
    assert a.relevant and a.sentiment == "negative" and a.risk == 2 and a.topic == "food_lodging"
    assert not c.relevant
    assert a.event == b.event == event_id_for("a")
    assert d.relevant
    assert d.to_json()["matches"][0]["field"] == "title"


def test_its_json_line_has_the_documented_shape() -> None:
    (r, *_) = analyse(posts(), SCHEME, classifier=CountingClassifier())
    line = r.to_json()
    assert list(line) == [
        "id",
        "relevant",
        "sentiment",
        "topic",
        "risk",
        "event",
        "scores",
        "matches",
    ]
    assert set(line["scores"]) == {"relevance", "sentiment", "topic", "risk"}
    hit = line["matches"][0]
    assert set(hit) == {"scheme", "word", "kind", "match_type", "field", "start", "end", "surface"}
    text = posts()[0].text
    assert text[hit["start"] : hit["end"]] == hit["surface"]
    json.dumps(line, ensure_ascii=False)


def test_it_streams_without_reading_the_whole_input() -> None:
    def endless() -> Iterator[Post]:
        for i in itertools.count():
            yield Post(id=f"p{i}", text=f"青山实验中学第{i}条消息", published_at=T0)

    first = list(
        itertools.islice(
            analyse(endless(), SCHEME, classifier=CountingClassifier(), batch_size=8), 20
        )
    )
    assert [r.id for r in first] == [f"p{i}" for i in range(20)]


def test_it_keeps_event_state_in_a_clusterer_passed_in() -> None:
    clusterer = EventClusterer(SCHEME["subject_words"] + SCHEME["region_words"])
    list(analyse(posts()[:1], SCHEME, classifier=CountingClassifier(), clusterer=clusterer))
    restored = EventClusterer.from_state(clusterer.state())
    (r,) = analyse(posts()[1:2], SCHEME, classifier=CountingClassifier(), clusterer=restored)
    assert r.event == event_id_for("a")


def test_it_uses_the_single_label_call_when_there_is_no_batch_call() -> None:
    class OneByOne:
        def __init__(self) -> None:
            self.inner = CountingClassifier()

        def label(self, post: Post, match: SchemeMatch | None, scheme: object = None) -> Labels:
            assert scheme is not None
            return self.inner.label(post, match)

    assert len(list(analyse(posts(), SCHEME, classifier=OneByOne()))) == 5


def test_post_from_dict_reads_the_labels_format_and_ignores_labels() -> None:
    p = post_from_dict(
        {
            "id": "d1",
            "text": "正文",
            "title": "标题",
            "published_at": "2026-09-01T07:30:00+08:00",
            "risk": 3,
        }
    )
    assert p.id == "d1" and p.title == "标题"
    assert p.published_at == datetime(2026, 9, 1, 7, 30, tzinfo=timezone(timedelta(hours=8)))
    assert post_from_dict({"id": 7, "text": ""}).id == "7"


@pytest.mark.parametrize(
    "record",
    [
        [1, 2],
        {"text": "no id"},
        {"id": "x"},
        {"id": True, "text": "t"},
        {"id": "x", "text": 5},
        {"id": "x", "text": "t", "title": ["a"]},
        {"id": "x", "text": "t", "published_at": "yesterday"},
        {"id": " ", "text": "t"},
    ],
)
def test_post_from_dict_refuses_bad_records(record: object) -> None:
    with pytest.raises(BadPost):
        post_from_dict(record)


def test_it_runs_with_the_default_matcher_and_classifier() -> None:
    classify = pytest.importorskip("yuqing.text.classify")
    if not (classify.MODEL_DIR / "sentiment_negative.npz").exists():
        pytest.skip("classifier models not built yet")
    rows = [
        json.loads(x) for x in (FIXTURES / "events.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    results = list(analyse((post_from_dict(r) for r in rows), SCHEME))
    assert [r.id for r in results] == [r["id"] for r in rows]
    assert all(r.topic in TOPICS and 0 <= r.risk <= 4 for r in results)
    assert sum(r.relevant for r in results) >= len(rows) // 2


def test_posts_that_do_not_name_the_school_stay_out_of_events() -> None:
    class Unrelated(CountingClassifier):
        def label(self, post: Post, match: SchemeMatch | None, scheme: object = None) -> Labels:
            lab = super().label(post, match, scheme)
            if match is None:  # the school is not named: a real classifier gives ~0
                return dataclasses.replace(lab, relevance=0.01)
            return lab

    clusterer = EventClusterer(SCHEME["subject_words"] + SCHEME["region_words"])
    text = "食堂午餐吃出青虫，孩子拍了照片发到家长群，太恶心了。"
    same = [
        Post(id="x1", text="青山实验中学" + text, published_at=T0),
        Post(id="x2", text="某某小学" + text, published_at=T0),
    ]
    a, b = analyse(same, SCHEME, classifier=Unrelated(), clusterer=clusterer)
    assert b.event == event_id_for("x2") != a.event
    assert clusterer.event_of("x2") is None
