"""Small linear text models: hashed character n-grams + logistic regression.

A :class:`TextModel` is a few sparse float32 weight columns over a fixed hashing space, so it is
small enough to commit to git, needs no vocabulary, and every model built with the same
:class:`FeatureSpec` can share one vectorisation of a batch.

- :func:`train` fits a model from labelled texts (scikit-learn ``LogisticRegression``).
- :func:`adapt` moves an existing model toward a school's own corrections (a MAP fit with a
  Gaussian prior centred on the shipped weights), so a few corrections change predictions
  without the original training data.
- :meth:`TextModel.save` / :meth:`TextModel.load` use a NumPy ``.npz`` file read with
  ``allow_pickle=False``: no pickle, so loading a model file cannot run code. Only load model
  files the project or the school itself built.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

FORMAT = "yuqing-textmodel-2"  # 2: NumPy n-gram hashing (1 used scikit-learn's hasher)


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """How texts become sparse vectors. Same spec -> same columns, so models can share them."""

    n_features: int = 2**20
    ngram_min: int = 1
    ngram_max: int = 3
    max_chars: int = 1200  # long articles are cut: the head carries the story, and it bounds cost
    # binary: 0/1 presence without normalisation (what NB-weighted models are trained on);
    # otherwise sublinear tf (log1p of the count) with L2 norm.
    binary: bool = False


def _ngram_hashes(
    texts: Sequence[str], n_min: int, n_max: int, max_chars: int
) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
    """For each n in n_min..n_max: (document index, 64-bit hash) of every char n-gram.

    The whole batch is hashed at once in NumPy (code points -> rolling 64-bit hash ->
    splitmix64 finaliser): several times faster than a per-string analyzer, and the hashes of
    one pass serve every spec with the same ``max_chars``.
    """
    docs = [t[:max_chars].lower() for t in texts]
    n_docs = len(docs)
    lens = np.fromiter((len(d) for d in docs), dtype=np.int64, count=n_docs)
    ends = np.cumsum(lens)
    cps = np.frombuffer("".join(docs).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lens)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    with np.errstate(over="ignore"):
        for n in range(n_min, n_max + 1):
            m = len(cps) - n + 1
            if m <= 0:
                out.append((np.zeros(0, np.int64), np.zeros(0, np.uint64)))
                continue
            h = np.full(m, np.uint64(n) * _GOLDEN, dtype=np.uint64)
            for k in range(n):
                h = (h * _MULT) ^ cps[k : k + m]
            h = _mix(h)
            starts = doc_of[:m]
            ok = np.arange(m, dtype=np.int64) + n <= ends[starts]
            out.append((starts[ok], h[ok]))
    return n_docs, out


def _matrix(
    n_docs: int, parts: list[tuple[np.ndarray, np.ndarray]], spec: FeatureSpec
) -> sp.csr_matrix:
    """CSR rows for one spec from n-gram hashes, built directly (no COO -> CSR conversion).

    The buckets of each document are laid out contiguously (one vectorised scatter: every
    part is already ordered by document) and sorted document by document as int32: a few
    hundred small in-place sorts are ~5x cheaper than one sort of the batch's (row, bucket)
    int64 keys, and equal buckets of a row end up adjacent for counting."""
    nf = np.uint64(spec.n_features)
    parts = [(r, h) for r, h in parts if len(r)]
    if not parts:
        return sp.csr_matrix((n_docs, spec.n_features), dtype=np.float32)
    per_part = [np.bincount(r, minlength=n_docs) for r, _h in parts]
    totals = np.sum(per_part, axis=0)
    offset = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(totals, out=offset[1:])
    n_keys = int(offset[-1])
    cols = np.empty(n_keys, dtype=np.int32)
    before = offset[:-1].copy()  # where the next part's buckets of each document go
    for (r, h), counts in zip(parts, per_part, strict=True):
        start_in_part = np.zeros(n_docs, dtype=np.int64)
        np.cumsum(counts[:-1], out=start_in_part[1:])
        pos = (before - start_in_part)[r] + np.arange(len(r), dtype=np.int64)
        cols[pos] = (h % nf).astype(np.int32)
        before += counts
    bounds = offset.tolist()
    for d in range(n_docs):
        a, b = bounds[d], bounds[d + 1]
        if b - a > 1:
            cols[a:b].sort()
    first = np.empty(n_keys, dtype=bool)
    first[0] = True
    np.not_equal(cols[1:], cols[:-1], out=first[1:])
    first[offset[1:-1][totals[1:] > 0]] = True  # a row's first bucket starts a new entry
    starts = np.flatnonzero(first)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), totals)
    rows = doc_of[starts]
    out_cols = cols[starts]
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_docs), out=indptr[1:])
    if spec.binary:
        data = np.ones(len(starts), dtype=np.float32)
    else:
        counts_u = np.diff(np.append(starts, n_keys)).astype(np.float32)
        # Sublinear tf: a word said five times is not five times the evidence.
        data = np.log1p(counts_u)
        norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=n_docs))
        norms[norms == 0] = 1.0
        data = (data / norms[rows]).astype(np.float32)
    return sp.csr_matrix((data, out_cols, indptr), shape=(n_docs, spec.n_features))


class Featurizer:
    """Hashed char n-grams: sublinear tf + L2 norm (no idf: nothing to store), or binary."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        s = self.spec
        n_docs, parts = _ngram_hashes(texts, s.ngram_min, s.ngram_max, s.max_chars)
        return _matrix(n_docs, parts, s)


