"""Reading the school's live pages: fetch and extract, compare with what was signed.

Pages are fetched through the guarded client (``yuqing.lib.http``) and their text extracted
the way the monitor extracts articles (trafilatura, ``extract_article``), only on hosts the
school registered as its own.

Comparison with the signed revision (the tamper watch): every character of the signed text must
be on the page, in order, with nothing inserted or removed — including paragraphs added before
the first or after the last signed one. Extraction often keeps some of the site's template
around the article (menu, breadcrumb, "发布时间/浏览次数" line, previous/next links, footer);
such a line is not tampering when it is

* the draft's title,
* a line of the site's own template: it also appears on the site's home page, or
* a page-furniture line (a short line starting with a label such as 当前位置, 发布时间, 来源,
  浏览次数, 上一篇, 打印, 关闭).

Anything else that is not in the signed text is reported, with a diff against the page's text
minus those lines. A change made *inside* the site's template (e.g. the footer) is not a change
of the signed text and is not reported. While the home page cannot be read (network error,
5xx), extra lines get no verdict (the check is retried) rather than a false alarm; signed text
missing or replaced is reported regardless.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings

from yuqing.publishing import content

if TYPE_CHECKING:
    from yuqing.lib.http import HttpResult
    from yuqing.monitor.collect.types import Item

# A furniture line: short, and starting with one of the labels sites print around an article.
FURNITURE_MAX_CHARS = 80
_FURNITURE = re.compile(
    r"^[【\[(（]?(?:当前位置|您的位置|您现在的位置|所在位置|位置[:：>]|首页[>»]|上一篇|下一篇|上一条|下一条|"
    r"发布时间|发布日期|发布者|发布人|发布单位|发稿时间|时间[:：]|日期[:：]|来源[:：]|作者[:：]|"
    r"文[:：/]|编辑[:：]|责任编辑|责编|审核[:：]|审稿|摄影[:：]|供稿|浏览次数|浏览量|浏览[:：]|点击[:：数量率]|"
    r"阅读[:：数量次]|访问量|字号|【?打印|【?关闭|返回顶部|返回列表|分享到|扫一扫)"
)


def fetch(url: str) -> HttpResult:
    """GET through the guarded client: private addresses only where settings allow them."""
    from yuqing.lib.http import fetch_sync

    return fetch_sync(
        url,
        allow_hosts=settings.FETCH_ALLOW_HOSTS,
        max_bytes=settings.FETCH_MAX_BYTES,
        total_timeout=float(settings.FETCH_TIMEOUT_SECONDS),
    )


def fetch_html(url: str) -> tuple[str | None, str, str]:
    """(page HTML or None, error, final URL)."""
    result = fetch(url)
    if not result.ok:
        return None, f"{result.error}: {result.error_message}"[:500], url
    return result.text(), "", result.final_url or url


def article(html: str, url: str) -> Item | None:
    """The page's title and main text as the monitor extracts them; None when there is none."""
    from yuqing.monitor.collect.pages import extract_article

    item = extract_article(html, url)
    return item if item is not None and item.text else None


def article_text(html: str, url: str) -> str | None:
    item = article(html, url)
    return item.text if item is not None else None


def fetch_text(url: str) -> tuple[str | None, str]:
    html, error, final_url = fetch_html(url)
    if html is None:
        return None, error
    text = article_text(html, final_url)
    if text is None:
        return None, "no article text found on the page"
    return text, ""


def home_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def template_lines(url: str) -> frozenset[str] | None:
    """Normalised pieces of text of the site's home page: the template its pages share.

    Lines, and the text of each element and text node, since an extractor may split one
    line of the menu into one line per link. Empty when the site has no home page (4xx) or the
    home page *is* the page itself (then it proves nothing); None when it could not be read
    this time (network error, 5xx), so that additions are not judged without it.
    """
    result = fetch(home_url(url))
    if not result.ok:
        gone = result.status is not None and 400 <= result.status < 500
        return frozenset() if gone else None
    final_url = result.final_url or home_url(url)
    if final_url.rstrip("/") == url.rstrip("/"):
        return frozenset()
    return page_pieces(result.text())


def page_pieces(html: str) -> frozenset[str]:
    from lxml import etree
    from lxml import html as lxml_html

    from yuqing.monitor.collect.types import html_to_text

    norm = content.normalize_for_compare
    pieces = {norm(line) for line in html_to_text(html).splitlines()}
    try:
        root = lxml_html.document_fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", html))
    except (etree.ParserError, ValueError):
        root = None
    if root is not None:
        etree.strip_elements(root, "script", "style", etree.Comment, with_tail=False)
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            pieces.update(norm(t) for t in (element.text, element.tail) if t)
            whole = norm(element.text_content())
            if len(whole) <= 2 * FURNITURE_MAX_CHARS:
                pieces.add(whole)
    pieces.discard("")
    return frozenset(pieces)


