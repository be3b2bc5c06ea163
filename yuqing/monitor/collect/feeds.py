"""RSS, Atom and JSON Feed → items.

feedparser reads RSS/Atom, including ill-formed ones: whatever can be read is kept and the
problem (feedparser's "bozo" exception) is reported as an error on the result. JSON Feed is
read here, since feedparser 6.0 does not. Naive dates are Beijing time (most Chinese feeds
print local time without a zone), which is why raw date strings are parsed here instead of
using feedparser's UTC-assuming ``*_parsed`` values.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from yuqing.lib.http import decode_body
from yuqing.lib.urls import is_http_url

from .types import (
    SHANGHAI,
    Item,
    ParseResult,
    html_to_text,
    parse_datetime,
    sanitize_html,
    stable_guid,
)

MAX_ITEMS = 500  # a feed with more entries than this is a dump, not a feed: keep the newest part
_JSON_FEED_TYPES = ("application/feed+json", "application/json")
_UPDATE_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 30 * 86400,
    "yearly": 365 * 86400,
}


def parse_feed(
    body: bytes,
    *,
    url: str = "",
    headers: Mapping[str, str] | None = None,
    default_tz: tzinfo = SHANGHAI,
    now: datetime | None = None,
) -> ParseResult:
    """Parse a feed document fetched from ``url`` with response ``headers``."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if _looks_like_json_feed(body, headers.get("content-type", "")):
        return parse_json_feed(body, url=url, default_tz=default_tz, now=now)
    import feedparser  # heavy import (sgmllib, html sanitiser), only where feeds are parsed

    response_headers = dict(headers)
    response_headers.setdefault("content-location", url)  # base for relative links
    response_headers.pop("content-encoding", None)  # the HTTP client already decoded it
    content_type = response_headers.get("content-type") or "application/xml"
    decoded = decode_body(body, content_type)
    if decoded.how in ("detected", "fallback"):
        # No usable declaration (none, or one the bytes contradict, e.g. GBK sent as UTF-8):
        # feedparser would fall back to windows-1252 and produce mojibake, so tell it what
        # detection found; an HTTP charset overrides the XML declaration for application/xml.
        content_type = f"application/xml; charset={decoded.encoding}"
    response_headers["content-type"] = content_type
    result = ParseResult()
    body, cut = cut_after_entries(body, MAX_ITEMS)
    if cut:
        result.errors.append(
            f"the feed has more than {MAX_ITEMS} entries; the first {MAX_ITEMS} were read"
        )
    # A BytesIO, never raw bytes or str: feedparser treats strings as a URL or file name to
    # open, and the body is attacker-controlled.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        message = f"ill-formed feed: {type(exc).__name__}: {exc}"
        # A feed served as text/html or text/plain is common and harmless: a warning only.
        if type(exc).__name__ == "NonXMLContentType":
            result.extras["warnings"] = [message]
        else:
            result.errors.append(message)
    feed = parsed.get("feed", {})
    if not parsed.get("version") and not parsed.get("entries"):
        if not result.errors:
            result.errors.append("not a feed: no RSS, Atom or JSON Feed structure found")
        return result
    result.title = html_to_text(feed.get("title", ""))
    result.ttl = _ttl(feed)
    result.extras.update(version=parsed.get("version", ""), encoding=parsed.get("encoding", ""))
    for index, entry in enumerate(parsed.get("entries", [])[:MAX_ITEMS]):
        try:
            result.items.append(_entry_item(entry, result.title, default_tz, now))
        except Exception as exc:  # one odd entry must not lose the others
            result.errors.append(f"entry {index}: {type(exc).__name__}: {exc}")
    return result


_ENTRY_START = re.compile(rb"<(item|entry)[\s>/]", re.IGNORECASE)


def cut_after_entries(body: bytes, limit: int) -> tuple[bytes, bool]:
    """The document up to its ``limit``-th entry, closed again; and whether it was cut.

    feedparser builds every entry before we can keep the first ``limit``: a 10 MB feed of
    100,000 tiny entries took 180 MB and 45 s. A scan for entry tags is cheap; the closing
    tags keep the shortened document well-formed for RSS 2.0, RSS 1.0 and Atom.
    """
    for count, match in enumerate(_ENTRY_START.finditer(body), 1):
        if count > limit:
            if match.group(1).lower() == b"entry":
                closer = b"</feed>"
            elif b"<rdf:RDF" in body[:4096]:
                closer = b"</rdf:RDF>"
            else:
                closer = b"</channel></rss>"
            return body[: match.start()] + closer, True
    return body, False


