"""Fold the tricks people use to dodge keyword filters, keeping a map back to the original.

``normalize(text)`` returns the *matching* text: full/half width folded (NFKC per character),
traditional → simplified (OpenCC ``t2s``), case folded, zero-width / combining / decorative
characters and emoji removed, separators between Chinese characters removed (育*才*中*学 →
育才中学) and whitespace runs collapsed to one space. The original text is kept on the result
for everything that wants the emoji and punctuation back (sentiment, display).

Every stage records only its *edits* (characters deleted, expanded or contracted); positions
between edits map by a constant shift. Mapping a span back costs a few bisects, and a post
without special characters costs no Python loop at all.

Speed (the matcher normalises every field of every post): the common post, all BMP and no
length-changing character, is folded with one numpy table lookup over its UTF-16 code units
(3x faster than ``str.translate`` with a list table, which boxes an int per character); the
separator regex starts with a character class so the regex engine skips ahead to separators;
and OpenCC is only called when the text holds a character it could change (most posts on
mainland platforms are simplified already).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    _Units = Callable[[bytes], npt.NDArray[np.uint16]]

__all__ = [
    "HAN_CLASS",
    "SEPARATORS",
    "Normalized",
    "fold",
    "fold_char",
    "normalize",
    "normalize_word",
    "t2s",
]

# Han ideographs (BMP, extension A, compatibility, supplementary planes) and the ideographic
# zero, which Chinese uses as a digit in names (二〇二六).
HAN_CLASS = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"

# Characters that people put between Chinese characters to split a name: 育*才, 育 才,
# 育.才, 育_才, 育丶才. Real punctuation (，。、！？：；) is *not* here: removing a comma
# would make "滨江，一中" read as "滨江一中".
SEPARATORS = " *._-+=~^|/\\#@'\"`·•・‧∙⋅×丶"

_WS = "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029"

# Blocks where every character is an emoji / pictograph. Python's unicodedata may be older
# than the emoji in a post, so unassigned code points here are deleted too.
_EMOJI_BLOCKS = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x1FB00, 0x1FBFF))
# Blank "letters" that render as nothing and are popular for padding names.
_INVISIBLE_LETTERS = "\u115f\u1160\u3164\uffa0\u180e"
_DELETE_CATEGORIES = {"Cf", "Cc", "Mn", "Me", "Co", "So", "Sk", "Cs"}
# Beyond the BMP, only these blocks hold characters that fold to something useful or that
# should be deleted; scanning all 1.1M code points at import would cost a quarter second.
_SCAN_RANGES = (
    (0x0000, 0x10000),
    (0x1D400, 0x1D800),  # mathematical alphanumerics (𝐀 𝒜 𝔸 …)
    (0x1F000, 0x1FC00),  # emoji, enclosed alphanumerics (🄰 🅰), symbols
    (0x2F800, 0x2FA20),  # CJK compatibility ideographs supplement
    (0xE0000, 0xE0080),  # tag characters (emoji flags)
    (0xE0100, 0xE01F0),  # variation selectors supplement
)


def _in_emoji_block(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _EMOJI_BLOCKS)


def _deleted(ch: str) -> bool:
    cp = ord(ch)
    if cp < 0x80:
        return unicodedata.category(ch) == "Cc"
    if _in_emoji_block(cp) or ch in _INVISIBLE_LETTERS:
        return True
    return unicodedata.category(ch) in _DELETE_CATEGORIES


def fold_char(ch: str, _depth: int = 0) -> str:
    """What one character becomes in matching text ('' when it is dropped).

    NFKC then casefold, applied until stable, so the table is idempotent (İ → i + combining
    dot → i).
    """
    if ch in _WS:
        return " "
    folded = unicodedata.normalize("NFKC", ch).casefold()
    if folded == ch or _depth > 4:
        return "" if _deleted(ch) else ch
    return "".join(fold_char(c, _depth + 1) for c in folded)


@dataclass(frozen=True, slots=True)
class _Tables:
    table: dict[int, str | None]  # every code point that changes
    bmp: list[str | None]  # the same for the BMP as a list: no KeyError per unchanged char
    special_len: dict[str, int]  # characters whose output is not exactly one character
    # Length-changing characters in the BMP. Absent, together with anything beyond the BMP
    # (the usual case), a post costs one list translate and no offset map. Kept apart from
    # the astral check because a class with astral members loses the regex engine's bitmap
    # and is tested range by range (9x slower). Also holds BMP characters folding to one
    # character beyond the BMP: the UTF-16 lookup below cannot write those.
    special_bmp: re.Pattern[str]
    # The fold of every BMP code unit as a uint16 array: a post without special characters is
    # folded by one ``take`` over its UTF-16 encoding.
    lut: npt.NDArray[np.uint16]
    units: Callable[[bytes], npt.NDArray[np.uint16]]  # UTF-16-LE bytes as a uint16 view


def _char_class(chars: Iterable[str]) -> str:
    cps = sorted({ord(c) for c in chars})
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = re.escape(chr(cps[i])), re.escape(chr(cps[j]))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "[" + "".join(parts) + "]"


def _build_tables() -> _Tables:
    table: dict[int, str | None] = {}
    special_len: dict[str, int] = {}
    slow_bmp: list[str] = []
    for lo, hi in _SCAN_RANGES:
        for cp in range(lo, hi):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            ch = chr(cp)
            out = fold_char(ch)
            if out == ch:
                continue
            table[cp] = out if out else None
            if len(out) != 1:
                special_len[ch] = len(out)
                if cp <= 0xFFFF:
                    slow_bmp.append(ch)
            elif cp <= 0xFFFF and ord(out) > 0xFFFF:
                slow_bmp.append(ch)  # one character, but two UTF-16 code units
    bmp: list[str | None] = [chr(cp) for cp in range(0x10000)]
    for cp, value in table.items():
        if cp < 0x10000:
            bmp[cp] = value
    import numpy  # loaded with the tables, not at import: scheme validation does not need it

    lut = numpy.arange(0x10000, dtype=numpy.uint16)
    for cp, value in table.items():
        if cp < 0x10000 and value is not None and len(value) == 1 and ord(value) < 0x10000:
            lut[cp] = ord(value)
    units = cast("_Units", partial(numpy.frombuffer, dtype=numpy.uint16))
    return _Tables(table, bmp, special_len, re.compile(_char_class(slow_bmp)), lut, units)


_tables: _Tables | None = None
_converter: Any = None
_t2s_trigger: re.Pattern[str] | None = None
_lock = threading.Lock()

# Simplified characters that OpenCC t2s leaves alone on their own but changes inside a phrase
# of its TSPhrases dictionary (打坏 → 打坯, 沈默 → 沉默, 瞭解 → 了解, 傢俱 → 家具). Every other
# phrase it changes holds a character that it also changes alone. Derived from OpenCC 1.4's
# dictionaries; tests/text/test_normalize.py re-derives it when the opencc_dict tool is present.
T2S_PHRASE_ONLY = "俱哩坏彷沈甦瞭藉衹覆"


def _get_tables() -> _Tables:
    global _tables
    if _tables is None:
        with _lock:
            if _tables is None:
                _tables = _build_tables()
    return _tables


def _get_converter() -> Any:
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                import opencc  # heavy C++ library: load on first use, not at import

                _converter = opencc.OpenCC("t2s")
    return _converter


def t2s(text: str) -> str:
    """Traditional → simplified with the shared OpenCC converter (phrase-aware)."""
    return str(_get_converter().convert(text))


def _get_t2s_trigger() -> re.Pattern[str]:
    """A class of the BMP characters OpenCC may change: a text with none is left alone.

    Found by converting every BMP character once (one call, ~80 ms at first use), so it
    follows the installed OpenCC; characters beyond the BMP are not scanned, and a text
    holding any always goes through OpenCC.
    """
    global _t2s_trigger
    if _t2s_trigger is None:
        chars = [chr(cp) for cp in range(0x80, 0x10000) if not 0xD800 <= cp <= 0xDFFF]
        # Newline is in no dictionary key, so no phrase spans two characters of the list.
        # The converter itself, not t2s(): tests may stand a fake in for t2s.
        converted = str(_get_converter().convert("\n".join(chars))).split("\n")
        if len(converted) != len(chars):  # pragma: no cover - defensive: never seen
            changing = [chr(cp) for cp in range(0x80, 0x10000)]
        else:
            changing = [c for c, out in zip(chars, converted, strict=True) if out != c]
        changing.extend(T2S_PHRASE_ONLY)
        # BMP only: a class with astral members loses the regex bitmap (see _Tables).
        pattern = re.compile(_char_class(changing))
        with _lock:
            _t2s_trigger = pattern
    return _t2s_trigger


# Delete separator runs between Han characters (or a Han character and a digit: 滨江.1中),
# and all but one space of a whitespace run. A run counts in *units*: a non-space separator
# is one unit and a run of spaces is one unit, so that deleting extra spaces (the last stage
# of the rule) never shortens a run below the limit on a second pass: normalising twice gives
# the same text as normalising once ('育  \u3000\u3000育' → '育育' both times). Three units at
# most (育 * 才): a longer run is a real gap between two phrases.
# The pattern starts with one separator class, so the regex engine can skip ahead by charset
# instead of trying each branch (with its lookbehind) at every position: plain Chinese text
# costs a fraction of a microsecond. Lookarounds keep the neighbours unconsumed, so
# 育*才*中*学 loses every star in one pass.
_S1 = "[" + re.escape(SEPARATORS) + "]"
_UNIT = "(?: +|[" + re.escape(SEPARATORS.replace(" ", "")) + "])"
_SPACES_REST = "(?:(?<= ) *)?"  # when the first separator is a space: the rest of its run
_DELETE_RE = re.compile(
    rf"{_S1}(?:"
    rf"(?<=[{HAN_CLASS}].){_SPACES_REST}{_UNIT}{{0,2}}(?=[{HAN_CLASS}0-9])"
    rf"|(?<=[0-9].){_SPACES_REST}{_UNIT}{{0,2}}(?=[{HAN_CLASS}])"
    r"|(?<= )(?= )"
    r")"
)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_HAN_RUN_RE = re.compile(rf"([{HAN_CLASS}]+)|[^{HAN_CLASS}]+")


# An edit: original[o0:o1] became text[n0:n1]; everything between edits maps 1:1.
_Edit = tuple[int, int, int, int]


class _Map:
    """One stage's offset map, stored as its edits only."""

    __slots__ = ("edits", "n_starts")

    def __init__(self, edits: list[_Edit]) -> None:
        self.edits = edits
        self.n_starts = [e[2] for e in edits]

    def start(self, p: int) -> int:
        """Original start of the character at p (or the end position when p is the length)."""
        k = bisect_right(self.n_starts, p) - 1
        if k < 0:
            return p
        o0, o1, _n0, n1 = self.edits[k]
        return o0 if p < n1 else o1 + (p - n1)

    def end(self, q: int) -> int:
        """Original (exclusive) end of the character at q."""
        k = bisect_right(self.n_starts, q) - 1
        if k < 0:
            return q + 1
        _o0, o1, _n0, n1 = self.edits[k]
        return o1 if q < n1 else o1 + (q - n1) + 1


