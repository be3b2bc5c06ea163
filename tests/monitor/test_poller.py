"""Polling real feeds on 127.0.0.1: mentions appear once, unchanged feeds cost a 304."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from yuqing.core.tenancy import school_scope
from yuqing.monitor.demo.seed import seed_demo_monitoring
from yuqing.monitor.demo.server import serve
from yuqing.monitor.models import Event, FetchLog, Mention, Source
from yuqing.monitor.poller import claim_due_sources, poll_due

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_internet(settings: Any) -> Iterator[str]:
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    settings.FETCH_HOST_SPACING_MS = 0
    # Far ahead on the timeline: every demo post is already published.
    server, _internet = serve(speed=10_000)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def demo_sources(school: Any, demo_internet: str) -> list[Source]:
    seed_demo_monitoring(school, base_url=demo_internet)
    with school_scope(school):
        return list(Source.objects.all())


def make_due(school: Any) -> None:
    with school_scope(school):
        Source.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))


def test_it_stores_matching_items_once_and_groups_the_story(
    school: Any, demo_sources: list[Source]
) -> None:
    import time

    time.sleep(0.1)  # let the timeline pass every post
    report = poll_due()
    assert report.polled == len(demo_sources) and report.failed == 0
    with school_scope(school):
        mentions = Mention.objects.all()
        assert mentions.count() == report.new_mentions > 10
        # Posts about the same-named school in another city and the street are not the school.
        assert not mentions.filter(text__contains="青州").filter(relevant=True).exists()
        canteen = mentions.filter(text__contains="食堂", relevant=True)
        assert canteen.count() >= 5
        biggest = Event.objects.order_by("-mention_count").first()
        assert biggest is not None and biggest.mention_count >= 4
        assert biggest.peak_risk >= 3

    make_due(school)
    again = poll_due()
    assert again.new_mentions == 0
    assert again.not_modified == len(demo_sources)
    with school_scope(school):
        assert FetchLog.objects.filter(not_modified=True).count() == len(demo_sources)


def test_it_claims_each_due_source_once(school: Any, demo_sources: list[Source]) -> None:
    first = claim_due_sources()
    second = claim_due_sources()
    assert {s.pk for s in first} == {s.pk for s in demo_sources}
    assert second == []


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Retry-After", "120")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_url(settings: Any) -> Iterator[str]:
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/feed.xml"
    server.shutdown()


def test_it_records_errors_and_backs_off(school: Any, failing_url: str) -> None:
    with school_scope(school):
        source = Source.objects.create(
            name="坏源", kind=Source.Kind.FEED, url=failing_url, interval_seconds=60
        )
    before = timezone.now()
    report = poll_due()
    assert report.failed == 1
    with school_scope(school):
        source.refresh_from_db()
        assert source.consecutive_failures == 1
        assert source.last_error_kind == "http_status"
        assert source.health() == Source.Health.FAILING
        # Retry-After: 120 is honoured over the 60 s interval.
        assert source.next_poll_at >= before + timedelta(seconds=119)
        log = FetchLog.objects.get(source=source)
        assert log.status_code == 503 and log.error_kind == "http_status"


def test_it_refuses_private_addresses_not_on_the_allow_list(
    school: Any, demo_internet: str, settings: Any
) -> None:
    settings.FETCH_ALLOW_HOSTS = []
    with school_scope(school):
        Source.objects.create(
            name="内网", kind=Source.Kind.FEED, url=f"{demo_internet}/feeds/news.xml"
        )
    report = poll_due()
    assert report.failed == 1
    with school_scope(school):
        assert Source.objects.get(name="内网").last_error_kind == "blocked_address"


def test_it_tells_the_administrators_when_a_source_fails_for_a_day(
    school: Any, people: dict[str, Any], failing_url: str
) -> None:
    from yuqing.alerts.models import Notification

    with school_scope(school):
        source = Source.objects.create(name="坏源", kind=Source.Kind.FEED, url=failing_url)
        Source.objects.filter(pk=source.pk).update(
            last_success_at=timezone.now() - timedelta(days=1, minutes=5)
        )
    poll_due()
    with school_scope(school):
        notices = Notification.objects.all()
        assert [n.user for n in notices] == [people["admin"]]
        assert "坏源" in notices[0].title
        # Once, not at every failed poll.
        make_due(school)
    poll_due()
    with school_scope(school):
        assert Notification.objects.count() == 1


def test_the_demo_story_raises_an_alert(school: Any, demo_sources: list[Source]) -> None:
    import time

    from yuqing.alerts.models import Alert
    from yuqing.alerts.services import evaluate_pending

    time.sleep(0.1)
    poll_due()
    # The ingest commits an evaluation request with the mentions; the worker evaluates it.
    evaluate_pending()
    with school_scope(school):
        alerts = Alert.objects.all()
        assert alerts.exists()
        assert max(a.level for a in alerts) >= 3  # the canteen story reaches orange or red
