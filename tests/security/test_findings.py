"""Findings: folded across runs, open → assigned → fixed → verified by a re-run → closed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.security.conftest import Web, findings_of, make_asset, run
from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import school_scope
from yuqing.security import services
from yuqing.security.models import Finding

pytestmark = pytest.mark.django_db


def test_it_folds_the_same_problem_across_runs(school: Any, web: Web) -> None:
    web.page("/.git/HEAD", "ref: refs/heads/main\n")
    asset = make_asset(school, web.url)
    run(asset, "exposed_paths")
    run(asset, "exposed_paths")
    with school_scope(school):
        assert Finding.objects.count() == 1
        assert Finding.objects.get().seen_count == 2


def test_it_tracks_a_fix_to_a_verified_close(school: Any, web: Web, people: dict[str, Any]) -> None:
    sun, hui = people["security"], people["admin"]
    web.page("/.git/HEAD", "ref: refs/heads/main\n")
    asset = make_asset(school, web.url)
    run(asset, "exposed_paths")
    finding = findings_of(asset)["path:/.git/HEAD"]
    with school_scope(school):
        services.finding_assign(finding=finding, assignee=hui, user=sun)
        services.finding_mark_fixed(finding=finding, user=hui, note="已在 nginx 中禁止访问 /.git")
        # Not really fixed: the re-run still sees it, so it goes back to the assignee.
        finding, ok = services.finding_verify(finding=finding, user=sun)
        assert not ok and finding.status == Finding.Status.ASSIGNED
        services.finding_mark_fixed(finding=finding, user=hui, note="删除了 .git 目录")
        del web.routes["/.git/HEAD"]
        finding, ok = services.finding_verify(finding=finding, user=sun)
        assert ok and finding.status == Finding.Status.VERIFIED
        assert finding.verified_run is not None and finding.verified_by == sun
        services.finding_close(finding=finding, user=sun)
        actions = list(
            AuditEntry.objects.filter(object_type="security.finding")
            .order_by("seq")
            .values_list("action", flat=True)
        )
    assert actions == [
        "security.finding.assigned",
        "security.finding.fixed",
        "security.finding.verification_failed",
        "security.finding.fixed",
        "security.finding.verified",
        "security.finding.closed",
    ]


def test_it_reopens_a_closed_finding_that_comes_back(school: Any, web: Web, people: Any) -> None:
    web.page("/.env", "APP_KEY=base64:abc\nDB_PASSWORD=x\n")
    asset = make_asset(school, web.url)
    run(asset, "exposed_paths")
    finding = findings_of(asset)["path:/.env"]
    with school_scope(school):
        services.finding_mark_fixed(finding=finding, user=people["security"], note="removed")
        Finding.objects.filter(pk=finding.pk).update(status=Finding.Status.CLOSED)
    run(asset, "exposed_paths")
    finding.refresh_from_db()
    assert finding.status == Finding.Status.OPEN and finding.reopened_count == 1


def test_it_refuses_a_transition_from_the_wrong_state(school: Any, web: Web, people: Any) -> None:
    web.page("/.env", "A=1\nB=2\n")
    asset = make_asset(school, web.url)
    run(asset, "exposed_paths")
    finding = findings_of(asset)["path:/.env"]
    with school_scope(school), pytest.raises(ValidationError):
        services.finding_close(finding=finding, user=people["security"])


def test_it_accepts_a_risk_until_its_date(school: Any, web: Web, people: Any) -> None:
    web.page("/admin/", '<form><input type="password" name="pw"></form>')
    asset = make_asset(school, web.url)
    run(asset, "exposed_paths")
    finding = findings_of(asset)["path:/admin/"]
    today = timezone.localdate()
    with school_scope(school):
        with pytest.raises(ValidationError):
            services.finding_accept_risk(
                finding=finding, user=people["admin"], reason="", until=today
            )
        services.finding_accept_risk(
            finding=finding,
            user=people["admin"],
            reason="后台仅限校内使用，已有验证码",
            until=today + dt.timedelta(days=30),
        )
    run(asset, "exposed_paths")  # seen again, still accepted
    finding.refresh_from_db()
    assert finding.status == Finding.Status.ACCEPTED_RISK
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        assert services.risks_expire() == 1
    finding.refresh_from_db()
    assert finding.status == Finding.Status.OPEN


def test_it_reviews_the_platforms_own_accounts(school: Any, people: dict[str, Any]) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from yuqing.accounts.models import User

    alice, tang = people["admin"], people["staff"]
    now = timezone.now()
    with school_scope(school):
        TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
        User.objects.filter(pk=tang.pk).update(
            password_changed_at=now - dt.timedelta(days=400),
            last_login=now - dt.timedelta(days=120),
        )
        found = services.accounts_review(school_id=school.pk)
        keys = {f.fingerprint for f in found}
    assert f"accounts:password_age:{tang.pk}" in keys
    assert f"accounts:dormant:{tang.pk}" in keys
    assert f"accounts:no_second_factor:{alice.pk}" not in keys
    assert f"accounts:no_second_factor:{people['reviewer'].pk}" in keys
    sev = {f.fingerprint: f.severity for f in found}
    assert sev[f"accounts:no_second_factor:{people['reviewer'].pk}"] == 2  # privileged
    assert sev[f"accounts:no_second_factor:{tang.pk}"] == 1


def test_it_claims_due_assets_once(school: Any) -> None:
    asset = make_asset(school, "http://127.0.0.1:9/")
    with school_scope(school):
        type(asset).objects.filter(pk=asset.pk).update(next_check_at=timezone.now())
    assert services.assets_claim_due() == [(school.pk, asset.pk)]
    assert services.assets_claim_due() == []
