from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from tests.publishing.conftest import fresh
from yuqing.publishing import content
from yuqing.publishing.models import CheckRun
from yuqing.publishing.services import attachment_add, checks_run, draft_create, finding_override
from yuqing.publishing.workflow import review_submit

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)


def docx_with(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_it_strips_scripts_handlers_and_foreign_images_from_the_body() -> None:
    hostile = (
        '<p onclick="steal()">正文<script>alert(1)</script></p>'
        '<img src="x" onerror="alert(1)"><img src="https://tracker.example/p.gif">'
        '<img src="/publishing/files/7/" alt="图">'
        '<a href="javascript:alert(1)">点我</a><a href="https://www.example.edu.cn/">官网</a>'
        '<style>body{display:none}</style><iframe src="https://evil.example"></iframe>'
        '<p style="color:red">红字</p>'
    )
    clean = content.sanitize_body(hostile)
    for bad in (
        "script",
        "onclick",
        "onerror",
        "javascript:",
        "tracker.example",
        "iframe",
        "style",
        '<img src="x"',
    ):
        assert bad not in clean
    assert '<img src="/publishing/files/7/" alt="图">' in clean
    assert 'href="https://www.example.edu.cn/"' in clean and 'rel="noopener noreferrer"' in clean
    assert content.html_to_text(clean) == "正文\n点我官网\n红字"


def test_it_marks_changes_side_by_side_and_escapes_them() -> None:
    rows = content.side_by_side("第一段\n<b>旧</b>的说法", "第一段\n<b>新</b>的说法\n新增一段")
    assert [r.kind for r in rows] == ["same", "changed", "added"]
    assert rows[1].left == "&lt;b&gt;<del>旧</del>&lt;/b&gt;的说法"
    assert rows[1].right == "&lt;b&gt;<ins>新</ins>&lt;/b&gt;的说法"


@pytest.mark.django_db
def test_it_stores_an_image_by_its_sha256(people: dict[str, Any], draft: Any) -> None:
    attachment = attachment_add(draft=draft, user=people["staff"], name="照片.PNG", data=PNG)
    assert attachment.kind == "image" and attachment.content_type == "image/png"
    stored = Path(settings.MEDIA_ROOT) / attachment.path
    assert stored.read_bytes() == PNG and attachment.sha256 in stored.name
    revision = fresh(draft).current_revision
    assert revision.number == 2 and revision.attachments == [attachment.sha256]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, data",
    [
        ("photo.png", b"<html><script>alert(1)</script></html>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("tool.exe", b"MZ\x90\x00" + b"\x00" * 100),
        ("fake.docx", b"PK\x03\x04" + b"\x00" * 50),
    ],
)
def test_it_refuses_files_that_are_not_what_they_claim(
    people: dict[str, Any], draft: Any, name: str, data: bytes
) -> None:
    with pytest.raises(ValidationError, match=r"Only images|只能"):
        attachment_add(draft=draft, user=people["staff"], name=name, data=data)
    assert not draft.attachment_set.exists()


@pytest.mark.django_db
def test_it_refuses_an_image_over_the_size_limit(people: dict[str, Any], draft: Any) -> None:
    with pytest.raises(ValidationError, match=r"too large|太大"):
        attachment_add(
            draft=draft,
            user=people["staff"],
            name="big.png",
            data=PNG + b"\x00" * (5 * 1024 * 1024),
        )


@pytest.mark.django_db
def test_it_checks_the_text_inside_an_attached_document(people: dict[str, Any], draft: Any) -> None:
    attachment_add(
        draft=draft,
        user=people["staff"],
        name="名单.docx",
        data=docx_with("获奖学生 张三 身份证 11010519491231002X <script>alert(1)</script>"),
    )
    run = checks_run(draft=fresh(draft), stage=CheckRun.Stage.DRAFT)
    inside = [f for f in run.findings if f["where"] == "attachment:名单.docx"]
    assert any(f["text"] == "11010519491231002X" and f["severity"] == "block" for f in inside)
    assert run.unresolved >= 1


@pytest.mark.django_db
def test_it_does_not_flag_an_id_number_with_a_bad_checksum(
    people: dict[str, Any], in_school: Any
) -> None:
    good = draft_create(
        author=people["staff"],
        title="通知",
        body="<p>证件号11010519491231002X</p>",
        channels=["website"],
    )
    bad = draft_create(
        author=people["staff"],
        title="通知",
        body="<p>证件号110105194912310021</p>",
        channels=["website"],
    )
    assert checks_run(draft=good, stage="draft").unresolved == 1
    assert not any(
        "110105194912310021" in f["text"]
        for f in checks_run(draft=bad, stage="draft").findings
        if f["severity"] == "block"
    )


@pytest.mark.django_db
def test_it_blocks_submission_until_a_reviewer_overrides_with_a_reason(
    people: dict[str, Any], in_school: Any
) -> None:
    from yuqing.publishing.services import settings_update

    settings_update(
        school_id=people["staff"].school_id,
        forbidden_words=["暑期特训营"],
        formulations=[],
        confusions=[],
        watch_hosts=[],
        watch_minutes=60,
    )
    ad = draft_create(
        author=people["staff"],
        title="通知",
        body="<p>欢迎报名暑期特训营。</p>",
        channels=["website"],
    )
    with pytest.raises(ValidationError, match=r"blocking|阻断"):
        review_submit(draft=ad, user=people["staff"])
    run = checks_run(draft=ad, stage="draft")
    key = next(f["key"] for f in run.findings if f["text"] == "暑期特训营")
    with pytest.raises(ValidationError):
        finding_override(draft=ad, user=people["staff"], key=key, reason="学校自办公益活动")
    finding_override(draft=ad, user=people["reviewer"], key=key, reason="学校自办公益活动，不收费")
    review_submit(draft=fresh(ad), user=people["staff"])
    assert fresh(ad).status == "in_review"
