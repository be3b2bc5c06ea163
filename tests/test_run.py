"""`yuqing run`: one command sets up and starts everything, and Ctrl-C stops all of it."""

from __future__ import annotations

import http.cookiejar
import json
import re
import signal
import stat
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.clitools import child_database, cli_env, running, yuqing
from yuqing.core.demo import PASSWORD_FILE, read_passwords

pytestmark = pytest.mark.slow

ADMIN_LINE = re.compile(r"Administrator: (\S+)  password: (\S+)")


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode("utf-8")


def logs_in(base: str, username: str, password: str) -> bool:
    """Log in through the real login form; True when the overview page opens afterwards."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_url = base + "accounts/login/"
    page = opener.open(login_url, timeout=30).read().decode("utf-8")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "the login page has no CSRF token"
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token.group(1), "username": username, "password": password}
    ).encode()
    request = urllib.request.Request(login_url, data=data, headers={"Referer": login_url})
    response = opener.open(request, timeout=30)
    return "/accounts/login/" not in response.geturl() and response.status == 200


def test_it_serves_the_site_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with (
        child_database() as database_url,
        running(data, env=cli_env(data, database_url=database_url)) as site,
    ):
        status, body = get(site.url + "healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, body = get(site.url + "accounts/login/")
        assert status == 200 and "<form" in body
        # The web server and the worker (with its scheduler) are both running.
        assert len(site.children) >= 2
        assert "demo-admin" in site.output and "demo-bureau" in site.output
        passwords = read_passwords(data / PASSWORD_FILE)
        assert logs_in(site.url, "demo-admin", passwords["demo-admin"])
    assert stat.S_IMODE((data / PASSWORD_FILE).stat().st_mode) == 0o600
    assert (data / "secret_key").exists()


def test_it_keeps_everything_when_run_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with child_database() as database_url:
        env = cli_env(data, database_url=database_url)
        with running(data, env=env) as first:
            admin = ADMIN_LINE.search(first.output)
            assert admin, first.output
            username, password = admin.groups()
        verified = yuqing("audit", "verify", env=env)
        assert verified.returncode == 0, verified.stderr
        entries = int(verified.stdout.split()[1])

        with running(data, env=env) as second:
            assert not ADMIN_LINE.search(second.output), "a second run printed a new admin password"
            assert f"Administrator {username!r} exists" in second.output
            assert "yuqing createadmin --reset" in second.output
            assert logs_in(second.url, username, password)
            # The same demo passwords are printed again.
            demo_lines = [x for x in first.lines if x.strip().startswith("demo-")]
            assert demo_lines and all(x in second.lines for x in demo_lines)
        verified = yuqing("audit", "verify", env=env)
        assert verified.returncode == 0, verified.stderr
        assert int(verified.stdout.split()[1]) >= entries


def test_it_runs_two_instances_side_by_side(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    # The second one is stopped the way a service manager does it: SIGTERM.
    with (
        child_database() as url_one,
        child_database() as url_two,
        running(one, env=cli_env(one, database_url=url_one)) as a,
        running(two, env=cli_env(two, database_url=url_two), stop_with=signal.SIGTERM) as b,
    ):
        assert a.url != b.url
        assert get(a.url + "healthz")[0] == 200
        assert get(b.url + "healthz")[0] == 200
        # Separate data dirs: separate secrets, separate demo passwords.
        assert (one / "secret_key").read_text() != (two / "secret_key").read_text()
        assert read_passwords(one / PASSWORD_FILE) != read_passwords(two / PASSWORD_FILE)


def test_it_refuses_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = yuqing("run", env=cli_env(tmp_path, PORT=str(port)))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert result.stderr.count("\n") == 1


# --- The bureau shape: gunicorn and several workers ---------------------------------------------


def redis_url() -> str:
    import os

    return os.environ.get("YUQING_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_reachable() -> tuple[bool, str]:
    import redis

    try:
        redis.Redis.from_url(redis_url(), socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return False, f"Redis at {redis_url()} did not answer ({exc})"
    return True, ""


@pytest.mark.redis
def test_it_runs_gunicorn_and_several_workers_with_one_scheduler(tmp_path: Path) -> None:
    import uuid

    import redis

    from tests.clitools import alive, children_of, need

    need("Redis", *redis_reachable())
    queue = f"yuqing-test-{uuid.uuid4().hex[:8]}"
    data = tmp_path / "data"
    try:
        with (
            child_database() as database_url,
            running(
                data,
                env=cli_env(
                    data,
                    database_url=database_url,
                    REDIS_URL=redis_url(),
                    YUQING_QUEUE_NAME=queue,
                    YUQING_DEMO="0",
                ),
                args=("--workers", "3", "--web-processes", "2", "--threads", "4"),
                stop_with=signal.SIGTERM,
            ) as site,
        ):
            assert "Web server: gunicorn, 2 processes × 4 threads" in site.output
            assert "3 workers (one runs the scheduler)" in site.output
            # Exactly one of the three workers runs the scheduler.
            assert site.output.count("threads with the scheduler") == 1, site.output
            assert site.output.count("threads without the scheduler") == 2, site.output
            # `yuqing run`, its gunicorn master with 2 web processes, and 3 workers.
            tree = children_of(site.proc.pid)
            commands = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in tree]
            assert sum(b"_web" in c for c in commands) == 3, commands
            assert sum(b"worker" in c for c in commands) == 3, commands
            # Many requests at once are all answered.
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(16) as pool:
                statuses = list(pool.map(lambda _: get(site.url + "healthz")[0], range(64)))
            assert statuses == [200] * 64
            assert get(site.url + "accounts/login/")[0] == 200
            admin = ADMIN_LINE.search(site.output)
            assert admin and logs_in(site.url, *admin.groups())
        assert not [pid for pid in tree if alive(pid)]
    finally:
        # Huey keeps only the letters and digits of a queue name in its Redis keys.
        client = redis.Redis.from_url(redis_url())
        leftovers = list(client.scan_iter(f"*{queue.replace('-', '')}*"))
        if leftovers:
            client.delete(*leftovers)


def test_it_refuses_workers_with_no_worker(tmp_path: Path) -> None:
    result = yuqing("run", "--no-worker", "--workers", "2", env=cli_env(tmp_path))
    assert result.returncode == 1
    assert "--no-worker and --workers contradict" in result.stderr
    result = yuqing("run", "--workers", "0", env=cli_env(tmp_path))
    assert result.returncode == 2 and "must be 1 or more" in result.stderr


def test_web_serves_alone_on_gunicorn_and_stops_on_sigterm(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from tests.clitools import ROOT, alive, children_of, free_port

    with child_database() as database_url:
        env = cli_env(tmp_path, database_url=database_url, YUQING_DEMO="0")
        refused = yuqing("web", "--port", str(free_port()), env=env)
        assert refused.returncode == 1 and "run `yuqing migrate`" in refused.stderr
        assert yuqing("migrate", env=env).returncode == 0
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "yuqing.cli", "web", "--port", str(port), "--processes", "2"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline
                    time.sleep(0.3)
            tree = children_of(proc.pid)
            assert len(tree) == 2  # the gunicorn master is the process itself
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, output
        assert "gunicorn, 2 processes" in output
        time.sleep(1)
        assert not [pid for pid in tree if alive(pid)]
