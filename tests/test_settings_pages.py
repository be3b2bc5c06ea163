"""The school settings pages: people, roles, org units and the school's sign-in rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, make_user
from yuqing.accounts import services
from yuqing.accounts.models import OrgUnit, RoleAssignment, User
from yuqing.audit.models import AuditEntry
from yuqing.core.tenancy import all_schools, school_scope


@pytest.fixture
def alice(people: dict[str, Any]) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(people["admin"])
    return client


def unit(school: Any, name: str, parent: OrgUnit | None = None) -> OrgUnit:
    with school_scope(school):
        return services.org_unit_create(school=school, name=name, parent=parent)


def audited(action: str, **filters: Any) -> list[AuditEntry]:
    return list(AuditEntry.unscoped.filter(action=action, **filters))


# --- People ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lists_the_schools_people_only(
    alice: Client, people: dict[str, Any], outsider: Any
) -> None:
    html = alice.get(reverse("accounts:user_list")).content.decode()
    for username in ("alice", "ming", "hui", "li", "sun", "tang"):
        assert username in html
    olga_link = reverse("accounts:user_detail", args=[outsider.pk])
    assert olga_link not in html
    assert olga_link not in alice.get(reverse("accounts:user_list"), {"q": "olga"}).content.decode()
    ming_link = reverse("accounts:user_detail", args=[people["monitor"].pk])
    found = alice.get(reverse("accounts:user_list"), {"q": "Ming"}).content.decode()
    assert (
        ming_link in found
        and reverse("accounts:user_detail", args=[people["staff"].pk]) not in found
    )


@pytest.mark.django_db
def test_it_creates_a_person_with_roles_and_a_generated_password(
    alice: Client, school: Any, people: dict[str, Any]
) -> None:
    response = alice.post(
        reverse("accounts:user_create"),
        {
            "username": "wang",
            "display_name": "王老师",
            "email": "wang@example.edu.cn",
            "roles": ["monitor", "handler"],
        },
    )
    assert response.status_code == 302
    with all_schools():
        wang = User.objects.get(username="wang")
    assert wang.school_id == school.pk and wang.must_change_password
    assert wang.role_set() == {"monitor", "handler"}
    assert len(audited("accounts.permission.granted", actor=people["admin"])) == 2
    assert audited("accounts.user.created", object_id=str(wang.pk))


@pytest.mark.django_db
def test_it_refuses_a_user_name_taken_at_another_school(alice: Client, outsider: Any) -> None:
    response = alice.post(
        reverse("accounts:user_create"), {"username": "OLGA", "display_name": "x"}
    )
    assert response.status_code == 200
    assert (
        "已" in response.context["form"].errors["username"][0]
        or response.context["form"].errors["username"]
    )
    with all_schools():
        assert User.objects.filter(username__iexact="olga").count() == 1


@pytest.mark.django_db
def test_it_shows_form_errors_in_chinese(alice: Client) -> None:
    response = alice.post(reverse("accounts:user_create"), {"username": "", "display_name": ""})
    assert response.status_code == 200
    assert "这个字段是必填项。" in response.content.decode()  # Django's own catalog


@pytest.mark.django_db
def test_it_deactivates_but_never_deletes(alice: Client, people: dict[str, Any]) -> None:
    tang = people["staff"]
    response = alice.post(reverse("accounts:user_active", args=[tang.pk]), {"active": "0"})
    assert response.status_code == 302
    tang.refresh_from_db()
    assert not tang.is_active
    entry = audited("accounts.user.changed", object_id=str(tang.pk))[-1]
    assert entry.changes == {"is_active": [True, False]}
    # A deactivated person cannot sign in, and is hidden from the list unless asked for.
    refused = Client().post(reverse("accounts:login"), {"username": "tang", "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in refused.client.session
    link = reverse("accounts:user_detail", args=[tang.pk])
    assert link not in alice.get(reverse("accounts:user_list")).content.decode()
    assert (
        link in alice.get(reverse("accounts:user_list"), {"show_inactive": "on"}).content.decode()
    )
    alice.post(reverse("accounts:user_active", args=[tang.pk]), {"active": "1"})
    tang.refresh_from_db()
    assert tang.is_active
    # There is no view that deletes a person at all.
    from tests.test_permissions import all_routes

    assert not [
        r.name for r in all_routes() if r.name.startswith("accounts:user") and "delete" in r.name
    ]


@pytest.mark.django_db
def test_it_keeps_an_administrator_from_locking_the_school_out(
    alice: Client, people: dict[str, Any]
) -> None:
    admin = people["admin"]
    alice.post(reverse("accounts:user_active", args=[admin.pk]), {"active": "0"})
    admin.refresh_from_db()
    assert admin.is_active  # not yourself
    assignment = RoleAssignment.unscoped.get(user=admin, role="admin")
    response = alice.post(
        reverse("accounts:role_remove", args=[admin.pk, assignment.pk]), follow=True
    )
    assert RoleAssignment.unscoped.filter(pk=assignment.pk).exists()  # not the last administrator
    assert response.status_code == 200


@pytest.mark.django_db
def test_it_resets_a_password_and_shows_it_once(alice: Client, people: dict[str, Any]) -> None:
    tang = people["staff"]
    response = alice.post(reverse("accounts:user_password_reset", args=[tang.pk]), follow=True)
    password = response.context["one_time_password"]
    tang.refresh_from_db()
    assert tang.check_password(password) and tang.must_change_password
    assert audited("accounts.user.password_reset", object_id=str(tang.pk), actor=people["admin"])
    assert (
        password not in alice.get(reverse("accounts:user_detail", args=[tang.pk])).content.decode()
    )


@pytest.mark.django_db
def test_it_edits_a_persons_details(alice: Client, people: dict[str, Any]) -> None:
    tang = people["staff"]
    alice.post(
        reverse("accounts:user_detail", args=[tang.pk]),
        {"display_name": "唐老师", "phone": "13800000000"},
    )
    tang.refresh_from_db()
    assert (tang.display_name, tang.phone) == ("唐老师", "13800000000")


# --- Roles -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_assigns_and_removes_a_role_within_a_unit(
    alice: Client, people: dict[str, Any], school: Any
) -> None:
    grade = unit(school, "初二年级组")
    hui = people["handler"]
    alice.post(
        reverse("accounts:role_add", args=[hui.pk]), {"role": "handler", "org_unit": grade.pk}
    )
    assignment = RoleAssignment.unscoped.get(user=hui, org_unit=grade)
    granted = audited("accounts.permission.granted", object_id=str(assignment.pk))[0]
    assert granted.changes["org_unit"] == [None, grade.pk]
    assert "初二年级组" in granted.object_repr

    alice.post(reverse("accounts:role_remove", args=[hui.pk, assignment.pk]))
    assert not RoleAssignment.unscoped.filter(pk=assignment.pk).exists()
    assert audited("accounts.permission.revoked", object_id=str(assignment.pk))


@pytest.mark.django_db
def test_it_refuses_a_unit_of_another_school_in_a_role(
    alice: Client, people: dict[str, Any], other_school: Any
) -> None:
    theirs = unit(other_school, "别校年级组")
    response = alice.post(
        reverse("accounts:role_add", args=[people["handler"].pk]),
        {"role": "handler", "org_unit": theirs.pk},
    )
    assert response.status_code == 400
    assert not RoleAssignment.unscoped.filter(org_unit=theirs).exists()


@pytest.mark.django_db
def test_it_grants_what_a_role_allows_at_once(alice: Client, people: dict[str, Any]) -> None:
    tang = people["staff"]
    staff = Client()
    staff.force_login(tang)
    assert staff.get(reverse("monitor:index")).status_code == 403
    alice.post(reverse("accounts:role_add", args=[tang.pk]), {"role": "monitor"})
    assert staff.get(reverse("monitor:index")).status_code == 200


# --- Org units -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_creates_renames_and_moves_units(alice: Client, school: Any) -> None:
    alice.post(reverse("accounts:unit_list"), {"name": "学生处", "kind": "office", "sort_order": 0})
    alice.post(
        reverse("accounts:unit_list"), {"name": "初一年级组", "kind": "grade", "sort_order": 1}
    )
    with school_scope(school):
        office = OrgUnit.objects.get(name="学生处")
        grade = OrgUnit.objects.get(name="初一年级组")
    alice.post(
        reverse("accounts:unit_edit", args=[grade.pk]),
        {"name": "七年级组", "kind": "grade", "parent": office.pk, "sort_order": 1},
    )
    grade.refresh_from_db()
    assert (grade.name, grade.parent_id) == ("七年级组", office.pk)
    html = alice.get(reverse("accounts:unit_list")).content.decode()
    assert html.index("学生处") < html.index("七年级组")
    changed = audited("accounts.orgunit.changed", object_id=str(grade.pk))[0]
    assert changed.changes["name"] == ["初一年级组", "七年级组"]
    assert changed.changes["parent"] == [None, office.pk]


@pytest.mark.django_db
def test_it_refuses_to_move_a_unit_inside_itself(alice: Client, school: Any) -> None:
    top = unit(school, "德育处")
    child = unit(school, "团委", parent=top)
    response = alice.post(
        reverse("accounts:unit_edit", args=[top.pk]),
        {"name": "德育处", "kind": "office", "parent": child.pk, "sort_order": 0},
    )
    assert response.status_code == 200 and response.context["form"].errors
    top.refresh_from_db()
    assert top.parent_id is None


@pytest.mark.django_db
def test_it_refuses_duplicate_names_side_by_side(alice: Client, school: Any) -> None:
    unit(school, "办公室")
    response = alice.post(
        reverse("accounts:unit_list"), {"name": "办公室", "kind": "office", "sort_order": 0}
    )
    assert response.status_code == 200 and response.context["form"].errors["name"]


@pytest.mark.django_db
def test_it_deletes_only_empty_units(alice: Client, school: Any, people: dict[str, Any]) -> None:
    top = unit(school, "教务处")
    child = unit(school, "教研组", parent=top)
    with school_scope(school):
        services.role_assign(user=people["handler"], role="handler", org_unit=child)

    alice.post(reverse("accounts:unit_delete", args=[top.pk]))
    alice.post(reverse("accounts:unit_delete", args=[child.pk]))
    assert OrgUnit.unscoped.filter(pk__in=[top.pk, child.pk]).count() == 2  # sub-unit, role holder

    with school_scope(school):
        services.role_revoke(assignment=RoleAssignment.objects.get(org_unit=child))
    alice.post(reverse("accounts:unit_delete", args=[child.pk]))
    alice.post(reverse("accounts:unit_delete", args=[top.pk]))
    assert not OrgUnit.unscoped.filter(pk__in=[top.pk, child.pk]).exists()
    assert len(audited("accounts.orgunit.deleted")) == 2


# --- School ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_turns_the_second_factor_requirement_on(
    alice: Client, school: Any, people: dict[str, Any]
) -> None:
    response = alice.post(reverse("accounts:school_settings"), {"require_second_factor": "on"})
    assert response.status_code == 302
    school.refresh_from_db()
    assert school.require_second_factor
    entry = audited("accounts.school.changed", school=school)[-1]
    assert (
        entry.changes == {"require_second_factor": [False, True]}
        and entry.actor_id == people["admin"].pk
    )
    # Alice herself must now enrol before she can continue.
    assert alice.get(reverse("accounts:settings"))["Location"].startswith(
        reverse("accounts:otp_verify")
    )


@pytest.mark.django_db
def test_it_shows_the_overview(alice: Client, school: Any) -> None:
    html = alice.get(reverse("accounts:settings")).content.decode()
    assert school.name in html
    assert reverse("accounts:user_list") in html and reverse("audit:log") in html


@pytest.mark.django_db
def test_it_lets_a_bureau_user_change_no_schools_settings(
    bureau_user: Any, people: dict[str, Any]
) -> None:
    client = Client()
    client.force_login(bureau_user)
    tang = people["staff"]
    assert (
        client.post(reverse("accounts:user_active", args=[tang.pk]), {"active": "0"}).status_code
        == 403
    )
    tang.refresh_from_db()
    assert tang.is_active


@pytest.mark.django_db
def test_it_creates_people_through_the_service_with_validation(school: Any) -> None:
    from django.core.exceptions import ValidationError

    make_user(school, "taken")
    with all_schools():
        with pytest.raises(ValidationError):
            services.user_create(school=school, username="Taken")
        with pytest.raises(ValidationError):
            services.user_create(school=school, username="weakling", password="short")
        user, password = services.user_create(
            school=school, username="chosen", password="Chosen-Passw0rd"
        )
    assert password == "Chosen-Passw0rd" and not user.must_change_password
