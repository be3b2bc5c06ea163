"""Scale benchmark: a bureau deployment (PostgreSQL + Redis + gunicorn + N workers) under load.

``yuqing bench --only scale`` measures, in real processes on 127.0.0.1:

1. Data: ``yuqing.bench.generate`` writes 200 schools, 20,000 sources and N mentions
   (``YUQING_BENCH_SCALE_MENTIONS``, default 5,000,000; 20,000 with --quick) into a database
   of its own (``YUQING_BENCH_SCALE_DB``, default ``yuqing_bench_scale``, on the server of
   ``YUQING_BENCH_POSTGRES_URL``). Time and size are reported.
2. Ingest: file-import jobs (the product's own ingest path: CSV rows → text engine → dedupe →
   events → search index, ``monitor.setup_services.import_run``) of 16 schools, queued on Redis
   (``YUQING_BENCH_REDIS_URL``) and run by 1, 2 and 4 ``yuqing worker`` processes; items/s is
   rows over the span from the first job's start to the last job's end, in the database.
3. Web: ``yuqing run --workers 2`` (gunicorn); one client measures the overview and search
   pages (p50/p95) as a school user and as a bureau user at the generated size; then 50
   concurrent users (aiohttp, each logged in as a different user, bounded by time and request
   count) browse overview / mention list / search / events: throughput and p95.
4. Memory: the peak RSS (VmHWM) of every web and worker process.
5. The same at one-school size on SQLite (50,000 mentions, SQLite queue, one worker, the
   default waitress `yuqing run`) for comparison.

The load client runs in this process, on the same machine: it takes CPU from the server, as
the workers and PostgreSQL take it from each other. Child processes are not pinned to one core
(the other suites are): scaling over workers is what is measured, on however many cores the
machine has (reported).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCHOOL_USERS = 45
BUREAU_USERS = 5
INGEST_JOBS = 16
INGEST_ROWS = 500
WORKER_COUNTS = (1, 2, 4)
SEARCH_TERMS = ("食堂", "期末考试", "家长 老师", "霸凌")


def _progress(msg: str) -> None:
    print(f"[bench scale] {msg}", file=sys.stderr, flush=True)


def run(quick: bool = False) -> list[dict[str, Any]]:
    return figures(measure(quick))


# ----------------------------------------------------------------------------- processes


def _all_cores() -> None:
    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, range(os.cpu_count() or 1))


def _base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YUQING_", "PYTEST_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "PORT", "DJANGO_SETTINGS_MODULE", "SECRET_KEY"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="yuqing.settings",
        YUQING_DATA_DIR=str(data_dir),
        YUQING_DEMO="0",
        PYTHONUNBUFFERED="1",
        # Logins of 50 users from one address are not an attack here.
        YUQING_LOGIN_FAILURE_LIMIT="1000",
    )
    env.update(extra)
    return env


def _child(env: dict[str, str], *args: str, timeout: float = 7200) -> dict[str, Any]:
    """Run ``python -m yuqing.bench.scale ARGS`` and return the JSON of its last line."""
    proc = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "yuqing.bench.scale", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_all_cores,
        check=False,
    )
    for line in proc.stderr.splitlines():
        if line.startswith("[generate]"):
            _progress(line)
    if proc.returncode != 0:
        raise RuntimeError(f"scale child {args[0]} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


class Started:
    """A `yuqing` process started in the background, its output collected."""

    def __init__(self, env: dict[str, str], *args: str, ready: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "yuqing.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_all_cores,
        )
        self.ready = threading.Event()
        self._marker = ready
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if self._marker in line:
                self.ready.set()
        self.ready.set()

    def wait_ready(self, timeout: float) -> None:
        self.ready.wait(timeout)
        if not any(self._marker in line for line in self.lines) or self.proc.poll() is not None:
            raise RuntimeError("process did not start:\n" + "\n".join(self.lines[-40:]))
        _progress(f"started: {self.lines[-1] if self.lines else ''}")

    def tree(self) -> list[int]:
        return [self.proc.pid, *_descendants(self.proc.pid)]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for pid in self.tree():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait()


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            frontier.append(child)
    return found


def _peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _memory(pids: Sequence[int]) -> dict[str, Any]:
    """Peak RSS of the web processes and of the workers among ``pids``."""
    web, workers = [], []
    for pid in pids:
        rss = _peak_rss_mb(pid)
        if rss is None:
            continue
        line = _cmdline(pid)
        if "_web" in line or " web" in line:
            web.append(rss)
        elif " worker" in line:
            workers.append(rss)
    return {
        "web_processes": len(web),
        "web_peak_rss_mb_max": round(max(web), 1) if web else None,
        # Shared pages (the code, Django, models) count once per process here: an upper bound.
        "web_peak_rss_mb_sum": round(sum(web), 1) if web else None,
        "workers": len(workers),
        "worker_peak_rss_mb_max": round(max(workers), 1) if workers else None,
    }


# ----------------------------------------------------------------------------- the parent


def measure(quick: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"cpus": os.cpu_count()}
    pg = _postgres_url()
    redis_url = os.environ.get("YUQING_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    if pg is None:
        result["postgres"] = {"error": "PostgreSQL not reachable (YUQING_BENCH_POSTGRES_URL)"}
    elif not _redis_ok(redis_url):
        result["postgres"] = {"error": f"Redis not reachable at {redis_url}"}
    else:
        mentions = int(
            os.environ.get("YUQING_BENCH_SCALE_MENTIONS", 20_000 if quick else 5_000_000)
        )
        schools = 20 if quick else 200
        result["postgres"] = _bureau(pg, redis_url, quick, mentions, schools)
    if os.environ.get("YUQING_BENCH_SCALE_SKIP_SQLITE") != "1":
        result["sqlite"] = _one_school_sqlite(quick)
    return result


def _phase(name: str) -> bool:
    """YUQING_BENCH_SCALE_ONLY=web (or ingest) runs one phase: for working on the bench."""
    only = os.environ.get("YUQING_BENCH_SCALE_ONLY")
    return not only or only == name


def _postgres_url() -> str | None:
    url = os.environ.get("YUQING_BENCH_POSTGRES_URL", "postgres://root@127.0.0.1:5432/postgres")
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3):
            return url
    except Exception:
        return None


def _redis_ok(url: str) -> bool:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return True
    except Exception:
        return False


def _bureau(pg: str, redis_url: str, quick: bool, mentions: int, schools: int) -> dict[str, Any]:
    import psycopg

    name = os.environ.get("YUQING_BENCH_SCALE_DB", "yuqing_bench_scale")
    keep = os.environ.get("YUQING_BENCH_SCALE_KEEP") == "1"
    db_url = pg.rsplit("/", 1)[0] + "/" + name
    out: dict[str, Any] = {"database": name}
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-scale-") as tmp:
        data = Path(tmp)
        env = _base_env(data, DATABASE_URL=db_url)
        spec = {"mentions": mentions, "schools": schools, "sources": schools * 100}
        reuse = keep and _generated_matches(db_url, spec)
        if not reuse:
            with psycopg.connect(pg, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.execute(f'CREATE DATABASE "{name}"')
        try:
            _progress(
                f"PostgreSQL: {'reusing' if reuse else 'generating'} {schools} schools,"
                f" {schools * 100:,} sources, {mentions:,} mentions"
            )
            prepared = _child(
                env,
                "prepare",
                json.dumps({**spec, "reuse": reuse}),
            )
            out["data"] = prepared["data"]
            if _phase("ingest"):
                out["ingest"] = _ingest_rounds(env, redis_url, db_url, prepared, quick)
            out["web"] = _web_phase(
                {
                    **env,
                    "REDIS_URL": redis_url,
                    "YUQING_QUEUE_NAME": f"bench-{uuid.uuid4().hex[:8]}",
                },
                prepared,
                quick,
                run_args=("--workers", "2", "--threads", "4"),
            )
        finally:
            if not keep:
                with psycopg.connect(pg, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return out


def _generated_matches(db_url: str, spec: dict[str, int]) -> bool:
    import psycopg

    try:
        with psycopg.connect(db_url, connect_timeout=3) as conn:
            schools = conn.execute(
                "SELECT count(*) FROM accounts_school WHERE slug LIKE 'gen-0%%'"
            ).fetchone()
            mentions = conn.execute("SELECT max(id) FROM monitor_mention").fetchone()
    except Exception:
        return False
    return bool(
        schools
        and mentions
        and schools[0] == spec["schools"]
        and (mentions[0] or 0) >= spec["mentions"]
    )


def _one_school_sqlite(quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-scale-sqlite-") as tmp:
        env = _base_env(Path(tmp))
        mentions = 5_000 if quick else 50_000
        _progress(f"SQLite: one school, {mentions:,} mentions")
        prepared = _child(
            env, "prepare", json.dumps({"mentions": mentions, "schools": 1, "sources": 100})
        )
        out["data"] = prepared["data"]
        if _phase("ingest"):
            out["ingest"] = _ingest_rounds(env, None, None, prepared, quick, counts=(1,))
        out["web"] = _web_phase(env, prepared, quick, run_args=())
    return out


# ----------------------------------------------------------------------------- ingest


def _ingest_rounds(
    env: dict[str, str],
    redis_url: str | None,
    db_url: str | None,
    prepared: dict[str, Any],
    quick: bool,
    counts: Sequence[int] = WORKER_COUNTS,
) -> dict[str, Any]:
    rounds: dict[str, Any] = {}
    jobs = 4 if quick else INGEST_JOBS
    rows = 100 if quick else INGEST_ROWS
    for workers in counts:
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        round_env = dict(env, YUQING_QUEUE_NAME=queue)
        if redis_url:
            round_env["REDIS_URL"] = redis_url
        tag = f"w{workers}-{uuid.uuid4().hex[:6]}"
        started = [
            Started(
                round_env,
                "worker",
                *(["--no-periodic"] if n or redis_url else []),
                "--shutdown-timeout",
                "5",
                ready="Worker started",
            )
            for n in range(workers)
        ]
        try:
            for w in started:
                w.wait_ready(120)
            # Warm-up: each process loads the text engine's models on its first batch.
            _child(
                round_env,
                "enqueue",
                json.dumps({"tag": f"{tag}-warm", "jobs": 4 * workers, "rows": 20}),
            )
            _wait_jobs(round_env, f"{tag}-warm", timeout=600)
            _progress(f"ingest: {workers} worker(s), {jobs} jobs × {rows} rows")
            _child(
                round_env, "enqueue", json.dumps({"tag": f"{tag}-main", "jobs": jobs, "rows": rows})
            )
            span = _wait_jobs(round_env, f"{tag}-main", timeout=3600)
            pids = [pid for w in started for pid in w.tree()]
            memory = _memory(pids)
        finally:
            for w in started:
                w.stop()
            if redis_url:
                _flush_queue(redis_url, queue)
        rounds[str(workers)] = {**span, "worker_peak_rss_mb_max": memory["worker_peak_rss_mb_max"]}
        _progress(f"ingest: {workers} worker(s): {span['items_per_s']:.0f} items/s")
    base = rounds[str(counts[0])]["items_per_s"]
    for r in rounds.values():
        r["ratio_to_one_worker"] = round(r["items_per_s"] / base, 2) if base else None
    return rounds


def _flush_queue(redis_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    # Huey keeps only the letters and digits of a queue name in its Redis keys.
    keys = list(client.scan_iter(f"*{re.sub('[^a-z0-9]', '', queue.lower())}*"))
    if keys:
        client.delete(*keys)


def _wait_jobs(env: dict[str, str], tag: str, *, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = _child(env, "jobs", json.dumps({"tag": tag}))
        if state["pending"] == 0:
            if state["failed"]:
                raise RuntimeError(f"{state['failed']} import jobs failed: {state['failures']}")
            return state["span"]
        if time.monotonic() > deadline:
            raise RuntimeError(f"import jobs {tag} not finished after {timeout} s: {state}")
        time.sleep(2)


# ----------------------------------------------------------------------------- web


def _web_phase(
    env: dict[str, str], prepared: dict[str, Any], quick: bool, *, run_args: Sequence[str]
) -> dict[str, Any] | None:
    return _web(env, prepared, quick, run_args=run_args) if _phase("web") else None


def _web(
    env: dict[str, str], prepared: dict[str, Any], quick: bool, *, run_args: Sequence[str]
) -> dict[str, Any]:
    port = _free_port()
    site = Started(dict(env, PORT=str(port)), "run", *run_args, ready="Press Ctrl-C")
    base = f"http://127.0.0.1:{port}"
    try:
        site.wait_ready(300)
        shape = next((x for x in site.lines if x.startswith("Web server:")), "")
        users = prepared["users"]
        latency = asyncio.run(_page_latency(base, users, rounds=8 if quick else 30))
        load = asyncio.run(
            _load(base, users, seconds=10 if quick else 60, max_requests=2_000 if quick else 30_000)
        )
        memory = _memory(site.tree())
    finally:
        site.stop(signal.SIGINT, timeout=90)
    return {"server": shape, "pages": latency, "load": load, "memory": memory}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


async def _login(session: Any, base: str, username: str, password: str) -> None:
    async with session.get(f"{base}/accounts/login/") as response:
        page = await response.text()
    token = _CSRF.search(page)
    if token is None:
        raise RuntimeError("no CSRF token on the login page")
    async with session.post(
        f"{base}/accounts/login/",
        data={"csrfmiddlewaretoken": token.group(1), "username": username, "password": password},
        headers={"Referer": f"{base}/accounts/login/"},
    ) as response:
        await response.read()
        if "/accounts/login/" in str(response.url):
            raise RuntimeError(f"login of {username} failed ({response.status})")


def _pages() -> dict[str, str]:
    from urllib.parse import quote

    pages = {"overview": "/", "mentions": "/monitor/", "events": "/monitor/events/"}
    for term in SEARCH_TERMS:
        pages[f"search {term}"] = f"/monitor/?q={quote(term)}"
    return pages


def _stats(times: list[float]) -> dict[str, Any]:
    if not times:
        return {"n": 0}
    times = sorted(times)
    return {
        "n": len(times),
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "max_ms": round(times[-1], 1),
    }


async def _page_latency(base: str, users: dict[str, Any], *, rounds: int) -> dict[str, Any]:
    """One client, one request at a time: each page as a school user and as a bureau user."""
    import aiohttp

    out: dict[str, Any] = {}
    for kind in ("school", "bureau"):
        if not users[kind]:
            continue
        username = users[kind][0]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await _login(session, base, username, users["password"])
            for page, path in _pages().items():
                times: list[float] = []
                errors = 0
                for n in range(rounds + 2):
                    started = time.perf_counter()
                    async with session.get(base + path) as response:
                        await response.read()
                        ok = response.status == 200
                    if n >= 2:  # the first two warm caches up
                        times.append((time.perf_counter() - started) * 1000)
                        errors += not ok
                out[f"{kind}: {page}"] = {**_stats(times), "errors": errors}
    return out


async def _load(
    base: str, users: dict[str, Any], *, seconds: float, max_requests: int
) -> dict[str, Any]:
    """50 users at once, each its own session, picking pages at random without think time."""
    import aiohttp

    names = [*users["school"], *users["bureau"]]
    pages = list(_pages().values())
    times: list[float] = []
    statuses: dict[int, int] = {}
    failures = 0
    budget = [max_requests]
    connector = aiohttp.TCPConnector(limit=len(names))
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as shared:
        sessions = []
        for _name in names:
            s = aiohttp.ClientSession(
                connector=shared.connector,
                connector_owner=False,
                cookie_jar=aiohttp.CookieJar(unsafe=True),
                timeout=timeout,
            )
            sessions.append(s)
        try:
            await asyncio.gather(
                *(
                    _login(s, base, n, users["password"])
                    for s, n in zip(sessions, names, strict=True)
                )
            )
            deadline = time.perf_counter() + seconds

            async def user(session: Any, seed: int) -> None:
                nonlocal failures
                rng = random.Random(seed)
                while time.perf_counter() < deadline and budget[0] > 0:
                    budget[0] -= 1
                    started = time.perf_counter()
                    try:
                        async with session.get(base + rng.choice(pages)) as response:
                            await response.read()
                            statuses[response.status] = statuses.get(response.status, 0) + 1
                    except (aiohttp.ClientError, TimeoutError):
                        failures += 1
                        continue
                    times.append((time.perf_counter() - started) * 1000)

            began = time.perf_counter()
            await asyncio.gather(*(user(s, n) for n, s in enumerate(sessions)))
            elapsed = time.perf_counter() - began
        finally:
            for s in sessions:
                await s.close()
    ok = statuses.get(200, 0)
    return {
        "users": len(names),
        "seconds": round(elapsed, 1),
        "requests": len(times),
        "requests_per_s": round(len(times) / elapsed, 1) if elapsed else None,
        "ok_responses": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "failures": failures,
        **_stats(times),
    }


# ----------------------------------------------------------------------------- children


def _django() -> None:
    import django

    django.setup()


def child_prepare(options: dict[str, Any]) -> dict[str, Any]:
    """Migrate, generate the data set (unless reused), create users and import sources."""
    _django()
    from django.core.management import call_command

    from yuqing.bench.generate import Spec, generate

    call_command("migrate", verbosity=0)
    spec = Spec(
        schools=options["schools"], sources=options["sources"], mentions=options["mentions"]
    )
    data: dict[str, Any] = {"spec": spec.__dict__}
    if not options.get("reuse"):
        data.update(generate(spec).as_dict())
    data.update(_database_size())
    return {"data": data, "users": _users(spec)}


def _database_size() -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return {"database_mb": round(cursor.fetchone()[0] / 1e6)}
    path = Path(settings.DATABASES["default"]["NAME"])
    return {
        "database_mb": round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6)
    }


def _users(spec: Any) -> dict[str, Any]:
    """School users (monitor role) of the first schools, and bureau users; one password."""
    from django.contrib.auth.hashers import make_password

    from yuqing.accounts.models import RoleAssignment, School, User
    from yuqing.cli import ensure_admin
    from yuqing.core.tenancy import all_schools
    from yuqing.monitor.models import Source

    password = f"bench-{uuid.uuid4().hex}"
    hashed = make_password(password)
    with all_schools():
        bureau = School.objects.get(slug=f"{spec.prefix}-bureau")
        schools = list(School.objects.filter(parent=bureau).order_by("slug"))
        made: dict[str, list[str]] = {"school": [], "bureau": []}
        # `yuqing run` needs an administrator to exist (or it makes one in "the" school).
        ensure_admin(username="bench-admin", school=bureau)
        wanted = [(schools[n % len(schools)], "school", n) for n in range(SCHOOL_USERS)]
        wanted += [(bureau, "bureau", n) for n in range(BUREAU_USERS)]
        for school, kind, n in wanted:
            username = f"bench-{kind}-{n:02d}"
            user, _ = User.objects.update_or_create(
                username=username, defaults={"school": school, "password": hashed}
            )
            RoleAssignment.unscoped.get_or_create(
                user=user, role="monitor", org_unit=None, defaults={"school": school}
            )
            made[kind].append(username)
        for school in schools:
            Source.unscoped.get_or_create(
                school=school,
                name="bench-import",
                defaults={"kind": Source.Kind.IMPORT, "source_type": "news"},
            )
    return {**made, "password": password}


def child_enqueue(options: dict[str, Any]) -> dict[str, Any]:
    """Upload and start import jobs (queued on this environment's queue), one per school."""
    _django()
    from yuqing.accounts.models import School
    from yuqing.bench.generate import _body_words, make_body
    from yuqing.core.tenancy import all_schools, school_scope
    from yuqing.monitor.models import Source
    from yuqing.monitor.setup_services import import_start, import_upload

    tag, jobs, rows = options["tag"], options["jobs"], options["rows"]
    rng = random.Random(tag)
    words = _body_words()
    with all_schools():
        schools = list(School.objects.filter(slug__startswith="gen-0").order_by("slug"))
    uploaded = []
    for n in range(jobs):
        school = schools[n % len(schools)]
        lines = ["标题,正文,链接"]
        for i in range(rows):
            body = make_body(rng, words)
            if rng.random() < 0.5:  # half the rows name the school: they are stored
                at = rng.randrange(len(body))
                body = body[:at] + school.name.split("·", 1)[1] + body[at:]
            lines.append(f"{tag}第{n}批{i}条,{body},https://bench.example.cn/{tag}/{n}/{i}")
        with school_scope(school):
            source = Source.objects.get(name="bench-import")
            job = import_upload(
                file=io.BytesIO("\n".join(lines).encode("utf-8")),
                filename=f"{tag}-{n}.csv",
                source=source,
                user=None,
            )
        uploaded.append((school, job))
    # All files first, then all starts at once: the workers' span measures them, not us.
    for school, job in uploaded:
        with school_scope(school):
            import_start(job=job, mapping={"title": "标题", "text": "正文", "url": "链接"})
    return {"jobs": jobs}


def child_jobs(options: dict[str, Any]) -> dict[str, Any]:
    _django()
    from django.db.models import Max, Min, Sum

    from yuqing.core.tenancy import all_schools
    from yuqing.monitor.models import ImportJob

    with all_schools():
        qs = ImportJob.objects.filter(original_name__startswith=options["tag"] + "-")
        pending = qs.exclude(status__in=["done", "failed"]).count()
        failed = list(qs.filter(status="failed").values_list("failure", flat=True)[:3])
        agg = qs.aggregate(
            first=Min("started_at"),
            last=Max("finished_at"),
            rows=Sum("total_rows"),
            new=Sum("items_new"),
            unmatched=Sum("items_unmatched"),
        )
    span: dict[str, Any] = {}
    if not pending and agg["first"] and agg["last"]:
        seconds = (agg["last"] - agg["first"]).total_seconds()
        span = {
            "jobs": qs.count(),
            "items": agg["rows"],
            "stored": agg["new"],
            "unmatched": agg["unmatched"],
            "seconds": round(seconds, 2),
            "items_per_s": round(agg["rows"] / seconds, 1) if seconds else None,
        }
    return {"pending": pending, "failed": len(failed), "failures": failed, "span": span}


# ----------------------------------------------------------------------------- figures


def figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    from yuqing.bench import figure

    out: list[dict[str, Any]] = []
    cpus = result.get("cpus")
    for db in ("postgres", "sqlite"):
        r = result.get(db)
        if not r:
            continue
        if "error" in r:
            out.append(figure(f"scale.{db}", None, "", None, None, error=r["error"]))
            continue
        size = r["data"]["spec"]["mentions"]
        out.append(
            figure(
                f"scale.{db}.generate_seconds",
                r["data"].get("seconds"),
                "s",
                None,
                None,
                **r["data"],
            )
        )
        for workers, ingest in r.get("ingest", {}).items():
            out.append(
                figure(
                    f"scale.{db}.ingest_items_per_s.{workers}_workers",
                    ingest["items_per_s"],
                    "items/s",
                    None,
                    None,
                    cpus=cpus,
                    **ingest,
                )
            )
        web = r.get("web")
        if not web:
            continue
        for page, stats in web["pages"].items():
            out.append(
                figure(
                    f"scale.{db}.page_p95_ms.{page}",
                    stats.get("p95_ms"),
                    "ms",
                    None,
                    None,
                    mentions=size,
                    **stats,
                )
            )
        load = web["load"]
        out.append(
            figure(
                f"scale.{db}.web_50_users_requests_per_s",
                load["requests_per_s"],
                "requests/s",
                None,
                None,
                server=web["server"],
                mentions=size,
                **load,
            )
        )
        out.append(
            figure(
                f"scale.{db}.web_50_users_p95_ms",
                load.get("p95_ms"),
                "ms",
                None,
                None,
                server=web["server"],
                mentions=size,
            )
        )
        mem = web["memory"]
        out.append(
            figure(
                f"scale.{db}.web_peak_rss_mb",
                mem["web_peak_rss_mb_sum"],
                "MB",
                None,
                None,
                **mem,
            )
        )
        worker_peak = max(
            (i.get("worker_peak_rss_mb_max") or 0 for i in r.get("ingest", {}).values()), default=0
        )
        out.append(figure(f"scale.{db}.worker_peak_rss_mb", worker_peak or None, "MB", None, None))
    return out


def main(argv: Sequence[str]) -> None:
    command, payload = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    handlers = {"prepare": child_prepare, "enqueue": child_enqueue, "jobs": child_jobs}
    if command in handlers:
        print(json.dumps(handlers[command](payload), default=str))
    else:
        print(json.dumps(run("--quick" in argv), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
