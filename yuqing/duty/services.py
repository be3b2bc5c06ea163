"""Writes of the duty module: typed, keyword-only, ``full_clean`` before ``save``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePath
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.accounts.models import User
from yuqing.audit.services import audit_record
from yuqing.duty.models import (
    Attachment,
    Attendance,
    EducationActivity,
    Group,
    Membership,
    Responsibility,
    SpecialPeriod,
    StudySession,
    Training,
)
from yuqing.lib import uploads

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024

# extension -> (content type, the kind its content must be). Office files are ZIP containers:
# the extension decides between them, the content must still be a ZIP.
_TYPES: dict[str, tuple[str, str]] = {
    ".pdf": ("application/pdf", "pdf"),
    ".png": ("image/png", "png"),
    ".jpg": ("image/jpeg", "jpeg"),
    ".gif": ("image/gif", "gif"),
    ".webp": ("image/webp", "webp"),
    ".docx": (uploads.CONTENT_TYPES["docx"], "zip"),
    ".pptx": (uploads.CONTENT_TYPES["pptx"], "zip"),
    ".xlsx": (uploads.CONTENT_TYPES["xlsx"], "zip"),
}
_EXTENSIONS = {".jpeg": ".jpg"}
PHOTO_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True, slots=True)
class CheckedFile:
    data: bytes
    sha256: str
    content_type: str
    ext: str
    name: str


def file_check(*, file: IO[bytes], filename: str, photos_only: bool = False) -> CheckedFile:
    """Accept PDF, images and Word/PowerPoint/Excel files up to 20 MB, judged by content."""
    ext = PurePath(filename).suffix.lower()
    ext = _EXTENSIONS.get(ext, ext)
    content_type, kind = _TYPES.get(ext, ("", ""))
    if photos_only and content_type not in PHOTO_TYPES:
        kind = ""
    try:
        checked = uploads.check_upload(
            file, allowed={kind} if kind else set(), max_bytes=MAX_ATTACHMENT_BYTES
        )
    except uploads.UploadRejected as exc:
        if exc.reason == "empty":
            raise ValidationError({"file": _("The file is empty.")}) from None
        if exc.reason == "size":
            raise ValidationError({"file": _("The file is larger than 20 MB.")}) from None
    else:
        name = PurePath(filename).name[:255]
        return CheckedFile(checked.data, checked.sha256, content_type, ext, name)
    if photos_only:
        raise ValidationError({"file": _("Photos must be PNG, JPEG, GIF or WebP images.")})
    raise ValidationError(
        {
            "file": _(
                "Attach a PDF, an image, or a Word, PowerPoint or Excel file whose content "
                "matches its name."
            )
        }
    )


def _store(school_id: int, checked: CheckedFile) -> str:
    return uploads.store_by_hash(f"duty/{school_id}", checked.sha256, checked.ext, checked.data)


def attachment_add(
    *,
    checked: CheckedFile,
    kind: str,
    user: User | None,
    responsibility: Responsibility | None = None,
    session: StudySession | None = None,
    training: Training | None = None,
    activity: EducationActivity | None = None,
) -> Attachment:
    att = Attachment(
        kind=kind,
        responsibility=responsibility,
        session=session,
        training=training,
        activity=activity,
        original_name=checked.name,
        content_type=checked.content_type,
        size=len(checked.data),
        sha256=checked.sha256,
        uploaded_by=user,
    )
    att.assign_school()
    att.file.name = _store(att.school_id, checked)
    att.full_clean()
    att.save()
    return att


# --------------------------------------------------------------------------- groups


def group_save(
    *, group: Group | None = None, name: str, kind: str, duties: str = "", established_on: dt.date
) -> Group:
    group = group or Group()
    group.name, group.kind, group.duties = name.strip(), kind, duties
    group.established_on = established_on
    group.assign_school()
    group.full_clean()
    group.save()
    return group


@transaction.atomic
def membership_set(
    *, group: Group, user: User, role: str, since: dt.date, by: User | None = None
) -> Membership:
    """Give ``user`` a role in ``group`` from ``since``; a current different role ends the day
    before, so the history shows who held which role when."""
    current = (
        Membership.objects.select_for_update().filter(group=group, user=user, until=None).first()
    )
    if current is not None:
        if current.role == role:
            return current
        if since <= current.since:
            raise ValidationError({"since": _("The new role must start after the current one.")})
        current.until = since - dt.timedelta(days=1)
        current.full_clean()
        current.save()
    membership = Membership(group=group, user=user, role=role, since=since)
    membership.assign_school()
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def membership_end(*, membership: Membership, until: dt.date) -> Membership:
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    if locked.until is not None:
        raise ValidationError(_("This membership has already ended."))
    locked.until = until
    locked.full_clean()
    locked.save()
    return locked


def members_on(group: Group, day: dt.date) -> list[Membership]:
    return list(
        Membership.objects.filter(group=group, since__lte=day)
        .exclude(until__lt=day)
        .select_related("user")
        .order_by("role", "since", "id")
    )


# --------------------------------------------------------------------------- responsibilities


def _same_school(users: Iterable[User], school_id: int) -> list[User]:
    users = list(users)
    if any(u.school_id != school_id for u in users):
        raise ValidationError({"owners": _("Choose people of this school.")})
    return users


@transaction.atomic
def responsibility_save(
    *,
    item: Responsibility | None = None,
    title: str,
    kind: str,
    owners: Iterable[User],
    description: str = "",
    due_on: dt.date | None = None,
    recurrence: str = "",
    remind_days: int = 3,
) -> Responsibility:
    item = item or Responsibility()
    item.title, item.kind, item.description = title.strip(), kind, description
    if item.due_on != due_on:
        item.reminded_for = None
    item.due_on, item.recurrence, item.remind_days = due_on, recurrence, remind_days
    if recurrence and due_on is None:
        raise ValidationError({"due_on": _("A repeating item needs its first due date.")})
    item.assign_school()
    item.full_clean()
    item.save()
    item.owners.set(_same_school(owners, item.school_id))
    return item


def next_due(due: dt.date, recurrence: str) -> dt.date | None:
    if recurrence == "weekly":
        return due + dt.timedelta(days=7)
    months = {"monthly": 1, "termly": 6, "yearly": 12}.get(recurrence)
    if months is None:
        return None
    month = due.month - 1 + months
    year, month = due.year + month // 12, month % 12 + 1
    for day in (due.day, 30, 29, 28):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    return None


@transaction.atomic
def responsibility_complete(
    *, item: Responsibility, user: User, evidence_note: str = "", now: dt.datetime | None = None
) -> Responsibility:
    """Mark done; a repeating item opens again for its next due date (one audited step)."""
    now = now or timezone.now()
    locked = Responsibility.objects.select_for_update().get(pk=item.pk)
    if locked.status == Responsibility.Status.DONE:
        raise ValidationError(_("This item is already done."))
    previous_due = locked.due_on
    if evidence_note:
        locked.evidence_note = evidence_note
    locked.completed_at, locked.completed_by = now, user
    follow = next_due(previous_due, locked.recurrence) if previous_due else None
    if follow is not None:
        locked.due_on, locked.status, locked.reminded_for = follow, locked.Status.OPEN, None
    else:
        locked.status = locked.Status.DONE
    locked.full_clean()
    locked.save()
    audit_record(
        "duty.responsibility.completed",
        obj=locked,
        changes={"due_on": previous_due, "next_due": follow, "evidence": evidence_note[:200]},
    )
    return locked


def responsibility_start(*, item: Responsibility) -> Responsibility:
    won = Responsibility.objects.filter(pk=item.pk, status=Responsibility.Status.OPEN).update(
        status=Responsibility.Status.IN_PROGRESS
    )
    if not won:
        raise ValidationError(_("Only an open item can be started."))
    item.refresh_from_db()
    audit_record("duty.responsibility.started", obj=item)
    return item


def reminders_send(*, today: dt.date | None = None) -> int:
    """In-app reminders for items due within their reminder window; one per due date.

    Runs in the school scope of the caller. The conditional UPDATE on ``reminded_for`` claims
    each item, so two schedulers (or a rerun after a crash) never remind twice.
    """
    from yuqing.alerts.models import Level
    from yuqing.alerts.services import notification_send

    today = today or timezone.localdate()
    sent = 0
    candidates = Responsibility.objects.exclude(status=Responsibility.Status.DONE).filter(
        due_on__isnull=False
    )
    for item in candidates.prefetch_related("owners"):
        assert item.due_on is not None
        if item.due_on - dt.timedelta(days=item.remind_days) > today:
            continue
        if item.reminded_for == item.due_on:
            continue
        claimed = (
            Responsibility.objects.filter(pk=item.pk)
            .exclude(reminded_for=item.due_on)
            .update(reminded_for=item.due_on)
        )
        if not claimed:
            continue
        overdue = item.due_on < today
        title = (
            _("Overdue: %(item)s (due %(due)s)")
            if overdue
            else _("Due soon: %(item)s (due %(due)s)")
        ) % {"item": item.title, "due": item.due_on.isoformat()}
        notification_send(
            item.owners.all(),
            title=title,
            body=item.description[:1000],
            level=Level.YELLOW if overdue else Level.BLUE,
            school_id=item.school_id,
        )
        sent += 1
    return sent


# --------------------------------------------------------------------------- study, training


def _hours(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"))


@transaction.atomic
def study_session_save(
    *,
    session: StudySession | None = None,
    held_on: dt.date,
    kind: str,
    topic: str,
    organiser: User | None,
    hours: Decimal | float,
    location: str = "",
    minutes: str = "",
    attendees: Iterable[User] = (),
    absent: Iterable[User] = (),
) -> StudySession:
    session = session or StudySession()
    session.held_on, session.kind, session.topic = held_on, kind, topic.strip()
    session.organiser, session.hours = organiser, _hours(hours)
    session.location, session.minutes = location, minutes
    session.assign_school()
    session.full_clean()
    session.save()
    _attendance_set(session=session, present=attendees, absent=absent)
    return session


@transaction.atomic
def training_save(
    *,
    training: Training | None = None,
    held_on: dt.date,
    topic: str,
    trainer: str,
    audience: str,
    hours: Decimal | float,
    attendees: Iterable[User] = (),
    absent: Iterable[User] = (),
) -> Training:
    training = training or Training()
    training.held_on, training.topic, training.trainer = held_on, topic.strip(), trainer.strip()
    training.audience, training.hours = audience, _hours(hours)
    training.assign_school()
    training.full_clean()
    training.save()
    _attendance_set(training=training, present=attendees, absent=absent)
    return training


def _attendance_set(
    *,
    session: StudySession | None = None,
    training: Training | None = None,
    present: Iterable[User],
    absent: Iterable[User],
) -> None:
    parent = session or training
    assert parent is not None
    present_list = _same_school(present, parent.school_id)
    absent_list = [u for u in _same_school(absent, parent.school_id) if u not in present_list]
    Attendance.objects.filter(session=session, training=training).delete()
    Attendance.objects.bulk_create(
        [Attendance(session=session, training=training, user=u, present=True) for u in present_list]
        + [
            Attendance(session=session, training=training, user=u, present=False)
            for u in absent_list
        ]
    )


def activity_save(
    *,
    activity: EducationActivity | None = None,
    held_on: dt.date,
    kind: str,
    topic: str,
    classes: str = "",
    organiser: User | None = None,
    participants: int = 0,
) -> EducationActivity:
    activity = activity or EducationActivity()
    activity.held_on, activity.kind, activity.topic = held_on, kind, topic.strip()
    activity.classes, activity.organiser, activity.participants = classes, organiser, participants
    activity.assign_school()
    activity.full_clean()
    activity.save()
    return activity


def special_period_save(
    *,
    period: SpecialPeriod | None = None,
    name: str,
    reason: str,
    starts_on: dt.date,
    ends_on: dt.date,
    report_at: dt.time = dt.time(8, 0),
) -> SpecialPeriod:
    period = period or SpecialPeriod()
    period.name, period.reason = name.strip(), reason
    period.starts_on, period.ends_on, period.report_at = starts_on, ends_on, report_at
    period.assign_school()
    period.full_clean()
    period.save()
    return period


def record_delete(*, obj: Any) -> None:
    """Delete a duty record with what hangs on it (attendance, attached-file rows, memberships).

    The audit log keeps what each deleted row was (the models are ``@audited``); the stored
    files themselves stay, as evidence files are content-addressed and may be shared.
    """
    with transaction.atomic():
        obj.delete()
