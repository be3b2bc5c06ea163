"""The modules in the main navigation, each with the capability that shows it."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

StrOrPromise = str | Promise  # a lazy translation until rendered


@dataclass(frozen=True)
class Module:
    key: str
    url_name: str
    label: StrOrPromise
    capability: str
    icon: str  # name of an SVG symbol in static/yuqing/icons.svg


MODULES: tuple[Module, ...] = (
    Module("home", "core:home", _("Overview"), "core.dashboard", "home"),
    # "Monitor" is also a role (舆情信息员): the module name needs its own translation.
    Module("monitor", "monitor:index", pgettext_lazy("module", "Monitor"), "monitor.view", "radar"),
    Module("alerts", "alerts:index", _("Alerts"), "alerts.view", "bell"),
    Module("cases", "cases:index", _("Cases"), "cases.view", "folder"),
    Module("publishing", "publishing:index", _("Publishing"), "publishing.view", "check"),
    Module("security", "security:index", _("Security"), "security.view", "shield"),
    Module("duty", "duty:index", _("Duty"), "duty.view", "users"),
    Module("reports", "reports:index", _("Reports"), "reports.view", "doc"),
    Module("settings", "accounts:settings", _("Settings"), "settings.manage", "gear"),
    # Its own entry so that bureau users, who read but cannot open Settings, reach it too.
    Module("audit", "audit:log", _("Audit log"), "audit.view", "lock"),
)
