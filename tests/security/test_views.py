"""Pages of the security module: who sees what, and the register, notice and checklist flows."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.security.conftest import FIXTURES, Web, make_asset, run
from yuqing.core.tenancy import school_scope
from yuqing.security.models import Asset, ChecklistRound, Finding

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_it_shows_every_page_to_the_security_officer(
    school: Any, people: dict[str, Any], web: Web
) -> None:
    web.page("/.git/HEAD", "ref: refs/heads/main\n")
    asset = make_asset(school, web.url, expected_ports=[web.port])
    for key in ("availability", "exposed_paths", "defacement"):
        last = run(asset, key)
    with school_scope(school):
        finding = Finding.objects.get()
    sun = _client(people["security"])
    for url in (
        reverse("security:index"),
        reverse("security:asset_list"),
        reverse("security:asset_detail", args=[asset.pk]),
        reverse("security:asset_edit", args=[asset.pk]),
        reverse("security:finding_list") + "?severity=3&source=check",
        reverse("security:finding_detail", args=[finding.pk]),
        reverse("security:run_detail", args=[last.pk]),
        reverse("security:import_list"),
        reverse("security:checklist_list"),
    ):
        response = sun.get(url)
        assert response.status_code == 200, url
    page = sun.get(reverse("security:index")).content.decode()
    assert "sec-age-data" in page
    assert _client(people["staff"]).get(reverse("security:index")).status_code == 403


def test_it_hides_one_schools_assets_from_another_school(
    school: Any, people: dict[str, Any], outsider: Any
) -> None:
    asset = make_asset(school, "http://127.0.0.1:9/", name="育才门户")
    olga = _client(outsider)
    assert olga.get(reverse("security:asset_detail", args=[asset.pk])).status_code == 404
    assert olga.post(reverse("security:asset_revoke", args=[asset.pk])).status_code == 404
    assert "育才门户" not in olga.get(reverse("security:asset_list")).content.decode()
    assert olga.get(reverse("security:asset_notice", args=[asset.pk])).status_code == 404


def test_it_lets_an_administrator_register_and_authorise_an_asset(
    school: Any, people: dict[str, Any]
) -> None:
    sun = _client(people["security"])
    response = sun.post(
        reverse("security:asset_create"),
        {
            "kind": "website",
            "name": "学校门户",
            "url": "https://www.yucai.edu.cn/",
            "expected_ports": "80, 443",
            "schedule": "daily",
        },
    )
    assert response.status_code == 302
    with school_scope(school):
        asset = Asset.objects.get(name="学校门户")
    assert asset.expected_ports == [80, 443] and not asset.authorised_for_scanning
    bad = sun.post(reverse("security:asset_create"),
                   {"kind": "server", "name": "x", "expected_ports": "80, 99999", "schedule": "daily"})  # fmt: skip
    assert bad.status_code == 200 and "65535" in bad.content.decode()
    sun.post(reverse("security:asset_authorise", args=[asset.pk]), {"confirm": "yes"})
    asset.refresh_from_db()
    assert asset.authorised_for_scanning and asset.authorised_by == people["security"]


def test_it_round_trips_the_register_as_xlsx(school: Any, people: dict[str, Any]) -> None:
    make_asset(school, "https://www.yucai.edu.cn/", name="学校门户", owner_unit="信息中心",
               responsible=people["security"], expected_ports=[80, 443])  # fmt: skip
    sun = _client(people["security"])
    data = sun.get(reverse("security:asset_export")).content
    assert data.startswith(b"PK")
    with school_scope(school):
        Asset.objects.all().delete()
    upload = io.BytesIO(data)
    upload.name = "assets.xlsx"
    sun.post(reverse("security:asset_import"), {"file": upload})
    with school_scope(school):
        asset = Asset.objects.get(name="学校门户")
    assert asset.owner_unit == "信息中心" and asset.expected_ports == [80, 443]
    assert asset.responsible == people["security"]
    assert not asset.authorised_for_scanning  # an import never authorises


def test_it_writes_a_rectification_notice(school: Any, people: dict[str, Any], web: Web) -> None:
    from docx import Document

    web.page("/.env", "DB_PASSWORD=x\nAPP_KEY=y\n")
    asset = make_asset(school, web.url, name="学校门户", owner_unit="信息中心")
    run(asset, "exposed_paths")
    response = _client(people["security"]).get(reverse("security:asset_notice", args=[asset.pk]))
    doc = Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "学校门户" in text and "信息中心" in text
    assert ".env" in doc.tables[0].rows[1].cells[2].text


def test_it_signs_off_a_checklist_with_evidence(school: Any, people: dict[str, Any]) -> None:
    sun = _client(people["security"])
    sun.post(reverse("security:checklist_create"), {
        "name": "服务器月度检查", "responsible": people["security"].pk, "due_day": 25,
        "items": "补丁已安装\n杀毒软件已更新\n备份已恢复测试",
    })  # fmt: skip
    with school_scope(school):
        current = ChecklistRound.objects.get()
        items = list(current.checklist.items.all())
    url = reverse("security:checklist_sign", args=[current.checklist_id])
    done = {f"done_{i.pk}": "on" for i in items}
    exe = io.BytesIO(b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256)))
    exe.name = "evidence.pdf"
    sun.post(url, {**done, "evidence_files": exe})
    current.refresh_from_db()
    assert current.signed_at is None  # a program named .pdf is refused
    pdf = io.BytesIO(b"%PDF-1.4\n% test\n")
    pdf.name = "补丁截图.pdf"
    response = sun.post(url, {**done, "evidence_files": pdf, "note": "本月正常"}, follow=True)
    current.refresh_from_db()
    assert current.signed_at is not None and current.signed_by == people["security"]
    with school_scope(school):
        evidence = current.evidence.get()
    assert evidence.content_type == "application/pdf" and len(evidence.sha256) == 64
    assert evidence.file.name.endswith(f"{evidence.sha256}.pdf")
    download = sun.get(reverse("security:evidence_download", args=[evidence.pk]))
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    assert "补丁截图.pdf" in response.content.decode()


def test_it_imports_a_scan_report_from_the_page(school: Any, people: dict[str, Any]) -> None:
    sun = _client(people["security"])
    upload = io.BytesIO((FIXTURES / "external_entity.xml").read_bytes())
    upload.name = "report.xml"
    response = sun.post(reverse("security:import_list"), {"file": upload})
    assert response.status_code == 200 and "entities" in response.content.decode()
    upload = io.BytesIO((FIXTURES / "nmap_school.xml").read_bytes())
    upload.name = "nmap.xml"
    assert sun.post(reverse("security:import_list"), {"file": upload}).status_code == 302
    with school_scope(school):
        assert Finding.objects.filter(source="import").exists()


def test_it_counts_open_findings_on_the_overview(
    school: Any, people: dict[str, Any], web: Web
) -> None:
    web.page("/.git/HEAD", "ref: refs/heads/main\n")
    run(make_asset(school, web.url), "exposed_paths")
    page = _client(people["security"]).get(reverse("core:home")).content.decode()
    assert "module-security" in page