def _ttl(feed: Mapping[str, Any]) -> int | None:
    raw = feed.get("ttl")
    if raw is not None:
        try:
            minutes = int(str(raw).strip())
        except ValueError:
            return None
        return minutes * 60 if minutes > 0 else None
    period = _UPDATE_PERIODS.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    if period:
        try:
            frequency = max(1, int(str(feed.get("sy_updatefrequency", "1")).strip()))
        except ValueError:
            frequency = 1
        return period // frequency
    return None


def _entry_item(
    entry: Mapping[str, Any], feed_title: str, tz: tzinfo, now: datetime | None
) -> Item:
    link = entry.get("link", "") or ""
    guid = entry.get("id", "") or ""
    if not is_http_url(link):
        link = guid if is_http_url(guid) else ""
    html = _best_content(entry)
    text = html_to_text(html)
    title = html_to_text(entry.get("title", "") or "")
    raw_date = entry.get("published") or entry.get("updated") or entry.get("created")
    published = parse_datetime(raw_date, default_tz=tz, now=now) if raw_date else None
    if published is None:
        published = _from_struct(entry.get("published_parsed") or entry.get("updated_parsed"), now)
    author = entry.get("author") or (entry.get("author_detail") or {}).get("name") or ""
    extras: dict[str, Any] = {"feed_title": feed_title}
    tags = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
    if tags:
        extras["tags"] = tags
    return Item(
        url=link,
        title=title,
        text=text,
        html=sanitize_html(html) or None,
        author=html_to_text(str(author)),
        published_at=published,
        guid=guid or link or stable_guid(title, text[:500], str(raw_date or "")),
        extras=extras,
    )


def _best_content(entry: Mapping[str, Any]) -> str:
    # Full content when the feed has it, else the summary; the longest wins since some feeds
    # put a teaser in one and the article in another.
    candidates = [c.get("value", "") for c in entry.get("content", []) or []]
    candidates.append(entry.get("summary", "") or "")
    return max(candidates, key=len) if candidates else ""


def _from_struct(value: Any, now: datetime | None) -> datetime | None:
    if not value:
        return None
    import calendar

    try:
        return parse_datetime(calendar.timegm(value), now=now)
    except (TypeError, ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------- JSON Feed


def _looks_like_json_feed(body: bytes, content_type: str) -> bool:
    head = body[:512].lstrip()
    if content_type.split(";")[0].strip().lower() in _JSON_FEED_TYPES:
        return True
    return head.startswith(b"{") and b"jsonfeed.org" in body[:2048]


def parse_json_feed(
    body: bytes, *, url: str = "", default_tz: tzinfo = SHANGHAI, now: datetime | None = None
) -> ParseResult:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1)."""
    result = ParseResult()
    try:
        doc = json.loads(decode_body(body, "application/json").text)
    except ValueError as exc:
        result.errors.append(f"not valid JSON: {exc}")
        return result
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        result.errors.append("not a JSON Feed: no items list")
        return result
    result.title = str(doc.get("title", ""))
    result.extras = {"version": str(doc.get("version", "json"))}
    for index, raw in enumerate(doc["items"][:MAX_ITEMS]):
        if not isinstance(raw, dict):
            result.errors.append(f"item {index}: not an object")
            continue
        html = str(raw.get("content_html") or "")
        text = (
            html_to_text(html) if html else str(raw.get("content_text") or raw.get("summary") or "")
        )
        link = str(raw.get("url") or raw.get("external_url") or "")
        authors = raw.get("authors") or (
            [raw["author"]] if isinstance(raw.get("author"), dict) else []
        )
        author = ", ".join(
            str(a.get("name", "")) for a in authors if isinstance(a, dict) and a.get("name")
        )
        raw_date = raw.get("date_published") or raw.get("date_modified")
        title = str(raw.get("title") or "")
        result.items.append(
            Item(
                url=link if is_http_url(link) else "",
                title=title,
                text=text,
                html=sanitize_html(html) or None,
                author=author,
                published_at=parse_datetime(raw_date, default_tz=default_tz, now=now),
                guid=str(raw.get("id") or link or stable_guid(title, text[:500])),
                extras={"feed_title": result.title, "tags": raw.get("tags") or []},
            )
        )
    return result
