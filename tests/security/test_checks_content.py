"""Hidden links, defacement and dead links, against pages served on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.conftest import Tripwire, Web, findings_of, make_asset, run
from yuqing.security.checks.hidden_links import analyse
from yuqing.security.models import CheckRun

pytestmark = pytest.mark.django_db

CLEAN = """<html><head><title>育才中学</title></head><body>
<div class="nav"><a href="/news/">学校新闻</a> <a href="/about/">学校概况</a></div>
<div class="main"><h1>育才中学欢迎您</h1><p>我校举行2024年秋季开学典礼。</p>
<p>全体师生参加升旗仪式。</p><p>教务处发布期中考试安排。</p></div>
<div class="links"><a href="https://www.moe.gov.cn/">教育部</a></div></body></html>"""

SPAMMED = CLEAN.replace(
    "</body>",
    '<div style="position:absolute;left:-9999px"><a href="https://www.amjs888.com/">澳门葡京娱乐城</a></div>'
    '<style>.sx{display:none}</style><p class="sx"><a href="http://cheap-bags.example/">bags</a></p>'
    "<script>document.write('<a href=\"http://bet365-cn.example/\">体育投注</a>');</script>"
    '<iframe src="http://ads.example/x" width="0" height="0"></iframe></body>',
)


def test_it_finds_links_hidden_by_css_scripts_and_frames(school: Any, web: Web) -> None:
    web.page("/", SPAMMED)
    asset = make_asset(school, web.url)
    assert run(asset, "hidden_links").status == CheckRun.Status.PROBLEMS
    found = findings_of(asset)
    assert found["css:www.amjs888.com"].severity == 4  # hidden and gambling
    assert found["css:cheap-bags.example"].severity == 3  # hidden by a class rule
    assert "script:bet365-cn.example" in found
    assert "iframe:ads.example" in found


def test_it_passes_a_clean_page(school: Any, web: Web) -> None:
    web.page("/", CLEAN)
    assert run(make_asset(school, web.url), "hidden_links").status == CheckRun.Status.PASSED


def test_it_finds_visible_spam_and_suspicious_scripts() -> None:
    html = '<a href="https://xpj123.top/">真人视讯 百家乐</a><script src="https://cdn.casino-x.xyz/a.js"></script>'
    hows = {
        f.how for f in analyse(html, "https://www.yucai.edu.cn/", frozenset({"www.yucai.edu.cn"}))
    }
    assert hows == {"spam", "script-src"}


def test_it_takes_a_baseline_then_finds_a_defaced_page(school: Any, web: Web) -> None:
    web.page("/", CLEAN)
    asset = make_asset(school, web.url)
    first = run(asset, "defacement")
    assert first.status == CheckRun.Status.PASSED
    asset.refresh_from_db()
    assert "开学典礼" in asset.baseline_text and asset.baseline_at is not None
    # A normal news update is not defacement.
    web.page("/", CLEAN.replace("教务处发布期中考试安排", "教务处发布期末考试安排"))
    assert run(asset, "defacement").status == CheckRun.Status.PASSED
    web.page("/", "<html><body><h1>Hacked by 0x1337</h1><marquee>被黑了</marquee></body></html>")
    changed = run(asset, "defacement")
    assert changed.status == CheckRun.Status.PROBLEMS
    finding = findings_of(asset)["changed"]
    assert finding.severity == 4
    assert "-我校举行2024年秋季开学典礼。" in finding.evidence["diff"]
    assert "+Hacked by 0x1337" in finding.evidence["diff"]


def test_it_finds_dead_links_and_expired_domains_without_contacting_other_sites(
    school: Any, web: Web, tripwire: Tripwire
) -> None:
    from yuqing.security import services
    from yuqing.security.checks.dead_links import DeadLinks

    web.page(
        "/",
        f"""<html><body><a href="/news/">新闻</a><a href="/gone/">旧栏目</a>
      <a href="http://localhost:{tripwire.port}/x">友情链接</a>
      <a href="http://old-partner.invalid/">合作单位</a></body></html>""",
    )
    web.page("/news/", "<html>ok</html>")
    asset = make_asset(school, web.url)
    looked_up: list[str] = []

    async def lookup(host: str) -> bool | None:
        looked_up.append(host)
        return host != "old-partner.invalid"

    import asyncio

    from yuqing.core.tenancy import school_scope
    from yuqing.security import guard

    target = guard.target_for(asset)
    outcome = asyncio.run(DeadLinks(lookup).run(target, services.check_context(asset)))
    keys = {p.key for p in outcome.problems}
    assert keys == {"dead", "expired:old-partner.invalid"}
    assert outcome.problems[0].evidence["links"][0]["url"].endswith("/gone/")
    assert sorted(looked_up) == ["localhost", "old-partner.invalid"]
    with school_scope(school):
        assert run(asset, "dead_links").status in (CheckRun.Status.PROBLEMS,)
