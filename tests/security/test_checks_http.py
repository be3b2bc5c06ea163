"""Availability, headers and exposed paths against local servers built to fail and to pass."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.conftest import Web, findings_of, make_asset, run
from yuqing.security.models import CheckRun

pytestmark = pytest.mark.django_db

GOOD_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Server": "nginx",
    "Set-Cookie": "sid=abc; Path=/; HttpOnly; SameSite=Lax",
}


def test_it_records_the_response_time_of_an_available_site(school: Any, web: Web) -> None:
    web.page("/", "<html><body>育才中学</body></html>")
    result = run(make_asset(school, web.url), "availability")
    assert result.status == CheckRun.Status.PASSED
    assert result.elapsed_ms is not None
    assert result.result["up"] is True
    assert f"127.0.0.1:{web.port}" in result.contacted


def test_it_finds_a_site_down(school: Any, web: Web) -> None:
    web.page("/", "oops", status=503)
    asset = make_asset(school, web.url)
    result = run(asset, "availability")
    assert result.status == CheckRun.Status.PROBLEMS
    assert findings_of(asset)["down"].severity == 3


def test_it_finds_missing_headers_cookie_flags_and_versions(school: Any, web: Web) -> None:
    web.page("/", "<html>home</html>", Server="Apache/2.4.29 (Ubuntu)",
             X_Powered_By="PHP/5.6.40", Set_Cookie="PHPSESSID=1; path=/")  # fmt: skip
    web.page("/uploads/", "<html><title>Index of /uploads</title><body>a.doc</body></html>")
    asset = make_asset(school, web.url)
    assert run(asset, "headers").status == CheckRun.Status.PROBLEMS
    found = findings_of(asset)
    assert {
        "header:content-security-policy",
        "header:x-frame-options",
        "header:x-content-type-options",
        "disclosure:server",
        "disclosure:x-powered-by",
        "cookie:PHPSESSID",
        "listing",
    } <= set(found)
    assert found["listing"].evidence["paths"] == ["/uploads/"]


def test_it_passes_a_site_with_good_headers(school: Any, web: Web) -> None:
    web.page("/", "<html>home</html>", **{k.replace("-", "_"): v for k, v in GOOD_HEADERS.items()})
    asset = make_asset(school, web.url)
    result = run(asset, "headers")
    assert result.status == CheckRun.Status.PASSED, findings_of(asset)


def test_it_finds_an_exposed_git_head_and_env(school: Any, web: Web) -> None:
    web.page("/", "<html>home</html>")
    web.page("/.git/HEAD", "ref: refs/heads/master\n", Content_Type="text/plain")
    web.page("/.env", "DB_HOST=10.0.0.5\nDB_PASSWORD=secret\n", Content_Type="text/plain")
    asset = make_asset(school, web.url)
    assert run(asset, "exposed_paths").status == CheckRun.Status.PROBLEMS
    found = findings_of(asset)
    assert set(found) == {"path:/.git/HEAD", "path:/.env"}
    assert found["path:/.git/HEAD"].severity == 4


def test_it_ignores_a_soft_404_that_answers_everything_with_the_home_page(
    school: Any, web: Web
) -> None:
    home = (200, {"Content-Type": "text/html"}, b"<html><body>welcome</body></html>")
    web.default = home
    asset = make_asset(school, web.url)
    assert run(asset, "exposed_paths").status == CheckRun.Status.PASSED
    # Only the fixed list (and one random probe for soft 404s) was requested: no brute force.
    assert len(web.seen) == 9
