"""The publishing card on the overview: drafts awaiting sign-off (the person's own queue for
reviewers, the school's for everyone else)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from yuqing.core.views import Figure


def summary(request: HttpRequest) -> Figure:
    from yuqing.publishing.models import Review
    from yuqing.publishing.services import pending_for

    user = request.user
    if user.can("publishing.review"):  # type: ignore[union-attr]
        mine = len(pending_for(user))  # type: ignore[arg-type]
        return Figure(_("Awaiting your sign-off"), mine, "attention" if mine else "")
    count = Review.objects.filter(status=Review.Status.IN_PROGRESS).count()
    return Figure(_("Awaiting sign-off"), count)
