"""Set-up pages of the monitor: sources and their health, schemes, imports, manual entry, tokens.

Views parse, check access (``require``), call one service and render. Reads go through the
scoped default managers, so a person sees their own school's rows only.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yuqing.core.permissions import require
from yuqing.monitor import setup_services as services
from yuqing.monitor.collect.rsshub import route_spec
from yuqing.monitor.forms_setup import (
    SOURCE_FORMS,
    ApiTokenForm,
    ImportMappingForm,
    ImportUploadForm,
    ManualEntryForm,
    RssHubSourceForm,
    SchemeForm,
    SchemeTestForm,
    put_errors,
)
from yuqing.monitor.models import ApiToken, Evidence, FetchLog, ImportJob, Mention, Scheme, Source

FETCH_LOG_ROWS = 100
RECENT_FOR_TEST = 15


def _user(request: HttpRequest) -> Any:
    return request.user


def _can_manage(request: HttpRequest) -> bool:
    return bool(_user(request).can("monitor.manage"))


# -- sources ----------------------------------------------------------------------------------

HEALTH_CSS = {
    Source.Health.OK: "badge-success",
    Source.Health.SLOW: "badge-warning",
    Source.Health.FAILING: "badge-danger",
    Source.Health.BACKING_OFF: "badge-danger",
    Source.Health.NEW: "badge-primary",
    Source.Health.PAUSED: "badge-muted",
}


def _health_rows(sources: list[Source]) -> list[dict[str, Any]]:
    rows = []
    for source in sources:
        if not source.polls and source.enabled:
            # Imports, pushes and manual entry are never polled: "not polled yet" would alarm.
            rows.append(
                {
                    "source": source,
                    "health": "passive",
                    "health_label": _("Receives items"),
                    "health_css": "badge-muted",
                }
            )
            continue
        health = source.health()
        rows.append(
            {
                "source": source,
                "health": health,
                "health_label": Source.Health(health).label,
                "health_css": HEALTH_CSS[Source.Health(health)],
            }
        )
    return rows


@require("monitor.view")
def sources(request: HttpRequest) -> HttpResponse:
    """Every source's health at a glance; the table refreshes itself (htmx) every 30 s."""
    rows = _health_rows(list(Source.objects.order_by("name")))
    counts = Counter(r["health"] for r in rows)
    summary = [
        (Source.Health(h).label, counts.get(h, 0), HEALTH_CSS[Source.Health(h)])
        for h in (
            Source.Health.OK,
            Source.Health.SLOW,
            Source.Health.FAILING,
            Source.Health.BACKING_OFF,
            Source.Health.NEW,
            Source.Health.PAUSED,
        )
    ]
    context = {
        "rows": rows,
        "summary": summary,
        "can_manage": _can_manage(request),
        "kinds": [(k, Source.Kind(k).label) for k in SOURCE_FORMS],
        "tab": "sources",
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "monitor/setup/_sources_table.html", context)
    return render(request, "monitor/setup/sources.html", context)


@require("monitor.view")
def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    logs = FetchLog.objects.filter(source=source).order_by("-started_at")[:FETCH_LOG_ROWS]
    route = ""
    if source.kind == Source.Kind.RSSHUB:
        route = str((source.config or {}).get("route", ""))
    return render(
        request,
        "monitor/setup/source_detail.html",
        {
            "source": source,
            "row": _health_rows([source])[0],
            "logs": logs,
            "route": route,
            "can_manage": _can_manage(request),
            "tokens": ApiToken.objects.filter(source=source),
            "tab": "sources",
        },
    )


def _form_class(kind: str) -> Any:
    try:
        return SOURCE_FORMS[kind]
    except KeyError:
        raise Http404("no such kind of source") from None


@require("monitor.manage")
def source_add(request: HttpRequest, kind: str) -> HttpResponse:
    form_class = _form_class(kind)
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source = services.source_create(kind=kind, **form.service_kwargs())
        except ValidationError as exc:
            put_errors(form, exc)
        else:
            messages.success(request, _("Source “%(name)s” added.") % {"name": source.name})
            return redirect("monitor:source_detail", pk=source.pk)
    return render(
        request,
        "monitor/setup/source_form.html",
        {"form": form, "kind": kind, "kind_label": Source.Kind(kind).label, "tab": "sources"},
    )


