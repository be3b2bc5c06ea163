"""Checking and keeping uploaded files: one place for every app.

A file's type is judged by its first bytes ("magic"), never by the name or the content type
the browser sent. :func:`check_upload` reads an upload in chunks, refuses it when it is too
large, empty or of a kind the caller does not allow, and returns its kind, content type, size
and SHA-256 together with the bytes. :func:`store_by_hash` keeps bytes under MEDIA_ROOT by
content hash, so the same bytes are stored once.

Callers keep their own allowed kinds, limits and messages: :class:`UploadRejected` carries a
``reason`` ("size", "empty", "type" or "package") so an app can say it in its own words.

Office files are ZIP packages of XML: :func:`check_office_package` refuses zip bombs (parts
that inflate far beyond the upload's size) and XML with a document type declaration (the
billion-laughs entity bomb and external entities need one; Office never writes one) before
any parser sees them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import IO, Literal
from xml.parsers import expat

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

Reason = Literal["size", "empty", "type", "package"]

CHUNK_BYTES = 64 * 1024
TEXT_SNIFF_BYTES = 65536

CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "mp4": "video/mp4",
    "zip": "application/zip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "txt": "text/plain",
}
"""Canonical kind -> content type."""

EXTENSIONS: dict[str, str] = {
    "png": ".png",
    "jpeg": ".jpg",
    "gif": ".gif",
    "webp": ".webp",
    "pdf": ".pdf",
    "mp4": ".mp4",
    "zip": ".zip",
    "docx": ".docx",
    "xlsx": ".xlsx",
    "pptx": ".pptx",
    "txt": ".txt",
}
"""Canonical kind -> the extension a stored file gets."""

IMAGE_KINDS = frozenset({"png", "jpeg", "gif", "webp"})
OFFICE_KINDS = frozenset({"docx", "xlsx", "pptx"})

# What one Office package may cost to open: parts, inflated bytes, and the inflation ratio
# of a large part (real documents compress text about 5-20x; a bomb 1000x and more).
OFFICE_MAX_PARTS = 5000
OFFICE_MAX_EXPANDED = 200 * 1024 * 1024
OFFICE_MAX_RATIO = 100
_RATIO_FROM_BYTES = 1024 * 1024
# The prolog (declaration, comments, DTD) comes before the root element; an Office part's is a
# few dozen bytes, so one that goes on for this long is refused as well.
_XML_PROLOG_BYTES = 1024 * 1024


def sniff_type(head: bytes) -> str | None:
    """The kind of a file by its first bytes: "png", "jpeg", "gif", "webp", "pdf", "mp4",
    "zip" (also every Office file; see :func:`office_kind`) or "txt" (UTF-8 without NUL),
    None when unknown. Pass at least the first 64 KiB for the text check."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[4:8] == b"ftyp":
        return "mp4"
    if not head:
        return None
    try:
        text = head[:TEXT_SNIFF_BYTES].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "txt" if "\x00" not in text else None


def office_kind(data: bytes) -> str | None:
    """ "docx", "xlsx" or "pptx" when the whole ``data`` is such an Office (OOXML) file."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    return None


def check_office_package(data: bytes, *, name: str = "") -> None:
    """Refuse a ZIP package that is a zip bomb or holds XML with a DTD (entity bombs, XXE).

    Reads only the central directory and the prolog of each XML part (up to its root element):
    CPython's zipfile never inflates more than a part's declared size, so the declared sizes
    bound the cost.
    Raises :class:`UploadRejected` ("package") with the reason; other damage is left to the
    caller's parser."""
    shown = name or "file"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return
    with archive:
        parts = archive.infolist()
        if len(parts) > OFFICE_MAX_PARTS:
            raise UploadRejected(
                "package",
                _("%(name)s: refused: the package has %(n)s parts.")
                % {"name": shown, "n": len(parts)},
            )
        total = 0
        for part in parts:
            total += part.file_size
            ratio = part.file_size / max(part.compress_size, 1)
            if part.file_size > _RATIO_FROM_BYTES and ratio > OFFICE_MAX_RATIO:
                raise UploadRejected(
                    "package",
                    _("%(name)s: refused: %(part)s inflates %(ratio)s times (a zip bomb).")
                    % {"name": shown, "part": part.filename, "ratio": int(ratio)},
                )
        if total > OFFICE_MAX_EXPANDED:
            raise UploadRejected(
                "package",
                _("%(name)s: refused: it unpacks to %(mb)s MB (at most %(limit)s MB).")
                % {
                    "name": shown,
                    "mb": total // (1024 * 1024),
                    "limit": OFFICE_MAX_EXPANDED // (1024 * 1024),
                },
            )
        for part in parts:
            if not part.filename.lower().endswith((".xml", ".rels", ".vml")):
                continue
            try:
                with archive.open(part) as member:
                    declares = _declares_dtd(member)
            except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError):
                continue  # damaged: the caller's parser says so in its own words
            if declares:
                raise UploadRejected(
                    "package",
                    _(
                        "%(name)s: refused: %(part)s declares XML entities "
                        "(Office files never do; an entity bomb or an external entity)."
                    )
                    % {"name": shown, "part": part.filename},
                )


