"""All schemes of a deployment compiled into one Aho-Corasick automaton (plus one phonetic one).

Per post the cost is: normalise each field, one automaton pass over the normalised text, one
transliteration and automaton pass over a phonetic stream, then Python work per *hit* only.
Nothing loops over keywords or schemes per document, so 50 or 50,000 words cost the same.

The phonetic pass takes one of two roads (see variants.py): a field with a Latin letter may
hold pinyin or an abbreviation, and goes through the letter stream; any other field can only
hold a homophone, and goes through the sound stream (one character per character, so no
position mapping and a cheaper transliteration). Both find the same homophones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick_rs

from .expr import Node
from .normalize import Normalized, normalize, normalize_word
from .scheme import Scheme
from .types import Field, Hit, MatchType, Post, SchemeMatch, WordKind
from .variants import (
    distinctive_part,
    phonetic,
    phonetic_patterns,
    sound_ids,
    sound_patterns,
    syllables,
)

__all__ = ["Matcher", "match_scheme"]

_FIELD_ORDER = {"title": 0, "text": 1}
# Pinyin and abbreviations are typed in Latin letters; normalised text is lower case.
_LATIN = re.compile("[a-z]")
_DIGITS = frozenset("0123456789")
_WORDCHAR = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@dataclass(frozen=True, slots=True)
class _Owner:
    """Who a pattern belongs to: one word of one scheme."""

    scheme: int
    word: str  # as configured
    norm: str  # normalised: the key expression terms look up
    kind: WordKind
    variant: str  # "exact", or the phonetic pattern kind: "full" / "abbreviation"


# A hit before it becomes a Hit: field, normalised start/end, owner, match type.
_Raw = tuple[Field, int, int, _Owner, MatchType]


def _automaton(patterns: list[str]) -> ahocorasick_rs.AhoCorasick | None:
    if not patterns:
        return None
    # Standard match kind: the only one that reports overlapping matches, and we need every
    # occurrence of every word (滨江 inside 滨江一中, 滨江一中 inside 滨江一中路).
    return ahocorasick_rs.AhoCorasick(patterns, matchkind=ahocorasick_rs.MATCHKIND_STANDARD)


class Matcher:
    """Match posts against many schemes at once."""

    def __init__(self, schemes: Sequence[Scheme], *, variants: bool = True) -> None:
        """Compile ``schemes``; ``variants=False`` turns homophone/pinyin matching off."""
        self.schemes: tuple[Scheme, ...] = tuple(schemes)
        keys = [s.key for s in self.schemes]
        if len(set(keys)) != len(keys):
            dup = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(f"schemes need distinct ids or names: {', '.join(dup)}")
        self._exprs: list[Node | None] = []
        exact: dict[str, list[_Owner]] = {}
        phon: dict[str, list[_Owner]] = {}
        sound: dict[str, list[_Owner]] = {}
        for si, scheme in enumerate(self.schemes):
            seen: set[tuple[str, str]] = set()
            norms: set[str] = set()
            for kind, word in scheme.words():
                norm = normalize_word(word)
                if (kind, norm) in seen:
                    continue
                seen.add((kind, norm))
                norms.add(norm)
                exact.setdefault(norm, []).append(_Owner(si, word, norm, kind, "exact"))  # type: ignore[arg-type]
                if kind == "subject" and variants:
                    for vp in phonetic_patterns(norm):
                        phon.setdefault(vp.pattern, []).append(
                            _Owner(si, word, norm, "subject", vp.kind)
                        )
                    for ids, _letters in sound_patterns(norm):
                        sound.setdefault(ids, []).append(_Owner(si, word, norm, "subject", "full"))
            node = scheme.parsed_expression()
            self._exprs.append(node)
            for term in sorted(node.terms()) if node else ():
                if term not in norms:  # a word the scheme already lists is found anyway
                    exact.setdefault(term, []).append(_Owner(si, term, term, "term", "exact"))
        self._patterns = list(exact)
        self._owners = [tuple(exact[p]) for p in self._patterns]
        # Region and event words are often shared by every school of a district; fanning a hit
        # out to all their schemes would make the cost grow with the deployment. Hits are kept
        # per pattern and handed out only to the schemes that have a subject hit.
        self._by_scheme: list[dict[int, tuple[_Owner, ...]]] = []
        self._subject_schemes: list[tuple[int, ...]] = []
        for owners in self._owners:
            grouped: dict[int, list[_Owner]] = {}
            for o in owners:
                grouped.setdefault(o.scheme, []).append(o)
            self._by_scheme.append({k: tuple(v) for k, v in grouped.items()})
            self._subject_schemes.append(
                tuple(sorted({o.scheme for o in owners if o.kind == "subject"}))
            )
        self._ac = _automaton(self._patterns)
        self._phon_patterns = list(phon)
        self._phon_owners = [tuple(phon[p]) for p in self._phon_patterns]
        self._phon_ac = _automaton(self._phon_patterns)
        # Exact patterns whose own stream spelling is this phonetic pattern: when a post has
        # as many stream hits as exact hits of those, the stream only re-found the name as
        # written, and the per-hit position work can be skipped (the common case).
        pid_of = {p: i for i, p in enumerate(self._patterns)}
        self._phon_exact: list[tuple[int, ...]] = [
            tuple(sorted({pid_of[o.norm] for o in owners if "".join(syllables(o.norm)) == pattern}))
            for pattern, owners in zip(self._phon_patterns, self._phon_owners, strict=True)
        ]
        self._sound_patterns = list(sound)
        self._sound_owners = [tuple(sound[p]) for p in self._sound_patterns]
        self._sound_ac = _automaton(self._sound_patterns)
        self._sound_exact: list[tuple[int, ...]] = [
            tuple(sorted({pid_of[o.norm] for o in owners if sound_ids(o.norm) == pattern}))
            for pattern, owners in zip(self._sound_patterns, self._sound_owners, strict=True)
        ]

    @property
    def pattern_count(self) -> int:
        """Distinct patterns in both automata (for benchmarks and the admin page)."""
        return len(self._patterns) + len(self._phon_patterns)

    def match(self, title: str, text: str, *, all_schemes: bool = False) -> list[SchemeMatch]:
        """Match one post.

        Returns a SchemeMatch for every scheme with at least one subject-word hit (matched or
        excluded), in scheme order; with ``all_schemes`` one per scheme, hits or not. Hits
        carry offsets into the original ``title`` / ``text``.
        """
        # Per field, the exact automaton's (pattern id, start, end) list as it came back:
        # no per-hit Python work until a scheme with a subject hit asks for them.
        exact: list[tuple[Field, list[tuple[int, int, int]]]] = []
        phon: dict[int, list[_Raw]] = {}
        with_subject: set[int] = set()
        norms: dict[str, Normalized] = {}
        if title:
            norms["title"] = self._scan("title", title, exact, phon, with_subject)
        if text:
            norms["text"] = self._scan("text", text, exact, phon, with_subject)
        indices: Iterable[int] = range(len(self.schemes)) if all_schemes else sorted(with_subject)
        grouped: dict[int, list[_Raw]] = {}
        if all_schemes:  # every scheme wants its hits: one fan-out pass beats one per scheme
            for f, found in exact:
                for pid, s, e in found:
                    for o in self._owners[pid]:
                        grouped.setdefault(o.scheme, []).append((f, s, e, o, "exact"))
        else:
            by_scheme = self._by_scheme
            for si in indices:
                grouped[si] = [
                    (f, s, e, o, "exact")
                    for f, found in exact
                    for pid, s, e in found
                    for o in by_scheme[pid].get(si, ())
                ]
        out = []
        for si in indices:
            hits = grouped.get(si, [])
            hits.extend(phon.get(si, ()))
            out.append(self._judge(si, hits, norms))
        return out

    def match_post(self, post: Post, *, all_schemes: bool = False) -> list[SchemeMatch]:
        """``match(post.title, post.text)``."""
        return self.match(post.title, post.text, all_schemes=all_schemes)

    def _scan(
        self,
        field: Field,
        value: str,
        exact: list[tuple[Field, list[tuple[int, int, int]]]],
        phon: dict[int, list[_Raw]],
        with_subject: set[int],
    ) -> Normalized:
        n = normalize(value)
        t = n.text
        found_exact: list[tuple[int, int, int]] = []
        if self._ac is not None:
            found_exact = self._ac.find_matches_as_indexes(t, overlapping=True)
            if found_exact:
                exact.append((field, found_exact))
                subject_schemes = self._subject_schemes
                for pid, _, _ in found_exact:
                    if subject_schemes[pid]:
                        with_subject.update(subject_schemes[pid])
        if self._phon_ac is None or not t:
            return n
        if _LATIN.search(t) is None:
            ids = sound_ids(t)
            if ids is not None:
                if self._sound_ac is not None:
                    self._homophones(field, t, ids, found_exact, phon, with_subject)
                return n
        stream = phonetic(t)
        found = self._phon_ac.find_matches_as_indexes(stream.stream, overlapping=True)
        if not found:
            return n
        skip = _found_as_written(found, self._phon_exact, found_exact)
        seen: set[tuple[int, str, int, int]] = set()
        for pid, s, e in found:
            if pid in skip:
                continue
            span = stream.text_span(s, e)
            if span is None:
                continue
            a, b = span
            surface = t[a:b]
            for o in self._phon_owners[pid]:
                if surface == o.norm or (o.scheme, o.word, a, b) in seen:
                    continue  # found as written by the exact automaton, or twice here
                match_type = _phonetic_type(o, surface)
                if match_type is not None:
                    seen.add((o.scheme, o.word, a, b))
                    phon.setdefault(o.scheme, []).append((field, a, b, o, match_type))
                    with_subject.add(o.scheme)
        return n

    def _homophones(
        self,
        field: Field,
        t: str,
        ids: str,
        found_exact: list[tuple[int, int, int]],
        phon: dict[int, list[_Raw]],
        with_subject: set[int],
    ) -> None:
        """The sound-stream pass of a field without Latin letters: homophones only."""
        assert self._sound_ac is not None
        found = self._sound_ac.find_matches_as_indexes(ids, overlapping=True)
        if not found:
            return
        skip = _found_as_written(found, self._sound_exact, found_exact)
        seen: set[tuple[int, str, int, int]] = set()
        end = len(t)
        for pid, a, b in found:
            if pid in skip:
                continue
            # A digit read as a numeral must not be cut out of a longer number (the letter
            # stream's word-boundary rule; without letters only digits can break it).
            if (t[a] in _DIGITS and a > 0 and t[a - 1] in _WORDCHAR) or (
                t[b - 1] in _DIGITS and b < end and t[b] in _WORDCHAR
            ):
                continue
            surface = t[a:b]
            for o in self._sound_owners[pid]:
                if surface == o.norm or (o.scheme, o.word, a, b) in seen:
                    continue  # found as written by the exact automaton, or twice here
                match_type = _phonetic_type(o, surface)
                if match_type is not None:
                    seen.add((o.scheme, o.word, a, b))
                    phon.setdefault(o.scheme, []).append((field, a, b, o, match_type))
                    with_subject.add(o.scheme)

    def _judge(self, si: int, hits: list[_Raw], norms: dict[str, Normalized]) -> SchemeMatch:
        excludes = [(f, s, e) for f, s, e, o, _ in hits if o.kind == "exclude"]
        kept: list[_Raw] = hits
        if excludes:
            # 滨江一中路 is a street: a subject hit inside an exclude hit does not count.
            kept = [
                h
                for h in hits
                if h[3].kind != "subject"
                or not any(h[0] == f and s <= h[1] and h[2] <= e for f, s, e in excludes)
            ]
        subject = False
        for h in kept:
            if h[3].kind == "subject":
                subject = True
                break
        node = self._exprs[si]
        matched = subject
        if subject and node is not None:
            positions: dict[str, list[tuple[str, int, int]]] = {}
            for f, s, e, o, _ in kept:
                positions.setdefault(o.norm, []).append((f, s, e))
            matched = node.evaluate(positions)
        # Sorted on plain tuples (no key function per hit); the index breaks ties between
        # owners of one word, which do not compare.
        order = _FIELD_ORDER
        ranked = sorted(
            [(order[h[0]], h[1], h[2], h[3].kind, h[3].word, i) for i, h in enumerate(kept)]
        )
        out: list[Hit] = []
        for *_, i in ranked:
            f, s, e, o, match_type = kept[i]
            n = norms[f]
            if n.shifted:
                s, e = n.original_span(s, e)
            out.append(Hit(o.word, o.kind, match_type, f, s, e, n.original[s:e]))
        return SchemeMatch(self.schemes[si].key, matched, tuple(out))


def _found_as_written(
    found: list[tuple[int, int, int]],
    exact_of: list[tuple[int, ...]],
    found_exact: list[tuple[int, int, int]],
) -> set[int]:
    """Stream patterns whose every hit is a word found as written by the exact automaton.

    When a pattern has as many stream hits as there are exact hits of the words spelt that
    way, the stream only re-found the names as written: their per-hit work can be skipped
    (the common case).
    """
    per_pattern: dict[int, int] = {}
    for pid, _, _ in found:
        per_pattern[pid] = per_pattern.get(pid, 0) + 1
    counts: dict[int, int] = {}
    for pid, _, _ in found_exact:
        counts[pid] = counts.get(pid, 0) + 1
    return {
        pid for pid, c in per_pattern.items() if c == sum(counts.get(x, 0) for x in exact_of[pid])
    }


def _phonetic_type(owner: _Owner, surface: str) -> MatchType | None:
    latin = any("a" <= c <= "z" for c in surface)
    if owner.variant == "abbreviation":
        # Initials can only be typed; a run of one-letter syllables (啊 a, 饿 e) is not one.
        return "abbreviation" if latin else None
    if latin:
        return "pinyin"
    # A homophone must keep the shape of the name: same length, at least half of the
    # characters as written, one of them in the distinctive part (育菜中学 yes; 玉彩中学,
    # which may well be another school, no; four unrelated sound-alikes, no).
    word = owner.norm
    if len(surface) != len(word):
        return None
    same = [a == b for a, b in zip(surface, word, strict=True)]
    head = len(distinctive_part(word)[0])
    return "homophone" if sum(same) * 2 >= len(word) and any(same[:head]) else None


@lru_cache(maxsize=64)
def _matcher_for(scheme: Scheme) -> Matcher:
    return Matcher([scheme])


def match_scheme(scheme: Scheme, title: str, text: str) -> SchemeMatch:
    """Match one post against one scheme (compiled once per scheme and cached)."""
    return _matcher_for(scheme).match(title, text, all_schemes=True)[0]
