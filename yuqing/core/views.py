"""The overview every user lands on, the health check and the error pages.

The overview shows one card per module the person may open. A module reports its figures by
adding ``yuqing/<app>/overview.py`` with any of:

    def summary(request) -> Figure | None
        the number on the module's card (e.g. open alerts)
    def daily_mentions(request, start: date, end: date) -> Mapping[date, int]
        monitor only: mentions per local day, start and end included

Until a module has one, its card shows 0 for the figure it will report — the true count of
records that do not exist yet, never an invented number — and the chart says so.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from yuqing.core.navigation import Module
from yuqing.core.permissions import require

CHART_DAYS = 30


@dataclass(frozen=True)
class Figure:
    label: Any  # str or lazy translation
    value: int
    # "attention" draws the eye (e.g. a red alert is open); "" is calm.
    tone: str = ""


@dataclass(frozen=True)
class CardText:
    description: Any
    figure: Any  # what the default 0 counts


CARD_TEXT: dict[str, CardText] = {
    "monitor": CardText(_("What is said about the school online"), _("Mentions today")),
    "alerts": CardText(_("Graded warnings: blue, yellow, orange, red"), _("Open alerts")),
    "cases": CardText(_("Incidents and petitions being handled"), _("Open cases")),
    "publishing": CardText(
        _("Checks and sign-off before anything goes out"), _("Awaiting sign-off")
    ),
    "security": CardText(_("The school's own sites, servers and accounts"), _("Open findings")),
    "duty": CardText(
        _("Groups, responsibilities, study and training"), _("Study sessions this term")
    ),
    "reports": CardText(_("Daily, periodic and half-year reports"), _("Reports this month")),
    "settings": CardText(_("People, org units and roles"), _("Active users")),
}


def module_hook(app: str, name: str) -> Callable[..., Any] | None:
    """``yuqing.<app>.overview.<name>`` if the module provides it, else None."""
    modname = f"yuqing.{app}.overview"
    try:
        module = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        # Only a missing overview module means "not built yet"; a broken import inside one
        # is a bug and must not be hidden behind a zero.
        if exc.name == modname:
            return None
        raise
    hook = getattr(module, name, None)
    return hook if callable(hook) else None


def app_of(module: Module) -> str:
    return module.url_name.split(":", 1)[0]


def module_figure(request: HttpRequest, module: Module) -> Figure:
    text = CARD_TEXT[module.key]
    hook = module_hook(app_of(module), "summary")
    if hook is not None:
        figure = hook(request)
        if figure is not None:
            return figure
    if module.key == "settings":
        from yuqing.accounts.models import User

        # The scoped manager counts the people this administrator may see.
        return Figure(text.figure, User.objects.filter(is_active=True).count())
    return Figure(text.figure, 0)


def mentions_chart(request: HttpRequest, today: date) -> dict[str, Any]:
    """The data island of the overview's line chart (rendered with json_script)."""
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    hook = module_hook("monitor", "daily_mentions")
    counts = hook(request, days[0], days[-1]) if hook is not None else {}
    values = [int(counts.get(day, 0)) for day in days]
    return {
        "kind": "line",
        "locale": "EN" if (get_language() or "").startswith("en") else "ZH",
        "labels": [f"{day.month}/{day.day}" for day in days],
        "titles": [f"{date_format(day, 'DATE_FORMAT')} {date_format(day, 'l')}" for day in days],
        "series": [{"name": str(_("Mentions")), "data": values}],
        "total": sum(values),
        "empty": not any(values),
        "emptyText": str(_("No mentions yet")),
    }


def greeting(hour: int) -> Any:
    if 5 <= hour < 11:
        return _("Good morning")
    if 11 <= hour < 13:
        return _("Good noon")
    if 13 <= hour < 18:
        return _("Good afternoon")
    return _("Good evening")


@require("core.dashboard")
def home(request: HttpRequest) -> HttpResponse:
    now = timezone.localtime()
    cards = [
        {
            "module": item["module"],
            "description": CARD_TEXT[item["module"].key].description,
            "figure": module_figure(request, item["module"]),
        }
        for item in request_nav(request)
        if item["module"].key in CARD_TEXT
    ]
    if getattr(request, "htmx", False) and request.htmx.target == "overview-cards":  # type: ignore[attr-defined]
        # The cards refresh themselves; the chart and the rest of the page stay as they are.
        return render(request, "partials/overview_cards.html", {"cards": cards})
    chart = mentions_chart(request, now.date())
    return render(
        request,
        "core/home.html",
        {
            "greeting": greeting(now.hour),
            "today": now.date(),
            "cards": cards,
            "chart": chart,
            "can_monitor": request.user.can("monitor.view"),  # type: ignore[union-attr]
        },
    )


def request_nav(request: HttpRequest) -> list[dict[str, Any]]:
    from yuqing.core.context_processors import navigation

    return list(navigation(request)["nav_modules"])


def healthz(request: HttpRequest) -> HttpResponse:
    """For process supervisors: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)
