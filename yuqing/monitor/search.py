"""Full-text search over mentions, on SQLite (FTS5) and PostgreSQL (tsvector), alike.

Both index the same tokens (``yuqing.text.search``: CJK bigrams + Latin words) so that two-
character terms work and both databases find the same rows. Results come newest first by
mention id, which both indexes can walk in order and stop after one page.

SQLite: a contentless FTS5 table whose rowid is the mention id. This SQLite (3.40) lacks
``contentless_delete``, so a row is removed with FTS5's 'delete' command and the same tokens,
recomputed from the mention (tokens are a pure function of its text).

PostgreSQL: a side table with a ``tsvector`` built from a literal (``'育才':1 '才中':2``), which
bypasses the text-search parser — the parser drops CJK characters under a C locale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from yuqing.text.search import BREAK, index_tokens, query_tokens

SQLITE_TABLE = "monitor_mention_search"
PG_TABLE = "monitor_mention_search"


def _document(title: str, text: str) -> str:
    return index_tokens(f"{title}\n{text}" if title else text)


# -- query terms ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    negated: bool = False


def parse_simple(query: str) -> list[list[Term]]:
    """``a b`` (all), ``a OR b`` (either), ``-a`` / ``NOT a`` (none), ``"a phrase"``.

    Returns clauses in disjunctive form: a list of alternatives, each a list of terms that
    must all hold.
    """
    alternatives: list[list[Term]] = [[]]
    negate_next = False
    for raw in _split(query):
        upper = raw.upper()
        if upper in {"OR", "|", "或"}:
            alternatives.append([])
            continue
        if upper in {"AND", "&", "与"}:
            continue
        if upper in {"NOT", "非"}:
            negate_next = True
            continue
        negated = negate_next
        negate_next = False
        if raw.startswith("-") and len(raw) > 1:
            negated, raw = True, raw[1:]
        raw = raw.strip('"“”')
        if raw:
            alternatives[-1].append(Term(raw, negated))
    return [alt for alt in alternatives if any(not t.negated for t in alt)]


def _split(query: str) -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    quote = False
    for ch in query:
        if ch in '"“”':
            quote = not quote
            buf.append('"')
            continue
        if ch.isspace() and not quote:
            if buf:
                out.append("".join(buf))
                buf = []
            continue
        buf.append(ch)
    if buf:
        out.append("".join(buf))
    return out


def _fts_term(term: Term) -> str | None:
    tokens, prefix = query_tokens(term.text)
    if not tokens:
        return None
    if prefix:
        return f'"{tokens[0]}"*'
    return '"' + " ".join(tokens) + '"'


def _ts_term(term: Term) -> str | None:
    tokens, prefix = query_tokens(term.text)
    if not tokens:
        return None
    if prefix:
        return f"'{tokens[0]}':*"
    return "(" + " <-> ".join(f"'{t}'" for t in tokens) + ")"


def fts5_match(alternatives: Sequence[Sequence[Term]]) -> str | None:
    parts = []
    for alt in alternatives:
        positive = [q for t in alt if not t.negated and (q := _fts_term(t))]
        negative = [q for t in alt if t.negated and (q := _fts_term(t))]
        if not positive:
            continue
        expr = " AND ".join(positive)
        for n in negative:
            expr = f"({expr}) NOT {n}"
        parts.append(f"({expr})")
    return " OR ".join(parts) if parts else None


def tsquery(alternatives: Sequence[Sequence[Term]]) -> str | None:
    parts = []
    for alt in alternatives:
        items = [q for t in alt if not t.negated and (q := _ts_term(t))]
        items += [f"!{q}" for t in alt if t.negated and (q := _ts_term(t))]
        if any(not i.startswith("!") for i in items):
            parts.append("(" + " & ".join(items) + ")")
    return " | ".join(parts) if parts else None


# -- index maintenance ---------------------------------------------------------------------


def index_mentions(rows: Iterable[tuple[int, int, str, str]]) -> None:
    """Add (id, school_id, title, text) rows to the index, in the caller's transaction."""
    data = [(mid, school_id, _document(title, text)) for mid, school_id, title, text in rows]
    if not data:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.executemany(
                f"INSERT INTO {PG_TABLE} (mention_id, school_id, doc) VALUES (%s, %s, %s::tsvector) "
                "ON CONFLICT (mention_id) DO NOTHING",
                [(mid, sid, _tsvector_literal(doc)) for mid, sid, doc in data],
            )
        else:
            cursor.executemany(
                f"INSERT INTO {SQLITE_TABLE} (rowid, tokens) VALUES (%s, %s)",
                [(mid, doc) for mid, _sid, doc in data],
            )


