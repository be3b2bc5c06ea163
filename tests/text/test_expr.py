"""The expression language: every operator, precedence, and malformed input with positions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yuqing.text.expr import And, ExpressionError, Near, Not, Or, Term, Title, parse


def pos(**terms: list[tuple[str, int, int]]) -> dict[str, list[tuple[str, int, int]]]:
    return terms


def at(*spans: tuple[int, int], field: str = "text") -> list[tuple[str, int, int]]:
    return [(field, s, e) for s, e in spans]


def test_it_parses_a_bare_term() -> None:
    assert parse("食堂") == Term("食堂", "食堂", 0)


def test_it_normalises_terms_like_post_text() -> None:
    assert parse("飯堂").terms() == {"饭堂"}
    assert parse("ＡＢＣ").terms() == {"abc"}


def test_it_parses_and_or_not_with_precedence() -> None:
    node = parse("a OR b AND NOT c")
    assert isinstance(node, Or)
    assert isinstance(node.children[1], And)
    assert isinstance(node.children[1].children[1], Not)


@pytest.mark.parametrize("expr", ["a AND b", "a & b", "a && b", "a + b", "a b", "a 与 b"])
def test_it_accepts_every_spelling_of_and(expr: str) -> None:
    assert parse(expr) == And((Term("a", "a", 0), parse(expr).children[1]))  # type: ignore[attr-defined]
    assert parse(expr).evaluate(pos(a=at((0, 1)), b=at((2, 3))))
    assert not parse(expr).evaluate(pos(a=at((0, 1))))


@pytest.mark.parametrize("expr", ["a OR b", "a | b", "a || b", "a 或 b", "a｜b"])
def test_it_accepts_every_spelling_of_or(expr: str) -> None:
    assert parse(expr).evaluate(pos(b=at((0, 1))))
    assert not parse(expr).evaluate(pos())


@pytest.mark.parametrize("expr", ["NOT a", "!a", "-a", "非 a", "！a"])
def test_it_accepts_every_spelling_of_not(expr: str) -> None:
    assert parse(expr).evaluate(pos())
    assert not parse(expr).evaluate(pos(a=at((0, 1))))


def test_it_keeps_hyphens_inside_terms() -> None:
    assert parse("covid-19").terms() == {"covid-19"}
    assert parse("a -b") == And((Term("a", "a", 0), Not(Term("b", "b", 3))))


def test_it_groups_with_parentheses() -> None:
    node = parse("滨江一中 AND (食堂 OR 饭堂) AND NOT 招聘")
    assert node.terms() == {"滨江一中", "食堂", "饭堂", "招聘"}
    assert node.evaluate(pos(滨江一中=at((0, 4)), 饭堂=at((6, 8))))
    assert not node.evaluate(pos(滨江一中=at((0, 4)), 饭堂=at((6, 8)), 招聘=at((9, 11))))
    assert not node.evaluate(pos(滨江一中=at((0, 4))))


def test_it_accepts_full_width_brackets_and_quotes() -> None:
    assert parse("（食堂｜飯堂）＋“學生”").terms() == {"食堂", "饭堂", "学生"}


def test_it_reads_quoted_phrases_with_spaces_and_operators() -> None:
    assert parse('"yu cai AND"').terms() == {"yu cai and"}


def test_near_holds_within_the_distance() -> None:
    node = parse('"滨江一中" NEAR/5 "食堂"')
    assert isinstance(node, Near) and node.distance == 5
    assert node.evaluate(pos(滨江一中=at((0, 4)), 食堂=at((9, 11))))  # gap 5
    assert not node.evaluate(pos(滨江一中=at((0, 4)), 食堂=at((10, 12))))  # gap 6
    assert node.evaluate(pos(滨江一中=at((20, 24)), 食堂=at((15, 17))))  # either order


def test_near_needs_both_in_the_same_field() -> None:
    node = parse("a NEAR/5 b")
    assert not node.evaluate(pos(a=at((0, 1), field="title"), b=at((2, 3))))


def test_near_accepts_tilde_and_or_groups() -> None:
    node = parse("学校 ~3 (食堂 | 饭堂)")
    assert isinstance(node, Near)
    assert node.evaluate(pos(学校=at((0, 2)), 饭堂=at((4, 6))))


def test_title_restricts_to_the_title() -> None:
    node = parse("title:(投诉 | 曝光) 食堂")
    assert isinstance(node, And) and isinstance(node.children[0], Title)
    assert node.evaluate(pos(投诉=at((0, 2), field="title"), 食堂=at((5, 7))))
    assert not node.evaluate(pos(投诉=at((0, 2)), 食堂=at((5, 7))))


def test_title_accepts_a_chinese_prefix() -> None:
    assert parse("标题：投诉") == Title(Term("投诉", "投诉", 3))


def test_str_round_trips() -> None:
    for expr in ["a AND (b OR c) AND NOT d", "title:(a NEAR/3 b)", "a ~2 (b | c)"]:
        node = parse(expr)
        assert parse(str(node)) == parse(str(parse(str(node))))
        assert parse(str(node)).terms() == node.terms()


@pytest.mark.parametrize(
    ("expr", "position", "fragment"),
    [
        ("", 0, "empty expression"),
        ("   ", 3, "empty expression"),
        ("a AND", 5, "nothing after"),
        ("AND a", 0, "expected a term"),
        ("a OR OR b", 5, "expected a term"),
        ("(a OR b", 0, "unclosed '('"),
        ("a OR (b AND (c)", 5, "unclosed '('"),
        ("a)", 1, "unmatched ')'"),
        ('食堂 "滨江', 3, "unclosed quote"),
        ('a ""', 2, "empty quoted phrase"),
        ("a NEAR b", 2, "NEAR needs a distance"),
        ("a NEAR/x b", 2, "NEAR needs a distance"),
        ("a NEAR/5", 8, "nothing after"),
        ("(a AND b) NEAR/3 c", 0, "NEAR needs a term"),
        ("a NEAR/3 NOT c", 9, "expected a term"),
        ("a NEAR/3 b NEAR/3 c", 11, "chained NEAR"),
        ("a ~ b", 2, "'~' needs a distance"),
        ("NOT", 3, "nothing after"),
        ("title:", 6, "nothing after"),
        ("()", 1, "empty parentheses"),
        ("a AND 🔥", 6, "nothing to match"),
        ("(" * 100 + "a" + ")" * 100, 64, "nested deeper"),
    ],
)
def test_it_reports_malformed_expressions_with_positions(
    expr: str, position: int, fragment: str
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(expr)
    assert info.value.position == position
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_it_rejects_huge_expressions() -> None:
    with pytest.raises(ExpressionError):
        parse("a OR " * 2000 + "b")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='ab 食堂()"&|!-+~/NEAROTtitle:5', max_size=30))
def test_it_never_fails_except_with_expression_error(expr: str) -> None:
    try:
        node = parse(expr)
    except ExpressionError as e:
        assert 0 <= e.position <= len(expr)
    else:
        assert parse(str(node)).terms() == node.terms()
