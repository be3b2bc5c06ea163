"""The cases card on the overview: open cases, drawing the eye when one is overdue."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.core.views import Figure


def summary(request: HttpRequest) -> Figure:
    from yuqing.cases import selectors, services
    from yuqing.cases.models import Case

    open_cases = selectors.visible_cases(request.user).exclude(status=Case.Status.CLOSED)
    late = open_cases.filter(services.models_q_due(timezone.now())).exists()
    return Figure(_("Open cases"), open_cases.count(), "attention" if late else "")
