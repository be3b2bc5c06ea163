"""Homophone, pinyin and abbreviation spellings of subject words.

Digits read as their Chinese numerals in the stream, so 滨江1中 meets 滨江一中.

Design: instead of enumerating homophones (育才 has hundreds of same-sound spellings), the
matcher transliterates the *text* into a phonetic stream — every Han character becomes its
toneless pinyin syllable, Latin letters and digits stay, light separators (space . - _ ' ·)
vanish — and runs a second automaton over that stream. A subject word contributes a few
stream patterns: its syllables ("yucaizhongxue") and initials-based abbreviations ("yczx",
"yc" + "zhongxue"). So 育菜中学, "Yu Cai Zhong Xue", "yucai中学", "YC中学" all meet one of a
handful of patterns per word, and the cost stays one translate and one automaton pass per post.

The stream uses one reading per character (pypinyin's first, most common one) for text and
words alike, so a word always meets its own spelling; the phrase-aware reading of the word
(重庆 → chongqing) is added as a second pattern for people who type the name in pinyin.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import Literal

from .normalize import HAN_CLASS

__all__ = [
    "GENERIC_SUFFIXES",
    "MIN_SYLLABLES",
    "PhoneticStream",
    "VariantPattern",
    "distinctive_part",
    "phonetic",
    "phonetic_patterns",
    "syllables",
]

PatternKind = Literal["full", "abbreviation"]

# Fewer syllables than this and the sound alone is too ambiguous (一中 → 医中, 依中 …).
MIN_SYLLABLES = 3
# Generic tails of school names; what precedes them is the distinctive part that people
# abbreviate (育才中学 → YC中学).
GENERIC_SUFFIXES: tuple[str, ...] = (
    "高级中学",
    "初级中学",
    "实验中学",
    "实验小学",
    "实验学校",
    "外国语学校",
    "中心小学",
    "职业技术学院",
    "职业技术学校",
    "职业学校",
    "附属中学",
    "附属小学",
    "中学",
    "小学",
    "大学",
    "学院",
    "学校",
    "高中",
    "初中",
    "附中",
    "附小",
    "幼儿园",
    "职高",
    "中专",
)
_NUMBERED_SUFFIX = re.compile(r"第?[一二三四五六七八九十百零〇0-9]+(?:中学|小学|高中|初中|中|小)$")
# Deleted from the stream so "yu cai", "yu-cai", "Y.C." read as one spelling.
_STREAM_DROP = " .-_'·"
_HAN_RE = re.compile(f"[{HAN_CLASS}]")
_DIGIT_READINGS = ("ling", "yi", "er", "san", "si", "wu", "liu", "qi", "ba", "jiu")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_WORDCHAR = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _strip_tone(reading: str) -> str:
    reading = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")
    return "".join(c for c in reading if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class _Tables:
    table: dict[int, str | None]
    bmp: list[str | None]  # list form for the BMP: translate without a KeyError per char
    length: dict[str, int]  # stream length of every character that is not 1
    # The same as a BMP translate table to chr(length): offsets become one translate and
    # one C-level accumulate over bytes.
    length_bmp: list[str]


_tables: _Tables | None = None
_lock = threading.Lock()


def _get_tables() -> _Tables:
    global _tables
    if _tables is None:
        with _lock:
            if _tables is None:
                from pypinyin.pinyin_dict import pinyin_dict  # 40k entries: load on demand

                table: dict[int, str | None] = {}
                for cp, readings in pinyin_dict.items():
                    table[cp] = _strip_tone(readings.split(",")[0])
                for ch in _STREAM_DROP:
                    table[ord(ch)] = None
                # 滨江1中 is read, and written to dodge filters, as 滨江一中.
                for digit, reading in zip("0123456789", _DIGIT_READINGS, strict=True):
                    table[ord(digit)] = reading
                bmp: list[str | None] = [chr(cp) for cp in range(0x10000)]
                for cp, out in table.items():
                    if cp < 0x10000:
                        bmp[cp] = out
                length = {chr(cp): len(v or "") for cp, v in table.items() if len(v or "") != 1}
                length_bmp = ["\x01"] * 0x10000
                for ch, n in length.items():
                    if ord(ch) < 0x10000:
                        length_bmp[ord(ch)] = chr(n)
                _tables = _Tables(table, bmp, length, length_bmp)
    return _tables


def syllables(word: str) -> list[str]:
    """The stream spelling of each character of a normalised word (one reading per char)."""
    table = _get_tables().table
    out = []
    for ch in word:
        s = table.get(ord(ch), ch)
        if s:
            out.append(s)
    return out


def distinctive_part(word: str) -> tuple[str, str]:
    """Split a school name into (distinctive part, generic tail): 育才中学 → (育才, 中学)."""
    m = _NUMBERED_SUFFIX.search(word)
    if m and m.start() >= 2:
        return word[: m.start()], word[m.start() :]
    for suffix in GENERIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            return word[: -len(suffix)], suffix
    return word, ""


@dataclass(frozen=True, slots=True)
class VariantPattern:
    """One phonetic-stream pattern for a word."""

    pattern: str
    kind: PatternKind


def phonetic_patterns(word: str) -> list[VariantPattern]:
    """Stream patterns for a *normalised* subject word; empty when too short or not Chinese.

    - full: the syllables per character, and the phrase-aware pinyin when it differs;
    - abbreviation: initials of all syllables (yczx), and initials of the distinctive part
      followed by the generic tail spelt out (yc + zhongxue, matching "YC中学").
    """
    if not _HAN_RE.search(word):
        return []
    sylls = syllables(word)
    if len(sylls) < MIN_SYLLABLES:
        return []
    spellings = [sylls]
    try:
        from pypinyin import lazy_pinyin

        table = _get_tables().table
        phrase = [
            _strip_tone(s) if len(s) > 1 else (table.get(ord(s), s) or "")
            for s in lazy_pinyin(word, errors="default")
        ]
        # Only when it aligns with the characters; otherwise initials would shift.
        if len(phrase) == len(sylls) and phrase != sylls:
            spellings.append(phrase)
    except ImportError:  # pragma: no cover - pypinyin is a hard dependency
        pass
    out: dict[str, PatternKind] = {}
    for spelling in spellings:
        out.setdefault("".join(spelling), "full")
    for spelling in spellings:
        initials = "".join(s[0] for s in spelling)
        if len(initials) >= MIN_SYLLABLES:
            out.setdefault(initials, "abbreviation")
    head, tail = distinctive_part(word)
    if tail:
        n_head = len(syllables(head))
        if n_head >= 2:
            for spelling in spellings:
                abbr = "".join(s[0] for s in spelling[:n_head]) + "".join(spelling[n_head:])
                out.setdefault(abbr, "abbreviation")
    return [VariantPattern(p, k) for p, k in out.items() if p.isascii() and p.isalnum()]


class PhoneticStream:
    """A normalised text as a phonetic stream, with lazy positions back to the text."""

    __slots__ = ("_cum", "stream", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        tables = _get_tables()
        # The list table is 3x faster but silently leaves characters beyond the BMP alone.
        table = tables.table if _ASTRAL.search(text) else tables.bmp
        self.stream = text.translate(table)
        self._cum: list[int] | None = None

    def _offsets(self) -> list[int]:
        # Built only when the automaton found something: C-level accumulate, no Python loop.
        if self._cum is None:
            tables = _get_tables()
            if _ASTRAL.search(self.text):
                lengths: Iterable[int] = map(tables.length.get, self.text, repeat(1))
            else:
                lengths = self.text.translate(tables.length_bmp).encode("latin-1")
            self._cum = list(accumulate(lengths, initial=0))
        return self._cum

    def text_span(self, start: int, end: int) -> tuple[int, int] | None:
        """Text span of stream span [start, end), or None unless it starts and ends on a
        character boundary and on a word boundary for Latin letters and digits."""
        cum = self._offsets()
        text = self.text
        i = bisect_left(cum, start)
        if i >= len(text) or cum[i] != start:
            return None
        length = _get_tables().length
        while i < len(text) and length.get(text[i], 1) == 0:
            i += 1
        j = bisect_left(cum, end)
        if j > len(text) or cum[j] != end or j <= i:
            return None
        if text[i] in _WORDCHAR and i > 0 and text[i - 1] in _WORDCHAR:
            return None
        if text[j - 1] in _WORDCHAR and j < len(text) and text[j] in _WORDCHAR:
            return None
        return i, j


def phonetic(text: str) -> PhoneticStream:
    """Transliterate normalised text into the phonetic stream."""
    return PhoneticStream(text)
