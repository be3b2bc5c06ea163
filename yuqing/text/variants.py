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

Most posts hold no Latin letter, and then only a homophone can be found (pinyin spellings and
abbreviations are typed in letters). Such a post takes a cheaper road, the *sound stream*:
every character becomes one character standing for its syllable (``sound_ids``), so the
stream has the text's length, positions need no mapping, and the transliteration is one numpy
table lookup instead of a translate that builds multi-letter strings. A word's homophone
patterns (``sound_patterns``) are its full spellings in the same alphabet. The letter stream
finds nothing more in a post without Latin letters: a homophone has the word's length and
every syllable of the word, one per character.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from itertools import accumulate, repeat
from typing import TYPE_CHECKING, Literal, cast

from .normalize import HAN_CLASS

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    _Units = Callable[[bytes], npt.NDArray[np.uint16]]

__all__ = [
    "GENERIC_SUFFIXES",
    "MIN_SYLLABLES",
    "PhoneticStream",
    "VariantPattern",
    "distinctive_part",
    "phonetic",
    "phonetic_patterns",
    "sound_ids",
    "sound_patterns",
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
# What a character without a syllable becomes in the sound stream: in no pattern.
_NO_SOUND = " "
# Sound-stream characters: one per distinct reading from here up. Below U+0800 every one is
# two bytes of UTF-8, which keeps the automaton's haystack short.
_SOUND_BASE = 0x100


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
    # Sound stream: one character per distinct reading, and the BMP → sound-character table.
    sounds: dict[str, str]
    sound_lut: npt.NDArray[np.uint16]
    units: Callable[[bytes], npt.NDArray[np.uint16]]  # UTF-16-LE bytes as a uint16 view


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
                sounds, sound_lut, units = _sound_tables(table)
                _tables = _Tables(table, bmp, length, length_bmp, sounds, sound_lut, units)
    return _tables


def _sound_tables(
    table: dict[int, str | None],
) -> tuple[dict[str, str], npt.NDArray[np.uint16], Callable[[bytes], npt.NDArray[np.uint16]]]:
    import numpy  # loaded with the tables: importing this module must stay cheap

    sounds: dict[str, str] = {}
    lut = numpy.full(0x10000, ord(_NO_SOUND), dtype=numpy.uint16)
    for cp, reading in sorted(table.items()):
        if cp > 0xFFFF or not reading:
            continue  # beyond the BMP: such a text takes the letter stream
        sound = sounds.get(reading)
        if sound is None:
            sound = sounds[reading] = chr(_SOUND_BASE + len(sounds))
        lut[cp] = ord(sound)
    return sounds, lut, cast("_Units", partial(numpy.frombuffer, dtype=numpy.uint16))


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


def _spellings(word: str) -> list[list[str]]:
    """The word's syllables per character, then its phrase-aware reading when it differs."""
    sylls = syllables(word)
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
    return spellings


def _has_patterns(word: str) -> bool:
    return bool(_HAN_RE.search(word)) and len(syllables(word)) >= MIN_SYLLABLES


def phonetic_patterns(word: str) -> list[VariantPattern]:
    """Stream patterns for a *normalised* subject word; empty when too short or not Chinese.

    - full: the syllables per character, and the phrase-aware pinyin when it differs;
    - abbreviation: initials of all syllables (yczx), and initials of the distinctive part
      followed by the generic tail spelt out (yc + zhongxue, matching "YC中学").
    """
    if not _has_patterns(word):
        return []
    spellings = _spellings(word)
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


def sound_patterns(word: str) -> list[tuple[str, str]]:
    """(sound-stream pattern, letter spelling) of each full spelling of a *normalised* subject
    word: what ``sound_ids`` of a homophone of it contains. Empty when ``phonetic_patterns``
    has no full pattern for the word, and for a spelling with a syllable no character reads
    as (no text can spell it one character per syllable)."""
    if not _has_patterns(word):
        return []
    sounds = _get_tables().sounds
    out: dict[str, str] = {}
    for spelling in _spellings(word):
        letters = "".join(spelling)
        if not (letters.isascii() and letters.isalnum()):
            continue  # not a phonetic pattern either
        ids = [sounds.get(s) for s in spelling]
        if all(ids):
            out.setdefault("".join(ids), letters)  # type: ignore[arg-type]
    return list(out.items())


def sound_ids(text: str) -> str | None:
    """The sound stream of a normalised text: one character per character of ``text``, equal
    for characters of the same reading; None when the text holds characters beyond the BMP
    (rare; the letter stream handles those)."""
    data = text.encode("utf-16-le", "surrogatepass")
    if len(data) != 2 * len(text):
        return None  # a surrogate pair: a character beyond the BMP
    tables = _get_tables()
    return tables.sound_lut.take(tables.units(data)).tobytes().decode("utf-16-le")


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
