"""CSRF: no state-changing request is accepted without the CSRF token, whoever sends it, and
the token-authenticated API (the only CSRF-exempt views) never acts on a browser's cookies.

The URL walker and the cast of people are tests/test_permissions.py's, imported, so a new
view is covered here the moment it has a URL.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client

from tests.api.test_push import ITEMS, make_token
from tests.test_permissions import (
    CSRF_EXEMPT_ALLOWED,
    PUBLIC_VIEWS,
    TOKEN_VIEWS,
    Cast,
    all_routes,
    capability_of,
    url_for,
)

pytestmark = pytest.mark.django_db

STATE_CHANGING = ("post", "put", "patch", "delete")


def _csrf_rejected(caplog: Any) -> bool:
    return any(r.name == "django.security.csrf" for r in caplog.records)


@pytest.mark.parametrize("role", ["monitor", "handler", "reviewer", "security", "staff"])
def test_every_role_is_refused_every_unsafe_method_without_a_token(
    cast: Cast, caplog: Any, role: str
) -> None:
    # tests/test_permissions.py checks POST as an administrator; here every other role and
    # every unsafe method, so no view can act on PUT/PATCH/DELETE past the middleware.
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.people[role])
    failures = []
    for route in all_routes():
        if route.name in CSRF_EXEMPT_ALLOWED:
            continue
        url, _real = url_for(route, cast)
        for method in STATE_CHANGING:
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="django.security.csrf"):
                response = getattr(client, method)(url, {"name": "x"})
            if response.status_code != 403 or not _csrf_rejected(caplog):
                failures.append(f"{method.upper()} {url} ({route.name}): {response.status_code}")
    assert failures == [], "\n".join(failures)


def test_public_forms_need_the_token_too(cast: Cast, caplog: Any) -> None:
    # Sign-in (login CSRF), the petition form and the query page take no account, but a
    # forged cross-site POST must not submit them in a visitor's name.
    client = Client(enforce_csrf_checks=True)
    for route in all_routes():
        if route.name not in PUBLIC_VIEWS or route.name in TOKEN_VIEWS:
            continue
        if route.name.startswith("api:"):
            continue  # ninja's read-only document and anchor: no POST handler at all
        url, _real = url_for(route, cast)
        if route.arg_names:
            url = url.replace("no-such-thing", cast.school.slug)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="django.security.csrf"):
            response = client.post(url, {"username": "alice", "subject": "x", "body": "y"})
        assert response.status_code == 403 and _csrf_rejected(caplog), (route.name, url)


def test_a_signed_in_browser_cannot_write_through_the_api(cast: Cast) -> None:
    # The API is CSRF-exempt because it authenticates by bearer token only: a request that
    # carries the session cookie (what a forged cross-site request would carry) and no token
    # must be refused and store nothing.
    from yuqing.core.tenancy import school_scope
    from yuqing.monitor.models import Mention

    make_token(cast.school)  # the school has a scheme and a token; the browser does not
    api_writes = [r for r in all_routes() if r.name in TOKEN_VIEWS]
    assert api_writes, "no API routes found"
    for person in ("admin", "monitor"):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(cast.people[person])
        for route in api_writes:
            url, _real = url_for(route, cast)
            response = browser.post(
                url, json.dumps({"items": ITEMS}), content_type="application/json"
            )
            assert response.status_code in (401, 405), (person, url, response.status_code)
    with school_scope(cast.school):
        assert not Mention.objects.exists()


def test_only_token_views_are_exempt_from_csrf() -> None:
    exempt = {r.name for r in all_routes() if getattr(r.callback, "csrf_exempt", False)}
    assert exempt <= set(TOKEN_VIEWS), exempt
    for name in exempt:
        route = next(r for r in all_routes() if r.name == name)
        assert capability_of(route) is None  # token views declare no session capability
