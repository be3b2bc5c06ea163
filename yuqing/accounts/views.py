from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from yuqing.core.permissions import require

login_view = auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True)
logout_view = require_POST(auth_views.LogoutView.as_view())


@login_required
def otp_verify(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/otp_verify.html")


@login_required
def otp_setup(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/otp_setup.html")


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    return auth_views.PasswordChangeView.as_view(
        template_name="accounts/password_change.html", success_url="/"
    )(request)


@require("settings.manage")
def settings_index(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/settings.html")
