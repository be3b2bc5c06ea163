"""Measure the labelling half of the text engine.

- A labelled school set (default ../shared/eval/dev-school): relevance F1, negative recall and
  precision, topic macro-F1 over relevant posts, alert-worthy (risk >= 2) recall / precision.
- osm_weibo_school_incidents eval split: macro-F1 of negative-vs-not (text de-segmented).

Measuring only: nothing here trains or tunes. Run:
    .venv/bin/python scripts/measure_labels.py [--set DIR] [--errors]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.metrics import f1_score  # noqa: E402

from yuqing.text.classify import Classifier  # noqa: E402
from yuqing.text.types import Post  # noqa: E402

SHARED = (ROOT / ".." / "shared").resolve()


def pr(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def measure_set(folder: Path, show_errors: bool) -> None:
    scheme = json.loads((folder / "scheme.json").read_text(encoding="utf-8"))
    rows = [json.loads(x) for x in (folder / "posts.jsonl").open(encoding="utf-8") if x.strip()]
    posts = [
        Post(
            id=r["id"],
            text=r.get("text", ""),
            title=r.get("title", ""),
            source_type=r.get("source_type", "other"),
            source_name=r.get("source_name", ""),
            url=r.get("url", ""),
            author=r.get("author", ""),
        )
        for r in rows
    ]
    clf = Classifier.default()
    matches = None
    try:  # the real matcher, when it exists, folds variants ("滨江1中") the fallback misses
        from yuqing.text.matcher import match_scheme
        from yuqing.text.scheme import Scheme

        sch = Scheme.from_dict(scheme)
        matches = [match_scheme(sch, p.title, p.text) for p in posts]
        print("matcher: yuqing.text.matcher")
    except Exception as exc:  # the matcher is another engineer's; fall back to substrings
        print(f"matcher: built-in substring fallback ({type(exc).__name__})")
    t = time.perf_counter()
    labels = clf.label_many(posts, matches, scheme)
    dt = time.perf_counter() - t
    print(f"{folder.name}: {len(posts)} posts labelled in {dt:.2f}s")

    def count(pred: list[bool], gold: list[bool]) -> tuple[float, float, float]:
        tp = sum(p and g for p, g in zip(pred, gold, strict=True))
        fp = sum(p and not g for p, g in zip(pred, gold, strict=True))
        fn = sum(g and not p for p, g in zip(pred, gold, strict=True))
        return pr(tp, fp, fn)

    rel = count([lab.relevant for lab in labels], [r["relevant"] for r in rows])
    neg = count(
        [lab.sentiment == "negative" for lab in labels],
        [r["sentiment"] == "negative" for r in rows],
    )
    alert = count([lab.risk >= 2 for lab in labels], [r["risk"] >= 2 for r in rows])
    idx = [i for i, r in enumerate(rows) if r["relevant"]]
    topic_f1 = f1_score(
        [rows[i]["topic"] for i in idx], [labels[i].topic for i in idx], average="macro"
    )
    sent_acc = sum(lab.sentiment == r["sentiment"] for lab, r in zip(labels, rows, strict=True))
    print(f"  relevance     P {rel[0]:.3f} R {rel[1]:.3f} F1 {rel[2]:.3f}   (target F1 >= 0.92)")
    print(
        f"  negative      P {neg[0]:.3f} R {neg[1]:.3f} F1 {neg[2]:.3f}   "
        "(target R >= 0.90 at P >= 0.85)"
    )
    print(f"  sentiment accuracy (3 classes) {sent_acc / len(rows):.3f}")
    print(f"  topic macro-F1 over relevant posts {topic_f1:.3f}   (target >= 0.80)")
    print(f"  alert (risk>=2) P {alert[0]:.3f} R {alert[1]:.3f}   (target R >= 0.95 at P >= 0.75)")
    exact = sum(lab.risk == r["risk"] for lab, r in zip(labels, rows, strict=True))
    print(f"  risk exact accuracy {exact / len(rows):.3f}")
    if show_errors:
        for r, lab in zip(rows, labels, strict=True):
            bad = []
            if lab.relevant != r["relevant"]:
                bad.append(f"rel {lab.relevant}/{r['relevant']} ({lab.relevance:.2f})")
            if lab.sentiment != r["sentiment"]:
                bad.append(f"sent {lab.sentiment}/{r['sentiment']}")
            if r["relevant"] and lab.topic != r["topic"]:
                bad.append(f"topic {lab.topic}/{r['topic']}")
            if (lab.risk >= 2) != (r["risk"] >= 2):
                bad.append(f"risk {lab.risk}/{r['risk']}")
            if bad:
                print(
                    f"  {r['id']} {'; '.join(bad)} | {(r.get('title') or '')[:20]} | "
                    f"{r['text'][:60]}"
                )


def measure_osm() -> None:
    d = SHARED / "data" / "osm_weibo_school_incidents"
    texts = [x.rstrip("\n").replace(" ", "") for x in (d / "evl_review.txt").open(encoding="utf-8")]
    gold = [int(x) > 0 for x in (d / "evl_label.txt").open(encoding="utf-8")]
    clf = Classifier.default()
    posts = [Post(id=str(i), text=t, source_type="weibo") for i, t in enumerate(texts)]
    t = time.perf_counter()
    labels = clf.label_many(posts)
    dt = time.perf_counter() - t
    pred = [lab.sentiment == "negative" for lab in labels]
    raw = clf.model("negative").predict_proba(texts)[:, 1] >= 0.5
    short = clf.model("short").predict_proba(texts)[:, 1] >= 0.5
    proba = clf.negative_proba(texts) >= 0.5
    print(
        f"osm eval ({len(texts)} rows, {dt:.2f}s): negative-vs-not macro-F1 "
        f"{f1_score(gold, proba, average='macro'):.3f} (negative_proba >= 0.5, the bench's), "
        f"{f1_score(gold, pred, average='macro'):.3f} (sentiment label), "
        f"{f1_score(gold, short, average='macro'):.3f} (short-text model alone), "
        f"{f1_score(gold, raw, average='macro'):.3f} (school-post model alone)   "
        "(target >= 0.83)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", type=Path, default=SHARED / "eval" / "dev-school")
    ap.add_argument("--errors", action="store_true", help="list the posts labelled wrongly")
    ap.add_argument("--no-osm", action="store_true")
    args = ap.parse_args()
    measure_set(args.set, args.errors)
    if not args.no_osm:
        measure_osm()


if __name__ == "__main__":
    main()
