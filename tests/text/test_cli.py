"""`yuqing classify` / `yuqing eval`, run as a person would: a subprocess on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
SCHEME = FIXTURES / "scheme.json"
GOOD = [
    {
        "id": "g1",
        "text": "青山实验中学食堂午餐吃出青虫，孩子拍了照片。",
        "published_at": "2026-10-12T12:10:00+08:00",
    },
    {"id": "g2", "title": "青山实中运动会", "text": "田径队获得全省团体第一名。"},
    {"id": "g3", "text": "青山区实验小学秋游去了植物园。", "relevant": False, "risk": 0},
]


def classifier_ready() -> bool:
    """The labels engineer's classifier and its model files are in place."""
    try:
        from yuqing.text.classify import Classifier

        for name in ("negative", "positive", "topic", "relevance"):
            Classifier.default().model(name)
    except (ImportError, FileNotFoundError, KeyError):
        return False
    return True


needs_classifier = pytest.mark.skipif(not classifier_ready(), reason="classifier not ready yet")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "yuqing.text.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
        check=False,
    )


def jsonl(rows: list[object]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


@needs_classifier
def test_classify_keeps_every_good_line_and_reports_bad_ones(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD[0], ensure_ascii=False),
        "{not json",  # line 2
        json.dumps({"text": "没有编号"}, ensure_ascii=False),  # line 3: missing id
        "",  # blank lines are not posts, nor errors
        json.dumps(GOOD[1], ensure_ascii=False),  # line 5
        json.dumps({"id": "x", "text": 42}),  # line 6: wrong type
        json.dumps(
            {"id": "y", "text": "时间", "published_at": "明天"}, ensure_ascii=False
        ),  # line 7
        json.dumps(GOOD[2], ensure_ascii=False),  # line 8
    ]
    inp = tmp_path / "posts.jsonl"
    inp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    proc = run("classify", "--scheme", str(SCHEME), "--in", str(inp), "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in (2, 3, 6, 7):
        assert f"posts.jsonl:{n}:" in proc.stderr
    for n in (1, 4, 5, 8):
        assert f"posts.jsonl:{n}:" not in proc.stderr
    got = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [g["id"] for g in got] == ["g1", "g2", "g3"]
    first = got[0]
    assert list(first) == [
        "id",
        "relevant",
        "sentiment",
        "topic",
        "risk",
        "event",
        "scores",
        "matches",
    ]
    assert first["relevant"] is True
    assert first["sentiment"] in {"negative", "neutral", "positive"}
    assert isinstance(first["risk"], int) and 0 <= first["risk"] <= 4
    assert "subject" in {m["kind"] for m in first["matches"]}


@needs_classifier
def test_classify_reads_stdin_and_writes_stdout() -> None:
    proc = run("classify", "--scheme", str(SCHEME), stdin=jsonl(GOOD))
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["id"] for x in proc.stdout.splitlines()] == ["g1", "g2", "g3"]
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal


@needs_classifier
def test_classify_reports_a_line_that_is_not_utf8(tmp_path: Path) -> None:
    inp = tmp_path / "p.jsonl"
    inp.write_bytes(
        jsonl(GOOD[:1]).encode() + b'{"id": "z", "text": "\xb9\xfa"}\n' + jsonl(GOOD[1:2]).encode()
    )
    proc = run("classify", "--scheme", str(SCHEME), "--in", str(inp))
    assert proc.returncode == 1
    assert "p.jsonl:2: skipped: not UTF-8" in proc.stderr
    assert len(proc.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{broken", "not valid JSON"),
        ('{"name": "x"}', "subject_words"),
        ('{"name": "x", "subject_words": ["a"], "colour": "red"}', "unknown key"),
        ("[]", "scheme object"),
    ],
)
def test_a_bad_scheme_file_is_one_clear_line_and_exit_2(
    tmp_path: Path, content: str, message: str
) -> None:
    scheme = tmp_path / "scheme.json"
    scheme.write_text(content, encoding="utf-8")
    proc = run("classify", "--scheme", str(scheme), stdin=jsonl(GOOD))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""


def test_a_missing_scheme_or_input_file_is_exit_2(tmp_path: Path) -> None:
    proc = run("classify", "--scheme", str(tmp_path / "nope.json"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("classify", "--scheme", str(SCHEME), "--in", str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 2 and "cannot read" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("classify", "--scheme", str(SCHEME), "--in", str(tmp_path))  # a directory
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_missing_arguments_are_a_usage_error() -> None:
    proc = run("classify")
    assert proc.returncode == 2 and "--scheme" in proc.stderr


@needs_classifier
def test_eval_prints_a_table_and_writes_json_with_targets_and_baseline(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    proc = run(
        "eval",
        "--scheme",
        str(SCHEME),
        "--gold",
        str(FIXTURES / "events.jsonl"),
        "--json",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert "events B-cubed F1" in proc.stdout and "targets passed" in proc.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["n"] == 36
    for side in ("engine", "baseline"):
        for key in ("relevance", "negative", "sentiment", "topic", "alert", "risk", "events"):
            assert key in report[side]
    assert {t["metric"] for t in report["targets"]} >= {"relevance.f1", "events.f1", "alert.recall"}
    assert all(isinstance(t["pass"], bool) for t in report["targets"])
    # the baseline puts every post in its own event
    assert report["baseline"]["events"]["precision"] == 1.0


def test_eval_refuses_gold_without_labels(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(jsonl(GOOD[:2]), encoding="utf-8")
    proc = run("eval", "--scheme", str(SCHEME), "--gold", str(gold))
    assert proc.returncode == 2
    assert "gold.jsonl:1: skipped: gold 'relevant'" in proc.stderr
    assert "no usable labelled posts" in proc.stderr


def test_the_module_needs_a_command() -> None:
    assert run().returncode == 2
