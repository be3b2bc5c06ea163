"""Writes to schools, people, org units and roles. Views and commands call these, never save().

Every function is keyword-only, validates with ``full_clean()`` before saving and runs in a
transaction, so an audit entry is written if and only if the change is.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from yuqing.accounts.models import OrgUnit, RoleAssignment, School, User
from yuqing.accounts.roles import Role
from yuqing.audit.services import audit_record

# No look-alikes (0/O, 1/l/I): generated passwords are read off a screen and typed by hand.
_ALPHABETS = (
    "abcdefghijkmnpqrstuvwxyz",
    "ABCDEFGHJKLMNPQRSTUVWXYZ",
    "23456789",
    "-_.!@#%+=",
)


def generate_password(length: int = 16) -> str:
    """A random password that passes every configured validator (one of each class)."""
    pool = "".join(_ALPHABETS)
    chars = [secrets.choice(alphabet) for alphabet in _ALPHABETS]
    chars += [secrets.choice(pool) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _generated_valid_password(user: User) -> str:
    for _attempt in range(20):
        password = generate_password()
        try:
            validate_password(password, user)
        except ValidationError:
            continue  # e.g. too similar to the username by chance
        return password
    raise RuntimeError("could not generate a valid password")


def _active_admins(school: School) -> set[int]:
    return set(
        RoleAssignment.unscoped.filter(
            school=school, role=Role.ADMIN, user__is_active=True
        ).values_list("user_id", flat=True)
    )


# --- People --------------------------------------------------------------------------------


@transaction.atomic
def user_create(
    *,
    school: School,
    username: str,
    display_name: str = "",
    email: str = "",
    phone: str = "",
    roles: tuple[str, ...] = (),
    password: str | None = None,
) -> tuple[User, str]:
    """Create a person at ``school``; returns the user and the password to hand over once.

    With no ``password`` one is generated, and the person must replace it at first login:
    whoever created the account has seen it.
    """
    user = User(
        school=school,
        username=username.strip(),
        display_name=display_name.strip(),
        email=email.strip(),
        phone=phone.strip(),
    )
    # Checked here, unscoped and case-insensitively: the model's own unique check runs through
    # the school-scoped manager and would miss a clash with another school's person.
    if User._base_manager.filter(username__iexact=user.username).exists():
        raise ValidationError({"username": _("This user name is already taken.")})
    if password is None:
        password = _generated_valid_password(user)
        user.must_change_password = True
    else:
        validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    for role in roles:
        role_assign(user=user, role=role)
    return user, password


@transaction.atomic
def user_update(*, user: User, display_name: str, email: str = "", phone: str = "") -> User:
    user.display_name = display_name.strip()
    user.email = email.strip()
    user.phone = phone.strip()
    user.full_clean()
    user.save(update_fields=["display_name", "email", "phone"])
    return user


@transaction.atomic
def user_set_active(*, user: User, active: bool, by: User | None = None) -> User:
    """Deactivate (or reactivate) a person. People are never deleted: the log points at them."""
    if user.is_active == active:
        return user
    if not active:
        if by is not None and by.pk == user.pk:
            raise ValidationError(_("You cannot deactivate your own account."))
        if user.school is not None and _active_admins(user.school) == {user.pk}:
            raise ValidationError(_("A school must keep at least one active administrator."))
    user.is_active = active
    user.save(update_fields=["is_active"])
    return user


@transaction.atomic
def user_reset_password(*, user: User) -> str:
    """Give ``user`` a new generated password, to be changed at the next login."""
    password = _generated_valid_password(user)
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "password_changed_at", "must_change_password"])
    audit_record("accounts.user.password_reset", obj=user)
    return password


@transaction.atomic
def user_change_password(*, user: User, new_password: str) -> User:
    """The person's own change: validated, and clears the must-change flag."""
    validate_password(new_password, user)
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "password_changed_at", "must_change_password"])
    return user


# --- Roles ---------------------------------------------------------------------------------