@require("monitor.manage")
def source_edit(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    form_class = _form_class(source.kind)
    form = form_class(request.POST or None, source=source)
    if request.method == "POST" and form.is_valid():
        try:
            services.source_update(source=source, **form.service_kwargs())
        except ValidationError as exc:
            put_errors(form, exc)
        else:
            messages.success(request, _("Source saved."))
            return redirect("monitor:source_detail", pk=source.pk)
    return render(
        request,
        "monitor/setup/source_form.html",
        {
            "form": form,
            "source": source,
            "kind": source.kind,
            "kind_label": source.get_kind_display(),
            "tab": "sources",
        },
    )


@require("monitor.manage")
def source_rsshub_params(request: HttpRequest) -> HttpResponse:
    """The parameter fields of the picked RSSHub route (swapped into the form by htmx)."""
    key = request.GET.get("route_key", "")
    if key:
        try:
            route_spec(key)
        except ValueError:
            raise Http404("unknown route") from None
    form = RssHubSourceForm(initial={"route_key": key})
    return render(request, "monitor/setup/_rsshub_params.html", {"form": form})


@require("monitor.manage")
@require_POST
def source_poll(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    services.source_poll_now(source=source)
    messages.success(request, _("The source will be polled within a minute."))
    return redirect("monitor:source_detail", pk=source.pk)


@require("monitor.manage")
@require_POST
def source_enabled(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    enabled = request.POST.get("enabled") == "1"
    services.source_update(source=source, enabled=enabled)
    messages.success(request, _("Source resumed.") if enabled else _("Source paused."))
    return redirect("monitor:source_detail", pk=source.pk)


@require("monitor.manage")
@require_POST
def source_delete(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    try:
        services.source_delete(source=source)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("monitor:source_detail", pk=source.pk)
    messages.success(request, _("Source deleted."))
    return redirect("monitor:sources")


# -- schemes ----------------------------------------------------------------------------------


@require("monitor.view")
def schemes(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "monitor/setup/schemes.html",
        {
            "schemes": Scheme.objects.order_by("name"),
            "can_manage": _can_manage(request),
            "tab": "schemes",
        },
    )


def _scheme_page(request: HttpRequest, form: SchemeForm, scheme: Scheme | None) -> HttpResponse:
    recent = list(Mention.objects.order_by("-id")[:RECENT_FOR_TEST])
    return render(
        request,
        "monitor/setup/scheme_form.html",
        {
            "form": form,
            "scheme": scheme,
            "test_form": SchemeTestForm(recent=recent),
            "tab": "schemes",
        },
    )


def _scheme_kwargs(form: SchemeForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.fields}


@require("monitor.manage")
def scheme_add(request: HttpRequest) -> HttpResponse:
    form = SchemeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            scheme = services.scheme_create(**_scheme_kwargs(form))
        except ValidationError as exc:
            form.note_problem(exc)
            put_errors(form, exc)
        else:
            messages.success(request, _("Scheme “%(name)s” saved.") % {"name": scheme.name})
            return redirect("monitor:schemes")
    return _scheme_page(request, form, None)


@require("monitor.manage")
def scheme_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scheme = get_object_or_404(Scheme, pk=pk)
    initial = {name: getattr(scheme, name) for name in SchemeForm.base_fields}
    form = SchemeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.scheme_update(scheme=scheme, **_scheme_kwargs(form))
        except ValidationError as exc:
            form.note_problem(exc)
            put_errors(form, exc)
        else:
            messages.success(request, _("Scheme “%(name)s” saved.") % {"name": scheme.name})
            return redirect("monitor:schemes")
    return _scheme_page(request, form, scheme)


@require("monitor.view")
@require_POST
def scheme_test(request: HttpRequest) -> HttpResponse:
    """The test box: the scheme as currently typed (unsaved) against pasted text or mentions."""
    recent = list(Mention.objects.order_by("-id")[:RECENT_FOR_TEST])
    scheme_form = SchemeForm(request.POST)
    test_form = SchemeTestForm(request.POST, recent=recent)
    context: dict[str, Any] = {"scheme_form": scheme_form, "test_form": test_form, "results": None}
    if scheme_form.is_valid() and test_form.is_valid():
        samples: list[tuple[str, str, str]] = []
        data = test_form.cleaned_data
        if data["sample_text"].strip() or data["sample_title"].strip():
            samples.append((_("Pasted text"), data["sample_title"], data["sample_text"]))
        picked = {m.pk: m for m in recent}
        for pk in data["mentions"]:
            mention = picked.get(pk)
            if mention is not None:
                samples.append((f"#{mention.pk}", mention.title, mention.text))
        try:
            context["results"] = services.scheme_test(
                data=scheme_form.cleaned_data, samples=samples
            )
        except ValidationError as exc:
            scheme_form.note_problem(exc)
            put_errors(scheme_form, exc)
    return render(request, "monitor/setup/_scheme_test_result.html", context)


# -- imports ----------------------------------------------------------------------------------


@require("monitor.view")
def imports(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm()
    return render(
        request,
        "monitor/setup/imports.html",
        {
            "jobs": ImportJob.objects.select_related("source").order_by("-created_at")[:50],
            "form": form,
            "can_manage": _can_manage(request),
            "tab": "imports",
        },
    )


@require("monitor.manage")
def import_new(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            source = form.cleaned_data["source"] or services.default_source(
                kind=Source.Kind.IMPORT, name=_("File imports")
            )
            job = services.import_upload(
                file=upload, filename=upload.name, source=source, user=_user(request)
            )
        except ValidationError as exc:
            put_errors(form, exc)
        else:
            earlier = (
                ImportJob.objects.filter(sha256=job.sha256)
                .exclude(pk=job.pk)
                .order_by("created_at")
                .first()
            )
            if earlier is not None:
                messages.info(
                    request,
                    _(
                        "This file was uploaded before (%(when)s). Importing it again adds nothing twice."
                    )
                    % {"when": earlier.created_at.strftime("%Y-%m-%d %H:%M")},
                )
            return redirect("monitor:import_detail", pk=job.pk)
    return render(
        request,
        "monitor/setup/imports.html",
        {
            "jobs": ImportJob.objects.select_related("source").order_by("-created_at")[:50],
            "form": form,
            "can_manage": True,
            "tab": "imports",
        },
    )


def _mapping_form(job: ImportJob, data: Any = None) -> ImportMappingForm:
    return ImportMappingForm(data, headers=list(job.headers), initial=dict(job.mapping))


@require("monitor.view")
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.select_related("source"), pk=pk)
    context = {
        "job": job,
        "form": _mapping_form(job),
        "can_manage": _can_manage(request),
        "tab": "imports",
    }
    if request.htmx:  # type: ignore[attr-defined]  # the progress card polls itself
        return render(request, "monitor/setup/_import_progress.html", context)
    return render(request, "monitor/setup/import_detail.html", context)


@require("monitor.manage")
@require_POST
def import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    form = _mapping_form(job, request.POST)
    preview = None
    if form.is_valid():
        try:
            preview = services.import_preview(job=job, mapping=form.mapping())
        except ValidationError as exc:
            put_errors(form, exc)
    return render(
        request,
        "monitor/setup/_import_preview.html",
        {"job": job, "form": form, "preview": preview},
    )


@require("monitor.manage")
@require_POST
def import_start(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    form = _mapping_form(job, request.POST)
    if form.is_valid():
        try:
            services.import_start(job=job, mapping=form.mapping())
        except ValidationError as exc:
            put_errors(form, exc)
        else:
            return redirect("monitor:import_detail", pk=job.pk)
    return render(
        request,
        "monitor/setup/import_detail.html",
        {"job": job, "form": form, "can_manage": True, "tab": "imports"},
    )


# -- manual entry and evidence ------------------------------------------------------------------


@require("monitor.manage")
def manual_entry(request: HttpRequest) -> HttpResponse:
    form = ManualEntryForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            checked = None
            if data["evidence"]:
                checked = services.evidence_check(
                    file=data["evidence"], filename=data["evidence"].name
                )
            source = services.default_source(kind=Source.Kind.MANUAL, name=_("Manual entry"))
            result = services.mention_add_manual(
                source=source,
                text=data["text"],
                title=data["title"],
                url=data["url"],
                author=data["author"],
                published_at=data["published_at"],
                source_type=data["source_type"],
                evidence=checked,
                user=_user(request),
            )
        except ValidationError as exc:
            put_errors(form, exc)
        else:
            if result.unmatched:
                form.add_error(
                    None,
                    _(
                        "This post matches no active scheme, so it was not stored. Check that "
                        "it names the school, or add the name it uses to a scheme."
                    ),
                )
            elif result.mention is not None:
                if result.created:
                    messages.success(
                        request, _("Mention #%(id)s stored.") % {"id": result.mention.pk}
                    )
                else:
                    messages.info(
                        request,
                        _(
                            "This post was already stored as mention #%(id)s; nothing was added twice."
                        )
                        % {"id": result.mention.pk}
                        + (" " + _("The evidence was added to it.") if result.evidence else ""),
                    )
                return redirect("monitor:manual_entry")
    recent = Evidence.objects.select_related("mention").order_by("-uploaded_at")[:10]
    manual = Mention.objects.filter(source__kind=Source.Kind.MANUAL).order_by("-id")[:10]
    return render(
        request,
        "monitor/setup/manual.html",
        {"form": form, "recent_evidence": recent, "manual": manual, "tab": "manual"},
    )


@require("monitor.view")
def evidence_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    evidence = get_object_or_404(Evidence, pk=pk)
    response = FileResponse(
        evidence.file.open("rb"),
        as_attachment=True,
        filename=evidence.original_name,
        content_type=evidence.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# -- API tokens -------------------------------------------------------------------------------

NEW_TOKEN_KEY = "monitor.new_api_token"  # noqa: S105  (a session key, not a secret)


@require("settings.manage")
def tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, raw = services.api_token_create(
                name=data["name"],
                can_push=data["can_push"],
                can_read=data["can_read"],
                user=_user(request),
            )
        except ValidationError as exc:
            put_errors(form, exc)
        else:
            # Shown once, on the next page, then gone from the session.
            request.session[NEW_TOKEN_KEY] = {"id": token.pk, "token": raw}
            return redirect("monitor:tokens")
    new = request.session.pop(NEW_TOKEN_KEY, None)
    return render(
        request,
        "monitor/setup/tokens.html",
        {
            "form": form,
            "tokens": ApiToken.objects.select_related("source").filter(revoked_at__isnull=True),
            "revoked": ApiToken.objects.filter(revoked_at__isnull=False)[:20],
            "new_token": new,
            "tab": "tokens",
        },
    )


@require("settings.manage")
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    services.api_token_revoke(token=token)
    messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
    return redirect("monitor:tokens")
