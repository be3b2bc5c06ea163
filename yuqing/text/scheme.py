"""Monitoring schemes (监测方案): the words and expression one school is watched with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .expr import ExpressionError, Node, parse
from .normalize import normalize_word

__all__ = ["WORD_FIELDS", "Scheme", "SchemeError"]

WORD_FIELDS: tuple[str, ...] = ("subject_words", "region_words", "event_words", "exclude_words")
_KEYS = frozenset((*WORD_FIELDS, "name", "expression", "id"))
MAX_WORDS = 2_000
MAX_WORD_LENGTH = 100


class SchemeError(ValueError):
    """An invalid scheme; ``field`` names the key at fault, ``position`` an expression offset."""

    def __init__(self, message: str, field: str = "", position: int | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.position = position


def _words(value: Any, field: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise SchemeError(f"must be a list of strings, got {type(value).__name__}", field)
    out: dict[str, None] = {}  # ordered de-duplication
    for i, w in enumerate(value):
        if not isinstance(w, str):
            raise SchemeError(f"item {i} must be a string, got {type(w).__name__}", field)
        w = w.strip()
        if not w:
            raise SchemeError(f"item {i} is empty", field)
        if len(w) > MAX_WORD_LENGTH:
            raise SchemeError(f"item {i} is longer than {MAX_WORD_LENGTH} characters", field)
        if not normalize_word(w):
            raise SchemeError(f"item {i} ({w!r}) has nothing to match after normalisation", field)
        out.setdefault(w, None)
    if len(out) > MAX_WORDS:
        raise SchemeError(f"more than {MAX_WORDS} words", field)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Scheme:
    """Subject, region, event and exclude words plus an optional expression.

    Lists are stored as tuples (hashable); construction validates and raises SchemeError.
    """

    name: str
    subject_words: tuple[str, ...]
    region_words: tuple[str, ...] = ()
    event_words: tuple[str, ...] = ()
    exclude_words: tuple[str, ...] = ()
    expression: str = ""
    id: str | int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise SchemeError("must be a non-empty string", "name")
        for field in WORD_FIELDS:
            object.__setattr__(self, field, _words(getattr(self, field), field))
        if not self.subject_words:
            raise SchemeError(
                "needs at least one subject word (the school's name)", "subject_words"
            )
        if not isinstance(self.expression, str):
            raise SchemeError("must be a string", "expression")
        if self.id is not None and (
            isinstance(self.id, bool) or not isinstance(self.id, str | int)
        ):
            raise SchemeError("must be a string, an integer or absent", "id")
        if self.expression.strip():
            self.parsed_expression()

    @property
    def key(self) -> str:
        """What SchemeMatch.scheme holds: the id when there is one, else the name."""
        return self.name if self.id is None else str(self.id)

    def parsed_expression(self) -> Node | None:
        """The expression's tree, or None when the scheme has none."""
        if not self.expression.strip():
            return None
        try:
            return parse(self.expression)
        except ExpressionError as e:
            raise SchemeError(e.message, "expression", e.position) from e

    def words(self) -> Iterable[tuple[str, str]]:
        """(kind, word) for every configured word; kind is 'subject', 'region', …"""
        for field in WORD_FIELDS:
            kind = field.removesuffix("_words")
            for w in getattr(self, field):
                yield kind, w

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scheme:
        """Read the scheme.json shape (eval/LABELS.md); unknown keys are an error."""
        if not isinstance(d, Mapping):
            raise SchemeError(f"a scheme must be a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - _KEYS)
        if unknown:
            raise SchemeError(f"unknown key(s): {', '.join(map(str, unknown))}")
        if "name" not in d:
            raise SchemeError("is required", "name")
        if "subject_words" not in d:
            raise SchemeError("is required", "subject_words")

        def opt(key: str, default: Any) -> Any:
            value = d.get(key)
            return default if value is None else value

        return cls(
            name=d["name"],
            subject_words=d["subject_words"],
            region_words=opt("region_words", ()),
            event_words=opt("event_words", ()),
            exclude_words=opt("exclude_words", ()),
            expression=opt("expression", ""),
            id=d.get("id"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The scheme.json shape; ``from_dict(s.to_dict()) == s``."""
        d: dict[str, Any] = {"name": self.name}
        for field in WORD_FIELDS:
            d[field] = list(getattr(self, field))
        if self.expression:
            d["expression"] = self.expression
        if self.id is not None:
            d["id"] = self.id
        return d
