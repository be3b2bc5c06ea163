"""Phonetic patterns and the phonetic stream."""

from __future__ import annotations

import ahocorasick_rs

from yuqing.text.normalize import normalize
from yuqing.text.variants import (
    distinctive_part,
    phonetic,
    phonetic_patterns,
    sound_ids,
    sound_patterns,
    syllables,
)


def patterns(word: str) -> dict[str, str]:
    return {p.pattern: p.kind for p in phonetic_patterns(word)}


def test_it_spells_words_one_reading_per_character() -> None:
    assert syllables("育才中学") == ["yu", "cai", "zhong", "xue"]
    assert syllables("绿") == ["lv"]
    assert syllables("滨江1中") == ["bin", "jiang", "yi", "zhong"]


def test_it_splits_off_the_generic_part_of_a_school_name() -> None:
    assert distinctive_part("育才中学") == ("育才", "中学")
    assert distinctive_part("滨江一中") == ("滨江", "一中")
    assert distinctive_part("滨江市第一中学") == ("滨江市", "第一中学")
    assert distinctive_part("育才实验学校") == ("育才", "实验学校")
    assert distinctive_part("育才") == ("育才", "")


def test_it_makes_full_and_abbreviated_patterns() -> None:
    assert patterns("育才中学") == {
        "yucaizhongxue": "full",
        "yczx": "abbreviation",
        "yczhongxue": "abbreviation",
    }


def test_it_adds_the_phrase_reading_of_heteronyms() -> None:
    p = patterns("重庆一中")
    assert p["chongqingyizhong"] == "full"
    assert p["cqyz"] == "abbreviation"


def test_it_makes_no_patterns_for_short_or_latin_words() -> None:
    assert patterns("一中") == {}
    assert patterns("abc") == {}


def find(word: str, text: str) -> list[str]:
    norm = normalize(text).text
    stream = phonetic(norm)
    pats = [p.pattern for p in phonetic_patterns(word)]
    ac = ahocorasick_rs.AhoCorasick(pats)
    out = []
    for _, s, e in ac.find_matches_as_indexes(stream.stream, overlapping=True):
        span = stream.text_span(s, e)
        if span:
            out.append(norm[span[0] : span[1]])
    return out


def test_the_stream_finds_homophones_pinyin_and_abbreviations() -> None:
    assert find("育才中学", "我在育菜中学") == ["育菜中学"]
    assert find("育才中学", "Yu Cai Zhong Xue 好") == ["yu cai zhong xue"]
    assert find("育才中学", "yucai中学") == ["yucai中学"]
    assert find("育才中学", "YC中学的食堂") == ["yc中学"]
    assert find("育才中学", "Y.C.中学") == ["y.c.中学"]


def test_the_stream_respects_latin_word_boundaries() -> None:
    assert find("育才中学", "xyucaizhongxue") == []
    assert find("育才中学", "yczxabc") == []
    assert find("育才中学", "ayczx") == []


def test_the_stream_does_not_split_a_syllable() -> None:
    # 学 xue: a pattern ending inside another character's syllable is no hit.
    assert find("育才中学", "育才中学") == ["育才中学"]
    stream = phonetic("西安")
    assert stream.stream == "xian"
    assert stream.text_span(0, 2) == (0, 1)
    assert stream.text_span(0, 3) is None  # "xia" ends inside 安
    assert stream.text_span(1, 4) is None


def test_the_stream_handles_characters_beyond_the_bmp() -> None:
    stream = phonetic("𠀀育才")
    assert stream.stream.endswith("yucai")


def test_the_sound_stream_has_one_character_per_character() -> None:
    ids = sound_ids("育菜中学，1中")
    assert ids is not None and len(ids) == len("育菜中学，1中")
    assert ids[:4] == sound_ids("育才中学")  # 菜 and 才 read cai
    assert ids[5] == sound_ids("一")  # a digit reads as its numeral
    assert ids[4] == " "  # no reading: in no pattern
    assert sound_ids("𠀀育才") is None  # beyond the BMP: the letter stream's job


def test_sound_patterns_are_the_full_spellings() -> None:
    pats = dict(sound_patterns("重庆一中"))
    assert set(pats.values()) == {"zhongqingyizhong", "chongqingyizhong"}
    assert all(len(p) == 4 for p in pats)
    assert sound_patterns("一中") == []
