"""Text out of every supported file type, and hostile files refused with a reason."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from yuqing.text.proofread import (
    ExtractedDocument,
    Limits,
    UnreadableDocument,
    extract_text,
    proofread,
)

from .helpers import luhn, make_docx, make_pdf, resident_id, zip_bomb_docx

FIXTURES = Path(__file__).with_name("fixtures")
ID = resident_id("33010620050101123")
CARD = luhn("621700001234567890")


def test_it_reads_plain_text_and_markdown_with_offsets_into_the_file() -> None:
    doc = extract_text(f"# 通知\r\n\r\n身份证 {ID}\n".encode(), "notice.md")
    assert doc.text == f"# 通知\n\n身份证 {ID}\n"
    assert doc.line_starts == (0, 5, 6, 6 + len(f"身份证 {ID}\n"))
    [finding] = proofread(doc.text)
    assert doc.position(finding.start) == (3, 5)


def test_it_decodes_gbk_text_files() -> None:
    doc = extract_text("育才中学家长会通知：请准时参加。".encode("gbk"), "notice.txt")
    assert doc.text == "育才中学家长会通知：请准时参加。"


def test_it_reads_word_paragraphs_tables_and_hyperlink_addresses() -> None:
    data = make_docx(
        ["关于期中考试成绩的通报", "请再接再励。"], table=[["姓名", "名次"], ["张三", "第1名"]]
    )
    doc = extract_text(data, "成绩.docx")
    assert doc.text.splitlines() == [
        "关于期中考试成绩的通报",
        "请再接再励。",
        "姓名\t名次",
        "张三\t第1名",
    ]
    kinds = {f.kind for f in proofread(doc.text)}
    assert kinds == {"typo", "pii.student_score"}


def test_it_reads_every_sheet_of_a_workbook_keeping_long_numbers_whole() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "名单"
    sheet.append(["姓名", "身份证号", "卡号", "电话"])
    # Long numbers are typed as text (Excel keeps 15 digits of a number); a phone number
    # typed as a number must come back without a ".0".
    sheet.append(["王某", ID, CARD, 13812345678.0])
    workbook.create_sheet("空表")
    buffer = io.BytesIO()
    workbook.save(buffer)
    doc = extract_text(buffer.getvalue(), "名单.xlsx")
    assert doc.text.splitlines()[:3] == [
        "[名单]",
        "姓名\t身份证号\t卡号\t电话",
        f"王某\t{ID}\t{CARD}\t13812345678",
    ]
    assert {f.kind for f in proofread(doc.text)} == {"pii.id_number", "pii.bank_card", "pii.mobile"}


def test_it_reads_the_text_layer_of_a_pdf() -> None:
    doc = extract_text(make_pdf(["关于期末考试的通知", f"学生身份证号 {ID}"]), "通知.pdf")
    assert doc.text.splitlines() == ["关于期末考试的通知", f"学生身份证号 {ID}"]
    assert [f.kind for f in proofread(doc.text)] == ["pii.id_number"]


def test_it_takes_no_script_style_or_hidden_markup_from_html() -> None:
    doc = extract_text((FIXTURES / "malicious.html").read_bytes(), "page.html")
    for absent in (
        "alert",
        "13812345678",
        "13912345678",
        "限时",
        "冲刺班",
        "再接再励",
        "按装",
        "优惠券",
        "steal",
    ):
        assert absent not in doc.text
    assert "期末考试将于下周一开始" in doc.text
    assert "点击查看考场安排 (https://www.school.example.cn/exam)" in doc.text
    assert "张三\t第1名" in doc.text


def test_it_refuses_a_zip_bomb_without_inflating_it() -> None:
    with pytest.raises(UnreadableDocument, match="zip bomb"):
        extract_text(zip_bomb_docx(), "bomb.docx")


def test_it_refuses_a_file_over_the_size_limit() -> None:
    with pytest.raises(UnreadableDocument, match="too large"):
        extract_text(b"x" * 2048, "big.txt", limits=Limits(max_bytes=1024))


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"not a zip", "a.docx", "not a Word document"),
        (b"PK\x03\x04garbage", "a.xlsx", "damaged Excel"),
        (b"%PDF-1.4\ngarbage", "a.pdf", "damaged PDF"),
        (b"<html>", "a.pdf", "not a PDF"),
        (b"\x00\x01\x02\x00", "a.txt", "binary"),
        (b"abc", "a.doc", "save it as .docx"),
        (b"abc", "a.exe", "unsupported"),
    ],
)
def test_it_explains_an_unreadable_file_in_one_line(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(UnreadableDocument, match=reason) as caught:
        extract_text(data, name)
    assert "\n" not in str(caught.value)


def test_it_explains_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDocument, match="no such file"):
        extract_text(tmp_path / "missing.docx")


def test_it_maps_offsets_to_lines_and_columns() -> None:
    doc = ExtractedDocument.of("ab\ncd\n\nef")
    assert [doc.position(i) for i in (0, 1, 3, 6, 7, 8)] == [
        (1, 1),
        (1, 2),
        (2, 1),
        (3, 1),
        (4, 1),
        (4, 2),
    ]
