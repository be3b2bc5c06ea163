"""Feeds: our own fixtures, feeds served badly over HTTP, and the public feed test suites."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from tests.monitor.collect.servers import connect_tripwire, serve
from yuqing.lib.http import HttpClient, HttpResult
from yuqing.monitor.collect.feeds import parse_feed
from yuqing.monitor.collect.types import SHANGHAI, html_to_text, parse_datetime, sanitize_html

NOW = datetime(2024, 3, 8, 12, 0, tzinfo=UTC)


def test_it_reads_items_with_sanitised_html_and_plain_text(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    result = parse_feed(
        fixture_bytes("school_rss.xml"), url="http://news.example.cn/edu/rss.xml", now=NOW
    )
    assert result.errors == []
    assert result.title == "滨江日报 · 教育"
    assert result.ttl == 15 * 60
    first = result.items[0]
    assert len(result.items) == 3
    assert first.title == "育才中学举行春季运动会"
    assert first.text == "3月5日，育才中学举行春季运动会。\n\n全校师生参加。\n点我"
    assert first.html is not None
    for hostile in ("<script", "onclick", "javascript:", "<img", "tracker.example"):
        assert hostile not in first.html
    assert first.author == "记者 王小明"
    assert first.guid == "news-1001"
    assert first.canonical_url == "http://news.example.cn/edu/2024/0305/1001.html"


def test_it_reads_naive_dates_as_beijing_time(fixture_bytes: Callable[[str], bytes]) -> None:
    first, second, _ = parse_feed(
        fixture_bytes("school_rss.xml"), url="http://news.example.cn/edu/rss.xml", now=NOW
    ).items
    assert first.published_at == datetime(2024, 3, 5, 10, 30, tzinfo=SHANGHAI)
    assert second.published_at == datetime(2024, 3, 6, 1, 0, tzinfo=UTC)


def test_it_resolves_relative_links_and_drops_script_links(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    _, second, third = parse_feed(
        fixture_bytes("school_rss.xml"), url="http://news.example.cn/edu/rss.xml", now=NOW
    ).items
    assert second.url == "http://news.example.cn/edu/2024/0306/1002.html"
    assert third.url == "" and third.text == "只有文字。" and third.guid.startswith("sha256:")


def test_it_keeps_what_it_can_read_from_a_broken_feed(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    result = parse_feed(fixture_bytes("broken_rss.xml"), url="http://bbs.example.cn/rss")
    assert result.errors and "ill-formed" in result.errors[0]
    assert [i.url for i in result.items][:1] == ["http://bbs.example.cn/t/1"]
    assert result.items[0].title.startswith("第一条")


def test_it_reports_a_page_that_is_not_a_feed() -> None:
    result = parse_feed(b"<html><body><h1>Not found</h1></body></html>", url="http://x.example.cn/")
    assert result.items == [] and result.errors


def test_it_never_treats_the_body_as_a_file_name() -> None:
    # feedparser opens strings that look like paths or URLs; the body must never be one.
    result = parse_feed(b"/etc/passwd", url="http://x.example.cn/")
    assert result.items == [] and "root:" not in str(result.errors)


def test_it_reads_json_feed(fixture_bytes: Callable[[str], bytes]) -> None:
    result = parse_feed(
        fixture_bytes("feed.json"),
        url="http://school.example.cn/feed.json",
        headers={"Content-Type": "application/feed+json"},
        now=NOW,
    )
    assert result.title == "校园 JSON Feed"
    first, second = result.items
    assert (
        first.text == "新学期开学了"
        and first.author == "校办"
        and "<script" not in (first.html or "")
    )
    assert first.published_at == datetime(2024, 2, 26, 0, 0, tzinfo=UTC)
    assert second.url == "" and second.published_at == datetime(2024, 2, 27, 7, 0, tzinfo=SHANGHAI)
    assert result.errors == ["item 2: not an object"]


def test_it_reads_a_gbk_feed_served_with_a_wrong_or_missing_charset() -> None:
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>论坛</title>'
        "<item><title>育才中学食堂问题</title><link>http://bbs.example.cn/t/9</link>"
        "<description>家长反映饭菜偏咸，希望学校改进。</description></item></channel></rss>"
    ).encode("gbk")
    with serve() as server:

        @server.route("/liar.xml")
        async def liar(request: web.Request) -> web.Response:
            return web.Response(
                body=feed, headers={"Content-Type": "application/rss+xml; charset=utf-8"}
            )

        @server.route("/silent.xml")
        async def silent(request: web.Request) -> web.Response:
            return web.Response(body=feed, headers={"Content-Type": "application/xml"})

        async def fetch_all() -> list[HttpResult]:
            async with HttpClient(allow_hosts={"127.0.0.1"}) as client:
                return [await client.get(server.url(p)) for p in ("/liar.xml", "/silent.xml")]

        with connect_tripwire():
            results = asyncio.run(fetch_all())
    for fetched in results:
        parsed = parse_feed(fetched.body, url=fetched.final_url, headers=fetched.headers)
        assert parsed.items[0].title == "育才中学食堂问题"
        assert parsed.items[0].text == "家长反映饭菜偏咸，希望学校改进。"


def test_it_reads_declared_encodings_from_the_feedparser_suite(shared_data: Path) -> None:
    folder = shared_data / "feedparser_testsuite_feeds" / "encoding"
    checked = 0
    for path in sorted(folder.glob("*.xml")):
        raw = path.read_bytes()
        header = re.search(rb"Header:\s*Content-type:\s*([^\r\n]+)", raw, re.I)
        expect = re.search(rb"Expect:\s*([^\r\n]+)", raw)
        headers = {"content-type": header.group(1).decode().strip()} if header else {}
        result = parse_feed(raw, url="http://example.com/feed", headers=headers)
        if expect and b"encoding == 'gb18030'" in expect.group(1):
            assert result.extras["encoding"].lower() == "gb18030", path.name
            checked += 1
    assert checked >= 3


def test_it_survives_every_illformed_and_encoding_case(shared_data: Path) -> None:
    suite = shared_data / "feedparser_testsuite_feeds"
    paths = sorted((suite / "illformed").rglob("*.xml")) + sorted(
        (suite / "encoding").glob("*.xml")
    )
    paths += sorted((shared_data / "node_feedparser_feeds").glob("*.*"))
    assert len(paths) > 100
    for path in paths:
        result = parse_feed(path.read_bytes(), url="http://example.com/feed")
        for item in result.items:
            assert "<script" not in (item.html or "")


@pytest.mark.parametrize("folder,sample", [("GB2312", "的"), ("Big5", "的")])
def test_it_reads_real_legacy_chinese_feeds(shared_data: Path, folder: str, sample: str) -> None:
    feeds = [
        p
        for p in sorted((shared_data / "chardet_cjk_feeds" / folder).glob("*.xml"))
        if not p.name.startswith("_")
    ]
    assert feeds
    readable = 0
    for path in feeds:
        result = parse_feed(path.read_bytes(), url="http://example.com/feed")
        text = " ".join(i.title + i.text for i in result.items)
        readable += bool(result.items) and sample in text and "\ufffd" not in text
    assert readable / len(feeds) >= 0.9, f"{readable}/{len(feeds)}"


def test_it_reads_undeclared_legacy_encodings(shared_data: Path) -> None:
    folder = shared_data / "feedparser_testsuite_feeds" / "illformed" / "chardet"
    gb = parse_feed((folder / "gb2312.xml").read_bytes(), url="http://example.com/feed")
    assert gb.items and re.search(r"[\u4e00-\u9fff]{4}", gb.items[0].title)


def test_it_reads_modern_chinese_feeds(shared_data: Path) -> None:
    for path in sorted((shared_data / "rodel_reader_zh_feeds").rglob("*.xml")):
        result = parse_feed(path.read_bytes(), url="https://example.com/feed")
        assert result.items, path.name
        assert all(i.published_at and i.published_at.tzinfo for i in result.items)
        assert all(i.url.startswith("http") for i in result.items)


def test_dates_from_chinese_sources() -> None:
    now = datetime(2024, 3, 8, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
    assert parse_datetime("2024年3月5日 08:30", now=now) == datetime(
        2024, 3, 5, 8, 30, tzinfo=SHANGHAI
    )
    assert parse_datetime("2024/3/5", now=now) == datetime(2024, 3, 5, tzinfo=SHANGHAI)
    assert parse_datetime("5分钟前", now=now) == datetime(2024, 3, 8, 11, 55, tzinfo=SHANGHAI)
    assert parse_datetime("昨天 10:00", now=now) == datetime(2024, 3, 7, 10, 0, tzinfo=SHANGHAI)
    assert parse_datetime("3月5日 10:30", now=now) == datetime(2024, 3, 5, 10, 30, tzinfo=SHANGHAI)
    assert parse_datetime(1709600000, now=now) == datetime(2024, 3, 5, 0, 53, 20, tzinfo=UTC)
    assert parse_datetime(1709600000000, now=now) == datetime(2024, 3, 5, 0, 53, 20, tzinfo=UTC)
    assert parse_datetime("2099-01-01", now=now) is None  # in the future: not believable
    assert parse_datetime("不是日期", now=now) is None


def test_sanitising_keeps_links_and_drops_everything_active() -> None:
    html = '<p style="x">hi <a href="http://a.cn/" onclick="x">link</a><iframe src="http://evil/"></iframe><a href="javascript:x">j</a></p>'
    clean = sanitize_html(html)
    assert 'href="http://a.cn/"' in clean and "nofollow" in clean
    assert (
        "onclick" not in clean
        and "iframe" not in clean
        and "javascript" not in clean
        and "style" not in clean
    )
    assert html_to_text("<div>a<br>b</div><p>c&nbsp;d</p>") == "a\nb\n\nc d"
