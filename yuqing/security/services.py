"""Writes of the security module: the register, check runs, findings, imports, checklists.

Every state change of a finding is one atomic function that locks the row, checks the current
status, stamps who and when, and writes an audit entry with a dotted action name.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.accounts.models import User
from yuqing.audit.services import audit_record
from yuqing.lib import uploads
from yuqing.security import guard
from yuqing.security.checks import CHECKS, CheckContext, Outcome, checks_for
from yuqing.security.models import (
    SCHEDULE_INTERVAL,
    Asset,
    ChecklistItem,
    ChecklistRound,
    CheckRun,
    Evidence,
    Finding,
    ManualChecklist,
    ScanImport,
    Schedule,
    Severity,
)

PASSWORD_MAX_AGE_DAYS = 180
DORMANT_DAYS = 90
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
# Roles whose accounts without a second factor are a real risk (they change things).
PRIVILEGED_ROLES = frozenset({"admin", "reviewer", "security"})


def _now(now: dt.datetime | None = None) -> dt.datetime:
    return now or timezone.now()


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --------------------------------------------------------------------------- register


ADDRESS_FIELDS = ("url", "host", "allow_private")


def parse_ports(raw: str | Iterable[Any]) -> list[int]:
    """ "22, 80 443" -> [22, 80, 443]; a clear error for anything else."""
    values = raw.replace(",", " ").replace("，", " ").split() if isinstance(raw, str) else raw
    try:
        return guard.ports_in(values)
    except ValueError:
        raise ValidationError(_("Enter TCP port numbers from 1 to 65535.")) from None


def asset_save(*, asset: Asset | None = None, user: Any = None, **fields: Any) -> Asset:
    """Create or change an asset. Changing its address withdraws the authorisation.

    Authorisation is for one address: were it kept, changing the URL would point the checks at
    a system nobody authorised.
    """
    creating = asset is None
    asset = asset or Asset()
    before = {f: getattr(asset, f) for f in ADDRESS_FIELDS}
    for name, value in fields.items():
        if name in ("expected_ports", "scan_ports"):
            try:
                value = parse_ports(value)
            except ValidationError as exc:
                raise ValidationError({name: exc.messages}) from None
        setattr(asset, name, value.strip() if isinstance(value, str) else value)
    if asset.url and not asset.url.startswith(("http://", "https://")):
        raise ValidationError({"url": _("Enter an http:// or https:// address.")})
    if asset.scannable and not (asset.url or asset.host):
        raise ValidationError({"host": _("Enter the address of the asset.")})
    address_changed = not creating and any(getattr(asset, f) != before[f] for f in ADDRESS_FIELDS)
    if address_changed and asset.authorised_for_scanning:
        asset.authorised_for_scanning = False
        asset.authorised_at = None
        asset.authorised_by = None
    if not asset.checks:
        asset.checks = []
    asset.assign_school()
    asset.full_clean()
    asset.save()
    if address_changed and before.get("url") is not None:
        audit_record(
            "security.asset.address_changed",
            obj=asset,
            changes={f: [before[f], getattr(asset, f)] for f in ADDRESS_FIELDS},
        )
    return asset


def asset_authorise(*, asset: Asset, user: User, now: dt.datetime | None = None) -> Asset:
    """An administrator confirms the asset is the school's own and may be checked."""
    now = _now(now)
    if not asset.scannable:
        raise ValidationError(_("Only websites, domains, servers and devices are checked."))
    with transaction.atomic():
        won = Asset.objects.filter(pk=asset.pk, authorised_for_scanning=False).update(
            authorised_for_scanning=True, authorised_by=user, authorised_at=now, next_check_at=now
        )
        if not won:
            raise ValidationError(_("The asset is already authorised."))
        asset.refresh_from_db()
        audit_record(
            "security.asset.authorised",
            obj=asset,
            changes={"url": asset.url, "host": asset.host, "allow_private": asset.allow_private},
        )
    return asset


def asset_revoke(*, asset: Asset, user: User) -> Asset:
    with transaction.atomic():
        won = Asset.objects.filter(pk=asset.pk, authorised_for_scanning=True).update(
            authorised_for_scanning=False,
            authorised_by=None,
            authorised_at=None,
            next_check_at=None,
        )
        if not won:
            raise ValidationError(_("The asset is not authorised."))
        asset.refresh_from_db()
        audit_record("security.asset.authorisation_revoked", obj=asset)
    return asset


def asset_delete(*, asset: Asset) -> None:
    audit_record("security.asset.deleted", obj=asset, changes={"name": asset.name})
    asset.delete()


