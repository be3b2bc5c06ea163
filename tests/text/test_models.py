"""TextModel: train / predict / save / load round trip, size bounds, adapting to corrections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from yuqing.text.models import FeatureSpec, TextModel, adapt, featurizer, train, transform_many

SPEC = FeatureSpec(n_features=2**16)
POS = ["食堂饭菜很好吃", "老师讲课认真负责", "宿舍干净整洁", "活动办得很精彩", "校园环境优美"]
NEG = ["食堂饭菜难吃又贵", "老师上课骂学生", "宿舍漏水没人管", "收费不合理乱收费", "厕所太脏了"]


def _binary() -> TextModel:
    texts = POS * 3 + NEG * 3
    labels = ["good"] * 15 + ["bad"] * 15
    return train(texts, labels, classes=("good", "bad"), spec=SPEC, C=10.0)


def test_train_predict_binary() -> None:
    m = _binary()
    assert m.classes == ("good", "bad")
    p = m.predict_proba(["饭菜难吃", "讲课认真"])
    assert p.shape == (2, 2)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert m.predict(["饭菜难吃又贵", "环境优美干净"]) == ["bad", "good"]


def test_multiclass_with_unseen_class() -> None:
    texts = ["食堂饭菜", "食堂米饭", "月考成绩", "中考录取", "校服收费", "资料费收费"]
    labels = ["food", "food", "exam", "exam", "fees", "fees"]
    m = train(texts, labels, classes=("food", "exam", "fees", "other"), spec=SPEC, C=10.0)
    p = m.predict_proba(["食堂的饭", "收费太高"])
    assert p.shape == (2, 4)
    assert p[:, 3].max() < 0.05  # never seen in training
    assert m.predict(["食堂的饭菜"]) == ["food"]


def test_save_load_round_trip(tmp_path: Path) -> None:
    m = _binary()
    path = tmp_path / "m.npz"
    m.save(path)
    m2 = TextModel.load(path)
    texts = ["饭菜难吃", "讲课认真负责", "无关的句子"]
    assert m2.classes == m.classes
    assert m2.spec == m.spec
    assert np.allclose(m.predict_proba(texts), m2.predict_proba(texts), atol=1e-5)
    assert path.stat().st_size < 200_000


def test_load_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.npz"
    np.savez(bad, header=np.frombuffer(b'{"format": "nope"}', np.uint8))
    with pytest.raises(ValueError):
        TextModel.load(bad)


def test_extra_features_round_trip(tmp_path: Path) -> None:
    texts = ["甲", "乙"] * 10
    extra = np.array([[1.0], [0.0]] * 10, dtype=np.float32)
    labels = ["yes", "no"] * 10
    m = train(texts, labels, classes=("no", "yes"), extra=extra, extra_names=("flag",), spec=SPEC)
    m.save(tmp_path / "r.npz")
    m2 = TextModel.load(tmp_path / "r.npz")
    assert m2.extra_names == ("flag",)
    p = m2.predict_proba(["丙", "丙"], np.array([[1.0], [0.0]], dtype=np.float32))
    assert p[0, 1] > p[1, 1]


def test_pruning_bounds_weights() -> None:
    texts = POS * 3 + NEG * 3
    labels = ["good"] * 15 + ["bad"] * 15
    m = train(texts, labels, classes=("good", "bad"), spec=SPEC, max_nonzero=50)
    assert m.weights.nnz <= 60


def test_adapt_to_corrections_changes_predictions() -> None:
    m = _binary()
    post = "晚自习延长到十点半"
    before = m.predict_proba([post])[0, 1]
    corrections = ["晚自习延长到十点半", "晚自习又延长了", "晚自习延长太累"]
    m2 = adapt(m, corrections, ["bad"] * 3, prior=0.1)
    after = m2.predict_proba([post])[0, 1]
    assert after > before + 0.2
    assert m2.predict([post]) == ["bad"]
    # Posts sharing nothing with the corrections keep their labels.
    assert m2.predict(["校园环境优美", "老师上课骂学生"]) == ["good", "bad"]
    assert m2.meta["adapted_on"] == 3


def test_retrain_with_corrections_changes_predictions() -> None:
    texts = POS * 3 + NEG * 3
    labels = ["good"] * 15 + ["bad"] * 15
    m = train(texts, labels, classes=("good", "bad"), spec=SPEC, C=10.0)
    post = "学校组织周末统一补课"
    extra = ["学校组织周末统一补课", "周末统一补课真累", "又组织周末补课"]
    m2 = train(
        texts + extra,
        labels + ["bad"] * 3,
        classes=("good", "bad"),
        spec=SPEC,
        C=10.0,
        sample_weight=[1.0] * 30 + [5.0] * 3,
    )
    assert m2.predict_proba([post])[0, 1] > m.predict_proba([post])[0, 1]
    assert m2.predict([post]) == ["bad"]


def test_binary_spec_and_nb_weights() -> None:
    spec = FeatureSpec(n_features=2**16, ngram_min=1, ngram_max=4, binary=True)
    X = featurizer(spec).transform(["好好好", ""])
    assert set(X.data.tolist()) == {1.0} and X[1].nnz == 0
    m = train(
        POS * 3 + NEG * 3,
        ["good"] * 15 + ["bad"] * 15,
        classes=("good", "bad"),
        spec=spec,
        C=1.0,
        nb=True,
    )
    assert m.predict(["饭菜难吃又贵", "环境优美干净"]) == ["bad", "good"]
    assert m.meta["nb"] is True


def test_transform_many_equals_separate_transforms() -> None:
    texts = ["食堂饭菜很好吃", "宿舍漏水没人管，太差了！", "a"]
    specs = [SPEC, FeatureSpec(n_features=2**16, ngram_min=1, ngram_max=4, binary=True)]
    mats = transform_many(texts, specs)
    for s in specs:
        want = featurizer(s).transform(texts)
        assert (abs(mats[s] - want)).max() < 1e-6
        # Rows are L2-normalised unless binary.
    norms = np.sqrt(np.asarray(mats[SPEC].multiply(mats[SPEC]).sum(axis=1))).ravel()
    assert np.allclose(norms, 1.0, atol=1e-5)


@pytest.mark.parametrize("binary", [False, True])
def test_matrix_equals_a_plain_scipy_build(binary: bool) -> None:
    # The per-document layout and sort must give exactly the rows scipy builds from the same
    # (row, bucket) pairs by summing duplicates: empty, one-character and repeated texts too.
    from yuqing.text.models import _matrix, _ngram_hashes

    spec = FeatureSpec(n_features=2**12, ngram_min=1, ngram_max=3, binary=binary)
    texts = ["", "a", "好", "好好好好好好", "食堂饭菜太难吃了，食堂饭菜太贵了", "", "abcabcabc"]
    texts += [f"第{i}条：白鹭一中食堂{i % 3}号窗口" * (i % 4) for i in range(40)]
    n_docs, parts = _ngram_hashes(texts, spec.ngram_min, spec.ngram_max, spec.max_chars)
    got = _matrix(n_docs, parts, spec)
    rows = np.concatenate([r for r, _h in parts])
    cols = np.concatenate([(h % np.uint64(spec.n_features)).astype(np.int64) for _r, h in parts])
    counts = sp.coo_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(n_docs, spec.n_features)
    ).tocsr()
    counts.sum_duplicates()
    if binary:
        want = (counts > 0).astype(np.float32).toarray()
    else:
        data = np.log1p(counts.toarray())
        norms = np.sqrt((data**2).sum(axis=1, keepdims=True))
        norms[norms == 0] = 1.0
        want = data / norms
    assert got.shape == (n_docs, spec.n_features)
    assert got.has_sorted_indices or got.nnz == 0
    np.testing.assert_allclose(got.toarray(), want, rtol=1e-6, atol=1e-7)
