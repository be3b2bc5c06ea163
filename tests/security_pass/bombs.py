"""Hostile files made on the spot: Office packages that are zip or XML entity bombs, and an
executable renamed to an Office name. Nothing here is stored in the repository."""

from __future__ import annotations

import io
import zipfile

# A minimal valid workbook and document: every bomb below is one of these with one part
# swapped, so the file passes a look at its name and its first bytes.
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "{more}</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="{main}"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "{more}</Relationships>"
)
SHEET = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c><c r="B1" t="inlineStr"><is><t>Kind</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>{cell}</t></is></c><c r="B2" t="inlineStr"><is><t>website</t></is></c></row>'
    "</sheetData></worksheet>"
)
DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"
)

# Ten levels of ten: 10**10 copies of "lol" if a parser expands entities.
_LAUGHS = "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">' for i in range(10)
)
BILLION_LAUGHS_DTD = f"<!DOCTYPE lolz [{_LAUGHS}]>"
# An external entity pointing at a file of this machine (XXE).
XXE_DTD = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def _with_dtd(xml: str, dtd: str) -> str:
    head, _, rest = xml.partition("?>")
    return f"{head}?>{dtd}{rest}"


def xlsx(
    cell: str = "学校官网", *, sheet: str | None = None, rels: str = "", types: str = ""
) -> bytes:
    parts = {
        "[Content_Types].xml": _CONTENT_TYPES.format(more=types),
        "_rels/.rels": _ROOT_RELS.format(main="xl/workbook.xml"),
        "xl/workbook.xml": _WORKBOOK,
        "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS.format(more=rels),
        "xl/worksheets/sheet1.xml": sheet or SHEET.format(cell=cell),
    }
    return _package(parts)


def docx(text: str = "正文", *, document: str | None = None) -> bytes:
    parts = {
        "[Content_Types].xml": _CONTENT_TYPES.format(more=""),
        "_rels/.rels": _ROOT_RELS.format(main="word/document.xml"),
        "word/document.xml": document or DOCUMENT.format(text=text),
    }
    return _package(parts)


def _package(parts: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def laughs_xlsx() -> bytes:
    return xlsx(sheet=_with_dtd(SHEET.format(cell="&lol9;"), BILLION_LAUGHS_DTD))


def laughs_docx() -> bytes:
    return docx(document=_with_dtd(DOCUMENT.format(text="&lol9;"), BILLION_LAUGHS_DTD))


def xxe_xlsx() -> bytes:
    return xlsx(sheet=_with_dtd(SHEET.format(cell="&xxe;"), XXE_DTD))


def zip_bomb(office: bytes, *, expanded_mib: int = 300) -> bytes:
    """``office`` with one more part that inflates to ``expanded_mib`` MiB of zeros (about
    400 KiB on disk): a valid package whose size on the wire says nothing of its cost."""
    out = io.BytesIO(office)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        chunk = b"\x00" * (1024 * 1024)
        with archive.open("xl/media/padding.bin", "w", force_zip64=True) as member:
            for _ in range(expanded_mib):
                member.write(chunk)
    return out.getvalue()


_SHARED_STRINGS_REL = (
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/>'
)

_SHARED_STRINGS_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)


def shared_strings_bomb(*, expanded_mib: int = 256) -> bytes:
    """An XLSX whose shared-strings part (loaded whole even by openpyxl's read-only mode)
    inflates to ``expanded_mib`` MiB."""
    office = xlsx(rels=_SHARED_STRINGS_REL, types=_SHARED_STRINGS_TYPE)
    out = io.BytesIO(office)
    with (
        zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as member,
    ):
        member.write(
            b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main"><si><t>'
        )
        chunk = b"A" * (1024 * 1024)
        for _ in range(expanded_mib):
            member.write(chunk)
        member.write(b"</t></si></sst>")
    return out.getvalue()


# A Windows executable's first bytes ("MZ", the DOS stub) under an Office file name.
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + b"This program cannot be run in DOS mode.\r\n"
    + b"\x00" * 512
)
