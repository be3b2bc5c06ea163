"""Views of the duty module: parse, check access, call one service, render.

Everyone in the school may read the duty records (``duty.view``); the office that keeps them
(administrators and monitors) writes them (``duty.manage``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from yuqing.core.permissions import require
from yuqing.duty import exports, selectors, services
from yuqing.duty.forms import (
    ActivityForm,
    AttachmentForm,
    CompleteForm,
    GroupForm,
    MemberForm,
    PeriodForm,
    ResponsibilityForm,
    StudySessionForm,
    TrainingForm,
)
from yuqing.duty.models import (
    ActivityKind,
    Attachment,
    EducationActivity,
    Group,
    Membership,
    Responsibility,
    ResponsibilityKind,
    SpecialPeriod,
    StudyKind,
    StudySession,
    Training,
)

PAGE = 50


def _can_manage(request: HttpRequest) -> bool:
    return bool(request.user.can("duty.manage"))  # type: ignore[union-attr]


def _form_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _filters(request: HttpRequest) -> dict[str, str]:
    return {k: str(v) for k, v in request.GET.items() if k != "page" and v}


# --------------------------------------------------------------------------- overview


@require("duty.view")
def index(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    half = selectors.period_of(today.year, 1 if today.month <= 6 else 2)
    groups = list(Group.objects.all())
    for g in groups:
        g.current = services.members_on(g, today)  # type: ignore[attr-defined]
    due = (
        Responsibility.objects.exclude(status=Responsibility.Status.DONE)
        .filter(due_on__isnull=False, due_on__lte=today + dt.timedelta(days=14))
        .prefetch_related("owners")
        .order_by("due_on")[:10]
    )
    periods = SpecialPeriod.objects.filter(ends_on__gte=today).order_by("starts_on")[:5]
    context = {
        "tab": "index",
        "today": today,
        "half": half,
        "groups": groups,
        "due": due,
        "periods": periods,
        "overdue": selectors.overdue_count(today),
        "figures": [
            (_("Study sessions"), sum(c.count for c in selectors.study_counts(half)), "sessions"),
            (_("Trainings"), sum(c.count for c in selectors.training_counts(half)), "trainings"),
            (
                _("Education activities"),
                sum(c.count for c in selectors.activity_counts(half)),
                "activities",
            ),
            (_("Open responsibilities"), _open_items(), "responsibilities"),
        ],
        "can_manage": _can_manage(request),
    }
    return render(request, "duty/index.html", context)


def _open_items() -> int:
    return Responsibility.objects.exclude(status=Responsibility.Status.DONE).count()


# --------------------------------------------------------------------------- groups


@require("duty.view")
def group_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    groups = list(Group.objects.annotate(n=Count("memberships")))
    for g in groups:
        g.current = services.members_on(g, today)  # type: ignore[attr-defined]
    return render(
        request,
        "duty/group_list.html",
        {"tab": "groups", "groups": groups, "can_manage": _can_manage(request)},
    )


@require("duty.manage")
def group_create(request: HttpRequest) -> HttpResponseBase:
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = services.group_save(**form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return redirect("duty:group_detail", pk=group.pk)
    return render(
        request, "duty/form.html", {"tab": "groups", "form": form, "title": _("New group")}
    )


@require("duty.view")
def group_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    group = get_object_or_404(Group, pk=pk)
    form = MemberForm(request.POST or None)
    if request.method == "POST":
        if not _can_manage(request):
            return HttpResponse(status=403)
        if form.is_valid():
            try:
                services.membership_set(group=group, by=request.user, **form.cleaned_data)  # type: ignore[arg-type]
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("duty:group_detail", pk=group.pk)
    today = timezone.localdate()
    history = Membership.objects.filter(group=group).select_related("user").order_by("-since")
    return render(
        request,
        "duty/group_detail.html",
        {
            "tab": "groups",
            "group": group,
            "current": services.members_on(group, today),
            "history": history,
            "form": form,
            "today": today,
            "can_manage": _can_manage(request),
        },
    )


@require("duty.manage")
@require_POST
def membership_end(request: HttpRequest, pk: int) -> HttpResponseBase:
    membership = get_object_or_404(Membership, pk=pk)
    try:
        services.membership_end(membership=membership, until=timezone.localdate())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("duty:group_detail", pk=membership.group_id)


# --------------------------------------------------------------------------- responsibilities


@require("duty.view")
def responsibility_list(request: HttpRequest) -> HttpResponseBase:
    today = timezone.localdate()
    qs = selectors.responsibilities(request.GET, today)
    if request.GET.get("export") == "xlsx":
        rows = [
            [
                r.title,
                r.get_kind_display(),
                "、".join(str(o) for o in r.owners.all()),
                r.due_on,
                r.get_recurrence_display(),
                _("Overdue") if r.is_overdue(today) else r.get_status_display(),
                r.evidence_note,
            ]
            for r in qs
        ]
        return exports.xlsx_response(
            thing="responsibility",
            title=_("Responsibility list"),
            headers=[
                _("Item"),
                _("Type"),
                _("Owners"),
                _("Due"),
                _("Repeats"),
                _("Status"),
                _("Evidence"),
            ],
            rows=rows,
            filters=_filters(request),
        )
    from yuqing.accounts.models import User

    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "duty/responsibility_list.html",
        {
            "tab": "responsibilities",
            "page": page,
            "today": today,
            "kinds": ResponsibilityKind.choices,
            "statuses": [*Responsibility.Status.choices, ("overdue", _("Overdue"))],
            "people": User.objects.filter(is_active=True).order_by("username"),
            "f": request.GET,
            "query": "&".join(f"{k}={v}" for k, v in _filters(request).items()),
            "can_manage": _can_manage(request),
        },
    )


@require("duty.manage")
def responsibility_edit(request: HttpRequest, pk: int | None = None) -> HttpResponseBase:
    item = get_object_or_404(Responsibility, pk=pk) if pk else None
    initial = {}
    if item is not None:
        initial = {
            "title": item.title,
            "kind": item.kind,
            "owners": list(item.owners.all()),
            "due_on": item.due_on,
            "recurrence": item.recurrence,
            "remind_days": item.remind_days,
            "description": item.description,
        }
    form = ResponsibilityForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            item = services.responsibility_save(item=item, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return redirect("duty:responsibility_detail", pk=item.pk)
    title = item.title if item else _("New responsibility")
    return render(
        request, "duty/form.html", {"tab": "responsibilities", "form": form, "title": title}
    )


@require("duty.view")
def responsibility_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Responsibility.objects.prefetch_related("owners", "files"), pk=pk)
    return render(
        request,
        "duty/responsibility_detail.html",
        {
            "tab": "responsibilities",
            "item": item,
            "overdue": item.is_overdue(),
            "complete_form": CompleteForm(),
            "file_form": AttachmentForm(initial={"kind": Attachment.Kind.EVIDENCE}),
            "can_manage": _can_manage(request),
        },
    )


@require("duty.manage")
@require_POST
def responsibility_complete(request: HttpRequest, pk: int) -> HttpResponseBase:
    item = get_object_or_404(Responsibility, pk=pk)
    form = CompleteForm(request.POST)
    if form.is_valid():
        try:
            done = services.responsibility_complete(
                item=item,
                user=request.user,  # type: ignore[arg-type]
                evidence_note=form.cleaned_data["evidence_note"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if done.status == Responsibility.Status.DONE:
                messages.success(request, _("Marked as done."))
            else:
                messages.success(
                    request,
                    _("Done for this time; next due %(due)s.") % {"due": done.due_on},
                )
    return redirect("duty:responsibility_detail", pk=item.pk)


# --------------------------------------------------------------------------- dated records


@dataclass(frozen=True)
class Kind:
    """One kind of dated record: study sessions, trainings, education activities."""

    thing: str  # URL and audit name
    model: Any
    form: Any
    save: Callable[..., Any]
    kind_field: str
    kinds: Any
    title: Any
    new_title: Any
    photos_only: bool = False


KINDS: dict[str, Kind] = {
    "sessions": Kind(
        "session",
        StudySession,
        StudySessionForm,
        lambda obj, **kw: services.study_session_save(session=obj, **kw),
        "kind",
        StudyKind.choices,
        gettext_lazy("Study sessions"),
        gettext_lazy("New study session"),
    ),
    "trainings": Kind(
        "training",
        Training,
        TrainingForm,
        lambda obj, **kw: services.training_save(training=obj, **kw),
        "audience",
        Training.Audience.choices,
        gettext_lazy("Trainings"),
        gettext_lazy("New training"),
    ),
    "activities": Kind(
        "activity",
        EducationActivity,
        ActivityForm,
        lambda obj, **kw: services.activity_save(activity=obj, **kw),
        "kind",
        ActivityKind.choices,
        gettext_lazy("Education activities"),
        gettext_lazy("New education activity"),
        photos_only=True,
    ),
}


def _kind(which: str) -> Kind:
    return KINDS[which]


def _records(kind: Kind, params: Any) -> Any:
    qs = kind.model.objects.all()
    if kind.kind_field == "audience" and params.get("kind"):
        qs = qs.filter(audience=params["kind"])
        params = {k: v for k, v in params.items() if k != "kind"}
    qs = selectors.filter_list(qs, params)
    if kind.model is not EducationActivity:
        qs = qs.annotate(
            present=Count("attendance", filter=Q(attendance__present=True)),
            invited=Count("attendance"),
        )
    if hasattr(kind.model, "organiser"):
        qs = qs.select_related("organiser")
    return qs.order_by("-held_on", "-id")


def _export_row(kind: Kind, obj: Any) -> list[Any]:
    if kind.model is StudySession:
        return [
            obj.held_on,
            obj.get_kind_display(),
            obj.topic,
            obj.organiser or "",
            obj.hours,
            obj.present,
            obj.invited - obj.present,
            obj.location,
        ]
    if kind.model is Training:
        return [
            obj.held_on,
            obj.get_audience_display(),
            obj.topic,
            obj.trainer,
            obj.hours,
            obj.present,
            obj.invited - obj.present,
        ]
    return [
        obj.held_on,
        obj.get_kind_display(),
        obj.topic,
        obj.classes,
        obj.organiser or "",
        obj.participants,
    ]


def _export_headers(kind: Kind) -> list[Any]:
    if kind.model is StudySession:
        return [
            _("Date"),
            _("Type"),
            _("Topic"),
            _("Organiser"),
            _("Hours"),
            _("Present"),
            _("Absent"),
            _("Place"),
        ]
    if kind.model is Training:
        return [
            _("Date"),
            _("For"),
            _("Topic"),
            _("Trainer"),
            _("Hours"),
            _("Present"),
            _("Absent"),
        ]
    return [
        _("Date"),
        _("Type"),
        _("Topic"),
        _("Grades / classes"),
        _("Organiser"),
        _("Participants"),
    ]


def _list(request: HttpRequest, which: str) -> HttpResponseBase:
    kind = _kind(which)
    qs = _records(kind, request.GET)
    if request.GET.get("export") == "xlsx":
        return exports.xlsx_response(
            thing=kind.thing,
            title=str(kind.title),
            headers=_export_headers(kind),
            rows=[_export_row(kind, o) for o in qs],
            filters=_filters(request),
        )
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "duty/record_list.html",
        {
            "tab": which,
            "which": which,
            "kind": kind,
            "page": page,
            "f": request.GET,
            "query": "&".join(f"{k}={v}" for k, v in _filters(request).items()),
            "can_manage": _can_manage(request),
        },
    )


def _edit(request: HttpRequest, which: str, pk: int | None) -> HttpResponseBase:
    kind = _kind(which)
    obj = get_object_or_404(kind.model, pk=pk) if pk else None
    initial: dict[str, Any] = {}
    if obj is not None:
        initial = {f: getattr(obj, f) for f in kind.form.base_fields if hasattr(obj, f)}
        if kind.model is not EducationActivity:
            initial["attendees"] = [a.user for a in obj.attendance.filter(present=True)]
            initial["absent"] = [a.user for a in obj.attendance.filter(present=False)]
    form = kind.form(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            obj = kind.save(obj, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return redirect("duty:record_detail", which=which, pk=obj.pk)
    title = str(obj) if obj else kind.new_title
    return render(request, "duty/form.html", {"tab": which, "form": form, "title": title})


def _detail(request: HttpRequest, which: str, pk: int) -> HttpResponse:
    kind = _kind(which)
    obj = get_object_or_404(kind.model, pk=pk)
    attendance = (
        list(obj.attendance.select_related("user")) if kind.model is not EducationActivity else []
    )
    return render(
        request,
        "duty/record_detail.html",
        {
            "tab": which,
            "which": which,
            "kind": kind,
            "obj": obj,
            "attendance": attendance,
            "present": sum(1 for a in attendance if a.present),
            "files": obj.files.all(),
            "file_form": AttachmentForm(
                initial={"kind": "photo" if kind.photos_only else "material"}
            ),
            "can_manage": _can_manage(request),
        },
    )


@require("duty.view")
def record_list(request: HttpRequest, which: str) -> HttpResponseBase:
    if which not in KINDS:
        return HttpResponse(status=404)
    return _list(request, which)


@require("duty.manage")
def record_create(request: HttpRequest, which: str) -> HttpResponseBase:
    if which not in KINDS:
        return HttpResponse(status=404)
    return _edit(request, which, None)


@require("duty.manage")
def record_edit(request: HttpRequest, which: str, pk: int) -> HttpResponseBase:
    if which not in KINDS:
        return HttpResponse(status=404)
    return _edit(request, which, pk)


@require("duty.view")
def record_detail(request: HttpRequest, which: str, pk: int) -> HttpResponse:
    if which not in KINDS:
        return HttpResponse(status=404)
    return _detail(request, which, pk)


# --------------------------------------------------------------------------- deleting


@dataclass(frozen=True)
class Deletable:
    model: Any
    what: Any  # the kind of record, for the confirmation page
    back: Callable[[Any], str]  # where to go afterwards (given the deleted record)
    consequence: Any = ""


def _record_list(which: str) -> Callable[[Any], str]:
    return lambda obj: reverse("duty:record_list", args=[which])


def _attachment_parent(att: Any) -> str:
    for which, (_model, attr) in _PARENTS.items():
        parent_id = getattr(att, f"{attr}_id")
        if parent_id:
            if which == "responsibility":
                return reverse("duty:responsibility_detail", args=[parent_id])
            return reverse("duty:record_detail", args=[which, parent_id])
    return reverse("duty:index")


DELETABLE: dict[str, Deletable] = {
    "sessions": Deletable(
        StudySession,
        gettext_lazy("study session"),
        _record_list("sessions"),
        gettext_lazy("Its attendance and attached files are deleted with it."),
    ),
    "trainings": Deletable(
        Training,
        gettext_lazy("training"),
        _record_list("trainings"),
        gettext_lazy("Its attendance and attached files are deleted with it."),
    ),
    "activities": Deletable(
        EducationActivity,
        gettext_lazy("education activity"),
        _record_list("activities"),
        gettext_lazy("Its photos are deleted with it."),
    ),
    "responsibilities": Deletable(
        Responsibility,
        gettext_lazy("responsibility item"),
        lambda obj: reverse("duty:responsibility_list"),
        gettext_lazy("Its evidence files are deleted with it."),
    ),
    "periods": Deletable(
        SpecialPeriod,
        gettext_lazy("special period"),
        lambda obj: reverse("duty:period_list"),
        gettext_lazy("Daily reports already generated are kept."),
    ),
    "groups": Deletable(
        Group,
        gettext_lazy("group"),
        lambda obj: reverse("duty:group_list"),
        gettext_lazy(
            "Its whole membership history is deleted with it; to record that a group "
            "ended, end its memberships instead."
        ),
    ),
    "files": Deletable(Attachment, gettext_lazy("attached file"), _attachment_parent),
}


def _same_site(request: HttpRequest, url: str) -> bool:
    return bool(url) and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()})


@require("duty.manage")
def record_delete(request: HttpRequest, which: str, pk: int) -> HttpResponseBase:
    """GET asks for confirmation; POST deletes (audited: the log keeps what was deleted)."""
    spec = DELETABLE.get(which)
    if spec is None:
        return HttpResponse(status=404)
    obj = get_object_or_404(spec.model, pk=pk)
    referer = request.META.get("HTTP_REFERER", "")
    if request.method == "POST":
        back = spec.back(obj)
        services.record_delete(obj=obj)
        messages.success(
            request, _("Deleted: %(what)s “%(name)s”.") % {"what": spec.what, "name": obj}
        )
        return redirect(back)
    return render(
        request,
        "duty/confirm_delete.html",
        {
            "tab": which if which in KINDS else "index",
            "obj": obj,
            "what": spec.what,
            "consequence": spec.consequence,
            "cancel": referer if _same_site(request, referer) else spec.back(obj),
        },
    )


# --------------------------------------------------------------------------- attachments

_PARENTS: dict[str, tuple[Any, str]] = {
    "responsibility": (Responsibility, "responsibility"),
    "sessions": (StudySession, "session"),
    "trainings": (Training, "training"),
    "activities": (EducationActivity, "activity"),
}


@require("duty.manage")
@require_POST
def attachment_upload(request: HttpRequest, which: str, pk: int) -> HttpResponseBase:
    if which not in _PARENTS:
        return HttpResponse(status=404)
    model, field = _PARENTS[which]
    parent = get_object_or_404(model, pk=pk)
    back = (
        redirect("duty:responsibility_detail", pk=pk)
        if which == "responsibility"
        else redirect("duty:record_detail", which=which, pk=pk)
    )
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a file and its kind."))
        return back
    try:
        checked = services.file_check(
            file=form.cleaned_data["file"],
            filename=form.cleaned_data["file"].name,
            photos_only=form.cleaned_data["kind"] == Attachment.Kind.PHOTO,
        )
        services.attachment_add(
            checked=checked,
            kind=form.cleaned_data["kind"],
            user=request.user,  # type: ignore[arg-type]
            **{field: parent},
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Attached."))
    return back


@require("duty.view")
def attachment_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    att = get_object_or_404(Attachment, pk=pk)
    inline = att.content_type.startswith("image/") or att.content_type == "application/pdf"
    response = FileResponse(
        att.file.open("rb"),
        as_attachment=not inline,
        filename=att.original_name,
        content_type=att.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------- special periods


@require("duty.view")
def period_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return render(
        request,
        "duty/period_list.html",
        {
            "tab": "periods",
            "periods": SpecialPeriod.objects.order_by("-starts_on"),
            "today": today,
            "can_manage": _can_manage(request),
        },
    )


@require("duty.manage")
def period_edit(request: HttpRequest, pk: int | None = None) -> HttpResponseBase:
    period = get_object_or_404(SpecialPeriod, pk=pk) if pk else None
    initial = {f: getattr(period, f) for f in PeriodForm.base_fields} if period is not None else {}
    form = PeriodForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.special_period_save(period=period, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return redirect("duty:period_list")
    title = period.name if period else _("New special period")
    return render(request, "duty/form.html", {"tab": "periods", "form": form, "title": title})


# --------------------------------------------------------------------------- counts


@require("duty.view")
def stats(request: HttpRequest) -> HttpResponseBase:
    period = selectors.parse_period(request.GET)
    people = selectors.person_counts(period)
    if request.GET.get("export") == "xlsx":
        rows: list[list[Any]] = []
        for title, counts in (
            (_("Study sessions"), selectors.study_counts(period)),
            (_("Trainings"), selectors.training_counts(period)),
            (_("Education activities"), selectors.activity_counts(period)),
        ):
            rows += [[title, c.label, c.count, c.hours or "", c.extra or ""] for c in counts]
        person_headers = [
            _("Person"),
            _("Sessions attended"),
            _("Session hours"),
            _("Trainings attended"),
            _("Training hours"),
            _("Absences"),
            _("Sessions organised"),
        ]
        person_rows = [
            [
                p.name,
                p.sessions,
                p.session_hours,
                p.trainings,
                p.training_hours,
                p.absences,
                p.organised,
            ]
            for p in people
        ]
        return exports.xlsx_response(
            thing="stats",
            title=f"{_('Counts')} {period.label}",
            headers=[_("Record"), _("Type"), _("Count"), _("Hours"), _("Participants")],
            rows=rows,
            filters={"start": period.start, "end": period.end},
            more=[(_("Per person"), person_headers, person_rows)],
        )
    today = timezone.localdate()
    return render(
        request,
        "duty/stats.html",
        {
            "tab": "stats",
            "period": period,
            "years": list(range(today.year, today.year - 6, -1)),
            "year": period.start.year,
            "half": request.GET.get("half", ""),
            "sections": [
                (_("Study sessions"), selectors.study_counts(period), True, False),
                (_("Trainings"), selectors.training_counts(period), True, False),
                (_("Education activities"), selectors.activity_counts(period), False, True),
            ],
            "responsibilities": selectors.responsibility_counts(period),
            "people": people,
            "query": "&".join(f"{k}={v}" for k, v in _filters(request).items()),
        },
    )
