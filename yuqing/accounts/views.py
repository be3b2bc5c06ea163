"""Sign-in, second factor, own password, and the school settings pages (people, units, school)."""

from __future__ import annotations

import base64
from typing import Any

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yuqing.accounts import services
from yuqing.accounts.forms import (
    LoginForm,
    OrgUnitForm,
    OwnPasswordChangeForm,
    RoleAssignForm,
    SchoolSecurityForm,
    TokenForm,
    UserCreateForm,
    UserEditForm,
    UserSearchForm,
)
from yuqing.accounts.models import OrgUnit, RoleAssignment, School, User
from yuqing.audit.services import audit_record
from yuqing.core.permissions import require, require_login

# The one-time password waits in the session between the POST that made it and the page that
# shows it, and is removed as it is shown: a reload does not show it again.
ONE_TIME_PASSWORD_KEY = "accounts.one_time_password"  # noqa: S105  (a session key, not a secret)


def _me(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # require() let only signed-in people in


def _school(request: HttpRequest) -> School:
    """The administrator's own school: settings pages always act on it, never on an id sent."""
    school = _me(request).school
    if school is None:  # a deployment superuser created before any school
        raise PermissionDenied("no school")
    return school


def _next_url(request: HttpRequest, default: str = "core:home") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(default)


def _form_errors(form: Any, exc: ValidationError) -> None:
    """Put a service's ValidationError onto the form, by field where it names one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- Sign-in and sign-out ------------------------------------------------------------------


login_view = auth_views.LoginView.as_view(
    template_name="accounts/login.html",
    authentication_form=LoginForm,
    redirect_authenticated_user=True,
    extra_context={"failure_limit": settings.AXES_FAILURE_LIMIT},
)


def lockout_username(request: HttpRequest, credentials: Any = None) -> str:
    """The name django-axes counts failures under (AXES_USERNAME_CALLABLE): as the sign-in
    form reads it (stripped) and case-folded, so " alice" or "ALICE" share alice's count
    instead of each buying a fresh set of guesses."""
    source = credentials if credentials else request.POST
    return str(source.get("username") or "").strip().casefold()


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout response (AXES_LOCKOUT_CALLABLE): the page says for how long."""
    from axes.helpers import get_cool_off, get_failure_limit

    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "cooloff_timedelta": cool_off,
        "cooloff_minutes": max(1, round(cool_off.total_seconds() / 60)) if cool_off else None,
    }
    return render(request, "accounts/locked_out.html", context, status=429)


# POST only: a sign-out link could be triggered by any page that embeds it (CSRF by <img>).
logout_view = require_POST(auth_views.LogoutView.as_view())


# --- Second factor ---------------------------------------------------------------------------


