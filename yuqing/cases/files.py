"""Uploaded files of cases and petitions: checked by content and size, kept by SHA-256.

The name and content type a browser sends decide nothing: a file is accepted only when its
first bytes are those of an allowed type *and* its name has that type's extension, so an HTML
page or an SVG with a script renamed to ``.png`` is refused. Files are stored under
MEDIA_ROOT by content hash (the same bytes once) and only ever served as downloads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

EVIDENCE_MAX_BYTES = 20 * 1024 * 1024
PETITION_MAX_BYTES = 5 * 1024 * 1024
PETITION_MAX_FILES = 3

# (magic, offset, content type, extension); WebP is RIFF....WEBP, MP4 has "ftyp" at 4.
_TYPES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", ".png"),
    (b"\xff\xd8\xff", 0, "image/jpeg", ".jpg"),
    (b"GIF87a", 0, "image/gif", ".gif"),
    (b"GIF89a", 0, "image/gif", ".gif"),
    (b"WEBP", 8, "image/webp", ".webp"),
    (b"%PDF-", 0, "application/pdf", ".pdf"),
    (b"ftyp", 4, "video/mp4", ".mp4"),
)
_EXTENSIONS = {
    ".png": ".png",
    ".jpg": ".jpg",
    ".jpeg": ".jpg",
    ".gif": ".gif",
    ".webp": ".webp",
    ".pdf": ".pdf",
    ".mp4": ".mp4",
}
PETITION_EXTENSIONS = frozenset({".png", ".jpg", ".gif", ".webp", ".pdf"})


@dataclass(frozen=True, slots=True)
class CheckedFile:
    data: bytes
    sha256: str
    content_type: str
    ext: str
    name: str


def check_upload(
    *, file: IO[bytes], filename: str, max_bytes: int, allowed: frozenset[str] | None = None
) -> CheckedFile:
    """Read, size-check and type-check one upload; raises ValidationError with the reason."""
    name = PurePath(filename.replace("\\", "/")).name[:255] or "file"
    ext = _EXTENSIONS.get(PurePath(name).suffix.lower())
    if ext is None or (allowed is not None and ext not in allowed):
        raise ValidationError(
            _("%(name)s: only PNG, JPEG, GIF or WebP images and PDF files are accepted.")
            % {"name": name}
            if allowed is not None
            else _("%(name)s: only images (PNG, JPEG, GIF, WebP), PDF and MP4 files are accepted.")
            % {"name": name}
        )
    file.seek(0)
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationError(
            _("%(name)s is larger than %(mb)s MB.")
            % {"name": name, "mb": max_bytes // (1024 * 1024)}
        )
    if not data:
        raise ValidationError(_("%(name)s is empty.") % {"name": name})
    for magic, offset, content_type, real_ext in _TYPES:
        if data[offset : offset + len(magic)] != magic:
            continue
        if real_ext == ".webp" and data[:4] != b"RIFF":
            continue
        if real_ext == ext:
            return CheckedFile(data, hashlib.sha256(data).hexdigest(), content_type, ext, name)
        break
    raise ValidationError(
        _("%(name)s: the content is not the kind of file its name says it is.") % {"name": name}
    )


def store(folder: str, school_id: int, checked: CheckedFile) -> str:
    """Save under MEDIA_ROOT by content hash; the same bytes are stored once."""
    digest = checked.sha256
    name = f"{folder}/{school_id}/{digest[:2]}/{digest}{checked.ext}"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(checked.data))
    return name