def unindex_mentions(rows: Iterable[tuple[int, str, str]]) -> None:
    """Remove (id, title, text) rows from the index, before the mentions are deleted."""
    rows = list(rows)
    if not rows:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"DELETE FROM {PG_TABLE} WHERE mention_id = ANY(%s)",
                [[mid for mid, _t, _x in rows]],
            )
        else:
            cursor.executemany(
                f"INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}, rowid, tokens) VALUES ('delete', %s, %s)",
                [(mid, _document(title, text)) for mid, title, text in rows],
            )


def _tsvector_literal(doc: str) -> str:
    # Positions are 1-based and capped at 16383 by PostgreSQL; the document is already cut.
    return " ".join(
        f"'{token}':{position}"
        for position, token in enumerate(doc.split(), start=1)
        if position < 16384
    )


# -- searching -----------------------------------------------------------------------------


def matching_ids(
    school_ids: Sequence[int] | None, query: str, *, limit: int, before_id: int | None = None
) -> list[int] | None:
    """Ids of mentions matching ``query``, newest first; None when the query has no terms.

    ``school_ids`` None means every school (deployment-wide scope).
    """
    alternatives = parse_simple(query)
    if connection.vendor == "postgresql":
        q = tsquery(alternatives)
        if q is None:
            return None
        return _pg_matching_ids(q, school_ids, limit=limit, before_id=before_id)
    else:
        match = fts5_match(alternatives)
        if match is None:
            return None
        # FTS5 walks its index in rowid order and stops at the LIMIT; the school filter joins
        # the mention table by primary key.
        sql = (
            f"SELECT s.rowid FROM {SQLITE_TABLE} s JOIN monitor_mention m ON m.id = s.rowid "
            f"WHERE {SQLITE_TABLE} MATCH %s"
        )
        params: list[Any] = [match]
        if school_ids is not None:
            sql += f" AND m.school_id IN ({','.join('%s' for _ in school_ids) or 'NULL'})"
            params.extend(school_ids)
        if before_id is not None:
            sql += " AND s.rowid < %s"
            params.append(before_id)
        sql += " ORDER BY s.rowid DESC LIMIT %s"
        params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


# How many of the newest index rows the first, cheap pass reads before falling back to the
# inverted index: enough that a common term fills its page from the newest rows alone.
PG_RECENT_WINDOW = 3000


def _pg_matching_ids(
    q: str, school_ids: Sequence[int] | None, *, limit: int, before_id: int | None
) -> list[int]:
    """Newest-first ids on PostgreSQL, fast for common and rare terms alike.

    A common term is cheapest to find by walking the newest rows backwards and stopping after
    one page; a rare one by the GIN index, then sorting its few hits. The planner cannot tell
    which it is (it does not know how often a phrase of bigrams occurs), so we try the first
    within a bounded window of recent rows and fall back to the second.
    """
    where = ["doc @@ %s::tsquery"]
    params: list[Any] = [q]
    if school_ids is not None:
        where.append("school_id = ANY(%s)")
        params.append(list(school_ids))
    if before_id is not None:
        where.append("mention_id < %s")
        params.append(before_id)
    condition = " AND ".join(where)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT mention_id FROM (SELECT mention_id, doc, school_id FROM {PG_TABLE} "
            f"WHERE {'mention_id < %s' if before_id is not None else 'TRUE'} "
            f"ORDER BY mention_id DESC LIMIT %s) recent WHERE {condition} "
            "ORDER BY mention_id DESC LIMIT %s",
            [*([before_id] if before_id is not None else []), PG_RECENT_WINDOW, *params, limit],
        )
        ids = [row[0] for row in cursor.fetchall()]
        if len(ids) >= limit:
            return ids
        cursor.execute(
            f"WITH hits AS MATERIALIZED (SELECT mention_id FROM {PG_TABLE} WHERE {condition}) "
            "SELECT mention_id FROM hits ORDER BY mention_id DESC LIMIT %s",
            [*params, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def query_terms(query: str) -> list[str]:
    """The positive terms of a query, for highlighting."""
    return [t.text for alt in parse_simple(query) for t in alt if not t.negated]


__all__ = ["BREAK", "index_mentions", "matching_ids", "query_terms", "unindex_mentions"]
