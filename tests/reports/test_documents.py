"""The Word documents: tables read back, charts with every Chinese glyph, a PDF where possible."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.clitools import ARTIFACTS
from tests.reports.conftest import World
from yuqing.core.tenancy import school_scope
from yuqing.reports import charts, services
from yuqing.reports.models import Kind

pytestmark = pytest.mark.django_db


def _tables(data: bytes) -> list[list[list[str]]]:
    from docx import Document

    doc = Document(io.BytesIO(data))
    return [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]


def _bytes(report: Any) -> bytes:
    with report.file.open("rb") as fh:
        return bytes(fh.read())


def _half_year(world: World, school: Any, people: Any) -> Any:
    from yuqing.duty import services as duty

    with school_scope(school):
        group = duty.group_save(
            name="网络意识形态工作领导小组", kind="leadership", established_on=dt.date(2025, 9, 1)
        )
        duty.membership_set(
            group=group, user=people["reviewer"], role="leader", since=dt.date(2025, 9, 1)
        )
        duty.membership_set(
            group=group, user=people["monitor"], role="member", since=dt.date(2025, 9, 1)
        )
        duty.study_session_save(
            held_on=dt.date(2026, 3, 5),
            kind="seminar",
            topic="网络意识形态工作专题研讨",
            organiser=people["reviewer"],
            hours=2,
            attendees=[people["monitor"], people["admin"]],
        )
        duty.study_session_save(
            held_on=dt.date(2026, 7, 5),  # outside the half year
            kind="central_group",
            topic="下半年学习",
            organiser=None,
            hours=1,
        )
        duty.activity_save(
            held_on=dt.date(2026, 2, 24),
            kind="first_lesson",
            topic="开学第一课：网络素养",
            participants=1200,
        )
        return services.report_generate(
            kind=Kind.HALF_YEAR,
            start=dt.date(2026, 1, 1),
            end=dt.date(2026, 6, 30),
            user=people["admin"],
        )


def test_it_reads_back_the_numbers_of_a_daily_report(
    world: World, school: Any, people: Any, media: Any
) -> None:
    day = dt.date(2026, 2, 3)
    with school_scope(school):
        report = services.report_generate(kind=Kind.DAILY, start=day, end=day, user=people["admin"])
    tables = _tables(_bytes(report))
    sources = tables[-1]  # the table of where each number came from closes the document
    got = {row[0]: row[1] for row in sources[1:]}
    for n in report.data["numbers"].values():
        assert got[n["label"]] == str(n["value"])
    assert got[report.data["numbers"]["mentions"]["label"]] == str(len(world.on(day, day)))
    alerts_table = next(t for t in tables if any("预警 2" in cell for row in t for cell in row))
    assert len(alerts_table) == 2  # the header and the one alert of the day


def test_it_fills_the_half_year_report_from_the_records(
    world: World, school: Any, people: Any, media: Any
) -> None:
    report = _half_year(world, school, people)
    n = {k: v["value"] for k, v in report.data["numbers"].items()}
    assert n["study_sessions"] == 1 and n["seminars"] == 1 and n["study_hours"] == 2.0
    assert n["activities"] == 1 and n["activity_participants"] == 1200
    assert n["groups"] == 1
    assert n["mentions"] == len(world.on(dt.date(2026, 1, 1), dt.date(2026, 6, 30)))
    text = "\n".join(
        p.text for p in __import__("docx").Document(io.BytesIO(_bytes(report))).paragraphs
    )
    assert "网络意识形态工作领导小组" in text
    # Every number has its row in the table of where it came from.
    tables = _tables(_bytes(report))
    provenance = tables[-1]
    assert len(provenance) == len(report.data["numbers"]) + 1
    # Prose sections: an empty box for the editor, with the facts beside it.
    assert any("开学第一课" in cell or "1200" in cell for t in tables for row in t for cell in row)


def test_it_draws_chinese_in_charts_without_missing_glyphs(world: World, school: Any) -> None:
    from yuqing.reports import compute

    with school_scope(school):
        data = compute.compute(Kind.MONTHLY, dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = charts.charts_for(data)
        drawn.append(
            ("测试", charts.bars("饮食住宿与收费：负面", [["教育教学", 3], ["校园新闻", 5]]))
        )
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert missing == [], missing
    assert len(drawn) >= 3 and all(png.startswith(b"\x89PNG") for _c, png in drawn)
    assert "CJK" in charts.cjk_font()


def test_it_makes_the_same_document_twice(
    world: World, school: Any, people: Any, media: Any
) -> None:
    day = dt.date(2026, 2, 3)
    with school_scope(school):
        first = services.report_generate(kind=Kind.DAILY, start=day, end=day, user=people["admin"])
        second = services.report_generate(kind=Kind.DAILY, start=day, end=day, user=people["admin"])
    assert (first.version, second.version) == (1, 2)
    assert first.data["numbers"] == second.data["numbers"]


def test_it_uses_the_schools_own_template(
    world: World, school: Any, people: Any, media: Any
) -> None:
    from docx import Document

    doc = Document()
    doc.add_paragraph("{{ school }} 舆情日报 {{ period.label }}")
    doc.add_paragraph("新增信息 {{ n.mentions }} 条，负面 {{ n.negative }} 条。")
    doc.add_paragraph("{% for e in lists.new %}{{ e.title }}；{% endfor %}")
    buf = io.BytesIO()
    doc.save(buf)
    day = dt.date(2026, 2, 3)
    with school_scope(school):
        data = services.template_check(file=io.BytesIO(buf.getvalue()), filename="日报模板.docx")
        services.template_upload(kind=Kind.DAILY, name="本校日报", data=data, user=people["admin"])
        report = services.report_generate(kind=Kind.DAILY, start=day, end=day, user=people["admin"])
    text = "\n".join(p.text for p in Document(io.BytesIO(_bytes(report))).paragraphs)
    assert f"新增信息 {len(world.on(day, day))} 条" in text
    assert school.name in text


def test_it_refuses_a_template_that_is_not_a_word_document(school: Any) -> None:
    from django.core.exceptions import ValidationError
    from django.utils import translation
    from docx import Document

    bad = io.BytesIO()
    d = Document()
    d.add_paragraph("{% for x in %}")
    d.save(bad)
    with translation.override("en"):
        with pytest.raises(ValidationError, match="not a Word document"):
            services.template_check(file=io.BytesIO(b"%PDF-1.4 hello"), filename="x.docx")
        with pytest.raises(ValidationError, match="cannot be filled in"):
            services.template_check(file=bad, filename="bad.docx")


def test_it_renders_the_half_year_report_to_pdf_pages(
    world: World, school: Any, people: Any, media: Any, tmp_path: Path
) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed here: no PDF rendering")
    report = _half_year(world, school, people)
    src = tmp_path / "half-year.docx"
    src.write_bytes(_bytes(report))
    subprocess.run(
        [soffice, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(src)],
        check=True,
        timeout=180,
        capture_output=True,
    )
    pdf = tmp_path / "half-year.pdf"
    assert pdf.exists() and pdf.stat().st_size > 1000
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / "reports-half-year.pdf")
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", str(pdf), str(ARTIFACTS / "reports-half-year-page")],
            check=True,
            timeout=120,
        )