def baseline_reset(*, asset: Asset, user: User) -> Asset:
    """Forget the defacement baseline: the next defacement check takes the page as it is."""
    Asset.objects.filter(pk=asset.pk).update(
        baseline_text="", baseline_structure="", baseline_at=None
    )
    audit_record("security.asset.baseline_reset", obj=asset)
    asset.refresh_from_db()
    return asset


# --------------------------------------------------------------------------- running checks


def check_context(asset: Asset) -> CheckContext:
    return CheckContext(
        base_url=asset.base_url,
        host=asset.target_host,
        expected_ports=tuple(int(p) for p in asset.expected_ports or ()),
        scan_ports=tuple(int(p) for p in asset.scan_ports or ()),
        baseline_text=asset.baseline_text,
        baseline_structure=asset.baseline_structure,
        ca_file=str(getattr(settings, "SECURITY_TLS_CA_FILE", "") or ""),
        port_spacing=float(getattr(settings, "SECURITY_PORT_SPACING", 0.02)),
    )


def check_run(
    *,
    asset: Asset,
    check_key: str,
    trigger: str = CheckRun.Trigger.SCHEDULE,
    user: Any = None,
    now: dt.datetime | None = None,
) -> CheckRun:
    """Run one check of one asset, log the run, and fold what it found into findings."""
    run = CheckRun.objects.create(
        school_id=asset.school_id,
        asset=asset,
        check_key=check_key,
        trigger=trigger,
        started_at=_now(now),
        requested_by=user if getattr(user, "pk", None) else None,
    )
    cls = CHECKS.get(check_key)
    try:
        # The one gate: no target, no contact. Everything below connects through it.
        target = guard.target_for(asset)
    except guard.NotAuthorised as exc:
        return _finish(run, CheckRun.Status.REFUSED, str(exc))
    if cls is None or not cls.applies_to(asset):
        return _finish(run, CheckRun.Status.ERROR, _("This check does not apply to the asset."))
    try:
        outcome = asyncio.run(cls().run(target, check_context(asset)))
    except guard.NotAuthorised as exc:
        run.contacted = target.contacted
        return _finish(run, CheckRun.Status.REFUSED, str(exc))
    except Exception as exc:  # a check must never kill the worker; the run records why
        run.contacted = target.contacted
        return _finish(run, CheckRun.Status.ERROR, f"{type(exc).__name__}: {exc}"[:500])
    run.contacted = sorted(set(target.contacted))
    if outcome.error:
        return _finish(run, CheckRun.Status.ERROR, outcome.error, outcome)
    baseline = outcome.data.pop("baseline", None)
    if baseline is not None:
        Asset.objects.filter(pk=asset.pk).update(
            baseline_text=baseline["text"],
            baseline_structure=baseline["structure"],
            baseline_at=run.started_at,
        )
    status = CheckRun.Status.PROBLEMS if outcome.problems else CheckRun.Status.PASSED
    _finish(run, status, outcome.summary, outcome)
    findings_apply(run=run, outcome=outcome)
    return run


def _finish(run: CheckRun, status: str, summary: str, outcome: Outcome | None = None) -> CheckRun:
    run.status = status
    run.summary = summary[:500]
    run.finished_at = timezone.now()
    if outcome is not None:
        run.result = {**outcome.data, "problems": len(outcome.problems)}
        run.elapsed_ms = outcome.elapsed_ms
    run.save()
    return run


def asset_run_checks(
    *,
    asset: Asset,
    trigger: str = CheckRun.Trigger.SCHEDULE,
    user: Any = None,
    keys: Iterable[str] | None = None,
) -> list[CheckRun]:
    wanted = list(keys) if keys is not None else asset.enabled_checks()
    if not wanted:
        wanted = [c.key for c in checks_for(asset)]
    if trigger == CheckRun.Trigger.ON_DEMAND:
        audit_record("security.asset.checks_requested", obj=asset, changes={"checks": wanted})
    runs = [check_run(asset=asset, check_key=key, trigger=trigger, user=user) for key in wanted]
    if not runs:  # nothing applies (an account, a chat): still a logged, refused attempt
        runs.append(check_run(asset=asset, check_key="availability", trigger=trigger, user=user))
    asset_refresh_status(asset=asset)
    return runs


def asset_refresh_status(*, asset: Asset) -> str:
    active = Finding.objects.filter(asset=asset, status__in=Finding.ACTIVE)
    if active.filter(check_key="availability", fingerprint__endswith=":down").exists():
        status = Asset.Status.DOWN
    elif active.filter(severity__gte=Severity.HIGH).exists():
        status = Asset.Status.CRITICAL
    elif active.filter(severity__gte=Severity.LOW).exists():
        status = Asset.Status.WARNING
    elif CheckRun.objects.filter(asset=asset).exclude(status=CheckRun.Status.REFUSED).exists():
        status = Asset.Status.OK
    else:
        status = Asset.Status.UNCHECKED
    Asset.objects.filter(pk=asset.pk).update(status=status, last_checked_at=timezone.now())
    asset.status = status
    return status


