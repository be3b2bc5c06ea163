"""Delivering to real HTTP servers on 127.0.0.1: claims, retries, order, never a silent loss."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.alerts.conftest import SECRET, evaluate, make_event, risk_rule, webhook_channel
from yuqing.alerts import delivery
from yuqing.alerts.models import Channel, Delivery
from yuqing.core.tenancy import all_schools, school_scope

pytestmark = pytest.mark.django_db


def _deliveries(school: Any) -> list[Delivery]:
    with school_scope(school):
        return list(Delivery.objects.order_by("id"))


def test_it_sends_a_signed_webhook_with_enough_to_act_on(
    school: Any, source: Any, people: Any, receiver: Any
) -> None:
    risk_rule(school, min_risk=1)
    webhook_channel(school, receiver)
    event, mentions = make_event(school, source, risk=4, title="学生在校受伤")
    evaluate(school, event, mentions)
    report = delivery.deliver_due()
    assert report.sent == 1
    (body,) = receiver.accepted
    assert body["level"] == 4 and body["title"] == "学生在校受伤"
    assert "/alerts/" in body["url"] and body["school"] == "育才中学"
    assert any("本地论坛" in line for line in body["lines"])
    (d,) = _deliveries(school)
    assert d.status == "sent" and d.attempts == 1 and d.last_status == 200


def test_two_claimers_of_one_row_never_both_win(
    school: Any, source: Any, people: Any, receiver: Any
) -> None:
    risk_rule(school, min_risk=1)
    webhook_channel(school, receiver)
    event, mentions = make_event(school, source, risk=3)
    evaluate(school, event, mentions)
    (d,) = _deliveries(school)
    now = timezone.now()
    # Both workers read the row as pending with 0 attempts; both try to take it.
    first = delivery.try_claim(d.pk, status="pending", attempts=0, lease_until=None, now=now)
    second = delivery.try_claim(d.pk, status="pending", attempts=0, lease_until=None, now=now)
    assert (first, second) == (True, False)
    assert delivery.claim_due() == []  # leased: nobody else takes it either


def test_a_claim_whose_worker_died_is_taken_again_after_the_lease(
    school: Any, source: Any, people: Any, receiver: Any
) -> None:
    risk_rule(school, min_risk=1)
    webhook_channel(school, receiver)
    event, mentions = make_event(school, source, risk=3)
    evaluate(school, event, mentions)
    assert len(delivery.claim_due()) == 1  # the worker dies here
    later = timezone.now() + delivery.LEASE + dt.timedelta(seconds=1)
    report = delivery.deliver_due(now=later)
    assert report.sent == 1 and len(receiver.accepted) == 1


def test_a_channel_answering_500_then_200_gets_the_message_once(
    school: Any, source: Any, people: Any, receiver: Any
) -> None:
    risk_rule(school, min_risk=1)
    webhook_channel(school, receiver)
    receiver.statuses = [500]
    event, mentions = make_event(school, source, risk=4)
    evaluate(school, event, mentions)
    start = timezone.now()
    with time_machine.travel(start, tick=True) as clock:
        first = delivery.deliver_due()
        assert first.failed == 1
        (d,) = _deliveries(school)
        assert d.status == "failed" and d.last_status == 500
        assert delivery.deliver_due().claimed == 0  # backing off
        clock.shift(delivery.backoff(1) + dt.timedelta(seconds=1))
        assert delivery.deliver_due().sent == 1
        clock.shift(dt.timedelta(hours=1))
        assert delivery.deliver_due().claimed == 0
    assert len(receiver.received) == 2 and len(receiver.accepted) == 1
    (d,) = _deliveries(school)
    assert d.status == "sent" and d.attempts == 2


def test_a_channel_down_for_an_hour_gets_its_backlog_in_order(
    school: Any, source: Any, people: Any, receiver: Any
) -> None:
    risk_rule(school, min_risk=1)
    webhook_channel(school, receiver)
    receiver.stop()  # connections refused
    start = timezone.now()
    titles = ["第一条", "第二条", "第三条"]
    with time_machine.travel(start, tick=True) as clock:
        for title in titles:
            event, mentions = make_event(school, source, risk=4, title=title)
            evaluate(school, event, mentions)
            clock.shift(dt.timedelta(minutes=1))
        for _ in range(12):  # the tick runs all hour long
            delivery.deliver_due()
            clock.shift(dt.timedelta(minutes=5))
        rows = _deliveries(school)
        assert [d.status for d in rows] == ["failed", "pending", "pending"]
        assert rows[0].attempts > 3 and rows[1].attempts == rows[2].attempts == 0
        receiver.start()  # back, on the same port
        clock.shift(delivery.BACKOFF_MAX)
        report = delivery.deliver_due()
    assert report.sent == 3
    assert [b["title"] for b in receiver.accepted] == titles
    assert all(d.status == "sent" for d in _deliveries(school))


def test_it_gives_up_visibly_and_tells_the_administrators(
    school: Any, source: Any, people: Any, receiver: Any
) -> None:
    from yuqing.alerts.models import Notification
    from yuqing.audit.models import AuditEntry

    risk_rule(school, min_risk=1)
    webhook_channel(school, receiver)
    receiver.statuses = [400]  # a refusal that retrying cannot fix
    event, mentions = make_event(school, source, risk=4)
    evaluate(school, event, mentions)
    assert delivery.deliver_due().dead == 1
    (d,) = _deliveries(school)
    assert d.status == "dead" and d.last_status == 400
    with school_scope(school):
        assert AuditEntry.objects.filter(action="alerts.delivery.dead").count() == 1
        assert Notification.objects.filter(user=people["admin"], title__contains="值班群").exists()


def test_it_refuses_a_bad_channel_configuration_at_save(school: Any) -> None:
    from yuqing.alerts.services import channel_save

    with school_scope(school):
        with pytest.raises(ValidationError) as bad_url:
            channel_save(
                name="坏的", kind="webhook", config={"url": "ftp://x", "secret": SECRET}, levels=[4]
            )
        assert "config_url" in bad_url.value.message_dict
        with pytest.raises(ValidationError) as short_secret:
            channel_save(
                name="坏的",
                kind="dingtalk",
                config={"webhook": "https://example.com/x", "secret": "abc"},
                levels=[4],
            )
        assert "config_webhook" in short_secret.value.message_dict
        assert Channel.objects.count() == 0


def test_it_stores_channel_secrets_encrypted(school: Any, receiver: Any) -> None:
    channel = webhook_channel(school, receiver)
    with all_schools():
        raw = Channel.unscoped.values_list("config_token", flat=True).get(pk=channel.pk)
    assert SECRET not in raw and "127.0.0.1" not in raw
    assert channel.config["secret"] == SECRET


def test_a_test_message_goes_through_the_transport(school: Any, people: Any, receiver: Any) -> None:
    from yuqing.alerts.services import channel_send_test

    channel = webhook_channel(school, receiver)
    with school_scope(school):
        channel_send_test(channel=channel, level=2)
    assert delivery.deliver_due().sent == 1
    (body,) = receiver.accepted
    assert body["test"] is True and body["level"] == 2
