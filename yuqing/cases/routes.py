"""Handling routes: the school's usual routes as seed, and who is on duty at a step, now.

Resolution never ends with nobody. A step whose unit cannot be found, whose role nobody holds
there, or whose people are all away (inactive or on a recorded absence) is passed over for the
next step up; past the top of the route the school's administrators get the case, and the
caller records that it fell back to them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from yuqing.accounts.models import OrgUnit, RoleAssignment, User
from yuqing.accounts.roles import Role
from yuqing.cases.models import Absence, Route, RouteStep


@dataclass(frozen=True)
class SeedStep:
    label: str
    role: str
    unit_name: str = ""  # a fixed unit, found by name (or, for the top two, by kind)
    unit_kind: str = ""  # relative: the case's own unit of this kind or its nearest ancestor


_TOP = (
    SeedStep("工作专班", Role.HANDLER, unit_name="工作专班"),
    SeedStep("领导小组", Role.REVIEWER, unit_name="领导小组"),
)
# The routes a Chinese school already uses (see DESIGN.md): those offices then report to the
# working group (工作专班) and the leadership group (领导小组).
SEED_ROUTES: tuple[tuple[str, str, tuple[SeedStep, ...]], ...] = (
    (
        "学生事务：班级 → 年级组 → 政教处",
        Route.Kind.CLASS,
        (
            SeedStep("班主任", Role.HANDLER, unit_kind=OrgUnit.Kind.CLASS),
            SeedStep("年级组", Role.HANDLER, unit_kind=OrgUnit.Kind.GRADE),
            SeedStep("政教处", Role.HANDLER, unit_name="政教处"),
            *_TOP,
        ),
    ),
    (
        "教师：年级组 → 教务处",
        Route.Kind.TEACHER,
        (
            SeedStep("年级组", Role.HANDLER, unit_kind=OrgUnit.Kind.GRADE),
            SeedStep("教务处", Role.HANDLER, unit_name="教务处"),
            *_TOP,
        ),
    ),
    (
        "教职工：部门 → 安保办",
        Route.Kind.STAFF,
        (
            SeedStep("所在部门", Role.HANDLER, unit_kind=OrgUnit.Kind.DEPARTMENT),
            SeedStep("安保办", Role.HANDLER, unit_name="安保办"),
            *_TOP,
        ),
    ),
)
_KIND_OF_NAME = {"领导小组": OrgUnit.Kind.LEADERSHIP, "工作专班": OrgUnit.Kind.WORKING_GROUP}


def _find_unit(name: str) -> OrgUnit | None:
    unit = OrgUnit.objects.filter(name=name).order_by("pk").first()
    if unit is None and name in _KIND_OF_NAME:
        unit = OrgUnit.objects.filter(kind=_KIND_OF_NAME[name]).order_by("pk").first()
    return unit


@transaction.atomic
def routes_seed() -> list[Route]:
    """Create the usual routes for the school in scope, once (a school that has routes keeps
    them as they are)."""
    existing = list(Route.objects.all())
    if existing:
        return existing
    created = []
    for order, (name, kind, steps) in enumerate(SEED_ROUTES):
        route = Route(name=name, kind=kind, sort_order=order)
        route.assign_school()
        route.full_clean()
        route.save()
        for position, seed in enumerate(steps):
            step = RouteStep(
                route=route,
                position=position,
                label=seed.label,
                role=seed.role,
                unit_kind=seed.unit_kind,
                org_unit=_find_unit(seed.unit_name) if seed.unit_name else None,
            )
            step.assign_school()
            step.full_clean()
            step.save()
        created.append(route)
    return created


def route_for(unit: OrgUnit | None) -> Route | None:
    """The default route for a case about ``unit``: a class goes the students' way, a
    department the staff way, anything else the first route."""
    routes = list(routes_seed())
    active = [r for r in routes if r.is_active] or routes
    if not active:
        return None
    wanted = {
        OrgUnit.Kind.CLASS: Route.Kind.CLASS,
        OrgUnit.Kind.GRADE: Route.Kind.CLASS,
        OrgUnit.Kind.DEPARTMENT: Route.Kind.STAFF,
    }.get(unit.kind if unit else "", Route.Kind.CLASS)  # type: ignore[call-overload]
    return next((r for r in active if r.kind == wanted), active[0])


def step_unit(step: RouteStep, case_unit: OrgUnit | None) -> OrgUnit | None:
    if step.org_unit_id is not None:
        return step.org_unit
    if not step.unit_kind or case_unit is None:
        return None
    for unit in [case_unit, *case_unit.ancestors()]:
        if unit.kind == step.unit_kind:
            return unit
    return None


def absent_ids(on: dt.date) -> set[int]:
    return set(
        Absence.objects.filter(starts_on__lte=on, ends_on__gte=on).values_list("user_id", flat=True)
    )


def on_duty(unit: OrgUnit, role: str, on: dt.date) -> list[User]:
    ids = RoleAssignment.objects.filter(org_unit=unit, role=role).values_list("user_id", flat=True)
    away = absent_ids(on)
    return [
        u
        for u in User.objects.filter(pk__in=ids, is_active=True).order_by("pk")
        if u.pk not in away
    ]


def administrators(on: dt.date) -> list[User]:
    """The school's administrators present today; all of them when every one is away."""
    ids = RoleAssignment.objects.filter(role=Role.ADMIN).values_list("user_id", flat=True)
    admins = list(User.objects.filter(pk__in=ids, is_active=True).order_by("pk"))
    away = absent_ids(on)
    return [u for u in admins if u.pk not in away] or admins


@dataclass
class Resolution:
    index: int
    label: str
    unit: OrgUnit | None
    users: list[User]
    fallback: bool = False
    # (position, label, why) of every step passed over on the way.
    skipped: list[tuple[int, str, str]] = field(default_factory=list)


def resolve(
    route: Route | None,
    start: int,
    case_unit: OrgUnit | None,
    *,
    downward: bool = False,
    on: dt.date | None = None,
) -> Resolution | None:
    """The first step from ``start`` (up, or down when handing back) with someone on duty.

    Upward, it never returns nobody: past the top, the administrators. Downward it returns
    None when no lower step has anyone (the case then stays where it is).
    """
    on = on or timezone.localdate()
    steps = list(route.steps.select_related("org_unit").order_by("position")) if route else []
    skipped: list[tuple[int, str, str]] = []
    order = range(start, -1, -1) if downward else range(start, len(steps))
    for index in order:
        if index < 0 or index >= len(steps):
            continue
        step = steps[index]
        unit = step_unit(step, case_unit)
        if unit is None:
            skipped.append((index, step.label, "no_unit"))
            continue
        people = on_duty(unit, step.role, on)
        if people:
            return Resolution(index, step.label, unit, people, skipped=skipped)
        skipped.append((index, step.label, "nobody"))
    if downward:
        return None
    top = max(len(steps) - 1, 0)
    label = steps[top].label if steps else ""
    unit = step_unit(steps[top], case_unit) if steps else None
    return Resolution(top, label, unit, administrators(on), fallback=True, skipped=skipped)
