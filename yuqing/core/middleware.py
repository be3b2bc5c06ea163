"""Per-request context: the acting person for the audit log and the school scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from yuqing.core.context import Actor, acting_as, client_ip
from yuqing.core.tenancy import Scope, use_scope


def scope_for_user(user: Any) -> Scope | None:
    if not getattr(user, "is_authenticated", False) or user.school_id is None:
        return None
    school = user.school
    if school.is_bureau:
        return Scope(readable=school.readable_school_ids(), writable=school.pk)
    return Scope(readable=frozenset({school.pk}), writable=school.pk)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user if request.user.is_authenticated else None
        actor = Actor(
            user=user,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:200],
        )
        with acting_as(actor), use_scope(scope_for_user(request.user)):
            return self.get_response(request)
