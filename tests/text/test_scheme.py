"""Schemes: reading scheme.json, validation messages, round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from yuqing.text.expr import Node
from yuqing.text.scheme import Scheme, SchemeError

SCHEME_JSON = {
    "name": "滨江一中",
    "subject_words": ["滨江一中", "滨江市第一中学", "滨江市一中"],
    "region_words": ["滨江", "滨江市"],
    "event_words": [],
    "exclude_words": ["滨江一中路", "滨江一中站"],
}


def test_it_reads_the_labelled_set_format() -> None:
    scheme = Scheme.from_dict(SCHEME_JSON)
    assert scheme.name == "滨江一中"
    assert scheme.subject_words == ("滨江一中", "滨江市第一中学", "滨江市一中")
    assert scheme.exclude_words == ("滨江一中路", "滨江一中站")
    assert scheme.expression == "" and scheme.parsed_expression() is None
    assert scheme.key == "滨江一中"


def test_it_reads_the_shared_dev_school_scheme() -> None:
    path = Path("/work/shared/eval/dev-school/scheme.json")
    if not path.exists():
        pytest.skip("shared eval set not present")
    assert Scheme.from_dict(json.loads(path.read_text("utf-8"))).subject_words


def test_it_round_trips_through_a_dict() -> None:
    scheme = Scheme.from_dict({**SCHEME_JSON, "expression": "滨江一中 AND 食堂", "id": 7})
    assert Scheme.from_dict(scheme.to_dict()) == scheme
    assert scheme.to_dict()["subject_words"] == SCHEME_JSON["subject_words"]
    assert scheme.key == "7"


def test_it_parses_its_expression() -> None:
    scheme = Scheme("x", ("育才中学",), expression="育才中学 NEAR/10 食堂")
    assert isinstance(scheme.parsed_expression(), Node)


def test_it_strips_and_deduplicates_words() -> None:
    scheme = Scheme("x", [" 育才中学 ", "育才中学", "育才"])  # type: ignore[arg-type]
    assert scheme.subject_words == ("育才中学", "育才")


def test_it_is_hashable() -> None:
    assert hash(Scheme.from_dict(SCHEME_JSON)) == hash(Scheme.from_dict(SCHEME_JSON))


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"subject_words": ["a"]}, "name", "is required"),
        ({"name": "", "subject_words": ["a"]}, "name", "non-empty"),
        ({"name": 3, "subject_words": ["a"]}, "name", "non-empty"),
        ({"name": "x"}, "subject_words", "is required"),
        ({"name": "x", "subject_words": []}, "subject_words", "at least one"),
        ({"name": "x", "subject_words": "育才中学"}, "subject_words", "list of strings"),
        ({"name": "x", "subject_words": ["a", 5]}, "subject_words", "item 1 must be a string"),
        ({"name": "x", "subject_words": ["a", "  "]}, "subject_words", "item 1 is empty"),
        ({"name": "x", "subject_words": ["🔥"]}, "subject_words", "nothing to match"),
        ({"name": "x", "subject_words": ["a"], "region_words": 5}, "region_words", "list"),
        ({"name": "x", "subject_words": ["a"], "expression": 5}, "expression", "string"),
        ({"name": "x", "subject_words": ["a"], "id": [1]}, "id", "integer"),
        ({"name": "x", "subject_words": ["a" * 101]}, "subject_words", "longer than"),
    ],
)
def test_it_explains_invalid_schemes(data: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(SchemeError) as info:
        Scheme.from_dict(data)
    assert info.value.field == field
    assert fragment in str(info.value)


def test_it_rejects_unknown_keys() -> None:
    with pytest.raises(SchemeError, match=r"unknown key.*subject_word"):
        Scheme.from_dict({"name": "x", "subject_word": ["a"], "subject_words": ["a"]})


def test_it_rejects_a_non_object() -> None:
    with pytest.raises(SchemeError, match="JSON object"):
        Scheme.from_dict(["a"])  # type: ignore[arg-type]


def test_it_reports_the_expression_error_position() -> None:
    with pytest.raises(SchemeError) as info:
        Scheme.from_dict({"name": "x", "subject_words": ["a"], "expression": "a AND (b"})
    assert info.value.field == "expression"
    assert info.value.position == 6


def test_null_optional_fields_mean_empty() -> None:
    scheme = Scheme.from_dict(
        {"name": "x", "subject_words": ["a"], "region_words": None, "expression": None}
    )
    assert scheme.region_words == () and scheme.expression == ""