class _RootReached(Exception):
    pass


def _declares_dtd(member: IO[bytes]) -> bool:
    """Whether the XML in ``member`` has a document type declaration before its root element
    (or a prolog longer than any Office part's). Parses the prolog only: expat stops at the
    root element or the DTD, before any entity could be expanded."""
    parser = expat.ParserCreate()
    found: list[bool] = []

    def doctype(*_args: object) -> None:
        found.append(True)
        raise _RootReached

    def root(*_args: object) -> None:
        raise _RootReached

    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = root
    read = 0
    try:
        while True:
            chunk = member.read(CHUNK_BYTES)
            if not chunk:
                parser.Parse(b"", True)
                return False
            read += len(chunk)
            parser.Parse(chunk, False)
            if read > _XML_PROLOG_BYTES:
                return True  # no root element yet: no Office part looks like this
    except _RootReached:
        return bool(found)
    except expat.ExpatError:
        return False  # not well-formed: the caller's parser refuses it in its own words


class UploadRejected(ValueError):
    """An upload refused; ``message`` is fit to show the user, ``reason`` says why."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    kind: str
    content_type: str
    size: int
    sha256: str
    data: bytes

    @property
    def ext(self) -> str:
        return EXTENSIONS.get(self.kind, "")


def read_upload(file: IO[bytes], max_bytes: int) -> tuple[bytes, str]:
    """The whole upload (from its start) and its SHA-256, read in chunks.

    Raises :class:`UploadRejected` ("size") once more than ``max_bytes`` have been read."""
    with contextlib.suppress(AttributeError, OSError, io.UnsupportedOperation):
        file.seek(0)
    digest = hashlib.sha256()
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = file.read(min(CHUNK_BYTES, max_bytes + 1 - size))
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise UploadRejected(
                "size",
                _("The file is larger than %(mb)s MB.") % {"mb": max_bytes // (1024 * 1024)},
            )
        digest.update(chunk)
        parts.append(chunk)
    return b"".join(parts), digest.hexdigest()


def check_upload(
    file: IO[bytes], *, allowed: set[str] | frozenset[str], max_bytes: int, name: str = ""
) -> CheckedUpload:
    """Read, size-check and type-check one upload.

    ``allowed`` holds canonical kinds (see :data:`CONTENT_TYPES`); "docx", "xlsx" and
    "pptx" are recognised by the archive's contents and pass :func:`check_office_package`.
    Raises :class:`UploadRejected` with the reason "size", "empty", "type" or "package"."""
    data, sha256 = read_upload(file, max_bytes)
    if not data:
        raise UploadRejected("empty", _("The file is empty."))
    kind = sniff_type(data[:TEXT_SNIFF_BYTES])
    if kind == "zip" and "zip" not in allowed:
        kind = office_kind(data)
    if kind in OFFICE_KINDS and kind in allowed:
        check_office_package(data, name=name)
    if kind is None or kind not in allowed:
        raise UploadRejected(
            "type",
            _("%(name)s: the content is not the kind of file its name says it is.")
            % {"name": name or "file"},
        )
    return CheckedUpload(kind, CONTENT_TYPES[kind], len(data), sha256, data)


def store_by_hash(folder: str, sha256: str, ext: str, data: bytes) -> str:
    """Save under MEDIA_ROOT as ``folder/ab/abcd….ext``; the same bytes are stored once."""
    name = f"{folder}/{sha256[:2]}/{sha256}{ext}"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(data))
    return name
