"""School isolation: one scope per request or job, and nothing read or written outside it."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_user
from yuqing.accounts.models import OrgUnit, RoleAssignment, School
from yuqing.audit.models import AuditEntry
from yuqing.audit.services import audit_record
from yuqing.core.context import SYSTEM, acting_as
from yuqing.core.middleware import scope_for_user
from yuqing.core.tenancy import (
    TenancyError,
    all_schools,
    current_scope,
    read_only_scope,
    school_scope,
)


def _unit(school: Any, name: str) -> OrgUnit:
    with school_scope(school):
        return OrgUnit.objects.create(name=name)


@pytest.mark.django_db
def test_it_refuses_queries_outside_any_scope(school: Any) -> None:
    assert current_scope() is None
    with pytest.raises(TenancyError):
        OrgUnit.objects.all()
    with pytest.raises(TenancyError):
        RoleAssignment.objects.filter(role="admin")
    with pytest.raises(TenancyError):
        AuditEntry.objects.count()
    with pytest.raises(TenancyError):
        OrgUnit.objects.create(name="教务处", school=school)
    with pytest.raises(TenancyError):
        OrgUnit(name="教务处", school=school).save()


@pytest.mark.django_db
def test_it_keeps_each_school_to_its_own_rows(school: Any, other_school: Any) -> None:
    a_unit = _unit(school, "政教处")
    b_unit = _unit(other_school, "政教处")
    alice = make_user(school, "alice", roles=("admin",))
    olga = make_user(other_school, "olga", roles=("admin",))
    with acting_as(SYSTEM):
        audit_record("test.a", school_id=school.pk)
        audit_record("test.b", school_id=other_school.pk)

    with school_scope(school):
        assert list(OrgUnit.objects.all()) == [a_unit]
        assert not OrgUnit.objects.filter(pk=b_unit.pk).exists()
        assert {r.user_id for r in RoleAssignment.objects.all()} == {alice.pk}
        assert {e.school_id for e in AuditEntry.objects.all()} == {school.pk}
        with pytest.raises(OrgUnit.DoesNotExist):
            OrgUnit.objects.get(pk=b_unit.pk)
    with school_scope(other_school):
        assert list(OrgUnit.objects.all()) == [b_unit]
        assert {r.user_id for r in RoleAssignment.objects.all()} == {olga.pk}
        assert not AuditEntry.objects.filter(action="test.a").exists()


@pytest.mark.django_db
def test_it_lets_a_bureau_read_its_schools_but_write_none_of_them(
    bureau: Any, school: Any, other_school: Any, bureau_user: Any
) -> None:
    a_unit = _unit(school, "政教处")
    b_unit = _unit(other_school, "德育处")
    with acting_as(SYSTEM):
        audit_record("test.a", school_id=school.pk)
        audit_record("test.b", school_id=other_school.pk)

    with read_only_scope([school, other_school]):
        assert set(OrgUnit.objects.all()) == {a_unit, b_unit}
        assert {"test.a", "test.b"} <= set(AuditEntry.objects.values_list("action", flat=True))
        with pytest.raises(TenancyError):
            OrgUnit.objects.create(name="新处室")
        a_unit.name = "改名"
        with pytest.raises(TenancyError):
            a_unit.save()
        with pytest.raises(TenancyError):
            b_unit.delete()
        with pytest.raises(TenancyError):
            OrgUnit.objects.update(name="全部改名")
        with pytest.raises(TenancyError):
            OrgUnit.objects.all().delete()

    # The scope a bureau user's request gets: reads the schools below, writes only the bureau.
    scope = scope_for_user(bureau_user)
    assert scope is not None
    assert scope.readable == frozenset({bureau.pk, school.pk, other_school.pk})
    assert not scope.can_write(school.pk) and not scope.can_write(other_school.pk)
    with school_scope(bureau, also_read=[school, other_school]):
        with pytest.raises(TenancyError):
            OrgUnit.objects.filter(pk=a_unit.pk).first().save()  # type: ignore[union-attr]
        assert OrgUnit.objects.filter(school=school).update(name="x") == 0  # bulk: own rows only
    with all_schools():
        assert OrgUnit.objects.get(pk=a_unit.pk).name == "政教处"


@pytest.mark.django_db
def test_it_restricts_bulk_update_and_delete_to_the_written_school(
    school: Any, other_school: Any
) -> None:
    _unit(school, "政教处")
    _unit(other_school, "政教处")
    with school_scope(school, also_read=[other_school]):
        assert OrgUnit.objects.count() == 2  # reads both
        assert OrgUnit.objects.update(sort_order=7) == 1  # but changes only its own
        assert OrgUnit.objects.all().delete()[0] == 1
    with all_schools():
        assert OrgUnit.objects.get(school=other_school).sort_order == 0


@pytest.mark.django_db
def test_it_checks_the_school_on_bulk_create(school: Any, other_school: Any) -> None:
    with school_scope(school):
        OrgUnit.objects.bulk_create([OrgUnit(name="一"), OrgUnit(name="二")])
        with pytest.raises(TenancyError):
            OrgUnit.objects.bulk_create([OrgUnit(name="三", school=other_school)])
        with pytest.raises(TenancyError):
            OrgUnit.objects.filter(name="一").bulk_create([OrgUnit(name="四", school=other_school)])
        assert set(OrgUnit.objects.values_list("name", flat=True)) == {"一", "二"}


@pytest.mark.django_db
def test_it_refuses_links_to_another_schools_rows(school: Any, other_school: Any) -> None:
    theirs = _unit(other_school, "德育处")
    olga = make_user(other_school, "olga")
    with school_scope(school):
        unit = OrgUnit(name="政教处", school=school, parent=theirs)
        with pytest.raises(ValidationError):
            unit.full_clean()
        assignment = RoleAssignment(school=school, user=olga, role="admin")
        with pytest.raises(ValidationError):
            assignment.full_clean()


@pytest.mark.django_db
def test_it_scopes_user_lists_inside_a_request(school: Any, other_school: Any) -> None:
    from yuqing.accounts.models import User

    make_user(school, "alice")
    make_user(other_school, "olga")
    with school_scope(school):
        assert list(User.objects.values_list("username", flat=True)) == ["alice"]
    # Outside a scope (authentication) a name is found wherever it is.
    assert User.objects.filter(username="olga").exists()


@pytest.mark.django_db
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    layout=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=5),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_it_never_shows_one_school_another_schools_rows(
    bureau: Any, layout: list[int], seed: int
) -> None:
    """Several schools with random numbers of units and roles: each scope sees exactly its own."""
    # Examples share the test's database; each rolls back so they do not see each other.
    with transaction.atomic():
        _check_random_layout(bureau, layout, seed)
        transaction.set_rollback(True)


def _check_random_layout(bureau: Any, layout: list[int], seed: int) -> None:
    rng = random.Random(seed)
    tag = f"h{seed}-{rng.randrange(10**9)}"
    owned: dict[int, set[int]] = {}
    with all_schools():
        schools = [
            School.objects.create(name=f"{tag}-{i}", slug=f"{tag}-{i}", parent=bureau)
            for i in range(len(layout))
        ]
    for school, count in zip(schools, layout, strict=True):
        ids = {_unit(school, f"处室{n}").pk for n in range(count)}
        if count and rng.random() < 0.7:
            user = make_user(school, f"{tag}-u{school.pk}", roles=("monitor",))
            with school_scope(school):
                RoleAssignment.objects.create(
                    user=user, role="handler", org_unit=OrgUnit.objects.get(pk=min(ids))
                )
        owned[school.pk] = ids
    for school in schools:
        with school_scope(school):
            seen = set(OrgUnit.objects.values_list("pk", flat=True))
            assert seen == owned[school.pk]
            assert set(RoleAssignment.objects.values_list("school_id", flat=True)) <= {school.pk}
            assert set(AuditEntry.objects.values_list("school_id", flat=True)) <= {school.pk}
    picked = rng.sample(schools, k=min(2, len(schools)))
    with read_only_scope(picked):
        seen = set(OrgUnit.objects.values_list("pk", flat=True))
        assert seen == set().union(*(owned[s.pk] for s in picked))
