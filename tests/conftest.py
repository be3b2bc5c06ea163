"""Shared fixtures: two schools under one bureau, and one named person per role.

Tests read like sentences about these people: the administrator Alice, the monitor Ming, the
handler Hui, the reviewer (leader) Li, the security officer Sun, the staff member Tang; Olga
works at the *other* school; Bo works at the bureau.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

PASSWORD = "Test-Passw0rd!"

PEOPLE = {
    "admin": ("alice", "管理员 Alice"),
    "monitor": ("ming", "信息员 Ming"),
    "handler": ("hui", "处置员 Hui"),
    "reviewer": ("li", "审核领导 Li"),
    "security": ("sun", "安全员 Sun"),
    "staff": ("tang", "教职工 Tang"),
}


@pytest.fixture(autouse=True)
def _no_scope_leaks() -> Iterator[None]:
    # Each test starts with no school scope, like a fresh request. Imported here so that the
    # Django-free text engine tests run without Django (`pytest -p no:django tests/text`).
    from django.conf import settings

    if not settings.configured:
        yield
        return
    from yuqing.core.tenancy import use_scope

    with use_scope(None):
        yield


def make_user(school: Any, username: str, *, roles: tuple[str, ...] = (), name: str = "") -> Any:
    from yuqing.accounts.models import RoleAssignment, User
    from yuqing.core.tenancy import all_schools

    with all_schools():
        user = User(username=username, school=school, display_name=name or username)
        user.set_password(PASSWORD)
        user.save()
        for role in roles:
            RoleAssignment.objects.create(user=user, role=role, school=school)
    return user


@pytest.fixture
def bureau(db: Any) -> Any:
    from yuqing.accounts.models import School
    from yuqing.core.tenancy import all_schools

    with all_schools():
        return School.objects.create(name="滨江市教育局", slug="bureau", kind=School.Kind.BUREAU)


@pytest.fixture
def school(bureau: Any) -> Any:
    from yuqing.accounts.models import School
    from yuqing.core.tenancy import all_schools

    with all_schools():
        return School.objects.create(
            name="育才中学", short_name="育才", slug="yucai", parent=bureau
        )


@pytest.fixture
def other_school(bureau: Any) -> Any:
    from yuqing.accounts.models import School
    from yuqing.core.tenancy import all_schools

    with all_schools():
        return School.objects.create(name="青屿一中", slug="qingyu", parent=bureau)


@pytest.fixture
def people(school: Any) -> dict[str, Any]:
    """One person per role at ``school``, keyed by role."""
    return {
        role: make_user(school, username, roles=(role,), name=name)
        for role, (username, name) in PEOPLE.items()
    }


@pytest.fixture
def outsider(other_school: Any) -> Any:
    return make_user(other_school, "olga", roles=("admin",), name="Olga")


@pytest.fixture
def bureau_user(bureau: Any) -> Any:
    return make_user(bureau, "bo", roles=("admin", "monitor", "reviewer"), name="Bo")


@pytest.fixture
def in_school(school: Any) -> Iterator[Any]:
    from yuqing.core.tenancy import school_scope

    with school_scope(school) as scope:
        yield scope
