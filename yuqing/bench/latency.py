"""Latency benchmarks through a real ``yuqing worker`` (issues 4 and 5).

``run(quick)`` measures in child processes with their own data directory (SQLite database),
so the caller's Django set-up and files are untouched.

1. Feed → visible mention (issue 4, p95 ≤ 90 s): a feed server on 127.0.0.1 publishes a new
   item naming the school at random moments; a feed source polls it every 60 s through a real
   worker (embedded SQLite queue, scheduler on). Each sample runs from the moment the item is
   in the feed to the moment its mention row is committed and readable. 8 samples (~10 min);
   3 with --quick (~4 min). ``feed_latency(driver="inline", interval=...)`` polls in-process
   with a shortened interval, for the harness test.
2. Mention committed → first delivery attempt on Redis (issue 5, p95 ≤ 10 s): the alerts
   suite's measurement (which covers the embedded queue) with the worker on Redis, when
   ``REDIS_URL`` or redis://127.0.0.1:6379/15 answers; a queue of its own, flushed afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

SCHOOL = "滨海市育英中学"
FEED_TARGET_S = 90.0
DELIVERY_TARGET_S = 10.0
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def run(quick: bool = False) -> list[dict[str, Any]]:
    out = [feed_latency(samples=3 if quick else 8)]
    out.append(redis_delivery_latency(samples=5 if quick else 40))
    return out


def _child_env(tmp: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YUQING_", "PYTEST_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(
        YUQING_DATA_DIR=tmp,
        YUQING_DEMO="0",
        YUQING_FETCH_ALLOW_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="yuqing.settings",
        **extra,
    )
    return env


def _call_child(env: dict[str, str], *args: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "yuqing.bench.latency", "--child", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)  # noqa: S603
    if proc.returncode != 0:
        raise RuntimeError(f"latency bench child failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def feed_latency(*, samples: int, interval: int = 60, driver: str = "worker") -> dict[str, Any]:
    """Publish → visible mention; ``driver="inline"`` polls in-process (shortened intervals)."""
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-latency-") as tmp:
        return _call_child(_child_env(tmp), "feed", str(samples), str(interval), driver)


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def redis_reachable(url: str) -> bool:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:
        return False
    return True


def redis_delivery_latency(*, samples: int) -> dict[str, Any]:
    from yuqing.bench import figure

    name = "mention committed → first webhook delivery attempt, p95 (Redis queue, real worker)"
    url = redis_url()
    if not redis_reachable(url):
        return figure(name, None, "s", f"<= {DELIVERY_TARGET_S}", None, skipped="no Redis")
    queue = f"yuqing-bench-{uuid.uuid4().hex[:8]}"
    try:
        with tempfile.TemporaryDirectory(prefix="yuqing-bench-latency-") as tmp:
            env = _child_env(tmp, REDIS_URL=url, YUQING_QUEUE_NAME=queue)
            result = _call_child(env, "redis", str(samples))
    finally:
        from huey.storage import PriorityRedisStorage

        PriorityRedisStorage(name=queue, url=url).flush_all()  # this queue only
    result["name"] = name
    result["queue"] = queue
    return result


# --------------------------------------------------------------------------- child


def _progress(msg: str) -> None:
    print(f"[bench latency] {msg}", file=sys.stderr, flush=True)


class _Feed:
    """An RSS feed on 127.0.0.1 whose items the bench adds while the worker polls it."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str, dt.datetime]] = []
        self.lock = threading.Lock()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = feed.render(f"http://127.0.0.1:{feed.server.server_port}")
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/feed.xml"

    def publish(self, n: int) -> str:
        link = f"http://127.0.0.1:{self.server.server_port}/news/{n}-{uuid.uuid4().hex[:6]}.html"
        text = (
            f"{SCHOOL}第{n}条：家长反映学校食堂饭菜质量下降，学生午餐后出现不适，"
            "希望学校尽快回应并公开食品检测结果。"
        )
        with self.lock:
            self.items.append((f"{SCHOOL}食堂问题 {n}", link, text, dt.datetime.now(dt.UTC)))
        return link

    def render(self, base: str) -> bytes:
        with self.lock:
            items = list(self.items[-20:])
        parts = [
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>bench</title><link>{base}/</link><description>bench</description>"
        ]
        for title, link, text, when in reversed(items):
            parts.append(
                f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
                f"<guid>{escape(link)}</guid><description>{escape(text)}</description>"
                f"<pubDate>{format_datetime(when)}</pubDate></item>"
            )
        parts.append("</channel></rss>")
        return "".join(parts).encode()


