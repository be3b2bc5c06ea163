"""Matching posts against schemes: evasion tricks, excludes, expressions, offsets, properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from yuqing.text.matcher import Matcher, match_scheme
from yuqing.text.normalize import normalize
from yuqing.text.scheme import Scheme
from yuqing.text.types import Post, SchemeMatch

BINJIANG = Scheme.from_dict(
    {
        "name": "滨江一中",
        "subject_words": ["滨江一中", "滨江市第一中学", "滨江市一中"],
        "region_words": ["滨江", "滨江市"],
        "event_words": ["食堂", "投诉"],
        "exclude_words": ["滨江一中路", "滨江一中站"],
    }
)
YUCAI = Scheme("育才中学", ("育才中学",), region_words=("青屿",), event_words=("食堂",))


def one(title: str, text: str, scheme: Scheme = YUCAI) -> SchemeMatch:
    return match_scheme(scheme, title, text)


def subjects(m: SchemeMatch) -> list[tuple[str, str]]:
    return [(h.match_type, h.surface) for h in m.words("subject")]


def test_it_matches_a_subject_word_as_written() -> None:
    m = one("", "育才中学的食堂又涨价了")
    assert m.matched and m.scheme == "育才中学"
    assert subjects(m) == [("exact", "育才中学")]
    assert [h.surface for h in m.words("event")] == ["食堂"]


def test_it_does_not_match_without_a_subject_word() -> None:
    m = one("", "青屿的食堂又涨价了")
    assert not m.matched
    assert [h.kind for h in m.hits] == ["region", "event"]


@pytest.mark.parametrize(
    "text",
    [
        "育才中學",  # traditional
        "育才\u3000中学",  # full-width space
        "育\u20dd才中学",  # enclosing circle
        "育\u200b才\u200d中学",  # zero-width
        "育*才*中*学",
        "育 才 中 学",
        "育.才.中.学",
        "育_才_中_学",
        "育才🔥中学",
    ],
)
def test_it_matches_words_hidden_by_evasion_tricks(text: str) -> None:
    m = one("", f"听说{text}出事了")
    assert m.matched
    hit = m.words("subject")[0]
    assert hit.match_type == "exact"
    assert hit.surface == text  # the original characters, separators included
    assert f"听说{text}出事了"[hit.start : hit.end] == text


def test_it_matches_full_width_latin_in_a_word() -> None:
    scheme = Scheme("abc", ("ABC学校",))
    assert one("", "ａｂｃ学校食堂", scheme).matched


def test_it_matches_words_configured_in_traditional_or_full_width() -> None:
    scheme = Scheme("x", ("濱江一中",), event_words=("食堂",))
    m = one("", "滨江一中食堂", scheme)
    assert m.matched and m.words("subject")[0].word == "濱江一中"


def test_it_matches_case_insensitively() -> None:
    scheme = Scheme("x", ("BJYZ School",))
    assert one("", "bjyz school news", scheme).matched


def test_it_matches_homophones_of_subject_words() -> None:
    assert subjects(one("", "育菜中学的食堂")) == [("homophone", "育菜中学")]


def test_it_matches_digits_written_for_numerals() -> None:
    m = one("", "滨江1中篮球队冲冲冲", BINJIANG)
    assert m.matched and subjects(m) == [("homophone", "滨江1中")]


def test_it_does_not_match_unrelated_characters_that_sound_alike() -> None:
    assert not one("", "玉彩钟雪").matched


def test_a_homophone_keeps_a_character_of_the_distinctive_part() -> None:
    assert not one("", "玉彩中学").matched  # may well be another school
    assert one("", "玉才中学").matched


@pytest.mark.parametrize(
    "text", ["yucai中学", "yu cai zhong xue", "YuCaiZhongXue", "YUCAI ZHONGXUE", "育cai中学"]
)
def test_it_matches_pinyin_spellings(text: str) -> None:
    m = one("", f"{text} 的食堂")
    assert m.matched and subjects(m) == [("pinyin", text)]


@pytest.mark.parametrize("text", ["YC中学", "yczx", "Y.C.中学", "YCZX"])
def test_it_matches_abbreviations(text: str) -> None:
    m = one("", f"{text}食堂好贵")
    assert m.matched and subjects(m) == [("abbreviation", text)]


@pytest.mark.parametrize("text", ["abcyczx", "yczxabc", "ayc中学"])
def test_it_matches_abbreviations_only_on_word_boundaries(text: str) -> None:
    assert not one("", text).matched


def test_it_does_not_make_homophones_of_region_or_event_words() -> None:
    m = one("", "青鱼的食糖")  # 青屿 / 食堂 sound-alikes
    assert m.hits == ()


def test_it_can_turn_variants_off() -> None:
    assert Matcher([YUCAI], variants=False).match("", "育菜中学") == []


def test_a_street_of_the_same_name_is_not_the_school() -> None:
    m = one("", "滨江一中路发生车祸", BINJIANG)
    assert not m.matched
    assert m.words("subject") == []
    assert [h.surface for h in m.words("exclude")] == ["滨江一中路"]


def test_the_school_still_matches_beside_its_street() -> None:
    m = one("", "滨江一中路上的滨江一中", BINJIANG)
    assert m.matched
    assert [(h.start, h.end) for h in m.words("subject")] == [(7, 11)]


def test_an_exclude_only_covers_hits_in_its_own_field() -> None:
    assert one("滨江一中", "滨江一中路", BINJIANG).matched


def test_it_reports_overlapping_words() -> None:
    m = one("", "滨江市第一中学", BINJIANG)
    assert {h.word for h in m.hits} == {"滨江市第一中学", "滨江", "滨江市"}


def test_hits_carry_original_offsets_per_field() -> None:
    title, text = "【濱江一中】", "家長說：滨 江 一 中 食堂🔥投訴"
    m = one(title, text, BINJIANG)
    assert m.matched
    for h in m.hits:
        src = title if h.field == "title" else text
        assert src[h.start : h.end] == h.surface
    assert [h.field for h in m.words("subject")] == ["title", "text"]
    assert m.words("subject")[1].surface == "滨 江 一 中"
    assert [h.surface for h in m.words("event")] == ["食堂", "投訴"]


def test_the_expression_must_hold_too() -> None:
    scheme = Scheme("x", ("育才中学",), expression="育才中学 AND (食堂 OR 饭堂) AND NOT 招聘")
    assert one("", "育才中学饭堂", scheme).matched
    assert not one("", "育才中学招聘食堂员工", scheme).matched
    assert not one("", "育才中学", scheme).matched
    m = one("", "育才中学食堂", scheme)
    assert [h.kind for h in m.hits] == ["subject", "term"]


def test_expression_terms_see_variant_hits_of_subject_words() -> None:
    scheme = Scheme("x", ("育才中学",), expression="育才中学 NEAR/3 食堂")
    assert one("", "育菜中学的食堂", scheme).matched
    assert not one("", "育菜中学的一个很大的食堂", scheme).matched


def test_title_expressions_look_only_at_the_title() -> None:
    scheme = Scheme("x", ("育才中学",), expression="title:投诉")
    assert one("投诉育才中学", "", scheme).matched
    assert not one("育才中学", "投诉", scheme).matched


def test_expression_terms_are_normalised() -> None:
    scheme = Scheme("x", ("育才中学",), expression="飯堂")
    assert one("", "育才中学饭堂", scheme).matched


def test_one_matcher_serves_many_schemes() -> None:
    matcher = Matcher([BINJIANG, YUCAI])
    results = matcher.match("", "滨江一中和育才中学联考")
    assert [(r.scheme, r.matched) for r in results] == [("滨江一中", True), ("育才中学", True)]
    assert [r.scheme for r in matcher.match("", "育才中学")] == ["育才中学"]


def test_it_returns_only_schemes_with_subject_hits_unless_asked() -> None:
    matcher = Matcher([BINJIANG, YUCAI])
    assert matcher.match("", "滨江的天气") == []
    everything = matcher.match("", "滨江的天气", all_schemes=True)
    assert [(r.scheme, r.matched, len(r.hits)) for r in everything] == [
        ("滨江一中", False, 1),
        ("育才中学", False, 0),
    ]


def test_it_uses_the_scheme_id_as_key() -> None:
    scheme = Scheme("育才中学", ("育才中学",), id=42)
    assert one("", "育才中学", scheme).scheme == "42"


def test_it_rejects_schemes_with_the_same_key() -> None:
    with pytest.raises(ValueError, match="distinct"):
        Matcher([YUCAI, YUCAI])


def test_it_matches_a_post() -> None:
    post = Post(id="p1", title="育才中学", text="")
    assert Matcher([YUCAI]).match_post(post)[0].matched


def test_it_handles_empty_posts() -> None:
    assert one("", "").hits == ()
    assert Matcher([]).match("育才中学", "") == []


def test_it_reports_its_size() -> None:
    assert Matcher([BINJIANG]).pattern_count > 7


# ---------------------------------------------------------------------------------------
# Properties

_CHARS = st.sampled_from(list("育才中学滨江一二ab c"))


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(_CHARS, max_size=40).map("".join),
    words=st.lists(st.lists(_CHARS, min_size=1, max_size=4).map("".join), min_size=1, max_size=5),
)
def test_it_finds_exactly_the_substring_occurrences(text: str, words: list[str]) -> None:
    text = normalize(text).text
    norm_words = {normalize(w).text.strip() for w in words} - {""}
    assume(norm_words)
    scheme = Scheme("p", tuple(sorted(norm_words)))
    m = Matcher([scheme], variants=False).match("", text, all_schemes=True)[0]
    found = {(h.word, h.start, h.end) for h in m.hits if h.match_type == "exact"}
    expected = {
        (w, i.start(), i.start() + len(w))
        for w in norm_words
        for i in re.finditer(f"(?={re.escape(w)})", text)
    }
    assert found == expected
    assert m.matched == bool(expected)


_RAW = st.sampled_from(list("育才中學滨江一Ab *.🔥\u200b　ｃ，"))


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(_RAW, max_size=40).map("".join), word=st.sampled_from(["育才中学", "滨江", "ab"])
)
def test_every_hit_points_at_an_original_substring_that_normalises_to_the_word(
    text: str, word: str
) -> None:
    m = Matcher([Scheme("p", (word,))], variants=False).match("", text, all_schemes=True)[0]
    norm = normalize(text).text
    assert len(m.hits) == norm.count(word) if len(word) > 1 and word[0] != word[-1] else True
    for h in m.hits:
        assert text[h.start : h.end] == h.surface
        assert normalize(h.surface).text.strip() == word


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_it_never_fails_on_arbitrary_text(text: str) -> None:
    for r in Matcher([BINJIANG, YUCAI]).match(text, text, all_schemes=True):
        for h in r.hits:
            assert text[h.start : h.end] == h.surface


# The sound stream (fields without Latin letters) and the letter stream find the same hits.
_SOUNDS = st.sampled_from(list("育玉才菜财中钟学雪滨宾江将一1衣重虫庆青的，。 "))
_HOMOPHONE_SCHEMES = [
    YUCAI,
    BINJIANG,
    Scheme("重庆一中", ("重庆一中",), region_words=("重庆",)),
]


@settings(max_examples=300, deadline=None)
@given(text=st.lists(_SOUNDS, max_size=30).map("".join))
def test_the_sound_stream_finds_what_the_letter_stream_finds(text: str) -> None:
    import yuqing.text.matcher as matcher_module

    matcher = Matcher(_HOMOPHONE_SCHEMES)
    fast = matcher.match("", text, all_schemes=True)
    real = matcher_module.sound_ids
    try:
        matcher_module.sound_ids = lambda _t: None  # type: ignore[assignment]
        slow = matcher.match("", text, all_schemes=True)
    finally:
        matcher_module.sound_ids = real
    assert fast == slow


def test_the_sound_stream_finds_homophones_and_numerals() -> None:
    assert subjects(one("", "今天育菜中学的食堂")) == [("homophone", "育菜中学")]
    assert subjects(one("", "滨江1中", BINJIANG)) == [("homophone", "滨江1中")]
    assert not one("", "滨江11中", BINJIANG).matched  # 1 cut out of a longer number
    assert subjects(one("", "冲庆一中", Scheme("x", ("重庆一中",)))) == [("homophone", "冲庆一中")]
