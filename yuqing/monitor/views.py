"""The monitoring desk: the mention stream, corrections, events and the school's own model."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from yuqing.core.permissions import require
from yuqing.core.tenancy import require_scope
from yuqing.monitor import corrections, selectors
from yuqing.monitor.forms import BulkForm, DeskFilterForm
from yuqing.monitor.models import (
    ClassifierVersion,
    Event,
    LabelCorrection,
    Mention,
    Risk,
    Sentiment,
    Topic,
)

CURSOR_KEYS = ("before", "after", "seen")


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _query(params: QueryDict, **extra: Any) -> str:
    """The filter part of the query string, without cursors, plus ``extra``."""
    q = params.copy()
    for key in CURSOR_KEYS:
        q.pop(key, None)
    for key, value in extra.items():
        q[key] = str(value)
    return q.urlencode()


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = default
    return redirect(target)


def _desk_context(request: HttpRequest) -> dict[str, Any]:
    user: Any = request.user
    return {
        "can_manage": user.can("monitor.manage"),
        "sentiments": Sentiment.choices,
        "topics": Topic.choices,
        "risks": Risk.choices,
    }


@require("monitor.view")
def index(request: HttpRequest) -> HttpResponse:
    form = DeskFilterForm(request.GET or None)
    filters = form.filters()
    ctx = _desk_context(request)
    after = _int(request.GET.get("after"))
    htmx = getattr(request, "htmx", False)
    if htmx and after is not None:
        return _live(request, filters, after, ctx)
    before = _int(request.GET.get("before"))
    page = selectors.mention_stream(filters, before=before)
    ctx.update(
        selectable=True,
        form=form,
        filters=filters,
        rows=selectors.mention_rows(page.mentions, page.terms),
        next_before=page.next_before,
        more_query=_query(request.GET, before=page.next_before) if page.next_before else "",
        query=_query(request.GET),
        q=filters.get("q", ""),
        first_page=before is None,
    )
    if htmx and request.htmx.target == "stream-more":  # type: ignore[attr-defined]
        return render(request, "monitor/partials/stream_page.html", ctx)
    top = page.mentions[0].pk if page.mentions and before is None else selectors.newest_id()
    ctx.update(
        live_query=_query(request.GET, after=top, seen=0),
        seen=0,
        events=selectors.open_events() if ctx["can_manage"] else [],
        event=Event.objects.filter(pk=filters["event"]).first() if filters.get("event") else None,
        filtered=form.is_filtered,
        active_filters=sum(
            1 for k in filters if k not in ("q", "relevant", "event", "start", "end")
        ),
        has_mentions=bool(page.mentions) or Mention.objects.exists(),
    )
    return render(request, "monitor/index.html", ctx)


def _live(
    request: HttpRequest, filters: dict[str, Any], after: int, ctx: dict[str, Any]
) -> HttpResponse:
    """The poller's answer: new mentions above the first shown one, and the "N new" notice."""
    fresh = selectors.mentions_since(filters, after=after)
    seen = (_int(request.GET.get("seen")) or 0) + len(fresh)
    top = fresh[0].pk if fresh else after
    terms = selectors.search.query_terms(filters.get("q", "")) if filters.get("q") else []
    ctx.update(
        selectable=True,
        new_rows=selectors.mention_rows(fresh, terms),
        seen=seen,
        live_query=_query(request.GET, after=top, seen=seen),
        query=_query(request.GET),
        q=filters.get("q", ""),
    )
    return render(request, "monitor/partials/live.html", ctx)


@require("monitor.manage")
@require_POST
def correct(request: HttpRequest, pk: int) -> HttpResponse:
    mention = get_object_or_404(Mention.objects.select_related("source", "event"), pk=pk)
    field, value = request.POST.get("field", ""), request.POST.get("value", "")
    try:
        corrections.mention_correct(mention=mention, field=field, value=value, user=request.user)
    except ValidationError as exc:
        return HttpResponseBadRequest("; ".join(exc.messages))
    if getattr(request, "htmx", False):
        q = request.POST.get("q", "")
        terms = selectors.search.query_terms(q) if q else []
        ctx = _desk_context(request)
        ctx.update(
            row=selectors.mention_row(mention, terms),
            q=q,
            just_corrected=field,
            selectable=request.POST.get("sel") == "1",
        )
        return render(request, "monitor/partials/mention.html", ctx)
    messages.success(request, _("Label corrected."))
    return _back(request, reverse("monitor:index"))


