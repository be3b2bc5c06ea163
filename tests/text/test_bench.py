"""The benchmark harness in --quick mode runs end to end and writes a valid report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from yuqing.bench.text import bench_scheme, keywords, synthetic_posts

REPO = Path(__file__).resolve().parents[2]


def classifier_ready() -> bool:
    """The labels engineer's classifier and its model files are in place."""
    try:
        from yuqing.text.classify import Classifier

        for name in ("negative", "positive", "topic", "relevance"):
            Classifier.default().model(name)
    except (ImportError, FileNotFoundError, KeyError):
        return False
    return True


def test_keywords_are_deterministic_chinese_words_of_two_to_six_characters() -> None:
    words = keywords(2000)
    assert words == keywords(2000)
    assert len(set(words)) == 2000
    assert all(2 <= len(w) <= 6 for w in words)
    assert all("\u4e00" <= ch <= "\u9fff" for w in words for ch in w)
    scheme = bench_scheme(words)
    total = sum(
        len(scheme[k]) for k in ("subject_words", "region_words", "event_words", "exclude_words")
    )
    assert total >= 2000


def test_synthetic_posts_are_three_hundred_characters_and_repeatable() -> None:
    words = keywords(100)
    a = [p.text for p in synthetic_posts(5, words)]
    assert a == [p.text for p in synthetic_posts(5, words)]
    assert all(len(t) == 300 for t in a)


@pytest.mark.skipif(not classifier_ready(), reason="classifier not ready yet")
def test_quick_bench_writes_a_json_report(tmp_path: Path) -> None:
    out = tmp_path / "bench" / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "yuqing.bench", "--only", "text", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[bench]" in proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["quick"] is True
    figures = {f["name"]: f for f in report["suites"]["text"]}
    for name in ("classify_posts_per_second", "match_speedup_vs_re", "classify_peak_rss_mb"):
        assert isinstance(figures[name]["value"], float), figures[name]
        assert isinstance(figures[name]["pass"], bool)
        assert figures[name]["target"]
    assert report["summary"]["figures"] == len(report["suites"]["text"])
