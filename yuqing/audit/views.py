from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from yuqing.audit.models import AuditEntry
from yuqing.core.permissions import require


@require("audit.view")
def log(request: HttpRequest) -> HttpResponse:
    entries = AuditEntry.objects.select_related("school")[:200]
    return render(request, "audit/log.html", {"entries": entries})
