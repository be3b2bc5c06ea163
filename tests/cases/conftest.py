"""A school with the usual office tree and the people on it.

The tree follows the demo school: 领导小组 → 工作专班 → 政教处 → 初一年级组 → 初一(1)班, with
教务处 and 安保办 beside 政教处. Besides the named people of tests/conftest.py (Alice the
administrator, Li the reviewer...), each unit has its own person: Ban the class teacher (班主任),
Nian the grade office head, Zheng of 政教处 and Chen the principal in the leadership group.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import make_user


@dataclass
class Tree:
    leadership: Any
    working_group: Any
    student_office: Any  # 政教处
    academic_office: Any  # 教务处
    security_office: Any  # 安保办
    grade: Any
    klass: Any
    other_class: Any
    ban: Any  # class teacher of 初一(1)班
    nian: Any  # grade office head
    zheng: Any  # 政教处
    chen: Any  # principal, leadership group


def _unit(name: str, kind: str, parent: Any = None) -> Any:
    from yuqing.accounts.models import OrgUnit

    return OrgUnit.objects.create(name=name, kind=kind, parent=parent)


def _holds(user: Any, role: str, unit: Any) -> None:
    from yuqing.accounts.models import RoleAssignment

    RoleAssignment.objects.create(user=user, role=role, org_unit=unit)


@pytest.fixture
def tree(school: Any, people: dict[str, Any]) -> Tree:
    from yuqing.core.tenancy import school_scope

    ban = make_user(school, "ban", name="班主任 Ban")
    nian = make_user(school, "nian", name="年级组长 Nian")
    zheng = make_user(school, "zheng", name="政教处 Zheng")
    chen = make_user(school, "chen", name="校长 Chen")
    with school_scope(school):
        leadership = _unit("领导小组", "leadership")
        working = _unit("工作专班", "working_group", leadership)
        student = _unit("政教处", "office", working)
        academic = _unit("教务处", "office", working)
        security = _unit("安保办", "office", working)
        grade = _unit("初一年级组", "grade", student)
        klass = _unit("初一(1)班", "class", grade)
        other = _unit("初一(2)班", "class", grade)
        _holds(ban, "handler", klass)
        _holds(nian, "handler", grade)
        _holds(zheng, "handler", student)
        _holds(chen, "reviewer", leadership)
    return Tree(
        leadership,
        working,
        student,
        academic,
        security,
        grade,
        klass,
        other,
        ban,
        nian,
        zheng,
        chen,
    )


@pytest.fixture
def as_person() -> Iterator[Any]:
    """``with as_person(user):`` acts as ``user`` in their school, like a request does."""
    from contextlib import contextmanager

    from yuqing.core.context import Actor, acting_as
    from yuqing.core.tenancy import school_scope

    @contextmanager
    def enter(user: Any) -> Iterator[Any]:
        with school_scope(user.school), acting_as(Actor(user=user)):
            yield user

    yield enter