def _edits_from_deletions(spans: Iterable[tuple[int, int]]) -> list[_Edit]:
    edits: list[_Edit] = []
    removed = 0
    for s, e in spans:
        n = s - removed
        edits.append((s, e, n, n))
        removed += e - s
    return edits


@dataclass(frozen=True, slots=True)
class Normalized:
    """Matching text plus the way back to the original text."""

    original: str
    text: str
    _maps: tuple[_Map, ...] = ()  # in application order

    @property
    def shifted(self) -> bool:
        """Whether some offset of ``text`` differs from the original's (else they are equal)."""
        return bool(self._maps)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map [start, end) in ``text`` to the span of ``original`` it came from."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span [{start}, {end}) outside normalised text of {len(self.text)}")
        s, e = start, end
        for m in reversed(self._maps):
            if e > s:
                s, e = m.start(s), m.end(e - 1)
            else:
                s = e = m.start(s)
        return s, e

    def original_offset(self, pos: int) -> int:
        """Original position of the character at ``pos`` (``len(original)`` at the end)."""
        return self.original_span(pos, pos)[0]

    def surface(self, start: int, end: int) -> str:
        """The original substring behind [start, end) of the normalised text."""
        s, e = self.original_span(start, end)
        return self.original[s:e]


# Below this length numpy's fixed cost per call (~1.5 µs) exceeds a list translate.
_NUMPY_MIN = 48


