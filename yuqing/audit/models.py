"""The audit log: append-only, one hash chain per school.

Each entry's hash covers its own fields and the previous entry's hash, so editing or removing
any entry breaks the chain at that point, and `yuqing audit verify` names the first broken
link. One chain per school (plus one for deployment-wide events) keeps busy schools from
queueing behind each other for the chain head.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from yuqing.core.tenancy import require_scope

SYSTEM_CHAIN = 0  # chain key of entries that belong to no school (e.g. an unknown login name)


class AppendOnlyError(RuntimeError):
    pass


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit entries are never changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries are removed only by the retention purge")


class AuditManager(models.Manager.from_queryset(AuditQuerySet)):  # type: ignore[misc]
    """Scoped like every school table; entries of no school are for deployment-wide scopes."""

    def get_queryset(self) -> models.QuerySet:
        scope = require_scope()
        qs = super().get_queryset()
        if scope.readable is None:
            return qs
        return qs.filter(school_id__in=scope.readable)


class AuditChainHead(models.Model):
    """The newest link of one chain; locked while a new entry is appended."""

    chain = models.BigIntegerField(primary_key=True)  # school id, or SYSTEM_CHAIN
    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")
    # Entries up to this seq were removed by the retention purge; verification starts after.
    purged_through = models.BigIntegerField(default=0)
    purged_hash = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return f"chain {self.chain} at seq {self.seq}"


class AuditEntry(models.Model):
    chain = models.BigIntegerField(db_index=True)
    seq = models.BigIntegerField()
    at = models.DateTimeField(_("time"), db_index=True)
    school = models.ForeignKey(
        "accounts.School",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("school"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
    )
    actor_label = models.CharField(_("who"), max_length=150)
    ip = models.CharField(_("from"), max_length=45, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=80, db_index=True)
    object_type = models.CharField(_("object type"), max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    changes = models.JSONField(_("what changed"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditManager()
    unscoped = models.Manager.from_queryset(AuditQuerySet)()

    class Meta:
        ordering = ["-at", "-id"]
        base_manager_name = "unscoped"
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq")]
        indexes = [models.Index(fields=["school", "-at"], name="audit_school_at")]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("audit entries are removed only by the retention purge")

    def compute_hash(self) -> str:
        payload = {
            "chain": self.chain,
            "seq": self.seq,
            "at": self.at.isoformat(timespec="microseconds"),
            "school": self.school_id,
            "actor": self.actor_id,
            "actor_label": self.actor_label,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "object_repr": self.object_repr,
            "changes": self.changes,
            "prev": self.prev_hash,
        }
        canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
