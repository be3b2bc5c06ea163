from __future__ import annotations

import stat
from typing import Any

import pytest

from tests.publishing.conftest import approve, fresh
from yuqing.publishing import signing, workflow
from yuqing.publishing.cli import verify_main
from yuqing.publishing.models import Revision, Signature
from yuqing.publishing.services import signatures_verify

pytestmark = pytest.mark.django_db


def test_it_keeps_the_key_outside_the_database_with_mode_600() -> None:
    signing.private_key()
    path = signing.key_path()
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signing.current_key_id() == signing.key_id_of(signing.private_key().public_key())


def test_it_refuses_a_changed_statement() -> None:
    signed = signing.sign("content-sha256: abc")
    assert signing.verify(
        statement=signed.statement, signature=signed.signature, public_key=signed.public_key
    )
    assert not signing.verify(
        statement="content-sha256: abd", signature=signed.signature, public_key=signed.public_key
    )


def _approved(people: dict, draft: Any) -> Any:
    workflow.review_submit(draft=draft, user=people["staff"])
    for user in (people["admin"], people["reviewer"], people["reviewer"]):
        approve(draft, user)
    return fresh(draft)


def test_it_verifies_untouched_signatures(people: dict, draft: Any, capsys: Any) -> None:
    _approved(people, draft)
    report = signatures_verify()
    assert report.ok and report.signatures == 3
    assert verify_main([]) == 0
    assert "OK, 3 signatures" in capsys.readouterr().out


def test_it_reports_content_tampered_after_signing(people: dict, draft: Any, capsys: Any) -> None:
    draft = _approved(people, draft)
    # Someone with database access rewrites the signed text behind the application's back.
    Revision.objects.filter(pk=draft.current_revision_id).update(body="<p>篡改后的内容</p>")
    type(draft).objects.filter(pk=draft.pk).update(body="<p>篡改后的内容</p>")
    report = signatures_verify()
    assert not report.ok
    assert any("changed after signing" in p for p in report.problems)
    assert any("no longer matches" in p for p in report.problems)
    assert verify_main([]) == 1
    assert "MISMATCH" in capsys.readouterr().err


def test_it_reports_a_forged_signature(people: dict, draft: Any) -> None:
    _approved(people, draft)
    sig = Signature.objects.first()
    forged = sig.statement.replace("signer:", "signer: 999")
    Signature.objects.filter(pk=sig.pk).update(statement=forged)
    assert any("does not verify" in p for p in signatures_verify().problems)
