"""Every number of a report equals a count made here, from the world's specs, by hand."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
import time_machine

from tests.reports.conftest import TZ, World
from yuqing.core.tenancy import school_scope
from yuqing.reports import compute
from yuqing.reports.models import Kind

pytestmark = pytest.mark.django_db


def _values(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v["value"] for k, v in data["numbers"].items()}


def _expect_monitoring(world: World, start: dt.date, end: dt.date) -> dict[str, int]:
    specs = world.on(start, end)
    return {
        "mentions": len(specs),
        "negative": sum(1 for s in specs if s.sentiment == "negative"),
        "risky": sum(1 for s in specs if s.risk >= 2),
        "events_touched": len({s.event for s in specs if s.event}),
    }


def test_it_counts_one_day_exactly(world: World, school: Any) -> None:
    day = dt.date(2026, 2, 3)
    with school_scope(school):
        data = compute.compute(Kind.DAILY, day, day)
    got = _values(data)
    for key, want in _expect_monitoring(world, day, day).items():
        assert got[key] == want, key
    topics = Counter(s.topic for s in world.on(day, day))
    from yuqing.monitor.models import Topic

    labels = dict(Topic.choices)
    assert {row[0]: row[1] for row in data["tables"]["topics"]} == {
        str(labels[k]): topics.get(k, 0) for k in Topic.values
    }
    assert sum(n for _label, n in data["tables"]["source_types"]) == len(world.on(day, day))
    # The alert of 14:00 that day is red and nobody acknowledged it by midnight.
    assert got["alerts"] == 1 and got["alerts_4"] == 1 and got["alerts_handled"] == 0


def test_it_counts_a_week_that_crosses_a_month(world: World, school: Any) -> None:
    start, end = dt.date(2026, 1, 26), dt.date(2026, 2, 1)  # Monday 26 Jan – Sunday 1 Feb
    with school_scope(school):
        data = compute.compute(Kind.WEEKLY, start, end)
    got = _values(data)
    for key, want in _expect_monitoring(world, start, end).items():
        assert got[key] == want, key
    before = _expect_monitoring(world, dt.date(2026, 1, 19), dt.date(2026, 1, 25))
    assert data["trends"]["mentions"]["before"] == before["mentions"]
    assert data["trends"]["mentions"]["change"] == got["mentions"] - before["mentions"]
    # Two alerts in the week: 30 Jan (acknowledged the same morning) and 1 Feb 22:00 (the
    # acknowledgement came on 2 Feb, after the week ended: not handled as of the week's end).
    assert got["alerts"] == 2
    assert got["alerts_handled"] == 1
    per_day = [sum(v[i] for v in data["series"]["by_sentiment"].values()) for i in range(7)]
    days = [start + dt.timedelta(days=i) for i in range(7)]
    assert per_day == [len(world.on(d, d)) for d in days]


def test_it_counts_a_month_against_the_month_before(world: World, school: Any) -> None:
    with school_scope(school):
        data = compute.compute(Kind.MONTHLY, dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    got = _values(data)
    feb = _expect_monitoring(world, dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    jan = _expect_monitoring(world, dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert got["mentions"] == feb["mentions"]
    assert data["trends"]["negative"]["before"] == jan["negative"]
    assert data["previous"]["start"] == "2026-01-01"


def test_it_counts_new_and_growing_events(world: World, school: Any) -> None:
    start, end = dt.date(2026, 2, 10), dt.date(2026, 2, 16)
    with school_scope(school):
        data = compute.compute(Kind.WEEKLY, start, end)
    mine = {k: e for (sid, k), e in world.events.items() if sid == school.pk}
    new = {k for k, e in mine.items() if start <= e.first_at.astimezone(TZ).date() <= end}
    growing = {
        k
        for k, e in mine.items()
        if e.first_at.astimezone(TZ).date() < start
        and any(s.event == k for s in world.on(start, end))
    }
    assert data["numbers"]["events_new"]["value"] == len(new)
    assert data["numbers"]["events_growing"]["value"] == len(growing)
    for row in data["lists"]["growing"]:
        key = next(k for k, e in mine.items() if e.pk == row["id"])
        assert row["mentions"] == sum(1 for s in world.on(start, end) if s.event == key)


def test_it_never_counts_another_schools_records(
    world: World, school: Any, other_school: Any
) -> None:
    start, end = dt.date(2026, 1, 20), dt.date(2026, 3, 10)
    with school_scope(other_school):
        theirs = compute.compute(Kind.MONTHLY, dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    with school_scope(school):
        ours = compute.compute(Kind.MONTHLY, dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert ours["numbers"]["mentions"]["value"] == len(
        world.on(dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    )
    their_specs = [
        s for s in world.specs if s.school_id == other_school.pk and s.relevant and s.day.month == 2
    ]
    assert theirs["numbers"]["mentions"]["value"] == len(their_specs)
    titles = {e["title"] for e in ours["lists"]["new"] + ours["lists"]["growing"]}
    assert not any(t.startswith(other_school.name) for t in titles)
    assert all(a["title"].startswith(school.slug) for a in ours["lists"]["alerts"])
    assert start < end


def test_it_gives_the_same_numbers_when_generated_again(world: World, school: Any) -> None:
    with school_scope(school):
        first = compute.compute(Kind.HALF_YEAR, dt.date(2026, 1, 1), dt.date(2026, 6, 30))
        with time_machine.travel(dt.datetime(2026, 8, 1, 9, tzinfo=TZ), tick=False):
            again = compute.compute(Kind.HALF_YEAR, dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert first == again
    assert first["numbers"]["mentions"]["value"] == len(
        world.on(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    )


def test_it_lists_cases_open_at_the_end_of_the_day(world: World, school: Any) -> None:
    from yuqing.cases.models import Case

    at = dt.datetime(2026, 2, 3, 10, tzinfo=TZ)
    with school_scope(school):
        Case.objects.create(
            number="2026-001",
            title="食堂投诉",
            level=2,
            source="manual",
            created_at=at,
            close_due_at=at + dt.timedelta(days=2),
        )
        Case.objects.create(
            number="2026-002",
            title="已办结",
            level=1,
            source="manual",
            created_at=at,
            status="closed",
            closed_at=at + dt.timedelta(hours=3),
        )
        data = compute.compute(Kind.DAILY, dt.date(2026, 2, 3), dt.date(2026, 2, 3))
    assert [c["number"] for c in data["lists"]["cases"]] == ["2026-001"]
    assert data["numbers"]["cases_opened"]["value"] == 2
    assert data["numbers"]["cases_closed"]["value"] == 1


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        # No daylight-saving change in the window: SQLite counts days by arithmetic.
        ("Asia/Shanghai", dt.date(2026, 3, 26), dt.date(2026, 4, 1)),
        # Berlin moves its clocks on 29 March: the window has a 23-hour day.
        ("Europe/Berlin", dt.date(2026, 3, 26), dt.date(2026, 4, 1)),
        ("Europe/Berlin", dt.date(2026, 10, 23), dt.date(2026, 10, 27)),
    ],
)
def test_mentions_fall_on_their_local_day_at_the_edges(
    school: Any, zone: str, start: dt.date, end: dt.date
) -> None:
    """A mention a second either side of local midnight counts on its own local day."""
    from zoneinfo import ZoneInfo

    from django.db.models import Count
    from django.utils import timezone

    from yuqing.monitor.models import Mention, Source

    tz = ZoneInfo(zone)
    instants = []
    day = start - dt.timedelta(days=1)
    while day <= end + dt.timedelta(days=1):
        midnight = dt.datetime.combine(day, dt.time.min, tz)
        instants += [
            midnight - dt.timedelta(seconds=1),
            midnight,
            midnight + dt.timedelta(hours=23),
        ]
        day += dt.timedelta(days=1)
    with timezone.override(tz), school_scope(school):
        source = Source.objects.create(name="edges", kind="manual", source_type="news")
        Mention.objects.bulk_create(
            Mention(
                source=source,
                source_type="news",
                content_hash=f"edge-{i}",
                text="边界",
                # Half dated by publication, half only by when they were fetched.
                published_at=at if i % 2 else None,
                fetched_at=at,
                sentiment="neutral",
                topic="other",
            )
            for i, at in enumerate(instants)
        )
        expr, to_date = compute.local_day(start, end)
        rows = compute._mentions(start, end).annotate(day=expr).values("day").annotate(n=Count("*"))
        got = {to_date(r["day"]): r["n"] for r in rows}
    want = Counter(
        at.astimezone(tz).date() for at in instants if start <= at.astimezone(tz).date() <= end
    )
    assert got == dict(want)
