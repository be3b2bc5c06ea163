"""End to end: the demo internet publishes, the poller stores, the desk shows, a person corrects."""

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

# Run in the live site's own database and data dir: the test process's database is another one.
POLL_ONCE = """
import django
django.setup()
from django.conf import settings
from yuqing.core.demo import demo_school
from yuqing.monitor.demo.seed import seed_demo_monitoring
from yuqing.monitor.poller import poll_due
seed_demo_monitoring(demo_school(), base_url=sys.argv[1])
report = poll_due()
assert report.failed == 0 and report.new_mentions > 0, report
print(report.new_mentions)
"""


@pytest.fixture(scope="module")
def desk_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, dict[str, str]]]:
    data = tmp_path_factory.mktemp("desk") / "data"
    with child_database() as database_url:
        env = cli_env(
            data,
            database_url=database_url,
            YUQING_FETCH_ALLOW_HOSTS="127.0.0.1",
            YUQING_FETCH_HOST_SPACING_MS="0",
        )
        with running(data, env=env, args=("--no-worker",)) as live:
            yield Site(url=live.url, passwords=read_passwords(data / PASSWORD_FILE)), env


@pytest.fixture
def demo_internet() -> Iterator[str]:
    from yuqing.monitor.demo.server import serve

    server, _internet = serve(speed=10_000)  # every post of the timeline is already out
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def poll_once(env: dict[str, str], base_url: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + POLL_ONCE, base_url],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_a_published_post_reaches_the_desk_and_its_label_is_corrected(
    desk_site: tuple[Site, dict[str, str]], demo_internet: str, page: tuple[Any, Any]
) -> None:
    site, env = desk_site
    tab, errors = page
    log_in(tab, site, "demo-monitor")
    tab.goto(site.url + "monitor/")
    assert tab.locator("article.mention").count() == 0  # nothing collected yet

    assert poll_once(env, demo_internet) > 10
    tab.goto(site.url + "monitor/?q=食堂")
    cards = tab.locator("article.mention")
    assert cards.count() >= 3
    first = cards.first
    assert first.locator("mark").count() >= 1  # the search term is highlighted
    screenshot(tab, "desk-stream")

    # One click on a chip fixes the sentiment; htmx swaps the card in place.
    card_id = first.get_attribute("id")
    first.locator("details.mention-fix > summary").click()
    current = first.locator("form.fix-group:has(input[value=sentiment]) .chip.is-current")
    was = current.get_attribute("value")
    target = "positive" if was != "positive" else "neutral"
    first.locator(f"form.fix-group:has(input[value=sentiment]) .chip[value={target}]").click()
    card = tab.locator(f"#{card_id}")
    card.locator(".mention-saved").wait_for()
    assert (
        card.locator("form.fix-group:has(input[value=sentiment]) .chip.is-current").get_attribute(
            "value"
        )
        == target
    )
    assert card.locator(".mention-fix[open]").count() == 1
    screenshot(tab, "desk-corrected")

    # The correction is kept: after a reload the card still says so, and the model page lists it.
    tab.reload()
    assert tab.locator(f"#{card_id} .chip.is-current[value={target}]").count() == 1
    tab.goto(site.url + "monitor/model/")
    assert tab.locator(".correction-list li").count() == 1

    # The event of the story has its own page with a chart.
    tab.goto(site.url + "monitor/events/?sort=size")
    tab.locator(".event-table a").first.click()
    tab.locator("#event-volume canvas").wait_for()
    screenshot(tab, "desk-event")
    errors.assert_none("the desk")
