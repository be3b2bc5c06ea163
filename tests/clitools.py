"""Helpers for tests that run the `yuqing` command as a real process."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
URL_LINE = re.compile(r"Yuqing is running at (http://127\.0\.0\.1:(\d+)/)")


def need(service: str, reachable: bool, detail: str) -> None:
    """Skip a test whose server is missing, except in CI, where a missing server is a failure."""
    if reachable:
        return
    if CI:
        pytest.fail(f"{service} is required in CI (CI=true) but {detail}")
    pytest.skip(f"{service} not available: {detail}")


def cli_env(data_dir: Path, *, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a `yuqing` child: real settings, its own data dir, nothing inline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YUQING_", "PYTEST_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "PORT", "DJANGO_SETTINGS_MODULE", "SECRET_KEY"):
        env.pop(name, None)
    env["DJANGO_SETTINGS_MODULE"] = "yuqing.settings"
    env["YUQING_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    if database_url:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def yuqing(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yuqing.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children_of(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        parents, frontier = frontier, set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name in parentheses may hold spaces: split after the last ")".
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) in parents and fields[0] != "Z":
                child = int(entry.name)
                if child not in found:
                    found.add(child)
                    frontier.add(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


@dataclass
class Running:
    proc: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)
    children: set[int] = field(default_factory=set)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def running(
    data_dir: Path,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    timeout: float = 180,
    stop_with: int = signal.SIGINT,
) -> Iterator[Running]:
    """Start `yuqing run`, wait for its URL line, and stop it (Ctrl-C) on the way out.

    On exit, asserts that it stopped cleanly and left no child process behind.
    """
    port = port or free_port()
    env = dict(env or cli_env(data_dir))
    env["PORT"] = str(port)
    log = open(data_dir.parent / f"{data_dir.name}-run-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "yuqing.cli", "run", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=ROOT,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # keeps draining, so the child never blocks on a full pipe
            lines.append(line.rstrip("\n"))
            if "Press Ctrl-C" in line:
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(timeout) or proc.poll() is not None:
            log.flush()
            raise AssertionError(
                "yuqing run did not start:\n"
                + "\n".join(lines)
                + "\n"
                + (data_dir.parent / f"{data_dir.name}-run-{port}.log").read_text()
            )
        match = next((URL_LINE.search(x) for x in lines if URL_LINE.search(x)), None)
        assert match, "\n".join(lines)
        assert int(match.group(2)) == port
        info = Running(proc=proc, url=match.group(1), lines=lines, children=children_of(proc.pid))
        yield info
    finally:
        descendants = children_of(proc.pid) if proc.poll() is None else set()
        if proc.poll() is None:
            proc.send_signal(stop_with)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            for pid in descendants | {proc.pid}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            raise
        finally:
            reader.join(timeout=5)
            log.close()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in descendants) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in descendants if alive(pid)]
        assert not left, f"processes left behind after {signal.Signals(stop_with).name}: {left}"
        assert code == 0, f"yuqing run exited with {code}:\n" + "\n".join(lines)


# --- A database for child processes -----------------------------------------------------------


def on_postgres() -> bool:
    from django.conf import settings

    return str(settings.DATABASES["default"]["ENGINE"]).endswith("postgresql")


@contextmanager
def child_database() -> Iterator[str | None]:
    """A fresh, empty database for a `yuqing` child process.

    On SQLite that is the child's own data dir (None here). On the PostgreSQL run, a new
    database on the same server, dropped afterwards, so children never touch the test database
    or each other's.
    """
    if not on_postgres():
        yield None
        return
    import psycopg
    from django.conf import settings

    db: dict[str, Any] = settings.DATABASES["default"]
    name = f"yuqing_child_{uuid.uuid4().hex[:12]}"
    conninfo = {
        "host": db.get("HOST") or "127.0.0.1",
        "port": db.get("PORT") or 5432,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = conninfo["user"] or ""
    if conninfo["password"]:
        auth += f":{conninfo['password']}"
    try:
        yield f"postgres://{auth}@{conninfo['host']}:{conninfo['port']}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
