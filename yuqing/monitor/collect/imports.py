"""CSV and XLSX exports from commercial monitoring vendors and the bureau's notices.

``read_table`` gives headers and rows (with their spreadsheet row numbers), ``suggest_mapping``
guesses which column is which from the Chinese names vendors use, and ``apply_mapping`` turns
rows into items with a per-row error report. Items get a guid from their URL or their content,
so re-importing the same file yields the same guids and adds nothing twice.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import IO, Any

from yuqing.lib.http import decode_body
from yuqing.lib.urls import canonical_url, is_http_url

from .types import SHANGHAI, Item, html_to_text, parse_datetime, stable_guid

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # an XLSX is a zip: refuse zip bombs before reading
MAX_ROWS = 50_000
MAX_COLUMNS = 100
MAX_CELL_CHARS = 100_000
HEADER_SCAN_ROWS = 10


class ImportFileError(ValueError):
    """The file cannot be imported at all (too big, wrong format, unreadable)."""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str | Any]]
    row_numbers: list[int]  # the spreadsheet row number of each row, for error reports
    encoding: str = ""
    truncated: bool = False
    sheet: str = ""


@dataclass
class RowError:
    row: int
    message: str


@dataclass
class ImportResult:
    items: list[Item] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    skipped_empty: int = 0


# --------------------------------------------------------------------------- reading


def read_table(
    file: str | Path | bytes | IO[bytes],
    *,
    filename: str = "",
    max_bytes: int = MAX_FILE_BYTES,
    max_rows: int = MAX_ROWS,
) -> Table:
    """Read a CSV or XLSX (detected from content, not the name) into a ``Table``."""
    data = _read_bytes(file, max_bytes)
    if not data.strip():
        raise ImportFileError("the file is empty")
    if data[:4] == b"PK\x03\x04":
        raw_rows, sheet = _xlsx_rows(data, max_rows)
        table = _with_header(raw_rows, max_rows)
        table.sheet = sheet
        return table
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError("old .xls format: save it as .xlsx or .csv and upload again")
    name = filename or (str(file) if isinstance(file, str | Path) else "")
    if name.lower().endswith((".xlsx", ".xlsm")):
        raise ImportFileError("the file is named .xlsx but is not an Excel workbook")
    return _csv_table(data, max_rows)


def _read_bytes(file: str | Path | bytes | IO[bytes], max_bytes: int) -> bytes:
    if isinstance(file, bytes):
        data = file
    elif isinstance(file, str | Path):
        path = Path(file)
        if path.stat().st_size > max_bytes:
            raise ImportFileError(f"file is larger than {max_bytes // (1024 * 1024)} MB")
        data = path.read_bytes()
    else:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImportFileError(f"file is larger than {max_bytes // (1024 * 1024)} MB")
    return data


def _xlsx_rows(data: bytes, max_rows: int) -> tuple[list[tuple[int, list[Any]]], str]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ImportFileError(f"not a readable XLSX file: {exc}") from exc
    if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED_BYTES:
        raise ImportFileError(
            f"the workbook unpacks to more than {MAX_UNZIPPED_BYTES // (1024 * 1024)} MB"
        )
    from yuqing.lib.uploads import UploadRejected, check_office_package

    try:  # the inflation ratio of one part and XML entity declarations
        check_office_package(data, name="XLSX")
    except UploadRejected as exc:
        raise ImportFileError(exc.message) from None
    import openpyxl  # heavy import, only for uploads

    try:
        # read_only streams rows; data_only=False keeps =HYPERLINK("url", "text") formulas,
        # which is where several vendors put the article link.
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds on damaged files
        raise ImportFileError(f"not a readable XLSX file: {type(exc).__name__}: {exc}") from exc
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise ImportFileError("the workbook has no sheets")
        rows: list[tuple[int, list[Any]]] = []
        for number, values in enumerate(
            sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1
        ):
            rows.append((number, [_cell(v) for v in values]))
            if len(rows) > max_rows + HEADER_SCAN_ROWS:
                break
        return rows, sheet.title
    finally:
        book.close()


_HYPERLINK = re.compile(r'^=\s*HYPERLINK\(\s*"([^"]+)"(?:\s*[,;]\s*"([^"]*)")?', re.I)


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        match = _HYPERLINK.match(value)
        if match:
            return match.group(1)
        return value[:MAX_CELL_CHARS]
    return value


def _csv_table(data: bytes, max_rows: int) -> Table:
    # Excel's "CSV UTF-8" has a BOM, plain "CSV" from a Chinese Excel is GBK; decode_body
    # tries the BOM, UTF-8, then detection (GBK → gb18030).
    decoded = decode_body(data, None)
    text = decoded.text.lstrip("\ufeff")
    sample = text[:20_000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows: list[tuple[int, list[Any]]] = []
    try:
        for number, values in enumerate(reader, start=1):
            rows.append((number, [v[:MAX_CELL_CHARS] for v in values[:MAX_COLUMNS]]))
            if len(rows) > max_rows + HEADER_SCAN_ROWS:
                break
    except csv.Error as exc:
        raise ImportFileError(f"CSV could not be read at line {reader.line_num}: {exc}") from exc
    table = _with_header(rows, max_rows)
    table.encoding = decoded.encoding
    return table


def _with_header(rows: list[tuple[int, list[Any]]], max_rows: int) -> Table:
    """Pick the header row: vendors put a report title and export time above it."""
    candidates = [
        (i, r) for i, r in enumerate(rows[:HEADER_SCAN_ROWS]) if sum(1 for v in r[1] if _s(v)) >= 2
    ]
    if not candidates:
        raise ImportFileError("no header row found (need at least two named columns)")
    best_index, (_, header_values) = max(
        candidates, key=lambda c: (len(suggest_mapping([_s(v) for v in c[1][1]])), -c[0])
    )
    # Spreadsheets report trailing blank columns: the header's last named cell sets the width.
    width = max(n for n, v in enumerate(header_values) if _s(v)) + 1
    headers = [_s(v) or f"列{n + 1}" for n, v in enumerate(header_values[:width])]
    body = [(n, r[:width]) for n, r in rows[best_index + 1 :]]
    truncated = len(body) > max_rows
    body = body[:max_rows]
    return Table(
        headers=headers,
        rows=[r for _, r in body],
        row_numbers=[n for n, _ in body],
        truncated=truncated,
    )


def _s(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# --------------------------------------------------------------------------- mapping

FIELDS = ("title", "text", "url", "author", "published_at", "site", "sentiment", "platform")

# Exact names first (after normalising), then substrings; order is priority within a field.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "title": ("标题", "文章标题", "新闻标题", "信息标题", "主题", "title", "headline"),
    "text": (
        "正文",
        "内容",
        "全文",
        "文章内容",
        "信息内容",
        "正文内容",
        "摘要",
        "内容摘要",
        "简介",
        "content",
        "text",
        "summary",
        "body",
    ),
    "url": ("原文链接", "链接", "url", "网址", "原文地址", "文章链接", "地址", "link", "href"),
    "author": (
        "作者",
        "发布者",
        "发布人",
        "博主",
        "用户名",
        "昵称",
        "账号",
        "author",
        "user",
        "screen_name",
    ),
    "published_at": (
        "发布时间",
        "时间",
        "发布日期",
        "日期",
        "发文时间",
        "发表时间",
        "publish_time",
        "published",
        "pubdate",
        "date",
        "time",
    ),
    "site": (
        "来源",
        "站点",
        "媒体",
        "网站",
        "媒体名称",
        "来源网站",
        "信息来源",
        "source",
        "site",
        "media",
    ),
    "sentiment": (
        "情感",
        "倾向",
        "情感倾向",
        "情感属性",
        "正负面",
        "调性",
        "sentiment",
        "polarity",
    ),
    "platform": ("平台", "渠道", "媒体类型", "来源类型", "platform", "channel"),
}
_NORMALISE = re.compile(r"[\s:：()（）\[\]【】_*#\-]+")


def _norm(header: str) -> str:
    return _NORMALISE.sub("", header).lower()


def suggest_mapping(headers: Sequence[str]) -> dict[str, str]:
    """Field → header name for the columns we recognise; each header is used once."""
    normalised = [(_norm(h), h) for h in headers]
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for exact in (True, False):
        for field_name in FIELDS:
            if field_name in mapping:
                continue
            for synonym in _SYNONYMS[field_name]:
                hit = next(
                    (
                        original
                        for norm, original in normalised
                        if original not in used
                        and norm
                        and (norm == synonym if exact else synonym in norm)
                    ),
                    None,
                )
                if hit is not None:
                    mapping[field_name] = hit
                    used.add(hit)
                    break
    return mapping


_SENTIMENT = {
    "正面": "positive", "积极": "positive", "正向": "positive", "positive": "positive", "1": "positive",
    "负面": "negative", "消极": "negative", "负向": "negative", "敏感": "negative", "negative": "negative", "-1": "negative",
    "中性": "neutral", "中立": "neutral", "非敏感": "neutral", "neutral": "neutral", "0": "neutral",
}  # fmt: skip


def apply_mapping(
    table: Table | Iterable[Sequence[Any]],
    mapping: Mapping[str, str],
    *,
    headers: Sequence[str] | None = None,
    default_tz: tzinfo = SHANGHAI,
    now: datetime | None = None,
    first_row_number: int = 2,
) -> ImportResult:
    """Rows → items. A row without title and text, or with a bad URL or date, is reported."""
    if isinstance(table, Table):
        headers, rows, numbers = table.headers, table.rows, table.row_numbers
    else:
        rows = [list(r) for r in table]
        numbers = list(range(first_row_number, first_row_number + len(rows)))
    if headers is None:
        raise ValueError("headers are required when rows are given without a Table")
    index = {h: i for i, h in enumerate(headers)}
    unknown = [h for h in mapping.values() if h not in index]
    if unknown:
        raise ImportFileError(f"mapped column(s) not in the file: {', '.join(unknown)}")
    result = ImportResult()
    for number, row in zip(numbers, rows, strict=True):
        values = {f: (row[index[h]] if index[h] < len(row) else None) for f, h in mapping.items()}
        if not any(_s(v) for v in row):
            result.skipped_empty += 1
            continue
        try:
            result.items.append(_row_item(values, default_tz, now))
        except ValueError as exc:
            result.errors.append(RowError(number, str(exc)))
    return result


def _row_item(values: Mapping[str, Any], tz: tzinfo, now: datetime | None) -> Item:
    title = html_to_text(_s(values.get("title")))
    text = html_to_text(_s(values.get("text")))
    if not title and not text:
        raise ValueError("no title and no text")
    url = _s(values.get("url"))
    if url and not url.lower().startswith(("http://", "https://")) and "." in url.split("/")[0]:
        url = "http://" + url  # vendors sometimes export links without the scheme
    if url and not is_http_url(url):
        raise ValueError(f"link is not a web address: {url[:80]}")
    raw_date = values.get("published_at")
    published = None
    if (
        isinstance(raw_date, int | float)
        and not isinstance(raw_date, bool)
        and 20000 < raw_date < 80000
    ):
        from datetime import timedelta

        # An Excel serial date that lost its cell format (days since 1899-12-30).
        published = parse_datetime(
            datetime(1899, 12, 30) + timedelta(days=float(raw_date)), default_tz=tz, now=now
        )
    elif _s(raw_date):
        published = parse_datetime(
            raw_date if isinstance(raw_date, datetime | date) else _s(raw_date),
            default_tz=tz,
            now=now,
        )
        if published is None:
            raise ValueError(f"date not understood: {_s(raw_date)[:40]}")
    extras: dict[str, Any] = {}
    site = _s(values.get("site"))
    if site:
        extras["site"] = site
    platform = _s(values.get("platform"))
    if platform:
        extras["platform"] = platform
    sentiment_raw = _s(values.get("sentiment"))
    if sentiment_raw:
        extras["vendor_sentiment"] = sentiment_raw
        sentiment = _SENTIMENT.get(sentiment_raw.lower())
        if sentiment:
            extras["sentiment"] = sentiment
    guid = (
        canonical_url(url)
        if url
        else stable_guid(title, text[:1000], published.isoformat() if published else "")
    )
    return Item(
        url=url,
        title=title,
        text=text,
        author=_s(values.get("author")),
        published_at=published,
        guid=guid,
        extras=extras,
    )