@transaction.atomic
def role_assign(*, user: User, role: str, org_unit: OrgUnit | None = None) -> RoleAssignment:
    """Give ``user`` ``role`` (school-wide, or within ``org_unit``). Recorded as a permission grant."""
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    existing = RoleAssignment.unscoped.filter(user=user, role=role, org_unit=org_unit).first()
    if existing is not None:
        return existing
    if user.school_id is None:
        raise ValidationError(_("This person belongs to no school."))
    assignment = RoleAssignment(user=user, role=role, org_unit=org_unit, school_id=user.school_id)
    assignment.full_clean()
    assignment.save()
    user.__dict__.pop("_role_cache", None)
    return assignment


@transaction.atomic
def role_revoke(*, assignment: RoleAssignment, by: User | None = None) -> None:
    """Remove one role assignment. The last active administrator keeps theirs."""
    if assignment.role == Role.ADMIN and assignment.org_unit_id is None:
        school_wide_admins = set(
            RoleAssignment.unscoped.filter(
                school_id=assignment.school_id,
                role=Role.ADMIN,
                org_unit__isnull=True,
                user__is_active=True,
            ).values_list("user_id", flat=True)
        )
        if school_wide_admins == {assignment.user_id}:
            raise ValidationError(_("A school must keep at least one active administrator."))
    assignment.delete()
    assignment.user.__dict__.pop("_role_cache", None)


# --- Org units -----------------------------------------------------------------------------


@transaction.atomic
def org_unit_create(
    *,
    school: School,
    name: str,
    kind: str = OrgUnit.Kind.OFFICE,
    parent: OrgUnit | None = None,
    sort_order: int = 0,
) -> OrgUnit:
    unit = OrgUnit(
        school=school, name=name.strip(), kind=kind, parent=parent, sort_order=sort_order
    )
    unit.full_clean()
    unit.save()
    return unit


@transaction.atomic
def org_unit_update(
    *,
    unit: OrgUnit,
    name: str,
    kind: str,
    parent: OrgUnit | None,
    sort_order: int = 0,
) -> OrgUnit:
    """Rename and/or move a unit; refuses to move it under itself or its own descendants."""
    unit.name = name.strip()
    unit.kind = kind
    unit.parent = parent
    unit.sort_order = sort_order
    unit.full_clean()
    unit.save()
    return unit


@transaction.atomic
def org_unit_delete(*, unit: OrgUnit) -> None:
    """Delete a unit with no sub-units, no role holders and nothing else pointing at it."""
    if OrgUnit.unscoped.filter(parent=unit).exists():
        raise ValidationError(_("Move or delete the sub-units first."))
    if RoleAssignment.unscoped.filter(org_unit=unit).exists():
        raise ValidationError(_("Remove the roles held in this unit first."))
    try:
        unit.delete()
    except ProtectedError:
        # Records of other modules (cases, duty) still point here.
        raise ValidationError(
            _("Records still refer to this unit; it cannot be deleted.")
        ) from None


# --- School --------------------------------------------------------------------------------


@transaction.atomic
def school_update_security(*, school: School, require_second_factor: bool) -> School:
    school.require_second_factor = require_second_factor
    school.full_clean()
    school.save(update_fields=["require_second_factor"])
    return school


# --- Second factor -------------------------------------------------------------------------


def otp_device_pending(*, user: User) -> Any:
    """The person's unconfirmed TOTP device, created on first use (the secret of the QR code)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    return device


@transaction.atomic
def otp_device_confirm(*, user: User, device: Any, token: str) -> bool:
    """Confirm an enrolment with a code from the app; replaces any earlier device."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if device.user_id != user.pk or device.confirmed:
        return False
    if not device.verify_token(token):
        return False
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    user.__dict__.pop("_device_cache", None)
    audit_record("accounts.otp.enabled", obj=user)
    return True


@transaction.atomic
def otp_device_remove_all(*, user: User) -> int:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    count, _detail = TOTPDevice.objects.filter(user=user).delete()
    user.__dict__.pop("_device_cache", None)
    if count:
        audit_record("accounts.otp.disabled", obj=user)
    return count
