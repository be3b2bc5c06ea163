"""Alerts fixtures: a source, events with mentions, and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone

from yuqing.core.tenancy import school_scope

SECRET = "s3cret-signing-key-123"


@dataclass
class Receiver:
    """A webhook endpoint that answers with the queued statuses (then 200) and keeps bodies."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    port: int = 0
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.received.append(body)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.accepted.append(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Close the listening socket: connections are refused until start() again."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    rec = Receiver()
    rec.start()
    yield rec
    rec.stop()


@pytest.fixture
def source(school: Any) -> Any:
    from yuqing.monitor.models import Source

    with school_scope(school):
        return Source.objects.create(name="本地论坛", kind="manual", source_type="forum")


_counter = iter(range(1, 10**9))


def add_mentions(
    event: Any,
    source: Any,
    n: int,
    *,
    risk: int = 0,
    sentiment: str = "neutral",
    when: dt.datetime | None = None,
    text: str = "育才中学食堂的饭菜",
    spacing: dt.timedelta = dt.timedelta(0),
) -> list[Any]:
    from yuqing.monitor.models import Mention

    when = when or timezone.now()
    rows = []
    for i in range(n):
        k = next(_counter)
        rows.append(
            Mention(
                school_id=event.school_id,
                source=source,
                source_type="forum",
                content_hash=hashlib.sha256(f"{k}".encode()).hexdigest(),
                title=f"{text} {k}",
                text=f"{text} 第{k}帖",
                published_at=when - spacing * i,
                fetched_at=when - spacing * i,
                sentiment=sentiment,
                topic="food_lodging",
                risk=risk,
                event=event,
            )
        )
    with school_scope(event.school_id):
        created = Mention.objects.bulk_create(rows)
        from django.db.models import F

        type(event).objects.filter(pk=event.pk).update(
            mention_count=F("mention_count") + n,
            peak_risk=max(event.peak_risk, risk),
            negative_count=F("negative_count") + (n if sentiment == "negative" else 0),
        )
        event.refresh_from_db()
    return created


def make_event(
    school: Any, source: Any, *, title: str = "食堂饭菜变质", risk: int = 2, n: int = 3, **kw: Any
) -> tuple[Any, list[Any]]:
    from yuqing.monitor.models import Event

    now = timezone.now()
    with school_scope(school):
        event = Event.objects.create(
            key=f"ev-{next(_counter)}", title=title, first_at=now, latest_at=now
        )
    mentions = add_mentions(event, source, n, risk=risk, **kw)
    return event, mentions


def risk_rule(school: Any, *, min_risk: int = 1, level: int = 1) -> Any:
    from yuqing.alerts.services import rule_save

    with school_scope(school):
        return rule_save(
            name=f"风险≥{min_risk}", kind="risk_level", level=level, params={"min_risk": min_risk}
        )


def webhook_channel(
    school: Any, receiver: Receiver, *, levels: tuple[int, ...] = (1, 2, 3, 4), name: str = "值班群"
) -> Any:
    from yuqing.alerts.services import channel_save

    with school_scope(school):
        return channel_save(
            name=name,
            kind="webhook",
            config={"url": receiver.url, "secret": SECRET},
            levels=levels,
        )


def evaluate(
    school: Any, event: Any, mentions: list[Any], now: dt.datetime | None = None
) -> list[Any]:
    from yuqing.alerts.services import alerts_evaluate

    return alerts_evaluate(
        school_id=school.pk, event_ids=[event.pk], mention_ids=[m.pk for m in mentions], now=now
    )
