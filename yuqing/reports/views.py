"""Views of the reports module: the archive, generating, one report, templates."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from yuqing.core.permissions import require
from yuqing.reports import compute, services
from yuqing.reports.forms import GenerateForm, NextStepsForm, TemplateForm
from yuqing.reports.models import Kind, Report, ReportTemplate

FACT_TITLES = {
    "organisation": gettext_lazy("Organisation"),
    "study": gettext_lazy("Study and training"),
    "security": gettext_lazy("Network security work"),
    "monitoring": gettext_lazy("Public-opinion monitoring and handling"),
    "education": gettext_lazy("Education work"),
    "incidents": gettext_lazy("Incidents handled"),
    "problems": gettext_lazy("Problems"),
}
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _can_generate(request: HttpRequest) -> bool:
    return bool(request.user.can("reports.generate"))  # type: ignore[union-attr]


def _generate_forms() -> list[dict[str, Any]]:
    today = timezone.localdate()
    out = []
    for kind, label in Kind.choices:
        start, end = compute.default_period(kind, today)
        out.append({"kind": kind, "label": label, "start": start, "end": end})
    return out


@require("reports.view")
def index(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    qs = Report.objects.select_related("generated_by").defer("data")
    if kind in Kind.values:
        qs = qs.filter(kind=kind)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "reports/index.html",
        {
            "page": page,
            "kind": kind,
            "kinds": Kind.choices,
            "presets": _generate_forms(),
            "form": GenerateForm(),
            "can_generate": _can_generate(request),
            "tab": "archive",
        },
    )


@require("reports.generate")
@require_POST
def generate(request: HttpRequest) -> HttpResponseBase:
    form = GenerateForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(e) for e in errors))
        return redirect("reports:index")
    try:
        report = services.report_generate(
            kind=form.cleaned_data["kind"],
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            user=request.user,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("reports:index")
    messages.success(request, _("The report was generated."))
    return redirect("reports:detail", pk=report.pk)


def _number_rows(report: Report) -> list[dict[str, Any]]:
    trends = report.data.get("trends") or {}
    rows = []
    for key, n in (report.data.get("numbers") or {}).items():
        rows.append({"key": key, **n, "trend": trends.get(key) or {}})
    return rows


@require("reports.view")
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(Report.objects.select_related("generated_by", "template"), pk=pk)
    versions = (
        Report.objects.filter(
            kind=report.kind, period_start=report.period_start, period_end=report.period_end
        )
        .defer("data")
        .order_by("-version")
    )
    data = report.data
    return render(
        request,
        "reports/detail.html",
        {
            "report": report,
            "data": data,
            "numbers": _number_rows(report),
            "lists": data.get("lists") or {},
            "tables": data.get("tables") or {},
            "facts": [
                (FACT_TITLES.get(k, k), v) for k, v in (data.get("facts") or {}).items() if v
            ],
            "versions": versions,
            "form": NextStepsForm(initial={"next_steps": report.next_steps}),
            "can_generate": _can_generate(request),
            "tab": "archive",
        },
    )


@require("reports.generate")
@require_POST
def next_steps(request: HttpRequest, pk: int) -> HttpResponseBase:
    report = get_object_or_404(Report, pk=pk)
    form = NextStepsForm(request.POST)
    if form.is_valid():
        services.report_next_steps_update(
            report=report,
            next_steps=form.cleaned_data["next_steps"],
            user=request.user,  # type: ignore[arg-type]
        )
        messages.success(request, _("Saved; the Word document was written again."))
    return redirect("reports:detail", pk=report.pk)


@require("reports.generate")
@require_POST
def regenerate(request: HttpRequest, pk: int) -> HttpResponseBase:
    old = get_object_or_404(Report, pk=pk)
    report = services.report_generate(
        kind=old.kind,
        start=old.period_start,
        end=old.period_end,
        user=request.user,  # type: ignore[arg-type]
        next_steps=old.next_steps,
    )
    changed = [
        k
        for k, v in (report.data.get("numbers") or {}).items()
        if (old.data.get("numbers") or {}).get(k, {}).get("value") != v["value"]
    ]
    if changed:
        messages.warning(
            request,
            _("Generated again; these numbers differ from version %(v)s: %(keys)s")
            % {
                "v": old.version,
                "keys": "、".join(report.data["numbers"][k]["label"] for k in changed),
            },
        )
    else:
        messages.success(
            request, _("Generated again; every number equals version %(v)s.") % {"v": old.version}
        )
    return redirect("reports:detail", pk=report.pk)


@require("reports.view")
def download(request: HttpRequest, pk: int) -> HttpResponseBase:
    report = get_object_or_404(Report, pk=pk)
    if not report.file:
        raise Http404
    services.report_downloaded(report=report)
    return FileResponse(
        report.file.open("rb"), as_attachment=True, filename=report.filename, content_type=DOCX
    )


@require("reports.generate")
def templates(request: HttpRequest) -> HttpResponseBase:
    form = TemplateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            data = services.template_check(
                file=form.cleaned_data["file"], filename=form.cleaned_data["file"].name
            )
        except ValidationError as exc:
            form.add_error("file", exc.messages)
        else:
            services.template_upload(
                kind=form.cleaned_data["kind"],
                name=form.cleaned_data["name"],
                data=data,
                user=request.user,  # type: ignore[arg-type]
            )
            messages.success(request, _("The template is in use for new reports."))
            return redirect("reports:templates")
    return render(
        request,
        "reports/templates.html",
        {
            "form": form,
            "templates": ReportTemplate.objects.select_related("uploaded_by"),
            "tab": "templates",
            "can_generate": True,
        },
    )


@require("reports.generate")
@require_POST
def template_deactivate(request: HttpRequest, pk: int) -> HttpResponseBase:
    template = get_object_or_404(ReportTemplate, pk=pk)
    services.template_deactivate(template=template)
    messages.success(request, _("New reports use the built-in layout again."))
    return redirect("reports:templates")


@require("reports.generate")
def template_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    template = get_object_or_404(ReportTemplate, pk=pk)
    return FileResponse(
        template.file.open("rb"),
        as_attachment=True,
        filename=f"template-{template.kind}.docx",
        content_type=DOCX,
    )


@require("reports.generate")
def channels(request: HttpRequest) -> HttpResponseBase:
    """Which of the school's alert channels receive which reports (checkbox per kind)."""
    from yuqing.alerts.models import Channel
    from yuqing.reports.models import ReportChannel

    all_channels = list(Channel.objects.order_by("name"))
    if request.method == "POST":
        services.report_channels_save(
            kinds_by_channel={c: request.POST.getlist(f"kinds-{c.pk}") for c in all_channels}
        )
        messages.success(request, _("Saved: the channels get the next reports of each kind."))
        return redirect("reports:channels")
    chosen = {rc.channel_id: set(rc.kinds or []) for rc in ReportChannel.objects.all()}
    rows = [
        {
            "channel": c,
            "kinds": [(k, label, k in chosen.get(c.pk, set())) for k, label in Kind.choices],
        }
        for c in all_channels
    ]
    return render(
        request,
        "reports/channels.html",
        {"rows": rows, "kinds": Kind.choices, "tab": "channels", "can_generate": True},
    )


@require("reports.generate")
@require_POST
def send(request: HttpRequest, pk: int) -> HttpResponseBase:
    report = get_object_or_404(Report, pk=pk)
    rows = services.report_send(report=report)
    if rows:
        messages.success(
            request,
            _("The summary is on its way to %(n)s channel(s); see each channel's delivery log.")
            % {"n": len(rows)},
        )
    else:
        messages.warning(request, _("No channel is set to receive this kind of report."))
    return redirect("reports:detail", pk=report.pk)