def transform_many(texts: Sequence[str], specs: Sequence[FeatureSpec]) -> dict[FeatureSpec, Any]:
    """Matrices of several specs over the same texts, hashing each n-gram length once per
    ``max_chars`` (the sentiment, short-text and topic models share one pass)."""
    out: dict[FeatureSpec, Any] = {}
    by_cut: dict[int, list[FeatureSpec]] = {}
    for s in dict.fromkeys(specs):
        by_cut.setdefault(s.max_chars, []).append(s)
    for cut, group in by_cut.items():
        lo = min(s.ngram_min for s in group)
        hi = max(s.ngram_max for s in group)
        n_docs, parts = _ngram_hashes(texts, lo, hi, cut)
        for s in group:
            out[s] = _matrix(n_docs, parts[s.ngram_min - lo : s.ngram_max - lo + 1], s)
    return out


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MULT = np.uint64(1000003)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads similar n-grams over all buckets."""
    h = (h ^ (h >> np.uint64(30))) * _M1
    h = (h ^ (h >> np.uint64(27))) * _M2
    return h ^ (h >> np.uint64(31))


_FEATURIZERS: dict[FeatureSpec, Featurizer] = {}


def featurizer(spec: FeatureSpec) -> Featurizer:
    """One shared featurizer per spec."""
    f = _FEATURIZERS.get(spec)
    if f is None:
        f = _FEATURIZERS[spec] = Featurizer(spec)
    return f


@dataclass
class TextModel:
    """A linear classifier over hashed n-grams plus optional dense extra features.

    ``weights`` has shape (n_features + n_extra, k): k == 1 for a binary model (sigmoid,
    positive class = ``classes[1]``), k == len(classes) for a multinomial one (softmax).
    """

    classes: tuple[str, ...]
    weights: sp.csr_matrix
    intercept: np.ndarray
    spec: FeatureSpec = field(default_factory=FeatureSpec)
    extra_names: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    # Dense copy of ``weights`` for scoring (a gather beats a sparse x sparse product);
    # made on first use, never saved.
    _dense: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_extra(self) -> int:
        return len(self.extra_names)

    def featurize(self, texts: Sequence[str], extra: np.ndarray | None = None) -> sp.csr_matrix:
        X = featurizer(self.spec).transform(texts)
        return self.with_extra(X, extra)

    def with_extra(self, X: sp.csr_matrix, extra: np.ndarray | None) -> sp.csr_matrix:
        """Append the dense extra columns a model with ``extra_names`` expects."""
        if not self.n_extra:
            return X
        if extra is None:
            extra = np.zeros((X.shape[0], self.n_extra), dtype=np.float32)
        return sp.hstack([X, sp.csr_matrix(np.asarray(extra, dtype=np.float32))], format="csr")

    def decision(self, X: sp.csr_matrix) -> np.ndarray:
        """Raw scores, shape (n, k)."""
        if self._dense is None:
            self._dense = np.asarray(self.weights.todense(), dtype=np.float32)
        z = np.asarray(X @ self._dense, dtype=np.float64)
        return z + self.intercept

    def proba_from_matrix(self, X: sp.csr_matrix) -> np.ndarray:
        """Class probabilities (n, len(classes)) for already featurized rows."""
        return _proba(self.decision(X))

    def predict_proba(self, texts: Sequence[str], extra: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes``."""
        return self.proba_from_matrix(self.featurize(texts, extra))

    def predict(self, texts: Sequence[str], extra: np.ndarray | None = None) -> list[str]:
        p = self.predict_proba(texts, extra)
        return [self.classes[i] for i in p.argmax(axis=1)]

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the model as a compressed .npz (float32 sparse weights, JSON metadata)."""
        W = self.weights.tocsr()
        header = {
            "format": FORMAT,
            "classes": list(self.classes),
            "spec": asdict(self.spec),
            "extra_names": list(self.extra_names),
            "shape": list(W.shape),
            "meta": self.meta,
        }
        with Path(path).open("wb") as fh:
            np.savez_compressed(
                fh,
                header=np.frombuffer(json.dumps(header, ensure_ascii=False).encode(), np.uint8),
                data=W.data.astype(np.float32),
                indices=W.indices.astype(np.int32),
                indptr=W.indptr.astype(np.int64),
                intercept=np.asarray(self.intercept, dtype=np.float32),
            )

    @classmethod
    def load(cls, path: str | Path) -> TextModel:
        """Read a file written by :meth:`save` (no pickle is involved)."""
        with np.load(Path(path), allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            if header.get("format") != FORMAT:
                raise ValueError(f"{path}: not a Yuqing text model")
            W = sp.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(header["shape"]))
            intercept = z["intercept"].astype(np.float64)
        return cls(
            classes=tuple(header["classes"]),
            weights=W,
            intercept=intercept,
            spec=FeatureSpec(**header["spec"]),
            extra_names=tuple(header.get("extra_names", ())),
            meta=header.get("meta", {}),
        )


def _proba(z: np.ndarray) -> np.ndarray:
    if z.shape[1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -40, 40)))
        return np.column_stack([1.0 - p1, p1])
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _prune(W: np.ndarray, max_nonzero: int | None) -> sp.csr_matrix:
    """Sparse float32 weights; keep the ``max_nonzero`` largest by magnitude (model size)."""
    W = np.asarray(W, dtype=np.float32)
    if max_nonzero is not None and np.count_nonzero(W) > max_nonzero:
        cut = np.partition(np.abs(W).ravel(), -max_nonzero)[-max_nonzero]
        W = np.where(np.abs(W) >= cut, W, 0.0).astype(np.float32)
    return sp.csr_matrix(W)


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    classes: Sequence[str] | None = None,
    sample_weight: Sequence[float] | np.ndarray | None = None,
    extra: np.ndarray | None = None,
    extra_names: Sequence[str] = (),
    spec: FeatureSpec | None = None,
    C: float = 4.0,
    class_weight: str | dict[str, float] | None = "balanced",
    max_nonzero: int | None = 150_000,
    meta: dict[str, Any] | None = None,
    nb: bool = False,
) -> TextModel:
    """Fit a logistic-regression text model.

    ``labels`` are class names; ``classes`` fixes their order (default: sorted). With two
    classes the model is binary and ``classes[1]`` is the positive class.

    ``nb`` (binary models only): NB-LR (Wang & Manning's NB-SVM with a logistic loss). Each
    column is scaled by its naive-Bayes log-count ratio before the fit, so rare but one-sided
    n-grams start with the weight they deserve; the stored weights are the product, so
    scoring stays one sparse dot product.
    """
    spec = spec or FeatureSpec()
    cls_order = tuple(classes) if classes is not None else tuple(sorted(set(labels)))
    index = {c: i for i, c in enumerate(cls_order)}
    y = np.array([index[lab] for lab in labels])
    shell = TextModel(cls_order, sp.csr_matrix((1, 1)), np.zeros(1), spec, tuple(extra_names))
    X = shell.featurize(texts, extra)
    present = sorted(set(y.tolist()))
    lr = LogisticRegression(C=C, max_iter=3000, class_weight=class_weight, tol=1e-4)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    # Fit on the columns the data uses only: with L2 the others get zero weight anyway, and
    # the optimiser then works on ~1e5 instead of ~1e6 parameters per class.
    used = np.unique(X.indices)
    n_cols = X.shape[1]
    if len(present) < 2:  # degenerate: only one class seen
        coef = np.zeros((n_cols, 1 if len(cls_order) == 2 else len(cls_order)), np.float32)
        intercept = np.full(coef.shape[1], -5.0)
        if len(cls_order) > 2:
            intercept[present[0]] = 5.0
        elif present == [1]:
            intercept[0] = 5.0
        return TextModel(cls_order, sp.csr_matrix(coef), intercept, spec, tuple(extra_names))
    Xu = X[:, used].tocsr()
    scale = np.ones(len(used), dtype=np.float64)
    if nb and len(cls_order) == 2:
        scale = nb_ratio(Xu, y, sw)
        Xu = Xu.multiply(scale.astype(np.float32)).tocsr()
    lr.fit(Xu, y, sample_weight=sw)
    if len(cls_order) == 2:
        coef = np.zeros((n_cols, 1), dtype=np.float32)
        coef[used, 0] = lr.coef_[0] * scale  # positive class = index 1
        intercept = lr.intercept_.astype(np.float64)
    else:
        coef = np.zeros((n_cols, len(cls_order)), dtype=np.float32)
        intercept = np.full(len(cls_order), -10.0)
        # LogisticRegression only knows the classes it saw; unseen ones stay improbable.
        for j, c in enumerate(lr.classes_):
            coef[used, c] = (
                lr.coef_[j]
                if len(lr.classes_) > 2
                else (lr.coef_[0] if j == 1 else -lr.coef_[0]) / 2
            )
            intercept[c] = (
                lr.intercept_[j]
                if len(lr.classes_) > 2
                else (lr.intercept_[0] if j == 1 else -lr.intercept_[0]) / 2
            )
    info: dict[str, Any] = {"n_train": len(texts), "C": C, "nb": nb}
    info.update(meta or {})
    return TextModel(
        cls_order, _prune(coef, max_nonzero), intercept, spec, tuple(extra_names), info
    )


def nb_ratio(
    X: sp.csr_matrix, y: np.ndarray, sample_weight: np.ndarray | None = None, alpha: float = 1.0
) -> np.ndarray:
    """Naive-Bayes log-count ratio of each column between class 1 and class 0 (smoothed)."""
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    B = X.copy()
    B.data[:] = 1.0
    p = np.asarray(B.T @ (w * (y == 1))).ravel() + alpha
    q = np.asarray(B.T @ (w * (y == 0))).ravel() + alpha
    return np.log((p / p.sum()) / (q / q.sum()))


def adapt(
    model: TextModel,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    extra: np.ndarray | None = None,
    sample_weight: Sequence[float] | np.ndarray | None = None,
    prior: float = 0.3,
) -> TextModel:
    """A copy of ``model`` moved toward corrected examples (e.g. a school's own corrections).

    Minimises the corrections' log loss plus ``prior`` times the squared distance to the
    current weights, over the columns the corrections use. A small prior
    lets a handful of corrections change predictions on similar posts while the rest of the
    model is unchanged.
    """
    index = {c: i for i, c in enumerate(model.classes)}
    y = np.array([index[lab] for lab in labels])
    X = model.featurize(texts, extra).tocsc()
    cols = np.unique(X.nonzero()[1])
    Xa = X[:, cols].tocsr()
    W0 = np.asarray(model.weights[cols].todense(), dtype=np.float64)
    b0 = np.asarray(model.intercept, dtype=np.float64)
    k = W0.shape[1]
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    n_cls = len(model.classes)
    Y = np.zeros((len(y), n_cls))
    Y[np.arange(len(y)), y] = 1.0

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W = theta.reshape(W0.shape)
        z = np.asarray(Xa @ W) + b0
        full = np.column_stack([np.zeros(len(y)), z]) if k == 1 else z
        full = full - full.max(axis=1, keepdims=True)
        logp = full - np.log(np.exp(full).sum(axis=1, keepdims=True))
        p = np.exp(logp)
        val = -(sw[:, None] * Y * logp).sum() + prior * (((W - W0) ** 2).sum())
        g_full = sw[:, None] * (p - Y)
        gz = g_full[:, 1:2] if k == 1 else g_full
        gW = np.asarray(Xa.T @ gz) + 2 * prior * (W - W0)
        return float(val), gW.ravel()

    # The intercept stays: it is shared by all posts, and a few corrections should only move
    # the weights of the n-grams they contain.
    res = minimize(loss, W0.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": 200})
    W_new = res.x.reshape(W0.shape)
    weights = model.weights.tolil(copy=True)
    for j, c in enumerate(cols):
        for m in range(k):
            weights[c, m] = W_new[j, m]
    meta = dict(model.meta)
    meta["adapted_on"] = int(meta.get("adapted_on", 0)) + len(y)
    return TextModel(
        model.classes,
        weights.tocsr().astype(np.float32),
        b0.copy(),
        model.spec,
        model.extra_names,
        meta,
    )


def logit(p: float | np.ndarray) -> Any:
    """log(p / (1 - p)), clipped away from 0 and 1."""
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))
