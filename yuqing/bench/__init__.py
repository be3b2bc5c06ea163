"""Benchmark harness: ``python -m yuqing.bench [--only text] [--out FILE] [--quick]``.

Each suite returns a list of figures ``{name, value, unit, target, pass, ...}``; the report
is one JSON document with the machine, the mode and every figure. Progress goes to stderr.
Benchmarks run on one core (pinned where the OS allows, BLAS threads limited) so that figures
from a developer's PC and a school's server compare.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_OUT = "var/bench/report.json"
SUITES = ("text", "collect", "alerts", "monitor", "latency", "reports", "scale")


def one_core() -> None:
    """Limit this process (and children it starts) to one core."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if hasattr(os, "sched_setaffinity"):
        try:
            cpus = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {cpus[-1]})
        except OSError:
            pass  # containers may forbid it; the thread limits still hold


def progress(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def figure(
    name: str, value: float | None, unit: str, target: str | None, ok: bool | None, **details: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "value": None if value is None else round(float(value), 4),
        "unit": unit,
        "target": target,
        "pass": ok,
        **details,
    }


def _suite(name: str) -> Callable[..., Any]:
    if name not in SUITES:
        raise ValueError(f"unknown benchmark suite {name!r}")
    module = importlib.import_module(f"yuqing.bench.{name}")
    return module.run  # type: ignore[no-any-return]


def _figures(result: Any) -> list[dict[str, Any]]:
    """The figures of one suite: suites return a list of figures or a nested dict."""
    if isinstance(result, list):
        return [f for f in result if isinstance(f, dict) and "pass" in f]
    if isinstance(result, dict):
        if "pass" in result and "name" in result:
            return [result]
        found: list[dict[str, Any]] = []
        for value in result.values():
            found.extend(_figures(value))
        return found
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yuqing bench", description="Run Yuqing's benchmarks.")
    parser.add_argument("--only", action="append", choices=SUITES, help="run only this suite")
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"JSON report path (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the harness, not speed"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    one_core()
    started = time.time()
    report: dict[str, Any] = {
        "version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus_total": os.cpu_count(),
            "cpus_used": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        },
        "suites": {},
    }
    for name in args.only or SUITES:
        progress(f"suite {name}{' (quick)' if args.quick else ''}")
        try:
            report["suites"][name] = _suite(name)(quick=args.quick)
        except Exception as exc:  # one broken suite must not lose the others' figures
            progress(f"suite {name} failed: {exc!r}")
            report["suites"][name] = [figure(name, None, "", None, False, error=repr(exc))]
    figures = [f for result in report["suites"].values() for f in _figures(result)]
    report["summary"] = {
        "figures": len(figures),
        "passed": sum(1 for f in figures if f["pass"] is True),
        "failed": sum(1 for f in figures if f["pass"] is False),
        "skipped": sum(1 for f in figures if f["pass"] is None and f.get("value") is None),
        "info": sum(1 for f in figures if f["pass"] is None and f.get("value") is not None),
        "seconds": round(time.time() - started, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    for f in figures:
        mark = {True: "PASS", False: "FAIL"}.get(
            f["pass"], "SKIP" if f.get("value") is None else "INFO"
        )
        progress(
            f"{mark} {f.get('name', '?')}: {f.get('value')} {f.get('unit', '')}"
            f" (target {f.get('target')})"
        )
    progress(f"report written to {out}")
    return 1 if args.strict and report["summary"]["failed"] else 0
