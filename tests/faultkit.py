"""Helpers for the fault, backup and retention tests: real child processes and servers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.clitools import ROOT, need

SCHOOL = "滨海市育英中学"

PRELUDE = """
import json, os, sys
import django
django.setup()
from yuqing.core.tenancy import all_schools, school_scope
"""


def child_python(code: str, env: dict[str, str], timeout: float = 300) -> Any:
    """Run ``code`` in a child with ``env`` (its own settings and database); the JSON it
    prints on its last line is returned."""
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE + code],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = [x for x in proc.stdout.strip().splitlines() if x.strip()]
    return json.loads(lines[-1]) if lines else None


TABLE_COUNTS = """
from django.apps import apps
counts = {}
for model in apps.get_models():
    manager = getattr(model, "unscoped", None) or model._base_manager
    if model._meta.label_lower in SKIP:
        continue
    counts[model._meta.label_lower] = manager.count()
print(json.dumps(counts))
"""


def table_counts(env: dict[str, str], skip: tuple[str, ...] = ()) -> dict[str, int]:
    """Row counts of every model in the child's database."""
    return dict(child_python(f"SKIP = {list(skip)!r}\n" + TABLE_COUNTS, env))


# --------------------------------------------------------------------------- workers


class Worker:
    """A real `yuqing worker` process whose output is drained into ``lines``."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "yuqing.cli", "worker", "--shutdown-timeout", "3", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.started = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.started.wait(120) or self.proc.poll() is not None:
            self.stop()
            raise AssertionError("the worker did not start:\n" + self.output)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if "Worker started" in line:
                self.started.set()
        self.started.set()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.reader.join(timeout=5)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.reader.join(timeout=5)
        return code


@contextmanager
def worker(env: dict[str, str], *args: str) -> Iterator[Worker]:
    w = Worker(env, *args)
    try:
        yield w
    finally:
        w.stop()


def wait_for(
    check: Callable[[], Any], *, timeout: float, every: float = 0.5, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or check}")
        time.sleep(every)


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerFactory:
    """A threaded HTTP server on 127.0.0.1 answering with ``handle(handler)``."""

    def __init__(self, handle: Callable[[BaseHTTPRequestHandler], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def rss(items: list[tuple[str, str, str]]) -> bytes:
    from xml.sax.saxutils import escape

    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>t</title><link>http://127.0.0.1/</link><description>d</description>"
    ]
    for title, link, text in items:
        parts.append(
            f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
            f"<guid>{escape(link)}</guid><description>{escape(text)}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


# --------------------------------------------------------------------------- Redis


@contextmanager
def own_redis(data_dir: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own on a spare port (never the shared one on 6379)."""
    need("redis-server", shutil.which("redis-server") is not None, "redis-server is not installed")
    server = RedisServer(data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop(kill=True)


class RedisServer:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # Append-only file, fsynced on every write: what a deployment must configure for
        # queued jobs to survive a Redis restart (docs/operations.md).
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.dir),
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        def up() -> bool:
            try:
                return bool(redis.Redis(port=self.port, socket_connect_timeout=1).ping())
            except redis.RedisError:
                return False

        wait_for(up, timeout=20, every=0.1, what="redis-server to answer")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(timeout=30)


# --------------------------------------------------------------------------- disk full


@contextmanager
def tiny_filesystem(size_kb: int) -> Iterator[Path]:
    """A real, size-limited tmpfs (needs root); writing past ``size_kb`` fails with ENOSPC."""
    mount_point = Path(tempfile.mkdtemp(prefix="yuqing-tinyfs-"))
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        mount_point.rmdir()
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip()}); needs root")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
        with contextlib.suppress(OSError):
            mount_point.rmdir()


def env_with(env: dict[str, str], **extra: str) -> dict[str, str]:
    out = dict(env)
    out.update(extra)
    return out


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
