"""The daily report's summary through the school's alert channels: a real SMTP server
(aiosmtpd) gets it with the DOCX attached, a webhook robot on 127.0.0.1 gets it with a link."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from tests.alerts.conftest import SECRET, receiver  # noqa: F401 - the fixture, reused
from tests.alerts.transports.test_email import TO, config, parsed, smtp_server
from tests.reports.conftest import TZ, World
from yuqing.alerts import delivery
from yuqing.alerts.models import Delivery
from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import all_schools, school_scope
from yuqing.reports import services, tasks
from yuqing.reports.models import Kind, Report

pytestmark = pytest.mark.django_db
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _channels(school: Any, smtp_port: int, robot_url: str) -> dict[str, Any]:
    from yuqing.alerts.services import channel_save

    with school_scope(school):
        return {
            "mail": channel_save(
                name="校办邮箱", kind="email", config=config(smtp_port), levels=[]
            ),
            "robot": channel_save(
                name="值班群",
                kind="webhook",
                config={"url": robot_url, "secret": SECRET},
                levels=[],
            ),
            "other": channel_save(
                name="只收周报",
                kind="webhook",
                config={"url": robot_url, "secret": SECRET},
                levels=[],
            ),
        }


def test_the_daily_report_reaches_the_chosen_channels_with_its_docx(
    world: World,
    school: Any,
    people: Any,
    media: Any,
    receiver: Any,  # noqa: F811
) -> None:
    from yuqing.duty.services import special_period_save

    with smtp_server() as (inbox, port):
        ch = _channels(school, port, receiver.url)
        with school_scope(school):
            services.report_channels_save(
                kinds_by_channel={
                    ch["mail"]: [Kind.DAILY],
                    ch["robot"]: [Kind.DAILY, Kind.WEEKLY],
                    ch["other"]: [Kind.WEEKLY],
                }
            )
            special_period_save(
                name="期末考试",
                reason="exams",
                starts_on=dt.date(2026, 2, 3),
                ends_on=dt.date(2026, 2, 3),
                report_at=dt.time(8, 0),
            )
        with time_machine.travel(dt.datetime(2026, 2, 4, 8, 5, tzinfo=TZ), tick=False):
            tasks.reports_daily_tick.call_local()
            sent = delivery.deliver_due()
        assert sent.sent == 2 and sent.failed == 0 and sent.dead == 0
        with school_scope(school):
            report = Report.objects.get(kind=Kind.DAILY)
        expected = world.on(dt.date(2026, 2, 3), dt.date(2026, 2, 3))
        negative = sum(1 for s in expected if s.sentiment == "negative")

        (envelope,) = inbox.envelopes
        assert sorted(envelope.rcpt_tos) == sorted(TO)
        msg = parsed(envelope)
        assert msg["Subject"] == f"【{Kind.DAILY.label}】{report.title}"
        text = msg.get_body(preferencelist=("plain",)).get_content()
        assert f"{len(expected)}" in text and f"{negative}" in text
        assert f"/reports/{report.pk}/" in text
        (attachment,) = list(msg.iter_attachments())
        assert attachment.get_content_type() == DOCX
        assert attachment.get_filename() == report.filename
        data = attachment.get_content()
        assert hashlib.sha256(data).hexdigest() == report.sha256

        # The robot: one message (the channel for weekly reports only got nothing).
        (body,) = receiver.accepted
        assert body["title"] == report.title and body["url"].endswith(f"/reports/{report.pk}/")
        assert f"【{Kind.DAILY.label}】" in body["text"]
        assert str(len(expected)) in body["summary"] and str(negative) in body["summary"]

    with school_scope(school):
        rows = list(Delivery.objects.order_by("channel__name"))
        assert {d.channel.name for d in rows} == {"校办邮箱", "值班群"}
        assert all(d.status == Delivery.Status.SENT for d in rows)
    with all_schools():
        entry = AuditEntry.objects.get(action="reports.report.sent")
    assert sorted(entry.changes["channels"]) == sorted(["校办邮箱", "值班群"])


def test_a_failing_mail_server_is_retried_not_lost(
    world: World,
    school: Any,
    people: Any,
    media: Any,
    receiver: Any,  # noqa: F811
) -> None:
    with smtp_server() as (_inbox, port):
        pass  # the port is now closed: nothing listens there
    ch = _channels(school, port, receiver.url)
    with school_scope(school):
        services.report_channels_save(kinds_by_channel={ch["mail"]: [Kind.DAILY]})
        report = services.report_generate(
            kind=Kind.DAILY, start=dt.date(2026, 2, 3), end=dt.date(2026, 2, 3)
        )
        (row,) = services.report_send(report=report)
    result = delivery.deliver_due()
    assert result.failed == 1
    with school_scope(school):
        row.refresh_from_db()
    assert row.status == Delivery.Status.FAILED and row.last_error


def test_only_the_office_chooses_the_channels_and_sends(
    school: Any,
    people: Any,
    media: Any,
    receiver: Any,  # noqa: F811
) -> None:
    from yuqing.reports.models import ReportChannel

    ch = _channels(school, 2525, receiver.url)
    url = reverse("reports:channels")
    staff = Client()
    staff.force_login(people["staff"])
    assert staff.get(url).status_code == 403
    assert staff.post(url, {f"kinds-{ch['robot'].pk}": ["daily"]}).status_code == 403
    office = Client()
    office.force_login(people["monitor"])
    page = office.get(url)
    assert page.status_code == 200 and "值班群" in page.content.decode()
    response = office.post(url, {f"kinds-{ch['robot'].pk}": ["daily", "monthly", "nonsense"]})
    assert response.status_code == 302
    with school_scope(school):
        (rc,) = ReportChannel.objects.all()
        assert rc.channel == ch["robot"] and rc.kinds == ["daily", "monthly"]
        report = services.report_generate(
            kind=Kind.DAILY, start=dt.date(2026, 2, 3), end=dt.date(2026, 2, 3)
        )
    assert staff.post(reverse("reports:send", args=[report.pk])).status_code == 403
    assert office.post(reverse("reports:send", args=[report.pk])).status_code == 302
    delivery.deliver_due()
    (body,) = receiver.accepted
    assert body["id"] == f"report-{report.pk}"
