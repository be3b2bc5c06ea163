from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from yuqing.core.navigation import MODULES


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_modules": []}
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match else ""
    current = (
        "home" if namespace == "core" else ("settings" if namespace == "accounts" else namespace)
    )
    modules = [{"module": m, "active": m.key == current} for m in MODULES if user.can(m.capability)]
    return {"nav_modules": modules, "current_module": current}
