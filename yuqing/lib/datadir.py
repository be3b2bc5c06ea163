"""The data directory: database, queue, uploads and keys of one instance live here.

Two instances with different data dirs (and ports) run side by side without sharing anything.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_or_create_secret(path: Path, *, nbytes: int = 50) -> str:
    """Return the secret stored at ``path``, creating it on first use.

    O_EXCL makes the creation safe when the web server and the worker start together: one
    process writes the file, the other reads what was written.
    """
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    ensure_dir(path.parent)
    value = secrets.token_urlsafe(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value
