"""The permission check every view and API endpoint goes through."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from yuqing.accounts.roles import CAPABILITIES

View = Callable[..., HttpResponse]


def second_factor_missing(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.needs_second_factor() and not user.is_verified())  # type: ignore[union-attr]


def require(capability: str) -> Callable[[View], View]:
    """Decorate a view: the user must be logged in, verified if required, and hold ``capability``."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            if second_factor_missing(request):
                return redirect("accounts:otp_verify")
            if not request.user.can(capability):  # type: ignore[union-attr]
                raise PermissionDenied(capability)
            return view(request, *args, **kwargs)

        wrapper.required_capability = capability  # type: ignore[attr-defined]
        return wrapper

    return decorator