def assets_claim_due(*, now: dt.datetime | None = None, limit: int = 50) -> list[tuple[int, int]]:
    """(school id, asset id) of authorised assets whose checks are due, each claimed once.

    The claim is a conditional UPDATE of ``next_check_at``: two schedulers never run the same
    asset twice, and a worker killed mid-run leaves the asset for its next period.
    """
    from yuqing.core.tenancy import all_schools

    now = _now(now)
    claimed: list[tuple[int, int]] = []
    with all_schools():
        due = (
            Asset.objects.filter(authorised_for_scanning=True, next_check_at__lte=now)
            .exclude(schedule=Schedule.OFF)
            .values_list("pk", "school_id", "schedule", "next_check_at")[:limit]
        )
        for pk, school_id, schedule, next_at in list(due):
            interval = SCHEDULE_INTERVAL.get(schedule, dt.timedelta(days=1))
            won = Asset.objects.filter(pk=pk, next_check_at=next_at).update(
                next_check_at=now + interval
            )
            if won:
                claimed.append((school_id, pk))
    return claimed


# --------------------------------------------------------------------------- findings


def _fingerprint(*parts: Any) -> str:
    raw = ":".join(str(p) for p in parts)
    return raw if len(raw) <= 200 else raw[:150] + hashlib.sha256(raw.encode()).hexdigest()[:40]


def finding_upsert(
    *,
    fingerprint: str,
    source: str,
    check_key: str,
    asset: Asset | None,
    severity: int,
    title: str,
    detail: str = "",
    recommendation: str = "",
    evidence: Mapping[str, Any] | None = None,
    run: CheckRun | None = None,
    now: dt.datetime | None = None,
) -> Finding:
    """The same problem seen again updates its finding; a fixed-and-gone one comes back."""
    now = _now(now)
    with transaction.atomic():
        finding = Finding.objects.select_for_update().filter(fingerprint=fingerprint).first()
        if finding is None:
            finding = Finding(
                fingerprint=fingerprint,
                source=source,
                check_key=check_key,
                asset=asset,
                first_seen=now,
            )
            if asset is not None:
                finding.school_id = asset.school_id
        reopen = finding.pk is not None and (
            finding.status in (Finding.Status.VERIFIED, Finding.Status.CLOSED)
            or (
                finding.status == Finding.Status.ACCEPTED_RISK
                and finding.risk_expires_on is not None
                and finding.risk_expires_on < timezone.localdate(now)
            )
        )
        if finding.pk is not None:
            finding.seen_count += 1
        finding.severity = severity
        finding.title = title[:300]
        finding.detail = detail
        finding.recommendation = recommendation
        finding.evidence = dict(evidence or {})
        finding.last_seen = now
        finding.gone_since = None
        finding.last_run = run
        old_status = finding.status
        if reopen:
            finding.status = Finding.Status.OPEN
            finding.reopened_count += 1
        finding.assign_school()
        finding.full_clean(validate_constraints=False)
        finding.save()
        if reopen:
            audit_record(
                "security.finding.reopened",
                obj=finding,
                changes={"status": [old_status, finding.status], "reason": "seen again"},
            )
    return finding


def findings_apply(*, run: CheckRun, outcome: Outcome) -> list[Finding]:
    """Fold a run's problems into findings; what the run no longer saw is marked gone, and a
    fix awaiting verification is verified by this very run."""
    asset = run.asset
    seen: list[Finding] = []
    for problem in outcome.problems:
        seen.append(
            finding_upsert(
                fingerprint=_fingerprint("check", run.asset_id, run.check_key, problem.key),
                source=Finding.Source.CHECK,
                check_key=run.check_key,
                asset=asset,
                severity=problem.severity,
                title=problem.title,
                detail=problem.detail,
                recommendation=problem.recommendation,
                evidence=problem.evidence,
                run=run,
                now=run.started_at,
            )
        )
    gone = Finding.objects.filter(
        asset=asset, check_key=run.check_key, source=Finding.Source.CHECK
    ).exclude(pk__in=[f.pk for f in seen])
    _mark_gone(gone, run)
    return seen


def _mark_gone(gone: Any, run: CheckRun | None) -> None:
    now = run.started_at if run is not None else timezone.now()
    gone.filter(status__in=Finding.ACTIVE, gone_since=None).update(gone_since=now)
    for finding in gone.filter(status=Finding.Status.FIXED):
        _transition(
            finding,
            frm=(Finding.Status.FIXED,),
            to=Finding.Status.VERIFIED,
            action="security.finding.verified",
            user=None,
            stamps={"verified_at": now, "verified_run": run},
            extra={"by": "scheduled re-run"},
        )


