"""Hostile uploads: wrong types, zip bombs and XML entity bombs are refused with a clear error
before any parser inflates them, and refusing one costs little memory."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.security_pass import bombs
from yuqing.core.tenancy import school_scope
from yuqing.lib import uploads

# Refusing a bomb reads the zip directory and a few KiB per part: far below this.
REFUSAL_PEAK_BYTES = 30 * 1024 * 1024


@pytest.fixture(scope="module")
def zip_bomb_xlsx() -> bytes:
    return bombs.zip_bomb(bombs.xlsx())


@pytest.fixture(scope="module")
def shared_strings_bomb() -> bytes:
    return bombs.shared_strings_bomb()


@pytest.fixture(scope="module")
def zip_bomb_docx() -> bytes:
    return bombs.zip_bomb(bombs.docx())


def refused_cheaply(call: Callable[[], Any]) -> str:
    """Run ``call``; it must raise a refusal. Returns the message; checks the memory peak."""
    tracemalloc.start()
    try:
        with (
            translation.override("en"),
            pytest.raises((uploads.UploadRejected, ValidationError)) as caught,
        ):
            call()
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < REFUSAL_PEAK_BYTES, f"refusing took {peak // 2**20} MiB"
    exc = caught.value
    return exc.message if isinstance(exc, uploads.UploadRejected) else " ".join(exc.messages)


# --- the one check, directly --------------------------------------------------------------------


def test_the_samples_are_real_office_files() -> None:
    # A bomb that is not a valid package would prove nothing about the guard.
    assert uploads.office_kind(bombs.xlsx()) == "xlsx"
    assert uploads.office_kind(bombs.docx()) == "docx"
    uploads.check_office_package(bombs.xlsx())
    uploads.check_office_package(bombs.docx())


def test_it_refuses_a_zip_bomb(zip_bomb_xlsx: bytes, shared_strings_bomb: bytes) -> None:
    for data in (zip_bomb_xlsx, shared_strings_bomb):
        assert len(data) < 2 * 1024 * 1024  # small on the wire
        message = refused_cheaply(
            lambda data=data: uploads.check_upload(
                io.BytesIO(data), allowed={"xlsx"}, max_bytes=10 * 2**20, name="book.xlsx"
            )
        )
        assert "book.xlsx" in message and "zip bomb" in message


def test_it_refuses_a_package_that_unpacks_to_too_much_in_modest_parts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Parts that each inflate modestly (below the ratio rule) still add up to the total limit.
    monkeypatch.setattr(uploads, "OFFICE_MAX_EXPANDED", 2 * 2**20)
    out = io.BytesIO(bombs.xlsx())
    with zipfile.ZipFile(out, "a", zipfile.ZIP_STORED) as archive:
        for i in range(3):
            archive.writestr(f"xl/media/p{i}.bin", bytes(2**20))
    with translation.override("en"), pytest.raises(uploads.UploadRejected) as exc:
        uploads.check_office_package(out.getvalue(), name="big.xlsx")
    assert exc.value.reason == "package" and "unpacks to 3 MB" in exc.value.message


@pytest.mark.parametrize(
    ("make", "kind"),
    [(bombs.laughs_xlsx, "xlsx"), (bombs.laughs_docx, "docx"), (bombs.xxe_xlsx, "xlsx")],
)
def test_it_refuses_xml_entities_in_office_files(make: Callable[[], bytes], kind: str) -> None:
    message = refused_cheaply(
        lambda: uploads.check_upload(
            io.BytesIO(make()), allowed={kind}, max_bytes=2**20, name=f"x.{kind}"
        )
    )
    assert "entities" in message


def test_it_finds_a_dtd_hidden_behind_a_long_prolog() -> None:
    # Comments may come before the DTD: a check of the first few KiB alone would miss it.
    padded = bombs.BILLION_LAUGHS_DTD.join(["<!--" + "x" * 20_000 + "-->", ""])
    sheet = bombs.SHEET.format(cell="&lol9;").replace("?>", "?>" + padded, 1)
    with pytest.raises(uploads.UploadRejected) as exc:
        uploads.check_office_package(bombs.xlsx(sheet=sheet))
    assert exc.value.reason == "package"
    # A prolog that never reaches its root element is refused too.
    endless = '<?xml version="1.0"?>' + "<!--" + "y" * (2 * 1024 * 1024) + "-->" + "<a/>"
    with pytest.raises(uploads.UploadRejected):
        uploads.check_office_package(bombs.xlsx(sheet=endless))


def test_it_refuses_an_executable_renamed_as_an_office_file() -> None:
    for kind in ("docx", "xlsx"):
        with pytest.raises(uploads.UploadRejected) as exc:
            uploads.check_upload(
                io.BytesIO(bombs.EXE), allowed={kind}, max_bytes=2**20, name=f"setup.{kind}"
            )
        assert exc.value.reason == "type"
    # A zip that is not an Office package (e.g. a zipped executable) is no document either.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("setup.exe", bombs.EXE)
    with pytest.raises(uploads.UploadRejected) as exc:
        uploads.check_upload(out, allowed={"docx"}, max_bytes=2**20, name="report.docx")
    assert exc.value.reason == "type"


# --- through every place that opens an uploaded Office file --------------------------------------


@pytest.fixture
def admin_client(people: dict[str, Any]) -> Client:
    client = Client()
    client.force_login(people["admin"])
    return client


@pytest.fixture
def in_school_scope(school: Any) -> Iterator[Any]:
    with school_scope(school):
        yield school


@pytest.mark.django_db
def test_security_asset_import_refuses_bombs(
    people: dict[str, Any], in_school_scope: Any, shared_strings_bomb: bytes
) -> None:
    from yuqing.security import services

    for data, words in (
        (shared_strings_bomb, "zip bomb"),
        (bombs.laughs_xlsx(), "entities"),
        (bombs.xxe_xlsx(), "entities"),
    ):
        message = refused_cheaply(
            lambda data=data: services.assets_import_xlsx(
                file=io.BytesIO(data), user=people["admin"]
            )
        )
        assert words in message
    result = services.assets_import_xlsx(file=io.BytesIO(bombs.xlsx()), user=people["admin"])
    assert len(result.errors) == 1  # the same file without the bomb is read (row 2 checked)


@pytest.mark.django_db
def test_security_asset_import_view_says_why(
    admin_client: Client, shared_strings_bomb: bytes
) -> None:
    upload = SimpleUploadedFile("assets.xlsx", shared_strings_bomb)
    admin_client.cookies["django_language"] = "en"
    response = admin_client.post(reverse("security:asset_import"), {"file": upload}, follow=True)
    assert response.status_code == 200
    assert "zip bomb" in response.content.decode()


@pytest.mark.django_db
def test_monitor_table_import_refuses_bombs(
    people: dict[str, Any], in_school_scope: Any, shared_strings_bomb: bytes
) -> None:
    from yuqing.monitor import setup_services
    from yuqing.monitor.models import Source

    source = setup_services.source_create(kind=Source.Kind.IMPORT, name="导入")
    for data, words in (
        (shared_strings_bomb, "unpacks to more than"),
        (bombs.zip_bomb(bombs.xlsx(), expanded_mib=120), "zip bomb"),
        (bombs.laughs_xlsx(), "entities"),
    ):
        message = refused_cheaply(
            lambda data=data: setup_services.import_upload(
                file=io.BytesIO(data), filename="b.xlsx", source=source, user=people["admin"]
            )
        )
        assert words in message
    from yuqing.monitor.models import ImportJob

    assert not ImportJob.objects.exists()  # nothing kept


@pytest.mark.django_db
def test_report_template_upload_refuses_bombs(in_school_scope: Any, zip_bomb_docx: bytes) -> None:
    from yuqing.reports import services

    for data, words in ((zip_bomb_docx, "zip bomb"), (bombs.laughs_docx(), "entities")):
        message = refused_cheaply(
            lambda data=data: services.template_check(file=io.BytesIO(data), filename="t.docx")
        )
        assert words in message


@pytest.mark.django_db
def test_attachments_refuse_a_renamed_executable(
    people: dict[str, Any], in_school_scope: Any
) -> None:
    from yuqing.cases import files as case_files
    from yuqing.duty import services as duty_services
    from yuqing.publishing import content

    with translation.override("en"), pytest.raises(ValidationError, match="not the kind"):
        case_files.check_upload(file=io.BytesIO(bombs.EXE), filename="证据.pdf", max_bytes=2**20)
    with pytest.raises(ValidationError):
        duty_services.file_check(file=io.BytesIO(bombs.EXE), filename="会议纪要.docx")
    with pytest.raises(content.FileRefused):
        content.check_upload(bombs.EXE)
