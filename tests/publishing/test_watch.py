from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from tests.publishing.conftest import approve, fresh
from yuqing.alerts.models import Alert, Notification
from yuqing.core.tenancy import use_scope
from yuqing.publishing import services, workflow
from yuqing.publishing.models import Publication

pytestmark = pytest.mark.django_db

PAGE = """<!doctype html><html><head><title>{title}</title></head><body>
<header><nav><a href="/">首页</a> <a href="/news/">学校新闻</a></nav></header>
<article><h1>{title}</h1>{body}</article>
<footer>版权所有 育才中学</footer></body></html>"""


class LiveSite:
    def __init__(self) -> None:
        self.html = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = site.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/news/1.html"


@pytest.fixture
def live_site(settings: Any) -> Iterator[LiveSite]:
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    site = LiveSite()
    yield site
    site.server.shutdown()


def test_it_raises_an_alert_when_the_live_page_no_longer_shows_the_signed_text(
    people: dict[str, Any], draft: Any, live_site: LiveSite
) -> None:
    services.settings_update(
        school_id=draft.school_id,
        forbidden_words=[],
        formulations=[],
        confusions=[],
        watch_hosts=["127.0.0.1"],
        watch_minutes=30,
    )
    workflow.review_submit(draft=draft, user=people["staff"])
    for user in (people["admin"], people["reviewer"], people["reviewer"]):
        approve(draft, user)
    draft = fresh(draft)
    live_site.html = PAGE.format(title=draft.title, body=draft.body)
    publication = services.publication_record(
        draft=draft, user=people["staff"], channel="website", url=live_site.url
    )

    with use_scope(None), time_machine.travel(timezone.now(), tick=False):
        report = services.publications_watch_due()
    assert report.checked == 1 and report.matched == 1, report
    assert Publication.objects.get(pk=publication.pk).watch_status == "matches"
    assert not Alert.objects.exists()

    # Someone changes the page on the web server behind the school's back.
    live_site.html = PAGE.format(title=draft.title, body=draft.body.replace("全校师生", "部分师生"))
    with (
        use_scope(None),
        time_machine.travel(timezone.now() + timezone.timedelta(minutes=31), tick=False),
    ):
        report = services.publications_watch_due()
    assert report.changed == 1
    publication.refresh_from_db()
    assert publication.watch_status == "changed"
    assert "-我校于3月12日举行春季运动会，全校师生参加。" in publication.last_diff
    assert "+我校于3月12日举行春季运动会，部分师生参加。" in publication.last_diff
    alert = Alert.objects.get()
    assert alert.level == 3 and "部分师生" in alert.changes
    told = set(Notification.objects.filter(alert=alert).values_list("user__username", flat=True))
    assert told == {"sun", "tang"}  # the security officer and the author

    # The same changed text next time is the same alert, counted.
    with (
        use_scope(None),
        time_machine.travel(timezone.now() + timezone.timedelta(minutes=62), tick=False),
    ):
        services.publications_watch_due()
    assert Alert.objects.get().repeat_count == 1


def test_it_does_not_fetch_pages_on_hosts_the_school_did_not_register(
    people: dict[str, Any], draft: Any, live_site: LiveSite
) -> None:
    workflow.review_submit(draft=draft, user=people["staff"])
    for user in (people["admin"], people["reviewer"], people["reviewer"]):
        approve(draft, user)
    publication = services.publication_record(
        draft=fresh(draft), user=people["staff"], channel="website", url=live_site.url
    )
    assert publication.watch_status == "not_watched"
    with use_scope(None):
        services.publications_watch_due()
    publication.refresh_from_db()
    assert publication.watch_status == "not_watched" and publication.last_checked_at is not None


def test_it_closes_the_loop_on_the_case_a_response_was_drafted_in(
    people: dict[str, Any], in_school: Any
) -> None:
    from yuqing.cases.services import case_open
    from yuqing.publishing.services import draft_create

    case = case_open(title="家长反映食堂问题", level=2, by=people["handler"])
    response = draft_create(
        author=people["staff"],
        title="关于食堂问题的情况说明",
        body="<p>学校已核实并整改。</p>",
        channels=["website"],
        case_id=case.pk,
    )
    workflow.review_submit(draft=response, user=people["staff"])
    for user in (people["admin"], people["reviewer"], people["reviewer"]):
        approve(response, user)
    url = "https://www.yucai.edu.cn/news/2.html"
    services.publication_record(
        draft=fresh(response), user=people["staff"], channel="website", url=url
    )
    case.refresh_from_db()
    assert url in str(case.__dict__)