def _transition(
    finding: Finding,
    *,
    frm: Iterable[str],
    to: str,
    action: str,
    user: Any,
    stamps: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Finding:
    """Lock, check the current status, stamp, save, audit: one transition, all or nothing."""
    with transaction.atomic():
        locked = Finding.objects.select_for_update().get(pk=finding.pk)
        if locked.status not in tuple(frm):
            raise ValidationError(
                _("This finding is %(status)s; the action is not possible now.")
                % {"status": locked.get_status_display()}
            )
        old = locked.status
        locked.status = to
        for name, value in (stamps or {}).items():
            setattr(locked, name, value)
        locked.full_clean(validate_constraints=False)
        locked.save()
        changes: dict[str, Any] = {"status": [old, to]}
        for name, value in (stamps or {}).items():
            changes[name] = getattr(value, "pk", value)
        changes.update(extra or {})
        audit_record(action, obj=locked, changes=changes)
    finding.refresh_from_db()
    return finding


def finding_assign(*, finding: Finding, assignee: User, user: User) -> Finding:
    if assignee.school_id != finding.school_id or not assignee.is_active:
        raise ValidationError({"assignee": _("Choose an active person of this school.")})
    return _transition(
        finding,
        frm=(Finding.Status.OPEN, Finding.Status.ASSIGNED),
        to=Finding.Status.ASSIGNED,
        action="security.finding.assigned",
        user=user,
        stamps={"assignee": assignee, "assigned_at": timezone.now()},
    )


def finding_mark_fixed(*, finding: Finding, user: User, note: str) -> Finding:
    if not note.strip():
        raise ValidationError({"note": _("Say what was done.")})
    return _transition(
        finding,
        frm=(Finding.Status.OPEN, Finding.Status.ASSIGNED),
        to=Finding.Status.FIXED,
        action="security.finding.fixed",
        user=user,
        stamps={"fixed_at": timezone.now(), "fixed_by": user, "fix_note": note.strip()},
    )


def finding_verify(*, finding: Finding, user: User, note: str = "") -> tuple[Finding, bool]:
    """Verify a fix by re-running the check that found it. (finding, verified?)

    Findings from imported reports cannot be re-run here: they are verified by a person who
    says how (a new report, a look at the server), which the note records.
    """
    if finding.status != Finding.Status.FIXED:
        raise ValidationError(_("Only a fixed finding can be verified."))
    if finding.source == Finding.Source.IMPORT:
        if not note.strip():
            raise ValidationError(
                {"note": _("Say how the fix was verified (e.g. a new scan report).")}
            )
        return (
            _transition(
                finding,
                frm=(Finding.Status.FIXED,),
                to=Finding.Status.VERIFIED,
                action="security.finding.verified",
                user=user,
                stamps={"verified_at": timezone.now(), "verified_by": user},
                extra={"note": note.strip()},
            ),
            True,
        )
    if finding.source == Finding.Source.ACCOUNTS:
        accounts_review(school_id=finding.school_id)
    else:
        if finding.asset is None:
            raise ValidationError(_("The finding has no asset to check."))
        run = check_run(
            asset=finding.asset,
            check_key=finding.check_key,
            trigger=CheckRun.Trigger.VERIFY,
            user=user,
        )
        if run.status in (CheckRun.Status.ERROR, CheckRun.Status.REFUSED):
            raise ValidationError(
                _("The check could not run: %(why)s") % {"why": run.summary or run.status}
            )
    finding.refresh_from_db()
    if finding.status == Finding.Status.VERIFIED:
        Finding.objects.filter(pk=finding.pk).update(verified_by=user)
        finding.refresh_from_db()
        return finding, True
    # Still there: back to work, with the reason on the record.
    return (
        _transition(
            finding,
            frm=(Finding.Status.FIXED,),
            to=Finding.Status.ASSIGNED if finding.assignee_id else Finding.Status.OPEN,
            action="security.finding.verification_failed",
            user=user,
            extra={"last_seen": finding.last_seen},
        ),
        False,
    )


def finding_close(*, finding: Finding, user: User) -> Finding:
    return _transition(
        finding,
        frm=(Finding.Status.VERIFIED,),
        to=Finding.Status.CLOSED,
        action="security.finding.closed",
        user=user,
        stamps={"closed_at": timezone.now(), "closed_by": user},
    )


def finding_accept_risk(
    *, finding: Finding, user: User, reason: str, until: dt.date, today: dt.date | None = None
) -> Finding:
    today = today or timezone.localdate()
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the risk is accepted.")})
    if until <= today or until > today + dt.timedelta(days=366):
        raise ValidationError({"until": _("Choose a date within the next year.")})
    return _transition(
        finding,
        frm=Finding.ACTIVE,
        to=Finding.Status.ACCEPTED_RISK,
        action="security.finding.risk_accepted",
        user=user,
        stamps={"risk_reason": reason.strip(), "risk_expires_on": until, "risk_accepted_by": user},
    )


def finding_reopen(*, finding: Finding, user: User) -> Finding:
    return _transition(
        finding,
        frm=(Finding.Status.ACCEPTED_RISK, Finding.Status.VERIFIED, Finding.Status.CLOSED),
        to=Finding.Status.OPEN,
        action="security.finding.reopened",
        user=user,
    )


def risks_expire(*, today: dt.date | None = None) -> int:
    """Accepted risks past their date become open again (run daily, all schools)."""
    from yuqing.core.tenancy import all_schools, school_scope

    today = today or timezone.localdate()
    count = 0
    with all_schools():
        expired = list(
            Finding.objects.filter(
                status=Finding.Status.ACCEPTED_RISK, risk_expires_on__lt=today
            ).values_list("pk", "school_id")
        )
    for pk, school_id in expired:
        with school_scope(school_id):
            finding = Finding.objects.get(pk=pk)
            _transition(
                finding,
                frm=(Finding.Status.ACCEPTED_RISK,),
                to=Finding.Status.OPEN,
                action="security.finding.risk_expired",
                user=None,
            )
            count += 1
    return count


# --------------------------------------------------------------------------- platform accounts


def accounts_review(*, school_id: int, now: dt.datetime | None = None) -> list[Finding]:
    """The platform's own accounts as findings: old passwords, no second factor, dormant."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from yuqing.accounts.models import RoleAssignment

    now = _now(now)
    users = list(User.objects.filter(school_id=school_id, is_active=True).order_by("username"))
    with_device = set(
        TOTPDevice.objects.filter(user__in=users, confirmed=True).values_list("user_id", flat=True)
    )
    roles: dict[int, set[str]] = {}
    for uid, role in RoleAssignment.objects.filter(user__in=users).values_list("user_id", "role"):
        roles.setdefault(uid, set()).add(role)
    seen: list[Finding] = []

    def add(kind: str, user: User, severity: int, title: str, detail: str, fix: str) -> None:
        seen.append(
            finding_upsert(
                fingerprint=_fingerprint("accounts", kind, user.pk),
                source=Finding.Source.ACCOUNTS,
                check_key="accounts",
                asset=None,
                severity=severity,
                title=title,
                detail=detail,
                recommendation=fix,
                evidence={"user": user.username, "kind": kind},
                now=now,
            )
        )

    for user in users:
        name = str(user)
        changed = user.password_changed_at or user.date_joined
        age = (now - changed).days if changed else None
        if age is not None and age > PASSWORD_MAX_AGE_DAYS:
            add(
                "password_age",
                user,
                Severity.MEDIUM,
                _("%(name)s has not changed the password for %(days)s days")
                % {"name": name, "days": age},
                _("Last changed on %(date)s.") % {"date": timezone.localdate(changed)},
                _("Ask the person to change the password."),
            )
        if user.pk not in with_device:
            privileged = bool(roles.get(user.pk, set()) & PRIVILEGED_ROLES)
            add(
                "no_second_factor",
                user,
                Severity.MEDIUM if privileged else Severity.LOW,
                _("%(name)s signs in without a second factor") % {"name": name},
                _("No confirmed authenticator app."),
                _("Ask the person to set up an authenticator app under their account."),
            )
        last = user.last_login
        if last is not None and (now - last).days > DORMANT_DAYS:
            add(
                "dormant",
                user,
                Severity.LOW,
                _("%(name)s has not signed in for %(days)s days")
                % {"name": name, "days": (now - last).days},
                _("Last sign-in on %(date)s.") % {"date": timezone.localdate(last)},
                _("Deactivate the account if the person no longer needs it."),
            )
    gone = Finding.objects.filter(school_id=school_id, source=Finding.Source.ACCOUNTS).exclude(
        pk__in=[f.pk for f in seen]
    )
    _mark_gone(gone, None)
    return seen


# --------------------------------------------------------------------------- scan imports


@dataclass
class ImportSummary:
    scan: ScanImport
    findings: int = 0
    matched_hosts: list[str] = field(default_factory=list)
    unknown_hosts: list[str] = field(default_factory=list)


def _read(file: IO[bytes], limit: int) -> bytes:
    try:
        data, _digest = uploads.read_upload(file, limit)
    except uploads.UploadRejected as exc:
        raise ValidationError(exc.message) from None
    return data


def _match_assets() -> dict[str, Asset]:
    table: dict[str, Asset] = {}
    for asset in Asset.objects.exclude(kind__in=["official_account", "group_chat"]):
        for host in guard.hosts_of(asset):
            table.setdefault(host, asset)
    return table


def scan_import(
    *, file: IO[bytes], filename: str, user: Any, kind: str | None = None
) -> ImportSummary:
    """Parse an nmap or OpenVAS report into findings on the matching assets."""
    from yuqing.security import importers

    data = _read(file, importers.MAX_REPORT_BYTES)
    kind = kind or importers.detect_kind(data)
    if kind is None:
        raise ValidationError(_("This is neither an nmap nor an OpenVAS/Greenbone XML report."))
    try:
        report = importers.parse_report(kind, data)
    except importers.ImportRefused as exc:
        raise ValidationError(_("The report was refused: %(why)s") % {"why": exc}) from None
    sha = hashlib.sha256(data).hexdigest()
    scan = ScanImport(
        kind=kind,
        filename=filename[:255],
        sha256=sha,
        uploaded_by=user if getattr(user, "pk", None) else None,
    )
    scan.file.save(f"{sha}.xml", ContentFile(data), save=False)
    scan.assign_school()
    scan.full_clean()
    scan.save()
    summary = ImportSummary(scan)
    assets = _match_assets()
    now = timezone.now()

    def asset_of(address: str) -> Asset | None:
        for name in [address, *report.hosts.get(address, [])]:
            if name.lower() in assets:
                return assets[name.lower()]
        return None

    for address in sorted(report.hosts):
        asset = asset_of(address)
        (summary.matched_hosts if asset else summary.unknown_hosts).append(address)
        if asset is None:
            finding_upsert(
                fingerprint=_fingerprint("import", "unknown-host", address),
                source=Finding.Source.IMPORT,
                check_key=f"import:{kind}",
                asset=None,
                severity=Severity.LOW,
                title=_("Host %(host)s in the scan report is not in the register")
                % {"host": address},
                detail=", ".join(report.hosts.get(address, [])),
                recommendation=_("Register the host, or find out whose it is."),
                evidence={"import": scan.pk, "host": address},
                now=now,
            )
            summary.findings += 1
    for item in report.items:
        asset = asset_of(item.host)
        if kind == "nmap" and asset is not None and item.port in (asset.expected_ports or []):
            continue  # an expected port is not a problem
        title = item.title
        if kind == "nmap":
            title = _("Unexpected open port %(port)s on %(host)s") % {
                "port": item.title,
                "host": item.host,
            }
        finding_upsert(
            fingerprint=_fingerprint("import", kind, asset.pk if asset else item.host, item.key),
            source=Finding.Source.IMPORT,
            check_key=f"import:{kind}",
            asset=asset,
            severity=item.severity,
            title=title,
            detail=item.detail,
            recommendation=item.recommendation,
            evidence={**item.evidence, "import": scan.pk, "host": item.host},
            now=now,
        )
        summary.findings += 1
    scan.stats = {
        "findings": summary.findings,
        "hosts": len(report.hosts),
        "matched": summary.matched_hosts,
        "unknown": summary.unknown_hosts,
    }
    scan.save(update_fields=["stats"])
    audit_record("security.scan.imported", obj=scan, changes=scan.stats)
    return summary


# --------------------------------------------------------------------------- checklists


def checklist_save(
    *,
    checklist: ManualChecklist | None = None,
    name: str,
    responsible: User,
    items: list[str],
    asset: Asset | None = None,
    due_day: int = 25,
) -> ManualChecklist:
    items = [i.strip() for i in items if i.strip()]
    if not items:
        raise ValidationError({"items": _("Enter at least one item.")})
    if not 1 <= due_day <= 28:
        raise ValidationError({"due_day": _("Choose a day from 1 to 28.")})
    checklist = checklist or ManualChecklist()
    checklist.name = name.strip()
    checklist.responsible = responsible
    checklist.asset = asset
    checklist.due_day = due_day
    checklist.assign_school()
    if responsible.school_id != checklist.school_id:
        raise ValidationError({"responsible": _("Choose a person of this school.")})
    checklist.full_clean()
    with transaction.atomic():
        checklist.save()
        existing = list(checklist.items.all())
        for index, text in enumerate(items):
            if index < len(existing):
                row = existing[index]
                row.text, row.position = text[:300], index
                row.save()
            else:
                ChecklistItem.objects.create(
                    checklist=checklist,
                    text=text[:300],
                    position=index,
                    school_id=checklist.school_id,
                )
        for row in existing[len(items) :]:
            row.delete()
    return checklist


def round_for(*, checklist: ManualChecklist, today: dt.date | None = None) -> ChecklistRound:
    today = today or timezone.localdate()
    period = today.replace(day=1)
    found = ChecklistRound.objects.filter(checklist=checklist, period=period).first()
    if found is not None:
        return found
    return ChecklistRound.objects.create(
        checklist=checklist,
        period=period,
        due_on=period.replace(day=checklist.due_day),
        school_id=checklist.school_id,
    )


def checklist_rounds_open(*, today: dt.date | None = None) -> int:
    """Open this month's round of every active checklist (the monthly schedule)."""
    from yuqing.core.tenancy import all_schools, school_scope

    with all_schools():
        lists = list(ManualChecklist.objects.filter(active=True).values_list("pk", "school_id"))
    for pk, school_id in lists:
        with school_scope(school_id):
            round_for(checklist=ManualChecklist.objects.get(pk=pk), today=today)
    return len(lists)


EVIDENCE_KINDS = frozenset({"pdf", "png", "jpeg", "zip", "txt"})


def _evidence_type(kind: str, name: str) -> tuple[str, str]:
    """(content type, extension) of a sniffed kind; a ZIP named .docx/.xlsx/.pptx keeps that."""
    ctype, ext = uploads.CONTENT_TYPES[kind], uploads.EXTENSIONS[kind]
    if kind == "zip":  # docx, xlsx (zip containers) too
        lowered = name.lower()
        for office in (".docx", ".xlsx", ".pptx"):
            if lowered.endswith(office):
                return ctype, office
    return ctype, ext


def _not_evidence(name: str) -> ValidationError:
    return ValidationError(
        _("%(name)s is not a PDF, image, Office document or text file.") % {"name": name}
    )


def evidence_add(*, round: ChecklistRound, file: IO[bytes], name: str, user: Any) -> Evidence:
    try:
        checked = uploads.check_upload(file, allowed=EVIDENCE_KINDS, max_bytes=MAX_EVIDENCE_BYTES)
    except uploads.UploadRejected as exc:
        if exc.reason == "empty":
            raise ValidationError(_("%(name)s is empty.") % {"name": name}) from None
        if exc.reason == "type":
            raise _not_evidence(name) from None
        raise ValidationError(exc.message) from None
    ctype, ext = _evidence_type(checked.kind, name)
    sha = checked.sha256
    evidence = Evidence(
        round=round,
        name=name[:255],
        sha256=sha,
        size=checked.size,
        content_type=ctype,
        uploaded_by=user if getattr(user, "pk", None) else None,
        school_id=round.school_id,
    )
    evidence.file.save(f"{sha[:2]}/{sha}{ext}", ContentFile(checked.data), save=False)
    evidence.full_clean()
    evidence.save()
    return evidence


def checklist_sign(
    *,
    round: ChecklistRound,
    user: User,
    results: Mapping[int, tuple[bool, str]],
    note: str,
    files: Iterable[tuple[Any, str]],  # (uploaded file, its name)
    now: dt.datetime | None = None,
) -> ChecklistRound:
    """The responsible person signs the month off: every item done or explained, evidence on."""
    checklist = round.checklist
    if user.pk != checklist.responsible_id:
        raise ValidationError(_("Only the responsible person can sign this checklist off."))
    items = list(checklist.items.all())
    stored: dict[str, dict[str, Any]] = {}
    for item in items:
        done, item_note = results.get(item.pk, (False, ""))
        if not done and not item_note.strip():
            raise ValidationError(
                _("“%(item)s” is not done: say why in its note.") % {"item": item.text}
            )
        stored[str(item.pk)] = {"text": item.text, "done": bool(done), "note": item_note.strip()}
    files = list(files)
    if not files and not round.evidence.exists():
        raise ValidationError(_("Attach evidence (a screenshot, a report or a log)."))
    with transaction.atomic():
        locked = ChecklistRound.objects.select_for_update().get(pk=round.pk)
        if locked.signed_at is not None:
            raise ValidationError(_("This month is already signed off."))
        for fh, name in files:
            evidence_add(round=locked, file=fh, name=name, user=user)
        locked.results = stored
        locked.note = note.strip()
        locked.signed_at = _now(now)
        locked.signed_by = user
        locked.save()
        audit_record(
            "security.checklist.signed",
            obj=locked,
            changes={"items": stored, "evidence": locked.evidence.count()},
        )
    round.refresh_from_db()
    return round


# --------------------------------------------------------------------------- XLSX register


XLSX_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # field, English header, other accepted headers
    ("kind", "Kind", ("类型",)),
    ("name", "Name", ("名称",)),
    ("url", "URL", ("网址", "地址")),
    ("host", "Host", ("主机", "IP", "域名")),
    ("platform", "Platform", ("平台",)),
    ("account_id", "Account ID", ("账号", "群号")),
    ("operating_system", "Operating system", ("操作系统",)),
    ("owner_unit", "Department", ("部门", "责任部门")),
    ("purpose", "Purpose", ("用途",)),
    ("administrators", "Administrators", ("管理员",)),
    ("responsible", "Responsible (user name)", ("责任人",)),
    ("expected_ports", "Expected ports", ("开放端口", "预期端口")),
    ("notes", "Notes", ("备注",)),
)


