"""Reports: each generation is archived with its numbers (and where each came from) and its DOCX.

A report is a row per generation, never overwritten: regenerating the same period adds a new
version beside the old one, and the two can be compared number by number (they agree unless
records of the period were changed in between, which the audit log then shows).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.audit.registry import audited
from yuqing.core.tenancy import SchoolOwned


class Kind(models.TextChoices):
    DAILY = "daily", _("Daily report")
    WEEKLY = "weekly", _("Weekly report")
    MONTHLY = "monthly", _("Monthly report")
    HALF_YEAR = "half_year", _("Half-year special report")


@audited(exclude=("data",))
class Report(SchoolOwned):
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))  # inclusive
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    title = models.CharField(_("title"), max_length=200)
    # Every number, list and chart series of the report, with its provenance (see compute.py).
    data = models.JSONField(default=dict)
    next_steps = models.TextField(_("next steps"), blank=True)
    file = models.FileField(upload_to="reports/", max_length=300, blank=True)
    sha256 = models.CharField("SHA-256", max_length=64, blank=True)
    template = models.ForeignKey(
        "ReportTemplate", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    special_period = models.ForeignKey(
        "duty.SpecialPeriod",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("special period"),
    )
    automatic = models.BooleanField(_("made automatically"), default=False)
    generated_at = models.DateTimeField(_("generated"), default=timezone.now)
    generated_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-period_end", "-generated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "kind", "period_start", "period_end", "version"],
                name="report_unique_version",
            )
        ]
        indexes = [models.Index(fields=["school", "kind", "-period_end"], name="report_kind_end")]
        verbose_name = _("report")
        verbose_name_plural = _("reports")

    def __str__(self) -> str:
        return self.title

    @property
    def filename(self) -> str:
        return (
            f"{self.kind}-{self.period_start:%Y%m%d}-{self.period_end:%Y%m%d}-v{self.version}.docx"
        )


@audited()
class ReportTemplate(SchoolOwned):
    """A school's own Word template (docxtpl / Jinja tags) for one kind of report."""

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    file = models.FileField(upload_to="report-templates/", max_length=300)
    sha256 = models.CharField("SHA-256", max_length=64)
    size = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("in use"), default=True)
    uploaded_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "-uploaded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "kind"],
                condition=models.Q(is_active=True),
                name="reporttemplate_one_active",
            )
        ]
        verbose_name = _("report template")
        verbose_name_plural = _("report templates")

    def __str__(self) -> str:
        return self.name


@audited()
class ReportChannel(SchoolOwned):
    """A channel of the alerts module that receives the summary of some kinds of report.

    E-mail channels get the DOCX attached; robots get the summary with a link to the report.
    """

    channel = models.ForeignKey(
        "alerts.Channel", on_delete=models.CASCADE, related_name="+", verbose_name=_("channel")
    )
    kinds = models.JSONField(_("reports sent"), default=list, blank=True)

    class Meta:
        ordering = ["channel__name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "channel"], name="reportchannel_unique")
        ]
        verbose_name = _("report channel")
        verbose_name_plural = _("report channels")

    def __str__(self) -> str:
        return str(self.channel)


class MentionHour(SchoolOwned):
    """Relevant mentions per UTC hour and per label: what the dashboards read at scale.

    Kept by database triggers on ``monitor_mention`` (see rollup.py), so every write path —
    ingest, label corrections, bulk loads, deletions — keeps it exact without knowing of it.
    ``dim``: s sentiment, t topic, k source type, r risk orange or red (value ""), e event id;
    E event id per UTC day (``hour`` is then the day's 00:00 UTC).
    """

    school = models.ForeignKey(  # type: ignore[assignment]
        "accounts.School", on_delete=models.CASCADE, related_name="+"
    )
    hour = models.DateTimeField()
    dim = models.CharField(max_length=1)
    value = models.CharField(max_length=32)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "dim", "hour", "value"], name="mentionhour_unique"
            )
        ]
        # The curves of a few events: their own rows, not every event's.
        indexes = [
            models.Index(fields=["school", "dim", "value", "hour"], name="mentionhour_value")
        ]
