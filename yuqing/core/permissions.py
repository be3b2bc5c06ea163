"""The permission check every view and API endpoint goes through.

Each protected view carries a ``required_capability`` attribute (a key of
``roles.CAPABILITIES``, or ``AUTHENTICATED`` for pages every signed-in person may use), so the
role × view matrix test can read what each view promises and check that it keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from yuqing.accounts.roles import CAPABILITIES

View = Callable[..., HttpResponseBase]

# Pseudo-capability: any signed-in, active person (password change, own second factor).
AUTHENTICATED = "authenticated"


def second_factor_missing(request: HttpRequest) -> bool:
    """Signed in with a password only, where a second factor is required or enrolled.

    A person who enrolled a device must use it even when the school does not require one:
    otherwise a stolen password alone would still open the account.
    """
    user: Any = request.user
    if not user.is_authenticated or user.is_verified():
        return False
    return bool(user.needs_second_factor() or user.has_confirmed_device())


def _with_next(url_name: str, request: HttpRequest) -> HttpResponse:
    url = reverse(url_name)
    if request.method == "GET":
        url += "?" + urlencode({"next": request.get_full_path()})
    return redirect(url)


def _gate(
    request: HttpRequest, *, verified: bool, password_ok: bool = True
) -> HttpResponseBase | None:
    """The checks shared by every protected view; a response means "stop here"."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
    if verified and second_factor_missing(request):
        return _with_next("accounts:otp_verify", request)
    if verified and password_ok and getattr(request.user, "must_change_password", False):
        # A generated password was seen by an administrator: replace it before any work.
        return _with_next("accounts:password_change", request)
    return None


def require(capability: str) -> Callable[[View], View]:
    """Decorate a view: the user must be logged in, verified if required, and hold ``capability``."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            stop = _gate(request, verified=True)
            if stop is not None:
                return stop
            if not request.user.can(capability):  # type: ignore[union-attr]
                raise PermissionDenied(capability)
            return view(request, *args, **kwargs)

        wrapper.required_capability = capability  # type: ignore[attr-defined]
        return wrapper

    return decorator


def require_login(*, verified: bool = True, password_ok: bool = True) -> Callable[[View], View]:
    """Decorate a view every signed-in person may use.

    ``verified=False`` is for the pages that complete the second factor itself, and
    ``password_ok=False`` for the page that replaces a generated password; everything else
    waits until both are done.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            stop = _gate(request, verified=verified, password_ok=password_ok)
            if stop is not None:
                return stop
            return view(request, *args, **kwargs)

        wrapper.required_capability = AUTHENTICATED  # type: ignore[attr-defined]
        return wrapper

    return decorator
