"""Duty records: the groups, the responsibility list, study, training and education work.

These are what the office shows it did. Every row is dated, so the half-year report can count
"what was done between these two dates" the same way every time it is regenerated; group
membership is kept as dated rows (history), never overwritten.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.audit.registry import audited
from yuqing.core.models import StoredFile
from yuqing.core.tenancy import SchoolOwned


@audited()
class Group(SchoolOwned):
    """The leadership group (领导小组) or a working group (工作小组) of the school."""

    class Kind(models.TextChoices):
        LEADERSHIP = "leadership", _("Leadership group")
        WORKING = "working", _("Working group")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    duties = models.TextField(_("duties"), blank=True)
    established_on = models.DateField(_("established on"), default=dt.date.today)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "name"], name="dutygroup_unique_name")
        ]
        verbose_name = _("group")
        verbose_name_plural = _("groups")

    def __str__(self) -> str:
        return self.name


class MemberRole(models.TextChoices):
    LEADER = "leader", _("Leader (组长)")
    DEPUTY = "deputy", _("Deputy leader (副组长)")
    MEMBER = "member", _("Member (成员)")


@audited()
class Membership(SchoolOwned):
    """Who held which role in a group from when to when; ``until`` is empty while it lasts."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", verbose_name=_("person")
    )
    role = models.CharField(_("role"), max_length=20, choices=MemberRole.choices)
    since = models.DateField(_("since"), default=dt.date.today)
    until = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        ordering = ["group", "role", "since"]
        constraints = [
            # One current role per person and group: a change ends the old row first.
            models.UniqueConstraint(
                fields=["group", "user"],
                condition=models.Q(until__isnull=True),
                name="membership_one_current",
            )
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"

    def clean(self) -> None:
        super().clean()
        if self.until is not None and self.until < self.since:
            raise ValidationError({"until": _("The end cannot be before the start.")})
        if self.user_id is not None and self.user.school_id != self.school_id:
            raise ValidationError({"user": _("This person belongs to another school.")})

    def active_on(self, day: dt.date) -> bool:
        return self.since <= day and (self.until is None or self.until >= day)


class ResponsibilityKind(models.TextChoices):
    PRINCIPAL = "principal", _("Principal responsibility (主体责任)")
    DUAL = "dual", _("Dual responsibility of a post (一岗双责)")
    SUPERVISION = "supervision", _("Supervisory responsibility (监管责任)")
    DIRECT = "direct", _("Direct responsibility (直接责任)")
    OTHER = "other", _("Other")


class Recurrence(models.TextChoices):
    NONE = "", _("Once")
    WEEKLY = "weekly", _("Every week")
    MONTHLY = "monthly", _("Every month")
    TERMLY = "termly", _("Every half year")
    YEARLY = "yearly", _("Every year")


@audited(exclude=("reminded_for",))
class Responsibility(SchoolOwned):
    """One item of the responsibility list (责任清单)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    title = models.CharField(_("item"), max_length=300)
    description = models.TextField(_("details"), blank=True)
    kind = models.CharField(_("type"), max_length=20, choices=ResponsibilityKind.choices)
    owners = models.ManyToManyField(
        "accounts.User", related_name="+", verbose_name=_("owners"), blank=True
    )
    due_on = models.DateField(_("due"), null=True, blank=True)
    recurrence = models.CharField(
        _("repeats"), max_length=10, choices=Recurrence.choices, blank=True, default=""
    )
    remind_days = models.PositiveSmallIntegerField(
        _("remind days before"), default=3, validators=[MinValueValidator(0)]
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    evidence_note = models.TextField(_("evidence"), blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    completed_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The due date a reminder was last sent for: one reminder per due date, even after restarts.
    reminded_for = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["status", "due_on", "title"]
        indexes = [models.Index(fields=["school", "status", "due_on"], name="resp_due")]
        verbose_name = _("responsibility")
        verbose_name_plural = _("responsibilities")

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, today: dt.date | None = None) -> bool:
        today = today or timezone.localdate()
        return self.status != self.Status.DONE and self.due_on is not None and self.due_on < today


class StudyKind(models.TextChoices):
    CENTRAL_GROUP = "central_group", _("Central group study (理论学习中心组学习)")
    SEMINAR = "seminar", _("Seminar (研讨交流)")
    PARTY_DAY = "party_day", _("Theme party day (主题党日)")
    THREE_ONE = "three_one", _("Three meetings and one lesson (三会一课)")
    SPECIAL = "special", _("Special training (专题培训)")


HOURS = {"max_digits": 5, "decimal_places": 1, "validators": [MinValueValidator(Decimal("0"))]}


@audited()
class StudySession(SchoolOwned):
    held_on = models.DateField(_("date"))
    kind = models.CharField(_("type"), max_length=20, choices=StudyKind.choices)
    topic = models.CharField(_("topic"), max_length=300)
    organiser = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organiser"),
    )
    hours = models.DecimalField(_("hours"), default=Decimal("1.0"), **HOURS)  # type: ignore[arg-type]
    location = models.CharField(_("place"), max_length=200, blank=True)
    minutes = models.TextField(_("minutes"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-id"]
        indexes = [models.Index(fields=["school", "held_on"], name="study_date")]
        verbose_name = _("study session")
        verbose_name_plural = _("study sessions")

    def __str__(self) -> str:
        return self.topic


@audited()
class Attendance(SchoolOwned):
    """One invited person at a study session or training, and whether they came."""

    session = models.ForeignKey(
        StudySession, on_delete=models.CASCADE, null=True, blank=True, related_name="attendance"
    )
    training = models.ForeignKey(
        "Training", on_delete=models.CASCADE, null=True, blank=True, related_name="attendance"
    )
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    present = models.BooleanField(_("present"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="attendance_one_session"),
            models.UniqueConstraint(fields=["training", "user"], name="attendance_one_training"),
            models.CheckConstraint(
                condition=models.Q(session__isnull=False, training__isnull=True)
                | models.Q(session__isnull=True, training__isnull=False),
                name="attendance_one_parent",
            ),
        ]


@audited()
class Training(SchoolOwned):
    """Training for monitoring and IT staff."""

    class Audience(models.TextChoices):
        MONITORING = "monitoring", _("Monitoring staff")
        IT = "it", _("IT staff")
        ALL = "all", _("All staff")

    held_on = models.DateField(_("date"))
    topic = models.CharField(_("topic"), max_length=300)
    trainer = models.CharField(_("trainer"), max_length=100)
    audience = models.CharField(
        _("for"), max_length=20, choices=Audience.choices, default=Audience.MONITORING
    )
    hours = models.DecimalField(_("hours"), default=Decimal("2.0"), **HOURS)  # type: ignore[arg-type]
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name = _("training")
        verbose_name_plural = _("trainings")

    def __str__(self) -> str:
        return self.topic


class ActivityKind(models.TextChoices):
    CLASS_MEETING = "class_meeting", _("Theme class meeting (主题班会)")
    FLAG_SPEECH = "flag_speech", _("Speech under the flag (国旗下讲话)")
    FIRST_LESSON = "first_lesson", _("First lesson of term (开学第一课)")
    VOLUNTEER = "volunteer", _("Volunteer service (志愿服务)")
    LITERACY = "literacy", _("Online literacy education (网络素养教育)")
    OTHER = "other", _("Other")


@audited()
class EducationActivity(SchoolOwned):
    held_on = models.DateField(_("date"))
    kind = models.CharField(_("type"), max_length=20, choices=ActivityKind.choices)
    topic = models.CharField(_("topic"), max_length=300)
    classes = models.CharField(_("grades / classes"), max_length=200, blank=True)
    organiser = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organiser"),
    )
    participants = models.PositiveIntegerField(_("participants"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-id"]
        verbose_name = _("education activity")
        verbose_name_plural = _("education activities")

    def __str__(self) -> str:
        return self.topic


@audited()
class Attachment(StoredFile):
    """Materials, minutes, evidence and photos: kept under MEDIA_ROOT with their SHA-256."""

    class Kind(models.TextChoices):
        MATERIAL = "material", _("Material")
        MINUTES = "minutes", _("Minutes")
        EVIDENCE = "evidence", _("Evidence")
        PHOTO = "photo", _("Photo")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    responsibility = models.ForeignKey(
        Responsibility, on_delete=models.CASCADE, null=True, blank=True, related_name="files"
    )
    session = models.ForeignKey(
        StudySession, on_delete=models.CASCADE, null=True, blank=True, related_name="files"
    )
    training = models.ForeignKey(
        Training, on_delete=models.CASCADE, null=True, blank=True, related_name="files"
    )
    activity = models.ForeignKey(
        EducationActivity, on_delete=models.CASCADE, null=True, blank=True, related_name="files"
    )
    file = models.FileField(upload_to="duty/", max_length=300)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")


@audited()
class SpecialPeriod(SchoolOwned):
    """A sensitive period (特殊时段): a daily report is due on each of its days."""

    class Reason(models.TextChoices):
        OPENING = "opening", _("School opening")
        EXAMS = "exams", _("Exams")
        HOLIDAY = "holiday", _("Holiday")
        INCIDENT = "incident", _("Ongoing incident")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=100)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    report_at = models.TimeField(
        _("daily report at"),
        default=dt.time(8, 0),
        help_text=_("Each day's report covers the previous day and is made at this time."),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-starts_on"]
        verbose_name = _("special period")
        verbose_name_plural = _("special periods")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("The last day cannot be before the first.")})

    def covers(self, day: dt.date) -> bool:
        return self.starts_on <= day <= self.ends_on
