"""The scheme expression language.

Grammar (operators bind NOT > NEAR > AND > OR; AND may be left out between operands)::

    expr    := and ( (OR | "|" | 或) and )*
    and     := not ( [AND | "&" | "+" | 与] not )*
    not     := (NOT | "!" | "-" | 非) not  |  near
    near    := primary ( (NEAR/n | ~n) primary )?
    primary := "(" expr ")"  |  title: primary  |  "quoted phrase"  |  bare-term

Examples::

    滨江一中 AND (食堂 OR 饭堂) AND NOT 招聘
    "滨江一中" NEAR/20 "食堂"            # both within 20 characters of each other
    title:(投诉 | 曝光) -广告

``NEAR/n`` (or ``~n``) holds when an occurrence of the left side and one of the right side
in the same field are at most n characters apart (gap in normalised text, 0 when they touch
or overlap). Both sides must be terms or a parenthesised OR of terms. ``title:`` restricts
what it wraps to the post title. Operator words are upper case (AND / OR / NOT / NEAR) or the
single characters 与 / 或 / 非 standing alone; full-width brackets, quotes and symbols work.
Terms are normalised like post text, so 食堂 and 食堂, 飯堂 and 饭堂 are the same term.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .normalize import normalize_word

__all__ = [
    "And",
    "ExpressionError",
    "Near",
    "Node",
    "Not",
    "Or",
    "Positions",
    "Term",
    "Title",
    "parse",
]

FieldName = Literal["title", "text"]
# Normalised term → its occurrences as (field, start, end) in normalised field text.
Positions = Mapping[str, Sequence[tuple[str, int, int]]]
ALL_FIELDS: tuple[str, ...] = ("title", "text")
MAX_DISTANCE = 10_000
MAX_LENGTH = 4_000
MAX_DEPTH = 64  # nesting of ( and NOT; deeper input is hostile, not a scheme


class ExpressionError(ValueError):
    """A malformed expression; ``position`` is the character offset of the problem."""

    def __init__(self, message: str, position: int, expression: str = "") -> None:
        super().__init__(f"{message} (at character {position})")
        self.message = message
        self.position = position
        self.expression = expression


class Node:
    """An expression tree node."""

    __slots__ = ()

    def evaluate(self, positions: Positions, fields: Sequence[str] = ALL_FIELDS) -> bool:
        """Whether the expression holds given where its terms occur."""
        raise NotImplementedError

    def terms(self) -> frozenset[str]:
        """Every normalised term the expression needs found (to add to the automaton)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Term(Node):
    text: str  # normalised
    raw: str = ""
    position: int = 0

    def spans(self, positions: Positions, fields: Sequence[str]) -> list[tuple[str, int, int]]:
        return [p for p in positions.get(self.text, ()) if p[0] in fields]

    def evaluate(self, positions: Positions, fields: Sequence[str] = ALL_FIELDS) -> bool:
        return any(p[0] in fields for p in positions.get(self.text, ()))

    def terms(self) -> frozenset[str]:
        return frozenset((self.text,))

    def __str__(self) -> str:
        return f'"{self.text}"'


@dataclass(frozen=True, slots=True)
class Not(Node):
    child: Node

    def evaluate(self, positions: Positions, fields: Sequence[str] = ALL_FIELDS) -> bool:
        return not self.child.evaluate(positions, fields)

    def terms(self) -> frozenset[str]:
        return self.child.terms()

    def __str__(self) -> str:
        return f"NOT {self.child}"


@dataclass(frozen=True, slots=True)
class And(Node):
    children: tuple[Node, ...]

    def evaluate(self, positions: Positions, fields: Sequence[str] = ALL_FIELDS) -> bool:
        return all(c.evaluate(positions, fields) for c in self.children)

    def terms(self) -> frozenset[str]:
        return frozenset().union(*(c.terms() for c in self.children))

    def __str__(self) -> str:
        return "(" + " AND ".join(map(str, self.children)) + ")"


@dataclass(frozen=True, slots=True)
class Or(Node):
    children: tuple[Node, ...]

    def evaluate(self, positions: Positions, fields: Sequence[str] = ALL_FIELDS) -> bool:
        return any(c.evaluate(positions, fields) for c in self.children)

    def terms(self) -> frozenset[str]:
        return frozenset().union(*(c.terms() for c in self.children))

    def __str__(self) -> str:
        return "(" + " OR ".join(map(str, self.children)) + ")"


