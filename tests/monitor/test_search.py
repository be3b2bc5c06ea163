"""Full-text search over mentions: the same answers on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from yuqing.core.tenancy import school_scope
from yuqing.monitor import search
from yuqing.monitor.models import Mention, Source
from yuqing.text.search import index_tokens, query_tokens


def add_mention(source: Source, title: str, text: str) -> Mention:
    import hashlib

    mention = Mention.objects.create(
        school_id=source.school_id,
        source=source,
        source_type="news",
        title=title,
        text=text,
        content_hash=hashlib.sha256(f"{title}{text}".encode()).hexdigest(),
        sentiment="neutral",
        topic="other",
    )
    search.index_mentions([(mention.pk, mention.school_id, title, text)])
    return mention


@pytest.fixture
def source(school: Any, in_school: Any) -> Source:
    return Source.objects.create(
        name="本地新闻", kind=Source.Kind.FEED, url="http://127.0.0.1/feed"
    )


def test_it_tokenises_cjk_as_bigrams_and_latin_as_words() -> None:
    assert index_tokens("育才中学 ABC") == "育才 才中 中学 学 zzbreak abc"
    assert query_tokens("育才中学") == (["育才", "才中", "中学"], False)
    assert query_tokens("食") == (["食"], True)


@pytest.mark.django_db
def test_it_finds_two_character_terms(source: Source) -> None:
    canteen = add_mention(source, "", "育才中学食堂饭菜太贵了")
    add_mention(source, "", "育才中学运动会圆满结束")
    assert search.matching_ids([source.school_id], "食堂", limit=10) == [canteen.pk]


@pytest.mark.django_db
def test_it_matches_phrases_exactly_not_scattered_bigrams(source: Source) -> None:
    add_mention(source, "", "学校说食堂会整改")  # 学校 and 食堂, but not 学校食堂
    hit = add_mention(source, "", "据说学校食堂涨价")
    assert search.matching_ids([source.school_id], "学校食堂", limit=10) == [hit.pk]


@pytest.mark.django_db
def test_it_finds_single_characters_at_the_end_of_a_run(source: Source) -> None:
    hit = add_mention(source, "", "这件事真的很烦。")
    assert search.matching_ids([source.school_id], "烦", limit=10) == [hit.pk]


@pytest.mark.django_db
def test_it_folds_traditional_and_full_width_spellings(source: Source) -> None:
    hit = add_mention(source, "", "育才中學飯堂ＡＢＣ")
    assert search.matching_ids([source.school_id], "育才中学", limit=10) == [hit.pk]
    assert search.matching_ids([source.school_id], "abc", limit=10) == [hit.pk]


@pytest.mark.django_db
def test_it_combines_and_or_not(source: Source) -> None:
    a = add_mention(source, "", "食堂饭菜太贵")
    b = add_mention(source, "", "宿舍热水停了")
    c = add_mention(source, "", "食堂和宿舍都要整改")
    ids = lambda q: search.matching_ids([source.school_id], q, limit=10)  # noqa: E731
    assert ids("食堂 宿舍") == [c.pk]
    assert ids("食堂 OR 宿舍") == [c.pk, b.pk, a.pk]
    assert ids("食堂 -宿舍") == [a.pk]
    assert ids('"饭菜太贵"') == [a.pk]


@pytest.mark.django_db
def test_it_pages_newest_first(source: Source) -> None:
    made = [add_mention(source, "", f"食堂第{i}次通报") for i in range(5)]
    first = search.matching_ids([source.school_id], "食堂", limit=2)
    assert first == [made[4].pk, made[3].pk]
    assert search.matching_ids([source.school_id], "食堂", limit=2, before_id=first[-1]) == [
        made[2].pk,
        made[1].pk,
    ]


@pytest.mark.django_db
def test_it_never_returns_another_schools_mentions(source: Source, other_school: Any) -> None:
    ours = add_mention(source, "", "食堂通报")
    with school_scope(other_school):
        theirs_source = Source.objects.create(name="他校", kind=Source.Kind.FEED)
        add_mention(theirs_source, "", "食堂通报 他校")
    assert search.matching_ids([source.school_id], "食堂", limit=10) == [ours.pk]


@pytest.mark.django_db
def test_it_forgets_unindexed_mentions(source: Source) -> None:
    gone = add_mention(source, "", "食堂通报")
    search.unindex_mentions([(gone.pk, gone.title, gone.text)])
    assert search.matching_ids([source.school_id], "食堂", limit=10) == []


def test_it_has_no_terms_for_an_empty_query() -> None:
    assert search.parse_simple("  -食堂 ") == []
