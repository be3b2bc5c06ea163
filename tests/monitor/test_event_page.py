"""The event page and the list of events: figures computed from the mentions themselves."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.monitor.test_desk import login, make_mention
from yuqing.core.tenancy import school_scope
from yuqing.monitor.models import Event

pytestmark = pytest.mark.django_db


def make_event(school: Any, title: str, **fields: Any) -> Event:
    now = timezone.now()
    with school_scope(school):
        return Event.objects.create(
            key=title,
            title=title,
            first_at=fields.pop("first_at", now),
            latest_at=fields.pop("latest_at", now),
            **fields,
        )


@pytest.fixture
def story(school: Any) -> dict[str, Any]:
    """A canteen story over five hours: six mentions from three sources, one not relevant."""
    event = make_event(school, "育才中学食堂饭菜发霉")
    start = timezone.now().replace(minute=10, second=0, microsecond=0) - timedelta(hours=5)
    rows = [
        # (hours after start, source, sentiment, risk, relevant)
        (0, "家长论坛", "negative", 2, True),
        (1, "家长论坛", "negative", 2, True),
        (1, "微博", "negative", 3, True),
        (3, "微博", "neutral", 1, True),
        (4, "滨海新闻网", "negative", 4, False),  # a same-named school: never the peak
        (5, "滨海新闻网", "positive", 0, True),
    ]
    mentions = [
        make_mention(
            school,
            f"育才中学食堂饭菜发霉，家长很担心。第{i}条。",
            title=f"食堂第{i}条",
            source_name=source,
            sentiment=sentiment,
            risk=risk,
            relevant=relevant,
            event=event,
            published_at=start + timedelta(hours=h),
        )
        for i, (h, source, sentiment, risk, relevant) in enumerate(rows)
    ]
    return {"event": event, "mentions": mentions, "rows": rows, "start": start}


def test_it_shows_the_events_figures(people: dict[str, Any], story: dict[str, Any]) -> None:
    rows, mentions = story["rows"], story["mentions"]
    response = login(people["handler"]).get(reverse("monitor:event", args=[story["event"].pk]))
    assert response.status_code == 200
    facts = response.context["facts"]
    assert facts.count == len(rows) == 6
    assert facts.relevant == sum(1 for r in rows if r[4])
    assert facts.peak_risk == max(r[3] for r in rows if r[4]) == 3
    assert facts.first.pk == mentions[0].pk and facts.latest.pk == mentions[-1].pk
    assert facts.sentiment == {"negative": 4, "neutral": 1, "positive": 1}
    by_source: dict[str, int] = {}
    for r in rows:
        by_source[r[1]] = by_source.get(r[1], 0) + 1
    assert {name: n for name, _kind, n in facts.sources} == by_source
    body = response.content.decode()
    for m in mentions:
        assert f'id="mention-{m.pk}"' in body


def test_it_charts_the_volume_hour_by_hour(people: dict[str, Any], story: dict[str, Any]) -> None:
    response = login(people["monitor"]).get(reverse("monitor:event", args=[story["event"].pk]))
    island = re.search(
        r'<script id="event-volume-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    data = json.loads(island.group(1))
    mentions, negatives = data["series"][0]["data"], data["series"][1]["data"]
    per_hour: dict[int, int] = {}
    negative_hour: dict[int, int] = {}
    for h, _source, sentiment, _risk, _rel in story["rows"]:
        per_hour[h] = per_hour.get(h, 0) + 1
        negative_hour[h] = negative_hour.get(h, 0) + (sentiment == "negative")
    assert data["kind"] == "bar" and len(mentions) == 6
    assert mentions == [per_hour.get(h, 0) for h in range(6)]
    assert negatives == [negative_hour.get(h, 0) for h in range(6)]


def test_it_summarises_the_event_without_a_language_model(
    people: dict[str, Any], story: dict[str, Any]
) -> None:
    body = (
        login(people["monitor"])
        .get(reverse("monitor:event", args=[story["event"].pk]))
        .content.decode()
    )
    summary = re.search(r'<p class="event-summary">(.*?)</p>', body, re.S).group(1)
    assert "食堂饭菜发霉" in summary


def test_it_lists_events_sorted_by_latest_peak_risk_or_size(
    people: dict[str, Any], school: Any
) -> None:
    now = timezone.now()
    recent = make_event(school, "最近", latest_at=now, peak_risk=1, mention_count=2)
    risky = make_event(
        school, "高风险", latest_at=now - timedelta(days=1), peak_risk=4, mention_count=3
    )
    big = make_event(
        school, "规模大", latest_at=now - timedelta(days=2), peak_risk=2, mention_count=9
    )
    client = login(people["reviewer"])

    def order(sort: str) -> list[int]:
        body = client.get(reverse("monitor:events"), {"sort": sort}).content.decode()
        return [int(x) for x in re.findall(r'href="/monitor/events/(\d+)/"', body)]

    assert order("latest") == [recent.pk, risky.pk, big.pk]
    assert order("risk") == [risky.pk, big.pk, recent.pk]
    assert order("size") == [big.pk, risky.pk, recent.pk]


def test_it_hides_another_schools_events(
    people: dict[str, Any], other_school: Any, outsider: Any, school: Any
) -> None:
    theirs = make_event(other_school, "别校")
    assert (
        login(people["monitor"]).get(reverse("monitor:event", args=[theirs.pk])).status_code == 404
    )
    body = login(people["monitor"]).get(reverse("monitor:events")).content.decode()
    assert "别校" not in body


def test_it_changes_the_status_for_managers_only(
    people: dict[str, Any], story: dict[str, Any], school: Any
) -> None:
    url = reverse("monitor:event_status", args=[story["event"].pk])
    assert login(people["handler"]).post(url, {"status": "closed"}).status_code == 403
    assert login(people["monitor"]).post(url, {"status": "closed"}).status_code == 302
    with school_scope(school):
        assert Event.objects.get(pk=story["event"].pk).status == "closed"
