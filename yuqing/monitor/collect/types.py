"""What every collector returns, and how crawled text and HTML are made safe.

Collectors are plain Python (no Django): the worker turns ``Item``s into mentions. Crawled
HTML is hostile input: ``sanitize_html`` is the only HTML we keep, and ``html_to_text`` gives
the plain text that the text engine and the search index see.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import nh3

from yuqing.lib.urls import canonical_url

try:
    SHANGHAI: tzinfo = ZoneInfo("Asia/Shanghai")
except Exception:  # no tz database on the machine: China has had no DST since 1991
    from datetime import timezone

    SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass
class Item:
    """One post or article as a source shows it."""

    url: str
    title: str = ""
    text: str = ""
    html: str | None = None
    author: str = ""
    published_at: datetime | None = None
    guid: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def canonical_url(self) -> str:
        return canonical_url(self.url) if self.url else ""

    def content_hash(self) -> str:
        """Hash of the visible content, for dedupe of items without a stable URL."""
        joined = "\x1f".join((self.title.strip(), self.text.strip()))
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()


@dataclass
class ParseResult:
    """Items that could be read, plus what went wrong with the rest."""

    items: list[Item] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ttl: int | None = None  # seconds the source asks us to wait before polling again
    title: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- HTML

# Enough for reading a post; no images or media: a remote image in a staff member's browser
# tells the poster who is reading, and the original is one click away.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl",
        "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre",
        "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
        "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_DROP_WITH_CONTENT = {
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "svg",
    "math",
    "head",
    "title",
}
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_DOCUMENT = re.compile(r"<(?:!doctype|html|head|body)[\s>]", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def sanitize_html(html: str, *, base_url: str | None = None) -> str:
    """Sanitised HTML safe to show in the desk (links only to http/https/mailto)."""
    if not html:
        return ""
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes={k: set(v) for k, v in _ALLOWED_ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return cleaned.strip()


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment or page: block elements become line breaks.

    Scripts, styles, comments and the like are dropped with their content. The text is plain
    (never rendered as HTML), so escaping it is the template's job, not this function's.
    """
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return _tidy(html)
    from lxml import etree
    from lxml import html as lxml_html  # lxml is heavy to import; only parsers need it

    # lxml refuses str input that carries an XML encoding declaration.
    html = _XML_DECL.sub("", html, count=1)
    try:
        if _DOCUMENT.search(html[:2000]):
            root = lxml_html.document_fromstring(html)
        else:
            root = lxml_html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):  # e.g. only control characters or whitespace
        return _tidy(re.sub(r"<[^>]*>", " ", html))
    etree.strip_elements(
        root, *_DROP_WITH_CONTENT, etree.Comment, etree.ProcessingInstruction, with_tail=False
    )
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            if element.tag != "br":
                element.text = "\n" + (element.text or "")
        elif element.tag in ("td", "th"):
            element.tail = " " + (element.tail or "")
    return _tidy(root.text_content())


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\u200b", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# --------------------------------------------------------------------------- dates

_CN_DATE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[年/.\-]\s*(?P<m>\d{1,2})\s*[月/.\-]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*[T\s]?\s*(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})(?:\s*[:：分]\s*(?P<S>\d{1,2}))?)?"
    r"(?:\s*(?P<tz>Z|[+-]\d{2}:?\d{2}))?"
)
_RELATIVE = re.compile(r"(?P<n>\d+)\s*(?P<unit>秒|分钟|小时|天|周)前")
_CLOCK = re.compile(r"(?P<H>\d{1,2})[:：](?P<M>\d{2})")
_UNITS = {"秒": 1, "分钟": 60, "小时": 3600, "天": 86400, "周": 7 * 86400}
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def parse_datetime(
    value: Any, *, default_tz: tzinfo = SHANGHAI, now: datetime | None = None
) -> datetime | None:
    """An aware datetime from what sources print, or None.

    Understands datetime/date objects, epoch seconds or milliseconds, ISO 8601, RFC 2822,
    Chinese forms (2024年3月5日 08:30, 2024/3/5) and relative ones (刚刚, 5分钟前, 昨天 10:00).
    Naive values are in ``default_tz`` (Chinese sources print Beijing time). Dates more than
    two days in the future or before 1990 are rejected: they would sort a post to the top of
    the desk for years.
    """
    current = now or datetime.now(UTC)
    result = _parse_any(value, default_tz, current)
    if result is None:
        return None
    if result.tzinfo is None:
        result = result.replace(tzinfo=default_tz)
    if result < _EARLIEST or result > current + timedelta(days=2):
        return None
    return result


def _parse_any(value: Any, tz: tzinfo, now: datetime) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value) / 1000 if value > 10**11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit() and len(text) in (10, 13):
        return _parse_any(int(text), tz, now)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    if re.search(r"[A-Za-z]{3}", text):
        import email.utils

        try:
            return email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            pass
    return _parse_chinese(text, tz, now)


def _parse_chinese(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    match = _CN_DATE.search(text)
    if match:
        parts = {k: int(v) for k, v in match.groupdict().items() if v and k != "tz"}
        try:
            result = datetime(
                parts["y"],
                parts["m"],
                parts["d"],
                parts.get("H", 0),
                parts.get("M", 0),
                parts.get("S", 0),
            )
        except ValueError:
            return None
        offset = match.group("tz")
        if offset:
            try:
                return datetime.fromisoformat(result.isoformat() + offset.replace("Z", "+00:00"))
            except ValueError:
                return result
        return result
    local_now = now.astimezone(tz)
    if text in ("刚刚", "刚才"):
        return local_now
    rel = _RELATIVE.search(text)
    if rel:
        return local_now - timedelta(seconds=int(rel.group("n")) * _UNITS[rel.group("unit")])
    for word, days in (("前天", 2), ("昨天", 1), ("今天", 0)):
        if text.startswith(word):
            clock = _CLOCK.search(text)
            day = local_now - timedelta(days=days)
            hour, minute = (int(clock.group("H")), int(clock.group("M"))) if clock else (0, 0)
            try:
                return day.replace(hour=hour, minute=minute, second=0, microsecond=0)
            except ValueError:
                return None
    short = re.fullmatch(r"(\d{1,2})[月\-/](\d{1,2})日?(?:\s+(\d{1,2})[:：](\d{2}))?", text)
    if short:  # "3月5日 10:30" on Weibo: this year
        month, day_ = int(short.group(1)), int(short.group(2))
        hour, minute = int(short.group(3) or 0), int(short.group(4) or 0)
        try:
            return datetime(local_now.year, month, day_, hour, minute, tzinfo=tz)
        except ValueError:
            return None
    return None


def stable_guid(*parts: str) -> str:
    """A guid for items that carry none: hash of what identifies them."""
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
