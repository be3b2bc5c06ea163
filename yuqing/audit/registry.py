"""Which models have their creates, changes and deletes recorded, and which fields to hide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

M = TypeVar("M")

# model class -> fields never written into the log (secrets), or recorded only as "changed"
_AUDITED: dict[type, frozenset[str]] = {}
_MASKED: dict[type, frozenset[str]] = {}


def audited(*, exclude: tuple[str, ...] = (), mask: tuple[str, ...] = ()) -> Callable[[M], M]:
    """Class decorator: record this model's creates, changes and deletes in the audit log.

    ``exclude`` fields are left out entirely (bookkeeping such as ``last_login``); ``mask``
    fields appear as changed without their values (password hashes, secrets).
    """

    def register(model: Any) -> Any:
        _AUDITED[model] = frozenset(exclude)
        _MASKED[model] = frozenset(mask)
        return model

    return register


def audited_fields(model: type) -> tuple[frozenset[str], frozenset[str]] | None:
    if model not in _AUDITED:
        return None
    return _AUDITED[model], _MASKED[model]
