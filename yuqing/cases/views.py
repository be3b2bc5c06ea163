"""Views of the cases module: parse, check access, call one service, render.

Reading needs ``cases.view`` and the case must be visible to the person (see selectors);
every change needs ``cases.handle``. Routes, deadlines and absences are the administrators'
(``settings.manage``). The petition form and query page are public: no login, rate limited per
address, a honeypot field, attachments checked by content.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from yuqing.accounts.models import School
from yuqing.alerts.models import LEVELS, Alert, Level
from yuqing.cases import files, forms, routes, selectors, services
from yuqing.cases.models import (
    Absence,
    Case,
    CaseEvidence,
    Petition,
    PetitionAttachment,
    Route,
    RouteStep,
)
from yuqing.core.context import Actor, acting_as, client_ip
from yuqing.core.permissions import require
from yuqing.core.tenancy import school_scope

PAGE = 30


def _form_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _case(request: HttpRequest, pk: int) -> Case:
    """The case, if this person may see it (404 otherwise: its existence is not revealed)."""
    return get_object_or_404(
        selectors.visible_cases(request.user).select_related(
            "route", "owner", "org_unit", "current_unit", "alert", "event", "closed_by"
        ),
        pk=pk,
    )


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    user: Any = request.user
    context.setdefault("can_settings", bool(user.is_authenticated and user.can("settings.manage")))
    return render(request, template, context, status=status)


def _can_handle(request: HttpRequest) -> bool:
    return bool(request.user.can("cases.handle"))  # type: ignore[union-attr]


# --------------------------------------------------------------------------- lists


STATUS_FILTERS = ("open", "overdue", "closed", "all")


@require("cases.view")
def index(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    if status not in STATUS_FILTERS and status not in Case.Status.values:
        status = "open"
    level = request.GET.get("level", "")
    q = request.GET.get("q", "").strip()[:100]
    qs = selectors.visible_cases(request.user).select_related("current_unit", "owner")
    now = timezone.now()
    if status == "open":
        qs = qs.exclude(status=Case.Status.CLOSED)
    elif status == "overdue":
        qs = qs.exclude(status=Case.Status.CLOSED).filter(services.models_q_due(now))
    elif status == "closed":
        qs = qs.filter(status=Case.Status.CLOSED)
    elif status in Case.Status.values:
        qs = qs.filter(status=status)
    if level.isdigit():
        qs = qs.filter(level=int(level))
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(number__icontains=q) | Q(summary__icontains=q))
    page = Paginator(qs.order_by("-level", "-created_at", "-id"), PAGE).get_page(
        request.GET.get("page")
    )
    for case in page:
        case.late = case.overdue_kinds(now)  # type: ignore[attr-defined]
    statuses = [
        ("open", _("Open")),
        ("overdue", _("Overdue")),
        *Case.Status.choices,
        ("all", _("All")),
    ]
    return _render(
        request,
        "cases/index.html",
        {
            "page": page,
            "status": status,
            "level": level,
            "q": q,
            "statuses": statuses,
            "levels": Level.choices,
            "can_handle": _can_handle(request),
            "tab": "cases",
        },
    )


@require("cases.view")
def my_work(request: HttpRequest) -> HttpResponse:
    items = selectors.my_work(request.user)
    return _render(
        request,
        "cases/my_work.html",
        {
            "items": items,
            "overdue": sum(1 for i in items if i.overdue),
            "tab": "mine",
            "can_handle": _can_handle(request),
        },
    )


@require("cases.view")
def library(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:100]
    level = request.GET.get("level", "")
    qs = selectors.visible_cases(request.user).filter(status=Case.Status.CLOSED)
    if q:
        qs = qs.filter(
            Q(title__icontains=q)
            | Q(summary__icontains=q)
            | Q(closure_summary__icontains=q)
            | Q(review_happened__icontains=q)
            | Q(review_done__icontains=q)
            | Q(review_changes__icontains=q)
            | Q(response_draft__icontains=q)
        )
    if level.isdigit():
        qs = qs.filter(level=int(level))
    page = Paginator(qs.order_by("-closed_at", "-id"), PAGE).get_page(request.GET.get("page"))
    return _render(
        request,
        "cases/library.html",
        {"page": page, "q": q, "level": level, "levels": Level.choices, "tab": "library"},
    )


# --------------------------------------------------------------------------- open


def _prefill(request: HttpRequest) -> dict[str, Any]:
    from yuqing.monitor.models import Event, Mention

    initial: dict[str, Any] = {}
    alert_id = request.GET.get("alert", "")
    if alert_id.isdigit():
        alert = get_object_or_404(Alert, pk=int(alert_id))
        initial.update(
            title=alert.title,
            level=str(alert.level),
            summary=alert.reason,
            alert=alert.pk,
            event=alert.event_id,
            mentions=",".join(str(m) for m in alert.mention_ids or []),
        )
    event_id = request.GET.get("event", "")
    if event_id.isdigit() and "alert" not in initial:
        event = get_object_or_404(Event, pk=int(event_id))
        initial.update(
            title=event.title,
            level=str(max(event.peak_risk, 1)),
            summary=event.summary,
            event=event.pk,
        )
    raw = request.GET.get("mentions", "")
    ids = [int(x) for x in raw.split(",") if x.strip().isdigit()][:200]
    if ids and "alert" not in initial and "event" not in initial:
        found = list(Mention.objects.filter(pk__in=ids).order_by("published_at"))
        if found:
            first = found[0]
            initial.update(
                title=(first.title or first.text)[:300],
                level=str(max(max(m.risk for m in found), 1)),
                summary="\n".join(f"{m.url or ''} {(m.title or m.text)[:120]}" for m in found[:10]),
                mentions=",".join(str(m.pk) for m in found),
            )
    return initial


@require("cases.handle")
def new(request: HttpRequest) -> HttpResponse:
    from yuqing.monitor.models import Event

    routes.routes_seed()
    if request.method == "POST":
        form = forms.CaseOpenForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            alert = Alert.objects.filter(pk=data["alert"]).first() if data["alert"] else None
            event = Event.objects.filter(pk=data["event"]).first() if data["event"] else None
            source = (
                Case.Source.ALERT
                if alert
                else Case.Source.EVENT
                if event
                else Case.Source.MENTION
                if data["mentions"]
                else Case.Source.MANUAL
            )
            try:
                case = services.case_open(
                    title=data["title"],
                    level=data["level"],
                    summary=data["summary"],
                    source=source,
                    alert=alert,
                    event=event,
                    mention_ids=data["mentions"],
                    org_unit=data["org_unit"],
                    route=data["route"],
                    by=request.user,
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Case %(number)s opened.") % {"number": case.number})
                return redirect("cases:detail", pk=case.pk)
    else:
        form = forms.CaseOpenForm(initial=_prefill(request))
    return _render(request, "cases/new.html", {"form": form, "tab": "cases"})


# --------------------------------------------------------------------------- one case


def _timeline_rows(case: Case) -> list[Any]:
    return list(case.actions.select_related("by").order_by("-at", "-id")[:300])


def _route_steps(case: Case) -> list[dict[str, Any]]:
    if case.route is None:
        return []
    rows = []
    for step in case.route.steps.select_related("org_unit").order_by("position"):
        unit = routes.step_unit(step, case.org_unit)
        rows.append(
            {
                "step": step,
                "unit": unit,
                "current": step.position == case.step_index,
                "passed": step.position < case.step_index,
            }
        )
    return rows


def _detail_context(request: HttpRequest, case: Case, **forms_: Any) -> dict[str, Any]:
    from yuqing.monitor.models import Mention

    now = timezone.now()
    version = case.version
    edit_initial = {
        "version": version,
        "title": case.title,
        "level": str(case.level),
        "summary": case.summary,
        "org_unit": case.org_unit_id,
        "owner": case.owner_id,
    }
    context = {
        "case": case,
        "info": LEVELS[case.level],
        "late": case.overdue_kinds(now),
        "steps": _route_steps(case),
        "assignees": [a.user for a in case.assignees.select_related("user")],
        "timeline": _timeline_rows(case),
        "evidence": list(case.evidence.select_related("uploaded_by")),
        "mentions": list(
            Mention.objects.filter(pk__in=case.mention_ids or []).select_related("source")[:20]
        ),
        "petition": Petition.objects.filter(case=case).first(),
        "can_handle": _can_handle(request),
        "top_step": case.step_index >= (len(_route_steps(case)) - 1),
        "edit_form": forms_.get("edit_form") or forms.CaseEditForm(initial=edit_initial),
        "response_form": forms_.get("response_form")
        or forms.ResponseForm(initial={"version": version, "response_draft": case.response_draft}),
        "submit_form": forms_.get("submit_form")
        or forms.SubmitResponseForm(initial={"version": version, "channels": ["website"]}),
        "review_drafts": list(case.response_drafts.order_by("-created_at", "-id")[:10]),
        "can_see_drafts": request.user.can("publishing.view"),  # type: ignore[union-attr]
        "action_form": forms_.get("action_form") or forms.ActionForm(),
        "reason_form": forms_.get("reason_form") or forms.ReasonForm(initial={"version": version}),
        "evidence_form": forms_.get("evidence_form") or forms.EvidenceForm(),
        "conflict": forms_.get("conflict"),
        "tab": "cases",
    }
    return context


@require("cases.view")
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    return _render(request, "cases/detail.html", _detail_context(request, case))


def _kept(form_class: Any, request: HttpRequest, case: Case) -> Any:
    """The person's input again, on top of the version now saved (so saving it again is a
    deliberate second attempt, not a silent overwrite)."""
    case.refresh_from_db()
    data = request.POST.copy()
    data["version"] = str(case.version)
    return form_class(data)


def _conflict_page(
    request: HttpRequest, case: Case, exc: ValidationError, **forms_: Any
) -> HttpResponse:
    """Show the case as it is now, with the person's unsaved input kept in the form."""
    case.refresh_from_db()
    messages.error(request, " ".join(exc.messages))
    return _render(
        request,
        "cases/detail.html",
        _detail_context(request, case, conflict=True, **forms_),
        status=409,
    )


