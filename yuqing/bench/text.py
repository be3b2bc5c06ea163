"""Text-engine benchmarks: throughput, matching speed against ``re``, streaming memory, quality.

Synthetic data is generated from a fixed seed: 300-character posts drawn from common Chinese
characters, with scheme words planted in them, and a scheme of 2,000 keywords of 2–6
characters. Quality figures come from the labelled sets in the shared folder when present.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from yuqing.bench import figure, progress
from yuqing.text.types import Post

SEED = 20260901
N_KEYWORDS = 2_000
POST_CHARS = 300

# ~600 frequent characters of Chinese news and social-media text: realistic bigram statistics
# are not needed, realistic alphabet size (for automaton and regex behaviour) is.
_COMMON = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后"
    "小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长"
    "知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最"
    "间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市"
    "眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计"
    "或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让"
    "认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办"
    "运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持"
    "取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞"
    "观争究包组造落视济喜离虽坏兴切朝团据食堂宿舍饭菜家长老师班主任课堂考试作业分数升学录取收费退款校服"
)


def keywords(n: int = N_KEYWORDS, seed: int = SEED) -> list[str]:
    """``n`` distinct Chinese words of 2–6 characters (mostly 2–4, as real keyword lists are)."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        length = rng.choices((2, 3, 4, 5, 6), weights=(40, 25, 20, 10, 5))[0]
        out["".join(rng.choice(_COMMON) for _ in range(length))] = None
    return list(out)


def bench_scheme(words: list[str]) -> dict[str, Any]:
    return {
        "name": "基准测试中学",
        "subject_words": ["基准测试中学", "基准中学", *words[:8]],
        "region_words": words[8:20],
        "event_words": words[20:-10],
        "exclude_words": words[-10:],
    }


# Everyday words of posts about schools, most frequent first. Posts are drawn from them with
# Zipf weights: random characters would make every word a new word, which no real text does
# and which makes segmentation and word statistics far slower than in real use.
_VOCAB_TEXT = """
的 了 是 在 我 有 和 就 不 人 都 一个 也 很 到 说 要 去 你 会 着 没有 看 好 自己 这 学校 孩子 老师
家长 学生 今天 我们 他们 已经 还是 因为 所以 但是 如果 可以 现在 时候 知道 觉得 问题 情况 工作 事情
班主任 校长 通知 要求 同学们 班级 年级 上课 放学 希望 建议 网友 一些 所有 每天 每周 突然 终于 居然
真的 确实 其实 特别 非常 有点 太 更 最 再 又 还 只 才 被 把 让 给 对 从 向 跟 为 比 等 多 少 大 小
新 老 高 低 长 短 快 慢 早 晚 昨天 明天 上午 下午 晚上 早上 中午 一下 一起 这样 那样 什么 怎么
"""
_VOCAB = _VOCAB_TEXT.split()
_PUNCT = "，，，。。！？、"


def synthetic_posts(n: int, words: list[str], seed: int = SEED) -> Iterator[Post]:
    """``n`` posts of 300 characters, each with a few planted keywords; a generator (streams)."""
    rng = random.Random(seed + 1)
    t0 = datetime(2026, 9, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(_VOCAB))]
    # What a post is about: a few content words of its own, drawn from a large vocabulary,
    # so that posts differ as real ones do instead of all sharing one small word list.
    content = keywords(5_000, seed=seed + 3)
    for i in range(n):
        topic = rng.sample(content, 6)
        parts: list[str] = []
        length = 0
        while length < POST_CHARS:
            run = rng.choices(_VOCAB, weights=weights, k=rng.randint(4, 12))
            run.insert(rng.randrange(len(run) + 1), rng.choice(topic))
            if rng.random() < 0.3:
                run.insert(rng.randrange(len(run) + 1), rng.choice(words))
            chunk = "".join(run) + rng.choice(_PUNCT)
            parts.append(chunk)
            length += len(chunk)
        text = "".join(parts)
        if rng.random() < 0.5:
            pos = rng.randrange(0, POST_CHARS - 6)
            text = text[:pos] + "基准测试中学" + text[pos:]
        yield Post(
            id=f"b{i:06d}",
            text=text[:POST_CHARS],
            title="",
            source_type="weibo",
            published_at=t0 + timedelta(seconds=30 * i),
        )


# -- (1) end-to-end -----------------------------------------------------------------------