def is_furniture(line: str, *, title: str = "", template: frozenset[str] = frozenset()) -> bool:
    """Whether a normalised line is page furniture rather than article text."""
    if not line:
        return True
    if title and line == title:
        return True
    if line in template:
        return True
    return len(line) <= FURNITURE_MAX_CHARS and bool(_FURNITURE.match(line))


@dataclass(frozen=True)
class Comparison:
    # Signed text missing or replaced, and text on the page that is neither signed nor
    # furniture: either one means the page does not show what was signed.
    removed: bool
    added: bool
    # The page's text without the furniture lines that were let through: what the diff shows.
    relevant: str

    @property
    def matches(self) -> bool:
        return not (self.removed or self.added)


def compare_with_signed(
    observed: str, *, signed: str, title: str = "", template: frozenset[str] = frozenset()
) -> Comparison:
    """Whether the live text shows exactly the signed text (see the module docstring)."""
    want = content.normalize_for_compare(signed)
    norm_title = content.normalize_for_compare(title)
    lines = [line.strip() for line in (observed or "").splitlines() if line.strip()]
    normed = [content.normalize_for_compare(line) for line in lines]
    starts: list[int] = []
    seen_parts: list[str] = []
    offset = 0
    for n in normed:
        starts.append(offset)
        seen_parts.append(n)
        offset += len(n)
    seen = "".join(seen_parts)

    def lines_in(j1: int, j2: int) -> list[int]:
        return [k for k, start in enumerate(starts) if start < j2 and start + len(normed[k]) > j1]

    skipped: set[int] = set()
    removed = added = False
    matcher = difflib.SequenceMatcher(None, want, seen, autojunk=False)
    for op, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op != "insert":  # a signed character is missing or replaced
            removed = True
        for k in lines_in(j1, j2):  # what the page has instead of, or on top of, the signed text
            whole = starts[k] >= j1 and starts[k] + len(normed[k]) <= j2
            if whole and is_furniture(normed[k], title=norm_title, template=template):
                skipped.add(k)
            elif op == "insert":
                added = True
    relevant = "\n".join(line for k, line in enumerate(lines) if k not in skipped)
    return Comparison(removed=removed, added=added, relevant=relevant)


# --------------------------------------------------------------------------- the site's new pages

_SITEMAP = re.compile(rb"<(?:[\w-]+:)?(?:urlset|sitemapindex)\b")
_FEED = re.compile(rb"<(?:rss|feed|rdf:RDF)\b|^\s*\{")


@dataclass
class Listing:
    kind: str  # "sitemap", "sitemap_index", "feed" or "page"
    links: list[str]
    errors: list[str]


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _sitemap(body: bytes) -> Listing:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        return Listing("sitemap", [], [f"sitemap: {exc}"])
    if root is None:
        return Listing("sitemap", [], ["sitemap: empty document"])
    kind = "sitemap_index" if etree.QName(root).localname == "sitemapindex" else "sitemap"
    entries: list[tuple[str, str]] = []
    for element in root:
        if not isinstance(element.tag, str):
            continue
        values = {
            etree.QName(child).localname: (child.text or "").strip()
            for child in element
            if isinstance(child.tag, str)
        }
        if values.get("loc"):
            entries.append((values.get("lastmod", ""), values["loc"]))
    # Newest first (W3C dates sort as text); entries without a date keep their order, last.
    dated = sorted((e for e in entries if e[0]), key=lambda e: e[0], reverse=True)
    return Listing(kind, [loc for _, loc in dated + [e for e in entries if not e[0]]], [])


def read_listing(body: bytes, *, url: str, headers: dict[str, str], selector: str = "") -> Listing:
    """The page addresses listed in a sitemap, an RSS/Atom/JSON feed or an HTML list page."""
    head = body[:2048]
    if _SITEMAP.search(head):
        return _sitemap(body)
    if _FEED.search(head.lstrip()):
        from yuqing.monitor.collect.feeds import parse_feed

        parsed = parse_feed(body, url=url, headers=headers)
        return Listing("feed", [item.url for item in parsed.items if item.url], parsed.errors)
    from yuqing.lib.http import decode_body
    from yuqing.monitor.collect.pages import discover_links

    text = decode_body(body, headers.get("content-type", "")).text
    try:
        links = discover_links(text, url, selector=selector or None)
    except Exception as exc:  # a bad selector (lxml/cssselect raise several kinds)
        return Listing("page", [], [f"list page: {type(exc).__name__}: {exc}"])
    return Listing("page", links, [])


def text_without_furniture(text: str, *, title: str, template: frozenset[str]) -> str:
    norm_title = content.normalize_for_compare(title)
    return "\n".join(
        line
        for line in (raw.strip() for raw in (text or "").splitlines())
        if line
        and not is_furniture(
            content.normalize_for_compare(line), title=norm_title, template=template
        )
    )
