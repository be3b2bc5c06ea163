"""Monitor benchmarks: ingestion into committed mentions, and full-text search at scale.

``run(quick)`` works in a child process with its own data directory, so the caller's Django
set-up and files are untouched; with ``YUQING_BENCH_POSTGRES_URL`` set (or PostgreSQL reachable
at the default test URL) search is measured there too, in a database of its own.

1. Ingest: feed items of 300 characters, 20% naming the school, through ``mentions_ingest``
   (text engine, dedupe, events, full-text index, one transaction per batch of 200) on SQLite.
   Also the worst case where every item matches, and the database size per 100,000 mentions.
2. Search: N mentions (1,000,000; 50,000 with --quick) written straight into the tables with
   their index tokens (generating a million through the text engine would take an hour and
   measure the engine again), then 2-, 3- and 4-character terms of different frequencies,
   newest first, one page of 50, timed end to end through ``search.matching_ids`` plus loading
   the page's rows.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCHOOL = "滨海市育英中学"
INGEST_TARGET = 1000.0  # items/s
SEARCH_MEDIAN_MS = 30.0
SEARCH_P95_MS = 100.0

_WORDS = [
    "学生",
    "家长",
    "老师",
    "食堂",
    "宿舍",
    "考试",
    "成绩",
    "作业",
    "课程",
    "校车",
    "操场",
    "图书馆",
    "实验室",
    "校园",
    "活动",
    "比赛",
    "获奖",
    "通知",
    "安排",
    "假期",
    "开学",
    "报名",
    "招生",
    "收费",
    "校服",
    "午餐",
    "晚自习",
    "补课",
    "体育",
    "音乐",
    "美术",
    "社团",
    "志愿",
    "安全",
    "消防",
    "演练",
    "健康",
    "疫苗",
    "心理",
    "讲座",
    "家委会",
    "班会",
    "教研",
    "培训",
    "公开课",
    "期中",
    "期末",
    "复习",
    "毕业",
    "升学",
    "分班",
    "住校",
    "走读",
    "交通",
    "天气",
    "下雨",
    "降温",
    "空调",
    "饮水",
    "卫生",
    "环境",
    "绿化",
    "装修",
    "施工",
    "噪音",
    "停车",
    "门口",
    "周边",
    "小区",
    "超市",
    "医院",
    "公园",
    "地铁",
    "公交",
]
_TERMS = {
    2: ["食堂", "霸凌", "校车", "熔断"],
    3: ["晚自习", "家委会", "图书馆", "量子力"],
    4: ["育英中学", "期末考试", "消防演练", "银河铁道"],
}


def run(quick: bool = False) -> list[dict[str, Any]]:
    return figures(measure(quick))


def measure(quick: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-monitor-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("YUQING_", "PYTEST_"))}
        for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"):
            env.pop(name, None)
        env.update(
            YUQING_DATA_DIR=tmp,
            YUQING_DEMO="0",
            YUQING_HUEY_IMMEDIATE="1",
            DJANGO_SETTINGS_MODULE="yuqing.settings",
        )
        args = [
            sys.executable,
            "-m",
            "yuqing.bench.monitor",
            "--child",
            *(["--quick"] if quick else []),
        ]
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=7200)  # noqa: S603
        if proc.returncode != 0:
            raise RuntimeError(f"monitor bench child failed:\n{proc.stderr[-3000:]}")
        result = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
        pg_url = os.environ.get("YUQING_BENCH_POSTGRES_URL", "postgres://root@127.0.0.1:5432/test")
        pg = _postgres_search(pg_url, tmp, quick)
        if pg is not None:
            result["search_postgres"] = pg
        return result


def _postgres_search(url: str, tmp: str, quick: bool) -> dict[str, Any] | None:
    try:
        import psycopg

        admin = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except Exception:
        return None
    name = "yuqing_bench_search"
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    base = url.rsplit("/", 1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YUQING_", "PYTEST_"))}
    env.update(
        YUQING_DATA_DIR=str(Path(tmp) / "pg"),
        YUQING_DEMO="0",
        DJANGO_SETTINGS_MODULE="yuqing.settings",
        DATABASE_URL=f"{base}/{name}",
    )
    args = [
        sys.executable,
        "-m",
        "yuqing.bench.monitor",
        "--child",
        "--search-only",
        *(["--quick"] if quick else []),
    ]
    try:
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=7200)  # noqa: S603
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name}")
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))["search"]


# --------------------------------------------------------------------------- child


def _progress(msg: str) -> None:
    print(f"[bench monitor] {msg}", file=sys.stderr, flush=True)


def _text(rng: random.Random, *, school: bool, length: int = 300) -> str:
    parts: list[str] = []
    while sum(len(p) for p in parts) < length:
        parts.append(
            "".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 8))) + rng.choice("，。！？")
        )
    text = "".join(parts)[:length]
    if school:
        at = rng.randint(0, length - 20)
        text = text[:at] + SCHOOL + text[at + len(SCHOOL) :]
    return text


def _setup() -> tuple[Any, Any]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from yuqing.accounts.models import School
    from yuqing.core.tenancy import all_schools, school_scope
    from yuqing.monitor.models import Scheme, Source

    with all_schools():
        school = School.objects.create(name=SCHOOL, slug="bench")
    with school_scope(school):
        Scheme.objects.create(
            name="育英",
            subject_words=[SCHOOL, "育英中学"],
            region_words=["滨海"],
            exclude_words=["育英路"],
        )
        source = Source.objects.create(name="bench", kind=Source.Kind.PUSH, source_type="news")
    return school, source


def _ingest(school: Any, source: Any, *, n: int, share: float, seed: int) -> dict[str, Any]:
    from yuqing.core.tenancy import school_scope
    from yuqing.monitor.services import IncomingItem, mentions_ingest

    rng = random.Random(seed)
    items = [
        IncomingItem(
            text=_text(rng, school=rng.random() < share),
            title="",
            url=f"https://news.example.cn/{seed}/{i}.html",
            author="记者",
        )
        for i in range(n)
    ]
    stored = 0
    with school_scope(school):
        mentions_ingest(source=source, items=items[:50])  # warm up: models, automaton
        start = time.perf_counter()
        cpu = time.process_time()
        for i in range(50, n, 200):
            stored += mentions_ingest(source=source, items=items[i : i + 200]).new
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
    done = n - 50
    return {
        "items": done,
        "stored": stored,
        "seconds": round(wall, 2),
        "items_per_s": done / wall,
        "items_per_cpu_s": done / cpu,
    }


def _fill_for_search(school: Any, source: Any, n: int) -> None:
    """Write n mentions and their index rows directly, in batches, newest last."""
    from django.db import connection, transaction

    from yuqing.monitor import search
    from yuqing.monitor.models import Mention

    rng = random.Random(7)
    batch = 5000
    started = time.perf_counter()
    for offset in range(0, n, batch):
        rows = []
        for i in range(offset, min(n, offset + batch)):
            text = _text(rng, school=rng.random() < 0.2, length=200)
            # Rare terms: one in ~1,000 (2-char), one in ~10,000 (3-char) documents.
            if rng.random() < 0.001:
                text = "霸凌" + text
            if rng.random() < 0.0001:
                text = "量子力学" + text
            rows.append(
                Mention(
                    school_id=school.pk,
                    source_id=source.pk,
                    source_type="news",
                    text=text,
                    content_hash=f"{i:064d}",
                    url_hash="",
                    sentiment="neutral",
                    topic="other",
                )
            )
        with transaction.atomic():
            made = Mention.unscoped.bulk_create(rows)
            if connection.vendor == "sqlite" and made[0].pk is None:
                raise RuntimeError("bulk_create did not return ids")
            search.index_mentions((m.pk, m.school_id, m.title, m.text) for m in made)
        if offset % 100_000 == 0:
            _progress(
                f"search data: {offset + len(rows):,}/{n:,} ({time.perf_counter() - started:.0f} s)"
            )
    if connection.vendor == "postgresql":
        # What autovacuum does after a bulk load: statistics, and the GIN pending list merged.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE monitor_mention_search")
            cursor.execute("VACUUM ANALYZE monitor_mention")


def _search(school: Any, source: Any, n: int) -> dict[str, Any]:
    from yuqing.core.tenancy import school_scope
    from yuqing.monitor import search
    from yuqing.monitor.models import Mention

    _fill_for_search(school, source, n)
    out: dict[str, Any] = {"mentions": n}
    with school_scope(school):
        for length, terms in _TERMS.items():
            times: list[float] = []
            for _round in range(5):
                for term in terms:
                    t = time.perf_counter()
                    ids = search.matching_ids([school.pk], term, limit=50)
                    list(Mention.objects.filter(pk__in=ids or []).only("id", "title", "text"))
                    times.append((time.perf_counter() - t) * 1000)
            times.sort()
            out[f"{length}_char"] = {
                "terms": terms,
                "median_ms": round(statistics.median(times), 2),
                "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
            }
    return out


def _db_size_mb() -> float | None:
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "sqlite":
        path = Path(settings.DATABASES["default"]["NAME"])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    return None


def child(quick: bool, search_only: bool) -> dict[str, Any]:
    school, source = _setup()
    result: dict[str, Any] = {}
    if not search_only:
        n = 2_050 if quick else 10_050
        _progress(f"ingest: {n - 50:,} items, 20% matching")
        typical = _ingest(school, source, n=n, share=0.2, seed=1)
        size_before = _db_size_mb() or 0.0
        _progress("ingest: worst case, every item matching")
        worst = _ingest(school, source, n=(n // 2), share=1.0, seed=2)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        stored = typical["stored"] + worst["stored"]
        size = _db_size_mb() or size_before
        result["ingest"] = {
            "typical": typical,
            "all_matching": worst,
            "database_mb_per_100k_mentions": round(size / max(stored, 1) * 100_000, 1),
        }
    n = 50_000 if quick else 1_000_000
    _progress(f"search: {n:,} mentions")
    result["search"] = _search(school, source, n)
    return result


def figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    from yuqing.bench import figure

    out = []
    ingest = result.get("ingest")
    if ingest:
        rate = ingest["typical"]["items_per_cpu_s"]
        out.append(
            figure(
                "monitor.ingest_items_per_s",
                rate,
                "items/s (one core, CPU time)",
                f">= {INGEST_TARGET:.0f}",
                rate >= INGEST_TARGET,
                **ingest,
            )
        )
    for db in ("search", "search_postgres"):
        s = result.get(db)
        if not s or "error" in s:
            continue
        for length in (2, 3, 4):
            r = s[f"{length}_char"]
            ok = r["median_ms"] <= SEARCH_MEDIAN_MS and r["p95_ms"] <= SEARCH_P95_MS
            target = (
                f"median <= {SEARCH_MEDIAN_MS:.0f} ms, p95 <= {SEARCH_P95_MS:.0f} ms"
                if db == "search"
                else None
            )
            out.append(
                figure(
                    f"monitor.{db}.{length}_char_p95_ms",
                    r["p95_ms"],
                    "ms",
                    target,
                    ok if db == "search" else None,
                    mentions=s["mentions"],
                    **r,
                )
            )
    return out


if __name__ == "__main__":
    if "--child" in sys.argv:
        print(json.dumps(child("--quick" in sys.argv, "--search-only" in sys.argv)))
    else:
        print(json.dumps(run("--quick" in sys.argv), ensure_ascii=False, indent=2))
