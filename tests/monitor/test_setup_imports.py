"""File imports: CSV (UTF-8 with BOM, GBK) and XLSX, mapping, preview, report, progress."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import school_scope
from yuqing.monitor.models import ImportJob, Mention
from yuqing.monitor.setup_services import scheme_create

pytestmark = pytest.mark.django_db

HEADER = ["标题", "正文", "原文链接", "作者", "发布时间", "来源", "平台"]
ROWS = [
    [
        "育才中学食堂饭菜变质",
        "家长反映育才中学食堂饭菜有异味",
        "https://weibo.example.cn/1",
        "家长A",
        "2025-03-01 08:00",
        "微博",
        "微博",
    ],
    [
        "育才中学运动会",
        "育才中学举行春季运动会",
        "https://news.example.cn/2",
        "滨江日报",
        "2025-03-02 09:30",
        "滨江日报",
        "新闻",
    ],
    ["", "", "", "", "", "", ""],
    ["别的学校的新闻", "青屿一中开学典礼", "https://news.example.cn/3", "", "2025-03-03", "", ""],
    ["育才中学坏日期", "育才中学的另一条", "https://news.example.cn/4", "", "不是日期", "", ""],
    ["育才中学坏链接", "育才中学坏链接正文", "javascript:alert(1)", "", "", "", ""],
]


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


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    lines = [",".join(f'"{c}"' for c in row) for row in [HEADER, *rows]]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["某舆情系统导出 2025-03-05"])  # vendors put a title above the header
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: Client, name: str, data: bytes) -> Any:
    return client.post(reverse("monitor:import_new"), {"file": SimpleUploadedFile(name, data)})


def job_of(school: Any) -> ImportJob:
    with school_scope(school):
        return ImportJob.objects.order_by("-pk").first()  # type: ignore[return-value]


def run_import(
    client: Client, job: ImportJob, capture: Any, mapping: dict[str, str] | None = None
) -> Any:
    data = mapping if mapping is not None else dict(job.mapping)
    with capture(execute=True):
        return client.post(reverse("monitor:import_start", args=[job.pk]), data)


@pytest.mark.parametrize(("name", "encoding"), [("export.csv", "utf-8-sig"), ("导出.csv", "gbk")])
def test_it_imports_a_csv_in_either_encoding(
    ming: Client, school: Any, django_capture_on_commit_callbacks: Any, name: str, encoding: str
) -> None:
    data = csv_bytes(ROWS, encoding)
    response = upload(ming, name, data)
    job = job_of(school)
    assert response.status_code == 302
    assert response["Location"] == reverse("monitor:import_detail", args=[job.pk])
    assert job.headers == HEADER
    assert job.mapping == {
        "title": "标题",
        "text": "正文",
        "url": "原文链接",
        "author": "作者",
        "published_at": "发布时间",
        "site": "来源",
        "platform": "平台",
    }
    assert job.sha256 == hashlib.sha256(data).hexdigest()
    run_import(ming, job, django_capture_on_commit_callbacks)
    job = job_of(school)
    assert job.status == "done"
    assert (job.items_new, job.items_unmatched, job.error_count) == (2, 1, 2)
    with school_scope(school):
        titles = set(Mention.objects.values_list("title", flat=True))
        assert titles == {"育才中学食堂饭菜变质", "育才中学运动会"}
        assert Mention.objects.get(title="育才中学食堂饭菜变质").source_type == "weibo"
        actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "monitor.import.uploaded",
        "monitor.import.started",
        "monitor.import.finished",
    } <= actions


def test_it_imports_an_xlsx_with_a_title_row(
    ming: Client, school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    upload(ming, "export.xlsx", xlsx_bytes(ROWS))
    job = job_of(school)
    assert job.headers == HEADER and job.total_rows == len(ROWS)
    run_import(ming, job, django_capture_on_commit_callbacks)
    job = job_of(school)
    assert (job.status, job.items_new) == ("done", 2)
    # The validation report names spreadsheet rows: the title row and header come first.
    assert {e["row"] for e in job.row_errors} == {7, 8}
    page = ming.get(reverse("monitor:import_detail", args=[job.pk])).content.decode()
    assert "不是日期" in page and "javascript:alert(1)" in page


def test_it_adds_nothing_twice_when_the_same_file_comes_again(
    ming: Client, school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    data = csv_bytes(ROWS, "utf-8-sig")
    upload(ming, "a.csv", data)
    run_import(ming, job_of(school), django_capture_on_commit_callbacks)
    again = upload(ming, "a-again.csv", data)
    second = job_of(school)
    notice = ming.get(again["Location"]).content.decode()
    assert "此前已上传过" in notice  # the office is told it has seen this file
    run_import(ming, second, django_capture_on_commit_callbacks)
    second = job_of(school)
    assert (second.items_new, second.items_duplicate) == (0, 2)
    with school_scope(school):
        assert Mention.objects.count() == 2


def test_the_preview_shows_items_and_the_validation_report(ming: Client, school: Any) -> None:
    upload(ming, "export.csv", csv_bytes(ROWS, "utf-8-sig"))
    job = job_of(school)
    response = ming.post(reverse("monitor:import_preview", args=[job.pk]), dict(job.mapping))
    preview = response.context["preview"]
    assert (preview.valid, preview.total, preview.skipped_empty) == (3, 6, 1)
    assert [(e.row, "date" in e.message or "link" in e.message) for e in preview.errors] == [
        (6, True),
        (7, True),
    ]
    html = response.content.decode()
    assert "育才中学食堂饭菜变质" in html
    with school_scope(school):
        assert not Mention.objects.exists()  # previewing stores nothing


def test_the_mapping_must_name_a_title_or_text_column(ming: Client, school: Any) -> None:
    upload(ming, "export.csv", csv_bytes(ROWS, "utf-8-sig"))
    job = job_of(school)
    response = ming.post(reverse("monitor:import_preview", args=[job.pk]), {"url": "原文链接"})
    assert response.context["preview"] is None and response.context["form"].errors
    twice = ming.post(
        reverse("monitor:import_start", args=[job.pk]), {"title": "标题", "text": "标题"}
    )
    assert twice.status_code == 200 and twice.context["form"].errors
    assert job_of(school).status == "mapping"


def test_it_stores_hostile_cells_as_inert_text(
    ming: Client, school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rows = [
        [
            '=HYPERLINK("http://evil.example.cn/x","点这里")育才中学',
            "<script>alert('x')</script>育才中学<img src=x onerror=alert(1)>的通知",
            '=HYPERLINK("https://news.example.cn/real","原文")',
            "=cmd|' /C calc'!A0",
            "2025-03-01",
            "",
            "",
        ]
    ]
    upload(ming, "hostile.xlsx", xlsx_bytes(rows))
    job = job_of(school)
    run_import(ming, job, django_capture_on_commit_callbacks)
    with school_scope(school):
        mention = Mention.objects.get()
    assert mention.url == "https://news.example.cn/real"  # the link a vendor put in a formula
    assert "<script" not in mention.text and "onerror" not in mention.text
    assert "育才中学" in mention.text
    assert mention.author == "=cmd|' /C calc'!A0"  # kept as text, never evaluated
    page = ming.get(reverse("monitor:import_detail", args=[job.pk])).content.decode()
    assert "<script>alert" not in page


def test_it_refuses_files_of_the_wrong_type_or_size(
    ming: Client, school: Any, settings: Any
) -> None:
    wrong_name = upload(ming, "photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    assert wrong_name.context["form"].errors["file"]
    fake_xlsx = upload(ming, "fake.xlsx", b"this is not a workbook at all")
    assert "cannot be read" in str(fake_xlsx.context["form"].errors["file"]) or "无法读取" in str(
        fake_xlsx.context["form"].errors["file"]
    )
    old_xls = upload(ming, "old.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    assert old_xls.context["form"].errors["file"]
    from yuqing.monitor.collect import imports

    big = b"a,b\n" + b"x" * (imports.MAX_FILE_BYTES + 10)
    too_big = upload(ming, "big.csv", big)
    assert "20 MB" in str(too_big.context["form"].errors["file"])
    with school_scope(school):
        assert not ImportJob.objects.exists()


def test_the_progress_card_polls_until_the_import_is_done(
    ming: Client, school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    upload(ming, "export.csv", csv_bytes(ROWS, "utf-8-sig"))
    job = job_of(school)
    with school_scope(school):
        ImportJob.objects.filter(pk=job.pk).update(status="running", total_rows=6, processed_rows=3)
    fragment = ming.get(
        reverse("monitor:import_detail", args=[job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-trigger="every 1s"' in fragment and 'value="50"' in fragment
    assert "<html" not in fragment
    with school_scope(school):
        ImportJob.objects.filter(pk=job.pk).update(status="queued", processed_rows=0)
    with django_capture_on_commit_callbacks(execute=True):
        pass
    from yuqing.monitor.setup_services import import_run

    import_run(job_id=job.pk)
    done = ming.get(
        reverse("monitor:import_detail", args=[job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "every 1s" not in done and 'value="100"' in done


def test_a_job_is_imported_once_even_if_started_twice(
    ming: Client, school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    upload(ming, "export.csv", csv_bytes(ROWS, "utf-8-sig"))
    job = job_of(school)
    run_import(ming, job, django_capture_on_commit_callbacks)
    again = run_import(ming, job, django_capture_on_commit_callbacks)
    assert again.status_code == 200 and again.context["form"].errors
    from yuqing.monitor.setup_services import import_run

    assert import_run(job_id=job.pk) is None  # not queued: no second worker takes it


def test_another_school_cannot_see_an_import(ming: Client, school: Any, outsider: Any) -> None:
    upload(ming, "export.csv", csv_bytes(ROWS, "utf-8-sig"))
    job = job_of(school)
    olga = Client()
    olga.force_login(outsider)
    assert olga.get(reverse("monitor:import_detail", args=[job.pk])).status_code == 404
    assert (
        olga.post(reverse("monitor:import_start", args=[job.pk]), dict(job.mapping)).status_code
        == 404
    )


def test_an_import_left_running_by_a_dead_worker_is_marked_failed_and_can_be_retried(
    ming: Client, school: Any, django_capture_on_commit_callbacks: Any
) -> None:
    import datetime as dt

    import time_machine
    from django.utils import timezone

    from yuqing.monitor.setup_services import import_run, imports_fail_stalled

    upload(ming, "export.csv", csv_bytes(ROWS, "utf-8-sig"))
    job = job_of(school)
    with django_capture_on_commit_callbacks(execute=False):
        ming.post(reverse("monitor:import_start", args=[job.pk]), dict(job.mapping))
    start = timezone.now()
    # The worker claims the job and dies before storing anything (SIGKILL).
    with school_scope(school):
        ImportJob.objects.filter(pk=job.pk).update(
            status="running", started_at=start, progress_at=start
        )
    with time_machine.travel(start + dt.timedelta(minutes=14), tick=False):
        assert imports_fail_stalled() == 0  # slow is not dead
    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        assert imports_fail_stalled() == 1
        assert imports_fail_stalled() == 0  # once
    with school_scope(school):
        failed = ImportJob.objects.get(pk=job.pk)
        assert failed.status == "failed"
        assert "Retry" in failed.failure or "重试" in failed.failure
        assert AuditEntry.objects.filter(action="monitor.import.failed").count() == 1
    page = ming.get(reverse("monitor:import_detail", args=[job.pk])).content.decode()
    assert "every 1s" not in page
    # Retry: the same file again, everything stored once.
    with django_capture_on_commit_callbacks(execute=False):
        again = ming.post(reverse("monitor:import_start", args=[job.pk]), dict(job.mapping))
    assert again.status_code in (200, 302)
    done = import_run(job_id=job.pk)
    assert done is not None and done.status == "done" and done.progress_at is not None
    with school_scope(school):
        urls = list(Mention.objects.values_list("url", flat=True))
    assert len(urls) == len(set(urls)) == done.items_new
