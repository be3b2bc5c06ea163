"""Overdue cases reach the school's alert channels (a real webhook on 127.0.0.1), once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from tests.alerts.conftest import Receiver, webhook_channel
from tests.cases.conftest import Tree

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 24, 4, 0, tzinfo=dt.UTC)  # 12:00 in Shanghai


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.FETCH_ALLOW_HOSTS = ["127.0.0.1"]
    rec = Receiver()
    rec.start()
    yield rec
    rec.stop()


def test_it_sends_an_overdue_red_case_to_the_alert_channels_once_per_deadline(
    school: Any, tree: Tree, people: Any, as_person: Any, receiver: Receiver
) -> None:
    from yuqing.alerts import delivery
    from yuqing.alerts.models import Delivery
    from yuqing.cases import services
    from yuqing.core.tenancy import school_scope

    webhook_channel(school, receiver, levels=(3, 4))
    webhook_channel(school, receiver, levels=(1,), name="蓝色群")  # not this level
    with time_machine.travel(NOON, tick=False), as_person(people["monitor"]):
        case = services.case_open(
            title="红色事件", level=4, org_unit=tree.klass, by=people["monitor"]
        )
    later = NOON + dt.timedelta(minutes=61)
    assert services.cases_escalate_overdue(now=later) == 1
    assert services.cases_escalate_overdue(now=later + dt.timedelta(minutes=1)) == 0
    assert delivery.deliver_due(now=later).sent == 1
    (body,) = receiver.accepted
    assert body["level"] == 4 and case.number in body["title"]
    assert f"/cases/{case.pk}/" in body["url"] and body["school"] == school.name
    # The next missed limit (the first public response, 4 hours) goes out once more.
    at_four = NOON + dt.timedelta(hours=4, minutes=1)
    assert services.cases_escalate_overdue(now=at_four) == 1
    assert delivery.deliver_due(now=at_four).sent == 1
    assert len(receiver.accepted) == 2
    with school_scope(school):
        rows = list(Delivery.objects.order_by("id"))
        assert [d.purpose for d in rows] == ["escalation", "escalation"]
        assert all(d.status == "sent" and d.alert_id is None for d in rows)


def test_it_queues_nothing_without_a_channel_for_the_level(
    school: Any, tree: Tree, people: Any, as_person: Any, receiver: Receiver
) -> None:
    from yuqing.alerts.models import Delivery
    from yuqing.cases import services
    from yuqing.core.tenancy import school_scope

    webhook_channel(school, receiver, levels=(4,))
    with time_machine.travel(NOON, tick=False), as_person(people["monitor"]):
        services.case_open(title="蓝色", level=1, org_unit=tree.klass, by=people["monitor"])
    assert services.cases_escalate_overdue(now=NOON + dt.timedelta(days=2)) == 1
    with school_scope(school):
        assert not Delivery.objects.exists()
