"""Web pages: a list page gives article links, each article page gives text and metadata.

Links come from a CSS selector the administrator gives, or from automatic discovery
(same-site links whose URL and anchor text look like articles). Article pages go through
trafilatura for the main text, title, author and date, with fallbacks for the "来源：/作者：/
发布时间：" lines that Chinese news and school sites print above the text. robots.txt is
respected for every site except the school's own.
"""

from __future__ import annotations

import re
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

from yuqing.lib.http import HttpClient, decode_body
from yuqing.lib.urls import canonical_url, is_http_url

from .fetcher import FetchRequest, PoliteFetcher
from .types import SHANGHAI, Item, ParseResult, html_to_text, parse_datetime, sanitize_html

MAX_LINKS = 200

# --------------------------------------------------------------------------- link discovery

_SECOND_LEVEL = frozenset({"com", "net", "org", "gov", "edu", "ac", "co", "mil"})
_NOT_PAGES = re.compile(
    r"\.(?:jpe?g|png|gif|webp|svg|ico|css|js|zip|rar|7z|gz|exe|apk|mp3|mp4|avi|flv|pdf|docx?|xlsx?|pptx?)$",
    re.I,
)
_DATE_IN_PATH = re.compile(
    r"(?:19|20)\d{2}(?:[-/_]?(?:0[1-9]|1[0-2]))(?:[-/_]?(?:0[1-9]|[12]\d|3[01]))?"
)
_ID_PAGE = re.compile(r"(?:^|[/_-])[a-z]?\d{4,}(?:_\d+)?\.(?:s?html?|jsp|php|aspx?)$", re.I)
_ARTICLE_WORDS = re.compile(
    r"/(?:article|articles|detail|details|content|contents|news|info|show|view|post|posts|a|p|doc|story|art)/",
    re.I,
)
_ID_QUERY = re.compile(
    r"(?:^|&)(?:id|aid|article_?id|newsid|infoid|contentid|tid|docid)=\w{3,}", re.I
)
_LISTY = re.compile(
    r"(?:/|^)(?:index|list|default)(?:_\d+)?\.(?:s?html?|jsp|php|aspx?)$|/(?:list|tag|tags|category|search|login|register)(?:/|$)|[?&]page=",
    re.I,
)


def site_of(host: str) -> str:
    """An approximation of the registrable domain: news.school.edu.cn → school.edu.cn."""
    labels = host.lower().rstrip(".").split(".")
    if labels and labels[0] == "www":
        labels = labels[1:]
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def article_score(url: str, anchor_text: str) -> int:
    """How much ``url`` with link text ``anchor_text`` looks like an article (≥ 2: yes)."""
    parts = urlsplit(url)
    path = parts.path
    if _NOT_PAGES.search(path) or _LISTY.search(path + ("?" + parts.query if parts.query else "")):
        return -5
    score = 0
    if _DATE_IN_PATH.search(path):
        score += 2
    if _ID_PAGE.search(path):
        score += 2
    if _ARTICLE_WORDS.search(path):
        score += 1
    if _ID_QUERY.search(parts.query):
        score += 1
    text = anchor_text.strip()
    if len(text) >= 8:
        score += 1
    elif len(text) < 4:
        score -= 2
    return score


def _parse_html(html: str) -> Any:
    from lxml import html as lxml_html  # heavy import, only for page collection

    # lxml refuses str input that carries an XML encoding declaration.
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    return lxml_html.document_fromstring(html or "<html></html>")


def discover_links(
    html: str,
    base_url: str,
    *,
    selector: str | None = None,
    same_site: bool = True,
    limit: int = MAX_LINKS,
) -> list[str]:
    """Article URLs found on a list page, in page order, without duplicates.

    With ``selector`` (CSS, or XPath prefixed with ``xpath:``) every link inside the selected
    elements is taken as given; without it, links are scored by ``article_score``.
    """
    root = _parse_html(html)
    base_href = root.xpath("//base/@href")
    base = urljoin(base_url, base_href[0].strip()) if base_href else base_url
    if selector:
        if selector.startswith("xpath:"):
            selected = root.xpath(selector[len("xpath:") :])
        else:
            selected = root.cssselect(selector)
        anchors: list[Any] = []
        for element in selected:
            if not hasattr(element, "tag"):
                continue
            anchors += [element] if element.tag == "a" else element.xpath(".//a[@href]")
    else:
        anchors = root.xpath("//a[@href]")
    home_site = site_of(urlsplit(base_url).hostname or "")
    list_canonical = canonical_url(base_url)
    found: list[str] = []
    seen: set[str] = set()
    for anchor in anchors:
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        url = urljoin(base, href)
        if not is_http_url(url):
            continue
        if same_site and site_of(urlsplit(url).hostname or "") != home_site:
            continue
        key = canonical_url(url)
        if key in seen or key == list_canonical:
            continue
        if not selector:
            text = anchor.text_content() or anchor.get("title") or ""
            if article_score(url, text) < 2:
                continue
        seen.add(key)
        found.append(url.split("#", 1)[0])
        if len(found) >= limit:
            break
    return found


