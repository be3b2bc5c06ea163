"""Web pages: link discovery, article extraction, robots.txt, and a list page over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from tests.monitor.collect.servers import LocalServer, connect_tripwire, serve
from yuqing.lib.http import HttpClient, decode_body
from yuqing.monitor.collect.fetcher import PoliteFetcher
from yuqing.monitor.collect.pages import (
    RobotsCache,
    article_score,
    collect_list_page,
    discover_links,
    extract_article,
    site_of,
)
from yuqing.monitor.collect.types import SHANGHAI, ParseResult

BASE = "http://news.example.cn/edu/index.html"


def test_it_discovers_article_links_on_a_list_page(fixture_bytes: Callable[[str], bytes]) -> None:
    links = discover_links(fixture_bytes("list_page.html").decode(), BASE)
    assert links == [
        "http://news.example.cn/edu/2024/0305/1001.html",
        "http://news.example.cn/edu/2024/0306/1002.html",
        "http://news.example.cn/edu/article/show.php?id=20240307",
    ]


def test_it_takes_links_from_a_css_selector(fixture_bytes: Callable[[str], bytes]) -> None:
    html = fixture_bytes("list_page.html").decode()
    assert discover_links(html, BASE, selector="div.nav") == [
        "http://news.example.cn/",
        "http://news.example.cn/edu/list_2.html",
        "http://news.example.cn/about.html",
    ]  # as given, same site only
    assert discover_links(html, BASE, selector="xpath://ul[@class='news']/li[1]/a") == [
        "http://news.example.cn/edu/2024/0305/1001.html"
    ]


def test_article_scores_and_sites() -> None:
    assert article_score("http://a.cn/2024/03/05/12345.html", "育才中学举行运动会") >= 2
    assert article_score("http://a.cn/list_2.html", "下一页") < 2
    assert article_score("http://a.cn/about.html", "关于") < 2
    assert site_of("news.school.edu.cn") == "school.edu.cn"
    assert site_of("www.example.com") == "example.com"


def test_it_extracts_text_title_author_and_date(fixture_bytes: Callable[[str], bytes]) -> None:
    html = decode_body(fixture_bytes("article_gbk.html"), "text/html").text
    item = extract_article(html, "http://news.example.cn/edu/2024/0305/1001.html")
    assert item is not None
    assert item.title == "育才中学举行春季运动会"
    assert item.text.startswith("3月5日上午，育才中学2024年春季运动会")
    assert "不要出现在正文" not in item.text and "版权所有" not in item.text
    assert item.author == "王小明"
    assert item.published_at == datetime(2024, 3, 5, 10, 30, tzinfo=SHANGHAI)
    assert item.html and "<script" not in item.html


def test_it_returns_none_for_a_page_without_text() -> None:
    assert (
        extract_article(
            "<html><body><nav><a href='/'>首页</a></nav></body></html>", "http://a.cn/x"
        )
        is None
    )


def _site(server: LocalServer, fixture_bytes: Callable[[str], bytes], robots: str | None) -> None:
    article = fixture_bytes("article_gbk.html")
    listing = fixture_bytes("list_page.html").decode()

    @server.route("/edu/index.html")
    async def index(request: web.Request) -> web.Response:
        return web.Response(text=listing, content_type="text/html", headers={"ETag": '"list-1"'})

    @server.route("/edu/2024/*")
    async def page(request: web.Request) -> web.Response:
        return web.Response(
            body=article, headers={"Content-Type": "text/html"}
        )  # no charset: meta says gbk

    @server.route("/robots.txt")
    async def robots_txt(request: web.Request) -> web.Response:
        if robots is None:
            return web.Response(status=404)
        return web.Response(text=robots)


def _collect(server: LocalServer, **kwargs: object) -> ParseResult:
    async def go() -> ParseResult:
        async with HttpClient(allow_hosts={"127.0.0.1"}) as client:
            fetcher = PoliteFetcher(client, spacing=0.05)
            return await collect_list_page(fetcher, server.url("/edu/index.html"), **kwargs)  # type: ignore[arg-type]

    with connect_tripwire():
        return asyncio.run(go())


def test_it_collects_new_articles_from_a_list_page(fixture_bytes: Callable[[str], bytes]) -> None:
    with serve() as server:
        _site(server, fixture_bytes, robots=None)
        known = {f"{server.base}/edu/2024/0306/1002.html"}
        result = _collect(server, is_known=lambda url: url in known)
    assert [i.url for i in result.items] == [f"{server.base}/edu/2024/0305/1001.html"]
    assert result.items[0].title == "育才中学举行春季运动会"
    assert result.extras["links_found"] == 3 and result.extras["links_known"] == 1
    assert result.extras["etag"] == '"list-1"'
    assert any("/edu/article/show.php" in e and "http_status" in e for e in result.errors)


def test_it_respects_robots_txt_unless_the_site_is_the_schools_own(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    with serve() as server:
        _site(server, fixture_bytes, robots="User-agent: *\nDisallow: /edu/2024/0305/\n")
        result = _collect(server)
        assert "/edu/2024/0305/1001.html" not in str([i.url for i in result.items])
        assert any("robots.txt disallows" in e for e in result.errors)
        fetched = server.paths()
        assert "/edu/2024/0305/1001.html" not in fetched
        own = _collect(server, own_site=True)
        assert any(i.url.endswith("/edu/2024/0305/1001.html") for i in own.items)


def test_it_skips_an_unchanged_list_page(fixture_bytes: Callable[[str], bytes]) -> None:
    with serve() as server:
        _site(server, fixture_bytes, robots=None)

        @server.route("/edu/index.html")
        async def unchanged(request: web.Request) -> web.Response:
            return web.Response(status=304)

        result = _collect(server, etag='"list-1"')
    assert result.extras["not_modified"] and result.items == []


def test_robots_cache_rules() -> None:
    with serve() as server:
        calls = {"n": 0}

        @server.route("/robots.txt")
        async def robots_txt(request: web.Request) -> web.Response:
            calls["n"] += 1
            return web.Response(status=503)

        async def go() -> tuple[bool, bool]:
            async with HttpClient(allow_hosts={"127.0.0.1"}) as client:
                cache = RobotsCache(client)
                return await cache.allowed(server.url("/a")), await cache.allowed(server.url("/b"))

        with connect_tripwire():
            first, second = asyncio.run(go())
    # An unreachable robots.txt means "do not crawl" for now (RFC 9309), fetched once per host.
    assert (first, second) == (False, False) and calls["n"] == 1