def assets_export_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "assets"
    sheet.append([header for _f, header, _alt in XLSX_COLUMNS] + ["Authorised", "Status"])
    for asset in Asset.objects.select_related("responsible").order_by("kind", "name"):
        row: list[Any] = []
        for name, _header, _alt in XLSX_COLUMNS:
            value = getattr(asset, name)
            if name == "responsible":
                value = asset.responsible.username if asset.responsible else ""
            elif name == "expected_ports":
                value = ", ".join(str(p) for p in value or [])
            row.append(value)
        row += ["yes" if asset.authorised_for_scanning else "no", asset.get_status_display()]
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class RegisterImport:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def assets_import_xlsx(*, file: IO[bytes], user: Any) -> RegisterImport:
    """Create or update assets from a sheet (by kind and name). Never authorises anything:
    checks start only after an administrator authorises each asset on its page."""
    from openpyxl import load_workbook

    data = _read(file, 5 * 1024 * 1024)
    if not data.startswith(b"PK\x03\x04"):
        raise ValidationError(_("This is not an XLSX file."))
    try:
        uploads.check_office_package(data, name="XLSX")
    except uploads.UploadRejected as exc:
        raise ValidationError(exc.message) from None
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on broken files
        raise ValidationError(_("The XLSX file cannot be read: %(why)s") % {"why": exc}) from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [str(c or "").strip() for c in next(rows, ())]
    columns: dict[int, str] = {}
    for index, title in enumerate(header):
        for name, english, others in XLSX_COLUMNS:
            if title.lower() == english.lower() or title in others or title.lower() == name:
                columns[index] = name
    if "name" not in columns.values() or "kind" not in columns.values():
        raise ValidationError(_("The first row must name the columns; Kind and Name are needed."))
    kinds = {k.value: k.value for k in Asset.Kind} | {
        str(k.label): k.value for k in Asset.Kind
    } | {
        "网站": "website", "域名": "domain", "服务器": "server", "设备": "device",
        "公众号": "official_account", "工作群": "group_chat",
    }  # fmt: skip
    people = {u.username: u for u in User.objects.filter(is_active=True)}
    result = RegisterImport()
    for number, raw in enumerate(rows, start=2):
        if raw is None or not any(v not in (None, "") for v in raw):
            continue
        values = {
            columns[i]: ("" if v is None else str(v).strip())
            for i, v in enumerate(raw)
            if i in columns
        }
        kind = kinds.get(values.get("kind", ""), "")
        if not kind:
            result.errors.append(
                _("Row %(row)s: unknown kind %(kind)r.")
                % {"row": number, "kind": values.get("kind")}
            )
            continue
        responsible = values.pop("responsible", "")
        fields: dict[str, Any] = {k: v for k, v in values.items() if k != "kind"}
        fields["kind"] = kind
        if responsible:
            if responsible not in people:
                result.errors.append(
                    _("Row %(row)s: no user %(user)s.") % {"row": number, "user": responsible}
                )
                continue
            fields["responsible"] = people[responsible]
        existing = Asset.objects.filter(kind=kind, name=fields.get("name", "")).first()
        try:
            with transaction.atomic():
                asset_save(asset=existing, user=user, **fields)
        except ValidationError as exc:
            result.errors.append(_("Row %(row)s: %(why)s") % {"row": number, "why": _errors(exc)})
            continue
        if existing is None:
            result.created += 1
        else:
            result.updated += 1
    audit_record(
        "security.asset.imported",
        changes={
            "created": result.created,
            "updated": result.updated,
            "errors": len(result.errors),
        },
    )
    return result


def open_findings(asset: Asset | None = None) -> Any:
    qs = Finding.objects.filter(status__in=Finding.ACTIVE)
    return qs.filter(asset=asset) if asset is not None else qs


def expiring_certificates(days: int = 30) -> list[dict[str, Any]]:
    """The latest TLS result of each asset whose certificate ends within ``days``."""
    out: list[dict[str, Any]] = []
    for asset in Asset.objects.filter(authorised_for_scanning=True).exclude(url=""):
        run = (
            CheckRun.objects.filter(asset=asset, check_key="tls")
            .filter(Q(status=CheckRun.Status.PASSED) | Q(status=CheckRun.Status.PROBLEMS))
            .order_by("-started_at")
            .first()
        )
        if run is None or "days_left" not in run.result:
            continue
        if int(run.result["days_left"]) <= days:
            out.append({"asset": asset, "days_left": int(run.result["days_left"]), "run": run})
    return sorted(out, key=lambda e: e["days_left"])
