from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from tests.publishing.conftest import approve, fresh, own_sites, signed
from yuqing.alerts.models import Alert, Notification
from yuqing.core.tenancy import use_scope
from yuqing.publishing import services, workflow
from yuqing.publishing.models import Publication

pytestmark = pytest.mark.django_db

PAGE = """<!doctype html><html><head><title>{title}</title></head><body>
<header><nav><a href="/">首页</a> <a href="/news/">学校新闻</a></nav></header>
<article><h1>{title}</h1>{body}</article>
<footer>版权所有 育才中学</footer></body></html>"""


HOME = """<!doctype html><html><head><title>育才中学</title></head><body>
<header><nav><a href="/">首页</a> <a href="/news/">学校新闻</a></nav></header>
<ul><li><a href="/news/1.html">春季运动会圆满举行</a></li></ul>
<div class="foot"><p>版权所有 育才中学 地址：滨海市育才路1号 电话：0571-12345678</p>
<p>浙ICP备12345678号</p></div></body></html>"""

# A school CMS article page: the extractor keeps much of this template around the article.
CMS_PAGE = """<!doctype html><html><head><title>{title}</title></head><body>
<header><nav><a href="/">首页</a> <a href="/news/">学校新闻</a></nav></header>
<div class="main"><div class="crumb">当前位置：首页 &gt; 学校新闻</div>
<h1>{title}</h1><div class="info">发布时间：2026-03-12 10:00 来源：办公室 浏览次数：{views}</div>
<div class="content">{body}</div>
<div class="pn">上一篇：学校召开教职工大会<br>下一篇：{next}</div></div>
<div class="foot"><p>版权所有 育才中学 地址：滨海市育才路1号 电话：0571-12345678</p>
<p>浙ICP备12345678号</p></div></body></html>"""


class LiveSite:
    """A web server on 127.0.0.1 whose pages the test changes; unknown paths are 404."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {"/": HOME}
        self.failing: set[str] = set()  # paths answered with 503
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requests.append(self.path)
                if self.path in site.failing:
                    self.send_error(503)
                    return
                page = site.pages.get(self.path)
                if page is None:
                    self.send_error(404)
                    return
                data = page.encode()
                self.send_response(200)
                kind = "application/xml" if self.path.endswith(".xml") else "text/html"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    @property
    def url(self) -> str:
        return self.base + "/news/1.html"

    @property
    def html(self) -> str:
        return self.pages["/news/1.html"]

    @html.setter
    def html(self, value: str) -> None:
        self.pages["/news/1.html"] = value


@pytest.fixture
def live_site(settings: Any) -> Iterator[LiveSite]:
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    site = LiveSite()
    yield site
    site.server.shutdown()


def test_it_raises_an_alert_when_the_live_page_no_longer_shows_the_signed_text(
    people: dict[str, Any], draft: Any, live_site: LiveSite
) -> None:
    own_sites(draft.school_id, ["127.0.0.1"])
    draft = signed(draft, people)
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


def _signed_and_published(people: dict[str, Any], draft: Any, live_site: LiveSite) -> Any:
    own_sites(draft.school_id, ["127.0.0.1"])
    draft = signed(draft, people)
    live_site.html = CMS_PAGE.format(title=draft.title, body=draft.body, views=123, next="无")
    return services.publication_record(
        draft=draft, user=people["staff"], channel="website", url=live_site.url
    )


def _check_after(minutes: int) -> Any:
    with (
        use_scope(None),
        time_machine.travel(timezone.now() + timezone.timedelta(minutes=minutes), tick=False),
    ):
        return services.publications_watch_due()


def test_it_takes_the_sites_template_around_the_article_for_what_it_is(
    people: dict[str, Any], draft: Any, live_site: LiveSite
) -> None:
    publication = _signed_and_published(people, draft, live_site)
    assert _check_after(0).matched == 1
    # The view counter and the "next article" link change all the time: not tampering.
    live_site.html = CMS_PAGE.format(
        title=draft.title, body=fresh(draft).body, views=4567, next="高三年级召开家长会"
    )
    assert _check_after(31).matched == 1
    publication.refresh_from_db()
    assert publication.watch_status == "matches" and not Alert.objects.exists()
    assert "/" in live_site.requests  # the home page was read for the site's template


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ("appended", "+特此补充：运动会期间发生一起意外。"),
        ("prepended", "+【更正】原定日期有误。"),
        ("removed", "-本次运动会展现了同学们的风采。"),
    ],
)
def test_it_raises_an_alert_for_any_paragraph_added_or_removed(
    people: dict[str, Any], draft: Any, live_site: LiveSite, change: str, shown: str
) -> None:
    publication = _signed_and_published(people, draft, live_site)
    assert _check_after(0).matched == 1
    body = fresh(draft).body
    changed_body = {
        "appended": body + "<p>特此补充：运动会期间发生一起意外。</p>",
        "prepended": "<p>【更正】原定日期有误。</p>" + body,
        "removed": body.replace("<p>本次运动会展现了同学们的风采。</p>", ""),
    }[change]
    live_site.html = CMS_PAGE.format(title=draft.title, body=changed_body, views=124, next="无")
    assert _check_after(31).changed == 1
    publication.refresh_from_db()
    assert publication.watch_status == "changed"
    assert shown in publication.last_diff, publication.last_diff
    # The diff is about the article: the site's template is not in it.
    assert "版权所有" not in publication.last_diff and "浏览次数" not in publication.last_diff
    alert = Alert.objects.get()
    assert shown[1:] in alert.changes


def test_the_comparison_holds_every_signed_character_in_place() -> None:
    from yuqing.publishing.live import compare_with_signed

    signed = "第一段。\n第二段。"
    template = frozenset({"首页", "版权所有育才中学"})
    ok = compare_with_signed(
        "首页\n标题\n发布时间：2026-03-12\n第一段。\n第二段。\n版权所有 育才中学",
        signed=signed,
        title="标题",
        template=template,
    )
    assert ok.matches and ok.relevant == "第一段。\n第二段。"
    # The same lines are not furniture when the site's template does not have them.
    assert not compare_with_signed("首页\n第一段。\n第二段。", signed=signed).matches
    for live in (
        "第一段。\n第二段。\n第三段。",
        "第零段。\n第一段。\n第二段。",
        "第一段。\n插入。\n第二段。",
        "第一段。",
        "第一段，\n第二段。",
    ):
        assert not compare_with_signed(live, signed=signed, template=template).matches, live
    # Layout is not content: spacing, line breaks and full-width forms.
    assert compare_with_signed("第一段。 第二段。", signed=signed).matches
    # A long line that merely starts with a label is not furniture.
    long_line = "来源：" + "广告" * 60
    assert not compare_with_signed(f"第一段。\n第二段。\n{long_line}", signed=signed).matches


def test_it_gives_no_verdict_on_added_lines_while_the_home_page_cannot_be_read(
    people: dict[str, Any], draft: Any, live_site: LiveSite
) -> None:
    publication = _signed_and_published(people, draft, live_site)
    body = fresh(draft).body
    live_site.failing.add("/")
    # The menu and footer the extractor keeps cannot be told from added text: no alarm.
    assert _check_after(0).errors == 1
    publication.refresh_from_db()
    assert publication.watch_status == "error" and "home page" in publication.last_error
    assert not Alert.objects.exists()
    # A signed paragraph gone is a change whatever the template.
    live_site.html = CMS_PAGE.format(
        title=draft.title, body=body.split("</p>")[0] + "</p>", views=1, next="无"
    )
    assert _check_after(31).changed == 1
    assert Alert.objects.count() == 1
