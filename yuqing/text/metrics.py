"""Evaluation metrics: precision/recall/F1, macro-F1, accuracy, MAE and B-cubed clustering scores.

Plain Python on sequences, so the eval command, the benchmarks and the tests share one
definition. Conventions: a ratio with a zero denominator is 0.0 (nothing predicted, nothing to
find); B-cubed follows Bagga & Baldwin (1998), averaged over items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PRF:
    precision: float
    recall: float
    f1: float
    support: int  # gold positives

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


def f1_score(precision: float, recall: float) -> float:
    return _div(2 * precision * recall, precision + recall)


def prf(gold: Sequence[bool], pred: Sequence[bool]) -> PRF:
    """Precision, recall and F1 of the positive class of two aligned boolean sequences."""
    _same_length(gold, pred)
    tp = sum(1 for g, p in zip(gold, pred, strict=True) if g and p)
    fp = sum(1 for g, p in zip(gold, pred, strict=True) if p and not g)
    fn = sum(1 for g, p in zip(gold, pred, strict=True) if g and not p)
    precision = _div(tp, tp + fp)
    recall = _div(tp, tp + fn)
    return PRF(precision, recall, f1_score(precision, recall), tp + fn)


def per_class(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> dict[Hashable, PRF]:
    """One-vs-rest PRF for every label that occurs in gold or prediction."""
    _same_length(gold, pred)
    labels = sorted(set(gold) | set(pred), key=str)
    return {lab: prf([g == lab for g in gold], [p == lab for p in pred]) for lab in labels}


def macro_f1(
    gold: Sequence[Hashable], pred: Sequence[Hashable], labels: Iterable[Hashable] | None = None
) -> float:
    """Unweighted mean of per-class F1 over ``labels`` (default: labels present in gold)."""
    _same_length(gold, pred)
    labs = list(labels) if labels is not None else sorted(set(gold), key=str)
    if not labs:
        return 0.0
    scores = [prf([g == lab for g in gold], [p == lab for p in pred]).f1 for lab in labs]
    return sum(scores) / len(scores)


def accuracy(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    _same_length(gold, pred)
    return _div(sum(1 for g, p in zip(gold, pred, strict=True) if g == p), len(gold))


def mae(gold: Sequence[float], pred: Sequence[float]) -> float:
    """Mean absolute error."""
    _same_length(gold, pred)
    return _div(sum(abs(g - p) for g, p in zip(gold, pred, strict=True)), len(gold))


def bcubed(gold: Mapping[Hashable, Hashable], pred: Mapping[Hashable, Hashable]) -> PRF:
    """B-cubed precision/recall/F1 of a clustering. Both map item -> cluster, over the same items.

    Precision of an item: the share of its predicted cluster that shares its gold cluster;
    recall: the share of its gold cluster that is in its predicted cluster; both averaged.
    """
    if set(gold) != set(pred):
        raise ValueError("gold and predicted clusterings cover different items")
    if not gold:
        return PRF(0.0, 0.0, 0.0, 0)
    pair = Counter((gold[i], pred[i]) for i in gold)  # |gold cluster ∩ predicted cluster|
    gsize = Counter(gold.values())
    psize = Counter(pred.values())
    precision = recall = 0.0
    for i in gold:
        both = pair[(gold[i], pred[i])]
        precision += both / psize[pred[i]]
        recall += both / gsize[gold[i]]
    n = len(gold)
    precision, recall = precision / n, recall / n
    return PRF(precision, recall, f1_score(precision, recall), n)


def _same_length(a: Sequence[Any], b: Sequence[Any]) -> None:
    if len(a) != len(b):
        raise ValueError(f"sequences differ in length: {len(a)} != {len(b)}")


# -- scoring a labelled set ---------------------------------------------------------------

# (metric path, comparison, threshold). A target on a precision/recall pair is two entries.
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("relevance.f1", ">=", 0.92),
    ("negative.recall", ">=", 0.90),
    ("negative.precision", ">=", 0.85),
    ("topic.macro_f1", ">=", 0.80),
    ("alert.recall", ">=", 0.95),
    ("alert.precision", ">=", 0.75),
    ("events.f1", ">=", 0.90),
)
ALERT_RISK = 2


def score_labelled(
    gold: Sequence[Mapping[str, Any]], pred: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """All eval figures for predictions (``classify`` JSON lines) against gold records.

    Both are aligned lists of dicts with ``relevant``, ``sentiment``, ``topic``, ``risk`` and
    ``event``. Topic and events are scored over the gold-relevant posts only.
    """
    _same_length(gold, pred)
    for g, p in zip(gold, pred, strict=True):
        if str(g["id"]) != str(p["id"]):
            raise ValueError(f"gold and prediction out of step at id {g['id']!r}")
    rel_idx = [i for i, g in enumerate(gold) if g["relevant"]]
    topics_gold = [gold[i]["topic"] for i in rel_idx]
    topics_pred = [pred[i]["topic"] for i in rel_idx]
    risk_gold = [int(g["risk"]) for g in gold]
    risk_pred = [int(p["risk"]) for p in pred]
    out: dict[str, Any] = {
        "n": len(gold),
        "n_relevant": len(rel_idx),
        "relevance": prf(
            [bool(g["relevant"]) for g in gold], [bool(p["relevant"]) for p in pred]
        ).as_dict(),
        "negative": prf(
            [g["sentiment"] == "negative" for g in gold],
            [p["sentiment"] == "negative" for p in pred],
        ).as_dict(),
        "sentiment": {
            "accuracy": accuracy([g["sentiment"] for g in gold], [p["sentiment"] for p in pred])
        },
        "topic": {
            "macro_f1": macro_f1(topics_gold, topics_pred),
            "accuracy": accuracy(topics_gold, topics_pred),
        },
        "alert": prf(
            [r >= ALERT_RISK for r in risk_gold], [r >= ALERT_RISK for r in risk_pred]
        ).as_dict(),
        "risk": {"mae": mae(risk_gold, risk_pred)},
        "events": bcubed(
            {str(gold[i]["id"]): str(gold[i]["event"]) for i in rel_idx},
            {str(pred[i]["id"]): str(pred[i]["event"]) for i in rel_idx},
        ).as_dict(),
    }
    return out


def lookup(figures: Mapping[str, Any], path: str) -> float:
    value: Any = figures
    for part in path.split("."):
        value = value[part]
    return float(value)


def check_targets(figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value and whether it passes."""
    rows = []
    for path, op, threshold in TARGETS:
        value = lookup(figures, path)
        ok = value >= threshold if op == ">=" else value <= threshold
        rows.append(
            {"metric": path, "target": f"{op} {threshold}", "value": round(value, 4), "pass": ok}
        )
    return rows
