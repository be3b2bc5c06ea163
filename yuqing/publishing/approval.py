"""The approval form (信息发布审批表) as DOCX and PDF, for the paper archive.

DOCX with python-docx (what offices edit and print). PDF with fpdf2 and the Noto Sans CJK font
from fonts-noto-cjk when both are present; otherwise only the DOCX is offered (LibreOffice is
not on a school's small server as a rule, and no PDF is better than a PDF of empty boxes).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.publishing.models import CheckRun, Draft, Review, Signature

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
CJK_FONT_INDEX = 2  # Simplified Chinese face in the collection


@dataclass(frozen=True)
class FormData:
    school: str
    title: str
    channels: str
    author: str
    department: str
    revision: int
    content_hash: str
    text: str
    checks: str
    signers: list[tuple[str, str, str, str, str]]  # step, name, time, from, method
    attachments: list[tuple[str, str]]
    generated: str


def form_data(draft: Draft) -> FormData:
    revision = draft.current_revision
    assert revision is not None
    review = (
        Review.objects.filter(draft=draft, step_states__revision=revision)
        .order_by("-id")
        .distinct()
        .first()
    )
    sigs = (
        Signature.objects.filter(step_state__review=review, revision=revision)
        .select_related("step_state__step")
        .order_by("signed_at")
        if review
        else Signature.objects.none()
    )
    run = CheckRun.objects.filter(revision=revision).first()
    if run is None:
        checks = _("Not checked")
    elif not run.findings:
        checks = _("No findings")
    else:
        checks = _("%(total)s findings, %(block)s blocking, %(open)s unresolved") % {
            "total": len(run.findings),
            "block": run.blocking,
            "open": run.unresolved,
        }
    return FormData(
        school=str(draft.school),
        title=revision.title,
        channels="、".join(draft.channel_labels()),
        author=str(draft.author),
        department=str(draft.department or ""),
        revision=revision.number,
        content_hash=revision.content_hash,
        text=revision.text,
        checks=checks,
        signers=[
            (
                s.step_state.step.name,
                s.signer_name,
                timezone.localtime(s.signed_at).strftime("%Y-%m-%d %H:%M:%S"),
                s.ip,
                _("password") if s.method == "password" else _("authenticator code"),
            )
            for s in sigs
        ],
        attachments=[(a.name, a.sha256) for a in draft.attachment_set.all()],
        generated=timezone.localtime().strftime("%Y-%m-%d %H:%M"),
    )


def render_docx(data: FormData) -> bytes:
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = docx.Document()
    style = document.styles["Normal"]
    style.font.name = "SimSun"  # type: ignore[attr-defined]
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")  # type: ignore[attr-defined]
    style.font.size = Pt(11)  # type: ignore[attr-defined]
    heading = document.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run(_("Approval form for publication") + "（信息发布审批表）")
    run.bold = True
    run.font.size = Pt(16)
    document.add_paragraph(data.school).alignment = WD_ALIGN_PARAGRAPH.CENTER
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in (
        (_("Title"), data.title),
        (_("Channels"), data.channels),
        (_("Author"), data.author),
        (_("Department"), data.department),
        (_("Revision"), str(data.revision)),
        (_("Content hash (SHA-256)"), data.content_hash),
        (_("Automatic checks"), data.checks),
    ):
        cells = table.add_row().cells
        cells[0].text = label
        cells[1].text = value
    document.add_paragraph()
    document.add_paragraph(_("Text")).runs[0].bold = True
    for line in data.text.splitlines() or [""]:
        document.add_paragraph(line)
    if data.attachments:
        document.add_paragraph(_("Attachments")).runs[0].bold = True
        for name, sha in data.attachments:
            document.add_paragraph(f"{name}  SHA-256 {sha}")
    document.add_paragraph(_("Sign-off")).runs[0].bold = True
    signers = document.add_table(rows=1, cols=5)
    signers.style = "Table Grid"
    for cell, label in zip(
        signers.rows[0].cells,
        (_("Step"), _("Signed by"), _("Time"), _("From"), _("Confirmed with")),
        strict=True,
    ):
        cell.text = label
    for row in data.signers:
        for cell, value in zip(signers.add_row().cells, row, strict=True):
            cell.text = value
    document.add_paragraph()
    document.add_paragraph(
        _(
            "Generated %(when)s. Each signature is an Ed25519 signature over the content hash; `yuqing publishing verify` checks them."
        )
        % {"when": data.generated}
    )
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_available() -> bool:
    try:
        import fpdf  # noqa: F401  (optional: fpdf2)
    except ImportError:
        return False
    return CJK_FONT.exists()


def render_pdf(data: FormData) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.add_font("cjk", "", str(CJK_FONT), collection_font_number=CJK_FONT_INDEX)
    # Table headings are bold; without the bold face the regular one stands in.
    bold = CJK_BOLD if CJK_BOLD.exists() else CJK_FONT
    pdf.add_font("cjk", "B", str(bold), collection_font_number=CJK_FONT_INDEX)
    pdf.set_font("cjk", size=16)
    width = pdf.epw
    pdf.cell(width, 10, "信息发布审批表", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.cell(width, 7, data.school, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    rows = [
        (_("Title"), data.title),
        (_("Channels"), data.channels),
        (_("Author"), data.author),
        (_("Department"), data.department or "—"),
        (_("Revision"), str(data.revision)),
        (_("Content hash (SHA-256)"), data.content_hash),
        (_("Automatic checks"), data.checks),
    ]
    with pdf.table(
        col_widths=(35, 145), text_align="LEFT", line_height=6, first_row_as_headings=False
    ) as table:
        for label, value in rows:
            row = table.row()
            row.cell(label)
            row.cell(value)
    pdf.ln(4)
    pdf.set_font("cjk", size=11)
    pdf.cell(width, 7, _("Text"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.multi_cell(width, 6, data.text or "—", new_x="LMARGIN", new_y="NEXT")
    if data.attachments:
        pdf.ln(2)
        pdf.set_font("cjk", size=11)
        pdf.cell(width, 7, _("Attachments"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=8)
        for name, sha in data.attachments:
            pdf.multi_cell(width, 5, f"{name}  SHA-256 {sha}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("cjk", size=11)
    pdf.cell(width, 7, _("Sign-off"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    with pdf.table(col_widths=(45, 30, 40, 30, 35), text_align="LEFT", line_height=6) as table:
        head = table.row()
        for label in (_("Step"), _("Signed by"), _("Time"), _("From"), _("Confirmed with")):
            head.cell(label)
        for values in data.signers:
            row = table.row()
            for value in values:
                row.cell(value or "—")
    pdf.ln(4)
    pdf.set_font("cjk", size=8)
    pdf.multi_cell(
        width,
        5,
        _(
            "Generated %(when)s. Each signature is an Ed25519 signature over the content hash; `yuqing publishing verify` checks them."
        )
        % {"when": data.generated},
    )
    return bytes(pdf.output())
