"""Metrics against values computed by hand."""

from __future__ import annotations

import pytest

from yuqing.text.metrics import (
    accuracy,
    bcubed,
    check_targets,
    macro_f1,
    mae,
    prf,
    score_labelled,
)


def test_it_computes_precision_recall_f1() -> None:
    gold = [True, True, False, False, True]
    pred = [True, False, True, False, True]
    r = prf(gold, pred)
    # tp=2 fp=1 fn=1
    assert r.precision == pytest.approx(2 / 3)
    assert r.recall == pytest.approx(2 / 3)
    assert r.f1 == pytest.approx(2 / 3)
    assert r.support == 3


def test_it_gives_zero_instead_of_dividing_by_zero() -> None:
    r = prf([False, False], [False, False])
    assert (r.precision, r.recall, r.f1) == (0.0, 0.0, 0.0)


def test_it_averages_f1_over_gold_classes() -> None:
    gold = ["a", "a", "b", "c"]
    pred = ["a", "b", "b", "b"]
    # a: P=1 R=1/2 F=2/3; b: P=1/3 R=1 F=1/2; c: P=0 R=0 F=0
    assert macro_f1(gold, pred) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert macro_f1(gold, pred, labels=["a", "b"]) == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_accuracy_and_mae() -> None:
    assert accuracy(["x", "y", "z", "x"], ["x", "y", "x", "y"]) == 0.5
    assert mae([0, 2, 4], [1, 2, 1]) == pytest.approx(4 / 3)


def test_it_refuses_misaligned_sequences() -> None:
    with pytest.raises(ValueError):
        prf([True], [True, False])


def test_bcubed_matches_a_hand_computed_example() -> None:
    gold = {"a": 1, "b": 1, "c": 2}
    pred = {"a": "x", "b": "y", "c": "y"}
    # a: P=1/1 R=1/2; b: P=1/2 R=1/2; c: P=1/2 R=1/1
    r = bcubed(gold, pred)
    assert r.precision == pytest.approx(2 / 3)
    assert r.recall == pytest.approx(2 / 3)
    assert r.f1 == pytest.approx(2 / 3)


def test_bcubed_of_one_big_cluster_and_of_singletons() -> None:
    gold = {"a": 1, "b": 1, "c": 2}
    lumped = bcubed(gold, {"a": 0, "b": 0, "c": 0})
    assert lumped.precision == pytest.approx(5 / 9)
    assert lumped.recall == 1.0
    assert lumped.f1 == pytest.approx(5 / 7)
    alone = bcubed(gold, {"a": 1, "b": 2, "c": 3})
    assert alone.precision == 1.0
    assert alone.recall == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)


def test_bcubed_is_perfect_for_the_same_partition_under_other_names() -> None:
    r = bcubed({"a": 1, "b": 1, "c": 2}, {"a": "q", "b": "q", "c": "r"})
    assert (r.precision, r.recall, r.f1) == (1.0, 1.0, 1.0)


def test_bcubed_needs_the_same_items() -> None:
    with pytest.raises(ValueError):
        bcubed({"a": 1}, {"b": 1})


def _row(i: str, rel: bool, sent: str, topic: str, risk: int, event: str) -> dict[str, object]:
    return {
        "id": i,
        "relevant": rel,
        "sentiment": sent,
        "topic": topic,
        "risk": risk,
        "event": event,
    }


def test_score_labelled_scores_topic_and_events_over_relevant_posts_only() -> None:
    gold = [
        _row("1", True, "negative", "fees", 2, "e1"),
        _row("2", True, "negative", "fees", 3, "e1"),
        _row("3", False, "neutral", "other", 0, "e2"),
        _row("4", True, "positive", "campus_news", 0, "e3"),
    ]
    pred = [
        _row("1", True, "negative", "fees", 2, "x"),
        _row("2", True, "neutral", "fees", 1, "x"),
        _row("3", True, "neutral", "teaching", 0, "x"),  # irrelevant: its topic/event do not count
        _row("4", True, "positive", "campus_news", 0, "y"),
    ]
    fig = score_labelled(gold, pred)
    assert fig["relevance"]["precision"] == pytest.approx(3 / 4)
    assert fig["relevance"]["recall"] == 1.0
    assert fig["negative"]["recall"] == pytest.approx(1 / 2)
    assert fig["sentiment"]["accuracy"] == pytest.approx(3 / 4)
    assert fig["topic"]["macro_f1"] == 1.0
    assert fig["alert"]["recall"] == pytest.approx(1 / 2)
    assert fig["alert"]["precision"] == 1.0
    assert fig["risk"]["mae"] == pytest.approx(2 / 4)
    assert fig["events"]["f1"] == 1.0
    marks = {t["metric"]: t["pass"] for t in check_targets(fig)}
    assert marks["events.f1"] is True
    assert marks["alert.recall"] is False


def test_score_labelled_refuses_predictions_out_of_step() -> None:
    with pytest.raises(ValueError):
        score_labelled(
            [_row("1", True, "neutral", "other", 0, "e")],
            [_row("2", True, "neutral", "other", 0, "e")],
        )
