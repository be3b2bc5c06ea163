"""How alike two texts are, over character shingles (plain Python, no Django).

The same features as the near-duplicate signal of ``events`` (folded text, punctuation and
spaces removed, character 3-shingles), computed exactly: for comparing a handful of known texts
(a signed draft against pages of the school's own site) exact sets are cheap and give a
similarity that does not wobble with MinHash's sampling, so a threshold means what it says.
"""

from __future__ import annotations

from .events import word_shingles
from .normalize import fold

SHINGLE = 3


def char_shingles(text: str, k: int = SHINGLE) -> frozenset[str]:
    """Character ``k``-shingles of the folded text, punctuation, spaces and emoji removed."""
    return frozenset(word_shingles(fold(text or ""), k))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|A ∩ B| / |A ∪ B|; 0.0 when both are empty."""
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def containment(part: frozenset[str], whole: frozenset[str]) -> float:
    """Share of ``part``'s shingles found in ``whole`` (1.0: every one)."""
    if not part:
        return 0.0
    return len(part & whole) / len(part)
