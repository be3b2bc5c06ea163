"""Word documents of the reports: the built-in layout (python-docx) or the school's template
(docxtpl). Both are filled from the same report data, so the numbers are those on the page.

Documents must open on an office PC with no special fonts: text uses the East Asian font slot
(宋体 / 黑体 for headings), which Word and WPS map to what the machine has.
"""

from __future__ import annotations

import io
from typing import Any

from django.utils.translation import gettext as _

BODY_FONT = "宋体"
HEAD_FONT = "黑体"


def _set_font(run_or_style: Any, name: str, size: float | None = None, bold: bool = False) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    font = run_or_style.font
    font.name = name
    if size:
        font.size = Pt(size)
    if bold:
        font.bold = True
    element = run_or_style.element if hasattr(run_or_style, "element") else run_or_style._element
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _new_document() -> Any:
    from docx import Document

    doc = Document()
    _set_font(doc.styles["Normal"], BODY_FONT, 12)
    for level, size in ((0, 20), (1, 15), (2, 13)):
        style = doc.styles["Title" if level == 0 else f"Heading {level}"]
        _set_font(style, HEAD_FONT, size, bold=True)
    return doc


def _table(doc: Any, headers: list[str], rows: list[list[Any]]) -> None:
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = str(text)
        for p in cell.paragraphs:
            for r in p.runs:
                r.bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=False):
            cell.text = "" if value is None else str(value)
    doc.add_paragraph()


def _numbers_table(doc: Any, data: dict[str, Any], keys: list[str] | None = None) -> None:
    numbers = data.get("numbers") or {}
    keys = [k for k in (keys or list(numbers)) if k in numbers]
    trends = data.get("trends") or {}
    if trends:
        rows = []
        for k in keys:
            t = trends.get(k) or {}
            pct = t.get("pct")
            rows.append(
                [
                    numbers[k]["label"],
                    numbers[k]["value"],
                    t.get("before", ""),
                    ""
                    if not t
                    else (f"{t['change']:+}" + (f"（{pct:+}%）" if pct is not None else "")),
                ]
            )
        _table(
            doc,
            [_("Figure"), _("This period"), _("Previous period"), _("Change from before")],
            rows,
        )
    else:
        _table(
            doc,
            [_("Figure"), _("Value")],
            [[numbers[k]["label"], numbers[k]["value"]] for k in keys],
        )


def _sources_table(doc: Any, data: dict[str, Any]) -> None:
    doc.add_heading(_("Where each number came from"), level=1)
    _table(
        doc,
        [_("Figure"), _("Value"), _("Records counted")],
        [[v["label"], v["value"], v["source"]] for v in (data.get("numbers") or {}).values()],
    )
    for note in data.get("notes") or []:
        doc.add_paragraph(note)


def _charts(doc: Any, charts: list[tuple[str, bytes]]) -> None:
    from docx.shared import Cm

    for caption, png in charts:
        doc.add_picture(io.BytesIO(png), width=Cm(15))
        doc.add_paragraph(caption).alignment = 1


def _editor_box(doc: Any, title: str, facts: list[str], text: str = "") -> None:
    """A prose section for the editor, with the facts it should draw on listed beside it."""
    doc.add_heading(title, level=2)
    table = doc.add_table(rows=1, cols=2)
    table.style = "Table Grid"
    left, right = table.rows[0].cells
    left.text = text or _("[To be written by the office.]")
    right.text = _("Facts from the records:") + "\n" + "\n".join(f"· {f}" for f in facts if f)
    doc.add_paragraph()


def _events_list(doc: Any, title: str, rows: list[dict[str, Any]]) -> None:
    doc.add_heading(title, level=2)
    if not rows:
        doc.add_paragraph(_("None."))
        return
    _table(
        doc,
        [_("Event"), _("First seen"), _("Mentions in period"), _("Peak risk"), _("Summary")],
        [[e["title"], e["first"], e["mentions"], e["risk"], e["summary"]] for e in rows],
    )


def _alerts_list(doc: Any, rows: list[dict[str, Any]]) -> None:
    doc.add_heading(_("Alerts and how they were handled"), level=2)
    if not rows:
        doc.add_paragraph(_("No alerts were raised."))
        return
    _table(
        doc,
        [_("Level"), _("Alert"), _("Raised"), _("Handling"), _("Minutes to acknowledge")],
        [
            [a["level"], a["title"], a["raised"], a["handling"], a["minutes_to_ack"] or ""]
            for a in rows
        ],
    )


def _cases_list(doc: Any, rows: list[dict[str, Any]] | None) -> None:
    doc.add_heading(_("Open cases and deadlines"), level=2)
    if rows is None:
        doc.add_paragraph(_("Cases are not counted: the cases module is not installed yet."))
    elif not rows:
        doc.add_paragraph(_("No case is open."))
    else:
        _table(
            doc,
            [_("Number"), _("Case"), _("Status"), _("Close by")],
            [[c["number"], c["title"], c["status"], c["due"]] for c in rows],
        )


