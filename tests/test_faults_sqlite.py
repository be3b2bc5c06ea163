"""SQLite under concurrent web writes and worker writes: no "database is locked" reaches a user.

`yuqing run` (the real web server and worker on one SQLite file) serves six administrators
who each create org units as fast as the server answers (each request: a write transaction
and an audit-chain append), while a second process ingests batches of mentions the way the
worker does — long write transactions (matching, classifying and clustering 150 items inside
one). What keeps them apart: WAL, ``transaction_mode = IMMEDIATE`` (a writer takes the lock at
BEGIN, so none fails on a read-to-write upgrade) and a 20 s busy timeout (yuqing/settings.py).
"""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.clitools import ROOT, cli_env, on_postgres, running
from tests.faultkit import PRELUDE, SCHOOL
from yuqing.core.demo import PASSWORD_FILE, read_passwords

WEB_USERS = 6
POSTS_EACH = 15

INGEST = f"""
import time
from yuqing.accounts.models import School
from yuqing.monitor.models import Scheme, Source
from yuqing.monitor.services import IncomingItem, mentions_ingest
with all_schools():
    school = School.objects.exclude(kind="bureau").order_by("pk").first()
with school_scope(school):
    Scheme.objects.get_or_create(name="并发", defaults={{"subject_words": ["{SCHOOL}"]}})
    source, _ = Source.objects.get_or_create(name="并发源", defaults={{"kind": "feed"}})
    print(json.dumps({{"ready": True}}), flush=True)
    batches = 0
    started = time.monotonic()
    while time.monotonic() - started < float(sys.argv[1]):
        items = [
            IncomingItem(
                title=f"{SCHOOL}并发{{batches}}-{{i}}",
                text=f"{SCHOOL}家长反映第{{batches}}批第{{i}}件事，希望学校尽快回应。" * 3,
                url=f"http://127.0.0.1/c/{{batches}}/{{i}}",
            )
            for i in range(150)
        ]
        mentions_ingest(source=source, items=items)
        batches += 1
    print(json.dumps({{"batches": batches}}), flush=True)
"""


class Admin:
    """One administrator's browser session against the real server."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = self.open("accounts/login/")[1]
        self.post("accounts/login/", {"username": username, "password": password}, page)

    def open(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        url = self.base + path
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, headers={"Referer": url})
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def post(self, path: str, data: dict[str, str], page: str) -> tuple[int, str]:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, page[:500]
        return self.open(path, {"csrfmiddlewaretoken": token.group(1), **data})


@pytest.mark.slow
def test_no_database_is_locked_error_reaches_a_user(tmp_path: Path) -> None:
    if on_postgres():
        pytest.skip("about SQLite: runs on the SQLite test run")
    data = tmp_path / "data"
    env = cli_env(data, YUQING_DEMO="1", YUQING_WORKER_THREADS="2")
    with running(data, env=env) as site:
        password = read_passwords(data / PASSWORD_FILE)["demo-admin"]
        admins = [Admin(site.url, "demo-admin", password) for _ in range(WEB_USERS)]
        writer = subprocess.Popen(
            [sys.executable, "-c", PRELUDE + INGEST, "60"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        assert "ready" in writer.stdout.readline()
        answers: list[tuple[int, str, float]] = []
        lock = threading.Lock()

        def browse(n: int, admin: Admin) -> None:
            for i in range(POSTS_EACH):
                page = admin.open("accounts/settings/units/")[1]
                started = time.monotonic()
                status, body = admin.post(
                    "accounts/settings/units/",
                    {"name": f"并发组{n}-{i}", "kind": "office", "parent": "", "sort_order": "0"},
                    page,
                )
                with lock:
                    answers.append((status, body, time.monotonic() - started))

        threads = [threading.Thread(target=browse, args=(n, a)) for n, a in enumerate(admins)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err[-3000:]
    server_log = (tmp_path / f"data-run-{site.url.rsplit(':', 1)[1].strip('/')}.log").read_text()
    statuses = [status for status, _body, _s in answers]
    locked = [body for _s, body, _t in answers if "locked" in body.lower()]
    times = sorted(seconds for _s, _b, seconds in answers)
    print(
        f"{len(answers)} web writes: median {times[len(times) // 2]:.2f} s,"
        f" p95 {times[int(len(times) * 0.95)]:.2f} s, slowest {times[-1]:.2f} s;"
        f" worker-style ingest: {out.strip()}"
    )
    assert len(answers) == WEB_USERS * POSTS_EACH
    assert statuses.count(200) == len(answers), sorted(set(statuses))  # redirected to the list
    assert not locked
    assert "database is locked" not in server_log, server_log[-3000:]
    assert "database is locked" not in err
    assert '"batches"' in out and '"batches": 0' not in out
