"""The site watch finds where signed drafts went live, on a real web server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from tests.publishing.conftest import fresh, own_sites, signed
from tests.publishing.test_watch import CMS_PAGE, LiveSite
from yuqing.alerts.models import Notification
from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import use_scope
from yuqing.monitor.models import Source
from yuqing.publishing import services, sitewatch, workflow
from yuqing.publishing.models import Draft, Publication, SitePage
from yuqing.text.similarity import char_shingles, jaccard

pytestmark = pytest.mark.django_db

MEETING = (
    "<p>11月20日下午，高三年级在报告厅召开家长会，全体高三学生家长参加。</p>"
    "<p>年级主任介绍了本学期的教学安排和复习计划，并就志愿填报答疑。</p>"
)
# The same text as the site editor laid it out: half-width punctuation, the two paragraphs
# joined by a line break, one "的" lost, and "（完）" added at the end.
MEETING_ON_SITE = (
    "<p>11月20日下午, 高三年级在报告厅召开家长会，全体高三学生家长参加.<br>"
    "年级主任介绍了本学期教学安排和复习计划，并就志愿填报答疑。</p><p>（完）</p>"
)
# Another article of the same school: same kind of event, same phrases, different story.
AUTUMN = (
    "<p>我校于10月18日举行秋季田径运动会，全校师生参加。</p>"
    "<p>运动会上同学们奋勇拼搏，展现了良好的精神风貌。</p>"
)
LIBRARY = "<p>我校图书馆本学期新增图书两千册，涵盖文学、科普和历史，欢迎师生借阅。</p>"


def sitemap(base: str, paths: list[str], foreign: str) -> str:
    urls = "".join(
        f"<url><loc>{base}{p}</loc><lastmod>2026-11-{20 + i:02d}</lastmod></url>"
        for i, p in enumerate(paths)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{urls}<url><loc>{foreign}</loc></url></urlset>"
    )


def rss(base: str, path: str, title: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>育才中学</title>'
        f"<link>{base}/</link><item><title>{title}</title><link>{base}{path}</link>"
        "<pubDate>Tue, 24 Nov 2026 08:00:00 +0800</pubDate></item></channel></rss>"
    )


@pytest.fixture
def site(settings: Any) -> Iterator[LiveSite]:
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1", "localhost"]
    live = LiveSite()
    yield live
    live.server.shutdown()


def test_it_finds_where_signed_drafts_went_live_on_the_schools_own_site(
    people: dict[str, Any], draft: Any, site: LiveSite
) -> None:
    from yuqing.publishing.services import draft_create

    school_id = draft.school_id
    sports = signed(draft, people)
    meeting = signed(
        draft_create(
            author=people["staff"], title="高三年级召开家长会", body=MEETING, channels=["website"]
        ),
        people,
    )
    # In review, not signed: never located, even though its text is on the site.
    unsigned = draft_create(
        author=people["staff"], title="秋季田径运动会", body=AUTUMN, channels=["website"]
    )
    workflow.review_submit(draft=unsigned, user=people["staff"])
    library = draft_create(
        author=people["staff"], title="图书馆新增图书", body=LIBRARY, channels=["website"]
    )

    site.pages["/news/1.html"] = CMS_PAGE.format(
        title=sports.title, body=sports.body, views=12, next="无"
    )
    site.pages["/news/2.html"] = CMS_PAGE.format(
        title=meeting.title, body=MEETING_ON_SITE, views=3, next="无"
    )
    site.pages["/news/3.html"] = CMS_PAGE.format(
        title="秋季田径运动会", body=AUTUMN, views=5, next="无"
    )
    site.pages["/news/4.html"] = CMS_PAGE.format(
        title=library.title, body=LIBRARY, views=1, next="无"
    )
    port = site.server.server_port
    foreign = f"http://localhost:{port}/news/9.html"  # same server, but not a registered host
    site.pages["/news/9.html"] = CMS_PAGE.format(
        title=sports.title, body=sports.body, views=1, next=""
    )
    site.pages["/sitemap.xml"] = sitemap(
        site.base, ["/news/1.html", "/news/2.html", "/news/3.html"], foreign
    )
    site.pages["/rss.xml"] = rss(site.base, "/news/4.html", library.title)

    # The school's own site: a sitemap in the check settings, a feed as the monitor's source.
    own_sites(school_id, ["127.0.0.1"], [site.base + "/sitemap.xml"])
    Source.objects.create(
        school_id=school_id,
        name="学校官网新闻",
        kind="feed",
        url=site.base + "/rss.xml",
        is_own=True,
    )

    site.failing.add("/news/3.html")  # down for a moment: tried again next round
    with use_scope(None):
        report = sitewatch.site_watch_all()
    assert report.listings == 2 and report.pages_read == 4, report
    assert report.refused == [foreign]
    assert "/news/9.html" not in site.requests  # never fetched

    found = {p.draft_id: p for p in Publication.objects.all()}
    assert set(found) == {sports.pk, meeting.pk}
    exact, formatted = found[sports.pk], found[meeting.pk]
    assert exact.url == site.base + "/news/1.html"
    assert (exact.found_by, exact.similarity, exact.recorded_by) == ("watch", 1.0, None)
    assert exact.found_on == site.base + "/sitemap.xml"
    assert exact.published_at.date().isoformat() == "2026-03-12"  # the page's 发布时间
    assert formatted.url == site.base + "/news/2.html"
    assert sitewatch.MATCH_THRESHOLD <= formatted.similarity < 1.0
    assert fresh(sports).status == fresh(meeting).status == Draft.Status.PUBLISHED
    assert fresh(unsigned).status == Draft.Status.IN_REVIEW
    assert SitePage.objects.get(url=site.base + "/news/3.html").status == "error"

    told = dict(Notification.objects.filter(user=people["staff"]).values_list("title", "body"))
    assert set(told) == {
        f"Found where “{sports.title}” went live",
        f"Found where “{meeting.title}” went live",
    }
    assert "not show exactly" not in told[f"Found where “{sports.title}” went live"]
    assert "not show exactly" in told[f"Found where “{meeting.title}” went live"]
    audited = AuditEntry.objects.filter(
        action="publishing.draft.published", object_id=str(sports.pk)
    )
    assert audited.get().changes["found_by"] == "watch"

    # The library notice is signed after its page appeared: the next round finds it.
    library = signed(library, people)
    site.failing.clear()
    before = len(site.requests)
    with use_scope(None):
        report = sitewatch.site_watch_all()
    # Only the page that failed is fetched again (besides the listings and the home page).
    assert report.pages_read == 1
    assert [p for p in site.requests[before:] if p.startswith("/news/")] == ["/news/3.html"]
    other = SitePage.objects.get(url=site.base + "/news/3.html")
    assert other.status == "unmatched" and other.draft is None and "秋季" in other.text
    assert [(d, u) for d, u, _s in report.found] == [(library.pk, site.base + "/news/4.html")]
    located = Publication.objects.get(draft=library)
    assert located.found_on == site.base + "/rss.xml" and located.similarity == 1.0

    # The tamper watch takes over: the found page matches what was signed.
    assert services.publication_check(publication_id=exact.pk) == "matches"


def test_the_match_threshold_separates_a_reformatted_copy_from_another_article() -> None:
    from yuqing.monitor.collect.types import html_to_text

    signed = html_to_text(MEETING)
    on_site = html_to_text(MEETING_ON_SITE)
    other = html_to_text(AUTUMN)
    sports = "我校于3月12日举行春季运动会，全校师生参加。\n本次运动会展现了同学们的风采。"

    def score(page: str, text: str) -> float:
        return sitewatch.match_score(
            page_text=page, page_hash="", signed_text=text, title="", template=frozenset()
        )

    assert score(on_site, signed) == pytest.approx(0.9)
    assert score(other, sports) < 0.2  # same school, same kind of event, another story
    assert score("首页\n" + sports, sports) < 1.0  # no template known: "首页" is text
    assert score(sports + "\n浏览次数：3", sports) == 1.0  # page furniture
    assert jaccard(char_shingles(""), char_shingles("")) == 0.0
    assert sitewatch.MATCH_THRESHOLD == 0.8


def test_it_only_takes_listings_on_the_schools_own_hosts(
    people: dict[str, Any], draft: Any
) -> None:
    with pytest.raises(ValidationError, match="not on one of the school's own sites"):
        own_sites(draft.school_id, ["www.yucai.edu.cn"], ["https://evil.example.com/sitemap.xml"])
    with pytest.raises(ValidationError, match="http or https"):
        own_sites(draft.school_id, ["www.yucai.edu.cn"], ["file:///etc/passwd"])
    row = own_sites(
        draft.school_id, ["www.yucai.edu.cn"], ["https://www.yucai.edu.cn/news/  ul.list a"]
    )
    assert row.watch_listings == ["https://www.yucai.edu.cn/news/ ul.list a"]
    assert sitewatch.listings_for(draft.school_id) == [
        sitewatch.ListingSpec("https://www.yucai.edu.cn/news/", "ul.list a")
    ]
    # A website in the security register is one of the school's own sites too.
    from yuqing.security.models import Asset

    Asset.objects.create(kind="website", name="新闻网", url="https://news.yucai.edu.cn/")
    row = own_sites(
        draft.school_id, ["www.yucai.edu.cn"], ["https://news.yucai.edu.cn/sitemap.xml"]
    )
    assert services.school_hosts(draft.school_id) == {"www.yucai.edu.cn", "news.yucai.edu.cn"}
    assert sitewatch.listings_for(draft.school_id) == [
        sitewatch.ListingSpec("https://news.yucai.edu.cn/sitemap.xml", "")
    ]
