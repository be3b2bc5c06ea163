"""School isolation: the one mechanism that keeps each school's rows to itself.

Every domain model inherits ``SchoolOwned``. Its default manager filters by the *scope* of the
current request or job, held in a context variable:

- a request by a school user sees that school only;
- a bureau user reads the schools under the bureau (and writes nothing of theirs);
- background jobs enter ``school_scope(school)`` or, for deployment-wide work, ``all_schools()``.

A query with no scope at all raises ``TenancyError`` instead of returning every school's rows:
forgetting the scope is a bug we want to see, not a leak. ``Model.unscoped`` is the explicit,
greppable escape hatch for the few places that need it (authentication, migrations).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _


class TenancyError(RuntimeError):
    """A school-owned table was read or written outside a permitted school scope."""


@dataclass(frozen=True, slots=True)
class Scope:
    # None means "every school": deployment-wide system work only.
    readable: frozenset[int] | None
    # The one school new rows go to; None when the scope is read-only (bureau users).
    writable: int | None

    def can_read(self, school_id: int | None) -> bool:
        return self.readable is None or school_id in self.readable

    def can_write(self, school_id: int | None) -> bool:
        return self.readable is None or (school_id is not None and school_id == self.writable)


_current: ContextVar[Scope | None] = ContextVar("yuqing_school_scope", default=None)


def current_scope() -> Scope | None:
    return _current.get()


def require_scope() -> Scope:
    scope = _current.get()
    if scope is None:
        raise TenancyError("no school scope is active (use school_scope() or all_schools())")
    return scope


def _school_id(school: Any) -> int:
    return school if isinstance(school, int) else school.pk


@contextmanager
def use_scope(scope: Scope | None) -> Iterator[Scope | None]:
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


@contextmanager
def school_scope(school: Any, *, also_read: Iterable[Any] = ()) -> Iterator[Scope | None]:
    """Read and write one school (plus, read-only, any ``also_read`` schools)."""
    sid = _school_id(school)
    readable = frozenset({sid, *(_school_id(s) for s in also_read)})
    with use_scope(Scope(readable=readable, writable=sid)) as scope:
        yield scope


@contextmanager
def read_only_scope(schools: Iterable[Any]) -> Iterator[Scope | None]:
    with use_scope(
        Scope(readable=frozenset(_school_id(s) for s in schools), writable=None)
    ) as scope:
        yield scope


@contextmanager
def all_schools() -> Iterator[Scope | None]:
    """Deployment-wide system work (schedulers, migrations of data, benchmarks)."""
    with use_scope(Scope(readable=None, writable=None)) as scope:
        yield scope


class SchoolScopedQuerySet(models.QuerySet):
    """Bulk writes touch only the school the scope may write."""

    def _writable(self) -> models.QuerySet:
        scope = require_scope()
        if scope.readable is None:
            return self
        if scope.writable is None:
            raise TenancyError(f"{self.model.__name__}: this scope is read-only")
        return self.filter(school_id=scope.writable)

    def update(self, **kwargs: Any) -> int:
        return models.QuerySet.update(self._writable(), **kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        return models.QuerySet.delete(self._writable())

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        # bulk_create skips save(), so the school check save() does happens here instead.
        objs = list(objs)
        for obj in objs:
            obj.assign_school()
        return super().bulk_create(objs, *args, **kwargs)


class SchoolScopedManager(models.Manager):
    """Default manager of school-owned models: filters by the current scope, fails closed."""

    def get_queryset(self) -> models.QuerySet:
        scope = require_scope()
        qs = SchoolScopedQuerySet(self.model, using=self._db)
        if scope.readable is None:
            return qs
        return qs.filter(school_id__in=scope.readable)

    def create(self, **kwargs: Any) -> Any:
        # Creating needs no read access: build and save, and let save() check the write scope.
        obj = self.model(**kwargs)
        obj.save(force_insert=True, using=self.db)
        return obj

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        # Like create(): inserting needs no read access, only the write check per object.
        return SchoolScopedQuerySet(self.model, using=self._db).bulk_create(objs, *args, **kwargs)


class SchoolOwned(models.Model):
    """Abstract base of every record that belongs to a school."""

    school = models.ForeignKey(
        "accounts.School", on_delete=models.PROTECT, related_name="+", verbose_name="school"
    )

    objects = SchoolScopedManager()
    unscoped = models.Manager()  # noqa: DJ012  (ruff takes the scoped manager for a field)

    class Meta:
        abstract = True
        base_manager_name = "unscoped"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.assign_school()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if not require_scope().can_write(self.school_id):
            raise TenancyError(f"{type(self).__name__} cannot be deleted in this scope")
        return super().delete(*args, **kwargs)

    def clean(self) -> None:
        """Refuse links to another school's rows: a join must never reach across schools."""
        super().clean()
        for field in self._meta.concrete_fields:
            target = field.related_model
            if not field.many_to_one or field.name == "school" or target is None:
                continue
            if not (isinstance(target, type) and issubclass(target, SchoolOwned)):
                continue
            target_id = getattr(self, field.attname)
            if target_id is None:
                continue
            cached = field.get_cached_value(self, default=None)  # type: ignore[attr-defined]
            other_school = (
                cached.school_id
                if cached is not None
                else target.unscoped.filter(pk=target_id)
                .values_list("school_id", flat=True)
                .first()
            )
            if self.school_id is not None and other_school != self.school_id:
                raise ValidationError({field.name: _("This belongs to another school.")})

    def assign_school(self) -> None:
        scope = require_scope()
        if self.school_id is None:
            if scope.writable is None:
                raise TenancyError(f"{type(self).__name__} needs a school; the scope is read-only")
            self.school_id = scope.writable
        elif not scope.can_write(self.school_id):
            raise TenancyError(
                f"{type(self).__name__} of school {self.school_id} cannot be written in this scope"
            )
