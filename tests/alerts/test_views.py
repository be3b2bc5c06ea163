"""The alerts pages: who may see and do what, and one school never sees another's alerts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.alerts.conftest import SECRET, evaluate, make_event, risk_rule, webhook_channel
from tests.test_permissions import inline_code_in
from yuqing.accounts.roles import CAPABILITIES
from yuqing.alerts.models import Alert, Channel, Notification
from yuqing.core.tenancy import school_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(school: Any, source: Any, people: Any) -> Alert:
    risk_rule(school, min_risk=1)
    event, mentions = make_event(school, source, risk=4, title="食堂饭菜变质")
    (raised,) = evaluate(school, event, mentions)
    return raised


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _pages(alert: Alert, channel: Channel) -> dict[str, tuple[str, str]]:
    return {
        "index": (reverse("alerts:index"), "alerts.view"),
        "detail": (reverse("alerts:detail", args=[alert.pk]), "alerts.view"),
        "notifications": (reverse("alerts:notifications"), "alerts.view"),
        "badge": (reverse("alerts:notification_badge"), "alerts.view"),
        "me": (reverse("alerts:my_settings"), "alerts.view"),
        "rules": (reverse("alerts:rule_list"), "alerts.manage"),
        "rule_new": (reverse("alerts:rule_create"), "alerts.manage"),
        "channels": (reverse("alerts:channel_list"), "alerts.manage"),
        "channel": (reverse("alerts:channel_detail", args=[channel.pk]), "alerts.manage"),
        "channel_log": (reverse("alerts:channel_log", args=[channel.pk]), "alerts.manage"),
        "preview": (
            reverse("alerts:channel_preview", args=[channel.pk]) + "?level=4",
            "alerts.manage",
        ),
        "people": (reverse("alerts:subscriptions"), "alerts.manage"),
        "policy": (reverse("alerts:policy"), "alerts.manage"),
    }


def test_every_role_gets_exactly_what_its_capabilities_allow(
    people: dict[str, Any], alert: Alert, receiver: Any, school: Any
) -> None:
    channel = webhook_channel(school, receiver)
    failures = []
    for role, user in people.items():
        client = _client(user)
        for name, (url, capability) in _pages(alert, channel).items():
            want = 200 if role in CAPABILITIES[capability] else 403
            got = client.get(url).status_code
            if got != want:
                failures.append(f"{role} {name}: {got}, want {want}")
        ack = client.post(reverse("alerts:acknowledge", args=[alert.pk])).status_code
        if (ack == 403) == (role in CAPABILITIES["cases.handle"]):
            failures.append(f"{role} acknowledge: {ack}")
    assert failures == []


def test_another_school_never_sees_our_alerts(
    alert: Alert, outsider: Any, receiver: Any, school: Any
) -> None:
    channel = webhook_channel(school, receiver)
    client = _client(outsider)
    listing = client.get(reverse("alerts:index") + "?status=all").content.decode()
    assert "食堂饭菜变质" not in listing
    for url in (
        reverse("alerts:detail", args=[alert.pk]),
        reverse("alerts:channel_detail", args=[channel.pk]),
    ):
        assert client.get(url).status_code == 404
    assert client.post(reverse("alerts:acknowledge", args=[alert.pk])).status_code == 404
    with school_scope(school):
        assert Alert.objects.get(pk=alert.pk).status == "open"


def test_the_bureau_reads_but_cannot_acknowledge(alert: Alert, bureau_user: Any) -> None:
    client = _client(bureau_user)
    assert "食堂饭菜变质" in client.get(reverse("alerts:index")).content.decode()
    assert client.post(reverse("alerts:acknowledge", args=[alert.pk])).status_code == 403


def test_a_handler_acknowledges_from_the_alert_page(alert: Alert, people: Any, school: Any) -> None:
    client = _client(people["handler"])
    page = client.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    assert "食堂饭菜变质" in page and inline_code_in(page) == []
    assert f"/cases/new/?alert={alert.pk}" in page  # "open a case" leads to the cases module
    response = client.post(reverse("alerts:acknowledge", args=[alert.pk]))
    assert response.status_code == 302
    with school_scope(school):
        alert.refresh_from_db()
    assert alert.status == "acknowledged" and alert.acknowledged_by == people["handler"]


def test_the_badge_counts_unread_notifications(alert: Alert, people: Any, school: Any) -> None:
    client = _client(people["monitor"])
    badge = client.get(reverse("alerts:notification_badge")).content.decode()
    assert 'class="notification-count">1<' in badge
    home = client.get("/").content.decode()
    assert reverse("alerts:notification_badge") in home  # the top bar polls it
    client.post(reverse("alerts:notifications_read"))
    with school_scope(school):
        assert not Notification.objects.filter(user=people["monitor"], read_at=None).exists()


def test_a_bad_channel_is_refused_with_a_clear_message(people: Any, school: Any) -> None:
    client = _client(people["admin"])
    response = client.post(
        reverse("alerts:channel_create"),
        {
            "name": "钉钉群",
            "kind": "dingtalk",
            "levels": ["4"],
            "enabled": "on",
            "webhook": "https://evil.example.com/robot/send?access_token=abcdefgh1234",
            "secret": "x",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "errorlist" in html
    with school_scope(school):
        assert not Channel.objects.exists()


def test_an_administrator_adds_a_channel_and_sends_a_test(
    people: Any, school: Any, receiver: Any
) -> None:
    from yuqing.alerts import delivery

    client = _client(people["admin"])
    response = client.post(
        reverse("alerts:channel_create"),
        {
            "name": "值班 webhook",
            "kind": "webhook",
            "levels": ["3", "4"],
            "enabled": "on",
            "url": receiver.url,
            "secret": SECRET,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with school_scope(school):
        channel = Channel.objects.get()
    client.post(reverse("alerts:channel_test", args=[channel.pk]), {"level": "3"})
    delivery.deliver_due()
    assert receiver.accepted[0]["test"] is True
    log = client.get(reverse("alerts:channel_log", args=[channel.pk])).content.decode()
    assert "badge-success" in log
    preview = client.get(reverse("alerts:channel_preview", args=[channel.pk]) + "?level=4")
    assert "红色预警" in preview.content.decode()


def test_a_rule_is_tested_before_saving(people: Any, school: Any, source: Any) -> None:
    make_event(school, source, risk=3)
    client = _client(people["monitor"])
    html = client.post(
        reverse("alerts:rule_test"),
        {"name": "橙色以上", "kind": "risk_level", "level": "3", "min_risk": "3", "enabled": "on"},
    ).content.decode()
    assert "1" in html and ("Would have fired" in html or "本会触发" in html)
    response = client.post(
        reverse("alerts:rule_create"),
        {"name": "橙色以上", "kind": "risk_level", "level": "3", "min_risk": "3", "enabled": "on"},
    )
    assert response.status_code == 302


def test_pages_keep_the_content_security_policy(
    alert: Alert, people: Any, receiver: Any, school: Any
) -> None:
    channel = webhook_channel(school, receiver)
    client = _client(people["admin"])
    for name, (url, _cap) in _pages(alert, channel).items():
        html = client.get(url).content.decode()
        assert inline_code_in(html) == [], name