def _fold(text: str) -> tuple[str, _Map | None, bool]:
    """Folded text, its map, and whether it is known to hold only BMP characters."""
    tables = _get_tables()
    if len(text) < _NUMPY_MIN:
        has_astral = _ASTRAL.search(text) is not None
        if not has_astral and tables.special_bmp.search(text) is None:
            return text.translate(tables.bmp), None, True
    else:
        # surrogatepass: a lone surrogate (possible in a Python str) passes through unchanged.
        units = text.encode("utf-16-le", "surrogatepass")
        has_astral = len(units) != 2 * len(text)  # a surrogate pair per astral character
        if not has_astral and tables.special_bmp.search(text) is None:
            # Every character maps to one BMP character: fold the UTF-16 code units in C.
            folded = tables.lut.take(tables.units(units)).tobytes()
            return folded.decode("utf-16-le", "surrogatepass"), None, True
    table = tables.table
    # The list table leaves astral characters (emoji, mostly) alone; a callback per astral
    # character is still far cheaper than a dict translate of the whole post.
    out = text.translate(tables.bmp)
    if has_astral:
        out = _ASTRAL.sub(lambda m: table.get(ord(m.group()), m.group()) or "", out)
    positions = sorted(
        [m.start() for m in tables.special_bmp.finditer(text)]
        + ([m.start() for m in _ASTRAL.finditer(text)] if has_astral else [])
    )
    edits: list[_Edit] = []
    delta = 0
    lens = tables.special_len
    for i in positions:
        size = lens.get(text[i], 1)
        if size == 1:
            continue
        n0 = i + delta
        if size == 0 and edits and edits[-1][1] == i and edits[-1][2] == edits[-1][3] == n0:
            edits[-1] = (edits[-1][0], i + 1, n0, n0)  # merge runs of deletions
        else:
            edits.append((i, i + 1, n0, n0 + size))
        delta += size - 1
    return out, _Map(edits) if edits else None, False


