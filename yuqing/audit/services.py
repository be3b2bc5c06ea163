"""Writing, verifying and purging the audit log. The only code that writes audit entries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from yuqing.audit.models import SYSTEM_CHAIN, AuditChainHead, AuditEntry
from yuqing.core.context import Actor, current_actor


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def _school_of(obj: Any, actor: Actor) -> int | None:
    from yuqing.accounts.models import School

    if isinstance(obj, School) and obj.pk is not None:
        return int(obj.pk)  # a school's own record goes to its own chain
    for candidate in (getattr(obj, "school_id", None), getattr(actor.user, "school_id", None)):
        if candidate is not None:
            return int(candidate)
    return None


def _head_for_update(chain: int) -> AuditChainHead:
    # The row lock on the head serialises appends to one chain across processes; creating the
    # head races once per chain, so a lost race just reads the winner's row.
    try:
        return AuditChainHead.objects.select_for_update().get(chain=chain)
    except AuditChainHead.DoesNotExist:
        try:
            with transaction.atomic():
                AuditChainHead.objects.create(chain=chain)
        except IntegrityError:
            pass
        return AuditChainHead.objects.select_for_update().get(chain=chain)


def audit_record(
    action: str,
    *,
    obj: Any = None,
    school_id: int | None = None,
    changes: dict[str, Any] | None = None,
    actor: Actor | None = None,
    object_repr: str | None = None,
) -> AuditEntry:
    """Append one entry: ``action`` is a dotted name such as ``cases.case.closed``."""
    actor = actor or current_actor()
    if school_id is None:
        school_id = _school_of(obj, actor)
    chain = school_id if school_id is not None else SYSTEM_CHAIN
    user = actor.user if getattr(actor.user, "pk", None) is not None else None
    with transaction.atomic():
        head = _head_for_update(chain)
        entry = AuditEntry(
            chain=chain,
            seq=head.seq + 1,
            at=timezone.now(),
            school_id=school_id,
            actor=user,
            actor_label=actor.label[:150],
            ip=actor.ip,
            user_agent=actor.user_agent,
            action=action,
            object_type=obj._meta.label_lower if obj is not None and hasattr(obj, "_meta") else "",
            object_id=str(getattr(obj, "pk", "") or "")[:64],
            object_repr=(
                object_repr if object_repr is not None else str(obj) if obj is not None else ""
            )[:200],
            changes=_jsonable(changes or {}),
            prev_hash=head.last_hash,
        )
        entry.hash = entry.compute_hash()
        entry.save()
        AuditChainHead.objects.filter(chain=chain).update(seq=entry.seq, last_hash=entry.hash)
    return entry


@dataclass(frozen=True, slots=True)
class BrokenLink:
    chain: int
    seq: int
    entry_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"entry #{self.entry_id}" if self.entry_id else "end of chain"
        chain = "system" if self.chain == SYSTEM_CHAIN else f"school {self.chain}"
        return f"{chain}, seq {self.seq} ({where}): {self.reason}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    checked: int
    chains: int
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def audit_verify(chains: Iterable[int] | None = None) -> VerifyResult:
    """Walk every chain from its start (or its purge point); report the first broken link."""
    heads = AuditChainHead.objects.all()
    if chains is not None:
        heads = heads.filter(chain__in=list(chains))
    checked = 0
    head_count = 0
    for head in heads.order_by("chain"):
        head_count += 1
        expected_seq = head.purged_through + 1
        expected_prev = head.purged_hash
        entries = AuditEntry.unscoped.filter(chain=head.chain).order_by("seq")
        for entry in entries.iterator(chunk_size=2000):
            checked += 1
            if entry.seq != expected_seq:
                return VerifyResult(
                    checked,
                    head_count,
                    BrokenLink(
                        head.chain,
                        expected_seq,
                        entry.pk,
                        f"entry seq {expected_seq} is missing (next present is {entry.seq})",
                    ),
                )
            if entry.prev_hash != expected_prev:
                return VerifyResult(
                    checked,
                    head_count,
                    BrokenLink(
                        head.chain,
                        entry.seq,
                        entry.pk,
                        "does not link to the previous entry",
                    ),
                )
            if entry.compute_hash() != entry.hash:
                return VerifyResult(
                    checked,
                    head_count,
                    BrokenLink(
                        head.chain,
                        entry.seq,
                        entry.pk,
                        "content was changed after it was written",
                    ),
                )
            expected_prev = entry.hash
            expected_seq += 1
        if expected_seq - 1 != head.seq or expected_prev != head.last_hash:
            return VerifyResult(
                checked,
                head_count,
                BrokenLink(
                    head.chain,
                    expected_seq,
                    None,
                    f"entries after seq {expected_seq - 1} are missing (the head is at {head.seq})",
                ),
            )
    return VerifyResult(checked, head_count, None)


def audit_purge(*, older_than: dt.datetime) -> int:
    """Remove entries older than ``older_than`` from the start of each chain.

    Only a prefix of a chain is ever removed, and its last hash is kept on the head, so the
    remaining chain still verifies and a gap in the middle is still detected.
    """
    removed = 0
    for chain in AuditChainHead.objects.values_list("chain", flat=True):
        with transaction.atomic():
            head = AuditChainHead.objects.select_for_update().get(chain=chain)
            # The old prefix ends before the first entry that is recent enough to keep: should
            # the clock ever have stepped back, a recent entry is never removed.
            first_kept = (
                AuditEntry.unscoped.filter(chain=chain, at__gte=older_than)
                .order_by("seq")
                .values_list("seq", flat=True)
                .first()
            )
            old = AuditEntry.unscoped.filter(chain=chain, at__lt=older_than)
            if first_kept is not None:
                old = old.filter(seq__lt=first_kept)
            last_old = old.order_by("-seq").first()
            if last_old is None:
                continue
            doomed = AuditEntry.unscoped.filter(chain=chain, seq__lte=last_old.seq)
            count, _ = models.QuerySet.delete(doomed)
            removed += count
            head.purged_through = last_old.seq
            head.purged_hash = last_old.hash
            head.save(update_fields=["purged_through", "purged_hash"])
        audit_record(
            "audit.purged",
            school_id=None if chain == SYSTEM_CHAIN else chain,
            changes={"through_seq": last_old.seq, "entries": count, "older_than": older_than},
        )
    return removed