# --------------------------------------------------------------------------- article extraction

_LABEL = r"[\s　]*[:：][\s　]*"
_AUTHOR_LINE = re.compile(
    r"(?:作者|文|撰稿|撰文|记者|通讯员|编辑|责任编辑|责编|发布者|发布人)"
    + _LABEL
    + r"([^\s　|｜/,，;；]{1,40}(?:[ 　、][^\s　|｜/,，;；:：]{1,20}){0,3})"
)
_REPORTER = re.compile(
    r"(?:记者|通讯员|文/|文｜|文 / )[\s　]*([\u4e00-\u9fff]{2,4}(?:[ 　、][\u4e00-\u9fff]{2,4}){0,3})"
)
_DATE_LINE = re.compile(
    r"(?:发布时间|发布日期|时间|日期|发表于|更新时间)"
    + _LABEL
    + r"([0-9][0-9年月日/\-.:： ]{7,24})"
)
_ANY_DATE = re.compile(
    r"(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?"
)
_AUTHOR_STOP = re.compile(r"(?:来源|发布|时间|日期|浏览|阅读|点击|字号|编辑|责任编辑)$")


def _trafilatura_config() -> Any:
    from trafilatura.settings import use_config

    config = use_config()
    # Chinese is dense: 100 characters is a real paragraph, where trafilatura's defaults
    # (250) are tuned for European languages and discard short notices.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "100")
    config.set("DEFAULT", "MIN_OUTPUT_SIZE", "10")
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # signal-based; unusable in worker threads
    return config


_CONFIG: Any = None


def extract_article(
    html: str,
    url: str,
    *,
    default_tz: tzinfo = SHANGHAI,
    now: datetime | None = None,
    favor: str | None = None,
) -> Item | None:
    """Main text, title, author and date of an article page; None when no text was found."""
    import trafilatura  # heavy import (htmldate, justext, courlan), only for page sources

    global _CONFIG
    if _CONFIG is None:
        _CONFIG = _trafilatura_config()
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_formatting=False,
        favor_precision=favor == "precision",
        favor_recall=favor == "recall",
        date_extraction_params={
            "extensive_search": True,
            "original_date": True,
            "outputformat": "%Y-%m-%d %H:%M:%S",
        },
        config=_CONFIG,
    )
    if doc is None or isinstance(doc, dict):
        return None
    text = (doc.text or "").strip()
    if not text:
        return None
    title = (doc.title or "").strip() or _title_fallback(html)
    byline = _byline_window(html_to_text(html[:1_000_000]), title, text)
    author = _author_fallback(byline) or _clean_author(doc.author or "")
    published = (
        _date_line(byline, default_tz, now)
        or parse_datetime(doc.date, default_tz=default_tz, now=now)
        or _any_date(byline, default_tz, now)
    )
    body_html = None
    if doc.body is not None:
        from lxml import etree

        body_html = sanitize_html(etree.tostring(doc.body, encoding="unicode", method="html"))
    return Item(
        url=url,
        title=title,
        text=text,
        html=body_html or None,
        author=author,
        published_at=published,
        guid=canonical_url(url),
        extras={
            k: v for k, v in (("sitename", doc.sitename), ("description", doc.description)) if v
        },
    )


_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_TITLE_SUFFIX = re.compile(r"\s*(?:[-_|｜—]+|--)\s*[^-_|｜—]{1,30}$")


def _title_fallback(html: str) -> str:
    match = _TITLE_TAG.search(html[:100_000])
    if not match:
        return ""
    title = html_to_text(match.group(1))
    # "标题_栏目_网站名" → "标题": drop up to two site/section suffixes.
    for _ in range(2):
        shorter = _TITLE_SUFFIX.sub("", title)
        if len(shorter) < 4:
            break
        title = shorter
    return title[:300]


def _byline_window(page_text: str, title: str, text: str) -> str:
    """The part of the page between the headline and the start of the body, where bylines
    and dates are printed (navigation above it is full of other dates and names)."""
    start = page_text.find(title[:20]) if len(title) >= 4 else -1
    body = page_text.find(text[:30], max(start, 0)) if len(text) >= 30 else -1
    if start < 0 and body < 0:
        return page_text[:4000]
    if start < 0:
        start = max(0, body - 600)
    end = body + 200 if body > start else start + 1500
    window = page_text[start : min(end, start + 3000)]
    # Editors are often credited after the text ("编辑：某某").
    tail_at = body + len(text) - 400 if body >= 0 else -1
    tail = page_text[tail_at : tail_at + 800] if tail_at > 0 else ""
    return window + "\n" + tail


def _author_fallback(text: str) -> str:
    for pattern in (_AUTHOR_LINE, _REPORTER):
        match = pattern.search(text)
        if match:
            author = _AUTHOR_STOP.sub("", match.group(1).strip()).strip()
            if author and not _ANY_DATE.match(author):
                return author
    return ""


def _clean_author(raw: str) -> str:
    # Metadata authors can be lists ("赵 培; 中文学术期刊") or whole sentences: keep a name.
    author = raw.split(";")[0].strip()
    if not author or len(author) > 30 or re.search(r"[。，！？“”]", author):
        return ""
    return author


