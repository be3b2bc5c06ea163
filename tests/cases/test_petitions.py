"""The public petition form and query page: spam, files, injection; intake and reminders."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _fresh_limits(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    yield
    cache.clear()


def _form(**extra: Any) -> dict[str, Any]:
    data = {
        "channel": "mailbox",
        "subject": "校车接送时间问题",
        "body": "孩子每天六点就要出门，希望调整校车时间。",
        "name": "",
        "contact": "",
        "website": "",
    }
    data.update(extra)
    return data


def _petitions(school: Any) -> Any:
    from yuqing.cases.models import Petition
    from yuqing.core.tenancy import school_scope

    with school_scope(school):
        return list(Petition.objects.all())


def test_it_takes_a_message_and_shows_its_progress_with_the_query_code(
    school: Any, people: Any
) -> None:
    from yuqing.cases.services import petition_reply
    from yuqing.core.tenancy import school_scope

    url = reverse("cases:public_petition", args=[school.slug])
    assert Client().get(url).status_code == 200
    response = Client().post(url, _form(attachments=[SimpleUploadedFile("照片.png", PNG)]))
    assert response.status_code == 200
    code = response.context["code"]
    assert code and code in response.content.decode()
    (petition,) = _petitions(school)
    assert petition.query_code_hash and code not in petition.query_code_hash
    with school_scope(school):
        assert petition.case is not None and petition.attachments.count() == 1
        petition_reply(
            petition=petition, text="已与交通公司协商，下周起推迟二十分钟。", by=people["handler"]
        )
    query = reverse("cases:public_query", args=[school.slug])
    page = Client().post(query, {"code": code.lower()}).content.decode()
    assert "下周起推迟二十分钟" in page
    wrong = Client().post(query, {"code": "AAAA-BBBB-CCCC"}).content.decode()
    assert "下周起推迟二十分钟" not in wrong


def test_it_keeps_nothing_a_robot_sends_through_the_honeypot(school: Any) -> None:
    url = reverse("cases:public_petition", args=[school.slug])
    response = Client().post(url, _form(website="http://spam.example"))
    assert response.status_code == 200  # the robot learns nothing
    assert _petitions(school) == []


def test_it_limits_messages_per_address(school: Any) -> None:
    url = reverse("cases:public_petition", args=[school.slug])
    client = Client()
    codes = [client.post(url, _form(subject=f"第{n}封")).status_code for n in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    assert len(_petitions(school)) == 5


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("big.png", PNG + b"\x00" * (5 * 1024 * 1024), "5 MB"),
        ("page.png", b"<html><script>alert(1)</script></html>", "not the kind"),
        ("icon.svg", b"<svg onload=alert(1)>", "only PNG"),
        ("run.exe", b"MZ\x90\x00", "only PNG"),
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42", "only PNG"),
    ],
)
def test_it_refuses_oversized_and_malicious_files(
    school: Any, name: str, content: bytes, why: str
) -> None:
    url = reverse("cases:public_petition", args=[school.slug])
    response = Client().post(url, _form(attachments=[SimpleUploadedFile(name, content)]))
    assert response.status_code == 200
    assert why in response.content.decode() or response.context["form"].errors["attachments"]
    assert response.context["form"].errors["attachments"]
    assert _petitions(school) == []


def test_it_escapes_script_in_what_a_petitioner_writes(school: Any, people: Any) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = Client().post(
        reverse("cases:public_petition", args=[school.slug]), _form(subject=evil, body=evil)
    )
    code = response.context["code"]
    (petition,) = _petitions(school)
    staff = Client()
    staff.force_login(people["admin"])
    for page in (
        staff.get(reverse("cases:petition_detail", args=[petition.pk])).content.decode(),
        staff.get(reverse("cases:detail", args=[petition.case_id])).content.decode(),
        Client()
        .post(reverse("cases:public_query", args=[school.slug]), {"code": code})
        .content.decode(),
    ):
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page


def test_it_answers_404_for_an_unknown_school_or_a_bureau(school: Any, bureau: Any) -> None:
    assert Client().get(reverse("cases:public_petition", args=["nope"])).status_code == 404
    assert Client().get(reverse("cases:public_petition", args=[bureau.slug])).status_code == 404


def test_it_records_a_hotline_transfer_by_hand_and_shows_the_code_once(people: Any) -> None:
    client = Client()
    client.force_login(people["monitor"])
    response = client.post(
        reverse("cases:petition_new"),
        {
            "channel": "hotline",
            "reference": "12345-20260928-001",
            "received_on": "2026-09-28",
            "subject": "反映学校收取资料费",
            "body": "家长反映……",
        },
    )
    assert response.status_code == 302
    detail = client.get(response["Location"]).content.decode()
    assert "2026-10-23" in detail  # 15 working days over the National Day holiday
    assert "one-time-password" in detail
    assert "one-time-password" not in client.get(response["Location"]).content.decode()


def test_it_imports_transfers_from_csv_and_reports_bad_rows(people: Any, in_school: Any) -> None:
    from yuqing.cases.models import Petition
    from yuqing.cases.services import petitions_import

    text = (
        "工单编号,受理日期,标题,内容,来源\n"
        "A-1,2026/09/28,反映作业太多,每天写到十一点,12345\n"
        "A-2,not a date,x,y,12345\n"
        "A-3,2026-10-09,,没有标题,12345\n"
        "A-1,2026/09/28,重复,重复,12345\n"
    )
    result = petitions_import(data=text.encode("gb18030"), by=people["monitor"])
    assert len(result.created) == 1 and result.skipped == ["A-1"] and len(result.errors) == 2
    petition = Petition.objects.get(reference="A-1")
    assert petition.channel == "hotline" and petition.accept_due == dt.date(2026, 10, 23)


def test_it_reminds_before_the_acceptance_limit_and_when_it_passed(
    people: Any, in_school: Any
) -> None:
    from yuqing.alerts.models import Notification
    from yuqing.cases.services import Intake, petition_receive, petitions_remind

    _petition, _code = petition_receive(
        intake=Intake(
            channel="letter", subject="信访", body="内容", received_on=dt.date(2026, 9, 28)
        ),
        by=people["monitor"],
    )
    before = Notification.objects.count()
    assert petitions_remind(today=dt.date(2026, 10, 16)) == 0  # 5 working days left
    assert petitions_remind(today=dt.date(2026, 10, 20)) == 1  # 3 working days before 23 Oct
    assert petitions_remind(today=dt.date(2026, 10, 21)) == 0  # once
    assert petitions_remind(today=dt.date(2026, 10, 26)) == 1  # overdue now
    assert Notification.objects.count() > before


def test_it_accepts_then_finishes_a_petition_after_a_reply(people: Any, in_school: Any) -> None:
    from django.core.exceptions import ValidationError

    from yuqing.cases.services import (
        Intake,
        petition_decide,
        petition_finish,
        petition_receive,
        petition_reply,
    )

    with time_machine.travel(dt.datetime(2026, 8, 2, 2, tzinfo=dt.UTC), tick=False):
        petition, _code = petition_receive(
            intake=Intake(
                channel="mailbox", subject="s", body="b", received_on=dt.date(2026, 8, 2)
            ),
            by=people["handler"],
        )
        petition = petition_decide(petition=petition, accept=True, by=people["handler"])
    assert petition.finish_due == dt.date(2026, 10, 8)  # 60 days end on National Day
    with pytest.raises(ValidationError):
        petition_finish(petition=petition, by=people["handler"])
    petition_reply(petition=petition, text="答复", by=people["handler"])
    assert petition_finish(petition=petition, by=people["handler"]).status == "finished"
