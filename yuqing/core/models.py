"""Abstract models shared by the domain apps."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.core.tenancy import SchoolOwned


class StoredFile(SchoolOwned):
    """A file a person uploaded as evidence or attachment, checked by yuqing.lib.uploads.

    Concrete models add the ``file`` field (each app stores under its own folder) and the
    record it belongs to.
    """

    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField("SHA-256", max_length=64)
    uploaded_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.original_name


class RetentionPolicy(SchoolOwned):
    """How long a school keeps what it collects (yuqing/core/retention.py purges daily).

    A school without a row keeps the defaults below. The audit log is not here: it is kept
    deployment-wide for YUQING_AUDIT_RETENTION_DAYS (never less than 180 days).
    """

    mention_days = models.PositiveIntegerField(
        _("keep mentions (days)"),
        default=730,
        validators=[MinValueValidator(30), MaxValueValidator(36500)],
        help_text=_(
            "Mentions kept as evidence or with label corrections, and mentions of "
            "events with an open case, are kept longer."
        ),
    )
    fetch_log_days = models.PositiveIntegerField(
        _("keep fetch logs (days)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    petition_personal_days = models.PositiveIntegerField(
        _("keep petitioners' personal data (days after the petition is finished)"),
        default=1095,
        validators=[MinValueValidator(30), MaxValueValidator(36500)],
        help_text=_(
            "Afterwards the name, contact, message and attachments are erased; the "
            "case and its handling record stay."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school"], name="retentionpolicy_one_per_school"),
            models.CheckConstraint(
                condition=models.Q(mention_days__gte=30)
                & models.Q(fetch_log_days__gte=1)
                & models.Q(petition_personal_days__gte=30),
                name="retentionpolicy_minimums",
            ),
        ]
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")

    def __str__(self) -> str:
        return f"retention of school {self.school_id}"
