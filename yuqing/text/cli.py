"""``yuqing classify`` and ``yuqing eval``: the text engine on JSONL files, no database.

Exit codes: 0 all good; 1 some input lines were bad (reported with their line numbers on
stderr, every good line still processed); 2 the run could not start (bad scheme file,
unreadable input, unwritable output).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from yuqing.text.pipeline import BadPost, Result, analyse, load_schemes, post_from_dict
from yuqing.text.types import SENTIMENTS, TOPICS, Post

EXIT_OK, EXIT_BAD_LINES, EXIT_SETUP = 0, 1, 2


class SetupError(Exception):
    """The run cannot start; the message is the one line printed on stderr."""


# -- shared helpers -----------------------------------------------------------------------


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage message already
        return int(exc.code) if isinstance(exc.code, int) else EXIT_SETUP


def read_scheme_file(path: str) -> tuple[Any, list[Any]]:
    """The raw JSON and the compiled schemes of a scheme file (one scheme or a list)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SetupError(f"cannot read scheme file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SetupError(f"scheme file {path} is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise SetupError(
            f"scheme file {path} is not valid JSON: line {exc.lineno}: {exc.msg}"
        ) from None
    if not isinstance(raw, dict | list) or (isinstance(raw, list) and not raw):
        raise SetupError(f"scheme file {path} must hold a scheme object or a list of them")
    items = raw if isinstance(raw, list) else [raw]
    for item in items:
        if not isinstance(item, dict):
            raise SetupError(f"scheme file {path}: every scheme must be a JSON object")
        subjects = item.get("subject_words")
        if not isinstance(subjects, list) or not all(isinstance(w, str) for w in subjects):
            raise SetupError(f"scheme file {path}: 'subject_words' must be a list of strings")
    try:
        schemes = load_schemes(items)
    except ImportError as exc:
        raise SetupError(f"the scheme compiler is not available: {exc}") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise SetupError(f"bad scheme in {path}: {exc}") from None
    return raw, schemes


def _open_in(path: str | None) -> IO[bytes]:
    if path is None or path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise SetupError(f"cannot read {path}: {exc.strerror or exc}") from None


def _open_out(path: str | None) -> IO[str]:
    if path is None or path == "-":
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise SetupError(f"cannot write {path}: {exc.strerror or exc}") from None


class LineReader:
    """Posts from JSONL bytes; bad lines go to stderr with their number and are counted."""

    def __init__(self, stream: IO[bytes], name: str, *, need_labels: bool = False) -> None:
        self.stream, self.name, self.need_labels = stream, name, need_labels
        self.bad = 0
        self.records: list[dict[str, Any]] = []  # kept only when labels are needed (eval)

    def _report(self, lineno: int, reason: str) -> None:
        self.bad += 1
        print(f"{self.name}:{lineno}: skipped: {reason}", file=sys.stderr)

    def __iter__(self) -> Iterator[Post]:
        for lineno, raw in enumerate(self.stream, 1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                self._report(lineno, "not UTF-8")
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                self._report(lineno, f"invalid JSON ({exc.msg} at column {exc.colno})")
                continue
            try:
                post = post_from_dict(record)
                if self.need_labels:
                    _check_labels(record)
            except BadPost as exc:
                self._report(lineno, str(exc))
                continue
            if self.need_labels:
                self.records.append(record)
            yield post


def _check_labels(d: dict[str, Any]) -> None:
    if not isinstance(d.get("relevant"), bool):
        raise BadPost("gold 'relevant' missing or not a boolean")
    if d.get("sentiment") not in SENTIMENTS:
        raise BadPost("gold 'sentiment' missing or not one of negative/neutral/positive")
    if d.get("topic") not in TOPICS:
        raise BadPost("gold 'topic' missing or not one of the ten topics")
    risk = d.get("risk")
    if isinstance(risk, bool) or not isinstance(risk, int) or not 0 <= risk <= 4:
        raise BadPost("gold 'risk' missing or not an integer 0-4")
    if not isinstance(d.get("event"), str | int) or isinstance(d.get("event"), bool):
        raise BadPost("gold 'event' missing")


def _progress(it: Iterator[Result], desc: str) -> Iterator[Result]:
    # Only for a person watching: never into a log file or a pipe.
    if not sys.stderr.isatty():
        return it
    from tqdm import tqdm

    return iter(tqdm(it, desc=desc, unit=" posts", file=sys.stderr))


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# -- classify -----------------------------------------------------------------------------


def classify_main(argv: list[str]) -> int:
    """``yuqing classify --scheme SCHEME.json [--in posts.jsonl] [--out labels.jsonl]``."""
    parser = argparse.ArgumentParser(
        prog="yuqing classify",
        description="Label posts (JSONL) against a monitoring scheme; one JSON line per post.",
    )
    parser.add_argument("--scheme", required=True, help="scheme JSON file (one scheme or a list)")
    parser.add_argument("--in", dest="inp", help="posts JSONL (default: standard input)")
    parser.add_argument("--out", help="labels JSONL (default: standard output)")
    parser.add_argument("--batch-size", type=int, default=512, help=argparse.SUPPRESS)
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    with contextlib.ExitStack() as stack:
        try:
            _, schemes = read_scheme_file(args.scheme)
            src = _open_in(args.inp)
            if src is not sys.stdin.buffer:
                stack.enter_context(src)
            out = _open_out(args.out)
            if out is not sys.stdout:
                stack.enter_context(out)
        except SetupError as exc:
            print(f"yuqing classify: error: {exc}", file=sys.stderr)
            return EXIT_SETUP
        reader = LineReader(src, args.inp or "<stdin>")
        try:
            results = analyse(reader, schemes, batch_size=max(1, args.batch_size))
            for result in _progress(results, "classify"):
                out.write(_dumps(result.to_json()) + "\n")
            out.flush()
        except BrokenPipeError:
            # The reader went away (`| head`): not an error of ours. Point stdout at devnull
            # so the interpreter's final flush does not raise again (Python docs' recipe).
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        except OSError as exc:
            print(f"yuqing classify: error: {exc}", file=sys.stderr)
            return EXIT_SETUP
    if reader.bad:
        print(f"yuqing classify: {reader.bad} bad line(s) skipped", file=sys.stderr)
        return EXIT_BAD_LINES
    return EXIT_OK


# -- eval ---------------------------------------------------------------------------------


def evaluate(
    records: list[dict[str, Any]], posts: list[Post], schemes: list[Any], raw_scheme: Any
) -> dict[str, Any]:
    """Engine and baseline figures on one labelled set, with the targets checked."""
    from yuqing.text.baseline import baseline_analyse
    from yuqing.text.metrics import check_targets, score_labelled

    t0 = time.perf_counter()
    engine = [r.to_json() for r in _progress(analyse(posts, schemes), "eval")]
    t1 = time.perf_counter()
    base = [r.to_json() for r in _progress(baseline_analyse(posts, raw_scheme), "baseline")]
    t2 = time.perf_counter()
    engine_fig = score_labelled(records, engine)
    base_fig = score_labelled(records, base)
    return {
        "n": len(records),
        "engine": engine_fig,
        "baseline": base_fig,
        "targets": check_targets(engine_fig),
        "baseline_targets": check_targets(base_fig),
        "seconds": {"engine": round(t1 - t0, 3), "baseline": round(t2 - t1, 3)},
    }


_TABLE_ROWS = (
    ("relevance precision", "relevance.precision"),
    ("relevance recall", "relevance.recall"),
    ("relevance F1", "relevance.f1"),
    ("negative precision", "negative.precision"),
    ("negative recall", "negative.recall"),
    ("negative F1", "negative.f1"),
    ("sentiment accuracy", "sentiment.accuracy"),
    ("topic macro-F1 (relevant)", "topic.macro_f1"),
    ("alert (risk>=2) precision", "alert.precision"),
    ("alert (risk>=2) recall", "alert.recall"),
    ("risk MAE", "risk.mae"),
    ("events B-cubed precision", "events.precision"),
    ("events B-cubed recall", "events.recall"),
    ("events B-cubed F1", "events.f1"),
)


def format_table(report: dict[str, Any]) -> str:
    from yuqing.text.metrics import lookup

    targets = {t["metric"]: t for t in report["targets"]}
    lines = [
        f"{report['n']} posts, {report['engine']['n_relevant']} relevant (gold)",
        f"{'metric':<28}{'engine':>9}{'baseline':>10}  target",
        "-" * 62,
    ]
    for label, path in _TABLE_ROWS:
        e, b = lookup(report["engine"], path), lookup(report["baseline"], path)
        t = targets.get(path)
        mark = f"  {t['target']:<8} {'PASS' if t['pass'] else 'FAIL'}" if t else ""
        lines.append(f"{label:<28}{e:>9.3f}{b:>10.3f}{mark}")
    passed = sum(1 for t in report["targets"] if t["pass"])
    lines.append("-" * 62)
    lines.append(f"targets passed: {passed}/{len(report['targets'])}")
    return "\n".join(lines)


def eval_main(argv: list[str]) -> int:
    """``yuqing eval --scheme SCHEME.json --gold posts.jsonl [--json FILE]``."""
    parser = argparse.ArgumentParser(
        prog="yuqing eval",
        description="Score the engine and the baseline on a labelled set (LABELS.md format).",
    )
    parser.add_argument("--scheme", required=True, help="scheme JSON file")
    parser.add_argument("--gold", required=True, help="labelled posts JSONL")
    parser.add_argument(
        "--json", dest="json_out", help="write the figures as JSON here ('-': stdout)"
    )
    args = _parse(parser, argv)
    if isinstance(args, int):
        return args
    try:
        raw_scheme, schemes = read_scheme_file(args.scheme)
        with _open_in(args.gold) as src:
            reader = LineReader(src, args.gold, need_labels=True)
            posts = list(reader)
    except SetupError as exc:
        print(f"yuqing eval: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except OSError as exc:
        print(f"yuqing eval: error: cannot read {args.gold}: {exc}", file=sys.stderr)
        return EXIT_SETUP
    if not posts:
        print(f"yuqing eval: error: no usable labelled posts in {args.gold}", file=sys.stderr)
        return EXIT_SETUP
    report = evaluate(reader.records, posts, schemes, raw_scheme)
    report["scheme"] = args.scheme
    report["gold"] = args.gold
    report["bad_lines"] = reader.bad
    table = format_table(report)
    if args.json_out == "-":
        print(table, file=sys.stderr)
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(table)
        if args.json_out:
            try:
                Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json_out).write_text(
                    json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
                )
            except OSError as exc:
                print(
                    f"yuqing eval: error: cannot write {args.json_out}: {exc.strerror or exc}",
                    file=sys.stderr,
                )
                return EXIT_SETUP
    return EXIT_BAD_LINES if reader.bad else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``python -m yuqing.text.cli classify|eval ...`` until the top-level command dispatches."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"classify": classify_main, "eval": eval_main}
    if not argv or argv[0] not in commands:
        print("usage: python -m yuqing.text.cli {classify,eval} ...", file=sys.stderr)
        return EXIT_SETUP
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
