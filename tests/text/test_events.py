"""Same-story clustering: reposts, rewrites and follow-ups join; other stories do not."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from yuqing.text.events import EventClusterer, EventParams, event_id_for
from yuqing.text.metrics import bcubed

FIXTURES = Path(__file__).parent / "fixtures"
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 10, 12, 12, 0, tzinfo=CST)
SCHOOL = ["青山实验中学", "青山市实验中学", "青山实中", "青山", "青山市"]

ORIGINAL = "青山实验中学食堂今天中午的红烧茄子里吃出一条青虫，孩子拍了照片发到家长群，学校食堂承包商到底有没有人管？"
CANTEEN_NEWS = (
    "12日中午，有家长反映青山市实验中学学生在食堂午餐的红烧茄子中发现青虫。记者从校方了解到，"
    "涉事窗口已暂停营业，学校已要求食堂承包商全面整改，并将食材留样送检。"
)
CANTEEN_FOLLOW_UP = "家长代表今天去食堂陪餐了，说茄子换了供应商，青虫的事情承包商被罚款两万元，希望以后别再出这种事。"
DORM = "青山实验中学男生宿舍三号楼热水器坏了一个星期，晚自习回来只能洗冷水澡，找宿管阿姨说报修了也没人来。"
AWARD = "青山实验中学田径队获得全省中学生运动会高中男子组团体总分第一名，队员林浩宇打破男子800米省纪录。"


def clusterer(**params: float) -> EventClusterer:
    return EventClusterer(SCHOOL, EventParams(**params))  # type: ignore[arg-type]


def test_it_puts_a_repost_with_a_comment_in_the_original_event() -> None:
    c = clusterer()
    first = c.add("p1", ORIGINAL, T0)
    repost = c.add(
        "p2", "太恶心了，这种事情必须严查！//@青山家长联盟:" + ORIGINAL, T0 + timedelta(hours=1)
    )
    assert repost == first


def test_it_puts_a_repost_with_a_long_comment_in_the_original_event() -> None:
    c = clusterer()
    first = c.add("p1", ORIGINAL, T0)
    comment = "我家孩子也在这个学校读书，上学期就听说过饭菜里有头发，反映了好几次都没有下文，真不知道钱花到哪里去了。"
    assert c.add("p2", comment + "//@某网友:" + ORIGINAL, T0 + timedelta(hours=2)) == first


def test_it_puts_another_outlets_rewrite_in_the_same_event() -> None:
    c = clusterer()
    first = c.add("p1", ORIGINAL, T0)
    assert (
        c.add(
            "p2", CANTEEN_NEWS, T0 + timedelta(hours=6), title="青山实中学生午餐吃出青虫 校方回应"
        )
        == first
    )


def test_it_puts_a_follow_up_two_days_later_in_the_same_event() -> None:
    c = clusterer()
    first = c.add("p1", ORIGINAL, T0)
    c.add("p2", CANTEEN_NEWS, T0 + timedelta(hours=6))
    assert c.add("p3", CANTEEN_FOLLOW_UP, T0 + timedelta(hours=56)) == first


def test_it_keeps_unrelated_stories_about_the_same_school_apart() -> None:
    c = clusterer()
    canteen = c.add("p1", ORIGINAL, T0)
    dorm = c.add("p2", DORM, T0 + timedelta(hours=1))
    award = c.add("p3", AWARD, T0 + timedelta(hours=2))
    assert len({canteen, dorm, award}) == 3


def test_the_school_name_alone_does_not_join_two_posts() -> None:
    c = clusterer()
    a = c.add("p1", "青山实验中学青山实验中学，今天天气不错。", T0)
    b = c.add("p2", "青山实验中学青山实验中学，周末有雨。", T0)
    assert a != b


def test_it_forgets_posts_outside_the_time_window() -> None:
    c = clusterer(window_hours=72, follow_up_hours=168)
    first = c.add("p1", ORIGINAL, T0)
    assert c.add("p2", ORIGINAL, T0 + timedelta(hours=200)) != first
    assert len(c) == 1  # p1 evicted


def test_event_ids_are_deterministic_and_named_after_the_first_post() -> None:
    runs = []
    for _ in range(2):
        c = clusterer()
        runs.append(
            [c.add("p1", ORIGINAL, T0), c.add("p2", DORM, T0), c.add("p3", CANTEEN_NEWS, T0)]
        )
    assert runs[0] == runs[1]
    assert runs[0][0] == event_id_for("p1")
    assert runs[0][1] == event_id_for("p2")


def test_adding_a_post_again_returns_its_event() -> None:
    c = clusterer()
    first = c.add("p1", ORIGINAL, T0)
    c.add("p2", DORM, T0)
    assert c.add("p1", ORIGINAL, T0) == first
    assert c.event_of("p1") == first
    assert len(c) == 2


def test_posts_without_a_time_use_the_latest_time_seen() -> None:
    c = clusterer()
    first = c.add("p1", ORIGINAL, None)
    assert c.add("p2", "转发 //@a:" + ORIGINAL, None) == first


def test_empty_and_punctuation_only_posts_get_their_own_events() -> None:
    c = clusterer()
    a = c.add("p1", "", T0)
    b = c.add("p2", "？？？", T0)
    assert a == event_id_for("p1") and b == event_id_for("p2")


def test_state_round_trips_through_json_and_clusters_the_same() -> None:
    c = clusterer()
    c.add("p1", ORIGINAL, T0)
    c.add("p2", DORM, T0 + timedelta(hours=1))
    restored = EventClusterer.from_state(json.loads(json.dumps(c.state(), ensure_ascii=False)))
    later = [
        ("p3", CANTEEN_NEWS, T0 + timedelta(hours=5)),
        ("p4", "同问，三号楼热水器到底什么时候修好？//@x:" + DORM, T0 + timedelta(hours=6)),
        ("p5", AWARD, T0 + timedelta(hours=7)),
    ]
    assert [c.add(*p) for p in later] == [restored.add(*p) for p in later]
    assert restored.event_of("p3") == event_id_for("p1")


def test_state_with_another_version_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError):
        EventClusterer.from_state({"version": 99})


def test_the_window_is_capped_in_posts() -> None:
    c = clusterer(max_posts=50)
    for i in range(120):
        c.add(f"p{i}", f"第{i}条完全不同的内容编号{i * 7919}", T0)
    assert len(c) == 50
    assert c.event_of("p0") is None


def _cluster_fixture(
    path: Path, scheme: dict[str, list[str]]
) -> tuple[dict[str, str], dict[str, str]]:
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    c = EventClusterer(scheme["subject_words"] + scheme["region_words"] + scheme["exclude_words"])
    pred = {
        r["id"]: c.add(
            r["id"], r["text"], datetime.fromisoformat(r["published_at"]), title=r["title"]
        )
        for r in rows
    }
    rel = [r for r in rows if r["relevant"]]
    return {r["id"]: r["event"] for r in rel}, {r["id"]: pred[r["id"]] for r in rel}


def test_it_scores_well_on_the_projects_own_labelled_examples() -> None:
    # tests/text/fixtures/events.jsonl: written by the project (fictional school), not an eval set.
    scheme = json.loads((FIXTURES / "scheme.json").read_text(encoding="utf-8"))
    gold, pred = _cluster_fixture(FIXTURES / "events.jsonl", scheme)
    own = bcubed(gold, {k: k for k in gold})
    r = bcubed(gold, pred)
    assert r.f1 >= 0.9 > own.f1
    assert r.precision >= 0.95


def test_a_damaged_state_is_refused_with_a_value_error() -> None:
    import pytest

    c = clusterer()
    c.add("p1", ORIGINAL, T0)
    state = c.state()
    state["posts"][0]["digest"] = "not base64!"
    with pytest.raises(ValueError, match="damaged"):
        EventClusterer.from_state(state)
    with pytest.raises(ValueError, match="damaged"):
        EventClusterer.from_state({"version": 1, "params": {"colour": "red"}})


def test_state_is_compact() -> None:
    c = clusterer()
    for i in range(100):
        c.add(f"p{i}", f"{ORIGINAL}{i}", T0)
    assert len(json.dumps(c.state(), ensure_ascii=False)) < 100 * 1000
