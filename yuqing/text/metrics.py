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
    return {
        lab: prf([g == lab for g in gold], [p == lab for p in pred]) for lab in labels
    }


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
