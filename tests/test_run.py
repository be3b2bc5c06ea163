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
