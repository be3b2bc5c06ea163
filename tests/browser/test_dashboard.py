"""End to end: the monitoring dashboard, the duty-room display, a report and the duty pages,
in a real Chromium at desk and phone size, with no console errors."""

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

# Runs in the live site's own database: a few days of mentions, an event, an alert and duty
# records for the demo school.
SEED = """
import datetime as dt, hashlib, random
import django
django.setup()
from django.utils import timezone
from yuqing.core.demo import demo_school
from yuqing.core.tenancy import school_scope
from yuqing.accounts.models import User
from yuqing.alerts.models import Alert
from yuqing.monitor.models import Event, Mention, Source
from yuqing.duty import services as duty

school = demo_school()
rng = random.Random(3)
now = timezone.now()
with school_scope(school):
    sources = [Source.objects.create(name=n, kind="manual", source_type=t)
               for n, t in (("本地论坛", "forum"), ("微博", "weibo"), ("新闻网", "news"))]
    events = [Event.objects.create(key=f"e{i}", title=t, first_at=now - dt.timedelta(days=9 - i),
                                   latest_at=now, peak_risk=r)
              for i, (t, r) in enumerate((("食堂饭菜质量引发家长讨论", 3), ("校运会精彩瞬间", 0),
                                          ("课后服务收费疑问", 2)))]
    rows = []
    for k in range(240):
        at = now - dt.timedelta(hours=rng.randrange(24 * 28))
        rows.append(Mention(source=rng.choice(sources), source_type="forum",
            content_hash=hashlib.sha256(str(k).encode()).hexdigest(), title=f"帖子{k}", text="育才中学",
            published_at=at, sentiment=rng.choice(["negative", "neutral", "neutral", "positive"]),
            topic=rng.choice(["food_lodging", "fees", "campus_news", "teaching"]),
            risk=rng.choice([0, 0, 1, 2, 3]), event=rng.choice(events + [None])))
    Mention.objects.bulk_create(rows)
    Alert.objects.create(event=events[0], level=3, title="食堂饭菜质量引发家长讨论", reason="风险达到橙色")
    leader = User.objects.get(username="demo-reviewer")
    member = User.objects.get(username="demo-monitor")
    g = duty.group_save(name="网络意识形态工作领导小组", kind="leadership", established_on=dt.date(2025, 9, 1))
    duty.membership_set(group=g, user=leader, role="leader", since=dt.date(2025, 9, 1))
    duty.membership_set(group=g, user=member, role="member", since=dt.date(2025, 9, 1))
    duty.study_session_save(held_on=timezone.localdate(), kind="seminar", topic="网络意识形态工作专题研讨",
                            organiser=leader, hours=2, attendees=[member])
    duty.responsibility_save(title="每月舆情研判", kind="principal", owners=[member],
                             due_on=timezone.localdate() + dt.timedelta(days=3), recurrence="monthly")
print("ok")
"""


@pytest.fixture(scope="module")
def dash_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("dash") / "data"
    with child_database() as database_url:
        env = cli_env(data, database_url=database_url)
        with running(data, env=env, args=("--no-worker",)) as live:
            done = subprocess.run(
                [sys.executable, "-c", SEED],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            yield Site(url=live.url, passwords=read_passwords(data / PASSWORD_FILE))


def test_the_dashboard_draws_its_charts_and_the_display_refreshes(
    dash_site: Site, page: tuple[Any, Any]
) -> None:
    tab, errors = page
    log_in(tab, dash_site, "demo-monitor")
    tab.goto(dash_site.url + "reports/dashboard/")
    for chart in ("#dash-sentiment", "#dash-topics", "#dash-sources", "#dash-events"):
        tab.locator(f"{chart} canvas").wait_for()
    assert int(tab.locator(".dash-figure-value").first.inner_text()) > 0
    screenshot(tab, "dashboard-desktop")
    errors.assert_none("the dashboard")
    tab.locator("button[name=range][value='7']").click()
    tab.wait_for_url("**range=7**")
    tab.locator("#dash-sentiment canvas").wait_for()
    errors.assert_none("the dashboard, 7 days")

    # The duty-room display: its body is swapped by htmx and the charts come back.
    tab.goto(dash_site.url + "reports/dashboard/display/")
    tab.locator("#dash-sentiment canvas").wait_for()
    errors.assert_none("the display")
    with tab.expect_response(lambda r: "/reports/dashboard/display/" in r.url):
        tab.evaluate(
            "htmx.ajax('GET', location.href, {target: '#dashboard-body', swap: 'outerHTML'})"
        )
    tab.locator("#dash-sentiment canvas").wait_for()
    screenshot(tab, "dashboard-display")

    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(dash_site.url + "reports/dashboard/")
    tab.locator("#dash-topics canvas").wait_for()
    screenshot(tab, "dashboard-phone")
    errors.assert_none("the dashboard")


def test_a_report_is_generated_and_the_duty_pages_open(
    dash_site: Site, page: tuple[Any, Any]
) -> None:
    tab, errors = page
    log_in(tab, dash_site, "demo-admin")
    tab.goto(dash_site.url + "reports/")
    with tab.expect_navigation():
        tab.locator(".report-preset button").nth(2).click()  # the monthly report
    assert "/reports/" in tab.url
    tab.locator(".report-numbers").wait_for()
    screenshot(tab, "report-detail")
    for path, name in (
        ("duty/", "duty-index"),
        ("duty/groups/", "duty-groups"),
        ("duty/sessions/", "duty-sessions"),
        ("duty/responsibilities/", "duty-responsibilities"),
        ("duty/counts/", "duty-counts"),
    ):
        tab.goto(dash_site.url + path)
        screenshot(tab, name)
    tab.goto(dash_site.url + "reports/channels/")
    screenshot(tab, "report-channels")
    # Deleting a duty record: the detail page's button, a confirmation page, then the list.
    tab.goto(dash_site.url + "duty/sessions/")
    tab.get_by_role("link", name="网络意识形态工作专题研讨").click()
    tab.locator(".page-actions a.btn-danger").click()
    tab.wait_for_url("**/delete/")
    screenshot(tab, "duty-delete-confirm")
    with tab.expect_navigation():
        tab.locator("form button.btn-danger").click()
    assert tab.url.endswith("/duty/sessions/")
    assert "已删除" in tab.locator("main").inner_text()  # the message names what went
    assert tab.get_by_role("link", name="网络意识形态工作专题研讨").count() == 0
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(dash_site.url + "duty/")
    screenshot(tab, "duty-index-phone")
    tab.goto(dash_site.url + "duty/sessions/new/")
    screenshot(tab, "duty-session-form-phone")
    errors.assert_none("reports and duty pages")
