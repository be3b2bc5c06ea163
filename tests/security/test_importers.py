"""nmap and OpenVAS/Greenbone reports: real-format samples, malformed and hostile XML."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from tests.security.conftest import FIXTURES, make_asset
from yuqing.core.tenancy import school_scope
from yuqing.security.importers import ImportRefused, detect_kind, nmap, openvas
from yuqing.security.models import Finding


def test_it_reads_an_nmap_report() -> None:
    report = nmap.parse((FIXTURES / "nmap_school.xml").read_bytes())
    assert report.hosts == {"203.0.113.10": ["www.yucai.edu.cn"], "203.0.113.11": []}
    assert report.open_ports == {"203.0.113.10": [22, 80, 443, 3306], "203.0.113.11": [3389, 445]}
    mysql = next(i for i in report.items if i.port == 3306)
    assert mysql.severity == 3 and mysql.evidence["product"] == "MySQL 5.5.62"


def test_it_reads_an_openvas_report() -> None:
    report = openvas.parse((FIXTURES / "openvas_school.xml").read_bytes())
    titles = {i.title: i for i in report.items}
    assert len(report.items) == 3  # the "Log" result is inventory, not a finding
    nginx = titles["nginx < 1.20.1 1-Byte Memory Overwrite Vulnerability"]
    assert nginx.severity == 4 and nginx.port == 443
    assert nginx.evidence["cves"] == ["CVE-2021-23017"]
    assert nginx.recommendation == "Update to version 1.20.1 or later."
    assert report.hosts["203.0.113.10"] == ["www.yucai.edu.cn"]


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
def test_it_refuses_hostile_xml(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    kind = detect_kind(data)
    with pytest.raises(ImportRefused, match="entities"):
        (nmap if kind == "nmap" else openvas).parse(data)


def test_it_refuses_malformed_xml_with_a_clear_error() -> None:
    with pytest.raises(ImportRefused, match="not well-formed"):
        nmap.parse((FIXTURES / "truncated_nmap.xml").read_bytes())
    with pytest.raises(ImportRefused, match="not an nmap"):
        nmap.parse(b"<html><body>hello</body></html>")


@pytest.mark.django_db
def test_it_turns_reports_into_findings_on_registered_assets(
    school: Any, people: dict[str, Any]
) -> None:
    from yuqing.security.services import scan_import

    web = make_asset(
        school, "https://www.yucai.edu.cn/", expected_ports=[80, 443], authorised=False
    )
    data = (FIXTURES / "nmap_school.xml").read_bytes()
    with school_scope(school):
        summary = scan_import(file=io.BytesIO(data), filename="nmap.xml", user=people["security"])
        again = scan_import(file=io.BytesIO(data), filename="nmap.xml", user=people["security"])
        on_web = Finding.objects.filter(asset=web).order_by("title")
        assert [f.evidence["port"] for f in on_web] == [22, 3306]  # 80 and 443 are expected
        assert all(f.seen_count == 2 for f in on_web)  # the second import folded into them
        assert summary.unknown_hosts == ["203.0.113.11"] == again.unknown_hosts
        unknown = Finding.objects.filter(asset=None, source="import")
        assert unknown.filter(title__contains="203.0.113.11").count() == 3  # host + 2 ports
        summary = scan_import(
            file=io.BytesIO((FIXTURES / "openvas_school.xml").read_bytes()),
            filename="openvas.xml",
            user=people["security"],
        )
        assert Finding.objects.filter(asset=web, check_key="import:openvas").count() == 2


@pytest.mark.django_db
def test_it_refuses_a_hostile_upload_with_a_form_error(school: Any, people: dict[str, Any]) -> None:
    from yuqing.security.services import scan_import

    with school_scope(school), pytest.raises(ValidationError, match="refused"):
        scan_import(
            file=io.BytesIO((FIXTURES / "billion_laughs.xml").read_bytes()),
            filename="x.xml",
            user=people["security"],
        )
