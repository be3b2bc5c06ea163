"""The one place that checks uploads: type by content, size limit, SHA-256, storage."""

from __future__ import annotations

import hashlib
import io

import pytest

from yuqing.lib import uploads

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n" + b"x" * 32


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (PNG, "png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 8, "jpeg"),
        (b"GIF89a" + b"\x00" * 8, "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (PDF, "pdf"),
        (b"PK\x03\x04" + b"\x00" * 8, "zip"),
        (b"hello, \xe4\xb8\x96\xe7\x95\x8c", "txt"),
        (b"\x00\x01\x02\xff\xfe", None),
        (b"", None),
    ],
)
def test_it_sniffs_the_type_by_content(head: bytes, kind: str | None) -> None:
    assert uploads.sniff_type(head) == kind


def test_it_accepts_an_allowed_file_and_computes_its_sha256() -> None:
    checked = uploads.check_upload(io.BytesIO(PDF), allowed={"pdf"}, max_bytes=1024)
    assert checked.kind == "pdf"
    assert checked.content_type == "application/pdf"
    assert checked.size == len(PDF)
    assert checked.sha256 == hashlib.sha256(PDF).hexdigest()
    assert checked.data == PDF
    assert checked.ext == ".pdf"


def test_it_refuses_a_png_renamed_to_pdf() -> None:
    with pytest.raises(uploads.UploadRejected) as exc:
        uploads.check_upload(io.BytesIO(PNG), allowed={"pdf"}, max_bytes=1024, name="a.pdf")
    assert exc.value.reason == "type"
    assert "a.pdf" in exc.value.message


def test_it_refuses_an_oversized_file() -> None:
    with pytest.raises(uploads.UploadRejected) as exc:
        uploads.check_upload(io.BytesIO(PDF + b"x" * 2000), allowed={"pdf"}, max_bytes=1024)
    assert exc.value.reason == "size"


def test_a_file_of_exactly_the_limit_is_accepted_and_read_in_chunks() -> None:
    data = PDF + b"x" * (3 * uploads.CHUNK_BYTES)
    checked = uploads.check_upload(io.BytesIO(data), allowed={"pdf"}, max_bytes=len(data))
    assert checked.sha256 == hashlib.sha256(data).hexdigest()


def test_it_refuses_an_empty_file() -> None:
    with pytest.raises(uploads.UploadRejected) as exc:
        uploads.check_upload(io.BytesIO(b""), allowed={"pdf"}, max_bytes=1024)
    assert exc.value.reason == "empty"


def test_it_reads_from_the_start_of_the_file() -> None:
    file = io.BytesIO(PNG)
    file.read()
    assert uploads.check_upload(file, allowed={"png"}, max_bytes=1024).kind == "png"


def test_it_tells_office_files_by_their_contents() -> None:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    data = buffer.getvalue()
    assert uploads.office_kind(data) == "docx"
    assert uploads.check_upload(io.BytesIO(data), allowed={"docx"}, max_bytes=10**6).kind == "docx"
    with pytest.raises(uploads.UploadRejected):
        uploads.check_upload(io.BytesIO(data), allowed={"xlsx"}, max_bytes=10**6)


@pytest.mark.django_db
def test_it_stores_the_same_bytes_once(settings: object, tmp_path: object) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    digest = hashlib.sha256(PDF).hexdigest()
    first = uploads.store_by_hash("test/1", digest, ".pdf", PDF)
    second = uploads.store_by_hash("test/1", digest, ".pdf", PDF)
    assert first == second == f"test/1/{digest[:2]}/{digest}.pdf"
