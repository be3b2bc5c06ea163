"""Roles people hold, and what each role may do.

One table, here, decides every permission: views and API endpoints name a capability, never a
role, so the role × view matrix test and this table say the same thing.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    MONITOR = "monitor", _("Monitor")  # 舆情信息员
    HANDLER = "handler", _("Handler")
    REVIEWER = "reviewer", _("Reviewer / leader")  # 审核领导
    SECURITY = "security", _("Security officer")
    STAFF = "staff", _("Staff")


A, M, H, R, S, T = (
    Role.ADMIN,
    Role.MONITOR,
    Role.HANDLER,
    Role.REVIEWER,
    Role.SECURITY,
    Role.STAFF,
)
EVERYONE = frozenset(Role)

# capability -> roles that hold it. "*.view" capabilities are also what bureau users may read.
CAPABILITIES: dict[str, frozenset[Role]] = {
    "core.dashboard": EVERYONE,
    "monitor.view": frozenset({A, M, H, R}),
    "monitor.manage": frozenset({A, M}),
    "alerts.view": frozenset({A, M, H, R}),
    "alerts.manage": frozenset({A, M}),
    "cases.view": frozenset({A, M, H, R}),
    "cases.handle": frozenset({A, M, H, R}),
    "publishing.view": frozenset({A, M, R, T}),
    "publishing.draft": frozenset({A, M, R, T}),
    "publishing.review": frozenset({A, R}),
    "security.view": frozenset({A, S}),
    "security.manage": frozenset({A, S}),
    "duty.view": EVERYONE,
    "duty.manage": frozenset({A, M}),
    "reports.view": frozenset({A, M, R}),
    "reports.generate": frozenset({A, M}),
    "settings.manage": frozenset({A}),
    "audit.view": frozenset({A}),
}

# Roles that must use a second factor when the school turns the requirement on.
SECOND_FACTOR_ROLES = frozenset({A, R})


def roles_with(capability: str) -> frozenset[Role]:
    try:
        return CAPABILITIES[capability]
    except KeyError:
        raise KeyError(f"unknown capability {capability!r}") from None


def is_read_only(capability: str) -> bool:
    return capability.endswith(".view") or capability == "core.dashboard"
