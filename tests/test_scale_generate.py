"""The bureau data generator: what it writes is what ingest would have written, fast paths included."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db.models import Count
from django.utils import timezone

from yuqing.bench.generate import MentionRows, SchoolInfo, Spec, generate, text_pool
from yuqing.monitor import search
from yuqing.monitor.models import Event, Mention, Source


def _rows(seed: int) -> MentionRows:
    from yuqing.text.search import index_tokens

    pool = text_pool(seed, 200, want_literals=True)
    titles = ["滨海实验食堂饭菜问题家长反映学生", "江城一中校车超载老师回应考试作弊"]
    tokens = [index_tokens(t).rsplit(" ", 1)[0] for t in titles]
    school = SchoolInfo(
        pk=1,
        slug="s",
        short="滨海实验",
        source_ids=[1, 2],
        titles=titles,
        title_tokens=tokens,
        title_literals=[search._tsvector_literal(t) for t in tokens],
        first_event_id=1,
        events=5,
    )
    now = dt.datetime(2026, 11, 25, 8, tzinfo=dt.UTC)
    return MentionRows(Spec(schools=1, sources=2, mentions=100, seed=seed), [school], pool, now)


def test_its_index_rows_are_what_search_would_store() -> None:
    rows = _rows(3)
    for i in range(100):
        values, tokens, literal, _school = rows.row(i, 1000 + i)
        assert tokens == search._document(values["title"], values["text"])
        assert literal == search._tsvector_literal(tokens)


def test_it_fills_every_column_and_repeats_itself() -> None:
    one, two, other = _rows(5), _rows(5), _rows(6)
    # Every column the generator must write: generated columns (dated_at) fill themselves.
    names = {
        f.attname
        for f in Mention._meta.concrete_fields
        if not f.primary_key and not getattr(f, "generated", False)
    }
    first = [one.row(i, i)[0] for i in range(30)]
    assert set(first[0]) == names
    assert first == [two.row(i, i)[0] for i in range(30)]
    assert first != [other.row(i, i)[0] for i in range(30)]
    # Newest last: ids grow with time, as ingest writes them.
    times = [v["fetched_at"] for v in first]
    assert times == sorted(times)


@pytest.mark.django_db
def test_it_writes_a_bureau_that_the_product_reads(settings: Any) -> None:
    from yuqing.accounts.models import School
    from yuqing.core.tenancy import all_schools, school_scope
    from yuqing.monitor.overview import daily_mentions

    result = generate(Spec(schools=4, sources=12, mentions=2000, seed=1, prefix="t"))
    assert result.mentions == 2000
    with all_schools():
        assert School.objects.filter(parent_id=result.bureau_id).count() == 4
        assert Source.objects.filter(school_id__in=result.school_ids).count() == 12
        assert Mention.objects.filter(school_id__in=result.school_ids).count() == 2000
        # Each event counts exactly the mentions that point at it, in its own school.
        counted = dict(
            Mention.objects.values_list("event_id")
            .annotate(n=Count("id"))
            .values_list("event_id", "n")
        )
        events = list(Event.objects.filter(school_id__in=result.school_ids))
        assert len(events) == result.events
        assert {e.pk: e.mention_count for e in events} == counted
        assert not Mention.objects.exclude(school_id=models_school("event__school_id")).exists()
        # New rows after the generated ones get fresh ids (the sequences moved on).
        school = School.objects.get(pk=result.school_ids[0])
    with school_scope(school):
        source = Source.objects.first()
        assert source is not None
        extra = Mention.objects.create(
            source=source,
            text="后来的一条",
            content_hash="x" * 64,
            sentiment="neutral",
            topic="other",
        )
        assert extra.pk > max(Mention.objects.exclude(pk=extra.pk).values_list("pk", flat=True))
        # Search finds generated mentions through the index rows written beside them.
        sample = Mention.objects.exclude(pk=extra.pk).order_by("-id").first()
        assert sample is not None
        term = sample.title[-4:]
        ids = search.matching_ids([school.pk], term, limit=50)
        assert ids and sample.pk in ids
        assert all(term in m.title + m.text for m in Mention.objects.filter(pk__in=ids))
        # The overview's daily figures add up to the relevant mentions of the period.
        today = timezone.localdate()
        daily = daily_mentions(None, today - dt.timedelta(days=100), today)  # type: ignore[arg-type]
        relevant = Mention.objects.filter(relevant=True).exclude(pk=extra.pk).count()
        assert sum(daily.values()) == relevant + (1 if extra.relevant else 0)


def models_school(path: str) -> Any:
    from django.db.models import F

    return F(path)
