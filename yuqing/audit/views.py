"""The audit log viewer and its CSV export (administrators: their school; bureau: its schools)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.accounts.models import School
from yuqing.audit.forms import AuditFilterForm
from yuqing.audit.models import AuditEntry
from yuqing.audit.services import audit_record
from yuqing.core.permissions import require
from yuqing.core.tenancy import require_scope

PAGE_SIZE = 50
EXPORT_LIMIT = 200_000

# Readable names for the actions people look for most; others show their dotted name.
ACTION_LABELS: dict[str, Any] = {
    "accounts.login": gettext_lazy("Signed in"),
    "accounts.logout": gettext_lazy("Signed out"),
    "accounts.login_failed": gettext_lazy("Failed sign-in"),
    "accounts.locked_out": gettext_lazy("Sign-in locked"),
    "accounts.otp.verified": gettext_lazy("Two-step verification passed"),
    "accounts.otp.failed": gettext_lazy("Two-step verification failed"),
    "accounts.otp.enabled": gettext_lazy("Two-step verification turned on"),
    "accounts.otp.disabled": gettext_lazy("Two-step verification turned off"),
    "accounts.permission.granted": gettext_lazy("Role granted"),
    "accounts.permission.revoked": gettext_lazy("Role removed"),
    "accounts.user.created": gettext_lazy("Person added"),
    "accounts.user.changed": gettext_lazy("Person changed"),
    "accounts.user.password_reset": gettext_lazy("Password reset"),
    "accounts.orgunit.created": gettext_lazy("Unit created"),
    "accounts.orgunit.changed": gettext_lazy("Unit changed"),
    "accounts.orgunit.deleted": gettext_lazy("Unit deleted"),
    "accounts.school.changed": gettext_lazy("School settings changed"),
    "audit.exported": gettext_lazy("Audit log exported"),
    "audit.purged": gettext_lazy("Old audit entries purged"),
}


def _readable_schools() -> list[tuple[int, str]]:
    scope = require_scope()
    schools = School.objects.order_by("name")
    if scope.readable is not None:
        schools = schools.filter(pk__in=scope.readable)
    return list(schools.values_list("pk", "name"))


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, Any]:
    form = AuditFilterForm(request.GET or None, schools=_readable_schools())
    # The manager limits entries to the schools this person's scope may read.
    entries = AuditEntry.objects.select_related("school")
    if form.is_bound and form.is_valid():
        entries = form.apply(entries)
    elif form.is_bound:
        entries = entries.none()
    return form, entries


def _change_list(changes: Any) -> list[tuple[str, Any, Any]]:
    if not isinstance(changes, dict):
        return [("", changes, None)]
    rows = []
    for key, value in changes.items():
        if isinstance(value, list) and len(value) == 2:
            rows.append((key, value[0], value[1]))
        else:
            rows.append((key, None, value))
    return rows


@require("audit.view")
def log(request: HttpRequest) -> HttpResponseBase:
    form, entries = _filtered(request)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.action_label = ACTION_LABELS.get(entry.action, "")
        entry.change_list = _change_list(entry.changes)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "show_school": "school" in form.fields,
    }
    return render(request, "audit/log.html", context)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    # Usernames of failed logins and object names come from outside; a leading = or + would
    # run as a formula when the file is opened in a spreadsheet (CSV injection).
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@require("audit.view")
def export(request: HttpRequest) -> HttpResponseBase:
    form, entries = _filtered(request)
    total = entries.count()
    rows = list(
        entries.values_list(
            "at",
            "school__name",
            "actor_label",
            "ip",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "chain",
            "seq",
            "hash",
        )[:EXPORT_LIMIT]
    )
    filters = form.active_filters() if form.is_bound and form.is_valid() else {}
    # Recorded before the file leaves: an export that fails half-way was still attempted.
    audit_record(
        "audit.exported", changes={"filters": filters, "rows": len(rows), "matched": total}
    )

    tz = timezone.get_current_timezone()
    writer = csv.writer(_Echo())
    header = [
        _("Time"),
        _("School"),
        _("Who"),
        _("From"),
        _("Action"),
        _("Object type"),
        _("Object id"),
        _("Object"),
        _("What changed"),
        _("Chain"),
        _("Sequence"),
        _("Hash"),
    ]

    def lines() -> Iterator[str]:
        yield "\ufeff"  # BOM: spreadsheet programs then read the file as UTF-8 (Chinese text)
        yield writer.writerow(header)
        for at, school, who, ip, action, otype, oid, orepr, changes, chain, seq, digest in rows:
            yield writer.writerow(
                [
                    at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                    _cell(school),
                    _cell(who),
                    _cell(ip),
                    _cell(action),
                    _cell(otype),
                    _cell(oid),
                    _cell(orepr),
                    _cell(json.dumps(changes, ensure_ascii=False, sort_keys=True)),
                    chain,
                    seq,
                    digest,
                ]
            )

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
