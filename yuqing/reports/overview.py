"""The reports card on the overview: reports generated this month."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.core.views import Figure


def summary(request: HttpRequest) -> Figure:
    from yuqing.reports.models import Report

    today = timezone.localdate()
    count = Report.objects.filter(
        generated_at__year=today.year, generated_at__month=today.month
    ).count()
    return Figure(_("Reports this month"), count)
