"""Vendor exports: CSV (GBK, BOM) and XLSX, column mapping, row errors, limits."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from yuqing.monitor.collect.imports import (
    ImportFileError,
    apply_mapping,
    read_table,
    suggest_mapping,
)
from yuqing.monitor.collect.types import SHANGHAI


def test_it_reads_a_gbk_csv_with_a_title_row_above_the_header(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    table = read_table(fixture_bytes("vendor_gbk.csv"), filename="export.csv")
    assert table.encoding == "gb18030"
    assert table.headers == ["标题", "正文", "原文链接", "作者", "发布时间", "来源", "情感倾向"]
    assert table.row_numbers[0] == 3  # spreadsheet row numbers, for the error report


def test_it_suggests_the_mapping_from_vendor_column_names() -> None:
    mapping = suggest_mapping(
        [
            "序号",
            "标题",
            "内容摘要",
            "原文链接",
            "发布者",
            "发布时间",
            "媒体名称",
            "情感属性",
            "平台",
        ]
    )
    assert mapping == {
        "title": "标题",
        "text": "内容摘要",
        "url": "原文链接",
        "author": "发布者",
        "published_at": "发布时间",
        "site": "媒体名称",
        "sentiment": "情感属性",
        "platform": "平台",
    }
    both = suggest_mapping(["正文", "摘要", "URL", "时间"])
    assert both["text"] == "正文" and both["url"] == "URL" and both["published_at"] == "时间"


def test_it_applies_the_mapping_and_reports_bad_rows_by_number(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    table = read_table(fixture_bytes("vendor_gbk.csv"))
    result = apply_mapping(table, suggest_mapping(table.headers))
    first, second = result.items
    assert first.title == "育才中学运动会" and first.author == "王小明"
    assert first.guid == "http://news.example.cn/a/1.html"  # canonical: share_from dropped
    assert first.published_at == datetime(2024, 3, 5, 10, 30, tzinfo=SHANGHAI)
    assert first.extras == {"site": "滨江日报", "vendor_sentiment": "正面", "sentiment": "positive"}
    assert (
        second.url == "http://news.example.cn/a/2.html" and second.extras["sentiment"] == "negative"
    )
    assert result.skipped_empty == 1
    assert [(e.row, e.message.split(":")[0]) for e in result.errors] == [
        (6, "link is not a web address"),
        (7, "date not understood"),
    ]


def test_reimporting_the_same_file_gives_the_same_guids(
    fixture_bytes: Callable[[str], bytes],
) -> None:
    def guids() -> list[str]:
        table = read_table(fixture_bytes("vendor_gbk.csv"))
        return [i.guid for i in apply_mapping(table, suggest_mapping(table.headers)).items]

    assert guids() == guids()


def test_it_reads_utf8_bom_and_tab_separated_files() -> None:
    data = "\ufeff标题\t内容\t链接\n通知\t明天停课\thttp://a.cn/1\n".encode()
    table = read_table(data)
    assert table.headers == ["标题", "内容", "链接"] and table.rows == [
        ["通知", "明天停课", "http://a.cn/1"]
    ]


def test_it_reads_xlsx_with_dates_and_hyperlink_formulas(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["舆情导出报告"])
    sheet.append(["标题", "正文", "链接", "发布时间", "情感"])
    sheet.append(
        [
            "育才中学",
            "正文一",
            '=HYPERLINK("http://news.example.cn/x/1.html","查看原文")',
            datetime(2024, 3, 5, 8, 0),
            "中性",
        ]
    )
    sheet.append(
        ["第二条", "正文二", "http://news.example.cn/x/2.html", "2024-03-06 10:00", "负面"]
    )
    path = tmp_path / "export.xlsx"
    book.save(path)
    table = read_table(path)
    assert table.headers == ["标题", "正文", "链接", "发布时间", "情感"]
    result = apply_mapping(table, suggest_mapping(table.headers))
    assert result.errors == []
    assert result.items[0].url == "http://news.example.cn/x/1.html"
    assert result.items[0].published_at == datetime(2024, 3, 5, 8, 0, tzinfo=SHANGHAI)
    assert table.row_numbers == [3, 4]


def test_it_enforces_limits_and_refuses_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError):
        read_table(b"x" * 2000, max_bytes=1000)
    with pytest.raises(ImportFileError):
        read_table(b"")
    with pytest.raises(ImportFileError):
        read_table(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportFileError):
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    many = "标题,内容\n" + "".join(f"t{i},c{i}\n" for i in range(100))
    table = read_table(many.encode(), max_rows=10)
    assert len(table.rows) == 10 and table.truncated


def test_it_refuses_a_zip_bomb_before_unpacking(monkeypatch: pytest.MonkeyPatch) -> None:
    from yuqing.monitor.collect import imports

    monkeypatch.setattr(imports, "MAX_UNZIPPED_BYTES", 1_000_000)  # small, to keep the test fast
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * 2_000_000)
    assert len(buffer.getvalue()) < 10_000
    with pytest.raises(ImportFileError, match="unpacks to more than"):
        read_table(buffer.getvalue())
