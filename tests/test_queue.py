"""Background work: a real task through a real `yuqing worker`, on SQLite and on Redis."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import time_machine
from huey.contrib.djhuey import HUEY
from huey.storage import PriorityRedisStorage, SqliteStorage

from tests.clitools import ROOT, child_database, cli_env, need, yuqing
from yuqing.core import tasks

REDIS_URL = os.environ.get("YUQING_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@contextmanager
def queue(storage: Any) -> Iterator[None]:
    """Point the task decorators at ``storage`` instead of the inline test queue."""
    saved = HUEY._immediate, HUEY.storage
    HUEY._immediate = False
    HUEY.storage = storage
    try:
        yield
    finally:
        HUEY._immediate, HUEY.storage = saved


@contextmanager
def worker(env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "yuqing.cli", "worker", "--shutdown-timeout", "3", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        started = [proc.stdout.readline() for _ in range(1)]
        while "Worker started" not in started[-1] and started[-1]:
            started.append(proc.stdout.readline())
        assert "Worker started" in started[-1], "".join(started)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # graceful: the consumer finishes and exits 0
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            pytest.fail(f"the worker did not stop within 60 s of SIGINT:\n{out}")
    assert proc.returncode == 0, out


def ping_through(proc: subprocess.Popen[str]) -> dict[str, Any]:
    result = tasks.ping("hello")
    payload = result.get(blocking=True, timeout=90)
    assert payload is not None
    assert payload["note"] == "hello"
    # Answered by the worker process, not run inline in the test.
    assert payload["pid"] == proc.pid
    assert payload["db_answer"] == 1
    return payload


@pytest.mark.slow
def test_it_runs_a_task_on_the_sqlite_queue(tmp_path: Path) -> None:
    with child_database() as database_url:
        env = cli_env(tmp_path, database_url=database_url)
        storage = SqliteStorage(name="yuqing", filename=str(tmp_path / "queue.sqlite3"))
        with queue(storage), worker(env) as proc:
            payload = ping_through(proc)
    assert (tmp_path / "worker-heartbeat.json").exists()
    assert payload["database"] == ("postgresql" if database_url else "sqlite")


def redis_reachable() -> tuple[bool, str]:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return False, f"Redis at {REDIS_URL} did not answer ({exc})"
    return True, ""


@pytest.mark.redis
@pytest.mark.slow
def test_it_runs_a_task_on_redis_with_several_workers(tmp_path: Path) -> None:
    need("Redis", *redis_reachable())
    name = f"yuqing-test-{uuid.uuid4().hex[:8]}"  # parallel test runs never share a queue
    storage = PriorityRedisStorage(name=name, url=REDIS_URL)
    try:
        with child_database() as database_url:
            env = cli_env(
                tmp_path, database_url=database_url, REDIS_URL=REDIS_URL, YUQING_QUEUE_NAME=name
            )
            # Workers expect a migrated database (`yuqing run` migrates before starting them).
            assert yuqing("migrate", env=env).returncode == 0
            with queue(storage), worker(env) as first, worker(env, "--no-periodic") as second:
                results = [tasks.ping(f"n{i}") for i in range(8)]
                pids = {r.get(blocking=True, timeout=90)["pid"] for r in results}
            assert pids <= {first.pid, second.pid}
            assert first.poll() is not None and second.poll() is not None
    finally:
        storage.flush_all()


def test_it_schedules_the_audit_purge_daily() -> None:
    names = {task.__name__ for task in HUEY._registry._periodic_tasks}
    assert {"audit_purge_daily", "heartbeat"} <= names


def test_it_purges_audit_entries_past_retention(db: Any, settings: Any) -> None:
    from yuqing.accounts.models import School
    from yuqing.audit.models import AuditEntry
    from yuqing.audit.services import audit_verify
    from yuqing.core.tenancy import all_schools

    settings.AUDIT_RETENTION_DAYS = 180
    with time_machine.travel(dt.datetime(2024, 1, 1, tzinfo=dt.UTC)), all_schools():
        School.objects.create(name="旧校", slug="old")
    with time_machine.travel(dt.datetime(2024, 9, 1, tzinfo=dt.UTC)), all_schools():
        School.objects.create(name="新校", slug="new")
        removed = tasks.purge_audit_log()
        assert removed >= 1
        assert (
            AuditEntry.unscoped.filter(at__lt=dt.datetime(2024, 2, 1, tzinfo=dt.UTC)).count() == 0
        )
        assert audit_verify().ok
