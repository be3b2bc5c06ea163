"""The automated checks: one small class per check, all run through ``guard.Target``."""

from __future__ import annotations

from typing import Any

from yuqing.security.checks.availability import Availability
from yuqing.security.checks.base import Check, CheckContext, Outcome, Problem
from yuqing.security.checks.dead_links import DeadLinks
from yuqing.security.checks.defacement import Defacement
from yuqing.security.checks.exposed_paths import ExposedPaths
from yuqing.security.checks.headers import Headers
from yuqing.security.checks.hidden_links import HiddenLinks
from yuqing.security.checks.ports import Ports
from yuqing.security.checks.tls import Tls

CHECKS: dict[str, type[Check]] = {
    cls.key: cls
    for cls in (Availability, Tls, Headers, ExposedPaths, Ports, HiddenLinks, Defacement, DeadLinks)
}


def checks_for(asset: Any) -> list[type[Check]]:
    return [cls for cls in CHECKS.values() if cls.applies_to(asset)]


def check_label(key: str) -> Any:
    from django.utils.translation import gettext_lazy as _

    if key == "accounts":
        return _("Platform accounts")
    if key.startswith("import:"):
        return _("Imported scan report")
    cls = CHECKS.get(key)
    return cls.label if cls else key


__all__ = ["CHECKS", "Check", "CheckContext", "Outcome", "Problem", "check_label", "checks_for"]
