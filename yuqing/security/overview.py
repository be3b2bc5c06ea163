"""The security card on the overview: open findings, drawing the eye when one is high."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from yuqing.core.views import Figure


def summary(request: HttpRequest) -> Figure:
    from yuqing.security.models import Finding, Severity

    active = Finding.objects.filter(status__in=[s.value for s in Finding.ACTIVE])
    serious = active.filter(severity__gte=Severity.HIGH).exists()
    return Figure(_("Open findings"), active.count(), "attention" if serious else "")
