"""Views of the security module: parse, check access, call one service, render."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yuqing.core.permissions import require
from yuqing.security import services
from yuqing.security.checks import CHECKS, check_label, checks_for
from yuqing.security.forms import (
    AssetForm,
    AssignForm,
    ChecklistForm,
    ImportForm,
    NoteForm,
    RiskForm,
    SignForm,
    UploadForm,
    VerifyForm,
)
from yuqing.security.models import (
    SEVERITY_CSS,
    Asset,
    ChecklistRound,
    CheckRun,
    Evidence,
    Finding,
    ManualChecklist,
    ScanImport,
    Severity,
)

AGE_BUCKETS = ((7, "< 7"), (30, "7–30"), (90, "30–90"), (None, "> 90"))


def _can_manage(request: HttpRequest) -> bool:
    return bool(request.user.can("security.manage"))  # type: ignore[union-attr]


def _form_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --------------------------------------------------------------------------- dashboard


def _age_chart(now: dt.datetime) -> dict[str, Any]:
    high = [0] * len(AGE_BUCKETS)
    other = [0] * len(AGE_BUCKETS)
    for severity, first_seen in services.open_findings().values_list("severity", "first_seen"):
        age = (now - first_seen).days
        index = next(i for i, (limit, _l) in enumerate(AGE_BUCKETS) if limit is None or age < limit)
        (high if severity >= Severity.HIGH else other)[index] += 1
    return {
        "kind": "bar",
        "locale": "EN" if (get_language() or "").startswith("en") else "ZH",
        "labels": [str(_("%(range)s days") % {"range": label}) for _l, label in AGE_BUCKETS],
        "titles": [
            str(_("Open for %(range)s days") % {"range": label}) for _l, label in AGE_BUCKETS
        ],
        "series": [
            {"name": str(_("Medium and lower")), "data": other},
            {"name": str(_("High and critical")), "data": high},
        ],
        "empty": not any(high) and not any(other),
        "emptyText": str(_("No open findings")),
    }


@require("security.view")
def index(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    assets = Asset.objects.all()
    by_status = dict(assets.values_list("status").annotate(n=Count("id")).order_by())
    open_qs = services.open_findings()
    by_severity = dict(open_qs.values_list("severity").annotate(n=Count("id")).order_by())
    severities = [
        {"value": v, "label": label, "count": by_severity.get(v, 0), "css": SEVERITY_CSS[v]}
        for v, label in reversed(Severity.choices)
    ]
    statuses = [
        {"value": v, "label": label, "count": by_status.get(v, 0)}
        for v, label in Asset.Status.choices
    ]
    context = {
        "asset_count": assets.count(),
        "unauthorised": assets.filter(
            authorised_for_scanning=False, kind__in=Asset.SCANNABLE
        ).count(),
        "statuses": statuses,
        "severities": severities,
        "open_count": open_qs.count(),
        "chart": _age_chart(now),
        "certificates": services.expiring_certificates(30),
        "attention": assets.filter(status__in=["critical", "down", "warning"]).order_by(
            "status", "name"
        )[:8],
        "top_findings": open_qs.select_related("asset").order_by("-severity", "first_seen")[:8],
        "rounds_due": ChecklistRound.objects.filter(signed_at=None)
        .select_related("checklist")
        .order_by("due_on")[:6],
        "recent_runs": CheckRun.objects.select_related("asset").order_by("-started_at")[:8],
        "can_manage": _can_manage(request),
        "today": timezone.localdate(),
    }
    return render(request, "security/index.html", context)


# --------------------------------------------------------------------------- register


@require("security.view")
def asset_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    qs = Asset.objects.select_related("responsible").annotate(
        open_findings=Count("findings", filter=_active_q())
    )
    if kind in Asset.Kind.values:
        qs = qs.filter(kind=kind)
    if status in Asset.Status.values:
        qs = qs.filter(status=status)
    return render(
        request,
        "security/asset_list.html",
        {
            "assets": qs.order_by("kind", "name"),
            "kinds": Asset.Kind.choices,
            "statuses": Asset.Status.choices,
            "kind": kind,
            "status": status,
            "can_manage": _can_manage(request),
            "upload_form": UploadForm(),
        },
    )


def _active_q() -> Any:
    from django.db.models import Q

    return Q(findings__status__in=Finding.ACTIVE)


def _asset_form_page(request: HttpRequest, asset: Asset | None) -> HttpResponse:
    if request.method == "POST":
        form = AssetForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                saved = services.asset_save(asset=asset, user=request.user, **data)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                if (
                    asset is not None
                    and asset.authorised_for_scanning
                    and not saved.authorised_for_scanning
                ):
                    messages.warning(
                        request,
                        _("The address changed: authorise the asset again before checks run."),
                    )
                messages.success(request, _("Asset saved."))
                return redirect("security:asset_detail", pk=saved.pk)
    else:
        form = AssetForm(initial=AssetForm.initial_for(asset) if asset else None)
    return render(request, "security/asset_form.html", {"form": form, "asset": asset})


@require("security.manage")
def asset_create(request: HttpRequest) -> HttpResponse:
    return _asset_form_page(request, None)


@require("security.manage")
def asset_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _asset_form_page(request, get_object_or_404(Asset, pk=pk))


@require("security.view")
def asset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    asset = get_object_or_404(Asset.objects.select_related("responsible", "authorised_by"), pk=pk)
    runs = CheckRun.objects.filter(asset=asset).order_by("-started_at")
    latest = []
    for cls in checks_for(asset):
        last = runs.filter(check_key=cls.key).first()
        latest.append({"key": cls.key, "label": cls.label, "run": last})
    history = list(
        runs.filter(check_key="availability").exclude(status=CheckRun.Status.REFUSED)[:60]
    )[::-1]
    chart = {
        "kind": "line",
        "locale": "EN" if (get_language() or "").startswith("en") else "ZH",
        "labels": [timezone.localtime(r.started_at).strftime("%m-%d %H:%M") for r in history],
        "titles": [timezone.localtime(r.started_at).strftime("%Y-%m-%d %H:%M") for r in history],
        "series": [
            {"name": str(_("Response time (ms)")), "data": [r.elapsed_ms or 0 for r in history]}
        ],
        "empty": not any(r.elapsed_ms for r in history),
        "emptyText": str(_("No response times yet")),
    }
    uptime = None
    if history:
        up = sum(1 for r in history if r.result.get("up"))
        uptime = round(100 * up / len(history), 1)
    return render(
        request,
        "security/asset_detail.html",
        {
            "asset": asset,
            "latest": latest,
            "runs": runs.select_related("requested_by")[:30],
            "findings": asset.findings.order_by("-severity", "-last_seen")[:50],
            "chart": chart,
            "uptime": uptime,
            "can_manage": _can_manage(request),
            "checklists": asset.checklists.all(),
        },
    )


@require("security.manage")
@require_POST
def asset_authorise(request: HttpRequest, pk: int) -> HttpResponseBase:
    asset = get_object_or_404(Asset, pk=pk)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Confirm that the asset is the school's own."))
        return redirect("security:asset_detail", pk=asset.pk)
    try:
        services.asset_authorise(asset=asset, user=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Authorised: the first checks run within minutes."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("security:asset_detail", pk=asset.pk)


@require("security.manage")
@require_POST
def asset_revoke(request: HttpRequest, pk: int) -> HttpResponseBase:
    asset = get_object_or_404(Asset, pk=pk)
    try:
        services.asset_revoke(asset=asset, user=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Authorisation withdrawn: no more checks of this asset."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("security:asset_detail", pk=asset.pk)


@require("security.manage")
@require_POST
def asset_run(request: HttpRequest, pk: int) -> HttpResponseBase:
    from yuqing.security import tasks

    asset = get_object_or_404(Asset, pk=pk)
    if not asset.authorised_for_scanning:
        messages.error(
            request, _("Authorise the asset first: unauthorised assets are never checked.")
        )
        return redirect("security:asset_detail", pk=asset.pk)
    check = request.POST.get("check", "")
    keys = [check] if check in CHECKS else None
    tasks.run_asset_checks(asset.pk, CheckRun.Trigger.ON_DEMAND, request.user.pk, keys)
    messages.success(request, _("Checks started: results appear below in a minute."))
    return redirect("security:asset_detail", pk=asset.pk)


@require("security.manage")
@require_POST
def asset_baseline(request: HttpRequest, pk: int) -> HttpResponseBase:
    asset = get_object_or_404(Asset, pk=pk)
    services.baseline_reset(asset=asset, user=request.user)  # type: ignore[arg-type]
    messages.success(request, _("The next defacement check takes the page as it is now."))
    return redirect("security:asset_detail", pk=asset.pk)


@require("security.manage")
@require_POST
def asset_delete(request: HttpRequest, pk: int) -> HttpResponseBase:
    asset = get_object_or_404(Asset, pk=pk)
    services.asset_delete(asset=asset)
    messages.success(request, _("Asset removed from the register."))
    return redirect("security:asset_list")


@require("security.view")
def asset_export(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(
        services.assets_export_xlsx(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = 'attachment; filename="assets.xlsx"'
    return response


@require("security.manage")
@require_POST
def asset_import(request: HttpRequest) -> HttpResponseBase:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose an XLSX file."))
        return redirect("security:asset_list")
    try:
        result = services.assets_import_xlsx(file=form.cleaned_data["file"], user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("security:asset_list")
    messages.success(
        request,
        _("%(created)s assets added, %(updated)s updated. Authorise each one before checks run.")
        % {"created": result.created, "updated": result.updated},
    )
    for error in result.errors[:20]:
        messages.error(request, error)
    return redirect("security:asset_list")


@require("security.view")
def asset_notice(request: HttpRequest, pk: int) -> HttpResponse:
    from yuqing.security.notice import notice_docx

    asset = get_object_or_404(Asset, pk=pk)
    data = notice_docx(asset=asset, school=request.user.school)  # type: ignore[union-attr]
    response = HttpResponse(
        data,
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    response["Content-Disposition"] = f'attachment; filename="notice-{asset.pk}.docx"'
    return response


@require("security.view")
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(CheckRun.objects.select_related("asset", "requested_by"), pk=pk)
    diff = run.result.get("diff", "") if isinstance(run.result, dict) else ""
    return render(
        request,
        "security/run_detail.html",
        {"run": run, "label": check_label(run.check_key), "diff": diff},
    )


# --------------------------------------------------------------------------- findings


@require("security.view")
def finding_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "active")
    severity = request.GET.get("severity", "")
    source = request.GET.get("source", "")
    asset_id = request.GET.get("asset", "")
    qs = Finding.objects.select_related("asset", "assignee")
    if status == "active":
        qs = qs.filter(status__in=Finding.ACTIVE)
    elif status in Finding.Status.values:
        qs = qs.filter(status=status)
    if severity.isdigit():
        qs = qs.filter(severity__gte=int(severity))
    if source in Finding.Source.values:
        qs = qs.filter(source=source)
    if asset_id.isdigit():
        qs = qs.filter(asset_id=int(asset_id))
    page = Paginator(qs.order_by("-severity", "-last_seen", "-id"), 50).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "security/finding_list.html",
        {
            "page": page,
            "status": status,
            "severity": severity,
            "source": source,
            "asset_id": asset_id,
            "statuses": [
                ("active", _("Open, assigned or fixed")),
                *Finding.Status.choices,
                ("all", _("All")),
            ],
            "severities": list(reversed(Severity.choices)),
            "sources": Finding.Source.choices,
            "assets": Asset.objects.order_by("name").values_list("pk", "name"),
            "query": query.urlencode(),
            "now": timezone.now(),
        },
    )


@require("security.view")
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    finding = get_object_or_404(
        Finding.objects.select_related("asset", "assignee", "fixed_by", "verified_by", "last_run"),
        pk=pk,
    )
    from yuqing.audit.models import AuditEntry

    history = AuditEntry.objects.filter(
        object_type="security.finding", object_id=str(finding.pk)
    ).order_by("seq")[:50]
    return render(
        request,
        "security/finding_detail.html",
        {
            "finding": finding,
            "label": check_label(finding.check_key),
            "can_manage": _can_manage(request),
            "assign_form": AssignForm(initial={"assignee": finding.assignee_id}),
            "fix_form": NoteForm(),
            "verify_form": VerifyForm(),
            "risk_form": RiskForm(initial={"until": timezone.localdate() + dt.timedelta(days=90)}),
            "history": history,
            "now": timezone.now(),
        },
    )


def _finding_action(request: HttpRequest, pk: int, action: str) -> HttpResponseBase:
    finding = get_object_or_404(Finding, pk=pk)
    user: Any = request.user
    try:
        if action == "assign":
            form: Any = AssignForm(request.POST)
            if not form.is_valid():
                raise ValidationError(_("Choose a person."))
            services.finding_assign(
                finding=finding, assignee=form.cleaned_data["assignee"], user=user
            )
            messages.success(request, _("Assigned."))
        elif action == "fixed":
            form = NoteForm(request.POST)
            if not form.is_valid():
                raise ValidationError(_("Say what was done."))
            services.finding_mark_fixed(finding=finding, user=user, note=form.cleaned_data["note"])
            messages.success(request, _("Marked as fixed. Verify it with a new check."))
        elif action == "verify":
            form = VerifyForm(request.POST)
            form.is_valid()
            _f, ok = services.finding_verify(
                finding=finding, user=user, note=form.cleaned_data.get("note", "")
            )
            if ok:
                messages.success(request, _("Verified: the check no longer finds the problem."))
            else:
                messages.error(request, _("Not verified: the check still finds the problem."))
        elif action == "close":
            services.finding_close(finding=finding, user=user)
            messages.success(request, _("Finding closed."))
        elif action == "accept":
            form = RiskForm(request.POST)
            if not form.is_valid():
                raise ValidationError(_("Give a reason and a date."))
            services.finding_accept_risk(
                finding=finding,
                user=user,
                reason=form.cleaned_data["reason"],
                until=form.cleaned_data["until"],
            )
            messages.success(request, _("Risk accepted until the date given."))
        elif action == "reopen":
            services.finding_reopen(finding=finding, user=user)
            messages.success(request, _("Finding reopened."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("security:finding_detail", pk=finding.pk)


@require("security.manage")
@require_POST
def finding_assign(request: HttpRequest, pk: int) -> HttpResponseBase:
    return _finding_action(request, pk, "assign")


@require("security.manage")
@require_POST
def finding_fixed(request: HttpRequest, pk: int) -> HttpResponseBase:
    return _finding_action(request, pk, "fixed")


@require("security.manage")
@require_POST
def finding_verify(request: HttpRequest, pk: int) -> HttpResponseBase:
    return _finding_action(request, pk, "verify")


@require("security.manage")
@require_POST
def finding_close(request: HttpRequest, pk: int) -> HttpResponseBase:
    return _finding_action(request, pk, "close")


@require("security.manage")
@require_POST
def finding_accept(request: HttpRequest, pk: int) -> HttpResponseBase:
    return _finding_action(request, pk, "accept")


@require("security.manage")
@require_POST
def finding_reopen(request: HttpRequest, pk: int) -> HttpResponseBase:
    return _finding_action(request, pk, "reopen")


@require("security.manage")
@require_POST
def accounts_review(request: HttpRequest) -> HttpResponseBase:
    school_id = getattr(request.user, "school_id", None)
    if school_id is None:
        messages.error(request, _("Only people of a school can review its accounts."))
        return redirect("security:finding_list")
    found = services.accounts_review(school_id=int(school_id))
    messages.success(request, _("Accounts reviewed: %(count)s findings.") % {"count": len(found)})
    return redirect(f"{_url('security:finding_list')}?source=accounts")


def _url(name: str) -> str:
    from django.urls import reverse

    return reverse(name)


# --------------------------------------------------------------------------- imports


@require("security.view")
def import_list(request: HttpRequest) -> HttpResponse:
    form = ImportForm()
    if request.method == "POST":
        if not _can_manage(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("security.manage")
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                summary = services.scan_import(file=upload, filename=upload.name, user=request.user)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(
                    request,
                    _(
                        "%(findings)s findings from %(hosts)s hosts; %(unknown)s hosts are not in the register."
                    )
                    % {
                        "findings": summary.findings,
                        "hosts": len(summary.matched_hosts) + len(summary.unknown_hosts),
                        "unknown": len(summary.unknown_hosts),
                    },
                )
                return redirect("security:import_list")
    return render(
        request,
        "security/import_list.html",
        {
            "form": form,
            "imports": ScanImport.objects.select_related("uploaded_by")[:50],
            "can_manage": _can_manage(request),
        },
    )


# --------------------------------------------------------------------------- checklists


@require("security.view")
def checklist_list(request: HttpRequest) -> HttpResponse:
    checklists = list(ManualChecklist.objects.select_related("responsible", "asset"))
    for checklist in checklists:
        checklist.current = checklist.rounds.first()  # type: ignore[attr-defined]
    return render(
        request,
        "security/checklist_list.html",
        {
            "checklists": checklists,
            "can_manage": _can_manage(request),
            "today": timezone.localdate(),
        },
    )


def _checklist_form_page(request: HttpRequest, checklist: ManualChecklist | None) -> HttpResponse:
    if request.method == "POST":
        form = ChecklistForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = services.checklist_save(
                    checklist=checklist,
                    name=data["name"],
                    responsible=data["responsible"],
                    asset=data["asset"],
                    due_day=data["due_day"],
                    items=data["items"].splitlines(),
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                services.round_for(checklist=saved)
                messages.success(request, _("Checklist saved."))
                return redirect("security:checklist_detail", pk=saved.pk)
    else:
        initial = None
        if checklist is not None:
            initial = {
                "name": checklist.name,
                "responsible": checklist.responsible_id,
                "asset": checklist.asset_id,
                "due_day": checklist.due_day,
                "items": "\n".join(i.text for i in checklist.items.all()),
            }
        form = ChecklistForm(initial=initial)
    return render(request, "security/checklist_form.html", {"form": form, "checklist": checklist})


@require("security.manage")
def checklist_create(request: HttpRequest) -> HttpResponse:
    return _checklist_form_page(request, None)


@require("security.manage")
def checklist_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _checklist_form_page(request, get_object_or_404(ManualChecklist, pk=pk))


@require("security.view")
def checklist_detail(request: HttpRequest, pk: int) -> HttpResponse:
    checklist = get_object_or_404(ManualChecklist.objects.select_related("responsible"), pk=pk)
    current = checklist.rounds.first()
    return render(
        request,
        "security/checklist_detail.html",
        {
            "checklist": checklist,
            "items": checklist.items.all(),
            "current": current,
            "rounds": checklist.rounds.prefetch_related("evidence").select_related("signed_by")[
                :24
            ],
            "can_sign": current is not None
            and not current.is_signed
            and request.user.pk == checklist.responsible_id,
            "form": SignForm(),
            "can_manage": _can_manage(request),
            "today": timezone.localdate(),
        },
    )


@require("security.manage")
@require_POST
def checklist_sign(request: HttpRequest, pk: int) -> HttpResponseBase:
    checklist = get_object_or_404(ManualChecklist, pk=pk)
    current = checklist.rounds.first() or services.round_for(checklist=checklist)
    results = {
        item.pk: (
            request.POST.get(f"done_{item.pk}") == "on",
            request.POST.get(f"note_{item.pk}", "")[:500],
        )
        for item in checklist.items.all()
    }
    files = [(f, f.name or "evidence") for f in request.FILES.getlist("evidence_files")]
    try:
        services.checklist_sign(
            round=current,
            user=request.user,  # type: ignore[arg-type]
            results=results,
            note=request.POST.get("note", "")[:2000],
            files=files,
        )
        messages.success(request, _("Signed off. Thank you."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("security:checklist_detail", pk=checklist.pk)


@require("security.view")
def evidence_download(request: HttpRequest, pk: int) -> FileResponse:
    evidence = get_object_or_404(Evidence, pk=pk)
    from yuqing.audit.services import audit_record

    audit_record("security.evidence.viewed", obj=evidence)
    return FileResponse(
        evidence.file.open("rb"),
        as_attachment=True,
        filename=evidence.name,
        content_type=evidence.content_type,
    )
