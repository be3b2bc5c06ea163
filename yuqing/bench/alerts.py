"""Alerts benchmarks: mention-to-first-delivery latency through a real worker, and no storm.

``run(quick)`` runs the measurements in a child process with its own data directory (SQLite
database and SQLite queue), so the caller's Django set-up and files are untouched.

1. Latency: a real ``yuqing worker`` (embedded SQLite queue, scheduler on) and a webhook
   receiver on 127.0.0.1. Each sample commits one event and mention together with the ingest
   hook's evaluation request (what ``mentions_ingest`` does once the hook is wired), and
   measures until the receiver gets the POST. The mention is written with the ORM, not through
   the text engine: the engine's cost is measured by the text suite.
2. Burst: 10,000 mentions over 400 events arrive in 100 ingest batches; the set of alerts
   expected (one per event and level reached, repeats folded) is computed independently and
   compared with what was raised. Service level, no worker.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LATENCY_TARGET_S = 10.0


def run(quick: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="yuqing-bench-alerts-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("YUQING_", "PYTEST_"))}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env.update(
            YUQING_DATA_DIR=tmp,
            YUQING_DEMO="0",
            YUQING_FETCH_ALLOW_HOSTS="127.0.0.1",
            DJANGO_SETTINGS_MODULE="yuqing.settings",
        )
        args = [sys.executable, "-m", "yuqing.bench.alerts", "--child"]
        if quick:
            args.append("--quick")
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800)  # noqa: S603
        if proc.returncode != 0:
            raise RuntimeError(f"alerts bench child failed:\n{proc.stderr[-3000:]}")
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- child


class _Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.arrivals.setdefault(str(body.get("title")), time.time())
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"


def _setup() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _school(name: str, slug: str) -> Any:
    from yuqing.accounts.models import School
    from yuqing.core.tenancy import all_schools

    with all_schools():
        return School.objects.create(name=name, slug=slug)


def _commit_mention(school_id: int, source_id: int, title: str, risk: int) -> tuple[int, int]:
    import hashlib

    from django.db import transaction
    from django.utils import timezone

    from yuqing.alerts.services import alerts_evaluate_after_ingest
    from yuqing.monitor.models import Event, Mention

    now = timezone.now()
    with transaction.atomic():
        event = Event.objects.create(
            school_id=school_id,
            key=hashlib.sha256(title.encode()).hexdigest()[:64],
            title=title,
            first_at=now,
            latest_at=now,
            mention_count=1,
            peak_risk=risk,
        )
        mention = Mention.objects.create(
            school_id=school_id,
            source_id=source_id,
            source_type="forum",
            content_hash=hashlib.sha256(title.encode()).hexdigest(),
            title=title,
            text=title,
            sentiment="negative",
            topic="other",
            risk=risk,
            event=event,
        )
        alerts_evaluate_after_ingest(
            school_id=school_id, event_ids=[event.pk], mention_ids=[mention.pk]
        )
    return event.pk, mention.pk


def _latency(samples: int) -> dict[str, Any]:
    from yuqing.alerts.services import channel_save, rule_save
    from yuqing.bench import figure
    from yuqing.core.tenancy import school_scope
    from yuqing.monitor.models import Source

    receiver = _Receiver()
    school = _school("延迟测试中学", "latency")
    with school_scope(school):
        source = Source.objects.create(name="论坛", kind="manual")
        rule_save(name="风险", kind="risk_level", level=1, params={"min_risk": 1})
        channel_save(
            name="webhook",
            kind="webhook",
            config={"url": receiver.url, "secret": "bench-secret-0123456789"},
            levels=[1, 2, 3, 4],
        )
    env = dict(os.environ)
    worker = subprocess.Popen(
        [sys.executable, "-m", "yuqing.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        while line and "Worker started" not in line:
            line = worker.stdout.readline()
        time.sleep(1.0)
        latencies: list[float] = []
        misses = 0
        with school_scope(school):
            for i in range(samples):
                title = f"延迟样本 {i} {random.random():.6f}"
                started = time.time()
                _commit_mention(school.pk, source.pk, title, risk=4)
                deadline = started + 60
                while title not in receiver.arrivals and time.time() < deadline:
                    time.sleep(0.01)
                if title in receiver.arrivals:
                    latencies.append(receiver.arrivals[title] - started)
                else:
                    misses += 1
                time.sleep(random.uniform(0.2, 3.0))  # arrivals, not a train
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        receiver.server.shutdown()
    latencies.sort()
    p95 = (
        latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        if latencies
        else None
    )
    return figure(
        "mention committed → first webhook delivery attempt, p95 (SQLite queue, real worker)",
        p95,
        "s",
        f"<= {LATENCY_TARGET_S}",
        p95 is not None and p95 <= LATENCY_TARGET_S and misses == 0,
        samples=samples,
        delivered=len(latencies),
        missed=misses,
        median=round(latencies[len(latencies) // 2], 3) if latencies else None,
        max=round(latencies[-1], 3) if latencies else None,
    )


def _burst(mentions: int, events: int, batches: int) -> dict[str, Any]:
    import hashlib

    from django.db import transaction
    from django.db.models import F
    from django.db.models.functions import Greatest
    from django.utils import timezone

    from yuqing.alerts.models import Alert, Delivery
    from yuqing.alerts.services import alerts_evaluate, channel_save, rule_save
    from yuqing.bench import figure
    from yuqing.core.tenancy import school_scope
    from yuqing.monitor.models import Event, Mention, Source

    rng = random.Random(20250312)
    school = _school("突发测试中学", "burst")
    now = timezone.now()
    with school_scope(school):
        source = Source.objects.create(name="论坛", kind="manual")
        rule_save(name="风险", kind="risk_level", level=1, params={"min_risk": 1})
        rule_save(name="高危词", kind="high_risk_words", level=3, params={"words": ["食物中毒"]})
        channel_save(
            name="webhook",
            kind="webhook",
            config={"url": "http://127.0.0.1:9/hook", "secret": "bench-secret-0123456789"},
            levels=[3, 4],
        )
        evs = [
            Event.objects.create(
                key=f"b{i}", title=f"事件 {i}", first_at=now, latest_at=now, peak_risk=0
            )
            for i in range(events)
        ]
    # Risk mostly 0-1, a few events climb to orange and red over the burst.
    plan: list[tuple[int, int, bool]] = []
    for n in range(mentions):
        e = rng.randrange(events)
        climb = e % 20 == 0
        risk = min(4, rng.choice([0, 0, 0, 1, 1, 2]) + (2 if climb and n > mentions // 2 else 0))
        words = e % 50 == 7 and rng.random() < 0.3
        plan.append((e, risk, words))

    expected: set[tuple[int, int]] = set()
    peak = [0] * events
    started = time.perf_counter()
    per_batch = mentions // batches
    with school_scope(school):
        for b in range(batches):
            chunk = plan[b * per_batch : (b + 1) * per_batch]
            with transaction.atomic():
                rows = [
                    Mention(
                        school_id=school.pk,
                        source=source,
                        source_type="forum",
                        content_hash=hashlib.sha256(f"{b}-{k}".encode()).hexdigest(),
                        title=f"第{b}批 {k}",
                        text="家长反映学生食物中毒" if w else "家长反映学生作业多",
                        sentiment="neutral",
                        topic="other",
                        risk=r,
                        event_id=evs[e].pk,
                    )
                    for k, (e, r, w) in enumerate(chunk)
                ]
                Mention.objects.bulk_create(rows)
                touched: dict[int, int] = {}
                for e, r, _w in chunk:
                    touched[e] = max(touched.get(e, 0), r)
                for e, r in touched.items():
                    Event.objects.filter(pk=evs[e].pk).update(
                        mention_count=F("mention_count") + 1, peak_risk=Greatest("peak_risk", r)
                    )
            alerts_evaluate(
                school_id=school.pk,
                event_ids=[evs[e].pk for e in touched],
                mention_ids=[m.pk for m in rows],
            )
            # The independent model: each event raises at a level when its risk or its words
            # reach a level higher than any it already has; everything else folds.
            for e, r in touched.items():
                peak[e] = max(peak[e], r)
                words = any(w for ee, _r, w in chunk if ee == e)
                level = max(peak[e], 3 if words else 0)
                top = max((lv for ev, lv in expected if ev == e), default=0)
                if level >= 1 and level > top:
                    expected.add((e, level))
        seconds = time.perf_counter() - started
        got = Alert.objects.count()
        deliveries = Delivery.objects.count()
        expected_deliveries = sum(1 for _e, lv in expected if lv >= 3)
    return {
        "alerts": figure(
            "10,000-mention burst: alerts raised vs expected (folded)",
            got,
            "alerts",
            f"== {len(expected)}",
            got == len(expected),
            expected=len(expected),
            got=got,
            mentions=mentions,
            events=events,
            batches=batches,
            deliveries=deliveries,
            expected_deliveries=expected_deliveries,
        ),
        "evaluation_rate": figure(
            "10,000-mention burst: rule evaluation throughput",
            mentions / seconds,
            "mentions/s",
            None,
            None,
            seconds=round(seconds, 2),
        ),
    }


def _child(quick: bool) -> dict[str, Any]:
    _setup()
    result = {"latency": _latency(5 if quick else 40)}
    if quick:
        result.update(_burst(1000, 100, 20))
    else:
        result.update(_burst(10_000, 400, 100))
    return result


if __name__ == "__main__":
    if "--child" in sys.argv:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        print(json.dumps(_child("--quick" in sys.argv), ensure_ascii=False))
    else:
        print(json.dumps(run("--quick" in sys.argv), ensure_ascii=False, indent=2))
