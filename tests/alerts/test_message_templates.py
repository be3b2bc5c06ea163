"""A school's own message templates: saved only when valid, audited, used on the wire,
previewed on sample data, and reset to the built-in wording."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.alerts.conftest import evaluate, make_event, risk_rule, webhook_channel
from yuqing.alerts import delivery, services
from yuqing.alerts.models import MessageTemplate
from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import school_scope

pytestmark = pytest.mark.django_db

RED_TEXT = "{{ emoji }} 紧急｜{{ title }}{% for line in lines %}\n> {{ line }}{% endfor %}"


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_schools_red_webhook_template_goes_on_the_wire_and_blue_keeps_the_built_in(
    school: Any, other_school: Any, source: Any, people: Any, receiver: Any
) -> None:
    risk_rule(school, min_risk=1)
    webhook_channel(school, receiver)
    with school_scope(school):
        services.template_save(channel_kind="webhook", level=4, parts={"text": RED_TEXT})
    red_event, red = make_event(school, source, risk=4, title="食堂 <b>事故</b>")
    evaluate(school, red_event, red)
    blue_event, blue = make_event(school, source, risk=1, title="小事")
    evaluate(school, blue_event, blue)
    delivery.deliver_due()
    by_title = {body["title"]: body for body in receiver.accepted}
    red_text = by_title["食堂 <b>事故</b>"]["text"]
    assert red_text.startswith("🔴 紧急｜食堂 <b>事故</b>\n> ")
    assert by_title["食堂 <b>事故</b>"]["level"] == 4  # the data fields are not templated
    assert by_title["小事"]["text"].startswith("🔵 【蓝色预警】小事")


def test_a_report_summary_keeps_its_own_wording_whatever_the_alert_templates(
    school: Any,
) -> None:
    from yuqing.alerts.templating import TemplateCache, sample

    with school_scope(school):
        for level in (1, 2, 3, 4):
            services.template_save(channel_kind="webhook", level=level, parts={"text": RED_TEXT})
    cache = TemplateCache()
    alert = sample(1)
    assert cache.message(school.pk, "webhook", alert).custom_text.startswith("🔵 紧急｜")
    summary = dataclasses.replace(alert, label="舆情日报")
    assert cache.message(school.pk, "webhook", summary) == summary


def test_an_invalid_template_is_refused_and_nothing_is_stored(school: Any) -> None:
    with school_scope(school), translation.override("en"):
        with pytest.raises(ValidationError) as refused:
            services.template_save(
                channel_kind="email",
                level=3,
                parts={"subject": "{{ title }}", "text": "{{ body }}", "html": "{% debug %}"},
            )
        assert MessageTemplate.objects.count() == 0
    errors = refused.value.message_dict
    assert "Unknown variables: body." in errors["text"][0]
    assert "{% debug %}" in errors["html"][0]
    assert "subject" not in errors


def test_saving_and_resetting_are_audited(school: Any, people: Any) -> None:
    with school_scope(school):
        services.template_save(
            channel_kind="wecom", level=2, parts={"text": "{{ title }}"}, by=people["admin"]
        )
        services.template_save(
            channel_kind="wecom", level=2, parts={"text": "## {{ title }}"}, by=people["admin"]
        )
        assert services.template_reset(channel_kind="wecom", level=2)
        assert not services.template_reset(channel_kind="wecom", level=2)
        entries = list(
            AuditEntry.objects.filter(action__startswith="alerts.template").order_by("id")
        )
    assert [e.action for e in entries] == [
        "alerts.template.saved",
        "alerts.template.saved",
        "alerts.template.reset",
    ]
    assert "## {{ title }}" in str(entries[1].changes)


def test_the_editor_previews_a_draft_saves_it_and_resets_it(school: Any, people: Any) -> None:
    client = _client(people["admin"])
    url = reverse("alerts:template_edit", args=["dingtalk", 4])
    page = client.get(url).content.decode()
    assert "【{{ level_name }}】{{ title }}" in page  # editing starts from the built-in wording
    assert "【红色预警】" in page  # and its preview

    draft = {"subject": "速报：{{ title }}", "text": "**{{ level_name }}** {{ title }}"}
    shown = client.post(url, {**draft, "preview": "1"}).content.decode()
    assert "速报：" in shown and "**红色预警**" in shown
    with school_scope(school):
        assert not MessageTemplate.objects.exists()  # a preview saves nothing

    bad = client.post(url, {**draft, "text": "{{ nope }}"})
    assert bad.status_code == 200 and "nope" in bad.content.decode()

    assert client.post(url, draft).status_code == 302
    with school_scope(school):
        saved = MessageTemplate.objects.get()
        assert (saved.channel_kind, saved.level, saved.subject) == (
            "dingtalk",
            4,
            "速报：{{ title }}",
        )
        assert saved.updated_by == people["admin"]
        shown_in_channel_preview = services.preview_for("dingtalk", 4)
    assert shown_in_channel_preview.text.startswith("**红色预警**")

    listing = client.get(reverse("alerts:template_list")).content.decode()
    assert url in listing

    client.post(reverse("alerts:template_reset", args=["dingtalk", 4]))
    with school_scope(school):
        assert not MessageTemplate.objects.exists()
    assert client.get(reverse("alerts:template_edit", args=["fax", 4])).status_code == 404
    assert client.get(reverse("alerts:template_edit", args=["email", 9])).status_code == 404


def test_only_managers_edit_templates(people: Any) -> None:
    url = reverse("alerts:template_edit", args=["email", 1])
    assert _client(people["staff"]).get(url).status_code == 403
    assert _client(people["staff"]).post(url, {"text": "x"}).status_code == 403


def test_a_schools_in_app_template_words_the_bell_notifications(
    school: Any, source: Any, people: Any
) -> None:
    from yuqing.alerts.models import Notification

    risk_rule(school, min_risk=1)
    with school_scope(school):
        services.template_save(
            channel_kind="inapp",
            level=3,
            parts={"subject": "橙色！{{ title }}", "text": "{{ summary }}\n请打开：{{ url }}"},
        )
    event, mentions = make_event(school, source, risk=3, title="宿舍 <i>漏水</i>")
    (alert,) = evaluate(school, event, mentions)
    with school_scope(school):
        note = Notification.objects.get(user=people["monitor"], alert=alert)
    assert note.title == "橙色！宿舍 <i>漏水</i>"
    assert alert.reason in note.body and "请打开：http" in note.body

    other_event, other = make_event(school, source, risk=2, title="黄色的事")
    (yellow,) = evaluate(school, other_event, other)
    with school_scope(school):
        plain = Notification.objects.get(user=people["monitor"], alert=yellow)
    assert plain.title == str(yellow) and plain.body == yellow.reason  # no template: built-in

    page = _client(people["admin"]).get(reverse("alerts:template_edit", args=["inapp", 3]))
    assert "橙色！" in page.content.decode()  # the preview shows the school's wording
