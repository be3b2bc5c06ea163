"""Reads of the cases module: which cases a person may see, and what they must do today.

Within a school, administrators, monitors (the online-affairs office), leaders (reviewers),
members of the leadership and working groups, and anyone holding a role school-wide see every
case. Someone whose roles are tied to units (a class teacher, a grade office head) sees the
cases about their units and the units below them, the cases routed to those units, and the
cases given to them. Another school's cases are never reachable: the scoped manager sees to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from yuqing.accounts.models import OrgUnit, RoleAssignment
from yuqing.accounts.roles import Role
from yuqing.cases.models import Case, Petition

SEES_ALL_ROLES = frozenset({Role.ADMIN, Role.MONITOR, Role.REVIEWER})
SEES_ALL_UNITS = frozenset({OrgUnit.Kind.LEADERSHIP, OrgUnit.Kind.WORKING_GROUP})


def _units_below(unit_ids: set[int]) -> set[int]:
    ids = set(unit_ids)
    frontier = set(unit_ids)
    for _depth in range(20):  # bounded: a corrupted cycle must not hang
        children = (
            set(OrgUnit.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - ids
        )
        if not children:
            break
        ids |= children
        frontier = children
    return ids


def sees_all(user: Any) -> bool:
    if getattr(user, "is_bureau_user", False):
        return True  # read-only across the bureau's schools (the scope limits it)
    rows = list(
        RoleAssignment.objects.filter(user=user).values_list(
            "role", "org_unit_id", "org_unit__kind"
        )
    )
    return any(
        role in SEES_ALL_ROLES or unit is None or kind in SEES_ALL_UNITS
        for role, unit, kind in rows
    )


def visible_cases(user: Any) -> QuerySet[Case]:
    qs = Case.objects.all()
    if sees_all(user):
        return qs
    units = set(
        RoleAssignment.objects.filter(user=user, org_unit__isnull=False).values_list(
            "org_unit_id", flat=True
        )
    )
    mine = _units_below(units)
    return qs.filter(
        Q(org_unit_id__in=mine)
        | Q(current_unit_id__in=mine)
        | Q(owner=user)
        | Q(assignees__user=user)
        | Q(opened_by=user)
    ).distinct()


def visible_petitions(user: Any) -> QuerySet[Petition]:
    return Petition.objects.filter(case__in=visible_cases(user).values("pk"))


@dataclass(frozen=True)
class WorkItem:
    due: dt.datetime | None
    overdue: bool
    what: Any
    title: str
    url_name: str
    pk: int
    level: int
    number: str


DUE_TEXT = {
    "step": _("Take it up (assess)"),
    "report": _("Report to the leadership group"),
    "respond": _("Publish the first response"),
    "close": _("Close the case"),
}
PETITION_TEXT = {
    "accept": _("Decide whether to accept the petition"),
    "finish": _("Finish the petition and reply"),
}


def _end_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59)))


def my_work(user: Any, now: dt.datetime | None = None) -> list[WorkItem]:
    """What ``user`` must do: their cases' next limits and their petitions' clocks, overdue
    first, then by time."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    cases = (
        Case.objects.exclude(status=Case.Status.CLOSED)
        .filter(Q(assignees__user=user) | Q(owner=user))
        .distinct()
        .select_related("petition")
    )
    items: list[WorkItem] = []
    for case in cases:
        due = case.next_due()
        late = case.overdue_kinds(now)
        if late:
            items.append(
                WorkItem(
                    min(d for d in _dues(case, late)),
                    True,
                    DUE_TEXT[late[0]],
                    case.title,
                    "cases:detail",
                    case.pk,
                    case.level,
                    case.number,
                )
            )
        elif due is not None:
            kind, when = due
            items.append(
                WorkItem(
                    when,
                    False,
                    DUE_TEXT[kind],
                    case.title,
                    "cases:detail",
                    case.pk,
                    case.level,
                    case.number,
                )
            )
        else:
            items.append(
                WorkItem(
                    None,
                    False,
                    _("Keep handling"),
                    case.title,
                    "cases:detail",
                    case.pk,
                    case.level,
                    case.number,
                )
            )
        petition = getattr(case, "petition", None)
        if petition is not None and petition.is_open:
            pdue = petition.current_due()
            if pdue is not None:
                kind, day = pdue
                items.append(
                    WorkItem(
                        _end_of_day(day),
                        day < today,
                        PETITION_TEXT[kind],
                        petition.subject,
                        "cases:petition_detail",
                        petition.pk,
                        case.level,
                        case.number,
                    )
                )
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    items.sort(key=lambda i: (not i.overdue, i.due or far))
    return items


def _dues(case: Case, kinds: list[str]) -> list[dt.datetime]:
    fields: dict[str, dt.datetime | None] = {
        "step": case.step_due_at,
        "report": case.report_due_at,
        "respond": case.response_due_at,
        "close": case.close_due_at,
    }
    return [when for k in kinds if (when := fields[k]) is not None]
