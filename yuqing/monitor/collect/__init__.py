"""Collectors: fetch sources and turn what they publish into ``Item``s (no Django here).

One module per kind of source (feeds, rsshub, pages, jsonapi, imports), all returning the
plain dataclasses of ``types``; ``fetcher.PoliteFetcher`` fetches politely through the one
HTTP client of the project (``yuqing.lib.http``). The worker that stores mentions calls these.
"""

from .types import Item, ParseResult

__all__ = ["Item", "ParseResult"]
