"""End to end: a red alert becomes a case, goes up the route and is closed with a review."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Site, log_in, screenshot
from tests.clitools import ROOT, child_database, cli_env, running
from yuqing.core.demo import PASSWORD_FILE, read_passwords

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

# Run in the live site's own database: the test process's database is another one.
RAISE_ALERT = """
import django
django.setup()
from yuqing.alerts.models import Alert
from yuqing.core.demo import demo_school
from yuqing.core.tenancy import school_scope
with school_scope(demo_school()):
    alert = Alert.objects.create(
        level=4,
        title="家长群传言：初一(1)班学生午餐后集体腹痛",
        reason="红色：多条负面信息集中出现，涉及学生健康",
    )
print(alert.pk)
"""


@pytest.fixture(scope="module")
def cases_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, dict[str, str]]]:
    data = tmp_path_factory.mktemp("cases") / "data"
    with child_database() as database_url:
        env = cli_env(data, database_url=database_url)
        with running(data, env=env, args=("--no-worker",)) as live:
            yield Site(url=live.url, passwords=read_passwords(data / PASSWORD_FILE)), env


def raise_alert(env: dict[str, str]) -> int:
    done = subprocess.run(
        [sys.executable, "-c", RAISE_ALERT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_an_alert_becomes_a_case_goes_up_the_route_and_is_closed(
    cases_site: tuple[Site, dict[str, str]], page: tuple[Any, Any]
) -> None:
    site, env = cases_site
    tab, errors = page
    alert_id = raise_alert(env)
    log_in(tab, site, "demo-monitor")

    tab.goto(site.url + f"alerts/{alert_id}/")
    with tab.expect_navigation():
        tab.click(f"a[href='/cases/new/?alert={alert_id}']")
    assert tab.input_value("input[name=title]").startswith("家长群传言")
    tab.select_option("select[name=org_unit]", label="初一(1)班")
    screenshot(tab, "cases-new")
    with tab.expect_navigation():
        tab.click("form.form button[type=submit].btn-primary")
    assert "/cases/" in tab.url
    # Nobody holds the handler role in the class or the grade office of the demo school:
    # the case went on to 政教处, where 张老师 is on duty.
    current = tab.locator(".route-step.is-current")
    assert "政教处" in current.inner_text() and "张老师" in current.inner_text()

    tab.select_option("select[name=kind]", "verified")
    tab.fill("textarea[name=text]", "已与食堂和校医核实：两名学生轻微不适，已就医，无集体腹痛。")
    with tab.expect_navigation():
        tab.click("form.timeline-form button[type=submit]")
    assert "已与食堂和校医核实" in tab.locator("#timeline").inner_text()

    tab.fill("#route-form textarea[name=reason]", "红色事件，须报领导小组")
    with tab.expect_navigation():
        tab.click("#route-form button[formaction$='/move/report_up/']")
    current = tab.locator(".route-step.is-current")
    assert "领导小组" in current.inner_text() and "陈校长" in current.inner_text()

    tab.fill("textarea[name=response_draft]", "关于网传我校学生午餐后腹痛的情况说明……")
    with tab.expect_navigation():
        tab.click("#response button[type=submit]")
    screenshot(tab, "cases-detail")

    with tab.expect_navigation():
        tab.click(".page-actions a[href$='/close/']")
    tab.fill("textarea[name=summary]", "经核实为个别学生不适，已公开说明，舆情平息。")
    with tab.expect_navigation():
        tab.click("form.form button[type=submit].btn-primary")
    assert tab.locator(".errorlist").count() > 0  # red: the after-action review is required
    tab.fill("textarea[name=review_happened]", "家长群转发未经核实的消息。")
    tab.fill("textarea[name=review_done]", "一小时内核实并上报，四小时内发布情况说明。")
    tab.fill("textarea[name=review_changes]", "食堂留样检查纳入每日巡查；家委会信息沟通机制。")
    with tab.expect_navigation():
        tab.click("form.form button[type=submit].btn-primary")
    assert tab.locator(".case-status-closed").count() > 0

    tab.goto(site.url + "cases/library/?q=留样")
    assert "家长群传言" in tab.locator("main").inner_text()
    tab.goto(site.url + "cases/mine/")
    screenshot(tab, "cases-my-work")

    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(site.url + "cases/")
    screenshot(tab, "cases-list-phone")
    errors.assert_none("the cases pages")


def test_a_parent_writes_to_the_school_and_reads_the_reply(
    cases_site: tuple[Site, dict[str, str]], page: tuple[Any, Any]
) -> None:
    site, _env = cases_site
    tab, errors = page
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(site.url + "cases/p/demo-school/")
    tab.fill("input[name=subject]", "<script>alert(1)</script>校车时间")
    tab.fill("textarea[name=body]", "孩子每天六点出门，希望调整校车时间。")
    screenshot(tab, "cases-public-form-phone")
    with tab.expect_navigation():
        tab.click("main form.card button[type=submit].btn-primary")
    code = tab.inner_text("#query-code").strip()
    assert len(code) == 14

    with tab.expect_navigation():
        tab.click("main a.btn-primary")
    tab.fill("input[name=code]", code)
    with tab.expect_navigation():
        tab.click("main form.card button[type=submit].btn-primary")
    assert "<script>alert(1)</script>校车时间" in tab.inner_text(".query-result h2")
    screenshot(tab, "cases-public-query-phone")
    errors.assert_none("the public petition pages")
