"""One collector class per polled source kind, sharing one small contract.

A collector gets a snapshot of the source's settings and the shared polite fetcher, and
returns an ``Outcome``: items, or a classified error, plus what the source said about when to
come back. Collectors touch no database: the poller runs them concurrently in one event loop
and stores their outcomes afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from yuqing.lib.http import HttpResult
from yuqing.monitor.collect.feeds import parse_feed
from yuqing.monitor.collect.fetcher import FetchRequest, PoliteFetcher
from yuqing.monitor.collect.jsonapi import JsonMapping, parse_json_api
from yuqing.monitor.collect.pages import RobotsCache, collect_list_page
from yuqing.monitor.collect.rsshub import rsshub_url
from yuqing.monitor.collect.types import Item


@dataclass(frozen=True, slots=True)
class SourceSnapshot:
    """What a collector may know of a source: plain values, safe to use off the main thread."""

    id: int
    school_id: int
    kind: str
    url: str
    config: dict[str, Any]
    is_own: bool
    etag: str
    last_modified: str
    seen_urls: frozenset[str] = frozenset()


@dataclass(slots=True)
class Outcome:
    items: list[Item] = field(default_factory=list)
    status: int | None = None
    bytes: int = 0
    not_modified: bool = False
    etag: str = ""
    last_modified: str = ""
    error_kind: str = ""
    error: str = ""
    retry_after: float | None = None
    wait_hint: int | None = None  # seconds: RSS ttl or Cache-Control max-age
    parse_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error_kind


def outcome_of(result: HttpResult) -> Outcome:
    out = Outcome(
        status=result.status,
        bytes=len(result.body),
        not_modified=result.not_modified,
        etag=result.etag or "",
        last_modified=result.last_modified or "",
        retry_after=result.retry_after,
        wait_hint=result.max_age,
    )
    if result.error is not None:
        out.error_kind, out.error = str(result.error), result.error_message[:500]
    return out


class Collector:
    kind: ClassVar[str]

    async def collect(
        self, source: SourceSnapshot, fetcher: PoliteFetcher, *, rsshub_base: str
    ) -> Outcome:
        raise NotImplementedError


class FeedCollector(Collector):
    kind = "feed"

    def url_for(self, source: SourceSnapshot, rsshub_base: str) -> str:
        return source.url

    async def collect(
        self, source: SourceSnapshot, fetcher: PoliteFetcher, *, rsshub_base: str
    ) -> Outcome:
        url = self.url_for(source, rsshub_base)
        response = await fetcher.fetch(
            FetchRequest(
                url,
                key=source.id,
                etag=source.etag or None,
                last_modified=source.last_modified or None,
            )
        )
        out = outcome_of(response.result)
        if not out.ok or out.not_modified:
            return out
        parsed = parse_feed(
            response.result.body, url=response.result.final_url, headers=response.result.headers
        )
        out.items = parsed.items
        out.parse_errors = parsed.errors
        if parsed.ttl:
            out.wait_hint = max(out.wait_hint or 0, parsed.ttl)
        if not parsed.items and parsed.errors:
            out.error_kind, out.error = "parse", "; ".join(parsed.errors)[:500]
        return out


class RssHubCollector(FeedCollector):
    kind = "rsshub"

    def url_for(self, source: SourceSnapshot, rsshub_base: str) -> str:
        base = str(source.config.get("rsshub_base") or rsshub_base)
        return rsshub_url(
            base, str(source.config.get("route", "")), access_key=source.config.get("access_key")
        )


class WebCollector(Collector):
    kind = "web"

    async def collect(
        self, source: SourceSnapshot, fetcher: PoliteFetcher, *, rsshub_base: str
    ) -> Outcome:
        parsed = await collect_list_page(
            fetcher,
            source.url,
            selector=source.config.get("link_selector") or None,
            own_site=source.is_own,
            robots=None if source.is_own else RobotsCache(fetcher.client),
            max_articles=int(source.config.get("max_articles", 20)),
            is_known=source.seen_urls.__contains__,
            etag=source.etag or None,
            last_modified=source.last_modified or None,
        )
        extras = parsed.extras
        out = Outcome(
            items=parsed.items,
            status=extras.get("status"),
            bytes=int(extras.get("bytes", 0) or 0),
            not_modified=bool(extras.get("not_modified")),
            etag=str(extras.get("etag") or ""),
            last_modified=str(extras.get("last_modified") or ""),
            parse_errors=parsed.errors,
        )
        if extras.get("error_kind"):
            out.error_kind, out.error = (
                str(extras["error_kind"]),
                str(extras.get("error", ""))[:500],
            )
        elif not parsed.items and parsed.errors and not out.not_modified:
            out.error_kind, out.error = "parse", "; ".join(parsed.errors)[:500]
        return out


class JsonApiCollector(Collector):
    kind = "json_api"

    async def collect(
        self, source: SourceSnapshot, fetcher: PoliteFetcher, *, rsshub_base: str
    ) -> Outcome:
        try:
            mapping = JsonMapping.from_dict(source.config.get("mapping", {}))
        except ValueError as exc:
            return Outcome(error_kind="parse", error=f"field mapping: {exc}")
        response = await fetcher.fetch(
            FetchRequest(
                source.url,
                key=source.id,
                etag=source.etag or None,
                last_modified=source.last_modified or None,
            )
        )
        out = outcome_of(response.result)
        if not out.ok or out.not_modified:
            return out
        parsed = parse_json_api(response.result.body, mapping)
        out.items, out.parse_errors = parsed.items, parsed.errors
        if not parsed.items and parsed.errors:
            out.error_kind, out.error = "parse", "; ".join(parsed.errors)[:500]
        return out


COLLECTORS: dict[str, Collector] = {
    c.kind: c for c in (FeedCollector(), RssHubCollector(), WebCollector(), JsonApiCollector())
}
