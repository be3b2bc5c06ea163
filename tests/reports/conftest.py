"""A small, seeded world of mentions, events and alerts for two schools.

Each mention is first written down as a plain ``Spec``; the tests count the specs themselves
(plain Python, no ORM) and compare with what the reports say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from yuqing.core.tenancy import school_scope

TZ = ZoneInfo("Asia/Shanghai")
START = dt.date(2026, 1, 20)
END = dt.date(2026, 3, 10)
TOPICS = ["teaching", "health", "food_lodging", "fees", "campus_news"]
TYPES = ["news", "weibo", "wechat", "forum"]
SENTIMENTS = ["negative", "neutral", "neutral", "positive"]


@dataclass
class Spec:
    school_id: int
    at: dt.datetime  # local, aware
    sentiment: str
    topic: str
    source_type: str
    event: str | None
    risk: int
    relevant: bool = True
    dated: bool = True  # False: no published_at, counted by fetched_at

    @property
    def day(self) -> dt.date:
        return self.at.date()


@dataclass
class World:
    school: Any
    other: Any
    specs: list[Spec] = field(default_factory=list)
    events: dict[tuple[int, str], Any] = field(default_factory=dict)
    alerts: list[Any] = field(default_factory=list)

    def mine(self) -> list[Spec]:
        return [s for s in self.specs if s.school_id == self.school.pk and s.relevant]

    def on(self, start: dt.date, end: dt.date) -> list[Spec]:
        return [s for s in self.mine() if start <= s.day <= end]


def _build(school: Any, rng: random.Random, n: int, world: World) -> None:
    from yuqing.monitor.models import Event, Mention, Source

    with school_scope(school):
        sources = {
            t: Source.objects.create(name=f"{school.slug}-{t}", kind="manual", source_type=t)
            for t in TYPES
        }
        rows = []
        days = (END - START).days + 1
        for _i in range(n):
            day = START + dt.timedelta(days=rng.randrange(days))
            at = dt.datetime.combine(day, dt.time(rng.randrange(24), rng.randrange(60)), TZ)
            spec = Spec(
                school_id=school.pk,
                at=at,
                sentiment=rng.choice(SENTIMENTS),
                topic=rng.choice(TOPICS),
                source_type=rng.choice(TYPES),
                event=rng.choice([None, None, "e1", "e2", "e3", "e4"]),
                risk=rng.choice([0, 0, 1, 2, 3]),
                relevant=rng.random() > 0.08,
                dated=rng.random() > 0.1,
            )
            world.specs.append(spec)
            rows.append(spec)
        for key in ("e1", "e2", "e3", "e4"):
            mine = [s for s in rows if s.event == key]
            if not mine:
                continue
            first = min(s.at for s in mine)
            last = max(s.at for s in mine)
            world.events[(school.pk, key)] = Event.objects.create(
                key=key,
                title=f"{school.short_name or school.name}事件{key}",
                summary=f"关于{key}的讨论",
                first_at=first,
                latest_at=last,
                mention_count=len(mine),
                peak_risk=max(s.risk for s in mine),
            )
        mentions = []
        for k, s in enumerate(rows):
            digest = hashlib.sha256(f"{school.pk}-{k}".encode()).hexdigest()
            mentions.append(
                Mention(
                    source=sources[s.source_type],
                    source_type=s.source_type,
                    content_hash=digest,
                    title=f"帖子{k}",
                    text=f"育才中学 帖子{k}",
                    published_at=s.at if s.dated else None,
                    fetched_at=s.at,
                    sentiment=s.sentiment,
                    topic=s.topic,
                    risk=s.risk,
                    relevant=s.relevant,
                    event=world.events.get((school.pk, s.event)) if s.event else None,
                )
            )
        Mention.objects.bulk_create(mentions)


def _alerts(school: Any, world: World) -> None:
    from yuqing.alerts.models import Alert

    at = lambda d, h: dt.datetime.combine(d, dt.time(h), TZ)  # noqa: E731
    with school_scope(school):
        plan = [
            # (raised, level, acknowledged, closed)
            (at(dt.date(2026, 1, 30), 9), 2, at(dt.date(2026, 1, 30), 10), None),
            (
                at(dt.date(2026, 2, 1), 22),
                3,
                at(dt.date(2026, 2, 2), 7),
                at(dt.date(2026, 2, 3), 9),
            ),
            (at(dt.date(2026, 2, 3), 14), 4, None, None),
            (at(dt.date(2026, 2, 17), 8), 1, None, None),
        ]
        for i, (raised, level, acked, closed) in enumerate(plan):
            world.alerts.append(
                Alert.objects.create(
                    key=f"k{i}",
                    level=level,
                    title=f"{school.slug} 预警 {i}",
                    created_at=raised,
                    acknowledged_at=acked,
                    closed_at=closed,
                    status=(
                        Alert.Status.CLOSED
                        if closed
                        else Alert.Status.ACKNOWLEDGED
                        if acked
                        else Alert.Status.OPEN
                    ),
                )
            )


@pytest.fixture
def world(school: Any, other_school: Any, people: Any) -> World:
    w = World(school, other_school)
    _build(school, random.Random(7), 260, w)
    _build(other_school, random.Random(8), 120, w)
    _alerts(school, w)
    _alerts(other_school, World(other_school, school))
    return w


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
