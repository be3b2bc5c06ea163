"""Abstract models shared by the domain apps."""

from __future__ import annotations

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
