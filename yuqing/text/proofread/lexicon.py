"""All word lists of one config in ONE Aho-Corasick automaton.

Forbidden words, wrong formulations, typos, leaders' names and the "allowed context" phrases
that cancel a hit are patterns of one automaton, run once over the normalised text
(``yuqing.text.normalize``: width, case, traditional characters and separators slipped in to
dodge a filter are folded). Python then works per *hit*, never per word, so a school's list
of 20 or 20,000 words costs the same per document. Hit spans are mapped back to the original
text, so every finding points at the characters the author typed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import ahocorasick_rs

from yuqing.text.normalize import Normalized, normalize, normalize_word

from .config import ProofreadConfig, WordRule

__all__ = ["Hit", "Lexicon", "Scan"]

# Categories of patterns; "leader" entries carry the leader's name as their word.
CATEGORIES = ("forbidden", "formulations", "confusions", "leader")


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@dataclass(frozen=True, slots=True)
class Hit:
    """A list entry found in the text; ``start``/``end`` are offsets in the ORIGINAL text."""

    category: str
    rule: WordRule
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Owner:
    category: str
    rule: int  # index into Lexicon.rules
    guard: bool  # an allowed-context phrase of that rule, not the rule's word


class Scan:
    """The hits of one text, by category, with overlapping hits of a category resolved."""

    def __init__(self, norm: Normalized, hits: dict[str, list[Hit]]) -> None:
        self.norm = norm
        self.hits = hits

    def of(self, category: str) -> list[Hit]:
        return self.hits.get(category, [])


class Lexicon:
    """The compiled automaton of one config."""

    def __init__(self, rules: list[tuple[str, WordRule]], patterns: dict[str, list[_Owner]]):
        self.rules = rules
        self._owners = list(patterns.values())
        self._automaton = (
            ahocorasick_rs.AhoCorasick(list(patterns), matchkind=ahocorasick_rs.MATCHKIND_STANDARD)
            if patterns
            else None
        )

    @classmethod
    def build(cls, config: ProofreadConfig) -> Lexicon:
        rules: list[tuple[str, WordRule]] = []
        patterns: dict[str, list[_Owner]] = defaultdict(list)
        entries: list[tuple[str, WordRule]] = [
            *(("forbidden", r) for r in config.forbidden),
            *(("formulations", r) for r in config.formulations),
            *(("confusions", r) for r in config.confusions),
            *(("leader", WordRule(word=name)) for name in config.leaders),
        ]
        for category, rule in entries:
            word = normalize_word(rule.word)
            if not word:
                continue
            index = len(rules)
            rules.append((category, rule))
            patterns[word].append(_Owner(category, index, guard=False))
            # The correct form guards the wrong one it contains (德智体美 inside a correct
            # 德智体美劳 is not a hit), as do the listed allowed phrases.
            for phrase in (*rule.allow, rule.replacement):
                guard = normalize_word(phrase)
                if guard and word in guard and guard != word:
                    patterns[guard].append(_Owner(category, index, guard=True))
        return cls(rules, dict(patterns))

    def scan(self, text: str) -> Scan:
        norm = normalize(text)
        if self._automaton is None:
            return Scan(norm, {})
        found: list[tuple[int, int, int]] = []
        guards: dict[int, list[tuple[int, int]]] = defaultdict(list)
        matching = norm.text
        for pattern, start, end in self._automaton.find_matches_as_indexes(
            matching, overlapping=True
        ):
            for owner in self._owners[pattern]:
                if owner.guard:
                    guards[owner.rule].append((start, end))
                elif self._bounded(matching, start, end):
                    found.append((owner.rule, start, end))
        by_category: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        for rule, start, end in found:
            if any(gs <= start and end <= ge for gs, ge in guards.get(rule, ())):
                continue
            by_category[self.rules[rule][0]].append((rule, start, end))
        hits: dict[str, list[Hit]] = {}
        for category, items in by_category.items():
            hits[category] = [
                Hit(category, self.rules[rule][1], *norm.original_span(start, end))
                for rule, start, end in _longest_first(items)
            ]
        return Scan(norm, hits)

    @staticmethod
    def _bounded(text: str, start: int, end: int) -> bool:
        """Latin words match whole words only ("vip" is not a hit inside "vipers")."""
        if _is_word_char(text[start]) and start > 0 and _is_word_char(text[start - 1]):
            return False
        return not (_is_word_char(text[end - 1]) and end < len(text) and _is_word_char(text[end]))


def _longest_first(items: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Drop hits that overlap an earlier or longer one (有偿补课 wins over 补课)."""
    kept: list[tuple[int, int, int]] = []
    last_end = -1
    for item in sorted(items, key=lambda it: (it[1], -(it[2] - it[1]))):
        if item[1] >= last_end:
            kept.append(item)
            last_end = item[2]
    return kept
