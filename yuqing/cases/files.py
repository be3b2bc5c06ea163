"""Uploaded files of cases and petitions: checked by content and size, kept by SHA-256.

The name and content type a browser sends decide nothing: a file is accepted only when its
first bytes are those of an allowed type *and* its name has that type's extension, so an HTML
page or an SVG with a script renamed to ``.png`` is refused. Files are stored under
MEDIA_ROOT by content hash (the same bytes once) and only ever served as downloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from yuqing.lib import uploads

EVIDENCE_MAX_BYTES = 20 * 1024 * 1024
PETITION_MAX_BYTES = 5 * 1024 * 1024
PETITION_MAX_FILES = 3

# extension -> (canonical extension, the kind its content must be)
_EXTENSIONS = {
    ".png": (".png", "png"),
    ".jpg": (".jpg", "jpeg"),
    ".jpeg": (".jpg", "jpeg"),
    ".gif": (".gif", "gif"),
    ".webp": (".webp", "webp"),
    ".pdf": (".pdf", "pdf"),
    ".mp4": (".mp4", "mp4"),
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
    ext, kind = _EXTENSIONS.get(PurePath(name).suffix.lower(), (None, ""))
    if ext is None or (allowed is not None and ext not in allowed):
        raise ValidationError(
            _("%(name)s: only PNG, JPEG, GIF or WebP images and PDF files are accepted.")
            % {"name": name}
            if allowed is not None
            else _("%(name)s: only images (PNG, JPEG, GIF, WebP), PDF and MP4 files are accepted.")
            % {"name": name}
        )
    try:
        checked = uploads.check_upload(file, allowed={kind}, max_bytes=max_bytes, name=name)
    except uploads.UploadRejected as exc:
        if exc.reason == "size":
            message = _("%(name)s is larger than %(mb)s MB.")
        elif exc.reason == "empty":
            message = _("%(name)s is empty.")
        else:
            message = _("%(name)s: the content is not the kind of file its name says it is.")
        raise ValidationError(message % {"name": name, "mb": max_bytes // (1024 * 1024)}) from None
    return CheckedFile(checked.data, checked.sha256, checked.content_type, ext, name)


def store(folder: str, school_id: int, checked: CheckedFile) -> str:
    """Save under MEDIA_ROOT by content hash; the same bytes are stored once."""
    return uploads.store_by_hash(f"{folder}/{school_id}", checked.sha256, checked.ext, checked.data)