def _spans(node: Node, positions: Positions, fields: Sequence[str]) -> list[tuple[str, int, int]]:
    if isinstance(node, Term):
        return node.spans(positions, fields)
    assert isinstance(node, Or)  # guaranteed by the parser
    return [s for c in node.children for s in _spans(c, positions, fields)]


@dataclass(frozen=True, slots=True)
class Near(Node):
    left: Node  # a Term or an Or of Terms
    right: Node
    distance: int

    def evaluate(self, positions: Positions, fields: Sequence[str] = ALL_FIELDS) -> bool:
        rights = _spans(self.right, positions, fields)
        if not rights:
            return False
        for f, s, e in _spans(self.left, positions, fields):
            for f2, s2, e2 in rights:
                if f == f2 and max(s2 - e, s - e2, 0) <= self.distance:
                    return True
        return False

    def terms(self) -> frozenset[str]:
        return self.left.terms() | self.right.terms()

    def __str__(self) -> str:
        return f"({self.left} NEAR/{self.distance} {self.right})"


@dataclass(frozen=True, slots=True)
class Title(Node):
    child: Node

    def evaluate(self, positions: Positions, fields: Sequence[str] = ALL_FIELDS) -> bool:
        return "title" in fields and self.child.evaluate(positions, ("title",))

    def terms(self) -> frozenset[str]:
        return self.child.terms()

    def __str__(self) -> str:
        return f"title:({self.child})"


# ---------------------------------------------------------------------------------------
# Tokenizer and parser

# One character to one character, so positions in the folded string are the user's.
_FOLD = str.maketrans("（）“”＂＆｜！＋－：～　", '()"""&|!+-:~ ')
_STOP = set(' \t\r\n()"&|+')
_WORDS = {"AND": "AND", "与": "AND", "OR": "OR", "或": "OR", "NOT": "NOT", "非": "NOT"}
_NEAR_RE = re.compile(r"NEAR/(\d+)$")
_TITLE_PREFIXES = ("title:", "标题:")

TokKind = Literal["(", ")", "AND", "OR", "NOT", "NEAR", "TITLE", "TERM", "EOF"]


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: TokKind
    pos: int
    text: str = ""
    number: int = 0


def _tokenize(expr: str) -> list[_Tok]:
    s = expr.translate(_FOLD)
    toks: list[_Tok] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
        elif c in "()":
            toks.append(_Tok(c, i))  # type: ignore[arg-type]
            i += 1
        elif c == '"':
            close = s.find('"', i + 1)
            if close < 0:
                raise ExpressionError("unclosed quote", i, expr)
            if not s[i + 1 : close].strip():
                raise ExpressionError("empty quoted phrase", i, expr)
            toks.append(_Tok("TERM", i, expr[i + 1 : close]))
            i = close + 1
        elif c in "&+":
            toks.append(_Tok("AND", i))
            i += 2 if s.startswith("&&", i) else 1
        elif c == "|":
            toks.append(_Tok("OR", i))
            i += 2 if s.startswith("||", i) else 1
        elif c in "!-":
            toks.append(_Tok("NOT", i))
            i += 1
        elif c == "~":
            j = i + 1
            while j < n and s[j].isdigit():
                j += 1
            if j == i + 1:
                raise ExpressionError("'~' needs a distance, e.g. ~20", i, expr)
            toks.append(_Tok("NEAR", i, s[i:j], int(s[i + 1 : j])))
            i = j
        else:
            j = i
            while j < n and s[j] not in _STOP:
                j += 1
            word = s[i:j]
            prefix = next((p for p in _TITLE_PREFIXES if word.lower().startswith(p)), None)
            if prefix:
                toks.append(_Tok("TITLE", i))
                i += len(prefix)
                continue
            if word in _WORDS:
                toks.append(_Tok(_WORDS[word], i))  # type: ignore[arg-type]
            elif word.startswith("NEAR"):
                m = _NEAR_RE.match(word)
                if not m:
                    raise ExpressionError("NEAR needs a distance, e.g. NEAR/20", i, expr)
                toks.append(_Tok("NEAR", i, word, int(m.group(1))))
            else:
                toks.append(_Tok("TERM", i, expr[i:j]))
            i = j
    toks.append(_Tok("EOF", n))
    return toks


