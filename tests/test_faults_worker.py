"""A worker killed with SIGKILL in the middle of ingesting: after a restart, every item is
stored exactly once. Real `yuqing worker` processes, real feeds on 127.0.0.1, the embedded
SQLite queue and Redis; the database is SQLite or, on the PostgreSQL run, a new PostgreSQL
database of the test's own.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from huey.storage import PriorityRedisStorage, SqliteStorage

from tests.clitools import child_database, cli_env, need, yuqing
from tests.faultkit import SCHOOL, ServerFactory, child_python, rss, wait_for, worker
from tests.test_queue import queue, redis_reachable

REDIS_URL = os.environ.get("YUQING_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
FEEDS = 8
ITEMS = 150
TOTAL = FEEDS * ITEMS

SETUP = """
from yuqing.accounts.models import School
from yuqing.monitor.models import Scheme, Source
with all_schools():
    school = School.objects.create(name="{school}", slug="faults")
with school_scope(school):
    Scheme.objects.create(name="育英", subject_words=["{school}", "育英中学"])
    for i, url in enumerate({urls!r}):
        Source.objects.create(
            name=f"feed{{i}}", kind=Source.Kind.FEED, url=url, is_own=True, interval_seconds=3600
        )
print(json.dumps({{"school": school.pk}}))
"""

STATE = """
from django.db import connection
from django.db.models import Sum
from yuqing.monitor import search
from yuqing.monitor.models import Event, Mention, Source
with all_schools():
    mentions = Mention.objects.count()
    urls = Mention.objects.values("url_hash").distinct().count()
    in_events = Event.objects.aggregate(n=Sum("mention_count"))["n"] or 0
    counted = Source.objects.aggregate(n=Sum("items_total"))["n"] or 0
with connection.cursor() as cursor:
    table = search.PG_TABLE if connection.vendor == "postgresql" else search.SQLITE_TABLE
    cursor.execute(f"SELECT count(*) FROM {table}")
    (indexed,) = cursor.fetchone()
print(json.dumps({"mentions": mentions, "urls": urls, "in_events": in_events,
                  "counted": counted, "indexed": indexed}))
"""

# The claim of a source is a lease of ten minutes (yuqing.monitor.poller.LEASE): a source
# claimed by the killed worker is polled again once it runs out. The test ends the lease now
# instead of waiting ten minutes.
END_LEASES = """
from django.utils import timezone
from yuqing.monitor.models import Source
with all_schools():
    n = Source.objects.filter(next_poll_at__gt=timezone.now()).filter(
        last_polled_at__isnull=True).update(next_poll_at=timezone.now())
print(json.dumps({"released": n}))
"""


def feed_server() -> ServerFactory:
    def handle(handler: Any) -> None:
        n = int(handler.path.strip("/").split(".")[0].removeprefix("feed"))
        base = f"http://127.0.0.1:{handler.server.server_port}"
        items = [
            (
                f"{SCHOOL}第{n}路第{i}条消息",
                f"{base}/news/{n}/{i}.html",
                f"{SCHOOL}家长反映第{n}路第{i}件事：食堂、校车与作业量，编号{n * 1000 + i}。"
                + "希望学校尽快回应。" * 5,
            )
            for i in range(ITEMS)
        ]
        body = rss(items)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return ServerFactory(handle)


@contextmanager
def deployment(tmp_path: Path, **extra: str) -> Iterator[dict[str, str]]:
    server = feed_server()
    try:
        with child_database() as database_url:
            env = cli_env(
                tmp_path,
                database_url=database_url,
                YUQING_DEMO="0",
                YUQING_FETCH_ALLOW_HOSTS="127.0.0.1",
                YUQING_FETCH_HOST_SPACING_MS="0",
                **extra,
            )
            assert yuqing("migrate", env=env).returncode == 0
            urls = [server.url(f"/feed{i}.xml") for i in range(FEEDS)]
            child_python(SETUP.format(school=SCHOOL, urls=urls), env)
            yield env
    finally:
        server.close()


def state(env: dict[str, str]) -> dict[str, int]:
    return dict(child_python(STATE, env))


def mention_count(env: dict[str, str]) -> int:
    """Straight from the child's database: fast enough to poll every few milliseconds."""
    if env.get("DATABASE_URL"):
        import psycopg

        with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://")) as conn:
            row = conn.execute("SELECT count(*) FROM monitor_mention").fetchone()
    else:
        import sqlite3

        path = Path(env["YUQING_DATA_DIR"]) / "yuqing.sqlite3"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT count(*) FROM monitor_mention").fetchone()
    return int(row[0]) if row else 0


def kill_mid_batch_then_restart(env: dict[str, str], storage: Any) -> dict[str, Any]:
    from yuqing.monitor.tasks import poll_sources

    with queue(storage):
        first = worker(env, "--no-periodic")
        with first as proc:
            poll_sources()  # what the scheduler enqueues every minute
            seen = wait_for(
                lambda: (n := mention_count(env)) > 0 and n,
                timeout=180,
                every=0.02,
                what="the first batch to be stored",
            )
            proc.kill()  # SIGKILL: no clean-up of any kind
        partial = state(env)
        assert 0 < partial["mentions"] < TOTAL, (seen, partial, "killed too late to test")
        released = child_python(END_LEASES, env)["released"]
        with worker(env, "--no-periodic") as second:
            poll_sources()
            wait_for(
                lambda: mention_count(env) >= TOTAL,
                timeout=150,
                every=1,
                what=f"all {TOTAL} items after the restart (worker output: {second.output})",
            )
        final = state(env)
    return {"partial": partial, "released": released, "final": final}


def assert_exactly_once(result: dict[str, Any]) -> None:
    final = result["final"]
    assert final == {
        "mentions": TOTAL,
        "urls": TOTAL,
        "in_events": TOTAL,
        "counted": TOTAL,
        "indexed": TOTAL,
    }, result


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing_on_the_sqlite_queue(
    tmp_path: Path,
) -> None:
    with deployment(tmp_path) as env:
        storage = SqliteStorage(name="yuqing", filename=str(tmp_path / "queue.sqlite3"))
        result = kill_mid_batch_then_restart(env, storage)
    assert_exactly_once(result)
    assert result["released"] >= 1


@pytest.mark.redis
@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing_on_redis(tmp_path: Path) -> None:
    need("Redis", *redis_reachable())
    name = f"yuqing-faults-{uuid.uuid4().hex[:8]}"
    storage = PriorityRedisStorage(name=name, url=REDIS_URL)
    try:
        with deployment(tmp_path, REDIS_URL=REDIS_URL, YUQING_QUEUE_NAME=name) as env:
            result = kill_mid_batch_then_restart(env, storage)
    finally:
        storage.flush_all()
    assert_exactly_once(result)