def posts_jsonl(posts: Iterator[Post]) -> bytes:
    """The posts as the JSONL that ``yuqing classify`` reads (LABELS.md format)."""
    lines = [
        json.dumps(
            {
                "id": p.id,
                "source_type": p.source_type,
                "title": p.title,
                "text": p.text,
                "published_at": p.published_at.isoformat() if p.published_at else None,
            },
            ensure_ascii=False,
        )
        for p in posts
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def classify_jsonl(data: bytes, scheme: dict[str, Any]) -> int:
    """What ``yuqing classify`` does between its files: read JSONL, analyse, write JSONL."""
    import io

    from yuqing.text.cli import LineReader, _dumps
    from yuqing.text.pipeline import analyse

    reader = LineReader(io.BytesIO(data), "<bench>")
    out = io.StringIO()
    count = 0
    for result in analyse(reader, scheme):
        out.write(_dumps(result.to_json()) + "\n")
        count += 1
    return count


def bench_classify(n: int, words: list[str]) -> dict[str, Any]:
    scheme = bench_scheme(words)
    # Warm-up: model loading and automaton building are start-up costs, not per-post costs.
    classify_jsonl(posts_jsonl(synthetic_posts(20, words, seed=SEED + 7)), scheme)
    # The input is made before the clock starts: generating synthetic posts (~140 µs each)
    # is the benchmark's own cost, not the classifier's.
    data = posts_jsonl(synthetic_posts(n, words))
    w0, c0 = time.perf_counter(), time.process_time()
    count = classify_jsonl(data, scheme)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    rate = count / cpu if cpu else 0.0
    return figure(
        "classify_posts_per_second",
        rate,
        "posts/s",
        ">= 2000",
        rate >= 2000,
        posts=count,
        cpu_seconds=round(cpu, 3),
        wall_seconds=round(wall, 3),
        wall_posts_per_second=round(count / wall, 1) if wall else None,
        note="JSONL in -> analyse -> JSONL out, as `yuqing classify` between its files; per "
        "CPU-second of one core (wall-clock rate alongside): other load does not skew it",
    )


# -- (2) matching vs re -------------------------------------------------------------------


def bench_matching(n: int, words: list[str]) -> list[dict[str, Any]]:
    from yuqing.text.matcher import Matcher
    from yuqing.text.pipeline import load_schemes

    scheme = bench_scheme(words)
    all_words = [
        w
        for k in ("subject_words", "region_words", "event_words", "exclude_words")
        for w in scheme[k]
    ]
    texts = [p.text for p in synthetic_posts(n, words)]
    matcher = Matcher(load_schemes([scheme]))
    pattern = re.compile("|".join(re.escape(w) for w in sorted(all_words, key=len, reverse=True)))

    # CPU time of this process: both sides measured alike even when the machine is busy.
    t0 = time.process_time()
    found_m = sum(len(m.hits) for t in texts for m in matcher.match("", t))
    dt_m = time.process_time() - t0
    t0 = time.process_time()
    found_r = sum(1 for t in texts for _ in pattern.finditer(t))
    dt_r = time.process_time() - t0
    ratio = dt_r / dt_m if dt_m else 0.0
    return [
        figure(
            "match_posts_per_second", n / dt_m if dt_m else 0.0, "posts/s", None, None, hits=found_m
        ),
        figure(
            "re_alternation_posts_per_second",
            n / dt_r if dt_r else 0.0,
            "posts/s",
            None,
            None,
            hits=found_r,
        ),
        figure(
            "match_speedup_vs_re",
            ratio,
            "x",
            ">= 20",
            ratio >= 20,
            keywords=len(all_words),
            posts=n,
        ),
    ]


# -- (3) memory ---------------------------------------------------------------------------


def memory_child(n: int) -> None:
    """Run in a fresh process: stream ``n`` posts through ``analyse``; print peak RSS in MB."""
    import resource

    from yuqing.text.pipeline import analyse

    words = keywords()
    count = 0
    for _ in analyse(synthetic_posts(n, words), bench_scheme(words)):
        count += 1
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"posts": count, "peak_mb": peak_kb / 1024}))


def bench_memory(n: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "yuqing.bench.text", "--memory-child", str(n)],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return figure("classify_peak_rss_mb", None, "MB", "<= 500", False, posts=n, error=tail[0])
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    mb = float(data["peak_mb"])
    return figure(
        "classify_peak_rss_mb",
        mb,
        "MB",
        "<= 500",
        mb <= 500,
        posts=data["posts"],
        seconds=round(time.perf_counter() - t0, 1),
    )


# -- (4) quality --------------------------------------------------------------------------


def shared_dir() -> Path | None:
    """The shared folder beside the repository (or $YUQING_SHARED), if present."""
    env = os.environ.get("YUQING_SHARED")
    candidates = [Path(env)] if env else []
    repo = Path(__file__).resolve().parents[2]
    candidates += [repo.parent / "shared", repo / "shared"]
    return next((c for c in candidates if (c / "eval").is_dir()), None)


