"""The hourly rollup the dashboards read equals the mentions counted directly, after every
kind of write: bulk inserts, label corrections, relevance flips, moved dates, events removed,
deletions, and a rebuild after its triggers were lost."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from yuqing.core.tenancy import school_scope
from yuqing.reports import rollup

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
START, END = dt.date(2026, 3, 1), dt.date(2026, 3, 10)


def _fill(school: Any, n: int, seed: int) -> list[Any]:
    from yuqing.monitor.models import Event, Mention, Source

    rng = random.Random(seed)
    with school_scope(school):
        source = Source.objects.create(name=f"r{seed}", kind="manual", source_type="forum")
        events = [
            Event.objects.create(
                key=f"k{seed}-{i}",
                title=f"事件{i}",
                first_at=dt.datetime(2026, 3, 1, tzinfo=TZ),
                latest_at=dt.datetime(2026, 3, 9, tzinfo=TZ),
            )
            for i in range(4)
        ]
        rows = []
        for i in range(n):
            at = dt.datetime.combine(START, dt.time(), TZ) + dt.timedelta(
                seconds=rng.randrange(-86400, 11 * 86400)
            )
            rows.append(
                Mention(
                    source=source,
                    source_type=rng.choice(["news", "weibo", "forum"]),
                    content_hash=f"{seed}-{i}",
                    text="内容",
                    published_at=at if rng.random() < 0.8 else None,
                    fetched_at=at,
                    relevant=rng.random() < 0.9,
                    sentiment=rng.choice(["negative", "neutral", "positive"]),
                    topic=rng.choice(["health", "fees", "other"]),
                    risk=rng.choice([0, 1, 2, 3, 4]),
                    event=rng.choice([None, *events]),
                )
            )
        Mention.objects.bulk_create(rows)
    return events


def _direct(school: Any) -> dict[str, Any]:
    """The dashboard's figures counted from the mentions, in Python, one by one."""
    from yuqing.monitor.models import Mention

    with school_scope(school):
        ms = [
            m
            for m in Mention.objects.filter(relevant=True)
            if START <= (m.published_at or m.fetched_at).astimezone(TZ).date() <= END
        ]
    day = {m.pk: (m.published_at or m.fetched_at).astimezone(TZ).date() for m in ms}
    return {
        "s": dict(Counter((m.sentiment, day[m.pk]) for m in ms)),
        "t": dict(Counter(m.topic for m in ms)),
        "k": dict(Counter(m.source_type for m in ms)),
        "r": sum(1 for m in ms if m.risk >= 3),
        "e": dict(Counter(str(m.event_id) for m in ms if m.event_id)),
        "top": sorted(
            Counter(m.event_id for m in ms if m.event_id).items(), key=lambda kv: (-kv[1], kv[0])
        ),
    }


def _from_rollup(school: Any) -> dict[str, Any]:
    with school_scope(school):
        return {
            "s": rollup.per_day(START, END, "s"),
            "t": rollup.totals(START, END, "t"),
            "k": rollup.totals(START, END, "k"),
            "r": rollup.totals(START, END, "r").get("", 0),
            "e": rollup.totals(START, END, "e"),
            "top": rollup.top_events(START, END, 100),
        }


def test_the_rollup_equals_the_mentions_after_every_kind_of_write(
    school: Any, other_school: Any
) -> None:
    from yuqing.monitor.models import Event, Mention

    events = _fill(school, 600, seed=1)
    _fill(other_school, 300, seed=2)  # another school's mentions never reach ours
    assert _from_rollup(school) == _direct(school)
    with school_scope(school):
        ids = list(Mention.objects.order_by("id").values_list("id", flat=True))
        # Label corrections, relevance flips, dates moved across days and out of range.
        Mention.objects.filter(id__in=ids[:50]).update(sentiment="negative", topic="fees")
        Mention.objects.filter(id__in=ids[50:90]).update(relevant=False)
        Mention.objects.filter(id__in=ids[90:120]).update(relevant=True, risk=4)
        Mention.objects.filter(id__in=ids[120:150]).update(
            published_at=dt.datetime(2026, 3, 5, 23, 59, 59, tzinfo=TZ)
        )
        Mention.objects.filter(id__in=ids[150:170]).update(published_at=None)
        Mention.objects.filter(id__in=ids[170:190]).update(
            published_at=dt.datetime(2026, 4, 1, tzinfo=TZ)
        )
        m = Mention.objects.get(id=ids[200])
        m.sentiment = "positive" if m.sentiment != "positive" else "negative"
        m.save()
    assert _from_rollup(school) == _direct(school)
    with school_scope(school):
        Event.objects.filter(pk=events[0].pk).delete()  # its mentions lose their event
        Mention.objects.filter(id__in=ids[300:400]).delete()
    assert _from_rollup(school) == _direct(school)
    # A migration that rebuilds the table drops its triggers: ensure() notices and rebuilds.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER {rollup.TRIGGER} ON monitor_mention")
        else:
            for suffix in ("ins", "del", "upd"):
                cursor.execute(f"DROP TRIGGER {rollup.TRIGGER}_{suffix}")
    with connection.cursor() as cursor:
        # An older version's trigger, counting wrongly, left behind: ensure() removes it.
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION reports_mentionhour_old_fn() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN UPDATE reports_mentionhour SET n = n + 1000; RETURN NULL; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER reports_mentionhour_old AFTER UPDATE ON monitor_mention "
                "FOR EACH ROW EXECUTE FUNCTION reports_mentionhour_old_fn()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER reports_mentionhour_old AFTER UPDATE ON monitor_mention "
                "BEGIN UPDATE reports_mentionhour SET n = n + 1000; END"
            )
    assert not rollup.installed(connection)
    with school_scope(school):
        Mention.objects.filter(id__in=ids[400:450]).update(sentiment="neutral")  # unseen
    assert rollup.ensure(connection) is True and rollup.installed(connection)
    assert rollup.ensure(connection) is False
    assert _from_rollup(school) == _direct(school)
    with school_scope(school):
        Mention.objects.filter(id__in=ids[450:500]).update(topic="health")
    assert _from_rollup(school) == _direct(school)


def test_the_dashboard_reads_the_rollup_and_agrees_with_the_mentions(
    school: Any, people: Any
) -> None:
    import time_machine
    from django.test import Client

    _fill(school, 400, seed=3)
    want = _direct(school)
    client = Client()
    client.force_login(people["monitor"])
    with time_machine.travel(dt.datetime(2026, 3, 10, 12, tzinfo=TZ), tick=False):
        page = client.get("/reports/dashboard/?range=custom&from=2026-03-01&to=2026-03-10")
    ctx = page.context
    assert ctx["total"] == sum(want["s"].values())
    assert ctx["negative"] == sum(n for (s, _d), n in want["s"].items() if s == "negative")
    assert ctx["risky"] == want["r"]
    top = sorted(want["e"].items(), key=lambda kv: (-kv[1], int(kv[0])))
    assert [(str(i["event"].pk), i["count"]) for i in ctx["top_events"]] == top[:5]
