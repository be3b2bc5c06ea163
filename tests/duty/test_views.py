"""The duty pages: everyone reads, the office writes, exports are audited, schools stay apart."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.test_permissions import inline_code_in
from yuqing.accounts.roles import CAPABILITIES
from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import all_schools, school_scope
from yuqing.duty import services
from yuqing.duty.models import Attachment, StudySession

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def session(school: Any, people: Any) -> StudySession:
    with school_scope(school):
        return services.study_session_save(
            held_on=dt.date(2026, 3, 1),
            kind="central_group",
            topic="学习网络安全法",
            organiser=people["reviewer"],
            hours=2,
            attendees=[people["monitor"]],
        )


def test_everyone_reads_and_only_the_office_writes(
    people: dict[str, Any], session: StudySession
) -> None:
    pages = [
        reverse("duty:index"),
        reverse("duty:group_list"),
        reverse("duty:responsibility_list"),
        reverse("duty:record_list", args=["sessions"]),
        reverse("duty:record_list", args=["trainings"]),
        reverse("duty:record_list", args=["activities"]),
        reverse("duty:record_detail", args=["sessions", session.pk]),
        reverse("duty:period_list"),
        reverse("duty:stats") + "?year=2026&half=1",
    ]
    for role, user in people.items():
        client = _client(user)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, (role, url)
            assert inline_code_in(response.content.decode()) == [], url
        create = client.get(reverse("duty:record_create", args=["sessions"])).status_code
        assert create == (200 if role in CAPABILITIES["duty.manage"] else 403), role


def test_it_records_a_study_session_from_the_form(people: dict[str, Any], school: Any) -> None:
    client = _client(people["monitor"])
    response = client.post(
        reverse("duty:record_create", args=["sessions"]),
        {
            "held_on": "2026-03-12",
            "kind": "party_day",
            "topic": "主题党日：网络文明",
            "hours": "1.5",
            "attendees": [people["admin"].pk, people["reviewer"].pk],
            "absent": [people["handler"].pk],
        },
    )
    assert response.status_code == 302
    with school_scope(school):
        s = StudySession.objects.get(topic="主题党日：网络文明")
        assert sorted(a.user.username for a in s.attendance.filter(present=True)) == ["alice", "li"]
    bad = client.post(reverse("duty:record_create", args=["sessions"]), {"kind": "party_day"})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()


def test_it_exports_a_filtered_list_and_audits_it(
    people: dict[str, Any], session: StudySession
) -> None:
    from openpyxl import load_workbook

    client = _client(people["staff"])
    response = client.get(
        reverse("duty:record_list", args=["sessions"]) + "?kind=central_group&export=xlsx"
    )
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][2] == "学习网络安全法"
    with all_schools():
        entry = AuditEntry.objects.filter(action="duty.session.exported").get()
    assert entry.changes["rows"] == 1 and entry.changes["filters"]["kind"] == "central_group"
    stats = client.get(reverse("duty:stats") + "?year=2026&half=1&export=xlsx")
    assert stats.status_code == 200
    with all_schools():
        assert AuditEntry.objects.filter(action="duty.stats.exported").exists()


def test_it_keeps_uploaded_files_with_their_hash(
    people: dict[str, Any], session: StudySession, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    client = _client(people["admin"])
    pdf = io.BytesIO(b"%PDF-1.4\n%minutes\n")
    pdf.name = "会议纪要.pdf"
    client.post(
        reverse("duty:attachment_upload", args=["sessions", session.pk]),
        {"kind": "minutes", "file": pdf},
    )
    exe = io.BytesIO(b"MZ\x90\x00")
    exe.name = "纪要.pdf"
    page = client.post(
        reverse("duty:attachment_upload", args=["sessions", session.pk]),
        {"kind": "minutes", "file": exe},
        follow=True,
    )
    assert "content matches" in page.content.decode() or "内容" in page.content.decode()
    with school_scope(session.school_id):
        att = Attachment.objects.get()
    assert att.sha256 == __import__("hashlib").sha256(b"%PDF-1.4\n%minutes\n").hexdigest()
    assert str(tmp_path) in att.file.path
    download = _client(people["staff"]).get(reverse("duty:attachment", args=[att.pk]))
    assert download.status_code == 200


def test_another_school_never_sees_our_records(session: StudySession, outsider: Any) -> None:
    client = _client(outsider)
    assert (
        "学习网络安全法"
        not in client.get(reverse("duty:record_list", args=["sessions"])).content.decode()
    )
    assert (
        client.get(reverse("duty:record_detail", args=["sessions", session.pk])).status_code == 404
    )
    assert client.get(reverse("duty:record_edit", args=["sessions", session.pk])).status_code == 404


def _one_of_each(school: Any, people: dict[str, Any]) -> dict[str, Any]:
    """One record of every deletable duty type, each with what hangs on it."""
    from yuqing.duty.services import CheckedFile

    with school_scope(school):
        group = services.group_save(
            name="网络安全和信息化领导小组", kind="leadership", established_on=dt.date(2026, 1, 5)
        )
        services.membership_set(
            group=group, user=people["admin"], role="leader", since=dt.date(2026, 1, 5)
        )
        item = services.responsibility_save(
            title="每月网络安全检查", kind="principal", owners=[people["monitor"]]
        )
        session = services.study_session_save(
            held_on=dt.date(2026, 3, 1),
            kind="seminar",
            topic="研讨交流：网络舆情",
            organiser=people["reviewer"],
            hours=1,
            attendees=[people["monitor"]],
        )
        training = services.training_save(
            held_on=dt.date(2026, 3, 2),
            topic="监测平台使用培训",
            trainer="王老师",
            audience="monitoring",
            hours=2,
            attendees=[people["monitor"]],
        )
        activity = services.activity_save(
            held_on=dt.date(2026, 3, 3), kind="class_meeting", topic="网络文明主题班会"
        )
        period = services.special_period_save(
            name="开学",
            reason="opening",
            starts_on=dt.date(2026, 3, 1),
            ends_on=dt.date(2026, 3, 7),
        )
        data = b"%PDF-1.4\n%delete me\n"
        checked = CheckedFile(
            name="纪要.pdf",
            content_type="application/pdf",
            ext="pdf",
            data=data,
            sha256=__import__("hashlib").sha256(data).hexdigest(),
        )
        file = services.attachment_add(checked=checked, kind="minutes", user=None, session=session)
    # The file first: deleting its session would take it along.
    return {
        "files": file,
        "groups": group,
        "responsibilities": item,
        "sessions": session,
        "trainings": training,
        "activities": activity,
        "periods": period,
    }


def test_every_duty_record_can_be_deleted_after_confirmation_and_is_audited(
    people: dict[str, Any], school: Any, settings: Any, tmp_path: Any
) -> None:
    from yuqing.duty.models import Attendance, Membership

    settings.MEDIA_ROOT = tmp_path
    records = _one_of_each(school, people)
    office = _client(people["monitor"])
    for which, obj in records.items():
        url = reverse("duty:record_delete", args=[which, obj.pk])
        # Only the office may even see the confirmation; nobody deletes with a GET.
        for role, user in people.items():
            if role not in CAPABILITIES["duty.manage"]:
                assert _client(user).get(url).status_code == 403, (which, role)
                assert _client(user).post(url).status_code == 403, (which, role)
        page = office.get(url)
        assert page.status_code == 200, which
        assert 'method="post"' in page.content.decode()
        with school_scope(school):
            assert type(obj).objects.filter(pk=obj.pk).exists(), which
        response = office.post(url)
        assert response.status_code == 302, which
        with school_scope(school):
            assert not type(obj).objects.filter(pk=obj.pk).exists(), which
        with all_schools():
            entry = AuditEntry.objects.get(
                action=f"{obj._meta.label_lower}.deleted", object_id=str(obj.pk)
            )
        assert entry.actor_id == people["monitor"].pk, which
    with school_scope(school):
        # What hung on the records went with them (the audit log has each row).
        assert not Membership.objects.exists() and not Attendance.objects.exists()
    assert office.get(reverse("duty:record_delete", args=["nothing", 1])).status_code == 404


def test_another_school_cannot_delete_our_records(
    people: dict[str, Any], session: StudySession, outsider: Any
) -> None:
    url = reverse("duty:record_delete", args=["sessions", session.pk])
    assert _client(outsider).get(url).status_code == 404
    assert _client(outsider).post(url).status_code == 404
    with school_scope(session.school_id):
        assert StudySession.objects.filter(pk=session.pk).exists()
