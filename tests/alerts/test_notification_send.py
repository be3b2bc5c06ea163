"""notification_send: the one way to put an in-app notification in front of people."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.alerts.conftest import evaluate, make_event, risk_rule
from yuqing.accounts.models import User
from yuqing.alerts.models import Notification
from yuqing.alerts.services import notification_send
from yuqing.core.tenancy import all_schools, school_scope

pytestmark = pytest.mark.django_db


def test_one_row_per_active_person_whatever_the_repeats(school: Any, people: Any) -> None:
    User._base_manager.filter(pk=people["staff"].pk).update(is_active=False)
    with school_scope(school):
        sent = notification_send(
            [people["monitor"], people["monitor"].pk, None, people["handler"], people["staff"]],
            title="值班表已更新" * 100,
            body="请查看",
            level=2,
        )
        rows = list(Notification.objects.order_by("user_id"))
    assert sent == 2
    assert [r.user_id for r in rows] == sorted([people["monitor"].pk, people["handler"].pk])
    assert {r.school_id for r in rows} == {school.pk}
    assert {r.level for r in rows} == {2} and len(rows[0].title) == 300

    client = Client()
    client.force_login(people["monitor"])
    badge = client.get(reverse("alerts:notification_badge")).content.decode()
    assert 'class="notification-count">1<' in badge


def test_an_alerts_notification_takes_the_alerts_school(
    school: Any, source: Any, people: Any
) -> None:
    risk_rule(school, min_risk=1)
    event, mentions = make_event(school, source, risk=3)
    (alert,) = evaluate(school, event, mentions)
    with all_schools():
        before = Notification.unscoped.filter(user=people["reviewer"]).count()
        # Outside any writable scope: the alert says which school.
        assert notification_send([people["reviewer"]], title="看一下", alert=alert, level=3) == 1
        row = Notification.unscoped.filter(user=people["reviewer"]).order_by("-id").first()
    assert before + 1 == Notification.unscoped.filter(user=people["reviewer"]).count()
    assert row is not None and row.alert_id == alert.pk and row.school_id == school.pk


def test_bad_calls_are_refused(school: Any, people: Any) -> None:
    with school_scope(school), pytest.raises(ValueError, match="level"):
        notification_send([people["admin"]], title="x", level=7)
    with all_schools(), pytest.raises(ValueError, match="school"):
        notification_send([people["admin"]], title="x")  # no school to write in
    with school_scope(school):
        assert notification_send([], title="nobody") == 0
        assert not Notification.objects.exists()