@require("monitor.manage")
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    back = reverse("monitor:index")
    if request.POST.get("action") == "case":
        # Opening a case is the cases module's form, prefilled with the selected mentions.
        ids = [i for i in request.POST.getlist("ids") if i.isdigit()][:200]
        if not ids:
            messages.error(request, _("Select at least one mention and an action."))
            return _back(request, back)
        return redirect(reverse("cases:new") + "?mentions=" + ",".join(ids))
    form = BulkForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Select at least one mention and an action."))
        return _back(request, back)
    action = form.cleaned_data["action"]
    try:
        n = corrections.mentions_bulk(
            action=action,
            mention_ids=form.cleaned_data["ids"],
            user=request.user,
            event=form.cleaned_data.get("event"),
        )
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return _back(request, back)
    text = {
        "read": ngettext("%(n)d mention marked read.", "%(n)d mentions marked read.", n),
        "ignore": ngettext("%(n)d mention ignored.", "%(n)d mentions ignored.", n),
        "add_to_event": ngettext(
            "%(n)d mention added to the event.", "%(n)d mentions added to the event.", n
        ),
    }[action]
    messages.success(request, text % {"n": n})
    return _back(request, back)


# -- events ------------------------------------------------------------------------------------


@require("monitor.view")
def events(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "latest")
    if sort not in selectors.EVENT_SORTS:
        sort = "latest"
    status = request.GET.get("status", "")
    qs = selectors.event_list(sort)
    if status in Event.Status.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "monitor/events.html",
        {
            "page": page,
            "sort": sort,
            "status": status,
            "statuses": Event.Status.choices,
            "sorts": [
                ("latest", _("Latest")),
                ("risk", _("Peak risk")),
                ("size", _("Size")),
            ],
        },
    )


@require("monitor.view")
def event(request: HttpRequest, pk: int) -> HttpResponse:
    from yuqing.text.llm import LLMConfig, LLMError, extractive_summary

    obj = get_object_or_404(Event.objects, pk=pk)
    facts = selectors.event_facts(obj)
    mentions = selectors.event_mentions(obj)
    summary = obj.summary
    if not summary:
        # Computed here, from the event's own posts, with no network: cheap and always there.
        summary = extractive_summary(corrections._event_posts(obj))
    try:
        llm = LLMConfig.from_env() is not None
    except LLMError:
        llm = False
    ctx = _desk_context(request)
    ctx.update(
        event=obj,
        facts=facts,
        rows=selectors.mention_rows(mentions, []),
        more=facts.count > len(mentions),
        summary=summary,
        summary_stored=bool(obj.summary),
        llm=llm,
        statuses=Event.Status.choices,
        q="",
    )
    return render(request, "monitor/event.html", ctx)


@require("monitor.manage")
@require_POST
def event_status(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(Event.objects, pk=pk)
    try:
        corrections.event_set_status(
            event=obj, status=request.POST.get("status", ""), user=request.user
        )
    except ValidationError as exc:
        return HttpResponseBadRequest("; ".join(exc.messages))
    messages.success(request, _("Event status changed."))
    return redirect("monitor:event", pk=obj.pk)


@require("monitor.manage")
@require_POST
def event_summary(request: HttpRequest, pk: int) -> HttpResponse:
    obj = get_object_or_404(Event.objects, pk=pk)
    corrections.event_summarise(event=obj)
    messages.success(request, _("Summary updated."))
    return redirect("monitor:event", pk=obj.pk)


# -- the school's own model -------------------------------------------------------------------


@require("monitor.view")
def model(request: HttpRequest) -> HttpResponse:
    versions = list(ClassifierVersion.objects.select_related("created_by").defer("weights")[:30])
    recent = list(
        LabelCorrection.objects.select_related("mention", "corrected_by").order_by(
            "-corrected_at", "-id"
        )[:20]
    )
    ctx = _desk_context(request)
    ctx.update(
        versions=versions,
        active=next((v for v in versions if v.is_active), None),
        corrections=recent,
        n_corrections=LabelCorrection.objects.count(),
        can_write=require_scope().writable is not None,
    )
    return render(request, "monitor/model.html", ctx)


@require("monitor.manage")
@require_POST
def retrain(request: HttpRequest) -> HttpResponse:
    from yuqing.monitor.tasks import retrain_school_classifier

    school_id = require_scope().writable
    if school_id is None:
        return HttpResponseBadRequest("read-only scope")
    user_id = request.user.pk
    transaction.on_commit(lambda: retrain_school_classifier(school_id, user_id))
    messages.success(
        request,
        _(
            "Retraining has started. The new version appears here when it is ready (about a minute)."
        ),
    )
    return redirect("monitor:model")


@require("monitor.manage")
@require_POST
def model_activate(request: HttpRequest) -> HttpResponse:
    school_id = require_scope().writable
    if school_id is None:
        return HttpResponseBadRequest("read-only scope")
    raw = request.POST.get("version", "")
    version = None
    if raw != "shipped":
        version = get_object_or_404(ClassifierVersion.objects.defer("weights"), pk=_int(raw) or 0)
    corrections.classifier_activate(school_id=school_id, version=version, user=request.user)
    if version is None:
        messages.success(request, _("The shipped model is in use again."))
    else:
        messages.success(request, _("Version %(n)s is in use.") % {"n": version.number})
    return redirect("monitor:model")