def build_default(
    *,
    data: dict[str, Any],
    title: str,
    school: str,
    next_steps: str,
    charts: list[tuple[str, bytes]],
) -> bytes:
    doc = _new_document()
    doc.add_heading(title, level=0)
    doc.add_paragraph(f"{school}    {data['period']['start']} – {data['period']['end']}")
    kind = data["kind"]
    lists = data.get("lists") or {}
    tables = data.get("tables") or {}
    if kind == "half_year":
        _half_year(doc, data, charts)
    else:
        doc.add_heading(_("Overview"), level=1)
        _numbers_table(doc, data)
        _charts(doc, charts)
        doc.add_heading(_("Topics and sources"), level=1)
        _table(doc, [_("Topic"), _("Mentions")], tables.get("topics", []))
        if tables.get("topic_trend"):
            _table(
                doc,
                [_("Topic"), _("This period"), _("Previous period"), _("Change from before")],
                tables["topic_trend"],
            )
        _table(doc, [_("Source"), _("Mentions")], tables.get("sources", []))
        doc.add_heading(_("Events"), level=1)
        _events_list(doc, _("New events"), lists.get("new", []))
        _events_list(doc, _("Continuing events that grew"), lists.get("growing", []))
        _alerts_list(doc, lists.get("alerts", []))
        _cases_list(doc, lists.get("cases"))
        doc.add_heading(_("Next steps"), level=1)
        doc.add_paragraph(next_steps or _("[To be written by the office.]"))
    _sources_table(doc, data)
    buf = io.BytesIO()
    doc.core_properties.title = title
    doc.save(buf)
    return buf.getvalue()


def _half_year(doc: Any, data: dict[str, Any], charts: list[tuple[str, bytes]]) -> None:
    facts = data.get("facts") or {}
    tables = data.get("tables") or {}
    lists = data.get("lists") or {}
    doc.add_heading(_("1. How the responsibility system was carried out"), level=1)
    doc.add_heading(_("Organisation"), level=2)
    for g in lists.get("groups", []):
        doc.add_paragraph(f"{g['name']}（{g['kind']}）：" + "；".join(g["members"]))
    _editor_box(doc, _("Organisation: narrative"), facts.get("organisation", []))
    doc.add_heading(_("Study sessions"), level=2)
    _table(doc, [_("Type"), _("Count"), _("Hours")], tables.get("study", []))
    _table(doc, [_("Training for"), _("Count"), _("Hours")], tables.get("trainings", []))
    _editor_box(doc, _("Study: narrative"), facts.get("study", []))
    doc.add_heading(_("Network security work"), level=2)
    _numbers_table(doc, data, ["checks", "findings_new", "findings_fixed"])
    _editor_box(doc, _("Network security: narrative"), facts.get("security", []))
    doc.add_heading(_("Public-opinion monitoring and handling"), level=2)
    _numbers_table(
        doc,
        data,
        [
            "mentions",
            "negative",
            "risky",
            "events_new",
            "alerts",
            "alerts_handled",
            "special_days",
            "daily_reports",
        ],
    )
    _charts(doc, charts)
    _editor_box(doc, _("Monitoring: narrative"), facts.get("monitoring", []))
    doc.add_heading(_("Education work"), level=2)
    _table(doc, [_("Type"), _("Count"), _("Participants")], tables.get("activities", []))
    _editor_box(doc, _("Education: narrative"), facts.get("education", []))
    doc.add_heading(_("2. Incidents handled and problems"), level=1)
    _events_list(doc, _("Events of the period"), lists.get("new", []))
    _alerts_list(doc, lists.get("alerts", []))
    _cases_list(doc, lists.get("cases"))
    _editor_box(doc, _("Incidents: narrative"), facts.get("incidents", []))
    _editor_box(doc, _("Problems"), facts.get("problems", []))
    doc.add_heading(_("3. Analysis and plans"), level=1)
    trend_facts = []
    for key, t in (data.get("trends") or {}).items():
        if t:
            label = data["numbers"][key]["label"]
            trend_facts.append(
                _("%(label)s: %(now)s, previous half year %(before)s")
                % {"label": label, "now": data["numbers"][key]["value"], "before": t["before"]}
            )
    _editor_box(doc, _("Analysis"), trend_facts)
    _editor_box(doc, _("Plans for the next half year"), [])


# --------------------------------------------------------------------------- school templates


def template_context(
    *, data: dict[str, Any], title: str, school: str, next_steps: str
) -> dict[str, Any]:
    """What a school's template may use: ``{{ n.mentions }}``, ``{% for e in lists.new %}``…"""
    return {
        "title": title,
        "school": school,
        "period": data["period"],
        "n": {k: v["value"] for k, v in (data.get("numbers") or {}).items()},
        "numbers": list((data.get("numbers") or {}).values()),
        "tables": data.get("tables") or {},
        "lists": data.get("lists") or {},
        "facts": data.get("facts") or {},
        "trends": data.get("trends") or {},
        "notes": data.get("notes") or [],
        "next_steps": next_steps,
    }


def build_from_template(
    *,
    template_bytes: bytes,
    data: dict[str, Any],
    title: str,
    school: str,
    next_steps: str,
    charts: list[tuple[str, bytes]],
) -> bytes:
    from docx.shared import Cm
    from docxtpl import DocxTemplate, InlineImage

    tpl = DocxTemplate(io.BytesIO(template_bytes))
    context = template_context(data=data, title=title, school=school, next_steps=next_steps)
    context["charts"] = [
        {"caption": caption, "image": InlineImage(tpl, io.BytesIO(png), width=Cm(15))}
        for caption, png in charts
    ]
    tpl.render(context, autoescape=True)
    buf = io.BytesIO()
    tpl.save(buf)
    return buf.getvalue()
