"""Quiet hours, morning digests and escalation, with the clock under control."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.alerts.conftest import evaluate, make_event, risk_rule, webhook_channel
from yuqing.alerts import delivery, services
from yuqing.alerts.models import Alert, Delivery, Notification
from yuqing.core.tenancy import school_scope

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _vice_principal_on_their_phone(school: Any, people: Any, receiver: Any) -> Any:
    channel = webhook_channel(school, receiver, levels=(), name="副校长手机")
    with school_scope(school):
        services.subscription_save(user=people["reviewer"], channel=channel, levels=[1, 2, 3, 4])
    return channel


def test_at_23_a_blue_alert_waits_for_the_digest_and_a_red_one_goes_at_once(
    school: Any, source: Any, people: Any, receiver: Any
) -> None:
    risk_rule(school, min_risk=1)
    _vice_principal_on_their_phone(school, people, receiver)
    night = dt.datetime(2025, 3, 12, 23, 0, tzinfo=SHANGHAI)
    with time_machine.travel(night, tick=True) as clock:
        blue_event, blue = make_event(school, source, risk=1, title="蓝色小事")
        evaluate(school, blue_event, blue)
        red_event, red = make_event(school, source, risk=4, title="红色大事")
        evaluate(school, red_event, red)
        delivery.deliver_due()
        assert [b["title"] for b in receiver.accepted] == ["红色大事"]
        with school_scope(school):
            held = Delivery.objects.get(status="held")
        assert held.payload["title"] == "蓝色小事"

        clock.move_to(dt.datetime(2025, 3, 13, 7, 10, tzinfo=SHANGHAI))
        assert services.digests_build() == 0  # quiet hours are over, but not digest time yet
        clock.move_to(dt.datetime(2025, 3, 13, 7, 31, tzinfo=SHANGHAI))
        assert services.digests_build() == 1
        assert services.digests_build() == 0
        delivery.deliver_due()
    digest = receiver.accepted[-1]
    assert "1" in digest["title"] and any("蓝色小事" in line for line in digest["lines"])
    with school_scope(school):
        held.refresh_from_db()
        assert held.status == "digested" and held.digest is not None


def test_in_working_hours_a_blue_alert_goes_at_once(
    school: Any, source: Any, people: Any, receiver: Any
) -> None:
    risk_rule(school, min_risk=1)
    _vice_principal_on_their_phone(school, people, receiver)
    with time_machine.travel(dt.datetime(2025, 3, 12, 10, 0, tzinfo=SHANGHAI), tick=True):
        event, mentions = make_event(school, source, risk=1, title="白天的蓝色")
        evaluate(school, event, mentions)
        delivery.deliver_due()
    assert [b["title"] for b in receiver.accepted] == ["白天的蓝色"]


def test_it_escalates_an_unacknowledged_red_alert_after_15_minutes(
    school: Any, source: Any, people: Any, receiver: Any
) -> None:
    risk_rule(school, min_risk=1)
    _vice_principal_on_their_phone(school, people, receiver)
    with school_scope(school):
        # Red: straight from the monitors to the leaders.
        services.policy_update(
            policy=services.policy_for(school.pk),
            ack_minutes={"4": 15},
            escalation_roles={"4": ["monitor", "reviewer", "admin"]},
        )
    start = dt.datetime(2025, 3, 12, 23, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=True) as clock:
        event, mentions = make_event(school, source, risk=4)
        (alert,) = evaluate(school, event, mentions)
        clock.shift(dt.timedelta(minutes=14))
        assert services.alerts_escalate_due() == 0
        clock.shift(dt.timedelta(minutes=2))
        assert services.alerts_escalate_due() == 1
        assert services.alerts_escalate_due() == 0  # once per step
        with school_scope(school):
            alert.refresh_from_db()
            assert alert.status == "escalated" and alert.escalation_step == 1
            escalation = Delivery.objects.get(purpose="escalation")
            assert escalation.user == people["reviewer"]
            assert "15" in escalation.payload["summary"] or "16" in escalation.payload["summary"]
            assert Notification.objects.filter(user=people["reviewer"], alert=alert).exists()
            # The next rung (admin) follows after another 15 minutes unless acknowledged.
            services.alert_acknowledge(alert=alert, user=people["reviewer"])
        clock.shift(dt.timedelta(hours=1))
        assert services.alerts_escalate_due() == 0
    with school_scope(school):
        alert.refresh_from_db()
        assert alert.status == "acknowledged" and alert.acknowledged_by == people["reviewer"]


def test_an_acknowledged_alert_is_never_escalated(school: Any, source: Any, people: Any) -> None:
    risk_rule(school, min_risk=1)
    start = dt.datetime(2025, 3, 12, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=True) as clock:
        event, mentions = make_event(school, source, risk=3)
        (alert,) = evaluate(school, event, mentions)
        with school_scope(school):
            services.alert_acknowledge(alert=alert, user=people["handler"])
        clock.shift(dt.timedelta(hours=3))
        assert services.alerts_escalate_due() == 0
    with school_scope(school):
        assert Alert.objects.get().escalation_step == 0


def test_a_blue_alert_has_no_acknowledgement_limit(school: Any, source: Any, people: Any) -> None:
    risk_rule(school, min_risk=1)
    event, mentions = make_event(school, source, risk=1)
    (alert,) = evaluate(school, event, mentions)
    assert alert.escalate_at is None


def test_escalation_targets_is_the_one_replaceable_resolver(
    school: Any, source: Any, people: Any
) -> None:
    risk_rule(school, min_risk=1)
    event, mentions = make_event(school, source, risk=2)
    (alert,) = evaluate(school, event, mentions)
    with school_scope(school):
        # No handling routes at this school: the policy's ladder of roles.
        first, second = services.escalation_targets(alert, 0), services.escalation_targets(alert, 1)
        assert first is not None and first.via == "ladder" and first.users == [people["monitor"]]
        assert second is not None and second.users == [people["handler"]]
        assert services.escalation_targets(alert, 9) is None
