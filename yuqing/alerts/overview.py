"""The alerts card on the overview: open alerts, drawing the eye when one is orange or red."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from yuqing.core.views import Figure


def summary(request: HttpRequest) -> Figure:
    from yuqing.alerts.views import active_count

    count, top = active_count(request)
    return Figure(_("Open alerts"), count, "attention" if top >= 3 else "")