def _date_line(text: str, tz: tzinfo, now: datetime | None) -> datetime | None:
    # An explicit "发布时间：" line beats metadata, which is often the page's build time.
    match = _DATE_LINE.search(text)
    return parse_datetime(match.group(1), default_tz=tz, now=now) if match else None


def _any_date(text: str, tz: tzinfo, now: datetime | None) -> datetime | None:
    match = _ANY_DATE.search(text)
    if match:
        return parse_datetime(match.group(0), default_tz=tz, now=now)
    return None


# --------------------------------------------------------------------------- robots.txt


@dataclass
class _Robots:
    parser: urllib.robotparser.RobotFileParser | None  # None: allow everything
    disallow_all: bool
    expires: float


@dataclass
class RobotsCache:
    """robots.txt per scheme+host, fetched through the shared client (RFC 9309 rules).

    A missing robots.txt (4xx) allows everything; an unreachable one (5xx, network error)
    disallows everything for a short while, as the RFC asks.
    """

    client: HttpClient
    user_agent: str = "YuqingBot"
    ttl: float = 24 * 3600
    error_ttl: float = 600
    _cache: dict[str, _Robots] = field(default_factory=dict)

    async def _load(self, origin: str) -> _Robots:
        result = await self.client.get(origin + "/robots.txt", max_bytes=512 * 1024)
        now = time.monotonic()
        if result.status is not None and 400 <= result.status < 500:
            return _Robots(None, False, now + self.ttl)
        if not result.ok or result.status is None or result.status >= 500:
            return _Robots(None, True, now + self.error_ttl)
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(decode_body(result.body, result.content_type).text.splitlines())
        return _Robots(parser, False, now + self.ttl)

    async def _get(self, url: str) -> _Robots:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        entry = self._cache.get(origin)
        if entry is None or entry.expires < time.monotonic():
            entry = await self._load(origin)
            self._cache[origin] = entry
        return entry

    async def allowed(self, url: str) -> bool:
        entry = await self._get(url)
        if entry.disallow_all:
            return False
        return entry.parser is None or entry.parser.can_fetch(self.user_agent, url)

    async def crawl_delay(self, url: str) -> float | None:
        entry = await self._get(url)
        if entry.parser is None:
            return None
        delay = entry.parser.crawl_delay(self.user_agent)
        return float(delay) if delay is not None else None


# --------------------------------------------------------------------------- orchestration


async def collect_list_page(
    fetcher: PoliteFetcher,
    list_url: str,
    *,
    selector: str | None = None,
    own_site: bool = False,
    robots: RobotsCache | None = None,
    max_articles: int = 20,
    is_known: Callable[[str], bool] | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    default_tz: tzinfo = SHANGHAI,
) -> ParseResult:
    """Fetch a list page and its new articles; ``is_known(canonical_url)`` skips seen ones.

    ``extras`` carries ``etag``/``last_modified`` of the list page for the next conditional
    GET, ``not_modified`` when the list did not change, and counts for the fetch log.
    """
    result = ParseResult()
    if robots is None and not own_site:
        robots = RobotsCache(fetcher.client)
    if robots is not None and not own_site and not await robots.allowed(list_url):
        result.errors.append(f"robots.txt disallows {list_url}")
        return result
    listing = (
        await fetcher.fetch(FetchRequest(list_url, etag=etag, last_modified=last_modified))
    ).result
    result.extras.update(
        etag=listing.etag, last_modified=listing.last_modified, max_age=listing.max_age
    )
    if listing.not_modified:
        result.extras["not_modified"] = True
        return result
    if not listing.ok:
        result.errors.append(f"list page: {listing.error}: {listing.error_message}")
        result.extras["error_kind"] = listing.error
        result.extras["retry_after"] = listing.retry_after
        return result
    decoded = listing.decoded()
    links = discover_links(decoded.text, listing.final_url or list_url, selector=selector)
    result.extras["links_found"] = len(links)
    fresh = [u for u in links if not (is_known and is_known(canonical_url(u)))]
    result.extras["links_known"] = len(links) - len(fresh)
    allowed: list[str] = []
    for link in fresh[:max_articles]:
        if robots is not None and not own_site and not await robots.allowed(link):
            result.errors.append(f"robots.txt disallows {link}")
            continue
        allowed.append(link)
    async for response in fetcher.fetch_many(FetchRequest(u, key=u) for u in allowed):
        page = response.result
        if not page.ok:
            result.errors.append(f"{response.request.url}: {page.error}: {page.error_message}")
            continue
        try:
            item = extract_article(
                page.text(), page.final_url or response.request.url, default_tz=default_tz
            )
        except Exception as exc:  # one odd page must not lose the others
            result.errors.append(
                f"{response.request.url}: extraction failed: {type(exc).__name__}: {exc}"
            )
            continue
        if item is None:
            result.errors.append(f"{response.request.url}: no main text found")
            continue
        result.items.append(item)
    return result
