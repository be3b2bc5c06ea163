"""Plain text out of the documents people publish: .txt .md .html .docx .xlsx .pdf.

Every file is untrusted. The raw size is capped; Office files are ZIP archives and are
inspected before anything decompresses them (entry count, total and per-entry expanded size,
compression ratio), so a zip bomb is refused without inflating it; XML inside them is parsed
by python-docx / openpyxl, which do not resolve external entities. HTML is parsed, never
rendered: scripts, styles and other non-content elements are dropped before the text is
taken. Anything that cannot be read raises ``UnreadableDocument`` with a one-line reason.

Layout of the extracted text: one paragraph or table row per line; table cells separated by
a tab; spreadsheets as "[sheet name]" then one row per line; PDF pages separated by a blank
line. Links whose address is not shown (HTML anchors, Word hyperlinks) are written after
their text in parentheses so the link checks see them. Offsets of findings are offsets into
this text; ``line_starts`` turns them into line and column.
"""

from __future__ import annotations

import io
import re
import zipfile
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from yuqing.lib.http import decode_body

__all__ = [
    "SUPPORTED",
    "ExtractedDocument",
    "Limits",
    "UnreadableDocument",
    "extract_text",
]

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".docx", ".xlsx", ".pdf")
_ADVICE = {
    ".doc": "save it as .docx",
    ".wps": "save it as .docx",
    ".xls": "save it as .xlsx",
    ".et": "save it as .xlsx",
    ".rtf": "save it as .docx",
}


class UnreadableDocument(Exception):
    """The file cannot be read as the type it claims; ``str(exc)`` is one line for people."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what one document may cost to read."""

    max_bytes: int = 25 * 1024 * 1024
    max_chars: int = 2_000_000
    zip_max_entries: int = 5000
    zip_max_expanded: int = 200 * 1024 * 1024
    zip_max_ratio: int = 100  # per entry, for entries over 1 MiB expanded
    max_pdf_pages: int = 500
    max_cells: int = 500_000


@dataclass(frozen=True)
class ExtractedDocument:
    text: str
    line_starts: tuple[int, ...]
    warnings: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, text: str, warnings: list[str] | tuple[str, ...] = ()) -> ExtractedDocument:
        starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        return cls(text, tuple(starts), tuple(warnings))

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of character ``offset``."""
        line = bisect_right(self.line_starts, offset) - 1
        return line + 1, offset - self.line_starts[line] + 1


def extract_text(
    data: bytes | str | Path, filename: str | None = None, *, limits: Limits | None = None
) -> ExtractedDocument:
    """Extract the text of ``data`` (bytes, or a path to read) of type ``filename``'s suffix."""
    limits = limits or Limits()
    if isinstance(data, str | Path):
        path = Path(data)
        filename = filename or path.name
        try:
            size = path.stat().st_size
            if size > limits.max_bytes:
                raise UnreadableDocument(_too_big(filename, size, limits))
            data = path.read_bytes()
        except FileNotFoundError:
            raise UnreadableDocument(f"{filename}: no such file") from None
        except IsADirectoryError:
            raise UnreadableDocument(f"{filename}: is a directory, not a file") from None
        except OSError as exc:
            raise UnreadableDocument(f"{filename}: cannot read: {exc.strerror or exc}") from None
    name = filename or "document"
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED:
        advice = _ADVICE.get(suffix, "supported: " + ", ".join(SUPPORTED))
        raise UnreadableDocument(f"{name}: unsupported file type {suffix or '(none)'}; {advice}")
    if len(data) > limits.max_bytes:
        raise UnreadableDocument(_too_big(name, len(data), limits))
    warnings: list[str] = []
    if suffix in (".docx", ".xlsx"):
        _check_zip(name, data, limits)
        text = _docx(name, data) if suffix == ".docx" else _xlsx(name, data, limits, warnings)
    elif suffix == ".pdf":
        text = _pdf(name, data, limits, warnings)
    else:
        decoded = decode_body(data, None)
        if decoded.lossy:
            warnings.append(f"some bytes are not valid {decoded.encoding} and were replaced")
        text = decoded.text
        if "\x00" in text[:4096]:
            raise UnreadableDocument(f"{name}: binary data, not a text file")
        if suffix in (".html", ".htm"):
            text = _html(name, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > limits.max_chars:
        warnings.append(f"only the first {limits.max_chars} characters were checked")
        text = text[: limits.max_chars]
    return ExtractedDocument.of(text, warnings)


def _too_big(name: str, size: int, limits: Limits) -> str:
    return f"{name}: file too large ({size // 1024} KiB, limit {limits.max_bytes // 1024} KiB)"


# -- Office (ZIP) files ---------------------------------------------------------------------


def _check_zip(name: str, data: bytes, limits: Limits) -> None:
    kind = "Word" if name.lower().endswith(".docx") else "Excel"
    if not data.startswith(b"PK\x03\x04"):
        raise UnreadableDocument(f"{name}: not a {kind} document (not a ZIP package)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise UnreadableDocument(f"{name}: damaged {kind} document ({exc})") from None
    if len(entries) > limits.zip_max_entries:
        raise UnreadableDocument(f"{name}: refused: {len(entries)} parts inside the package")
    total = 0
    for entry in entries:
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > 1024 * 1024 and ratio > limits.zip_max_ratio:
            raise UnreadableDocument(
                f"{name}: refused: {entry.filename} expands {ratio:.0f}× (a zip bomb?)"
            )
    if total > limits.zip_max_expanded:
        raise UnreadableDocument(
            f"{name}: refused: expands to {total // (1024 * 1024)} MiB "
            f"(limit {limits.zip_max_expanded // (1024 * 1024)} MiB)"
        )


def _docx(name: str, data: bytes) -> str:
    # Imported here: python-docx costs ~100 ms to import and most checks are on plain text.
    import docx
    from docx.table import Table
    from docx.text.hyperlink import Hyperlink
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds for a broken package
        raise UnreadableDocument(f"{name}: damaged Word document ({_short(exc)})") from None

    def paragraph_text(paragraph: Paragraph) -> str:
        parts = []
        for item in paragraph.iter_inner_content():
            if isinstance(item, Hyperlink):
                label = item.text
                address = item.address or ""
                parts.append(label)
                if address.startswith(("http://", "https://")) and address not in label:
                    parts.append(f" ({address})")
            else:
                parts.append(item.text)
        return "".join(parts)

    def table_lines(table: Table) -> list[str]:
        lines = []
        for row in table.rows:
            cells = []
            seen: set[int] = set()
            nested: list[str] = []
            for cell in row.cells:
                if id(cell._tc) in seen:  # a merged cell repeats in every column it spans
                    continue
                seen.add(id(cell._tc))
                texts = []
                for inner in cell.iter_inner_content():
                    if isinstance(inner, Paragraph):
                        texts.append(paragraph_text(inner))
                    else:
                        nested += table_lines(inner)
                cells.append(" ".join(t for t in texts if t).replace("\t", " "))
            lines.append("\t".join(cells))
            lines += nested
        return lines

    lines: list[str] = []
    try:
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                lines.append(paragraph_text(block))
            else:
                lines += table_lines(block)
    except Exception as exc:
        raise UnreadableDocument(f"{name}: damaged Word document ({_short(exc)})") from None
    return "\n".join(lines)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))  # 18-digit numbers typed into Excel come back as floats
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _xlsx(name: str, data: bytes, limits: Limits, warnings: list[str]) -> str:
    import openpyxl  # imported here: heavy, and only spreadsheets need it

    try:
        workbook = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
    except Exception as exc:
        raise UnreadableDocument(f"{name}: damaged Excel workbook ({_short(exc)})") from None
    lines: list[str] = []
    cells = 0
    try:
        for sheet in workbook.worksheets:
            lines.append(f"[{sheet.title}]")
            for row in sheet.iter_rows(values_only=True):
                cells += len(row)
                if cells > limits.max_cells:
                    warnings.append(f"only the first {limits.max_cells} cells were checked")
                    return "\n".join(lines)
                values = [_cell_text(v) for v in row]
                while values and not values[-1]:
                    values.pop()
                if values:
                    lines.append("\t".join(values))
    except Exception as exc:
        raise UnreadableDocument(f"{name}: damaged Excel workbook ({_short(exc)})") from None
    finally:
        workbook.close()
    return "\n".join(lines)


