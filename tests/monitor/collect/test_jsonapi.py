"""JSON APIs with a JSONPath field mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from yuqing.monitor.collect.jsonapi import JsonMapping, JsonPathError, find, parse_json_api
from yuqing.monitor.collect.types import SHANGHAI

NOW = datetime(2024, 3, 8, tzinfo=UTC)
DOC = {
    "code": 0,
    "data": {
        "list": [
            {
                "id": 1,
                "title": "育才中学通知",
                "link": {"href": "/n/1"},
                "body": "<p>明天<b>停课</b></p>",
                "user": {"name": "校办"},
                "ts": 1709600000,
                "emotion": "中性",
            },
            {
                "id": 2,
                "title": "家长投诉",
                "link": {"href": "javascript:alert(1)"},
                "body": "食堂问题",
                "ts": "2024-03-06 09:00",
            },
            {"id": 3, "title": "", "body": "", "ts": "明天"},
            {"id": 4, "title": "坏日期", "link": {"href": "http://x.example.cn/4"}, "ts": "某天"},
        ]
    },
}
MAPPING = JsonMapping(
    items="$.data.list[*]",
    fields={
        "url": "$.link.href",
        "title": "title",
        "text": "$.body",
        "author": "user.name",
        "published_at": "ts",
        "guid": "id",
        "sentiment": "emotion",
    },
    base_url="http://api.example.cn/",
)


def test_it_maps_items_with_jsonpath() -> None:
    result = parse_json_api(json.dumps(DOC).encode(), MAPPING, now=NOW)
    first = result.items[0]
    assert first.url == "http://api.example.cn/n/1"
    assert first.title == "育才中学通知" and first.text == "明天停课"
    assert first.author == "校办" and first.guid == "1"
    assert first.published_at == datetime.fromtimestamp(1709600000, UTC)
    assert first.extras == {"sentiment": "中性"}
    assert result.items[1].url == "" and result.items[1].published_at == datetime(
        2024, 3, 6, 9, tzinfo=SHANGHAI
    )


def test_it_reports_bad_items_by_index_and_keeps_the_rest() -> None:
    result = parse_json_api(json.dumps(DOC).encode(), MAPPING, now=NOW)
    assert [i.guid for i in result.items] == ["1", "2", "3", "4"]
    assert any(e.startswith("item 1: url") for e in result.errors)
    assert any(e.startswith("item 3: unreadable date") for e in result.errors)


def test_it_reports_invalid_json_and_missing_items() -> None:
    assert parse_json_api(b"{not json", MAPPING).errors[0].startswith("not valid JSON")
    assert parse_json_api(b'{"data": {}}', MAPPING).errors == ["no items at $.data.list[*]"]


def test_the_jsonpath_subset() -> None:
    doc = {"a": [{"b": 1, "c": {"b": 2}}, {"b": 3}], "x y": {"中文": 5}}
    assert find("$.a[*].b", doc) == [1, 3]
    assert find("$..b", doc) == [1, 2, 3]
    assert find("$.a[-1].b", doc) == [3]
    assert find("$['x y'].中文", doc) == [5]
    assert find("$.a.*.b", doc) == [1, 3]
    assert find("$.missing[0]", doc) == []
    with pytest.raises(JsonPathError):
        find("$.a[?(@.b > 1)]", doc)


def test_a_mapping_must_identify_items() -> None:
    with pytest.raises(JsonPathError):
        JsonMapping(items="$[*]", fields={"title": "t"})
    mapping = JsonMapping.from_dict({"items": "$.rows[*]", "fields": {"url": "u", "title": "t"}})
    assert (
        parse_json_api(b'{"rows": [{"u": "http://a.cn/1", "t": "x"}]}', mapping).items[0].url
        == "http://a.cn/1"
    )
