"""Views of the publishing module: parse, check access, call one service, render."""

from __future__ import annotations

import html
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yuqing.core.permissions import require
from yuqing.publishing import approval, content, services, workflow
from yuqing.publishing.forms import (
    ActForm,
    DraftForm,
    FlowForm,
    OverrideForm,
    PublicationForm,
    SettingsForm,
    StepForm,
    UploadForm,
)
from yuqing.publishing.models import (
    Attachment,
    CheckRun,
    Draft,
    Flow,
    FlowStep,
    Review,
    ReviewComment,
    Revision,
    Signature,
    StepState,
)


def _form_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _user(request: HttpRequest) -> Any:
    return request.user


# --------------------------------------------------------------------------- list


@require("publishing.view")
def index(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    tab = request.GET.get("tab", "")
    waiting = services.pending_for(user) if user.can("publishing.review") else []
    if tab not in ("waiting", "mine", "all", "published"):
        tab = "waiting" if waiting else "all"
    drafts = Draft.objects.select_related("author", "department")
    if tab == "mine":
        drafts = drafts.filter(author=user)
    elif tab == "published":
        drafts = drafts.filter(status=Draft.Status.PUBLISHED)
    elif tab == "waiting":
        drafts = drafts.filter(pk__in=[s.review.draft_id for s in waiting])
    page = Paginator(drafts.order_by("-updated_at", "-id"), 30).get_page(request.GET.get("page"))
    return render(
        request,
        "publishing/index.html",
        {
            "page": page,
            "tab": tab,
            "waiting_count": len(waiting),
            "can_draft": user.can("publishing.draft"),
            "can_review": user.can("publishing.review"),
        },
    )


# --------------------------------------------------------------------------- drafts


@require("publishing.draft")
def draft_new(request: HttpRequest) -> HttpResponse:
    form = DraftForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            draft = services.draft_create(
                author=_user(request),
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                channels=form.cleaned_data["channels"],
                department=form.cleaned_data["department"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Draft saved."))
            return redirect("publishing:draft", pk=draft.pk)
    return render(request, "publishing/draft_form.html", {"form": form, "draft": None})


@require("publishing.draft")
def draft_edit(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(Draft, pk=pk)
    user = _user(request)
    if not services.can_edit(user, draft):
        messages.error(request, _("Only the author or a reviewer may edit this draft."))
        return redirect("publishing:draft", pk=draft.pk)
    initial = {
        "title": draft.title,
        "body": draft.body,
        "channels": draft.channels,
        "department": draft.department_id,
    }
    form = DraftForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        was = draft.status
        try:
            saved = services.draft_save(
                draft=draft,
                user=user,
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
                channels=form.cleaned_data["channels"],
                department=form.cleaned_data["department"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            if was != saved.status and saved.status == Draft.Status.DRAFT:
                messages.warning(
                    request, _("Saved. The edit voided the earlier approvals: submit it again.")
                )
            else:
                messages.success(request, _("Draft saved."))
            return redirect("publishing:draft", pk=draft.pk)
    return render(
        request,
        "publishing/draft_form.html",
        {"form": form, "draft": draft, "attachments": draft.attachment_set.all()},
    )


def marked_text(text: str, findings: list[dict[str, Any]]) -> str:
    """The text with each finding of the body marked where it is (escaped, safe)."""
    spans = sorted(
        (
            (int(f["start"]), int(f["end"]), i, f)
            for i, f in enumerate(findings)
            if f.get("where") == "body" and 0 <= int(f["start"]) < int(f["end"]) <= len(text)
        ),
        key=lambda s: (s[0], -s[1]),
    )
    out: list[str] = []
    at = 0
    for start, end, i, f in spans:
        if start < at:
            continue  # overlapping findings: the first one is marked, all are listed
        out.append(html.escape(text[at:start]))
        css = f"finding finding-{f['severity']}" + (" is-overridden" if f.get("overridden") else "")
        title = f["kind"] + (f" → {f['suggestion']}" if f.get("suggestion") else "")
        out.append(
            f'<mark class="{css}" id="finding-{i}" title="{html.escape(title)}">'
            f"{html.escape(text[start:end])}</mark>"
        )
        at = end
    out.append(html.escape(text[at:]))
    paragraphs = "".join(out).split("\n")
    return mark_safe("".join(f"<p>{p}</p>" for p in paragraphs))  # noqa: S308  (every piece escaped above)


def _findings_view(run: CheckRun | None, revision: Revision | None) -> list[dict[str, Any]]:
    if run is None or revision is None:
        return []
    rows = []
    for i, f in enumerate(run.findings):
        row = dict(f)
        row["index"] = i
        if f.get("where") == "body":
            row["line"], row["col"] = content.line_col(revision.text, int(f["start"]))
        elif f.get("where") == "title":
            row["line"], row["col"] = 0, int(f["start"]) + 1
        rows.append(row)
    return rows


def _detail_context(request: HttpRequest, draft: Draft) -> dict[str, Any]:
    user = _user(request)
    revision = draft.current_revision
    run = services.latest_checks(draft)
    state = workflow.active_step(draft)
    review = Review.objects.filter(draft=draft).select_related("flow").order_by("-id").first()
    flow = review.flow if review else workflow.flow_for(draft)
    states = (
        list(
            StepState.objects.filter(review=review)
            .select_related("step", "acted_by", "revision")
            .order_by("id")
        )
        if review
        else []
    )
    signatures = {s.step_state_id: s for s in Signature.objects.filter(step_state__in=states)}
    for s in states:
        s.sig = signatures.get(s.pk)  # type: ignore[attr-defined]
    can_act = (
        state is not None and user.can("publishing.review") and workflow.may_act(user, state.step)
    )
    own_draft = draft.author_id == user.pk
    findings = _findings_view(run, revision)
    return {
        "draft": draft,
        "revision": revision,
        "run": run,
        "findings": findings,
        "marked": marked_text(revision.text if revision else "", run.findings if run else []),
        "review": review,
        "flow": flow,
        "flow_steps": list(flow.steps.order_by("order")),
        "states": states,
        "state": state,
        "can_act": can_act,
        "self_blocked": can_act and own_draft and not flow.allow_self_approval,
        "can_edit": user.can("publishing.draft") and services.can_edit(user, draft),
        "can_review": user.can("publishing.review"),
        "comments": ReviewComment.objects.filter(review=review).select_related("author", "revision")
        if review
        else [],
        "attachments": draft.attachment_set.all(),
        "publications": draft.publications.select_related("revision").all(),
        "revisions": draft.revisions.order_by("-number")[:20],
        "pdf": approval.pdf_available(),
        "act_form": ActForm(),
        "publication_form": PublicationForm(initial={"channel": (draft.channels or [""])[0]}),
        "upload_form": UploadForm(),
        "submittable": draft.status
        in (Draft.Status.DRAFT, Draft.Status.NEEDS_CHANGES, Draft.Status.REJECTED),
    }


@require("publishing.view")
def draft_detail(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(Draft.objects.select_related("author", "department"), pk=pk)
    return render(request, "publishing/draft_detail.html", _detail_context(request, draft))


@require("publishing.draft")
@require_POST
def draft_check(request: HttpRequest, pk: int) -> HttpResponseBase:
    draft = get_object_or_404(Draft, pk=pk)
    try:
        run = services.checks_run(draft=draft, stage=CheckRun.Stage.DRAFT)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if run.findings:
            messages.warning(
                request, _("%(n)s findings: see them in the text.") % {"n": len(run.findings)}
            )
        else:
            messages.success(request, _("No findings."))
    return redirect("publishing:draft", pk=draft.pk)


@require("publishing.draft")
@require_POST
def draft_submit(request: HttpRequest, pk: int) -> HttpResponseBase:
    draft = get_object_or_404(Draft, pk=pk)
    try:
        workflow.review_submit(draft=draft, user=_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Submitted for review."))
    return redirect("publishing:draft", pk=draft.pk)


# --------------------------------------------------------------------------- attachments


@require("publishing.draft")
@require_POST
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponseBase:
    draft = get_object_or_404(Draft, pk=pk)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a file to attach."))
        return redirect("publishing:draft_edit", pk=draft.pk)
    upload = form.cleaned_data["file"]
    if upload.size > 20 * 1024 * 1024:
        messages.error(
            request, _("The file is too large (images up to 5 MB, documents up to 20 MB).")
        )
        return redirect("publishing:draft_edit", pk=draft.pk)
    try:
        attachment = services.attachment_add(
            draft=draft, user=_user(request), name=upload.name, data=upload.read()
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Attached %(name)s.") % {"name": attachment.name})
    return redirect("publishing:draft_edit", pk=draft.pk)


@require("publishing.view")
def attachment_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    attachment = get_object_or_404(Attachment, pk=pk)
    path = services.attachment_file(attachment)
    if not path.exists():
        raise Http404
    # The type we detected, never the uploader's; documents always download.
    response = FileResponse(
        path.open("rb"),
        content_type=attachment.content_type,
        as_attachment=attachment.kind != Attachment.Kind.IMAGE,
        filename=attachment.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require("publishing.draft")
@require_POST
def attachment_delete(request: HttpRequest, pk: int) -> HttpResponseBase:
    attachment = get_object_or_404(Attachment, pk=pk)
    draft_id = attachment.draft_id
    try:
        services.attachment_remove(attachment=attachment, user=_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Attachment removed."))
    return redirect("publishing:draft_edit", pk=draft_id)


# --------------------------------------------------------------------------- review


@require("publishing.review")
@require_POST
def finding_override(request: HttpRequest, pk: int) -> HttpResponseBase:
    draft = get_object_or_404(Draft, pk=pk)
    form = OverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why this finding may stand."))
    else:
        try:
            services.finding_override(
                draft=draft,
                user=_user(request),
                key=form.cleaned_data["key"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Override recorded."))
    return redirect("publishing:draft", pk=draft.pk)


@require("publishing.review")
def review_act(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(Draft.objects.select_related("author"), pk=pk)
    form = ActForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        state_id = request.POST.get("state", "")
        state = (
            StepState.objects.select_related("review__flow", "review__draft", "step", "revision")
            .filter(pk=int(state_id) if state_id.isdigit() else 0, review__draft=draft)
            .first()
        )
        if state is None:
            messages.error(request, _("This step is no longer open."))
            return redirect("publishing:draft", pk=draft.pk)
        try:
            workflow.step_act(
                state=state,
                user=_user(request),
                action=form.cleaned_data["action"],
                comment=form.cleaned_data["comment"],
                anchors=form.cleaned_data["anchors"],
                credential=form.cleaned_data["credential"],
            )
        except workflow.StepConflict as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("publishing:draft", pk=draft.pk)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Your decision is recorded."))
            return redirect("publishing:draft", pk=draft.pk)
    context = _detail_context(request, draft)
    context["act_form"] = form
    return render(request, "publishing/draft_detail.html", context)


# --------------------------------------------------------------------------- revisions, form


@require("publishing.view")
def revisions(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(Draft, pk=pk)
    all_revisions = list(draft.revisions.order_by("-number"))
    by_number = {r.number: r for r in all_revisions}

    def pick(name: str, default: int) -> Revision | None:
        raw = request.GET.get(name, "")
        return by_number.get(int(raw)) if raw.isdigit() else by_number.get(default)

    newest = all_revisions[0].number if all_revisions else 0
    right = pick("b", newest)
    left = pick("a", max(1, (right.number if right else newest) - 1))
    rows = content.side_by_side(left.text if left else "", right.text if right else "")
    title_rows = content.side_by_side(left.title if left else "", right.title if right else "")
    return render(
        request,
        "publishing/revisions.html",
        {
            "draft": draft,
            "revisions": all_revisions,
            "left": left,
            "right": right,
            "rows": rows,
            "title_rows": title_rows,
            "changed": any(r.kind != "same" for r in rows + title_rows),
        },
    )


@require("publishing.view")
def approval_docx(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(Draft, pk=pk)
    if draft.current_revision_id is None:
        raise Http404
    data = approval.render_docx(approval.form_data(draft))
    response = HttpResponse(
        data,
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    response["Content-Disposition"] = f'attachment; filename="approval-{draft.pk}.docx"'
    return response


@require("publishing.view")
def approval_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(Draft, pk=pk)
    if draft.current_revision_id is None or not approval.pdf_available():
        raise Http404
    response = HttpResponse(
        approval.render_pdf(approval.form_data(draft)), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="approval-{draft.pk}.pdf"'
    return response


@require("publishing.draft")
@require_POST
def publication_add(request: HttpRequest, pk: int) -> HttpResponseBase:
    draft = get_object_or_404(Draft, pk=pk)
    form = PublicationForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the channel and the address where it went live."))
        return redirect("publishing:draft", pk=draft.pk)
    try:
        services.publication_record(
            draft=draft,
            user=_user(request),
            channel=form.cleaned_data["channel"],
            url=form.cleaned_data["url"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Publication recorded; the live page is now watched."))
    return redirect("publishing:draft", pk=draft.pk)


# --------------------------------------------------------------------------- settings, flows


@require("publishing.review")
def check_settings(request: HttpRequest) -> HttpResponse:
    school_id = getattr(_user(request), "school_id", None)
    if school_id is None:
        raise Http404
    row = services.settings_for(school_id)
    form = SettingsForm(request.POST or None, initial=SettingsForm.initial_for(row))
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_update(school_id=school_id, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Check settings saved."))
            return redirect("publishing:settings")
    return render(request, "publishing/settings.html", {"form": form, "tab": "checks"})


@require("publishing.review")
def flows(request: HttpRequest) -> HttpResponse:
    school_id = getattr(_user(request), "school_id", None)
    if school_id is None:
        raise Http404
    workflow.flow_seed(school_id)
    form = FlowForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workflow.flow_save(**form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Flow added."))
            return redirect("publishing:flows")
    rows = []
    for flow in Flow.objects.prefetch_related("steps").order_by("channel", "name"):
        steps = []
        for step in flow.steps.select_related("org_unit").order_by("order"):
            steps.append({"step": step, "members": workflow.step_members(step)})
        rows.append({"flow": flow, "steps": steps, "form": StepForm(prefix=f"f{flow.pk}")})
    return render(request, "publishing/flows.html", {"rows": rows, "form": form, "tab": "flows"})


@require("publishing.review")
@require_POST
def step_add(request: HttpRequest, pk: int) -> HttpResponseBase:
    flow = get_object_or_404(Flow, pk=pk)
    form = StepForm(request.POST, prefix=f"f{flow.pk}")
    if not form.is_valid():
        messages.error(request, _("Give the step a name and choose who acts."))
        return redirect("publishing:flows")
    try:
        workflow.step_add(flow=flow, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Step added."))
    return redirect("publishing:flows")


@require("publishing.review")
@require_POST
def step_delete(request: HttpRequest, pk: int) -> HttpResponseBase:
    step = get_object_or_404(FlowStep, pk=pk)
    try:
        workflow.step_remove(step=step)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Step removed."))
    return redirect("publishing:flows")
