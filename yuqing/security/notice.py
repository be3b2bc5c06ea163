"""The rectification notice (整改通知) for one asset, as an editable Word document."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.security.models import FIX_DAYS, Asset, Finding


def notice_docx(*, asset: Asset, school: Any, today: dt.date | None = None) -> bytes:
    from docx import Document  # heavy; only this download needs it
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    today = today or timezone.localdate()
    findings = list(
        Finding.objects.filter(asset=asset, status__in=Finding.ACTIVE).order_by("-severity", "id")
    )
    doc = Document()
    style = doc.styles["Normal"]
    style.font.size = Pt(12)  # type: ignore[attr-defined]
    title = doc.add_heading(_("Rectification notice"), level=1)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    to = asset.owner_unit or (str(asset.responsible) if asset.responsible else "")
    doc.add_paragraph(_("To: %(to)s") % {"to": to or "________"})
    doc.add_paragraph(
        _(
            "The security inspection of %(school)s found the following problems on "
            "“%(asset)s” (%(address)s). Please fix them by the dates below, then report what "
            "was done so that the fix can be verified by a new check."
        )
        % {
            "school": school.name if school else "",
            "asset": asset.name,
            "address": asset.url or asset.host,
        }
    )
    table = doc.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    head = table.rows[0].cells
    for cell, text in zip(
        head,
        (_("No."), _("Severity"), _("Problem"), _("How to fix"), _("Fix by")),
        strict=True,
    ):
        cell.text = str(text)
    for number, finding in enumerate(findings, start=1):
        row = table.add_row().cells
        due = today + dt.timedelta(days=FIX_DAYS[finding.severity])
        row[0].text = str(number)
        row[1].text = finding.get_severity_display()
        row[2].text = f"{finding.title}\n{finding.detail}".strip()[:1000]
        row[3].text = finding.recommendation[:1000]
        row[4].text = due.isoformat()
    if not findings:
        doc.add_paragraph(_("No open problems at the time of writing."))
    doc.add_paragraph("")
    doc.add_paragraph(
        _("Responsible person: %(name)s")
        % {"name": str(asset.responsible) if asset.responsible else "________"}
    )
    doc.add_paragraph(_("Signature of the person who fixed it: ________    Date: ________"))
    doc.add_paragraph(
        _("Issued by: %(school)s, %(date)s")
        % {
            "school": school.name if school else "",
            "date": today.isoformat(),
        }
    )
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