def bench_eval(quick: bool) -> list[dict[str, Any]]:
    shared = shared_dir()
    dev = shared / "eval" / "dev-school" if shared else None
    if dev is None or not (dev / "posts.jsonl").is_file():
        return [
            figure(
                "eval_dev_school",
                None,
                "",
                None,
                None,
                note="shared/eval/dev-school not found: skipped",
            )
        ]
    from yuqing.text.cli import LineReader, evaluate, read_scheme_file

    raw, schemes = read_scheme_file(str(dev / "scheme.json"))
    with open(dev / "posts.jsonl", "rb") as fh:
        reader = LineReader(fh, str(dev / "posts.jsonl"), need_labels=True)
        posts = list(reader)
    if quick:
        posts, reader.records = posts[:40], reader.records[:40]
    report = evaluate(reader.records, posts, schemes, raw)
    out = []
    for t in report["targets"]:
        out.append(
            figure(
                f"dev_school_{t['metric'].replace('.', '_')}",
                t["value"],
                "",
                t["target"],
                t["pass"],
                baseline=round(_lookup(report["baseline"], t["metric"]), 4),
                posts=report["n"],
            )
        )
    return out


def _lookup(d: dict[str, Any], path: str) -> float:
    for part in path.split("."):
        d = d[part]
    return float(d)  # type: ignore[arg-type]


def bench_osm(quick: bool) -> dict[str, Any]:
    """Negative-vs-not macro-F1 on osm_weibo against SnowNLP, if the classifier exposes a hook."""
    shared = shared_dir()
    osm = shared / "data" / "osm_weibo_school_incidents" if shared else None
    if osm is None or not (osm / "evl_review.txt").is_file():
        return figure(
            "osm_weibo_negative_macro_f1",
            None,
            "",
            None,
            None,
            note="osm_weibo data not found: skipped",
        )
    try:
        from yuqing.text.classify import Classifier

        classifier = Classifier.default()
        classifier.negative_proba(["预热"])  # load the models now: a missing file shows here
    except (ImportError, FileNotFoundError, KeyError) as exc:
        return figure(
            "osm_weibo_negative_macro_f1",
            None,
            "",
            None,
            None,
            note=f"classifier not available: {exc}",
        )

    def negative_proba(texts: list[str]) -> list[float]:
        return [float(p) for p in classifier.negative_proba(texts)]

    from yuqing.text.baseline import snownlp_positive
    from yuqing.text.metrics import macro_f1

    texts = [
        line.replace(" ", "").strip()
        for line in (osm / "evl_review.txt").read_text(encoding="utf-8").splitlines()
    ]
    gold = [
        line.strip() in {"1", "2", "3"}
        for line in (osm / "evl_label.txt").read_text(encoding="utf-8").splitlines()
    ]
    n = 200 if quick else len(gold)
    texts, gold = texts[:n], gold[:n]
    ours = [float(p) >= 0.5 for p in negative_proba(texts)]
    base = [snownlp_positive(t) < 0.5 for t in texts]
    f_ours, f_base = macro_f1(gold, ours, [True, False]), macro_f1(gold, base, [True, False])
    return figure(
        "osm_weibo_negative_macro_f1",
        f_ours,
        "",
        ">= 0.83 and >= snownlp + 0.25",
        f_ours >= 0.83 and f_ours >= f_base + 0.25,
        snownlp=round(f_base, 4),
        margin_over_snownlp=round(f_ours - f_base, 4),
        posts=n,
    )


def run(quick: bool = False) -> list[dict[str, Any]]:
    sizes = (
        {"classify": 200, "match": 200, "memory": 1_000}
        if quick
        else {
            "classify": 5_000,
            "match": 3_000,
            "memory": 100_000,
        }
    )
    words = keywords()
    out: list[dict[str, Any]] = []
    steps: list[tuple[str, Any]] = [
        (
            f"classify end-to-end, {sizes['classify']} posts",
            lambda: [bench_classify(sizes["classify"], words)],
        ),
        (f"matching vs re, {sizes['match']} posts", lambda: bench_matching(sizes["match"], words)),
        (f"peak memory, {sizes['memory']} posts streamed", lambda: [bench_memory(sizes["memory"])]),
        ("eval on dev-school", lambda: bench_eval(quick)),
        ("osm_weibo negative-vs-not", lambda: [bench_osm(quick)]),
    ]
    for label, step in steps:
        progress(f"text: {label}")
        t0 = time.perf_counter()
        try:
            out.extend(step())
        except ImportError as exc:
            out.append(figure(label, None, "", None, None, note=f"skipped: {exc}"))
        progress(f"text: {label} done in {time.perf_counter() - t0:.1f}s")
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory-child":
        memory_child(int(sys.argv[2]))
    else:
        print("usage: python -m yuqing.bench.text --memory-child N", file=sys.stderr)
        sys.exit(2)
