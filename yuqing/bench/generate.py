"""A bureau-size data set, generated fast and deterministically: schools, sources, mentions.

``generate(Spec(schools=200, sources=20_000, mentions=5_000_000, seed=1))`` writes, into the
configured database:

- an education bureau and ``schools`` schools under it, each with one monitoring scheme;
- ``sources`` feed sources spread over the schools (enabled, next poll a day ahead, so that a
  benchmark decides when polling starts);
- ``mentions`` mentions spread over the last ``days`` days, newest with the highest id (as
  ingest writes them), every column the overview, lists and search read filled with realistic
  values (risk, sentiment, topic, relevance, status, event, JSON scores/matches/reasons);
- one event per ~20 mentions of a school with its counts, time span and peak risk;
- the full-text index rows (``yuqing.monitor.search``) of every mention.

Speed: PostgreSQL gets COPY with the tables' secondary indexes and constraints dropped during
the load and rebuilt after (one transaction: a failed load leaves nothing); SQLite gets
``executemany``. Mention texts come from a pool of generated bodies whose index tokens are
computed once (``yuqing.text.search.index_tokens``); a document's tokens are the title's, the
bigram joining title and body, and the body's: exactly what ``search.index_mentions`` stores (checked by
``tests/test_scale_generate.py``).

One place to adapt when Mention changes: ``MentionRows.row`` builds a mention's values by
field name; a column it does not set gets its model default, and a ``GeneratedField`` is left
to the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

TITLE_CHARS = 16  # every title is one CJK run of this length, so its token count is fixed
BODY_POOL = 20_000
TITLES_PER_SCHOOL = 300
MENTIONS_PER_EVENT = 20

_CITIES = [
    "滨海", "江城", "临川", "青山", "云溪", "东阳", "南湖", "西岭", "北川", "石桥",
    "长宁", "安平", "清河", "白沙", "金华", "玉泉", "松江", "柳林", "桂山", "秋浦",
]  # fmt: skip
_SCHOOL_NAMES = [
    "实验中学", "第一中学", "第二中学", "外国语学校", "育才中学",
    "启明小学", "新华小学", "光明中学", "明德学校", "博雅中学",
]  # fmt: skip
_TITLE_WORDS = [
    "食堂", "饭菜", "问题", "家长", "反映", "学生", "宿舍", "漏水", "校车", "超载", "老师",
    "体罚", "考试", "作弊", "收费", "补课", "通报", "回应", "运动会", "获奖", "开学", "典礼",
    "安全", "演练", "疫苗", "接种", "招生", "政策", "调整", "校服", "价格", "午休", "噪音",
]  # fmt: skip
_RISK_WEIGHTS = [(0, 55), (1, 25), (2, 12), (3, 6), (4, 2)]
_SENTIMENTS = [("neutral", 60), ("negative", 25), ("positive", 15)]
_TOPICS = [
    ("campus_news", 30), ("teaching", 15), ("food_lodging", 12), ("admissions_exams", 10),
    ("fees", 6), ("health", 6), ("teacher_conduct", 5), ("emergency", 3),
    ("special_care", 3), ("other", 10),
]  # fmt: skip
_SOURCE_TYPES = [
    ("news", 40),
    ("weibo", 25),
    ("wechat", 15),
    ("forum", 10),
    ("video", 5),
    ("qa", 5),
]
_STATUSES = [("read", 70), ("new", 25), ("ignored", 4), ("handling", 1)]


def _weighted(pairs: Sequence[tuple[Any, int]]) -> list[Any]:
    """A list to draw from uniformly that has each value in proportion to its weight."""
    return [value for value, weight in pairs for _ in range(weight)]


@dataclass(frozen=True)
class Spec:
    schools: int = 200
    sources: int = 20_000
    mentions: int = 5_000_000
    seed: int = 1
    days: int = 90
    prefix: str = "gen"  # slug prefix: two generated sets can live side by side

    @property
    def sources_per_school(self) -> int:
        return max(1, self.sources // self.schools)


@dataclass
class Result:
    bureau_id: int
    school_ids: list[int]
    source_ids: list[int]
    mentions: int
    events: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schools": len(self.school_ids),
            "sources": len(self.source_ids),
            "mentions": self.mentions,
            "events": self.events,
            "seconds": round(self.seconds, 1),
            "phases": {k: round(v, 1) for k, v in self.phases.items()},
        }


def _progress(msg: str) -> None:
    print(f"[generate] {msg}", file=sys.stderr, flush=True)


# -- texts ---------------------------------------------------------------------------------------


def _body_words() -> list[str]:
    from yuqing.bench.monitor import _WORDS

    return list(_WORDS)


def make_body(rng: random.Random, words: Sequence[str]) -> str:
    """One mention text of 80-300 characters: short clauses of everyday school words."""
    length = rng.randint(80, 300)
    parts: list[str] = []
    size = 0
    while size < length:
        clause = "".join(rng.choice(words) for _ in range(rng.randint(3, 8)))
        parts.append(clause + rng.choice("，，，。。！？"))
        size += len(clause) + 1
    return "".join(parts)


def make_title(rng: random.Random, school_short: str) -> str:
    words = [school_short]
    while sum(len(w) for w in words) < TITLE_CHARS:
        words.append(rng.choice(_TITLE_WORDS))
    return "".join(words)[:TITLE_CHARS]


@dataclass
class TextPool:
    """Bodies with their index tokens (SQLite) and tsvector literal (PostgreSQL)."""

    bodies: list[str]
    tokens: list[str]
    literals: list[str]  # positions start after the fixed-size title and the joining bigram


def text_pool(seed: int, size: int, *, want_literals: bool) -> TextPool:
    from yuqing.monitor.search import _tsvector_literal
    from yuqing.text.search import index_tokens

    rng = random.Random(seed * 7919 + 1)
    words = _body_words()
    bodies = [make_body(rng, words) for _ in range(size)]
    tokens = [index_tokens(b) for b in bodies]
    literals: list[str] = []
    if want_literals:
        # The title's 15 bigrams, then the bigram joining it to the body (see MentionRows.row).
        offset = TITLE_CHARS
        for t in tokens:
            literal = _tsvector_literal(t)
            literals.append(
                " ".join(
                    f"{tok[: tok.rindex(':')]}:{int(tok[tok.rindex(':') + 1 :]) + offset}"
                    for tok in literal.split(" ")
                )
            )
    return TextPool(bodies, tokens, literals)


# -- rows ----------------------------------------------------------------------------------------


@dataclass
class SchoolInfo:
    pk: int
    slug: str
    short: str
    source_ids: list[int]
    titles: list[str]
    title_tokens: list[str]
    title_literals: list[str]
    first_event_id: int
    events: int


class MentionRows:
    """Builds mention rows; the one place that knows what a generated mention looks like."""

    def __init__(self, spec: Spec, schools: list[SchoolInfo], pool: TextPool, now: dt.datetime):
        from yuqing.monitor.models import Mention

        self.spec = spec
        self.schools = schools
        self.pool = pool
        self.now = now
        self.start = now - dt.timedelta(days=spec.days)
        self.step = dt.timedelta(days=spec.days) / max(1, spec.mentions)
        self.rng = random.Random(spec.seed)
        self.fields = [
            f
            for f in Mention._meta.concrete_fields
            if not f.primary_key and not getattr(f, "generated", False)
        ]
        self.columns = [f.column for f in self.fields]
        self.names = [f.attname for f in self.fields]
        self.defaults = {
            f.attname: f.get_default() for f in self.fields if f.has_default() or f.null
        }
        self.risks = _weighted(_RISK_WEIGHTS)
        self.sentiments = _weighted(_SENTIMENTS)
        self.topics = _weighted(_TOPICS)
        self.source_types = _weighted(_SOURCE_TYPES)
        self.statuses = _weighted(_STATUSES)
        # Event aggregates: event id -> [count, negative, first, latest, peak, title]
        self.events: dict[int, list[Any]] = {}

    def row(self, i: int, mention_id: int) -> tuple[dict[str, Any], str, str, int]:
        """The values of mention ``i`` by field name, its index tokens, literal and school id."""
        rng = self.rng
        school = self.schools[rng.randrange(len(self.schools))]
        body_index = rng.randrange(len(self.pool.bodies))
        title_index = rng.randrange(len(school.titles))
        published = self.start + self.step * i
        fetched = published + dt.timedelta(seconds=rng.randint(30, 3600))
        if fetched > self.now:
            fetched = self.now
        risk = rng.choice(self.risks)
        sentiment = "negative" if risk >= 3 else rng.choice(self.sentiments)
        relevant = rng.random() < 0.92
        relevance = round(rng.uniform(0.6, 1.0) if relevant else rng.uniform(0.0, 0.4), 3)
        topic = rng.choice(self.topics)
        title = school.titles[title_index]
        url = f"https://news{i % 97}.example.cn/{school.slug}/{i}.html"
        # Each school's events follow one another in time; a mention joins the current one.
        position = min(school.events - 1, int(school.events * i / max(1, self.spec.mentions)))
        event_id = school.first_event_id + position
        aggregate = self.events.get(event_id)
        if aggregate is None:
            self.events[event_id] = [1, sentiment == "negative", published, published, risk, title]
        else:
            aggregate[0] += 1
            aggregate[1] += sentiment == "negative"
            aggregate[3] = published
            if risk > aggregate[4]:
                aggregate[4] = risk
        values = dict(self.defaults)
        values.update(
            school_id=school.pk,
            source_id=school.source_ids[i % len(school.source_ids)],
            source_type=rng.choice(self.source_types),
            url=url,
            url_hash=hashlib.sha256(url.encode()).hexdigest(),
            content_hash=hashlib.sha256(f"{self.spec.seed}:{i}".encode()).hexdigest(),
            title=title,
            text=self.pool.bodies[body_index],
            author=f"网友{rng.randrange(100_000):05d}",
            published_at=None if i % 20 == 0 else published,
            fetched_at=fetched,
            relevant=relevant,
            relevance=relevance,
            sentiment=sentiment,
            topic=topic,
            risk=risk,
            scores=json.dumps(
                {
                    "relevance": relevance,
                    "sentiment": {sentiment: 0.8},
                    "topic": {topic: 0.7},
                    "risk": round(risk / 4, 2),
                }
            ),
            reasons="[]" if risk == 0 else _REASONS[risk],
            matches=json.dumps(
                [
                    {
                        "scheme": school.short,
                        "word": school.short,
                        "kind": "subject",
                        "match_type": "exact",
                        "field": "title",
                        "start": 0,
                        "end": len(school.short),
                        "surface": school.short,
                    }
                ],
                ensure_ascii=False,
            ),
            event_id=event_id,
            status=rng.choice(self.statuses) if i < self.spec.mentions * 0.97 else "new",
            corrected=False,
        )
        # The index folds "title\ntext" into one run when both sides are CJK (whitespace between
        # CJK characters is dropped), so the title's last character and the body's first make
        # one bigram at position TITLE_CHARS, and the body's tokens follow.
        junction = title[-1] + values["text"][0]
        tokens = f"{school.title_tokens[title_index]} {junction} {self.pool.tokens[body_index]}"
        literal = (
            f"{school.title_literals[title_index]} '{junction}':{TITLE_CHARS}"
            f" {self.pool.literals[body_index]}"
            if self.pool.literals
            else ""
        )
        return values, tokens, literal, school.pk


_REASONS = {
    risk: json.dumps(
        [{"label": "risk", "term": term, "weight": 0.4 + risk / 10, "start": 0, "end": 2}],
        ensure_ascii=False,
    )
    for risk, term in ((1, "投诉"), (2, "曝光"), (3, "打人"), (4, "坠楼"))
}


# -- writing -------------------------------------------------------------------------------------


def generate(spec: Spec, *, progress: Callable[[str], None] = _progress) -> Result:
    """Write the data set of ``spec`` into the default database (see the module docstring)."""
    from django.db import connection, transaction
    from django.utils import timezone

    started = time.perf_counter()
    phases: dict[str, float] = {}
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        t = time.perf_counter()
        bureau_id, schools = _schools_and_sources(spec, now)
        phases["schools_sources"] = time.perf_counter() - t
        t = time.perf_counter()
        pool = text_pool(
            spec.seed, min(BODY_POOL, max(100, spec.mentions // 5)),
            want_literals=connection.vendor == "postgresql",
        )  # fmt: skip
        phases["text_pool"] = time.perf_counter() - t
        rows = MentionRows(spec, schools, pool, now)
        t = time.perf_counter()
        if connection.vendor == "postgresql":
            _load_postgres(rows, progress)
        else:
            _load_sqlite(rows, progress)
        phases["mentions"] = time.perf_counter() - t
    t = time.perf_counter()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE monitor_mention")
            cursor.execute("ANALYZE monitor_mention_search")
            cursor.execute("ANALYZE monitor_event")
    phases["analyze"] = time.perf_counter() - t
    return Result(
        bureau_id=bureau_id,
        school_ids=[s.pk for s in schools],
        source_ids=[pk for s in schools for pk in s.source_ids],
        mentions=spec.mentions,
        events=len(rows.events),
        seconds=time.perf_counter() - started,
        phases=phases,
    )


def _school_name(i: int) -> tuple[str, str]:
    city = _CITIES[(i // len(_SCHOOL_NAMES)) % len(_CITIES)]
    kind = _SCHOOL_NAMES[i % len(_SCHOOL_NAMES)]
    lap = i // (len(_CITIES) * len(_SCHOOL_NAMES))
    suffix = f"（{lap + 1}）" if lap else ""
    return f"{city}市{kind}{suffix}", f"{city}{kind[:2]}"


def _schools_and_sources(spec: Spec, now: dt.datetime) -> tuple[int, list[SchoolInfo]]:
    from yuqing.accounts.models import School
    from yuqing.core.tenancy import all_schools
    from yuqing.monitor.models import Event, Scheme, Source
    from yuqing.monitor.search import _tsvector_literal
    from yuqing.text.search import index_tokens

    rng = random.Random(spec.seed * 31 + 7)
    per_school_mentions = max(1, spec.mentions // spec.schools)
    events_per_school = max(1, per_school_mentions // MENTIONS_PER_EVENT)
    with all_schools():
        bureau = School.objects.create(
            name=f"{spec.prefix}教育局", slug=f"{spec.prefix}-bureau", kind=School.Kind.BUREAU
        )
        schools = School.objects.bulk_create(
            School(
                name=f"{spec.prefix}·{_school_name(i)[0]}",
                short_name=_school_name(i)[1],
                slug=f"{spec.prefix}-{i:04d}",
                parent=bureau,
            )
            for i in range(spec.schools)
        )
        schools = list(School.objects.filter(parent=bureau).order_by("slug"))
        Scheme.unscoped.bulk_create(
            Scheme(
                school=s,
                name=s.short_name,
                subject_words=[s.name.split("·", 1)[1], s.short_name],
                region_words=[s.short_name[:2]],
            )
            for s in schools
        )
        Source.unscoped.bulk_create(
            Source(
                school=s,
                name=f"{s.short_name}信源{j:03d}",
                kind=Source.Kind.FEED,
                source_type=("news", "weibo", "wechat", "forum")[j % 4],
                url=f"https://feeds{j % 50}.example.cn/{s.slug}/{j}.xml",
                interval_seconds=900,
                next_poll_at=now + dt.timedelta(days=1, seconds=rng.randrange(900)),
            )
            for s in schools
            for j in range(spec.sources_per_school)
        )
        sources: dict[int, list[int]] = {}
        for school_id, pk in Source.unscoped.filter(school__in=schools).values_list(
            "school_id", "pk"
        ):
            sources.setdefault(school_id, []).append(pk)
        # Event ids are reserved now (the events are written after their mentions, with the
        # counts known): one block of ids per school.
        first_event = (Event.unscoped.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    infos: list[SchoolInfo] = []
    for n, s in enumerate(schools):
        titles = sorted({make_title(rng, s.short_name) for _ in range(TITLES_PER_SCHOOL)})
        # The title's bigrams without its lone last character: the body continues the run.
        tokens = [index_tokens(t).rsplit(" ", 1)[0] for t in titles]
        infos.append(
            SchoolInfo(
                pk=s.pk,
                slug=s.slug,
                short=s.short_name,
                source_ids=sources[s.pk],
                titles=titles,
                title_tokens=tokens,
                title_literals=[_tsvector_literal(t) for t in tokens],
                first_event_id=first_event + n * events_per_school,
                events=events_per_school,
            )
        )
    return bureau.pk, infos


def _mention_stream(
    rows: MentionRows, first_id: int, progress: Callable[[str], None]
) -> Iterator[tuple[int, dict[str, Any], str, str, int]]:
    started = time.perf_counter()
    total = rows.spec.mentions
    report_every = max(50_000, total // 20)
    for i in range(total):
        mention_id = first_id + i
        values, tokens, literal, school_id = rows.row(i, mention_id)
        yield mention_id, values, tokens, literal, school_id
        if (i + 1) % report_every == 0:
            progress(f"mentions {i + 1:,}/{total:,} ({time.perf_counter() - started:.0f} s)")


def _load_sqlite(rows: MentionRows, progress: Callable[[str], None]) -> None:
    from django.db import connection

    from yuqing.monitor.models import Event, Mention

    ops = connection.ops
    convert: dict[str, Callable[[Any], Any]] = {}
    for f in rows.fields:
        if f.get_internal_type() == "DateTimeField":
            convert[f.attname] = ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM monitor_mention")
        first_id = int(cursor.fetchone()[0]) + 1
        columns = ", ".join(["id", *rows.columns])
        marks = ", ".join(["%s"] * (len(rows.columns) + 1))
        insert = f"INSERT INTO {Mention._meta.db_table} ({columns}) VALUES ({marks})"  # noqa: S608
        index = "INSERT INTO monitor_mention_search (rowid, tokens) VALUES (%s, %s)"
        batch: list[tuple[Any, ...]] = []
        docs: list[tuple[int, str]] = []
        for mention_id, values, tokens, _literal, _school in _mention_stream(
            rows, first_id, progress
        ):
            for name, fn in convert.items():
                values[name] = fn(values[name])
            batch.append((mention_id, *(values[n] for n in rows.names)))
            docs.append((mention_id, tokens))
            if len(batch) >= 5000:
                cursor.executemany(insert, batch)
                cursor.executemany(index, docs)
                batch, docs = [], []
        if batch:
            cursor.executemany(insert, batch)
            cursor.executemany(index, docs)
        _write_events(cursor, rows, Event, ops.adapt_datetimefield_value)


def _write_events(
    cursor: Any, rows: MentionRows, event_model: Any, adapt: Callable[[Any], Any]
) -> None:
    school_of = {}
    for s in rows.schools:
        for k in range(s.events):
            school_of[s.first_event_id + k] = s.pk
    data = [
        (
            event_id,
            school_of[event_id],
            f"gen-{event_id}",
            title,
            "",
            adapt(first),
            adapt(latest),
            count,
            negative,
            peak,
            "open" if latest > rows.now - dt.timedelta(days=7) else "closed",
        )
        for event_id, (count, negative, first, latest, peak, title) in sorted(rows.events.items())
    ]
    cursor.executemany(
        f"INSERT INTO {event_model._meta.db_table} (id, school_id, key, title, summary, first_at,"  # noqa: S608
        " latest_at, mention_count, negative_count, peak_risk, status)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        data,
    )
    # Events reserved for a school but given no mention (tiny data sets) are not written; the
    # mentions never point at them.


def _load_postgres(rows: MentionRows, progress: Callable[[str], None]) -> None:
    from django.db import connection

    from yuqing.monitor.models import Event, Mention

    tables = [Mention._meta.db_table, "monitor_mention_search"]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET LOCAL synchronous_commit = off")
        # The schools and sources just written have deferred foreign-key checks pending,
        # which forbid altering the tables: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        saved = _drop_secondary(cursor, tables)
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM monitor_mention")
        first_id = int(cursor.fetchone()[0]) + 1
        columns = ", ".join(["id", *rows.columns])
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        # One COPY at a time per connection: mentions and their index rows alternate by chunk.
        chunk: list[tuple[Any, ...]] = []
        docs: list[tuple[int, int, str]] = []

        def flush() -> None:
            with raw.copy(f"COPY {Mention._meta.db_table} ({columns}) FROM STDIN") as copy:
                for row in chunk:
                    copy.write_row(row)
            with raw.copy(
                "COPY monitor_mention_search (mention_id, school_id, doc) FROM STDIN"
            ) as copy:
                for doc in docs:
                    copy.write_row(doc)
            chunk.clear()
            docs.clear()

        for mention_id, values, _tokens, literal, school_id in _mention_stream(
            rows, first_id, progress
        ):
            chunk.append((mention_id, *(values[n] for n in rows.names)))
            docs.append((mention_id, school_id, literal))
            if len(chunk) >= 20_000:
                flush()
        if chunk:
            flush()
        last = first_id + rows.spec.mentions - 1
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [Mention._meta.db_table, last]
        )
        _write_events(cursor, rows, Event, lambda v: v)
        if rows.events:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
                [Event._meta.db_table, max(rows.events)],
            )
        t = time.perf_counter()
        progress("rebuilding indexes and constraints")
        _restore_secondary(cursor, saved)
        progress(f"indexes rebuilt ({time.perf_counter() - t:.0f} s)")


def _drop_secondary(cursor: Any, tables: Sequence[str]) -> list[str]:
    """Drop the tables' constraints (except primary keys) and indexes; return how to rebuild."""
    restore: list[str] = []
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f', 'c')",
        [list(tables)],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        [list(tables)],
    )
    indexes = cursor.fetchall()
    for table, name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
        restore.insert(0, definition)  # indexes before constraints: FKs check faster
    return restore


def _restore_secondary(cursor: Any, statements: Sequence[str]) -> None:
    for statement in statements:
        cursor.execute(statement)
