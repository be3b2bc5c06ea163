"""Normalisation: each evasion trick, the offset map, idempotence."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yuqing.text import normalize as normalize_module
from yuqing.text.normalize import Normalized, fold_char, normalize, normalize_word


def test_it_folds_full_width_letters_digits_and_punctuation() -> None:
    assert normalize("ＹｕＣａｉ１２３！").text == "yucai123!"


def test_it_folds_full_width_space_to_a_normal_space() -> None:
    assert normalize("hello\u3000world").text == "hello world"


def test_it_converts_traditional_to_simplified() -> None:
    assert normalize("濱江一中學生們").text == "滨江一中学生们"


def test_it_folds_case() -> None:
    assert normalize("YuCai BJYZ").text == "yucai bjyz"


@pytest.mark.parametrize("zw", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])
def test_it_removes_zero_width_characters(zw: str) -> None:
    assert normalize(f"育{zw}才{zw}中学").text == "育才中学"


def test_it_removes_combining_decorations() -> None:
    assert normalize("育\u0336才\u0336中学").text == "育才中学"


def test_it_removes_invisible_filler_letters() -> None:
    assert normalize("育\u3164才中学").text == "育才中学"


@pytest.mark.parametrize(
    "text",
    [
        "育*才*中*学",
        "育 才 中 学",
        "育.才.中.学",
        "育_才_中_学",
        "育-才-中-学",
        "育·才·中·学",
        "育／才／中／学",
        "育＊才＊中＊学",
        "育 * 才 * 中 * 学",
        "育丶才丶中丶学",
        "育|才|中|学",
    ],
)
def test_it_matches_words_split_by_separators(text: str) -> None:
    assert normalize(text).text == "育才中学"


def test_it_keeps_real_punctuation_between_chinese_characters() -> None:
    # "滨江，一中" is two phrases; removing the comma would invent 滨江一中.
    assert normalize("滨江，一中").text == "滨江,一中"
    assert normalize("滨江、一中。").text == "滨江、一中。"


def test_it_keeps_separators_inside_numbers() -> None:
    assert normalize("第1.5节").text == "第1.5节"


def test_it_removes_separators_between_chinese_and_a_digit() -> None:
    assert normalize("滨江.1中").text == "滨江1中"


def test_it_keeps_single_spaces_between_latin_words() -> None:
    assert normalize("Hello   big\t\nworld").text == "hello big world"
    assert normalize("a.b c-d").text == "a.b c-d"


def test_it_strips_emoji_from_the_matching_text() -> None:
    n = normalize("育才🔥中学👍🏻")
    assert n.text == "育才中学"
    assert n.original == "育才🔥中学👍🏻"  # kept for sentiment


def test_it_strips_emoji_newer_than_the_unicode_database() -> None:
    assert normalize("育才\U0001fae8中学").text == "育才中学"


def test_it_folds_decorative_letters_and_enclosed_numbers() -> None:
    assert normalize("𝐘𝐮𝐂𝐚𝐢 ①中").text == "yucai 1中"
    assert normalize("⼀中").text == "一中"  # Kangxi radical one


def test_it_folds_compatibility_ideographs() -> None:
    assert normalize("\uf900").text == t2s_of("\u8c48")


def t2s_of(text: str) -> str:
    return normalize_module.t2s(text)


def test_it_maps_a_span_back_to_the_original_text() -> None:
    n = normalize("我在育*才🔥中學上学")
    start = n.text.index("育才中学")
    s, e = n.original_span(start, start + 4)
    assert n.original[s:e] == "育*才🔥中學"
    assert n.surface(start, start + 4) == "育*才🔥中學"


def test_it_maps_expanded_characters_as_a_unit() -> None:
    n = normalize("aßb")  # ß folds to ss
    assert n.text == "assb"
    assert n.original_span(1, 2) == (1, 2)
    assert n.original_span(2, 3) == (1, 2)
    assert n.original_span(3, 4) == (2, 3)


def test_it_maps_empty_spans_and_the_end() -> None:
    n = normalize("育\u200b才")
    assert n.original_span(1, 1) == (2, 2)
    assert n.original_span(2, 2) == (3, 3)
    assert n.original_offset(len(n.text)) == len(n.original)


def test_it_rejects_spans_outside_the_text() -> None:
    with pytest.raises(ValueError):
        normalize("abc").original_span(2, 5)


def test_it_maps_through_a_length_changing_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenCC t2s keeps length for its whole dictionary today; the fallback must still be right.
    real = normalize_module.t2s
    monkeypatch.setattr(normalize_module, "t2s", lambda s: real(s).replace("门", "XY"))
    n = normalize("漢門學 門")
    assert n.text == "汉XY学XY"
    assert n.surface(1, 3) == "門"
    assert n.surface(3, 4) == "學"
    assert n.surface(4, 6) == "門"  # the separator space before it is not part of it


def test_it_handles_empty_text() -> None:
    n = normalize("")
    assert n.text == "" and n.original_span(0, 0) == (0, 0)


def test_it_normalises_words_and_trims_them() -> None:
    assert normalize_word("  濱江一中  ") == "滨江一中"


def test_fold_char_is_a_fixed_point() -> None:
    for ch in "İßﬁ½㈠Ａ":
        once = fold_char(ch)
        assert "".join(fold_char(c) for c in once) == once


_ALPHABET = st.sampled_from(list("育才中学滨江一學們飯aBcZ09 .*_-，。!🔥\u200b\u3000Ａｂ１ß"))


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize(text).text
    assert normalize(once).text == once


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_every_normalised_character_comes_from_its_original_span(text: str) -> None:
    n: Normalized = normalize(text)
    last_end = 0
    for i, ch in enumerate(n.text):
        s, e = n.original_span(i, i + 1)
        assert 0 <= s < e <= len(text)
        assert s >= last_end or n.original_span(i - 1, i) == (s, e)  # monotone, or one unit
        last_end = e
        assert ch in normalize(text[s:e]).text or ch == " "
    assert n.original_span(0, len(n.text))[1] <= len(text)


def test_a_long_separator_run_collapses_the_same_way_twice() -> None:
    # A whitespace run counts as one separator, so collapsing it cannot make a second pass
    # delete what the first kept (hypothesis found '育  \u3000\u3000育').
    assert normalize("育  \u3000\u3000育").text == "育育"
    assert normalize("育  *  才").text == "育才"
    assert normalize("育 * * * 才").text == "育 * * * 才"  # four separators: a real gap
    assert normalize(normalize("育 * * * 才").text).text == "育 * * * 才"


def test_long_posts_fold_through_the_table_lookup_like_short_ones() -> None:
    # From 48 characters on, a post without special characters is folded by a numpy lookup
    # over its UTF-16 code units; the list translate gives the same text.
    tables = normalize_module._get_tables()
    text = "ＹｕＣａｉ，濱江一中Hello育*才\u3000一二三ＡＢＣ！？" * 4
    assert len(text) >= 48 and tables.special_bmp.search(text) is None
    assert normalize_module._fold(text)[0] == text.translate(tables.bmp)


def test_fold_is_the_first_stage_only() -> None:
    assert normalize_module.fold("ＹｕＣａｉ 育*才🔥學") == "yucai 育*才學"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x3400, max_codepoint=0x9FFF), max_size=30))
def test_opencc_is_only_skipped_for_text_it_would_not_change(text: str) -> None:
    if normalize_module._get_t2s_trigger().search(text) is None:
        assert normalize_module.t2s(text) == text


def test_the_phrase_only_characters_match_the_installed_opencc(tmp_path: Path) -> None:
    # Every dictionary entry that changes text must hold a trigger character: one OpenCC
    # changes alone (found at run time) or one of T2S_PHRASE_ONLY (沈 of 沈默 → 沉默).
    import opencc

    base = Path(opencc.__file__).parent / "clib"
    tool = base / "bin" / "opencc_dict"
    if not tool.exists():
        pytest.skip("opencc_dict tool not shipped with this OpenCC")
    trigger = normalize_module._get_t2s_trigger()
    env = {**os.environ, "LD_LIBRARY_PATH": str(base / "lib64")}
    missing = []
    for name in ("TSPhrases", "TSCharacters", "TSCharactersExt"):
        out = tmp_path / f"{name}.txt"
        src = base / "share" / "opencc" / f"{name}.ocd2"
        if not src.exists():
            continue
        subprocess.run(
            [str(tool), "-i", str(src), "-o", str(out), "-f", "ocd2", "-t", "text"],
            check=True,
            env=env,
            capture_output=True,
        )
        for line in out.read_text(encoding="utf-8").splitlines():
            key, values = line.split("\t")
            value = values.split(" ")[0]
            if value == key or any(ord(c) > 0xFFFF for c in key):
                continue  # unchanged, or a text beyond the BMP (always converted)
            # A text holding this key holds all its characters: one trigger is enough.
            if trigger.search(key) is None:
                missing.append(key)
    assert missing == []