@require("cases.handle")
@require_POST
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    form = forms.CaseEditForm(request.POST)
    if not form.is_valid():
        return _render(
            request, "cases/detail.html", _detail_context(request, case, edit_form=form), status=400
        )
    data = form.cleaned_data
    try:
        services.case_update(
            case=case,
            version=data["version"],
            by=request.user,
            title=data["title"],
            level=data["level"],
            summary=data["summary"],
            org_unit=data["org_unit"],
            owner=data["owner"],
        )
    except services.StaleCase as exc:
        return _conflict_page(
            request, case, exc, edit_form=_kept(forms.CaseEditForm, request, case)
        )
    except ValidationError as exc:
        _form_errors(form, exc)
        return _render(
            request, "cases/detail.html", _detail_context(request, case, edit_form=form), status=400
        )
    messages.success(request, _("Case saved."))
    return redirect("cases:detail", pk=case.pk)


@require("cases.handle")
@require_POST
def response(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    form = forms.ResponseForm(request.POST)
    if not form.is_valid():
        return _render(
            request,
            "cases/detail.html",
            _detail_context(request, case, response_form=form),
            status=400,
        )
    try:
        services.case_update(
            case=case,
            version=form.cleaned_data["version"],
            by=request.user,
            response_draft=form.cleaned_data["response_draft"],
        )
    except services.StaleCase as exc:
        return _conflict_page(
            request, case, exc, response_form=_kept(forms.ResponseForm, request, case)
        )
    messages.success(request, _("Response draft saved."))
    return redirect("cases:detail", pk=case.pk)


@require("cases.handle")
@require_POST
def response_submit(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    form = forms.SubmitResponseForm(request.POST)
    if form.is_valid():
        try:
            draft = services.case_response_submit(
                case=case,
                version=form.cleaned_data["version"],
                by=request.user,
                channels=form.cleaned_data["channels"],
            )
        except services.StaleCase as exc:
            return _conflict_page(request, case, exc)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(
                request,
                _("Sent to publication review as draft “%(title)s”.") % {"title": draft.title},
            )
            return redirect("cases:detail", pk=case.pk)
    return _render(
        request,
        "cases/detail.html",
        _detail_context(request, case, submit_form=form),
        status=400,
    )


@require("cases.handle")
@require_POST
def add_action(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    form = forms.ActionForm(request.POST)
    if form.is_valid():
        try:
            services.case_add_action(
                case=case,
                kind=form.cleaned_data["kind"],
                text=form.cleaned_data["text"],
                by=request.user,
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Added to the timeline."))
            return redirect("cases:detail", pk=case.pk)
    return _render(
        request, "cases/detail.html", _detail_context(request, case, action_form=form), status=400
    )


@require("cases.handle")
@require_POST
def evidence_add(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    form = forms.EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            checked = files.check_upload(
                file=upload, filename=upload.name, max_bytes=files.EVIDENCE_MAX_BYTES
            )
            services.case_evidence_add(case=case, checked=checked, by=request.user)
        except ValidationError as exc:
            form.add_error("file", exc.messages)
        else:
            messages.success(request, _("Evidence kept with its SHA-256."))
            return redirect("cases:detail", pk=case.pk)
    return _render(
        request,
        "cases/detail.html",
        _detail_context(request, case, evidence_form=form),
        status=400,
    )


def _download(row: Any) -> FileResponse:
    response = FileResponse(
        row.file.open("rb"),
        as_attachment=True,
        filename=row.original_name,
        content_type=row.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require("cases.view")
def evidence_file(request: HttpRequest, pk: int, evidence_pk: int) -> HttpResponseBase:
    case = _case(request, pk)
    return _download(get_object_or_404(CaseEvidence, pk=evidence_pk, case=case))


TRANSITIONS = {
    "assess": (services.case_assess, _("Now assessing.")),
    "handle": (services.case_start_handling, _("Now handling.")),
    "respond": (services.case_mark_responded, _("Marked as responded.")),
    "report_up": (services.case_report_up, _("Reported up.")),
    "hand_back": (services.case_hand_back, _("Handed back.")),
    "reopen": (services.case_reopen, _("Case reopened.")),
}
WITH_REASON = {"report_up", "hand_back", "reopen"}


@require("cases.handle")
@require_POST
def move(request: HttpRequest, pk: int, transition: str) -> HttpResponse:
    if transition not in TRANSITIONS:
        raise Http404
    case = _case(request, pk)
    form = forms.ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The form was incomplete; reload the page and try again."))
        return redirect("cases:detail", pk=case.pk)
    func: Any
    func, done = TRANSITIONS[transition]
    kwargs: dict[str, Any] = {
        "case": case,
        "version": form.cleaned_data["version"],
        "by": request.user,
    }
    if transition in WITH_REASON:
        kwargs["reason"] = form.cleaned_data["reason"]
    elif transition == "respond":
        kwargs["note"] = form.cleaned_data["reason"]
    try:
        func(**kwargs)
    except services.StaleCase as exc:
        return _conflict_page(
            request, case, exc, reason_form=_kept(forms.ReasonForm, request, case)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("cases:detail", pk=case.pk)
    messages.success(request, str(done))
    return redirect("cases:detail", pk=case.pk)


@require("cases.handle")
def close(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    if not case.is_open:
        messages.info(request, _("This case is already closed."))
        return redirect("cases:detail", pk=case.pk)
    if request.method == "POST":
        form = forms.CloseForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.case_close(
                    case=case,
                    version=data["version"],
                    by=request.user,
                    summary=data["summary"],
                    review_happened=data["review_happened"],
                    review_done=data["review_done"],
                    review_changes=data["review_changes"],
                )
            except services.StaleCase as exc:
                form = _kept(forms.CloseForm, request, case)
                messages.error(request, " ".join(exc.messages))
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Case closed. It is now in the case library."))
                return redirect("cases:detail", pk=case.pk)
    else:
        form = forms.CloseForm(initial={"version": case.version})
    return _render(request, "cases/close.html", {"case": case, "form": form, "tab": "cases"})


# --------------------------------------------------------------------------- petitions


@require("cases.view")
def petitions(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    qs = selectors.visible_petitions(request.user).select_related("case")
    if status == "open":
        qs = qs.filter(status__in=[Petition.Status.RECEIVED, Petition.Status.ACCEPTED])
    elif status in Petition.Status.values:
        qs = qs.filter(status=status)
    page = Paginator(qs.order_by("accept_due", "-id"), PAGE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    school = getattr(request.user, "school", None)
    if school is not None and school.is_bureau:
        school = None  # a bureau has no public form of its own
    return _render(
        request,
        "cases/petitions.html",
        {
            "page": page,
            "status": status,
            "statuses": [("open", _("Open")), *Petition.Status.choices, ("all", _("All"))],
            "today": today,
            "can_handle": _can_handle(request),
            "school": school,
            "tab": "petitions",
        },
    )


def _show_code(request: HttpRequest, petition: Petition, code: str) -> None:
    request.session["cases.new_code"] = {"pk": petition.pk, "code": code}


@require("cases.handle")
def petition_new(request: HttpRequest) -> HttpResponse:
    routes.routes_seed()
    if request.method == "POST":
        form = forms.IntakeForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                petition, code = services.petition_receive(
                    intake=services.Intake(
                        channel=data["channel"],
                        subject=data["subject"],
                        body=data["body"],
                        received_on=data["received_on"],
                        name=data["name"],
                        contact=data["contact"],
                        reference=data["reference"],
                    ),
                    by=request.user,
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                _show_code(request, petition, code)
                messages.success(request, _("Petition recorded and its case opened."))
                return redirect("cases:petition_detail", pk=petition.pk)
    else:
        form = forms.IntakeForm()
    return _render(request, "cases/petition_new.html", {"form": form, "tab": "petitions"})


@require("cases.handle")
def petition_import(request: HttpRequest) -> HttpResponse:
    result = None
    if request.method == "POST":
        routes.routes_seed()
        form = forms.ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = services.petitions_import(
                    data=upload.read(services.IMPORT_MAX_BYTES + 1), by=request.user
                )
            except ValidationError as exc:
                form.add_error("file", exc.messages)
    else:
        form = forms.ImportForm()
    return _render(
        request, "cases/petition_import.html", {"form": form, "result": result, "tab": "petitions"}
    )


@require("cases.view")
def petition_detail(request: HttpRequest, pk: int) -> HttpResponse:
    petition = get_object_or_404(
        selectors.visible_petitions(request.user).select_related("case"), pk=pk
    )
    shown = request.session.get("cases.new_code")
    code = None
    if shown and shown.get("pk") == petition.pk:
        code = shown["code"]
        del request.session["cases.new_code"]  # shown once: only its hash is kept
    school = School.objects.get(pk=petition.school_id)
    return _render(
        request,
        "cases/petition_detail.html",
        {
            "petition": petition,
            "replies": list(petition.replies.select_related("by")),
            "attachments": list(petition.attachments.all()),
            "decide_form": forms.DecideForm(),
            "reply_form": forms.ReplyForm(),
            "code": code,
            "school": school,
            "can_handle": _can_handle(request),
            "today": timezone.localdate(),
            "tab": "petitions",
        },
    )


def _petition_for_change(request: HttpRequest, pk: int) -> Petition:
    return get_object_or_404(selectors.visible_petitions(request.user), pk=pk)


@require("cases.handle")
@require_POST
def petition_decide(request: HttpRequest, pk: int) -> HttpResponse:
    petition = _petition_for_change(request, pk)
    form = forms.DecideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose accept or do not accept."))
    else:
        try:
            services.petition_decide(
                petition=petition,
                accept=form.cleaned_data["accept"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
            messages.success(request, _("Decision recorded."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect("cases:petition_detail", pk=petition.pk)


@require("cases.handle")
@require_POST
def petition_reply(request: HttpRequest, pk: int) -> HttpResponse:
    petition = _petition_for_change(request, pk)
    form = forms.ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write the reply."))
    else:
        services.petition_reply(petition=petition, text=form.cleaned_data["text"], by=request.user)
        messages.success(request, _("Reply recorded; the petitioner sees it on the query page."))
    return redirect("cases:petition_detail", pk=petition.pk)


@require("cases.handle")
@require_POST
def petition_finish(request: HttpRequest, pk: int) -> HttpResponse:
    petition = _petition_for_change(request, pk)
    try:
        services.petition_finish(petition=petition, by=request.user)
        messages.success(request, _("Petition finished."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("cases:petition_detail", pk=petition.pk)


@require("cases.view")
def petition_attachment(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponseBase:
    petition = get_object_or_404(selectors.visible_petitions(request.user), pk=pk)
    return _download(get_object_or_404(PetitionAttachment, pk=attachment_pk, petition=petition))


# --------------------------------------------------------------------------- public


SUBMIT_LIMIT = 5  # petitions per address per hour
QUERY_LIMIT = 20  # code look-ups per address per hour (codes are guessed otherwise)
WINDOW_SECONDS = 3600


def _over_limit(kind: str, request: HttpRequest, limit: int) -> bool:
    key = f"cases:{kind}:{client_ip(request)}"
    cache.add(key, 0, WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, WINDOW_SECONDS)
        count = 1
    return count > limit


def _public_school(slug: str) -> School:
    school = School.objects.filter(slug=slug, kind=School.Kind.SCHOOL).first()
    if school is None:
        raise Http404
    return school


@never_cache
def public_petition(request: HttpRequest, slug: str) -> HttpResponse:
    """The school's public petition form: no login."""
    school = _public_school(slug)
    if request.method == "POST":
        if _over_limit("submit", request, SUBMIT_LIMIT):
            return _render(request, "cases/public_limited.html", {"school": school}, status=429)
        form = forms.PublicPetitionForm(request.POST, request.FILES)
        if form.is_valid() and form.cleaned_data["website"]:
            # A robot filled the hidden field: answer as if accepted, keep nothing.
            return _render(request, "cases/public_thanks.html", {"school": school, "code": None})
        if form.is_valid():
            data = form.cleaned_data
            checked: list[files.CheckedFile] = []
            uploads = data["attachments"]
            if len(uploads) > files.PETITION_MAX_FILES:
                form.add_error(
                    "attachments",
                    _("At most %(n)s attachments.") % {"n": files.PETITION_MAX_FILES},
                )
            for upload in uploads[: files.PETITION_MAX_FILES]:
                try:
                    checked.append(
                        files.check_upload(
                            file=upload,
                            filename=upload.name,
                            max_bytes=files.PETITION_MAX_BYTES,
                            allowed=files.PETITION_EXTENSIONS,
                        )
                    )
                except ValidationError as exc:
                    form.add_error("attachments", exc.messages)
            if not form.errors:
                actor = Actor(
                    user=None,
                    ip=client_ip(request),
                    user_agent=request.META.get("HTTP_USER_AGENT", "")[:200],
                    name="petitioner",
                )
                with school_scope(school), acting_as(actor):
                    routes.routes_seed()
                    _petition, code = services.petition_receive(
                        intake=services.Intake(
                            channel=data["channel"],
                            subject=data["subject"],
                            body=data["body"],
                            received_on=timezone.localdate(),
                            name=data["name"],
                            contact=data["contact"],
                            attachments=checked,
                        ),
                    )
                return _render(
                    request, "cases/public_thanks.html", {"school": school, "code": code}
                )
    else:
        form = forms.PublicPetitionForm()
    return _render(request, "cases/public_form.html", {"school": school, "form": form})


@never_cache
def public_query(request: HttpRequest, slug: str) -> HttpResponse:
    """Where a petitioner checks progress with the query code they were given."""
    school = _public_school(slug)
    petition = None
    replies: list[Any] = []
    form = forms.QueryForm(request.POST or None)
    if request.method == "POST":
        if _over_limit("query", request, QUERY_LIMIT):
            return _render(request, "cases/public_limited.html", {"school": school}, status=429)
        if form.is_valid():
            with school_scope(school):
                petition = services.petition_find(
                    school_id=school.pk, code=form.cleaned_data["code"]
                )
                if petition is not None:
                    replies = list(petition.replies.all())
            if petition is None:
                form.add_error("code", _("No message has this query code. Check it and try again."))
    return _render(
        request,
        "cases/public_query.html",
        {"school": school, "form": form, "petition": petition, "replies": replies},
    )


# --------------------------------------------------------------------------- settings


@require("settings.manage")
def route_list(request: HttpRequest) -> HttpResponse:
    routes.routes_seed()
    form = forms.RouteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            route = services.route_save(
                route=None,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                is_active=form.cleaned_data["is_active"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Route added; now add its steps."))
            return redirect("cases:route_edit", pk=route.pk)
    all_routes = list(
        Route.objects.prefetch_related("steps__org_unit").order_by("sort_order", "pk")
    )
    return _render(
        request,
        "cases/routes.html",
        {"routes": all_routes, "form": form, "tab": "routes"},
    )


@require("settings.manage")
def route_edit(request: HttpRequest, pk: int) -> HttpResponse:
    route = get_object_or_404(Route, pk=pk)
    route_form = forms.RouteForm(
        initial={"name": route.name, "kind": route.kind, "is_active": route.is_active}
    )
    step_form = forms.StepForm()
    if request.method == "POST":
        if request.POST.get("part") == "route":
            route_form = forms.RouteForm(request.POST)
            if route_form.is_valid():
                try:
                    services.route_save(route=route, **route_form.cleaned_data)
                except ValidationError as exc:
                    _form_errors(route_form, exc)
                else:
                    messages.success(request, _("Route saved."))
                    return redirect("cases:route_edit", pk=route.pk)
        else:
            step_form = forms.StepForm(request.POST)
            if step_form.is_valid():
                try:
                    services.route_step_add(route=route, **step_form.cleaned_data)
                except ValidationError as exc:
                    _form_errors(step_form, exc)
                else:
                    messages.success(request, _("Step added."))
                    return redirect("cases:route_edit", pk=route.pk)
    steps = list(route.steps.select_related("org_unit").order_by("position"))
    today = timezone.localdate()
    rows = [
        {
            "step": s,
            "people": routes.on_duty(s.org_unit, s.role, today) if s.org_unit else None,
        }
        for s in steps
    ]
    return _render(
        request,
        "cases/route_edit.html",
        {
            "route": route,
            "rows": rows,
            "route_form": route_form,
            "step_form": step_form,
            "tab": "routes",
        },
    )


@require("settings.manage")
@require_POST
def route_step_delete(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    step = get_object_or_404(RouteStep, pk=step_pk, route_id=pk)
    services.route_step_delete(step=step)
    messages.success(request, _("Step removed."))
    return redirect("cases:route_edit", pk=pk)


@require("settings.manage")
def deadlines(request: HttpRequest) -> HttpResponse:
    policy = services.policy_for()
    if request.method == "POST":
        form = forms.PolicyForm(request.POST)
        if form.is_valid():
            services.policy_update(
                policy=policy,
                levels=form.levels(),
                petition_accept_workdays=form.cleaned_data["petition_accept_workdays"],
                petition_finish_days=form.cleaned_data["petition_finish_days"],
                petition_remind_workdays=form.cleaned_data["petition_remind_workdays"],
            )
            messages.success(request, _("Deadlines saved."))
            return redirect("cases:deadlines")
    else:
        initial: dict[str, Any] = {
            "petition_accept_workdays": policy.petition_accept_workdays,
            "petition_finish_days": policy.petition_finish_days,
            "petition_remind_workdays": policy.petition_remind_workdays,
        }
        for value, _label in Level.choices:
            for key, limit in policy.limits(value).items():
                initial[f"l{value}_{key}"] = limit
        form = forms.PolicyForm(initial=initial)
    level_fields = [
        (label, [form[f"l{value}_{key}"] for key in forms.DEADLINE_KEYS])
        for value, label in Level.choices
    ]
    return _render(
        request,
        "cases/deadlines.html",
        {"form": form, "level_fields": level_fields, "tab": "deadlines"},
    )


@require("settings.manage")
def absences(request: HttpRequest) -> HttpResponse:
    form = forms.AbsenceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.absence_add(**form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Absence recorded: routes pass this person over."))
            return redirect("cases:absences")
    rows = (
        Absence.objects.select_related("user")
        .filter(ends_on__gte=timezone.localdate())
        .order_by("starts_on")
    )
    return _render(request, "cases/absences.html", {"form": form, "rows": rows, "tab": "absences"})
