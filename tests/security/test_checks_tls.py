"""TLS: certificates made in the test, served by ssl-wrapped servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.security.conftest import Web, findings_of, make_asset, make_ca, make_cert, run
from yuqing.security.models import CheckRun

pytestmark = pytest.mark.django_db


def test_it_finds_a_self_signed_certificate(
    school: Any, tls_web: Callable[..., Web], tmp_path: Path
) -> None:
    site = tls_web(*make_cert(tmp_path))
    asset = make_asset(school, site.url)
    result = run(asset, "tls")
    assert result.status == CheckRun.Status.PROBLEMS
    found = findings_of(asset)
    assert (
        "chain" in found and "self-signed" in found["chain"].title.lower()
    ) or "自签名" in found["chain"].title
    assert result.result["self_signed"] is True


def test_it_finds_an_expired_certificate(
    school: Any, tls_web: Callable[..., Web], tmp_path: Path
) -> None:
    site = tls_web(*make_cert(tmp_path, expired=True))
    asset = make_asset(school, site.url)
    run(asset, "tls")
    assert findings_of(asset)["expiry"].severity == 4


def test_it_warns_at_30_and_alarms_at_7_days(
    school: Any, tls_web: Callable[..., Web], tmp_path: Path, settings: Any
) -> None:
    ca_cert, ca_key, ca_path = make_ca(tmp_path / "ca")
    settings.SECURITY_TLS_CA_FILE = str(ca_path)
    soon = tls_web(*make_cert(tmp_path / "a", days=20, ca=(ca_cert, ca_key)))
    sooner = tls_web(*make_cert(tmp_path / "b", days=5, ca=(ca_cert, ca_key)))
    a, b = make_asset(school, soon.url), make_asset(school, sooner.url)
    run(a, "tls")
    run(b, "tls")
    assert findings_of(a)["expiry"].severity == 2
    assert findings_of(b)["expiry"].severity == 3
    assert "chain" not in findings_of(a)


def test_it_finds_a_certificate_for_another_name(
    school: Any, tls_web: Callable[..., Web], tmp_path: Path, settings: Any
) -> None:
    ca_cert, ca_key, ca_path = make_ca(tmp_path / "ca")
    settings.SECURITY_TLS_CA_FILE = str(ca_path)
    site = tls_web(*make_cert(tmp_path, names=("www.other.edu.cn",), ca=(ca_cert, ca_key)))
    asset = make_asset(school, site.url)
    run(asset, "tls")
    assert "hostname" in findings_of(asset)


def test_it_passes_a_good_certificate(
    school: Any, tls_web: Callable[..., Web], tmp_path: Path, settings: Any
) -> None:
    ca_cert, ca_key, ca_path = make_ca(tmp_path / "ca")
    settings.SECURITY_TLS_CA_FILE = str(ca_path)
    site = tls_web(*make_cert(tmp_path, days=200, ca=(ca_cert, ca_key)))
    asset = make_asset(school, site.url)
    result = run(asset, "tls")
    assert result.status == CheckRun.Status.PASSED, findings_of(asset)
    assert result.result["trusted"] is True
    # The local server refuses TLS 1.0/1.1 (or OpenSSL here cannot even offer them).
    assert set(result.result["old_versions"].values()) <= {"refused", "untested"}
