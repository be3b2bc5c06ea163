"""Schools (and bureaus), their org units, people and the roles they hold."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from yuqing.accounts.roles import CAPABILITIES, Role, is_read_only
from yuqing.audit.registry import audited
from yuqing.core.tenancy import SchoolOwned, current_scope


@audited()
class School(models.Model):
    """An organisation in the deployment: a school, or an education bureau above schools."""

    class Kind(models.TextChoices):
        SCHOOL = "school", _("School")
        BUREAU = "bureau", _("Education bureau")

    name = models.CharField(_("name"), max_length=100, unique=True)
    short_name = models.CharField(_("short name"), max_length=40, blank=True)
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SCHOOL)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("bureau"),
    )
    region = models.CharField(_("region"), max_length=100, blank=True)
    require_second_factor = models.BooleanField(
        _("require a second factor for administrators and reviewers"), default=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("school")
        verbose_name_plural = _("schools")

    def __str__(self) -> str:
        return self.name

    @property
    def is_bureau(self) -> bool:
        return self.kind == self.Kind.BUREAU

    def readable_school_ids(self) -> frozenset[int]:
        """A school reads itself; a bureau reads itself and every school below it."""
        if not self.is_bureau:
            return frozenset({self.pk})
        ids = {self.pk}
        frontier = [self.pk]
        while frontier:
            children = list(
                School.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
            )
            frontier = [c for c in children if c not in ids]
            ids.update(frontier)
        return frozenset(ids)


@audited()
class OrgUnit(SchoolOwned):
    """An office, grade office, class or working group, arranged as a tree per school."""

    class Kind(models.TextChoices):
        LEADERSHIP = "leadership", _("Leadership group")
        WORKING_GROUP = "working_group", _("Working group")
        OFFICE = "office", _("Office")
        GRADE = "grade", _("Grade office")
        CLASS = "class", _("Class")
        DEPARTMENT = "department", _("Department")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.OFFICE)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent unit"),
    )
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "parent", "name"], name="orgunit_unique_name"
            ),
        ]
        verbose_name = _("org unit")
        verbose_name_plural = _("org units")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        siblings = OrgUnit.unscoped.filter(
            school_id=self.school_id, parent_id=self.parent_id, name=self.name
        )
        if siblings.exclude(pk=self.pk).exists():
            # The unique constraint cannot catch this for top-level units (NULL parent).
            raise ValidationError({"name": _("A unit with this name already exists here.")})
        if self.parent_id is None:
            return
        parent = self.parent
        if (
            self.pk is not None
            and parent is not None
            and (parent.pk == self.pk or self in parent.ancestors())
        ):
            raise ValidationError({"parent": _("A unit cannot be placed inside itself.")})

    def ancestors(self) -> list[OrgUnit]:
        chain: list[OrgUnit] = []
        node = self.parent
        while node is not None and len(chain) < 50:  # bound: a corrupted cycle must not hang
            chain.append(node)
            node = node.parent
        return chain


class ScopedUserManager(UserManager):
    """Users are looked up across schools only where no scope is active (authentication).

    Inside a request or job, user lists follow the same school scope as every domain table.
    """

    def get_queryset(self) -> models.QuerySet:
        qs = super().get_queryset()
        scope = current_scope()
        if scope is None or scope.readable is None:
            return qs
        return qs.filter(school_id__in=scope.readable)


@audited(exclude=("last_login",), mask=("password",))
class User(AbstractUser):
    school = models.ForeignKey(
        School,
        on_delete=models.PROTECT,
        related_name="users",
        verbose_name=_("school"),
        null=True,
        blank=True,  # only for deployment superusers created before any school
    )
    display_name = models.CharField(_("name"), max_length=100, blank=True)
    phone = models.CharField(_("mobile"), max_length=20, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    # Set when an administrator generated the password (and so has seen it).
    must_change_password = models.BooleanField(_("must change password"), default=False)

    objects = ScopedUserManager()  # type: ignore[misc]

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def is_bureau_user(self) -> bool:
        return self.school is not None and self.school.is_bureau

    def role_set(self) -> frozenset[str]:
        cached = getattr(self, "_role_cache", None)
        if cached is None:
            cached = frozenset(
                RoleAssignment.unscoped.filter(user=self).values_list("role", flat=True)
            )
            self._role_cache = cached
        return cached

    def has_role(self, role: str) -> bool:
        return role in self.role_set()

    def can(self, capability: str) -> bool:
        """Whether this person may use ``capability`` (see roles.CAPABILITIES)."""
        if not self.is_active:
            return False
        allowed = CAPABILITIES[capability]
        if not any(role in allowed for role in self.role_set()):
            return False
        # Bureau users read across their schools but change nothing there.
        return not (self.is_bureau_user and not is_read_only(capability))

    def needs_second_factor(self) -> bool:
        from yuqing.accounts.roles import SECOND_FACTOR_ROLES

        return bool(
            self.school is not None
            and self.school.require_second_factor
            and any(role in SECOND_FACTOR_ROLES for role in self.role_set())
        )

    def has_confirmed_device(self) -> bool:
        from django_otp import user_has_device

        cached = getattr(self, "_device_cache", None)
        if cached is None:
            cached = self._device_cache = user_has_device(self, confirmed=True)
        return cached

    def set_password(self, raw_password: str | None) -> None:
        from django.utils import timezone

        super().set_password(raw_password)
        self.password_changed_at = timezone.now()


@audited(
    actions={"created": "accounts.permission.granted", "deleted": "accounts.permission.revoked"}
)
class RoleAssignment(SchoolOwned):
    """A person holding a role, optionally within one org unit (e.g. handler of Grade 8)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    org_unit = models.ForeignKey(
        OrgUnit,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="role_assignments",
        verbose_name=_("org unit"),
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "org_unit"],
                name="roleassignment_unique_in_unit",
                condition=models.Q(org_unit__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["user", "role"],
                name="roleassignment_unique_school_wide",
                condition=models.Q(org_unit__isnull=True),
            ),
        ]
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")

    def __str__(self) -> str:
        unit = f" @ {self.org_unit}" if self.org_unit_id else ""
        return f"{self.user} · {self.get_role_display()}{unit}"

    def clean(self) -> None:
        if self.school_id is None and self.user_id is not None:
            self.school_id = self.user.school_id
        super().clean()
        if self.user_id is not None and self.user.school_id != self.school_id:
            raise ValidationError({"user": _("This person belongs to another school.")})

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.school_id is None and self.user_id is not None:
            self.school_id = self.user.school_id
        super().save(*args, **kwargs)
