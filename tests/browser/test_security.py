"""The security officer registers and authorises the school's site, in a real Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Site, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_it_registers_and_authorises_an_asset(site: Site, page: tuple[Any, Any]) -> None:
    tab, errors = page
    log_in(tab, site, "demo-security")
    tab.goto(site.url + "security/")
    screenshot(tab, "security-dashboard")
    tab.click("text=登记资产")
    tab.select_option("select[name=kind]", "website")
    tab.fill("input[name=name]", "学校门户网站")
    tab.fill("input[name=url]", site.url)
    tab.fill("input[name=expected_ports]", "80, 443")
    tab.check("input[name=allow_private]")
    with tab.expect_navigation():
        tab.click("button[type=submit].btn-primary")
    assert "/security/assets/" in tab.url
    assert tab.locator("text=此资产未获授权检查").count() == 1
    tab.check("#confirm-own")
    with tab.expect_navigation():
        tab.click("button:has-text('授权检查')")
    assert tab.locator("text=撤销授权").count() == 1
    screenshot(tab, "security-asset")
    tab.goto(site.url + "security/findings/")
    tab.goto(site.url + "security/assets/")
    assert tab.locator("text=学校门户网站").count() == 1
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(site.url + "security/")
    screenshot(tab, "security-dashboard-phone")
    errors.assert_none("the security pages")
