"""Disk full while a report or an attachment is written: a clear error, no half file left.

The disk is a real one: a tmpfs of 256 KB mounted for the test (needs root; the test is skipped
otherwise), nearly filled, so the write fails with ENOSPC from the kernel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.faultkit import tiny_filesystem
from yuqing.core.tenancy import school_scope

pytestmark = pytest.mark.django_db

FREE_BYTES = 12 * 1024


def files_under(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != "filler"
    )


@pytest.fixture
def full_disk(settings: Any) -> Iterator[Path]:
    """MEDIA_ROOT on a tiny file system with only FREE_BYTES left."""
    with tiny_filesystem(256) as mount:
        media = mount / "files"
        media.mkdir()
        stat = os.statvfs(mount)
        free = stat.f_bavail * stat.f_frsize
        (mount / "filler").write_bytes(b"\0" * max(0, free - FREE_BYTES))
        settings.MEDIA_ROOT = media
        cache.clear()
        yield media
        cache.clear()


def _png(size: int, seed: bytes = b"") -> bytes:
    return b"\x89PNG\r\n\x1a\n" + hashlib.sha256(seed).digest() + b"\x07" * size


def test_a_storage_write_that_fills_the_disk_leaves_nothing_behind(full_disk: Path) -> None:
    with pytest.raises(OSError) as caught:
        default_storage.save("evidence/1/ab/big.png", ContentFile(_png(200 * 1024)))
    assert caught.value.errno == 28  # ENOSPC
    assert files_under(full_disk) == []  # not even the hidden partial file
    # A small file still fits, whole, under its name.
    name = default_storage.save("evidence/1/cd/small.png", ContentFile(_png(1024)))
    assert (full_disk / name).read_bytes() == _png(1024)


def test_a_petition_with_an_attachment_on_a_full_disk_is_refused_clearly(
    school: Any, people: dict[str, Any], full_disk: Path
) -> None:
    from yuqing.cases.models import Petition

    url = reverse("cases:public_petition", args=[school.slug])
    form = {
        "channel": "mailbox",
        "subject": "校车接送时间问题",
        "body": "孩子每天六点就要出门，希望调整校车时间。",
        "name": "",
        "contact": "",
        "website": "",
    }
    response = Client(HTTP_ACCEPT_LANGUAGE="zh-hans").post(
        url, {**form, "attachments": [SimpleUploadedFile("照片.png", _png(200 * 1024))]}
    )
    assert response.status_code == 507
    assert "磁盘已满" in response.content.decode()
    assert "没有保存" in response.content.decode()
    with school_scope(school):
        assert not Petition.objects.exists()  # the transaction rolled back
    assert files_under(full_disk) == []

    small = _png(2048, b"small")
    response = Client().post(url, {**form, "attachments": [SimpleUploadedFile("照片.png", small)]})
    assert response.status_code == 200
    with school_scope(school):
        attachment = Petition.objects.get().attachments.get()
        assert (full_disk / attachment.file.name).read_bytes() == small


def test_the_api_answers_a_full_disk_with_json(rf: Any) -> None:
    from yuqing.core.diskfull import DiskFullMiddleware

    middleware = DiskFullMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    request = rf.post("/api/v1/mentions")
    response = middleware.process_exception(request, OSError(28, "No space left on device"))
    assert response is not None and response.status_code == 507
    assert "磁盘已满" in json.loads(response.content)["detail"]
    assert middleware.process_exception(request, OSError(13, "Permission denied")) is None


def test_a_report_on_a_full_disk_fails_clearly_and_leaves_no_half_document(
    school: Any, people: dict[str, Any], full_disk: Path
) -> None:
    from yuqing.reports.models import Report

    admin = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    admin.force_login(people["admin"])
    today = dt.date(2026, 5, 4)
    response = admin.post(
        reverse("reports:generate"),
        {"kind": "weekly", "start": today - dt.timedelta(days=6), "end": today},
    )
    assert response.status_code == 507
    assert "磁盘已满" in response.content.decode()
    with school_scope(school):
        assert not Report.objects.exists()
    assert files_under(full_disk) == []
