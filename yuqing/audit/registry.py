"""Which models have their creates, changes and deletes recorded, and which fields to hide."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class AuditConfig:
    exclude: frozenset[str] = frozenset()
    mask: frozenset[str] = frozenset()
    # verb ("created", "changed", "deleted") -> action name, where the generic
    # "<app>.<model>.<verb>" reads badly (a role assignment created is a permission granted).
    actions: Mapping[str, str] = field(default_factory=dict)

    def action(self, label_lower: str, verb: str) -> str:
        return self.actions.get(verb, f"{label_lower}.{verb}")


_AUDITED: dict[type, AuditConfig] = {}


def audited(
    *,
    exclude: tuple[str, ...] = (),
    mask: tuple[str, ...] = (),
    actions: Mapping[str, str] | None = None,
) -> Callable[[M], M]:
    """Class decorator: record this model's creates, changes and deletes in the audit log.

    ``exclude`` fields are left out entirely (bookkeeping such as ``last_login``); ``mask``
    fields appear as changed without their values (password hashes, secrets); ``actions``
    renames the recorded action per verb.
    """

    def register(model: Any) -> Any:
        _AUDITED[model] = AuditConfig(frozenset(exclude), frozenset(mask), dict(actions or {}))
        return model

    return register


def audit_config(model: type) -> AuditConfig | None:
    return _AUDITED.get(model)


def audited_fields(model: type) -> tuple[frozenset[str], frozenset[str]] | None:
    config = _AUDITED.get(model)
    if config is None:
        return None
    return config.exclude, config.mask
