"""Retention per school, the audit log's minimum, and a petitioner's data exported and erased."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.clitools import cli_env, yuqing
from yuqing.core.tenancy import all_schools, school_scope

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 64
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "files"


def _source(name: str = "feed") -> Any:
    from yuqing.monitor.models import Source

    return Source.objects.create(name=name, kind=Source.Kind.FEED, url="http://127.0.0.1/f")


def _mention(source: Any, n: int, *, days_old: int, event: Any = None) -> Any:
    from yuqing.monitor import search
    from yuqing.monitor.models import Mention

    url = f"http://127.0.0.1/news/{n}"
    mention = Mention.objects.create(
        source=source,
        url=url,
        url_hash=hashlib.sha256(url.encode()).hexdigest(),
        content_hash=hashlib.sha256(f"c{n}".encode()).hexdigest(),
        title=f"旧闻{n}号",
        text=f"育才中学 第{n}条 旧闻内容",
        fetched_at=NOW - dt.timedelta(days=days_old),
        event=event,
    )
    search.index_mentions([(mention.pk, mention.school_id, mention.title, mention.text)])
    return mention


def _search(school: Any, term: str) -> list[int]:
    from yuqing.monitor import search

    return list(search.matching_ids([school.pk], term, limit=100))


# --------------------------------------------------------------------------- mentions, logs


def test_it_purges_old_mentions_and_fetch_logs_on_the_schools_schedule(
    school: Any, other_school: Any, people: dict[str, Any]
) -> None:
    from yuqing.cases.services import case_open
    from yuqing.core.retention import retention_policy_set, retention_run
    from yuqing.monitor.models import Event, FetchLog, LabelCorrection, Mention
    from yuqing.monitor.setup_services import evidence_add, evidence_check

    retention_policy_set(school_id=school.pk, mention_days=90, fetch_log_days=7)
    with school_scope(school):
        source = _source()
        old = [_mention(source, n, days_old=120) for n in range(5)]
        recent = _mention(source, 99, days_old=10)
        # Kept although old: evidence, a label correction, an event with an open case.
        evidence = evidence_add(
            mention=old[0],
            checked=evidence_check(file=io.BytesIO(PNG), filename="shot.png"),
            user=people["monitor"],
        )
        LabelCorrection.objects.create(
            mention=old[1],
            field="risk",
            old_value="0",
            new_value="2",
            corrected_by=people["monitor"],
        )
        event = Event.objects.create(key="e1", title="e", first_at=NOW, latest_at=NOW)
        kept_for_case = _mention(source, 50, days_old=200, event=event)
        with time_machine.travel(NOW):
            case_open(
                title="t", summary="s", level=1, source="manual", event=event, by=people["admin"]
            )
        lonely = Event.objects.create(key="e2", title="e2", first_at=NOW, latest_at=NOW)
        Mention.objects.filter(pk=old[4].pk).update(event=lonely)
        for days in (3, 8, 40):
            FetchLog.objects.create(source=source, started_at=NOW - dt.timedelta(days=days))
    with school_scope(other_school):
        other_source = _source()
        other_old = _mention(other_source, 7, days_old=120)  # its school keeps 730 days

    preview = retention_run(now=NOW, dry_run=True, only=[school.pk]).schools[0]
    assert (preview.mentions, preview.fetch_logs, preview.kept_mentions) == (3, 2, 3)
    with school_scope(school):
        assert Mention.objects.count() == 7  # the dry run changed nothing

    with time_machine.travel(NOW):
        report = retention_run(now=NOW)
    done = next(s for s in report.schools if s.school_id == school.pk)
    assert (done.mentions, done.fetch_logs, done.events) == (3, 2, 1)
    with school_scope(school):
        left = set(Mention.objects.values_list("pk", flat=True))
        assert left == {old[0].pk, old[1].pk, kept_for_case.pk, recent.pk}
        assert not Event.objects.filter(pk=lonely.pk).exists()  # emptied by the purge
        assert Event.objects.filter(pk=event.pk).exists()
        assert FetchLog.objects.count() == 1
        assert evidence.file.storage.exists(evidence.file.name)
    # The search index forgot the purged mentions.
    assert set(_search(school, "旧闻")) == left
    with school_scope(other_school):
        assert Mention.objects.filter(pk=other_old.pk).exists()

    from yuqing.audit.models import AuditEntry
    from yuqing.audit.services import audit_verify

    entry = AuditEntry.unscoped.get(action="core.retention.purged", school_id=school.pk)
    assert entry.changes["mentions"] == 3 and entry.changes["mention_days"] == 90
    with all_schools():
        assert audit_verify().ok


def test_it_refuses_periods_below_the_minimums(school: Any) -> None:
    from yuqing.core.models import RetentionPolicy
    from yuqing.core.retention import policy_for, retention_policy_set

    with pytest.raises(ValidationError) as caught:
        retention_policy_set(school_id=school.pk, mention_days=5)
    assert "mention_days" in caught.value.message_dict
    assert policy_for(school.pk).mention_days == 730  # the default still holds
    # The database refuses it too, whatever code writes the row.
    with school_scope(school), pytest.raises(IntegrityError), transaction.atomic():
        RetentionPolicy.objects.create(mention_days=5)


def test_it_runs_the_retention_purge_every_night() -> None:
    from huey.contrib.djhuey import HUEY

    import yuqing.core.tasks
    import yuqing.monitor.tasks  # noqa: F401  (registers the periodic tasks)

    names = {task.__name__ for task in HUEY._registry._periodic_tasks}
    assert {"retention_purge_daily", "purge_fetch_logs", "audit_purge_daily"} <= names


def test_fetch_logs_follow_each_schools_period(school: Any, other_school: Any) -> None:
    from yuqing.core.retention import purge_fetch_logs_all, retention_policy_set
    from yuqing.monitor.models import FetchLog

    retention_policy_set(school_id=school.pk, fetch_log_days=90)
    for s in (school, other_school):
        with school_scope(s):
            source = _source()
            FetchLog.objects.create(
                source=source, started_at=timezone.now() - dt.timedelta(days=60)
            )
    assert purge_fetch_logs_all() == 1  # the other school keeps the default 30 days
    with school_scope(school):
        assert FetchLog.objects.count() == 1


@pytest.mark.slow
def test_the_audit_log_is_kept_at_least_180_days(tmp_path: Any) -> None:
    env = cli_env(tmp_path, YUQING_AUDIT_RETENTION_DAYS="100")
    refused = yuqing("migrate", env=env)
    assert refused.returncode == 1
    assert "YUQING_AUDIT_RETENTION_DAYS" in refused.stderr
    env = cli_env(tmp_path)
    assert yuqing("migrate", env=env).returncode == 0
    refused = yuqing("audit", "purge", "--days", "179", env=env)
    assert refused.returncode == 1 and "180" in refused.stderr


# --------------------------------------------------------------------------- a person's data


def _petition(school: Any, *, contact: str, name: str = "王女士", attachment: bytes = PNG) -> Any:
    from yuqing.cases import files
    from yuqing.cases.services import Intake, petition_receive

    checked = files.check_upload(
        file=SimpleUploadedFile("照片.png", attachment),
        filename="照片.png",
        max_bytes=files.PETITION_MAX_BYTES,
        allowed=files.PETITION_EXTENSIONS,
    )
    with school_scope(school):
        petition, code = petition_receive(
            intake=Intake(
                channel="mailbox",
                subject="校车接送时间",
                body="我的孩子王小明每天六点出门。",
                received_on=timezone.localdate(),
                name=name,
                contact=contact,
                attachments=[checked],
            )
        )
    return petition, code


def test_it_exports_and_erases_a_petitioners_data_with_the_erasure_audited(
    school: Any, people: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    from yuqing.alerts.models import Notification
    from yuqing.audit.models import AuditEntry
    from yuqing.audit.services import audit_verify
    from yuqing.cases.erasure import (
        ERASED,
        person_data_erase,
        person_data_export,
        petitions_of_person,
    )
    from yuqing.cases.models import Case, PetitionAttachment
    from yuqing.cases.services import petition_find, petition_reply

    first, code = _petition(school, contact="138 0013 8000")
    second, _ = _petition(school, contact="+86 13800138000", attachment=PNG + b"2")
    stranger, _ = _petition(school, contact="139-0000-0000", name="李先生", attachment=PNG + b"3")
    with school_scope(school):
        petition_reply(petition=first, text="王女士您好，已调整。", by=people["handler"])
        reminder = Notification.objects.create(
            user=people["admin"], title="来信即将到期：受理 2026-06-01 · 校车接送时间"
        )
        found = petitions_of_person(contact="13800138000")
        assert [p.pk for p in found] == [first.pk, second.pk]

        archive = zipfile.ZipFile(
            io.BytesIO(person_data_export(petitions=found, reason="本人来电"))
        )
        data = json.loads(archive.read("petitions.json"))
        assert [p["name"] for p in data["petitions"]] == ["王女士", "王女士"]
        assert data["petitions"][0]["replies"][0]["text"] == "王女士您好，已调整。"
        member = data["petitions"][0]["attachments"][0]["file"]
        assert archive.read(member) == PNG
        stored = [a.file.name for a in PetitionAttachment.objects.filter(petition__in=found)]

        with django_capture_on_commit_callbacks(execute=True):
            result = person_data_erase(petitions=found, reason="本人书面申请")
        assert (result.petitions, result.attachments, result.files_deleted) == (2, 2, 2)
        for petition in found:
            petition.refresh_from_db()
            assert (petition.name, petition.contact, petition.body) == ("", "", ERASED)
            case = Case.objects.get(pk=petition.case_id)
            assert case.summary == ERASED and "校车" not in case.title
            assert "王小明" not in json.dumps(list(case.actions.values_list("text", flat=True)))
        assert not PetitionAttachment.objects.filter(petition__in=found).exists()
        reminder.refresh_from_db()
        assert reminder.title == f"来信即将到期：受理 2026-06-01 · {ERASED}"
        assert not any(first.attachments.model.file.field.storage.exists(n) for n in stored)
        # The petitioner's query code still opens the (erased) petition.
        assert petition_find(school_id=school.pk, code=code).pk == first.pk
        # Someone else's petition is untouched.
        stranger.refresh_from_db()
        assert stranger.name == "李先生" and stranger.attachments.count() == 1
        # Erasing again changes nothing.
        again = person_data_erase(petitions=found, reason="again")
        assert again.petitions == 0 and again.already_erased == 2

    erased = AuditEntry.unscoped.filter(action="cases.petition.personal_data_erased")
    assert erased.count() == 2
    written = json.dumps([e.changes for e in erased], ensure_ascii=False) + " ".join(
        e.object_repr for e in erased
    )
    assert "王" not in written and "138" not in written and "本人书面申请" in written
    assert AuditEntry.unscoped.filter(action="cases.petition.personal_data_exported").count() == 2
    with all_schools():
        assert audit_verify().ok


def test_a_file_shared_with_another_record_outlives_the_erasure(
    school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from yuqing.cases.erasure import person_data_erase
    from yuqing.cases.models import PetitionAttachment

    mine, _ = _petition(school, contact="a@example.org")
    theirs, _ = _petition(school, contact="b@example.org")  # the same photo, stored once
    with school_scope(school):
        name = PetitionAttachment.objects.get(petition=mine).file.name
        with django_capture_on_commit_callbacks(execute=True):
            result = person_data_erase(petitions=[mine], reason="request")
        assert result.files_deleted == 0
        attachment = PetitionAttachment.objects.get(petition=theirs)
        assert attachment.file.name == name and attachment.file.storage.exists(name)


def test_finished_petitions_lose_their_personal_data_on_schedule(
    school: Any, people: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    from yuqing.cases.erasure import ERASED
    from yuqing.cases.models import Petition
    from yuqing.core.retention import retention_policy_set, retention_run

    retention_policy_set(school_id=school.pk, petition_personal_days=365)
    old, _ = _petition(school, contact="1@example.org")
    fresh, _ = _petition(school, contact="2@example.org")
    open_one, _ = _petition(school, contact="3@example.org")
    today = timezone.localdate()
    with school_scope(school):
        Petition.objects.filter(pk=old.pk).update(
            status=Petition.Status.FINISHED, finished_on=today - dt.timedelta(days=400)
        )
        Petition.objects.filter(pk=fresh.pk).update(
            status=Petition.Status.FINISHED, finished_on=today - dt.timedelta(days=30)
        )
        Petition.objects.filter(pk=open_one.pk).update(received_on=today - dt.timedelta(days=900))
    assert retention_run(dry_run=True, only=[school.pk]).schools[0].petitions == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert retention_run(only=[school.pk]).schools[0].petitions == 1
    with school_scope(school):
        bodies = dict(Petition.objects.values_list("pk", "body"))
    assert bodies[old.pk] == ERASED
    assert bodies[fresh.pk] != ERASED and bodies[open_one.pk] != ERASED


def test_an_administrator_exports_and_erases_from_the_settings_page(
    school: Any, people: dict[str, Any]
) -> None:
    from yuqing.cases.models import Petition

    petition, _ = _petition(school, contact="13800138000")
    admin = Client()
    admin.force_login(people["admin"])
    url = reverse("core:person_data") + "?contact=138-0013-8000"
    page = admin.get(url)
    assert page.status_code == 200 and f"#{petition.pk}" in page.content.decode()

    exported = admin.post(url, {"action": "export", "reason": "电话申请"})
    assert exported["Content-Type"] == "application/zip"
    assert "petitions.json" in zipfile.ZipFile(io.BytesIO(exported.content)).namelist()

    unconfirmed = admin.post(url, {"action": "erase", "reason": "电话申请"})
    assert unconfirmed.status_code == 200
    with school_scope(school):
        assert Petition.objects.get(pk=petition.pk).contact == "13800138000"
    done = admin.post(url, {"action": "erase", "reason": "电话申请", "confirm": "on"})
    assert done.status_code == 302
    with school_scope(school):
        assert Petition.objects.get(pk=petition.pk).contact == ""

    handler = Client()
    handler.force_login(people["handler"])
    assert handler.get(url).status_code == 403


def test_the_retention_page_saves_and_previews(school: Any, people: dict[str, Any]) -> None:
    from yuqing.core.retention import policy_for

    admin = Client()
    admin.force_login(people["admin"])
    url = reverse("core:retention")
    assert admin.get(url).status_code == 200
    refused = admin.post(
        url, {"mention_days": "10", "fetch_log_days": "30", "petition_personal_days": "400"}
    )
    assert refused.status_code == 200 and policy_for(school.pk).mention_days == 730
    saved = admin.post(
        url, {"mention_days": "365", "fetch_log_days": "60", "petition_personal_days": "400"}
    )
    assert saved.status_code == 302
    policy = policy_for(school.pk)
    assert (policy.mention_days, policy.fetch_log_days, policy.petition_personal_days) == (
        365,
        60,
        400,
    )