_STARTS_OPERAND = {"TERM", "(", "NOT", "TITLE"}


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = _tokenize(expr)
        self.i = 0
        self.depth = 0

    def descend(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels", pos)

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def error(self, message: str, pos: int | None = None) -> ExpressionError:
        return ExpressionError(message, self.tok.pos if pos is None else pos, self.expr)

    def parse(self) -> Node:
        if self.tok.kind == "EOF":
            raise self.error("empty expression")
        node = self.parse_or()
        if self.tok.kind == ")":
            raise self.error("unmatched ')'")
        if self.tok.kind != "EOF":  # pragma: no cover - every other token starts an operand
            raise self.error(f"unexpected {self.tok.kind}")
        return node

    def operand_expected(self, after: _Tok) -> ExpressionError:
        if self.tok.kind == "EOF":
            return self.error(f"{after.kind} at {after.pos} has nothing after it")
        return self.error(f"expected a term after {after.kind}, found {self.tok.kind}")

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.tok.kind == "OR":
            op = self.tok
            self.i += 1
            if self.tok.kind not in _STARTS_OPERAND:
                raise self.operand_expected(op)
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_not()]
        while self.tok.kind == "AND" or self.tok.kind in _STARTS_OPERAND:
            if self.tok.kind == "AND":
                op = self.tok
                self.i += 1
                if self.tok.kind not in _STARTS_OPERAND:
                    raise self.operand_expected(op)
            children.append(self.parse_not())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_not(self) -> Node:
        if self.tok.kind == "NOT":
            op = self.tok
            self.i += 1
            if self.tok.kind not in _STARTS_OPERAND:
                raise self.operand_expected(op)
            self.descend(op.pos)
            node = Not(self.parse_not())
            self.depth -= 1
            return node
        return self.parse_near()

    def parse_near(self) -> Node:
        left_tok = self.tok
        left = self.parse_primary()
        if self.tok.kind != "NEAR":
            return left
        op = self.tok
        if op.number > MAX_DISTANCE:
            raise self.error(f"NEAR distance above {MAX_DISTANCE}")
        if not _is_term_set(left):
            raise self.error("NEAR needs a term or (a OR b) on its left", left_tok.pos)
        self.i += 1
        if self.tok.kind not in {"TERM", "("}:
            raise self.operand_expected(op)
        right_tok = self.tok
        right = self.parse_primary()
        if not _is_term_set(right):
            raise self.error("NEAR needs a term or (a OR b) on its right", right_tok.pos)
        if self.tok.kind == "NEAR":
            raise self.error("chained NEAR: group with parentheses and AND instead")
        return Near(left, right, op.number)

    def parse_primary(self) -> Node:
        tok = self.tok
        if tok.kind == "(":
            self.i += 1
            if self.tok.kind == ")":
                raise self.error("empty parentheses")
            self.descend(tok.pos)
            node = self.parse_or()
            if self.tok.kind != ")":
                raise self.error("unclosed '('", tok.pos)
            self.depth -= 1
            self.i += 1
            return node
        if tok.kind == "TITLE":
            self.i += 1
            if self.tok.kind not in {"TERM", "("}:
                raise self.operand_expected(tok)
            return Title(self.parse_primary())
        if tok.kind == "TERM":
            self.i += 1
            text = normalize_word(tok.text)
            if not text:
                raise self.error("term has nothing to match after normalisation", tok.pos)
            return Term(text, tok.text, tok.pos)
        if tok.kind == "EOF":
            raise self.error("expression ends where a term is expected")
        raise self.error(f"expected a term, found {tok.kind}")


def _is_term_set(node: Node) -> bool:
    if isinstance(node, Term):
        return True
    return isinstance(node, Or) and all(_is_term_set(c) for c in node.children)


def parse(expr: str) -> Node:
    """Parse an expression; raises ExpressionError with the offending ``position``."""
    if not isinstance(expr, str):
        raise ExpressionError("expression must be a string", 0, "")
    if len(expr) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH, expr)
    return _Parser(expr).parse()
