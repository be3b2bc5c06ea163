"""In a real browser (Debian Chromium) on a live `yuqing run`: with XSS payloads stored in
mentions, events, alerts, cases and petitions, the main pages open without any alert() dialog,
uncaught error or console error (a CSP violation would be one)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Site, log_in, screenshot
from tests.clitools import ROOT, child_database, cli_env, running
from tests.security_pass.test_xss import EVIL_LINKS, PAYLOADS
from yuqing.core.demo import PASSWORD_FILE, read_passwords

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

# Runs in the live site's own database (the test process's database is another one).
LOAD_PAYLOADS = """
import datetime as dt, json, sys
import django
django.setup()
from django.utils import timezone
from yuqing.alerts.services import alerts_evaluate, rule_save
from yuqing.cases import routes, services as cases
from yuqing.core.demo import demo_school
from yuqing.core.tenancy import school_scope
from yuqing.monitor import setup_services
from yuqing.monitor.models import Event, Mention
from yuqing.monitor.services import IncomingItem, mentions_ingest

payloads, links = json.loads(sys.argv[1]), json.loads(sys.argv[2])
school = demo_school()
with school_scope(school):
    setup_services.scheme_create(name="xss", subject_words=[school.name])
    rule_save(name="xss", kind="risk_level", level=4, params={"min_risk": 1})
    source = setup_services.default_source(kind="manual", name=payloads[1])
    items = [
        IncomingItem(
            title=f"{school.name} {p}", text=f"{school.name} {' '.join(payloads)}",
            author=p, url=links[i % 2] if i < 2 else f"https://bbs.example.cn/x/{i}",
        )
        for i, p in enumerate(payloads)
    ]
    result = mentions_ingest(source=source, items=items)
    ids = result.mention_ids
    Mention.objects.filter(pk__in=ids).update(risk=4)
    Event.objects.filter(mentions__pk__in=ids).update(peak_risk=4)
    events = sorted({m.event_id for m in Mention.objects.filter(pk__in=ids) if m.event_id})
    alerts = alerts_evaluate(school_id=school.pk, event_ids=events, mention_ids=ids)
    routes.routes_seed()
    case = cases.case_open(title=payloads[0], level=3, summary=" ".join(payloads),
                           alert=alerts[0] if alerts else None, mention_ids=ids)
    petition, _code = cases.petition_receive(intake=cases.Intake(
        channel="mailbox", subject=payloads[2][:200], body="\\n".join(payloads),
        received_on=timezone.localdate(), name=payloads[3][:60], contact=payloads[1][:100]))
print(json.dumps({"events": events, "alerts": [a.pk for a in alerts], "case": case.pk,
                  "petition": petition.pk}))
"""


@pytest.fixture(scope="module")
def loaded_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, dict[str, Any]]]:
    data = tmp_path_factory.mktemp("xss") / "data"
    with child_database() as database_url:
        env = cli_env(data, database_url=database_url)
        with running(data, env=env, args=("--no-worker",)) as live:
            done = subprocess.run(
                [sys.executable, "-c", LOAD_PAYLOADS, json.dumps(PAYLOADS), json.dumps(EVIL_LINKS)],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert done.returncode == 0, done.stderr[-4000:]
            ids = json.loads(done.stdout.strip().splitlines()[-1])
            site = Site(url=live.url, passwords=read_passwords(data / PASSWORD_FILE))
            yield site, ids


def test_no_payload_runs_in_the_browser(
    loaded_site: tuple[Site, dict[str, Any]], page: tuple[Any, Any]
) -> None:
    site, ids = loaded_site
    tab, errors = page
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    assert ids["alerts"], "no alert was raised: the alert pages would go untested"
    log_in(tab, site, "demo-admin")
    paths = [
        "monitor/",
        "monitor/?q=xss",
        "monitor/events/",
        *[f"monitor/events/{pk}/" for pk in ids["events"][:3]],
        "alerts/",
        *[f"alerts/{pk}/" for pk in ids["alerts"][:3]],
        "cases/",
        f"cases/{ids['case']}/",
        "cases/petitions/",
        f"cases/petitions/{ids['petition']}/",
        "reports/dashboard/",
    ]
    shown = 0
    for path in paths:
        response = tab.goto(site.url + path)
        assert response is not None and response.status == 200, path
        tab.wait_for_load_state("networkidle")
        # Hover and focus everything that carries outside text: handler payloads need it.
        for element in tab.locator("main a, main h3, main p, main td").all()[:150]:
            element.hover(timeout=2000, trial=False, force=True)
        shown += "xss-" in tab.content()
        errors.assert_none(path)
        assert dialogs == [], f"{path}: a payload ran: {dialogs}"
    screenshot(tab, "security-xss-petition")
    assert shown >= 6  # the payloads were on the pages, shown as text
