"""End to end: a teacher writes a draft, three leaders sign it, the approval form is ready."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CSP_LISTENER, ConsoleErrors, Site, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def _tab(browser: Any, *, phone: bool = False) -> tuple[Any, Any, ConsoleErrors]:
    viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 860}
    context = browser.new_context(locale="zh-CN", viewport=viewport, accept_downloads=True)
    errors = ConsoleErrors()
    tab = context.new_page()
    tab.add_init_script(CSP_LISTENER)
    tab.on("console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    tab.set_default_timeout(30_000)
    return context, tab, errors


def _sign(browser: Any, site: Site, username: str, url: str, *, phone: bool = False) -> None:
    context, tab, errors = _tab(browser, phone=phone)
    try:
        log_in(tab, site, username)
        tab.goto(url)
        form = tab.locator("#act-form")
        form.locator("input[name=action][value=approve]").check()
        form.locator("input[name=credential]").fill(site.passwords[username])
        if phone:
            screenshot(tab, f"publishing-sign-phone-{username}")
        with tab.expect_navigation():
            form.locator("button[type=submit]").click()
        assert tab.locator(".alert-success, .messages").first.is_visible()
        errors.assert_none(f"signing as {username}")
    finally:
        context.close()


def test_a_draft_goes_from_writing_to_a_signed_approval_form(site: Site, browser: Any) -> None:
    context, tab, errors = _tab(browser)
    log_in(tab, site, "demo-staff")
    tab.goto(site.url + "publishing/new/")
    tab.fill("input[name=title]", "我校举行春季运动会")
    area = tab.locator("[data-editor-area]")
    assert area.is_visible()  # the rich-text editor replaced the textarea under the CSP
    area.click()
    tab.keyboard.type("我校于3月12日举行春季运动会，全校师生参加。")
    tab.keyboard.press("Enter")
    tab.keyboard.type("本次运动会展现了同学们的风采，按装了新的计时设备。")
    with tab.expect_navigation():
        tab.click("#draft-form button[type=submit]")
    draft_url = tab.url
    assert "/publishing/" in draft_url
    with tab.expect_navigation():
        tab.click("text=运行检查")
    assert tab.locator("mark.finding").count() >= 1  # 按装 → 安装 is marked in the text
    screenshot(tab, "publishing-draft-checked")
    with tab.expect_navigation():
        tab.click("button:has-text('提交审核')")
    assert tab.locator(".pub-status").first.inner_text().strip() == "审核中"
    errors.assert_none("writing the draft")
    context.close()

    _sign(browser, site, "demo-admin", draft_url)
    _sign(browser, site, "demo-reviewer", draft_url, phone=True)
    _sign(browser, site, "demo-reviewer", draft_url)

    context, tab, errors = _tab(browser)
    log_in(tab, site, "demo-staff")
    tab.goto(draft_url)
    assert tab.locator(".pub-status").first.inner_text().strip() == "已批准"
    assert tab.locator(".pub-step-state .badge-success").count() == 3
    with tab.expect_download() as download:
        tab.click("text=审批表（DOCX）")
    assert download.value.suggested_filename.endswith(".docx")
    screenshot(tab, "publishing-approved")
    errors.assert_none("the approved draft")
    context.close()