def _setup() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _start_worker() -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "yuqing.cli", "worker", "--shutdown-timeout", "3"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert worker.stdout is not None
    line = worker.stdout.readline()
    while line and "Worker started" not in line:
        line = worker.stdout.readline()
    if "Worker started" not in line:
        raise RuntimeError("the worker did not start")
    # Keep its output drained so a chatty worker never blocks on a full pipe.
    threading.Thread(target=worker.stdout.read, daemon=True).start()
    return worker


def _inline_poller(interval: int, stop: threading.Event) -> threading.Thread:
    """Poll due sources in this process, as the worker's task does, with a short interval."""
    from django.db import close_old_connections

    from yuqing.monitor import poller

    def next_poll_after(source: Any, outcome: Any, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=interval)

    poller.next_poll_after = next_poll_after  # type: ignore[assignment]

    def loop() -> None:
        while not stop.is_set():
            poller.poll_due()
            close_old_connections()
            stop.wait(1.0)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def _visible_at(school: Any, link: str, deadline: float) -> float | None:
    from yuqing.core.tenancy import school_scope
    from yuqing.monitor.models import Mention

    with school_scope(school):
        while time.time() < deadline:
            if Mention.objects.filter(url=link).exists():
                return time.time()
            time.sleep(0.2)
    return None


def _feed_child(samples: int, interval: int, driver: str) -> dict[str, Any]:
    _setup()
    from yuqing.accounts.models import School
    from yuqing.bench import figure
    from yuqing.core.tenancy import all_schools, school_scope
    from yuqing.monitor.models import Scheme, Source

    feed = _Feed()
    with all_schools():
        school = School.objects.create(name=SCHOOL, slug="latency")
    with school_scope(school):
        Scheme.objects.create(name="育英", subject_words=[SCHOOL, "育英中学"])
        source = Source.objects.create(
            name="每分钟源",
            kind=Source.Kind.FEED,
            url=feed.url,
            is_own=True,
            interval_seconds=interval,
        )
    stop = threading.Event()
    worker = _start_worker() if driver == "worker" else None
    if worker is None:
        _inline_poller(interval, stop)
    latencies: list[float] = []
    misses = 0
    try:
        # Start once the source has been polled once: the scheduler ticks on the minute.
        deadline = time.time() + 3 * max(interval, 60)
        with school_scope(school):
            while time.time() < deadline:
                source.refresh_from_db()
                if source.last_polled_at:
                    break
                time.sleep(0.5)
            else:
                raise RuntimeError("the source was never polled")
        rng = random.Random()
        for i in range(samples):
            time.sleep(rng.uniform(0, interval))  # a random moment within the poll cycle
            link = feed.publish(i)
            published = time.time()
            seen = _visible_at(school, link, published + 3 * interval + 60)
            if seen is None:
                misses += 1
            else:
                latencies.append(seen - published)
            _progress(f"feed sample {i + 1}/{samples}: {latencies[-1] if seen else None}")
    finally:
        stop.set()
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        feed.server.shutdown()
    latencies.sort()
    p95 = (
        latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        if latencies
        else None
    )
    return figure(
        f"item in a {interval} s feed → mention visible, p95 ({driver}, SQLite)",
        p95,
        "s",
        f"<= {FEED_TARGET_S:.0f}",
        p95 is not None and p95 <= FEED_TARGET_S and misses == 0,
        samples=samples,
        interval_s=interval,
        driver=driver,
        seen=len(latencies),
        missed=misses,
        p50=round(latencies[len(latencies) // 2], 3) if latencies else None,
        max=round(latencies[-1], 3) if latencies else None,
    )


def _redis_child(samples: int) -> dict[str, Any]:
    from yuqing.bench import alerts

    alerts._setup()
    result = alerts._latency(samples)
    result["p50"] = result.get("median")
    return result


if __name__ == "__main__":
    if "--child" in sys.argv:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        args = sys.argv[sys.argv.index("--child") + 1 :]
        if args[0] == "feed":
            out = _feed_child(int(args[1]), int(args[2]), args[3])
        else:
            out = _redis_child(int(args[1]))
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(json.dumps(run("--quick" in sys.argv), ensure_ascii=False, indent=2))