def _delete_separators(text: str) -> tuple[str, _Map | None]:
    spans = [m.span() for m in _DELETE_RE.finditer(text)]
    if not spans:
        return text, None
    pieces: list[str] = []
    last = 0
    for s, e in spans:
        pieces.append(text[last:s])
        last = e
    pieces.append(text[last:])
    return "".join(pieces), _Map(_edits_from_deletions(spans))


def _to_simplified(text: str, bmp_only: bool = False) -> tuple[str, _Map | None]:
    """``bmp_only``: the caller knows the text has no character beyond the BMP."""
    if (bmp_only or _ASTRAL.search(text) is None) and _get_t2s_trigger().search(text) is None:
        return text, None  # nothing OpenCC could change: skip the call (the usual post)
    out = t2s(text)
    if len(out) == len(text):
        # OpenCC t2s is character-for-character for (nearly) all of its dictionary.
        return out, None
    # A phrase changed length: convert Han runs separately, and a run that still changes
    # length one character at a time, so every edit is known.
    pieces: list[str] = []
    edits: list[_Edit] = []
    n = 0
    for m in _HAN_RUN_RE.finditer(text):
        run = m.group()
        conv = t2s(run) if m.group(1) else run
        if len(conv) != len(run):
            chars = []
            for i, ch in enumerate(run, m.start()):
                c = t2s(ch)
                if len(c) != 1:
                    edits.append((i, i + 1, n, n + len(c)))
                chars.append(c)
                n += len(c)
            conv = "".join(chars)
        else:
            n += len(conv)
        pieces.append(conv)
    return "".join(pieces), _Map(edits) if edits else None


def normalize(text: str) -> Normalized:
    """Normalise one field of a post for matching; see the module docstring."""
    folded, m1, bmp_only = _fold(text)
    joined, m2 = _delete_separators(folded)  # deleting keeps a BMP-only text BMP-only
    out, m3 = _to_simplified(joined, bmp_only)
    if m1 is None and m2 is None and m3 is None:
        return Normalized(text, out)  # the usual post: offsets map to themselves
    return Normalized(text, out, tuple(m for m in (m1, m2, m3) if m is not None))


def fold(text: str) -> str:
    """Only the first stage of ``normalize``: NFKC and case folding per character, with
    zero-width, decorative and emoji characters dropped. No offset map, no separator or
    traditional-character handling; for features that need clean text fast (events)."""
    return _fold(text)[0]


def normalize_word(word: str) -> str:
    """Normalise a configured keyword the same way as post text, trimmed."""
    return normalize(word.strip()).text.strip()
