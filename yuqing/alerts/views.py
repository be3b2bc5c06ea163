"""Views of the alerts module: parse, check access, call one service, render.

Acknowledging and closing an alert need ``cases.handle`` (monitors, handlers, reviewers and
administrators of the school: the people escalations reach), not ``alerts.manage``: the
reviewer woken at 11 p.m. must be able to say "I have it". Bureau people read only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yuqing.accounts.models import User
from yuqing.alerts import services
from yuqing.alerts.delivery import channel_backlog
from yuqing.alerts.forms import (
    ChannelForm,
    MessageTemplateForm,
    PolicyForm,
    PrefsForm,
    RuleForm,
    SubscriptionForm,
)
from yuqing.alerts.models import (
    LEVELS,
    TEMPLATE_KINDS,
    Alert,
    AlertRule,
    Channel,
    Delivery,
    Level,
    Notification,
    Subscription,
)
from yuqing.core.permissions import require


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _alert_list_context(request: HttpRequest) -> dict[str, Any]:
    status = request.GET.get("status", "active")
    level = request.GET.get("level", "")
    qs = Alert.objects.select_related("event", "acknowledged_by")
    if status == "active":
        qs = qs.filter(status__in=[Alert.Status.OPEN, Alert.Status.ESCALATED])
    elif status in Alert.Status.values:
        qs = qs.filter(status=status)
    if level.isdigit():
        qs = qs.filter(level=int(level))
    page = Paginator(qs.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    return {
        "page": page,
        "status": status,
        "level": level,
        "statuses": [("active", _("Open or escalated")), *Alert.Status.choices, ("all", _("All"))],
        "levels": Level.choices,
        "query": request.GET.urlencode(),
    }


@require("alerts.view")
def index(request: HttpRequest) -> HttpResponse:
    context = _alert_list_context(request)
    if _is_htmx(request) and request.htmx.target == "alert-list":  # type: ignore[attr-defined]
        return render(request, "alerts/_alert_list.html", context)
    context["can_manage"] = request.user.can("alerts.manage")  # type: ignore[union-attr]
    return render(request, "alerts/index.html", context)


def _event_url(event_id: int | None) -> str:
    if event_id is None:
        return ""
    for name in ("monitor:event_detail", "monitor:event"):
        try:
            return reverse(name, args=[event_id])
        except NoReverseMatch:
            continue
    return ""


@require("alerts.view")
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    from yuqing.monitor.models import Mention

    alert = get_object_or_404(
        Alert.objects.select_related("event", "rule", "acknowledged_by"), pk=pk
    )
    mentions = list(
        Mention.objects.filter(pk__in=alert.mention_ids or []).select_related("source")[:20]
    )
    if alert.event_id and len(mentions) < 10:
        seen = {m.pk for m in mentions}
        mentions += [
            m
            for m in Mention.objects.filter(event_id=alert.event_id).select_related("source")[:10]
            if m.pk not in seen
        ]
    others = (
        Alert.objects.filter(event_id=alert.event_id).exclude(pk=alert.pk).order_by("level")
        if alert.event_id
        else []
    )
    context = {
        "alert": alert,
        "info": LEVELS[alert.level],
        "mentions": mentions,
        "others": others,
        "deliveries": alert.deliveries.select_related("channel", "user").order_by("id")[:100],
        "event_url": _event_url(alert.event_id),
        "can_handle": request.user.can("cases.handle"),  # type: ignore[union-attr]
        "next_step": (
            services.escalation_targets(alert, alert.escalation_step + 1)
            if alert.escalate_at
            else None
        ),
    }
    if _is_htmx(request) and request.htmx.target == "alert-state":  # type: ignore[attr-defined]
        return render(request, "alerts/_alert_state.html", context)
    return render(request, "alerts/detail.html", context)


@require("cases.handle")
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponseBase:
    alert = get_object_or_404(Alert, pk=pk)
    try:
        services.alert_acknowledge(alert=alert, user=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Acknowledged: escalation stopped."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("alerts:detail", pk=alert.pk)


@require("cases.handle")
@require_POST
def close(request: HttpRequest, pk: int) -> HttpResponseBase:
    alert = get_object_or_404(Alert, pk=pk)
    try:
        services.alert_close(alert=alert, user=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Alert closed."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("alerts:detail", pk=alert.pk)


# --------------------------------------------------------------------------- rules


def _sources() -> list[tuple[int, str]]:
    from yuqing.monitor.models import Source

    return list(Source.objects.order_by("name").values_list("pk", "name"))


@require("alerts.manage")
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = AlertRule.objects.order_by("-level", "name")
    return render(request, "alerts/rule_list.html", {"rules": rules})


def _rule_form_page(request: HttpRequest, rule: AlertRule | None) -> HttpResponse:
    if request.method == "POST":
        form = RuleForm(request.POST, sources=_sources())
        if form.is_valid():
            try:
                saved = services.rule_save(
                    rule=rule,
                    name=form.cleaned_data["name"],
                    kind=form.cleaned_data["kind"],
                    level=form.cleaned_data["level"],
                    params=form.params(),
                    enabled=form.cleaned_data["enabled"],
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Rule saved."))
                return redirect("alerts:rule_edit", pk=saved.pk)
    else:
        initial = RuleForm.initial_for(rule) if rule else None
        form = RuleForm(initial=initial, sources=_sources())
    return render(request, "alerts/rule_form.html", {"form": form, "rule": rule})


def _form_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@require("alerts.manage")
def rule_create(request: HttpRequest) -> HttpResponse:
    return _rule_form_page(request, None)


@require("alerts.manage")
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _rule_form_page(request, get_object_or_404(AlertRule, pk=pk))


@require("alerts.manage")
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponseBase:
    rule = get_object_or_404(AlertRule, pk=pk)
    services.rule_delete(rule=rule)
    messages.success(request, _("Rule deleted."))
    return redirect("alerts:rule_list")


@require("alerts.manage")
@require_POST
def rule_test(request: HttpRequest) -> HttpResponse:
    """The rule as typed, over the last 7 days: "would have fired N times: …"."""
    form = RuleForm(request.POST, sources=_sources())
    result = None
    error = ""
    if form.is_valid():
        try:
            result = services.rule_backtest(
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                level=form.cleaned_data["level"],
                params=form.params(),
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    return render(request, "alerts/_backtest.html", {"result": result, "error": error})


# --------------------------------------------------------------------------- channels


@require("alerts.manage")
def channel_list(request: HttpRequest) -> HttpResponse:
    channels = list(Channel.objects.order_by("name"))
    for channel in channels:
        channel.backlog = channel_backlog(channel)  # type: ignore[attr-defined]
        channel.last = channel.deliveries.order_by("-id").first()  # type: ignore[attr-defined]
    return render(request, "alerts/channel_list.html", {"channels": channels})


def _channel_form_page(request: HttpRequest, channel: Channel | None) -> HttpResponse:
    if request.method == "POST":
        form = ChannelForm(request.POST)
        if form.is_valid():
            try:
                saved = services.channel_save(
                    channel=channel,
                    name=form.cleaned_data["name"],
                    kind=form.cleaned_data["kind"],
                    config=form.config(channel.config if channel else None),
                    levels=form.cleaned_data["levels"],
                    enabled=form.cleaned_data["enabled"],
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Channel saved."))
                return redirect("alerts:channel_detail", pk=saved.pk)
    else:
        form = ChannelForm(initial=ChannelForm.initial_for(channel) if channel else None)
    context: dict[str, Any] = {"form": form, "channel": channel, "levels": Level.choices}
    if channel is not None:
        context.update(_log_context(channel))
    return render(request, "alerts/channel_form.html", context)


def _log_context(channel: Channel) -> dict[str, Any]:
    return {
        "channel": channel,
        "log": channel.deliveries.select_related("alert", "user").order_by("-id")[:50],
        "backlog": channel_backlog(channel),
        "Status": Delivery.Status,
    }


@require("alerts.manage")
def channel_create(request: HttpRequest) -> HttpResponse:
    return _channel_form_page(request, None)


@require("alerts.manage")
def channel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _channel_form_page(request, get_object_or_404(Channel, pk=pk))


@require("alerts.manage")
def channel_log(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    return render(request, "alerts/_delivery_log.html", _log_context(channel))


@require("alerts.manage")
@require_POST
def channel_test(request: HttpRequest, pk: int) -> HttpResponseBase:
    channel = get_object_or_404(Channel, pk=pk)
    level = request.POST.get("level", "1")
    services.channel_send_test(
        channel=channel, level=int(level) if level in ("1", "2", "3", "4") else 1
    )
    if _is_htmx(request):
        return render(request, "alerts/_delivery_log.html", _log_context(channel))
    messages.info(request, _("Test message queued; its result appears in the delivery log."))
    return redirect("alerts:channel_detail", pk=channel.pk)


@require("alerts.manage")
def channel_preview(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    raw = request.GET.get("level", "4")
    level = int(raw) if raw in ("1", "2", "3", "4") else 4
    shown = services.preview_for(channel.kind, level)
    return render(
        request,
        "alerts/_preview.html",
        {"channel": channel, "preview": shown, "level": level, "levels": Level.choices},
    )


# --------------------------------------------------------------------------- message templates


def _template_target(kind: str, level: int) -> tuple[str, int]:
    from yuqing.alerts import templating

    if kind not in templating.PARTS or level not in Level.values:
        raise Http404
    return kind, level


@require("alerts.manage")
def template_list(request: HttpRequest) -> HttpResponse:
    from yuqing.alerts.models import MessageTemplate

    own = {(t.channel_kind, t.level): t for t in MessageTemplate.objects.all()}
    rows = [
        (value, label, [(lv, own.get((value, lv))) for lv, _name in Level.choices])
        for value, label in TEMPLATE_KINDS
    ]
    return render(request, "alerts/template_list.html", {"rows": rows, "levels": Level.choices})


@require("alerts.manage")
def template_edit(request: HttpRequest, kind: str, level: int) -> HttpResponse:
    from yuqing.alerts import templating

    kind, level = _template_target(kind, level)
    parts = templating.PARTS[kind]
    own = services.template_for(kind, level)
    preview = None
    if request.method == "POST":
        form = MessageTemplateForm(request.POST, parts=parts)
        if form.is_valid():
            draft = {p: form.cleaned_data.get(p, "") for p in parts}
            errors = templating.check_parts(kind, draft)
            if "preview" in request.POST:
                if errors:
                    form.add_service_errors(ValidationError(errors))
                else:
                    preview = services.preview_for(kind, level, parts=draft)
            else:
                try:
                    services.template_save(
                        channel_kind=kind,
                        level=level,
                        parts=draft,
                        by=request.user,  # type: ignore[arg-type]
                    )
                except ValidationError as exc:
                    form.add_service_errors(exc)
                else:
                    messages.success(request, _("Message template saved."))
                    return redirect("alerts:template_edit", kind=kind, level=level)
    else:
        initial = templating.parts_of(own) if own else templating.default_parts(kind)
        form = MessageTemplateForm(initial=initial, parts=parts)
        preview = services.preview_for(kind, level)
    return render(
        request,
        "alerts/template_form.html",
        {
            "form": form,
            "kind": kind,
            "kind_label": dict(TEMPLATE_KINDS)[kind],
            "level": level,
            "own": own,
            "preview": preview,
            "variables": templating.VARIABLES.items(),
            "syntax_help": _(
                "Django template language: {{ title }}, {% if school %}…{% endif %}, "
                "{% for line in lines %}…{% endfor %}. Tags that load, include or switch "
                "off escaping are refused."
            ),
        },
    )


@require("alerts.manage")
@require_POST
def template_reset(request: HttpRequest, kind: str, level: int) -> HttpResponseBase:
    kind, level = _template_target(kind, level)
    if services.template_reset(channel_kind=kind, level=level):
        messages.success(request, _("Back to the built-in wording."))
    return redirect("alerts:template_edit", kind=kind, level=level)


# --------------------------------------------------------------------------- people


@require("alerts.manage")
def subscriptions(request: HttpRequest) -> HttpResponse:
    users = [(u.pk, str(u)) for u in User.objects.filter(is_active=True).order_by("username")]
    channels = [(c.pk, c.name) for c in Channel.objects.order_by("name")]
    form = SubscriptionForm(request.POST or None, users=users, channels=channels)
    if request.method == "POST" and form.is_valid():
        try:
            user = get_object_or_404(User, pk=form.cleaned_data["user"])
            chosen = form.cleaned_data.get("channel")
            channel = get_object_or_404(Channel, pk=chosen) if chosen else None
            services.subscription_save(
                user=user, channel=channel, levels=form.cleaned_data["levels"]
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Subscription saved."))
            return redirect("alerts:subscriptions")
    rows = Subscription.objects.select_related("user", "channel").order_by("user__username")
    return render(request, "alerts/subscriptions.html", {"form": form, "rows": rows})


@require("alerts.manage")
@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponseBase:
    services.subscription_delete(subscription=get_object_or_404(Subscription, pk=pk))
    messages.success(request, _("Subscription removed."))
    return redirect("alerts:subscriptions")


@require("alerts.manage")
def policy(request: HttpRequest) -> HttpResponse:
    school_id = int(request.user.school_id)  # type: ignore[union-attr, arg-type]
    current = services.policy_for(school_id)
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            ack, roles = form.values()
            try:
                services.policy_update(policy=current, ack_minutes=ack, escalation_roles=roles)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Acknowledgement limits saved."))
                return redirect("alerts:policy")
    else:
        initial: dict[str, Any] = {}
        for value, _label in Level.choices:
            limit = current.ack_limit(value)
            initial[f"ack_{value}"] = int(limit.total_seconds() // 60) if limit else None
            initial[f"roles_{value}"] = ", ".join(current.roles_for(value))
        form = PolicyForm(initial=initial)
    return render(request, "alerts/policy.html", {"form": form})


@require("alerts.view")
def my_settings(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    prefs = services.prefs_for(user)
    if request.method == "POST":
        form = PrefsForm(request.POST)
        if form.is_valid():
            try:
                services.prefs_save(user=user, **form.cleaned_data)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Your alert settings were saved."))
                return redirect("alerts:my_settings")
    else:
        form = PrefsForm(
            initial={
                "quiet_start": prefs.quiet_start,
                "quiet_end": prefs.quiet_end,
                "weekends_quiet": prefs.weekends_quiet,
                "digest_time": prefs.digest_time,
            }
        )
    subs = Subscription.objects.filter(user=user).select_related("channel")
    return render(request, "alerts/my_settings.html", {"form": form, "subs": subs})


# --------------------------------------------------------------------------- notifications


def _unread(request: HttpRequest) -> Any:
    user: Any = request.user
    return Notification.objects.filter(user=user, read_at=None)


@require("alerts.view")
def notifications(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    rows = Notification.objects.filter(user=user).select_related("alert")[:100]
    return render(request, "alerts/notifications.html", {"rows": rows})


@require("alerts.view")
def notification_badge(request: HttpRequest) -> HttpResponse:
    """The top bar's badge: rendered in the page and polled alone every 30 seconds."""
    unread = _unread(request)
    top = unread.order_by("-level").values_list("level", flat=True).first()
    return render(request, "alerts/_badge.html", {"unread": unread.count(), "top_level": top or 0})


@require("alerts.view")
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponseBase:
    services.notifications_mark_read(user=request.user)  # type: ignore[arg-type]
    return redirect("alerts:notifications")


def active_count(request: HttpRequest) -> tuple[int, int]:
    qs = Alert.objects.filter(Q(status=Alert.Status.OPEN) | Q(status=Alert.Status.ESCALATED))
    top = qs.order_by("-level").values_list("level", flat=True).first()
    return qs.count(), int(top or 0)
