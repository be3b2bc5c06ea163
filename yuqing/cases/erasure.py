"""A petitioner's personal data: found, exported and erased on request (PIPL), or on schedule.

A person asks what the school keeps about them, or asks for it to be erased. They are found
by the contact they gave (phone or e-mail, compared without spaces, dashes and case) or by a
petition's number. **Export** gives a ZIP with ``petitions.json`` (every field the school
holds about them, the replies they were sent) and their attachments. **Erasure** blanks the
name and contact, replaces the subject, message and replies with a marker, deletes the
attachments (rows and stored files no other record uses), and does the same to the case text
that was copied from the petition and to the subject in deadline reminders. The case itself, its deadlines and its handling record
stay: they are the school's record of what it did.

Both are written to the audit log with counts and ids only, never the erased values. Entries
written earlier stay untouched (a changed entry would break the hash chain) and leave with the
audit log's own retention; they hold the petition's subject line as their label, never the
name, contact or message.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from yuqing.alerts.models import Notification
from yuqing.audit.services import audit_record
from yuqing.cases.models import (
    Case,
    CaseAction,
    CaseEvidence,
    Petition,
    PetitionAttachment,
    PetitionReply,
)

ERASED = "[已删除]"  # shown where erased text was; the same in every language on purpose
_CONTACT_NOISE = re.compile(r"[\s\-()（）+.]")


def normalise_contact(value: str) -> str:
    cleaned = _CONTACT_NOISE.sub("", value or "").lower()
    # +86 / 0086 prefixes on mobile numbers
    for prefix in ("0086", "86"):
        if cleaned.startswith(prefix) and len(cleaned) == len(prefix) + 11 and cleaned.isdigit():
            return cleaned[len(prefix) :]
    return cleaned


def is_erased(petition: Petition) -> bool:
    return petition.body == ERASED and not petition.name and not petition.contact


def petitions_of_person(*, contact: str = "", petition_ids: Iterable[int] = ()) -> list[Petition]:
    """The petitions of one person in the current school: by contact, or by petition ids."""
    found: dict[int, Petition] = {}
    ids = [int(i) for i in petition_ids]
    if ids:
        for petition in Petition.objects.filter(pk__in=ids):
            found[petition.pk] = petition
    wanted = normalise_contact(contact)
    if wanted:
        # Contacts are free text as typed: compared normalised, in Python (a school holds
        # thousands of petitions at most).
        for petition in Petition.objects.exclude(contact="").only("id", "contact"):
            if normalise_contact(petition.contact) == wanted:
                found[petition.pk] = Petition.objects.get(pk=petition.pk)
    return sorted(found.values(), key=lambda p: (p.received_at, p.pk))


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def petition_data(petition: Petition) -> dict[str, Any]:
    return {
        "petition": petition.pk,
        "channel": petition.channel,
        "reference": petition.reference,
        "name": petition.name,
        "contact": petition.contact,
        "subject": petition.subject,
        "message": petition.body,
        "received_on": _iso(petition.received_on),
        "status": petition.status,
        "decided_on": _iso(petition.decided_on),
        "decision_reason": petition.decision_reason,
        "finished_on": _iso(petition.finished_on),
        "replies": [
            {"at": _iso(r.at), "text": r.text}
            for r in PetitionReply.objects.filter(petition=petition).order_by("at", "pk")
        ],
        "attachments": [
            {
                "file": f"attachments/{petition.pk}/{a.pk}-{a.original_name}",
                "name": a.original_name,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
            }
            for a in PetitionAttachment.objects.filter(petition=petition).order_by("pk")
        ],
    }


def person_data_export(*, petitions: Sequence[Petition], reason: str = "") -> bytes:
    """A ZIP of everything held about the person: ``petitions.json`` and the attachments."""
    buffer = io.BytesIO()
    records = [petition_data(p) for p in petitions]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "petitions.json",
            json.dumps(
                {"exported_at": timezone.now().isoformat(), "petitions": records},
                ensure_ascii=False,
                indent=1,
            ),
        )
        for petition in petitions:
            for attachment in PetitionAttachment.objects.filter(petition=petition).order_by("pk"):
                try:
                    with default_storage.open(attachment.file.name, "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue  # listed in petitions.json; the file itself is gone
                archive.writestr(
                    f"attachments/{petition.pk}/{attachment.pk}-{attachment.original_name}", data
                )
    for petition in petitions:
        audit_record(
            "cases.petition.personal_data_exported",
            obj=petition,
            changes={"reason": reason[:200]},
        )
    return buffer.getvalue()


@dataclass
class ErasureResult:
    petitions: int = 0
    attachments: int = 0
    files_deleted: int = 0
    replies: int = 0
    already_erased: int = 0


def _file_in_use(name: str) -> bool:
    # Files are stored once per content: another record may hold the same bytes.
    return (
        PetitionAttachment.unscoped.filter(file=name).exists()
        or CaseEvidence.unscoped.filter(file=name).exists()
    )


def person_data_erase(
    *, petitions: Sequence[Petition], reason: str, scheduled: bool = False
) -> ErasureResult:
    """Erase the personal data of ``petitions``; audited with counts, never the values."""
    result = ErasureResult()
    doomed_files: set[str] = set()
    with transaction.atomic():
        for petition in petitions:
            petition = Petition.objects.select_for_update().get(pk=petition.pk)
            if is_erased(petition):
                result.already_erased += 1
                continue
            attachments = list(PetitionAttachment.objects.filter(petition=petition))
            doomed_files |= {a.file.name for a in attachments}
            PetitionAttachment.objects.filter(pk__in=[a.pk for a in attachments]).delete()
            replies = PetitionReply.objects.filter(petition=petition).update(text=ERASED)
            # Query-code hash kept: the petitioner's code now shows the erased petition.
            Petition.objects.filter(pk=petition.pk).update(
                name="", contact="", subject=ERASED, body=ERASED, decision_reason=""
            )
            if petition.case_id:
                case = Case.objects.get(pk=petition.case_id)
                Case.objects.filter(pk=case.pk).update(
                    title=f"[{petition.get_channel_display()}] {ERASED}"[:300],
                    summary=ERASED,
                )
                # Replies to the petitioner were copied to the case timeline.
                CaseAction.objects.filter(case=case, kind=CaseAction.Kind.REPLY).update(text=ERASED)
            # Deadline reminders name the petition by its subject ("… · subject").
            suffix = f" · {petition.subject}"
            for note in Notification.objects.filter(title__endswith=suffix).only("id", "title"):
                Notification.objects.filter(pk=note.pk).update(
                    title=note.title[: -len(suffix)] + f" · {ERASED}"
                )
            result.petitions += 1
            result.attachments += len(attachments)
            result.replies += replies
            audit_record(
                "cases.petition.personal_data_erased",
                obj=petition,
                object_repr=f"petition #{petition.pk}",
                changes={
                    "reason": reason[:200],
                    "scheduled": scheduled,
                    "attachments": len(attachments),
                    "replies": replies,
                },
            )

        def delete_files() -> None:
            for name in sorted(doomed_files):
                if not _file_in_use(name):
                    default_storage.delete(name)
                    result.files_deleted += 1

        # Files go only once the rows are gone for good: a rolled-back erasure keeps them.
        transaction.on_commit(delete_files)
    return result
