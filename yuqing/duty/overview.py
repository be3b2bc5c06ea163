"""The duty card on the overview: study sessions this half year; red when items are overdue."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.core.views import Figure


def summary(request: HttpRequest) -> Figure:
    from yuqing.duty import selectors

    today = timezone.localdate()
    half = selectors.period_of(today.year, 1 if today.month <= 6 else 2)
    count = sum(c.count for c in selectors.study_counts(half))
    return Figure(
        _("Study sessions this term"), count, "attention" if selectors.overdue_count(today) else ""
    )