def _qr_svg(data: str) -> str:
    """The QR code as inline SVG, drawn with attributes only (the CSP forbids style="")."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=10)
    svg = image.to_string(encoding="unicode")
    # Sized by the stylesheet (.otp-qr), not by the fixed millimetres qrcode writes.
    svg = svg.replace('width="', 'data-width="', 1).replace('height="', 'data-height="', 1)
    label = _("QR code for the authenticator app")
    return svg.replace("<svg ", f'<svg class="otp-qr" role="img" aria-label="{label}" ', 1)


@require_login(verified=False)
def otp_verify(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    if not user.has_confirmed_device():
        return redirect(f"{reverse('accounts:otp_setup')}?{request.GET.urlencode()}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        devices = list(django_otp.devices_for_user(user, confirmed=True))
        throttled = [d for d in devices if not d.verify_is_allowed()[0]]
        matched = None
        if len(throttled) < len(devices):
            matched = next((d for d in devices if d.verify_token(form.cleaned_data["token"])), None)
        if matched is not None:
            django_otp.login(request, matched)
            audit_record("accounts.otp.verified", obj=user)
            return HttpResponseRedirect(_next_url(request))
        audit_record("accounts.otp.failed", obj=user)
        if devices and len(throttled) == len(devices):
            form.add_error(None, _("Too many wrong codes. Wait a moment and try again."))
        else:
            form.add_error("token", _("The code is wrong or has expired."))
    return render(request, "accounts/otp_verify.html", {"form": form, "next": _next_url(request)})


@require_login(verified=False)
def otp_setup(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if user.has_confirmed_device():
        if not user.is_verified():
            # A password alone must not be enough to replace an enrolled device.
            return redirect("accounts:otp_verify")
        return render(
            request,
            "accounts/otp_setup.html",
            {"enabled": True, "required": user.needs_second_factor()},
        )
    device = services.otp_device_pending(user=user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.otp_device_confirm(user=user, device=device, token=form.cleaned_data["token"]):
            django_otp.login(request, device)
            messages.success(request, _("Two-step verification is on."))
            return HttpResponseRedirect(_next_url(request))
        form.add_error("token", _("The code is wrong or has expired."))
    secret = base64.b32encode(device.bin_key).decode("ascii")
    context = {
        "enabled": False,
        "required": user.needs_second_factor(),
        "form": form,
        # Built here from qrcode's own output (no user input), so safe to inline.
        "qr_svg": mark_safe(_qr_svg(device.config_url)),  # noqa: S308
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "next": _next_url(request),
    }
    return render(request, "accounts/otp_setup.html", context)


@require_login()
@require_POST
def otp_disable(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if user.needs_second_factor():
        messages.error(request, _("Your school requires two-step verification for your role."))
    else:
        services.otp_device_remove_all(user=user)
        messages.success(request, _("Two-step verification is off."))
    return redirect("accounts:otp_setup")


# --- Own password ----------------------------------------------------------------------------


@require_login(password_ok=False)
def password_change(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = OwnPasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        # Keep this session signed in; every other session of the person ends.
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password was changed."))
        return HttpResponseRedirect(_next_url(request))
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "forced": user.must_change_password, "next": _next_url(request)},
    )


# --- Settings: overview ----------------------------------------------------------------------


@require("settings.manage")
def settings_index(request: HttpRequest) -> HttpResponse:
    school = _school(request)
    context = {
        "school": school,
        "user_count": User.objects.filter(is_active=True).count(),
        "unit_count": OrgUnit.objects.count(),
    }
    return render(request, "accounts/settings.html", context)


# --- Settings: people ------------------------------------------------------------------------


@require("settings.manage")
def user_list(request: HttpRequest) -> HttpResponse:
    search = UserSearchForm(request.GET or None)
    users = User.objects.prefetch_related(
        Prefetch("role_assignments", queryset=RoleAssignment.unscoped.select_related("org_unit"))
    ).order_by("username")
    if search.is_valid():
        if search.cleaned_data["q"]:
            q = search.cleaned_data["q"]
            users = users.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
        if not search.cleaned_data["show_inactive"]:
            users = users.filter(is_active=True)
    else:
        users = users.filter(is_active=True)
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/user_list.html",
        {"page": page, "search": search, "query": query.urlencode()},
    )


@require("settings.manage")
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, password = services.user_create(
                school=_school(request),
                username=data["username"],
                display_name=data["display_name"],
                email=data["email"],
                phone=data["phone"],
                roles=tuple(data["roles"]),
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            request.session[ONE_TIME_PASSWORD_KEY] = {"user": user.pk, "password": password}
            return redirect("accounts:user_detail", pk=user.pk)
    return render(request, "accounts/user_form.html", {"form": form})


def _user_detail_context(request: HttpRequest, person: User, **forms: Any) -> dict[str, Any]:
    shown = request.session.get(ONE_TIME_PASSWORD_KEY)
    one_time_password = None
    if shown and shown.get("user") == person.pk:
        one_time_password = shown.get("password")
        del request.session[ONE_TIME_PASSWORD_KEY]
    school_id = _school(request).pk
    return {
        "person": person,
        "assignments": RoleAssignment.objects.filter(user=person).select_related("org_unit"),
        "edit_form": forms.get("edit_form")
        or UserEditForm(
            initial={
                "display_name": person.display_name,
                "email": person.email,
                "phone": person.phone,
            }
        ),
        "role_form": forms.get("role_form") or RoleAssignForm(school_id=school_id),
        "one_time_password": one_time_password,
        "has_device": person.has_confirmed_device(),
        "is_self": person.pk == request.user.pk,
    }


@require("settings.manage")
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User.objects, pk=pk)
    if request.method == "POST":
        form = UserEditForm(request.POST)
        if form.is_valid():
            try:
                services.user_update(user=person, **form.cleaned_data)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("accounts:user_detail", pk=person.pk)
        return render(
            request,
            "accounts/user_detail.html",
            _user_detail_context(request, person, edit_form=form),
        )
    return render(request, "accounts/user_detail.html", _user_detail_context(request, person))


@require("settings.manage")
@require_POST
def role_add(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User.objects, pk=pk)
    form = RoleAssignForm(request.POST, school_id=_school(request).pk)
    if form.is_valid():
        try:
            services.role_assign(
                user=person, role=form.cleaned_data["role"], org_unit=form.cleaned_data["org_unit"]
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Role added."))
            return redirect("accounts:user_detail", pk=person.pk)
    return render(
        request,
        "accounts/user_detail.html",
        _user_detail_context(request, person, role_form=form),
        status=400,
    )


@require("settings.manage")
@require_POST
def role_remove(request: HttpRequest, pk: int, assignment_pk: int) -> HttpResponse:
    assignment = get_object_or_404(RoleAssignment.objects, pk=assignment_pk, user_id=pk)
    try:
        services.role_revoke(assignment=assignment, by=_me(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Role removed."))
    return redirect("accounts:user_detail", pk=pk)


@require("settings.manage")
@require_POST
def user_password_reset(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User.objects, pk=pk)
    password = services.user_reset_password(user=person)
    request.session[ONE_TIME_PASSWORD_KEY] = {"user": person.pk, "password": password}
    return redirect("accounts:user_detail", pk=person.pk)


@require("settings.manage")
@require_POST
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User.objects, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        services.user_set_active(user=person, active=active, by=_me(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Activated.") if active else _("Deactivated."))
    return redirect("accounts:user_detail", pk=person.pk)


# --- Settings: org units ---------------------------------------------------------------------


def _unit_tree(units: list[OrgUnit]) -> list[dict[str, Any]]:
    """Nested nodes for the template; units whose parent is missing show at the top."""
    by_parent: dict[int | None, list[OrgUnit]] = {}
    ids = {u.pk for u in units}
    for unit in units:
        key = unit.parent_id if unit.parent_id in ids else None
        by_parent.setdefault(key, []).append(unit)

    def build(parent: int | None, depth: int) -> list[dict[str, Any]]:
        if depth > 50:  # a corrupted cycle must not recurse forever
            return []
        return [{"unit": u, "children": build(u.pk, depth + 1)} for u in by_parent.get(parent, [])]

    return build(None, 0)


@require("settings.manage")
def unit_list(request: HttpRequest) -> HttpResponse:
    school = _school(request)
    form = OrgUnitForm(request.POST or None, school_id=school.pk)
    if request.method == "POST" and form.is_valid():
        try:
            services.org_unit_create(school=school, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Unit created."))
            return redirect("accounts:unit_list")
    units = list(OrgUnit.objects.all())
    counts: dict[int, int] = {}
    for unit_id in RoleAssignment.objects.filter(org_unit__isnull=False).values_list(
        "org_unit_id", flat=True
    ):
        counts[unit_id] = counts.get(unit_id, 0) + 1
    for unit in units:
        unit.holder_count = counts.get(unit.pk, 0)  # type: ignore[attr-defined]
    return render(request, "accounts/unit_list.html", {"tree": _unit_tree(units), "form": form})


@require("settings.manage")
def unit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(OrgUnit.objects, pk=pk)
    initial = {
        "name": unit.name,
        "kind": unit.kind,
        "parent": unit.parent,
        "sort_order": unit.sort_order,
    }
    form = OrgUnitForm(request.POST or None, school_id=unit.school_id, unit=unit, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.org_unit_update(unit=unit, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("accounts:unit_list")
    holders = RoleAssignment.objects.filter(org_unit=unit).select_related("user")
    return render(
        request, "accounts/unit_form.html", {"unit": unit, "form": form, "holders": holders}
    )


@require("settings.manage")
@require_POST
def unit_delete(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(OrgUnit.objects, pk=pk)
    try:
        services.org_unit_delete(unit=unit)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("accounts:unit_edit", pk=unit.pk)
    messages.success(request, _("Unit deleted."))
    return redirect("accounts:unit_list")


# --- Settings: school ------------------------------------------------------------------------


@require("settings.manage")
def school_settings(request: HttpRequest) -> HttpResponse:
    school = _school(request)
    form = SchoolSecurityForm(
        request.POST or None, initial={"require_second_factor": school.require_second_factor}
    )
    if request.method == "POST" and form.is_valid():
        services.school_update_security(
            school=school, require_second_factor=form.cleaned_data["require_second_factor"]
        )
        messages.success(request, _("Saved."))
        return redirect("accounts:school_settings")
    return render(request, "accounts/school_settings.html", {"school": school, "form": form})
