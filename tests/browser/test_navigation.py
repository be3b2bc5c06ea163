"""Click through the site in a real Chromium as each demo user."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from tests.browser.conftest import Site, log_in, screenshot
from yuqing.accounts.roles import CAPABILITIES, is_read_only
from yuqing.core.demo import PEOPLE
from yuqing.core.navigation import MODULES

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def module_paths() -> dict[str, str]:
    return {reverse(m.url_name): m.key for m in MODULES}


def nav_modules(tab: Any) -> list[str]:
    """The modules the main navigation links to, in order (other links in it are ignored)."""
    paths = module_paths()
    hrefs = tab.eval_on_selector_all("nav a[href]", "links => links.map(a => a.href)")
    keys = [paths.get(urlsplit(href).path) for href in hrefs]
    return list(dict.fromkeys(k for k in keys if k))


def expected_modules(role: str, *, bureau: bool) -> list[str]:
    return [
        m.key
        for m in MODULES
        if role in CAPABILITIES[m.capability] and (not bureau or is_read_only(m.capability))
    ]


def test_it_opens_every_module_page_without_errors(site: Site, page: tuple[Any, Any]) -> None:
    tab, errors = page
    log_in(tab, site, "demo-admin")
    screenshot(tab, "overview")
    modules = nav_modules(tab)
    assert modules == expected_modules("admin", bureau=False)
    for key in modules:
        path = next(p for p, k in module_paths().items() if k == key)
        response = tab.goto(site.url.rstrip("/") + path)
        assert response is not None and response.status == 200, (
            f"{path}: {response and response.status}"
        )
        assert tab.locator("nav").count() >= 1
        screenshot(tab, f"admin-{key}")
        errors.assert_none(path)
    errors.assert_none("the module pages")


@pytest.mark.parametrize("person", PEOPLE, ids=[p.username for p in PEOPLE])
def test_it_shows_each_role_exactly_its_modules(
    site: Site, page: tuple[Any, Any], person: Any
) -> None:
    tab, errors = page
    log_in(tab, site, person.username)
    assert nav_modules(tab) == expected_modules(person.role, bureau=person.bureau)
    errors.assert_none(f"the overview of {person.username}")


def test_it_sends_anonymous_visitors_to_a_clean_login_page(
    site: Site, page: tuple[Any, Any]
) -> None:
    tab, errors = page
    tab.goto(site.url)
    assert "/accounts/login/" in tab.url
    response = tab.goto(site.url + "accounts/login/")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers.get("content-security-policy", "")
    screenshot(tab, "login")
    errors.assert_none("the login page")
