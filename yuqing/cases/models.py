"""Cases (处置工单) and petitions (信访): definitions (routes, deadline policy) and runtime.

Definition rows are edited by administrators: a school's handling **routes**, each an ordered
list of **steps** (an org unit and a role), and its **deadline policy** per level. Runtime rows
are written only by ``services``: a **case** moves along its route, its **assignees** are the
people resolved for the current step at the time, and every action lands on its **timeline**.

A case carries a ``version``: every write is a conditional UPDATE on the version the writer
saw, so of two people editing one case the second is refused instead of silently overwriting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from yuqing.accounts.roles import Role
from yuqing.alerts.models import Level
from yuqing.audit.registry import audited
from yuqing.core.models import StoredFile
from yuqing.core.tenancy import SchoolOwned

# --------------------------------------------------------------------------- definitions


@audited()
class Route(SchoolOwned):
    """A handling route: who gets an incident first and where it goes when reported up."""

    class Kind(models.TextChoices):
        CLASS = "class", _("Class (students)")
        TEACHER = "teacher", _("Teacher")
        STAFF = "staff", _("Staff")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("concerns"), max_length=20, choices=Kind.choices)
    sort_order = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["sort_order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["school", "name"], name="caseroute_unique_name")
        ]
        verbose_name = _("route")
        verbose_name_plural = _("routes")

    def __str__(self) -> str:
        return self.name


@audited()
class RouteStep(SchoolOwned):
    """One rung: an org unit and a role. Who holds the role there is resolved at the time.

    The unit is either fixed (政教处) or relative to the case (``unit_kind``: the nearest unit
    of that kind at or above the unit the case concerns — the class, its grade office).
    """

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    label = models.CharField(_("step"), max_length=100)
    org_unit = models.ForeignKey(
        "accounts.OrgUnit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("org unit"),
    )
    unit_kind = models.CharField(_("or the case's own unit of kind"), max_length=20, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.HANDLER)

    class Meta:
        ordering = ["route", "position"]
        constraints = [
            models.UniqueConstraint(fields=["route", "position"], name="routestep_unique_position")
        ]
        verbose_name = _("route step")
        verbose_name_plural = _("route steps")

    def __str__(self) -> str:
        return self.label


# Minutes unless named otherwise; None means "not required at this level".
DEFAULT_LEVEL_DEADLINES: dict[str, dict[str, int | None]] = {
    "4": {"step_minutes": 30, "report_minutes": 60, "respond_minutes": 240, "close_days": 7},
    "3": {"step_minutes": 120, "report_minutes": 240, "respond_minutes": 1440, "close_days": 10},
    "2": {"step_minutes": 480, "report_minutes": None, "respond_minutes": None, "close_days": 15},
    "1": {"step_minutes": 1440, "report_minutes": None, "respond_minutes": None, "close_days": 30},
}
DEADLINE_KEYS = ("step_minutes", "report_minutes", "respond_minutes", "close_days")
# 信访工作条例: decide on acceptance within 15 days of receipt, finish within 60 days of it.
DEFAULT_PETITION_ACCEPT_WORKDAYS = 15
DEFAULT_PETITION_FINISH_DAYS = 60
DEFAULT_PETITION_REMIND_WORKDAYS = 3


@audited()
class DeadlinePolicy(SchoolOwned):
    """A school's deadlines per level and its petition clock (one row per school)."""

    levels = models.JSONField(_("deadlines per level"), default=dict, blank=True)
    petition_accept_workdays = models.PositiveSmallIntegerField(
        _("decide on acceptance within (working days)"), default=DEFAULT_PETITION_ACCEPT_WORKDAYS
    )
    petition_finish_days = models.PositiveSmallIntegerField(
        _("finish within (days after acceptance)"), default=DEFAULT_PETITION_FINISH_DAYS
    )
    petition_remind_workdays = models.PositiveSmallIntegerField(
        _("remind before each limit (working days)"), default=DEFAULT_PETITION_REMIND_WORKDAYS
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school"], name="deadlinepolicy_one_per_school")
        ]

    def __str__(self) -> str:
        return f"deadline policy of school {self.school_id}"

    def limits(self, level: int) -> dict[str, int | None]:
        merged = dict(DEFAULT_LEVEL_DEADLINES[str(level)])
        merged.update((self.levels or {}).get(str(level), {}))
        return merged

    def minutes(self, level: int, key: str) -> dt.timedelta | None:
        value = self.limits(level).get(key)
        if not value:
            return None
        return dt.timedelta(days=value) if key == "close_days" else dt.timedelta(minutes=value)


