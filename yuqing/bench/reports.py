"""Reports benchmarks (issue 9): the overview pages at scale, and the half-year report.

``run(quick)`` works in a child process with its own data directory (SQLite), so the caller's
Django set-up and files are untouched.

1. Overview: N mentions (1,000,000; 20,000 with --quick) spread over the last 180 days, with
   events, written straight into the table (the text engine's cost is measured by the text and
   monitor suites). A logged-in monitor opens the home overview and the reports dashboard
   through the Django test client; server time per request, p95 after two warm-up requests.
2. Half-year report: another school with 50,000 mentions (10,000 with --quick) over the half
   year; ``report_generate(kind="half_year", ...)`` timed end to end (numbers, charts, DOCX,
   archive row).

With ``YUQING_BENCH_POSTGRES_URL`` set (or PostgreSQL reachable at the default test URL) the
overview pages are measured on PostgreSQL too, in a database of their own, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OVERVIEW_P95_MS = 300.0
HALF_YEAR_S = 10.0
_SENTIMENTS = ["negative", "neutral", "neutral", "neutral", "positive", "positive"]
_TOPICS = ["health", "food_lodging", "teaching", "fees", "campus_news", "other"]
_TYPES = ["news", "weibo", "wechat", "forum", "video", "qa"]


def run(quick: bool = False) -> list[dict[str, Any]]:
    return figures(measure(quick))


def measure(
    quick: bool = False,
    *,
    mentions: int | None = None,
    report_mentions: int | None = None,
    postgres: bool = True,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-reports-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("YUQING_", "PYTEST_"))}
        for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"):
            env.pop(name, None)
        env.update(
            YUQING_DATA_DIR=tmp,
            YUQING_DEMO="0",
            YUQING_HUEY_IMMEDIATE="1",
            DJANGO_SETTINGS_MODULE="yuqing.settings",
        )
        n = mentions if mentions is not None else (20_000 if quick else 1_000_000)
        r = report_mentions if report_mentions is not None else (10_000 if quick else 50_000)
        result = _child_run(env, n, r)
        pg_url = os.environ.get("YUQING_BENCH_POSTGRES_URL", "postgres://root@127.0.0.1:5432/test")
        pg = _postgres(pg_url, env, tmp, n) if postgres else None
        if pg is not None:
            result["overview_postgres"] = pg
        return result


def _child_run(env: dict[str, str], n: int, report_n: int) -> dict[str, Any]:
    args = [sys.executable, "-m", "yuqing.bench.reports", "--child", str(n), str(report_n)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=7200)  # noqa: S603
    if proc.returncode != 0:
        raise RuntimeError(f"reports bench child failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _postgres(url: str, env: dict[str, str], tmp: str, n: int) -> dict[str, Any] | None:
    """The overview pages on PostgreSQL, in a database of the bench's own; None without one."""
    try:
        import psycopg

        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except Exception:
        return None
    # Of this run alone: several people may run the bench against one server.
    name = f"yuqing_bench_reports_{os.getpid()}"
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    base = url.rsplit("/", 1)[0]
    pg_env = {**env, "YUQING_DATA_DIR": str(Path(tmp) / "pg"), "DATABASE_URL": f"{base}/{name}"}
    try:
        return _child_run(pg_env, n, 0)["overview"]  # type: ignore[no-any-return]
    except RuntimeError as exc:
        return {"error": str(exc)[-2000:]}
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")


# --------------------------------------------------------------------------- child


def _progress(msg: str) -> None:
    print(f"[bench reports] {msg}", file=sys.stderr, flush=True)


def _setup() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _school(name: str, slug: str) -> Any:
    from yuqing.accounts.models import School
    from yuqing.core.tenancy import all_schools

    with all_schools():
        return School.objects.create(name=name, slug=slug)


