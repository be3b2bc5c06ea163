"""JSON APIs: a URL and a field mapping written in JSONPath.

The mapping names where the list of items is (``items``, e.g. ``$.data.list[*]``) and, for
each item field, a path relative to one item (``title: $.title``, ``url: $.link.href``).
A small JSONPath subset is implemented here (``$ . .. [n] [*] ['key'] *``), which covers the
vendor feeds we have seen, instead of adding a dependency for filters nobody uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
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

MAX_ITEMS = 1000
ITEM_FIELDS = ("url", "title", "text", "html", "author", "published_at", "guid")


class JsonPathError(ValueError):
    """A JSONPath expression outside the supported subset."""


_TOKEN = re.compile(
    r"""\.\.(?P<deep>[A-Za-z_$@\u4e00-\u9fff][\w$@\u4e00-\u9fff-]*|\*)"""
    r"""|\.(?P<name>[A-Za-z_$@\u4e00-\u9fff][\w$@\u4e00-\u9fff-]*|\*)"""
    r"""|\[\s*(?:(?P<index>-?\d+)|(?P<star>\*)|'(?P<sq>[^']*)'|"(?P<dq>[^"]*)")\s*\]"""
)

Step = tuple[str, Any]  # ("key", name) | ("index", n) | ("all", None) | ("deep", name|None)


def compile_path(expr: str) -> list[Step]:
    """Parse ``expr`` ($-rooted or relative, e.g. ``data.items[*]``) into steps."""
    text = expr.strip()
    if text.startswith(("$", "@")):
        text = text[1:]
    elif text and not text.startswith((".", "[")):
        text = "." + text
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise JsonPathError(f"unsupported JSONPath near {text[pos : pos + 20]!r} in {expr!r}")
        if match.group("deep") is not None:
            deep = match.group("deep")
            steps.append(("deep", None if deep == "*" else deep))
        elif match.group("name") is not None:
            name = match.group("name")
            steps.append(("all", None) if name == "*" else ("key", name))
        elif match.group("index") is not None:
            steps.append(("index", int(match.group("index"))))
        elif match.group("star") is not None:
            steps.append(("all", None))
        else:
            steps.append(
                ("key", match.group("sq") if match.group("sq") is not None else match.group("dq"))
            )
        pos = match.end()
    return steps


def _children(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        yield from node.values()
    elif isinstance(node, list):
        yield from node


def _descendants(node: Any) -> Iterator[Any]:
    yield node
    for child in _children(node):
        yield from _descendants(child)


def find(expr: str | list[Step], data: Any) -> list[Any]:
    """All values matched by a JSONPath expression."""
    steps = compile_path(expr) if isinstance(expr, str) else expr
    nodes = [data]
    for kind, arg in steps:
        out: list[Any] = []
        for node in nodes:
            if (kind == "key" and isinstance(node, dict) and arg in node) or (
                kind == "index" and isinstance(node, list) and -len(node) <= arg < len(node)
            ):
                out.append(node[arg])
            elif kind == "all":
                out.extend(_children(node))
            elif kind == "deep":
                for desc in _descendants(node):
                    if arg is None:
                        out.extend(_children(desc))
                    elif isinstance(desc, dict) and arg in desc:
                        out.append(desc[arg])
        nodes = out
    return nodes


def find_first(expr: str | list[Step], data: Any) -> Any:
    found = find(expr, data)
    return found[0] if found else None


@dataclass(frozen=True)
class JsonMapping:
    """Where items are, and where each field of an item is (paths relative to the item).

    Fields other than ``ITEM_FIELDS`` land in ``Item.extras`` (e.g. ``sentiment``).
    ``base_url`` resolves relative item URLs; ``html_fields`` are read as HTML.
    """

    items: str
    fields: Mapping[str, str]
    html_fields: frozenset[str] = frozenset({"html"})
    base_url: str = ""
    compiled: dict[str, list[Step]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if "url" not in self.fields and "guid" not in self.fields:
            raise JsonPathError(
                "the mapping needs a path for url or guid (to recognise items again)"
            )
        self.compiled["__items__"] = compile_path(self.items)
        for name, path in self.fields.items():
            self.compiled[name] = compile_path(path)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> JsonMapping:
        """From the JSON stored on a source: ``{"items": ..., "fields": {...}}``."""
        fields = raw.get("fields")
        if not isinstance(raw.get("items"), str) or not isinstance(fields, Mapping):
            raise JsonPathError(
                'mapping must look like {"items": "$.data[*]", "fields": {"title": "$.title"}}'
            )
        return cls(
            items=raw["items"],
            fields={str(k): str(v) for k, v in fields.items()},
            base_url=str(raw.get("base_url", "")),
        )


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value if v is not None)
    if isinstance(value, dict):
        return str(value.get("name") or value.get("title") or json.dumps(value, ensure_ascii=False))
    return str(value).strip()


def parse_json_api(
    body: bytes,
    mapping: JsonMapping,
    *,
    content_type: str = "application/json",
    default_tz: tzinfo = SHANGHAI,
    now: datetime | None = None,
) -> ParseResult:
    """Items of one JSON API response; bad items are reported by index, the rest kept."""
    from urllib.parse import urljoin

    result = ParseResult()
    try:
        doc = json.loads(decode_body(body, content_type).text)
    except ValueError as exc:
        result.errors.append(f"not valid JSON: {exc}")
        return result
    raw_items = find(mapping.compiled["__items__"], doc)
    if not raw_items:
        result.errors.append(f"no items at {mapping.items}")
        return result
    if len(raw_items) > MAX_ITEMS:
        result.errors.append(f"{len(raw_items)} items, only the first {MAX_ITEMS} read")
    for index, raw in enumerate(raw_items[:MAX_ITEMS]):
        values = {name: find_first(mapping.compiled[name], raw) for name in mapping.fields}
        url = _as_text(values.get("url"))
        if url and mapping.base_url:
            url = urljoin(mapping.base_url, url)
        if url and not is_http_url(url):
            result.errors.append(f"item {index}: url {url[:100]!r} is not http(s)")
            url = ""
        html_raw = _as_text(values.get("html")) if "html" in mapping.fields else ""
        text = _as_text(values.get("text"))
        if "text" in mapping.html_fields or re.search(r"<[a-zA-Z/][^>]*>", text):
            text = html_to_text(text)
        if not text and html_raw:
            text = html_to_text(html_raw)
        title = html_to_text(_as_text(values.get("title")))
        guid = _as_text(values.get("guid")) or url
        if not guid and not (title or text):
            result.errors.append(f"item {index}: no url, guid, title or text")
            continue
        raw_date = values.get("published_at")
        published = parse_datetime(raw_date, default_tz=default_tz, now=now)
        if raw_date not in (None, "") and published is None:
            result.errors.append(f"item {index}: unreadable date {str(raw_date)[:40]!r}")
        extras = {k: v for k, v in values.items() if k not in ITEM_FIELDS}
        result.items.append(
            Item(
                url=url,
                title=title,
                text=text,
                html=sanitize_html(html_raw) or None,
                author=_as_text(values.get("author")),
                published_at=published,
                guid=guid or stable_guid(title, text[:500], str(raw_date or "")),
                extras=extras,
            )
        )
    return result