@audited()
class Absence(SchoolOwned):
    """Someone away (leave, training, sick): route resolution passes them over."""

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="+", verbose_name=_("person")
    )
    starts_on = models.DateField(_("away from"))
    ends_on = models.DateField(_("until"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-starts_on"]
        verbose_name = _("absence")
        verbose_name_plural = _("absences")

    def __str__(self) -> str:
        return f"{self.user} {self.starts_on}–{self.ends_on}"


# --------------------------------------------------------------------------- runtime


class Case(SchoolOwned):
    class Status(models.TextChoices):
        NEW = "new", pgettext_lazy("case status", "New")
        ASSESSING = "assessing", _("Assessing")
        HANDLING = "handling", pgettext_lazy("case status", "Handling")
        RESPONDED = "responded", _("Responded")
        CLOSED = "closed", pgettext_lazy("case status", "Closed")
        REOPENED = "reopened", _("Reopened")

    class Source(models.TextChoices):
        ALERT = "alert", _("Alert")
        EVENT = "event", _("Event")
        MENTION = "mention", _("Mention")
        PETITION = "petition", _("Petition")
        MANUAL = "manual", _("By hand")

    number = models.CharField(_("number"), max_length=20)
    title = models.CharField(_("title"), max_length=300)
    summary = models.TextField(_("summary"), blank=True)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW
    )
    source = models.CharField(_("opened from"), max_length=20, choices=Source.choices)
    alert = models.ForeignKey(
        "alerts.Alert", on_delete=models.SET_NULL, null=True, blank=True, related_name="cases"
    )
    event = models.ForeignKey(
        "monitor.Event",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases",
        verbose_name=_("event"),
    )
    mention_ids = models.JSONField(default=list, blank=True)
    org_unit = models.ForeignKey(
        "accounts.OrgUnit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("concerns unit"),
    )
    owner = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    # Where on the route the case is now, and who was resolved for that step.
    route = models.ForeignKey(
        Route, on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    step_index = models.PositiveSmallIntegerField(_("route position"), default=0)
    step_label = models.CharField(max_length=100, blank=True)
    current_unit = models.ForeignKey(
        "accounts.OrgUnit", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    step_fallback = models.BooleanField(default=False)
    step_started_at = models.DateTimeField(default=timezone.now)
    step_due_at = models.DateTimeField(_("step due"), null=True, blank=True)
    # The limits of the level, and when each was met.
    report_due_at = models.DateTimeField(_("report to leadership by"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported to leadership"), null=True, blank=True)
    response_due_at = models.DateTimeField(_("first response by"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    close_due_at = models.DateTimeField(_("close by"), null=True, blank=True)
    # Overdue kinds already escalated ("step:2", "report", ...): each escalates once.
    overdue_sent = models.JSONField(default=list, blank=True)
    # The official response (情况说明 / 回应口径), drafted here, published through review.
    response_draft = models.TextField(_("response draft"), blank=True)
    response_url = models.URLField(_("published at"), max_length=1000, blank=True)
    response_published_at = models.DateTimeField(null=True, blank=True)
    # Closure and after-action review.
    closure_summary = models.TextField(_("closing summary"), blank=True)
    review_happened = models.TextField(_("what happened"), blank=True)
    review_done = models.TextField(_("what was done"), blank=True)
    review_changes = models.TextField(_("what changes"), blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opened_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("opened"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["school", "number"], name="case_unique_number")
        ]
        indexes = [models.Index(fields=["school", "status", "-created_at"], name="case_status")]
        verbose_name = _("case")
        verbose_name_plural = _("cases")

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED

    @property
    def needs_review(self) -> bool:
        return self.level >= Level.ORANGE

    def overdue_kinds(self, now: dt.datetime | None = None) -> list[str]:
        """Which limits have passed unmet: "step", "report", "respond", "close"."""
        if not self.is_open:
            return []
        now = now or timezone.now()
        late = []
        if (
            self.step_due_at
            and self.step_due_at <= now
            and self.status
            in (
                self.Status.NEW,
                self.Status.REOPENED,
            )
        ):
            late.append("step")
        if self.report_due_at and not self.reported_at and self.report_due_at <= now:
            late.append("report")
        if self.response_due_at and not self.first_response_at and self.response_due_at <= now:
            late.append("respond")
        if self.close_due_at and self.close_due_at <= now:
            late.append("close")
        return late

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        return bool(self.overdue_kinds(now))

    def next_due(self) -> tuple[str, dt.datetime] | None:
        """The earliest limit still to meet (for lists and My work)."""
        if not self.is_open:
            return None
        options: list[tuple[str, Any]] = []
        if self.status in (self.Status.NEW, self.Status.REOPENED) and self.step_due_at:
            options.append(("step", self.step_due_at))
        if self.report_due_at and not self.reported_at:
            options.append(("report", self.report_due_at))
        if self.response_due_at and not self.first_response_at:
            options.append(("respond", self.response_due_at))
        if self.close_due_at:
            options.append(("close", self.close_due_at))
        return min(options, key=lambda o: o[1]) if options else None


class CaseAssignee(SchoolOwned):
    """A person resolved for the case's current step (replaced when the step changes)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assignees")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    step_index = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="caseassignee_unique")]


class CaseAction(SchoolOwned):
    """One line of the timeline: what was done, by whom, when. Never edited."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("Opened")
        STATE = "state", _("Status changed")
        VERIFIED = "verified", _("Verified the facts")
        CONTACTED = "contacted", _("Contacted the parents")
        REPORTED_UP = "reported_up", _("Reported up")
        HANDED_BACK = "handed_back", _("Handed back")
        ROUTED = "routed", _("Routed")
        RESPONSE_DRAFTED = "response_drafted", _("Response drafted")
        RESPONSE_SUBMITTED = "response_submitted", _("Sent to publication review")
        RESPONSE_PUBLISHED = "response_published", _("Response published")
        EVIDENCE = "evidence", _("Evidence added")
        EDITED = "edited", _("Edited")
        OVERDUE = "overdue", _("Overdue, escalated")
        REPLY = "reply", _("Reply to the petitioner")
        CLOSED = "closed", pgettext_lazy("case status", "Closed")
        REOPENED = "reopened", _("Reopened")
        NOTE = "note", pgettext_lazy("case action", "Note")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(_("action"), max_length=30, choices=Kind.choices)
    text = models.TextField(_("details"), blank=True)
    by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:40]}"


# Kinds a person may add to the timeline by hand (the rest come from transitions).
MANUAL_ACTIONS = (
    CaseAction.Kind.VERIFIED,
    CaseAction.Kind.CONTACTED,
    CaseAction.Kind.NOTE,
)


class CaseEvidence(StoredFile):
    """A screenshot, document or recording kept with a case, with its SHA-256."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="evidence")
    file = models.FileField(upload_to="cases/", max_length=300)

    class Meta:
        ordering = ["-uploaded_at"]


# --------------------------------------------------------------------------- petitions


class Petition(SchoolOwned):
    """A parent's letter, a principal's-mailbox message or a 12345 hotline transfer."""

    class Channel(models.TextChoices):
        WEB = "web", _("Online form")
        MAILBOX = "mailbox", _("Principal's mailbox")
        LETTER = "letter", _("Letter or visit (信访)")
        HOTLINE = "hotline", _("12345 hotline transfer")
        OTHER = "other", _("Other transfer")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received, awaiting decision")
        ACCEPTED = "accepted", _("Accepted, being handled")
        NOT_ACCEPTED = "not_accepted", _("Not accepted")
        FINISHED = "finished", _("Finished")

    channel = models.CharField(_("received through"), max_length=20, choices=Channel.choices)
    reference = models.CharField(_("transfer number"), max_length=60, blank=True)
    name = models.CharField(_("petitioner"), max_length=60, blank=True)
    contact = models.CharField(_("phone or e-mail"), max_length=100, blank=True)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"))
    received_on = models.DateField(_("received"))
    received_at = models.DateTimeField(default=timezone.now)
    query_code_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RECEIVED
    )
    accept_due = models.DateField(_("decide by"))
    decided_on = models.DateField(_("decided"), null=True, blank=True)
    decision_reason = models.TextField(_("reason"), blank=True)
    finish_due = models.DateField(_("finish by"), null=True, blank=True)
    finished_on = models.DateField(_("finished"), null=True, blank=True)
    # Reminders already sent ("accept", "finish") so each goes out once.
    reminded = models.JSONField(default=list, blank=True)
    # Years the holiday calendar did not cover when a limit was computed (weekends only then).
    calendar_gaps = models.JSONField(default=list, blank=True)
    case = models.OneToOneField(
        Case, on_delete=models.SET_NULL, null=True, blank=True, related_name="petition"
    )
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["school", "status"], name="petition_status")]
        verbose_name = _("petition")
        verbose_name_plural = _("petitions")

    def __str__(self) -> str:
        return self.subject

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.RECEIVED, self.Status.ACCEPTED)

    def current_due(self) -> tuple[str, dt.date] | None:
        if self.status == self.Status.RECEIVED:
            return ("accept", self.accept_due)
        if self.status == self.Status.ACCEPTED and self.finish_due:
            return ("finish", self.finish_due)
        return None


class PetitionAttachment(SchoolOwned):
    petition = models.ForeignKey(Petition, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="petitions/", max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.original_name


class PetitionReply(SchoolOwned):
    """What the school told the petitioner: shown on the public query page."""

    petition = models.ForeignKey(Petition, on_delete=models.CASCADE, related_name="replies")
    text = models.TextField(_("reply"))
    by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.text[:40]
