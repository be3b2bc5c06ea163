"""Manual entry: a post someone saw, with a screenshot or file kept as evidence with its hash."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import school_scope
from yuqing.monitor.models import Evidence, Mention
from yuqing.monitor.setup_services import EVIDENCE_MAX_BYTES, scheme_create

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
POST = {
    "source_type": "weibo",
    "url": "https://weibo.example.cn/status/123?utm_source=share",
    "title": "",
    "text": "育才中学门口有人发传单，家长很担心",
    "author": "某网友",
    "published_at": "2025-03-01T08:30",
}


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "files"
    return settings.MEDIA_ROOT


@pytest.fixture
def ming(people: dict[str, Any], school: Any) -> Client:
    with school_scope(school):
        scheme_create(name="学校", subject_words=["育才中学"])
    client = Client()
    client.force_login(people["monitor"])
    return client


def test_it_stores_a_mention_with_its_evidence_and_hash(
    ming: Client, school: Any, media: Path
) -> None:
    response = ming.post(
        reverse("monitor:manual_entry"),
        {**POST, "evidence": SimpleUploadedFile("截图.png", PNG, content_type="image/png")},
    )
    assert response.status_code == 302
    with school_scope(school):
        mention = Mention.objects.get()
        evidence = Evidence.objects.get()
        actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert mention.source.kind == "manual" and mention.author == "某网友"
    assert mention.published_at is not None
    assert timezone.localtime(mention.published_at).hour == 8  # typed in China time
    assert evidence.mention_id == mention.pk
    assert evidence.sha256 == hashlib.sha256(PNG).hexdigest()
    assert evidence.content_type == "image/png" and evidence.size == len(PNG)
    stored = Path(evidence.file.path)
    assert stored.is_relative_to(media) and stored.read_bytes() == PNG
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == evidence.sha256
    assert {"monitor.mention.added_manually", "monitor.evidence.created"} <= actions

    download = ming.get(reverse("monitor:evidence_file", args=[evidence.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert "attachment" in download["Content-Disposition"]


def test_the_same_post_again_adds_its_evidence_to_the_first(ming: Client, school: Any) -> None:
    ming.post(reverse("monitor:manual_entry"), POST)
    again = ming.post(
        reverse("monitor:manual_entry"),
        {
            **POST,
            "url": "https://weibo.example.cn/status/123",  # the same page without tracking
            "evidence": SimpleUploadedFile("record.pdf", PDF),
        },
    )
    assert again.status_code == 302
    with school_scope(school):
        mention = Mention.objects.get()
        assert Evidence.objects.get().mention_id == mention.pk


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("shot.png", b"<svg onload=alert(1)></svg>"),  # the name says PNG, the bytes do not
        ("shot.png", PDF),  # a real PDF named .png
        ("run.exe", b"MZ\x90\x00" + b"\0" * 100),
    ],
)
def test_it_refuses_evidence_of_the_wrong_type(
    ming: Client, school: Any, name: str, data: bytes
) -> None:
    response = ming.post(
        reverse("monitor:manual_entry"), {**POST, "evidence": SimpleUploadedFile(name, data)}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["evidence"]
    with school_scope(school):
        assert not Mention.objects.exists() and not Evidence.objects.exists()


def test_it_refuses_oversized_evidence(ming: Client, school: Any) -> None:
    big = PNG + b"\0" * EVIDENCE_MAX_BYTES
    response = ming.post(
        reverse("monitor:manual_entry"), {**POST, "evidence": SimpleUploadedFile("big.png", big)}
    )
    assert "10 MB" in str(response.context["form"].errors["evidence"])
    with school_scope(school):
        assert not Mention.objects.exists()


def test_it_says_so_when_a_post_matches_no_scheme(ming: Client, school: Any, media: Path) -> None:
    response = ming.post(
        reverse("monitor:manual_entry"),
        {**POST, "text": "青屿一中举行运动会", "evidence": SimpleUploadedFile("a.png", PNG)},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    with school_scope(school):
        assert not Mention.objects.exists() and not Evidence.objects.exists()


def test_it_needs_a_title_or_text_and_a_web_link(ming: Client) -> None:
    empty = ming.post(reverse("monitor:manual_entry"), {**POST, "text": ""})
    assert empty.context["form"].non_field_errors()
    bad = ming.post(reverse("monitor:manual_entry"), {**POST, "url": "file:///etc/passwd"})
    assert bad.context["form"].errors["url"]


def test_evidence_of_another_school_is_not_served(ming: Client, school: Any, outsider: Any) -> None:
    ming.post(
        reverse("monitor:manual_entry"), {**POST, "evidence": SimpleUploadedFile("a.png", PNG)}
    )
    with school_scope(school):
        evidence = Evidence.objects.get()
    olga = Client()
    olga.force_login(outsider)
    assert olga.get(reverse("monitor:evidence_file", args=[evidence.pk])).status_code == 404
