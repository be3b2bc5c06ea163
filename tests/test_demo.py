"""The demo school: complete, fictional, and loaded any number of times without duplicates."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from yuqing.accounts.models import OrgUnit, RoleAssignment, School, User
from yuqing.accounts.roles import Role
from yuqing.core.demo import PASSWORD_FILE, demo_load, generate_password, read_passwords
from yuqing.core.tenancy import all_schools


def counts() -> dict[str, int]:
    with all_schools():
        return {
            "schools": School.objects.count(),
            "units": OrgUnit.objects.count(),
            "users": User.objects.count(),
            "roles": RoleAssignment.objects.count(),
        }


@pytest.fixture
def loaded(db: Any, tmp_path: Path) -> Any:
    return demo_load(data_dir=tmp_path)


def test_it_creates_a_school_under_a_bureau(loaded: Any) -> None:
    assert loaded.created_anything
    assert loaded.school.name == "滨海市育英中学"
    assert loaded.school.parent == loaded.bureau
    assert loaded.bureau.is_bureau


def test_it_creates_nothing_twice(loaded: Any, tmp_path: Path) -> None:
    before = counts()
    again = demo_load(data_dir=tmp_path)
    assert not again.created_anything
    assert counts() == before
    assert [x.password for x in again.logins] == [x.password for x in loaded.logins]
    assert not any(x.created for x in again.logins)


def test_it_gives_every_role_a_person(loaded: Any) -> None:
    with all_schools():
        held = set(
            RoleAssignment.objects.filter(school=loaded.school).values_list("role", flat=True)
        )
        bureau_people = User.objects.filter(school=loaded.bureau)
        assert held == {role.value for role in Role}
        assert bureau_people.count() == 1


def test_it_builds_the_office_tree(loaded: Any) -> None:
    with all_schools():
        klass = OrgUnit.objects.get(school=loaded.school, name="初一(1)班")
    assert [u.name for u in klass.ancestors()] == ["初一年级组", "政教处", "工作专班", "领导小组"]


def test_it_prints_passwords_that_work(loaded: Any) -> None:
    with all_schools():
        for login in loaded.logins:
            user = User.objects.get(username=login.username)
            assert user.check_password(login.password), login.username
            assert user.has_role(login.role)


def test_it_keeps_the_passwords_private(loaded: Any, tmp_path: Path) -> None:
    path = tmp_path / PASSWORD_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_passwords(path) == {x.username: x.password for x in loaded.logins}


def test_it_replaces_passwords_the_data_dir_lost(loaded: Any, tmp_path: Path) -> None:
    (tmp_path / PASSWORD_FILE).unlink()
    again = demo_load(data_dir=tmp_path)
    with all_schools():
        for login in again.logins:
            assert User.objects.get(username=login.username).check_password(login.password)
    assert read_passwords(tmp_path / PASSWORD_FILE)


def test_it_keeps_records_added_by_people(loaded: Any, tmp_path: Path) -> None:
    from yuqing.core.tenancy import school_scope

    with school_scope(loaded.school):
        OrgUnit.objects.create(name="初三年级组", kind="grade")
    demo_load(data_dir=tmp_path)
    with school_scope(loaded.school):
        assert OrgUnit.objects.filter(name="初三年级组").exists()


def test_it_generates_passwords_the_validators_accept(db: Any) -> None:
    from django.contrib.auth.password_validation import validate_password

    for _ in range(20):
        validate_password(generate_password())