# -- PDF ------------------------------------------------------------------------------------


def _pdf(name: str, data: bytes, limits: Limits, warnings: list[str]) -> str:
    if b"%PDF-" not in data[:1024]:
        raise UnreadableDocument(f"{name}: not a PDF file")
    try:
        # Imported here: only PDFs need it. pypdf is pure Python (no poppler on a school PC)
        # and caps what a compressed stream may expand to.
        import pypdf
    except ImportError:
        raise UnreadableDocument(f"{name}: PDF support is not installed (pypdf)") from None
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument(f"{name}: the PDF is password-protected")
        pages = reader.pages
        count = len(pages)
        if count > limits.max_pdf_pages:
            warnings.append(f"only the first {limits.max_pdf_pages} of {count} pages were checked")
        texts = [pages[i].extract_text() or "" for i in range(min(count, limits.max_pdf_pages))]
    except UnreadableDocument:
        raise
    except Exception as exc:
        raise UnreadableDocument(f"{name}: damaged PDF ({_short(exc)})") from None
    text = "\n\n".join(t.strip("\n") for t in texts)
    if not text.strip() and count:
        warnings.append("the PDF has no text layer (a scan?); nothing could be checked")
    return text


# -- HTML -----------------------------------------------------------------------------------

# Elements whose content is not text a reader sees.
_DROP: tuple[str, ...] = (
    *("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math"),
    *("head", "select", "canvas", "audio", "video"),
)
_SPACES = re.compile(r"[ \xa0\f\v]+")
_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "title",
    ]
)


def _html(name: str, markup: str) -> str:
    import lxml.etree
    import lxml.html

    if not markup.strip():
        return ""
    parser = lxml.html.HTMLParser(
        remove_comments=True, remove_pis=True, no_network=True, huge_tree=False
    )
    try:
        root = lxml.html.document_fromstring(markup, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise UnreadableDocument(f"{name}: unreadable HTML ({_short(exc)})") from None
    for element in list(root.iter(*_DROP)):
        element.drop_tree()
    parts: list[str] = []

    def walk(element: Any) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _BLOCKS:
            parts.append("\n")
        elif tag in ("td", "th"):
            parts.append("\t")
        if element.text:
            parts.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if tag == "a":
            href = (element.get("href") or "").strip()
            label = element.text_content()
            if href.startswith(("http://", "https://")) and href not in label:
                parts.append(f" ({href})")
        if tag in _BLOCKS:
            parts.append("\n")

    walk(root)
    lines = []
    for raw in "".join(parts).split("\n"):
        cells = [_SPACES.sub(" ", cell).strip() for cell in raw.split("\t")]
        line = "\t".join(cells).strip("\t")
        if line.strip():
            lines.append(line)
    return "\n".join(lines)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
