"""Term lexicons for labelling: risk terms, topic cues, sentiment cues, negation, rumour denial,
sarcasm, reach cues and source authority.

The word lists live in ``yuqing/text/lexicons/*.txt``; they are the Yuqing project's own work
(see each file's header). All terms of all lists go into ONE Aho-Corasick automaton, built once
per process, so a post is scanned once whatever the number of terms.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import ahocorasick_rs
import numpy as np

from .types import TOPICS

LEXICON_DIR = Path(__file__).with_name("lexicons")

# Kinds of entries (what a term is evidence of).
KINDS: tuple[str, ...] = (
    "risk",
    "topic",
    "neg",
    "pos",
    "negation",
    "denial",
    "sarcasm",
    "reach",
    "concrete",
    "official",
    "question",
    "advisory",
)


@dataclass(frozen=True, slots=True)
class Entry:
    """What one lexicon line says about a term."""

    kind: str
    weight: float = 1.0
    level: int = 0  # risk level 1..4 for kind == "risk"
    topic: str = ""  # topic for kinds "risk" and "topic"


KIND_CODE: dict[str, int] = {k: i for i, k in enumerate(KINDS)}
TOPIC_CODE: dict[str, int] = {t: i for i, t in enumerate(TOPICS)}


@dataclass(frozen=True, slots=True)
class Hits:
    """Lexicon hits of a batch of texts as parallel arrays, one row per (hit, entry): the
    form in which a whole batch is scored with NumPy instead of a Python loop per term."""

    doc: np.ndarray  # index of the text in the batch
    entry: np.ndarray  # index into Lexicon.flat_entries
    start: np.ndarray
    end: np.ndarray


@dataclass(frozen=True, slots=True)
class Found:
    """One lexicon term found in a text; offsets index that text."""

    term: str
    entry: Entry
    start: int
    end: int


def read_rows(path: Path) -> Iterator[list[str]]:
    """Tab-separated rows of a lexicon file, without comments and blank lines."""
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            yield [c.strip() for c in line.split("\t")]


class Lexicon:
    """All term lists behind one automaton, plus the source-authority table."""

    def __init__(
        self,
        entries: Mapping[str, Sequence[Entry]],
        authority_by_type: Mapping[str, float] | None = None,
        authority_by_name: Mapping[str, float] | None = None,
    ) -> None:
        self.terms: list[str] = [t for t in entries if t]
        self.entries: list[tuple[Entry, ...]] = [tuple(entries[t]) for t in self.terms]
        # Standard match kind + overlapping: every term is reported, also those inside longer
        # ones ("中毒" inside "食物中毒"), which the scoring needs.
        self._ac = ahocorasick_rs.AhoCorasick(self.terms) if self.terms else None
        # Entries flattened into arrays (kind code, weight, level, topic code, term index) so
        # that batch scoring is array arithmetic.
        self.flat_entries: list[tuple[str, Entry]] = [
            (t, e) for t, es in zip(self.terms, self.entries, strict=True) for e in es
        ]
        counts = np.array([len(es) for es in self.entries], dtype=np.int64)
        self._first_entry = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._n_entries = counts
        self._single = bool(len(counts) == 0 or counts.max() == 1)
        fe = [e for _t, e in self.flat_entries]
        self.e_kind = np.array([KIND_CODE.get(e.kind, -1) for e in fe], dtype=np.int64)
        self.e_weight = np.array([e.weight for e in fe], dtype=np.float64)
        self.e_level = np.array([e.level for e in fe], dtype=np.int64)
        self.e_topic = np.array([TOPIC_CODE.get(e.topic, -1) for e in fe], dtype=np.int64)
        self.authority_by_type = dict(authority_by_type or {})
        self.authority_by_name = dict(authority_by_name or {})
        names = list(self.authority_by_name)
        self._name_ac = ahocorasick_rs.AhoCorasick(names) if names else None
        self._names = names

    def find(self, text: str) -> list[Found]:
        """Every occurrence of every term in ``text``, in order of start offset."""
        if not text or self._ac is None:
            return []
        out: list[Found] = []
        for idx, start, end in self._ac.find_matches_as_indexes(text, overlapping=True):
            term = self.terms[idx]
            for entry in self.entries[idx]:
                out.append(Found(term, entry, start, end))
        out.sort(key=lambda f: (f.start, f.end))
        return out

    def find_batch(self, texts: Sequence[str]) -> Hits:
        """Every term occurrence in every text of a batch, as arrays (see :class:`Hits`)."""
        flat: list[tuple[int, int, int]] = []
        docs: list[int] = []
        counts: list[int] = []
        if self._ac is not None:
            find = self._ac.find_matches_as_indexes
            for d, t in enumerate(texts):
                if t:
                    ms = find(t, overlapping=True)
                    if ms:
                        flat += ms
                        docs.append(d)
                        counts.append(len(ms))
        if not flat:
            z = np.zeros(0, dtype=np.int64)
            return Hits(z, z, z, z)
        arr = np.array(flat, dtype=np.int64)
        doc = np.repeat(np.array(docs, dtype=np.int64), counts)
        term, start, end = arr[:, 0], arr[:, 1], arr[:, 2]
        if self._single:
            return Hits(doc, self._first_entry[term], start, end)
        # Terms with several entries ("结核": risk and topic) give one row per entry.
        n = self._n_entries[term]
        rep = np.repeat(np.arange(len(term)), n)
        offset = np.arange(len(rep)) - np.repeat(np.cumsum(n) - n, n)
        return Hits(doc[rep], self._first_entry[term][rep] + offset, start[rep], end[rep])

    def authority(self, source_type: str, source_name: str = "", author: str = "") -> float:
        """How much weight a source carries, 0..1 (news outlet / official account > forum)."""
        best = self.authority_by_type.get(source_type or "other", 0.3)
        hay = f"{source_name} {author}"
        if self._name_ac is not None and hay.strip():
            for idx, _s, _e in self._name_ac.find_matches_as_indexes(hay, overlapping=True):
                best = max(best, self.authority_by_name[self._names[idx]])
        return best

    @classmethod
    def load(cls, directory: Path = LEXICON_DIR) -> Lexicon:
        """Read the lexicon files of ``directory``."""
        entries: dict[str, list[Entry]] = {}

        def add(term: str, entry: Entry) -> None:
            entries.setdefault(term, []).append(entry)

        for row in read_rows(directory / "risk_terms.txt"):
            add(row[0], Entry("risk", 1.0, int(row[1]), row[2] if len(row) > 2 else "other"))
        for row in read_rows(directory / "topic_terms.txt"):
            add(row[0], Entry("topic", float(row[2]) if len(row) > 2 else 1.0, 0, row[1]))
        for row in read_rows(directory / "sentiment.txt"):
            add(row[0], Entry(row[1], float(row[2]) if len(row) > 2 else 1.0))
        for row in read_rows(directory / "cues.txt"):
            add(row[0], Entry(row[1], float(row[2]) if len(row) > 2 else 1.0))
        by_type: dict[str, float] = {}
        by_name: dict[str, float] = {}
        for row in read_rows(directory / "sources.txt"):
            key, value = row[0], float(row[1])
            if key.startswith("type:"):
                by_type[key[5:]] = value
            elif key.startswith("name:"):
                by_name[key[5:]] = value
        for term, es in entries.items():
            for e in es:
                if e.kind not in KINDS:
                    raise ValueError(f"lexicon term {term!r}: unknown kind {e.kind!r}")
        return cls(entries, by_type, by_name)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The shipped lexicon, loaded once per process."""
    return Lexicon.load()


def terms_of(found: Iterable[Found], kind: str) -> list[Found]:
    """The found terms of one kind."""
    return [f for f in found if f.entry.kind == kind]