def _fill(school: Any, n: int, *, days: int, seed: int) -> float:
    """Write n mentions over the last ``days`` days with a few hundred events; seconds taken."""
    from django.db import transaction
    from django.utils import timezone

    from yuqing.core.tenancy import school_scope
    from yuqing.monitor.models import Event, Mention, Source

    rng = random.Random(seed)
    now = timezone.now()
    started = time.perf_counter()
    with school_scope(school):
        source = Source.objects.create(name="bench", kind=Source.Kind.PUSH, source_type="news")
        events = [
            Event.objects.create(
                key=f"e{i}",
                title=f"事件 {i}",
                first_at=now - dt.timedelta(days=rng.uniform(0, days)),
                latest_at=now,
                mention_count=max(1, n // 300),
                peak_risk=rng.choice([0, 0, 1, 2, 3, 4]),
            )
            for i in range(300)
        ]
    batch = 10_000
    for offset in range(0, n, batch):
        rows = []
        for i in range(offset, min(n, offset + batch)):
            when = now - dt.timedelta(seconds=rng.uniform(0, days * 86400))
            rows.append(
                Mention(
                    school_id=school.pk,
                    source_id=source.pk,
                    source_type=rng.choice(_TYPES),
                    text=f"关于{school.name}的第{i}条信息：家长反映食堂和校车的情况。",
                    title=f"信息 {i}",
                    content_hash=f"{school.pk}-{i:060d}",
                    url_hash="",
                    published_at=when,
                    fetched_at=when,
                    sentiment=rng.choice(_SENTIMENTS),
                    topic=rng.choice(_TOPICS),
                    risk=rng.choice([0, 0, 0, 0, 1, 1, 2, 3, 4]),
                    event_id=events[rng.randrange(len(events))].pk if rng.random() < 0.3 else None,
                )
            )
        with transaction.atomic():
            Mention.unscoped.bulk_create(rows)
        if offset and offset % 200_000 == 0:
            _progress(f"data: {offset:,}/{n:,} ({time.perf_counter() - started:.0f} s)")
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # What autovacuum does after a bulk load (PostgreSQL 13+ vacuums after inserts
            # too): the visibility map lets counts be answered from the covering index alone.
            cursor.execute("VACUUM ANALYZE monitor_mention")
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _p95(times: list[float]) -> float:
    times = sorted(times)
    return times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def _pages(school: Any, n: int, requests: int) -> dict[str, Any]:
    from django.test import Client

    from yuqing.accounts.models import RoleAssignment, User
    from yuqing.core.tenancy import all_schools

    seconds = _fill(school, n, days=180, seed=9)
    _progress(f"overview: {n:,} mentions written in {seconds:.0f} s")
    with all_schools():
        user = User(username="ming", school=school, display_name="信息员 Ming")
        user.set_unusable_password()
        user.save()
        RoleAssignment.objects.create(user=user, role="monitor", school=school)
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    out: dict[str, Any] = {"mentions": n, "fill_seconds": round(seconds, 1)}
    for key, url in (("home", "/"), ("dashboard", "/reports/dashboard/")):
        times: list[float] = []
        for i in range(requests + 2):
            t = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - t) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
            if i >= 2:
                times.append(elapsed)
        out[key] = {
            "url": url,
            "requests": len(times),
            "median_ms": round(sorted(times)[len(times) // 2], 1),
            "p95_ms": round(_p95(times), 1),
            "max_ms": round(max(times), 1),
        }
    return out


def _half_year(school: Any, n: int) -> dict[str, Any]:
    from django.utils import timezone

    from yuqing.core.tenancy import school_scope
    from yuqing.reports.services import report_generate

    _fill(school, n, days=181, seed=11)
    end = timezone.localdate()
    start = end - dt.timedelta(days=180)
    with school_scope(school):
        t = time.perf_counter()
        report = report_generate(kind="half_year", start=start, end=end)
        seconds = time.perf_counter() - t
        size = report.file.size if report.file else None
    return {"mentions": n, "seconds": round(seconds, 3), "docx_bytes": size}


def child(n: int, report_n: int) -> dict[str, Any]:
    _setup()
    pages = _pages(_school("滨海市育英中学", "bench"), n, requests=20)
    if not report_n:
        return {"overview": pages}
    _progress(f"half-year report: {report_n:,} mentions")
    report = _half_year(_school("滨海市实验小学", "bench-report"), report_n)
    return {"overview": pages, "half_year": report}


def figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    from yuqing.bench import figure

    out = []
    for db, suffix in (("overview", ""), ("overview_postgres", "_postgres")):
        pages = result.get(db)
        if not pages:
            continue
        if "error" in pages:  # the PostgreSQL run failed: say so rather than leave it out
            out.append(
                figure(
                    f"reports.overview{suffix}_error",
                    None,
                    "",
                    None,
                    False,
                    error=pages["error"],
                )
            )
            continue
        for key in ("home", "dashboard"):
            r = pages[key]
            out.append(
                figure(
                    f"reports.{key}{suffix}_p95_ms",
                    r["p95_ms"],
                    f"ms (server time, {'PostgreSQL' if suffix else 'SQLite'})",
                    f"<= {OVERVIEW_P95_MS:.0f}",
                    r["p95_ms"] <= OVERVIEW_P95_MS,
                    mentions=pages["mentions"],
                    **r,
                )
            )
    h = result["half_year"]
    out.append(
        figure(
            "reports.half_year_generate_s",
            h["seconds"],
            "s",
            f"<= {HALF_YEAR_S:.0f}",
            h["seconds"] <= HALF_YEAR_S,
            **h,
        )
    )
    return out


if __name__ == "__main__":
    if "--child" in sys.argv:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        at = sys.argv.index("--child")
        print(json.dumps(child(int(sys.argv[at + 1]), int(sys.argv[at + 2]))))
    else:
        print(json.dumps(run("--quick" in sys.argv), ensure_ascii=False, indent=2))
