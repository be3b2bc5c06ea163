"""Search tokens: one tokenisation for the full-text index on SQLite and PostgreSQL.

Chinese has no spaces, and two-character terms (食堂, 霸凌) are the most common searches, which
a trigram index cannot answer at all. So the index stores overlapping character *bigrams* of
each CJK run and whole lower-cased words of each Latin/digit run, with positions. A query term
becomes the phrase of its own bigrams, which matches exactly where the term occurs:

    育才中学  ->  "育才 才中 中学"     (a phrase: three consecutive tokens)
    食堂      ->  "食堂"
    食        ->  "食*"              (a prefix: any bigram starting with it)

The same tokens feed SQLite FTS5 (unicode61 over the space-separated tokens) and PostgreSQL
tsvector ('simple' configuration), so both databases find the same rows.
"""

from __future__ import annotations

import re

from yuqing.text.normalize import normalize

# CJK ideographs (incl. extension A), kana and hangul form "runs" that are bigrammed.
_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+|[0-9a-z]+")
_SEPARATORS = re.compile(r"[\s\u200b-\u200f\u2060\ufeff]+")


def _fold(text: str) -> str:
    # The matcher's normalisation: a search in simplified finds traditional, full-width and
    # separator-split spellings alike.
    return normalize(text).text.lower()


BREAK = "zzbreak"  # between runs, so that no phrase spans two runs ("中学。食堂" is not "学食")


def _run_tokens(run: str) -> list[str]:
    if run[0].isascii() or len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_tokens(text: str, *, limit: int = 16000) -> str:
    """Space-separated tokens of ``text`` for the index (at most ``limit`` tokens).

    Each CJK run also ends with its last character alone, so that a one-character search (a
    prefix query) finds characters that only end runs.
    """
    out: list[str] = []
    for match in _RUN.finditer(_fold(text)):
        run = match.group()
        if out:
            out.append(BREAK)
        out.extend(_run_tokens(run))
        if len(run) > 1 and not run[0].isascii():
            out.append(run[-1])
        if len(out) >= limit:
            break
    return " ".join(out[:limit])


def query_tokens(term: str) -> tuple[list[str], bool]:
    """Tokens of one search term as a phrase, and whether the last token is a prefix.

    A single CJK character becomes a prefix token (``食*``): it matches any bigram that starts
    with it, and the lone last characters of runs.
    """
    runs = [m.group() for m in _RUN.finditer(_fold(_SEPARATORS.sub("", term)))]
    tokens: list[str] = []
    for i, run in enumerate(runs):
        if i:
            tokens.append(BREAK)
        tokens.extend(_run_tokens(run))
    prefix = len(runs) == 1 and len(runs[0]) == 1 and not runs[0].isascii()
    return tokens, prefix


def highlight_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` (original offsets) where any of ``terms`` occurs, merged and sorted.

    Terms are found in the normalised text, so a search for 育才 highlights 育*才 and 育財.
    """
    norm = normalize(text)
    haystack = norm.text.lower()
    spans: list[tuple[int, int]] = []
    for term in terms:
        needle = normalize(term).text.lower().strip()
        if not needle:
            continue
        start = haystack.find(needle)
        while start != -1 and len(spans) < 500:
            spans.append(norm.original_span(start, start + len(needle)))
            start = haystack.find(needle, start + len(needle))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged
