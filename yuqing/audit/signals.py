"""Record creates, changes and deletes of audited models, and every login event."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from yuqing.audit.registry import audit_config, audited_fields
from yuqing.audit.services import audit_record
from yuqing.core.context import Actor, acting_as, client_ip, current_actor

MASKED = "***"


def _snapshot(instance: Any, exclude: frozenset[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in exclude:
            continue
        values[field.name] = getattr(instance, field.attname)
    return values


@receiver(pre_save)
def remember_old_values(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    config = audited_fields(sender)
    if config is None or raw or instance.pk is None:
        return
    old = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_old = _snapshot(old, config[0]) if old is not None else None


@receiver(post_save)
def record_save(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    config = audit_config(sender)
    if config is None or raw:
        return
    mask = config.mask
    new = _snapshot(instance, config.exclude)
    old = None if created else getattr(instance, "_audit_old", None)
    changes: dict[str, Any] = {}
    for name, value in new.items():
        before = old.get(name) if old is not None else None
        if old is not None and before == value:
            continue
        if created and value in (None, "", False):
            continue
        changes[name] = [MASKED, MASKED] if name in mask else [before, value]
    if not created and not changes:
        return
    verb = "created" if created else "changed"
    audit_record(config.action(sender._meta.label_lower, verb), obj=instance, changes=changes)


@receiver(post_delete)
def record_delete(sender: Any, instance: Any, **kwargs: Any) -> None:
    config = audit_config(sender)
    if config is None:
        return
    # What was removed, so the log alone tells what the row held.
    old = _snapshot(instance, config.exclude)
    changes = {
        name: [MASKED if name in config.mask else value, None]
        for name, value in old.items()
        if value not in (None, "", False)
    }
    audit_record(config.action(sender._meta.label_lower, "deleted"), obj=instance, changes=changes)


def _request_actor(request: Any, user: Any) -> Actor:
    if request is None:
        return Actor(user=user)
    return Actor(
        user=user, ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:200]
    )


@receiver(user_logged_in)
def record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    with acting_as(_request_actor(request, user)):
        audit_record("accounts.login", obj=user)


@receiver(user_logged_out)
def record_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:
        return
    with acting_as(_request_actor(request, user)):
        audit_record("accounts.logout", obj=user)


@receiver(user_login_failed)
def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    # Unscoped on purpose: the attempt goes to the chain of the school the name belongs to.
    user = get_user_model()._base_manager.filter(username=username).first() if username else None
    actor = _request_actor(request, None)
    with acting_as(Actor(user=None, ip=actor.ip, user_agent=actor.user_agent, name="anonymous")):
        audit_record(
            "accounts.login_failed",
            school_id=getattr(user, "school_id", None),
            object_repr=username,
            changes={"username": username},
        )


@receiver(user_locked_out)
def record_lockout(
    sender: Any, request: Any = None, username: str = "", ip_address: str = "", **kwargs: Any
) -> None:
    username = str(username or "")[:150]
    user = get_user_model()._base_manager.filter(username=username).first() if username else None
    actor = _request_actor(request, None)
    with acting_as(
        Actor(
            user=None,
            ip=actor.ip or ip_address or "",
            user_agent=actor.user_agent,
            name="anonymous",
        )
    ):
        audit_record(
            "accounts.locked_out",
            school_id=getattr(user, "school_id", None),
            object_repr=username,
            changes={"username": username},
        )


__all__ = ["audited_fields", "current_actor"]
